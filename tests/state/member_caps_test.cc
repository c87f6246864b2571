// Per-member caps of a project (a course's students): running jobs at
// once, GPUs at once, and GPU-hours over the project's life. They hold in
// the pass like a project's quota (a Quota wait that blocks no one behind).
#include <deque>

#include <gtest/gtest.h>

#include "model/cluster.h"
#include "sched/fixtures.h"
#include "state/cluster_state.h"
#include "state_fixture.h"

namespace kojo {
namespace {

class MemberCapsTest : public testing::StateTest {
 protected:
  void SetUp() override {
    Use("fifo", "2x8xA100");
    ClusterOrg org;
    ProjectLimits& course = org.policy.projects["course"];
    course.member_max_jobs = 2;
    course.member_max_milli = 1500;  // 1.5 GPUs
    course.member_max_units = kNormPerGpuHour;  // 1 GPU-hour
    org.policy.projects["lab"];      // no caps
    state_->SetOrg(org);
  }
  const Job& NewJob(JobId id, const std::string& user, MilliGpu milli, const std::string& project = "course") {
    Job j;
    j.id = id;
    j.project = project;
    j.user = user;
    j.demand.gpus = milli > 0 ? 1 : 0;
    j.demand.gpu_milli = milli > 0 ? milli : kWholeGpu;
    j.time_limit = 7200;
    return Keep(std::move(j));
  }
  Changes Pass(Seconds now) { return StateTest::Pass(now, /*explain=*/true, /*force=*/true); }
};

TEST_F(MemberCapsTest, EachMemberRunsAtMostItsJobsAndGpusAtOnce) {
  Submit(NewJob(1, "ada", 500), 0);
  Submit(NewJob(2, "ada", 500), 0);
  Submit(NewJob(3, "ada", 250), 0);   // a third session: over member_max_jobs
  Submit(NewJob(4, "bob", 1000), 0);
  Submit(NewJob(5, "bob", 1000), 0);  // 2 GPUs: over member_max_gpus (1.5)
  Submit(NewJob(6, "cy", 1000, "lab"), 0);
  Submit(NewJob(7, "cy", 1000, "lab"), 0);
  Submit(NewJob(8, "cy", 1000, "lab"), 0);  // no caps in lab
  Changes c = Pass(0);
  EXPECT_EQ(StartedIds(c), (std::vector<JobId>{1, 2, 4, 6, 7, 8}));
  ASSERT_NE(WaitOf(c, 3), nullptr);
  EXPECT_EQ(WaitOf(c, 3)->reason, WaitReason::kQuota);
  EXPECT_EQ(WaitOf(c, 3)->message, "member ada of project course runs 2 jobs, the most one member may run at once");
  ASSERT_NE(WaitOf(c, 5), nullptr);
  EXPECT_EQ(WaitOf(c, 5)->message,
            "member bob of project course holds 1 of the 1.5 GPUs one member may hold at once; this job needs 1");
  // One of ada's sessions ends: her third starts.
  state_->Finish(1, 60, false);
  EXPECT_EQ(StartedIds(Pass(60)), std::vector<JobId>{3});
}

TEST_F(MemberCapsTest, AMemberWhoUsedHerGpuHoursStartsNoMoreGpuJobs) {
  Submit(NewJob(1, "ada", 1000), 0);
  ASSERT_EQ(StartedIds(Pass(0)), std::vector<JobId>{1});
  state_->Finish(1, 3600, false);  // one GPU-hour: her cap
  Submit(NewJob(2, "ada", 250), 3600);
  Submit(NewJob(3, "bob", 250), 3600);
  Changes c = Pass(3600);
  EXPECT_EQ(StartedIds(c), std::vector<JobId>{3});
  ASSERT_NE(WaitOf(c, 2), nullptr);
  EXPECT_EQ(WaitOf(c, 2)->message, "member ada of project course has used 1.0 of the 1.0 GPU-hours one member may use");
  // What was used stays counted when the organisation is set again.
  ClusterOrg org;
  org.policy.projects["course"].member_max_units = 2 * kNormPerGpuHour;
  state_->SetOrg(org);
  EXPECT_EQ(StartedIds(Pass(3601)), std::vector<JobId>{2});
}

}  // namespace
}  // namespace kojo
