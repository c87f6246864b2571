// ClusterState::ExtendRun (`kojo extend` on a running job): the extra units
// come from the run's grant, and partitions and reservations are held to.
#include <deque>

#include <gtest/gtest.h>

#include "model/cluster.h"
#include "sched/fixtures.h"
#include "state/cluster_state.h"
#include "state_fixture.h"

namespace kojo {
namespace {

class ExtendStateTest : public testing::StateTest {
 protected:
  void SetUp() override { Use("fifo", "2x4xA100"); }
  void Meter(NormUnits amount) {
    ClusterOrg org;
    org.policy.projects["vision"].programme = "research";
    org.policy.default_time_limit = 3600;
    org.grants.push_back(Grant{"g", "vision", "research", amount, 0, 100000});
    state_->SetOrg(org);
  }
  Job& NewJob(JobId id, int gpus, std::optional<Seconds> limit, const std::string& project = "vision") {
    return MakeJob(id, gpus, limit, project);
  }
  void Start(Job& j, Seconds now) {
    Submit(j, now);
    ASSERT_EQ(Pass(now, /*explain=*/false, /*force=*/true).started.size(), 1u);
  }
};

TEST_F(ExtendStateTest, TheExtraHoursAreReservedFromTheRunsGrantAndSettledAtTheEnd) {
  Meter(3 * kNormPerGpuHour);
  Job& j = NewJob(1, 1, 3600);
  Start(j, 0);
  EXPECT_EQ(state_->GrantReserved("g"), kNormPerGpuHour);
  auto extra = state_->ExtendRun(1, 2 * 3600, 100);
  ASSERT_TRUE(extra.ok()) << extra.error().message;
  EXPECT_EQ(*extra, kNormPerGpuHour);
  j.time_limit = 2 * 3600;
  EXPECT_EQ(state_->GrantReserved("g"), 2 * kNormPerGpuHour);
  // One GPU-hour is left: two more hours do not fit, and nothing changes.
  auto refused = state_->ExtendRun(1, 4 * 3600, 200);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("grant g has 1.000 GPU-hours left"), std::string::npos) << refused.error().message;
  EXPECT_EQ(state_->GrantReserved("g"), 2 * kNormPerGpuHour);
  // The end releases the whole reservation and charges what ran.
  Settled s = state_->Finish(1, 1800, false);
  EXPECT_EQ(s.reserved, 2 * kNormPerGpuHour);
  EXPECT_EQ(state_->GrantReserved("g"), 0);
  EXPECT_EQ(state_->GrantUsed("g"), kNormPerGpuHour / 2);
}

TEST_F(ExtendStateTest, ARunIsExtendedOnlyWhenRunningWithALimitAndLonger) {
  Job& unlimited = NewJob(1, 1, std::nullopt, "p");
  Start(unlimited, 0);
  EXPECT_NE(state_->ExtendRun(1, 100, 0).error().message.find("no time limit"), std::string::npos);
  EXPECT_NE(state_->ExtendRun(9, 100, 0).error().message.find("not running"), std::string::npos);
  Job& j = NewJob(2, 1, 600, "p");
  Start(j, 0);
  EXPECT_NE(state_->ExtendRun(2, 600, 0).error().message.find("must be longer"), std::string::npos);
  auto ok = state_->ExtendRun(2, 1200, 0);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(*ok, 0);  // not metered
  state_->Stop(2);
  EXPECT_NE(state_->ExtendRun(2, 2400, 0).error().message.find("not running"), std::string::npos);
}

TEST_F(ExtendStateTest, APartitionsMaximumTimeBoundsTheNewLimit) {
  Partition p;
  p.name = "short";
  p.max_time = 3600;
  p.is_default = true;
  state_->SetPartitions({p});
  Job& j = NewJob(1, 1, 1800, "p");
  j.demand.nodes.partitions = {"short"};
  Start(j, 0);
  auto refused = state_->ExtendRun(1, 7200, 0);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("short"), std::string::npos) << refused.error().message;
  EXPECT_TRUE(state_->ExtendRun(1, 3600, 0).ok());
}

TEST_F(ExtendStateTest, ARunBackfilledBeforeAnotherProjectsReservationCannotOutlastItsStart) {
  Reservation r;
  r.name = "course";
  r.project = "c";
  r.gpus = 8;  // both nodes
  r.start = 1000;
  r.duration = 500;
  ASSERT_TRUE(state_->SetReservations({r}).ok());
  Job& j = NewJob(1, 1, 600, "p");  // ends by 600, before the window
  Start(j, 0);
  auto refused = state_->ExtendRun(1, 1200, 10);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("reserved for project c (course)"), std::string::npos)
      << refused.error().message;
  EXPECT_TRUE(state_->ExtendRun(1, 1000, 10).ok());  // up to the window's start
  // The reservation's own project is not held to it.
  Job& c = NewJob(2, 1, 600, "c");
  Start(c, 20);
  EXPECT_TRUE(state_->ExtendRun(2, 5000, 30).ok());
}

}  // namespace
}  // namespace kojo
