#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fixtures.h"

namespace kojo {
namespace {

using ::testing::ElementsAre;
using testing::MakeScheduler;
using testing::PlacedIds;
using testing::WaitOf;
using testing::World;

PolicyConfig Tiresias() {
  PolicyConfig c;
  c.tiresias_thresholds = {1000, 10000};  // GPU-seconds
  c.tiresias_starve_factor = 2.0;
  c.tiresias_starve_min_s = 500;
  return c;
}

TEST(TiresiasPolicy, DemotesByAttainedGpuTime) {
  World w("1x8xV100");
  Job& j = w.NewJob(1, 4);
  JobEntry e;
  e.job = &j;
  auto p = MakePolicy("tiresias", Tiresias());
  ASSERT_TRUE(p.ok());
  e.attained_gpu_s = 999;
  EXPECT_EQ((*p)->Key(e, 0)[0], 0);
  e.attained_gpu_s = 1000;  // crosses the first threshold
  EXPECT_EQ((*p)->Key(e, 0)[0], 1);
  e.attained_gpu_s = 10000;
  EXPECT_EQ((*p)->Key(e, 0)[0], 2);
  // Running: the current run counts, 4 GPUs x 250 s = 1000 GPU-s.
  e.attained_gpu_s = 0;
  e.started = 100;
  e.allocation.shares.push_back(NodeShare{0, {0, 1, 2, 3}});
  EXPECT_EQ((*p)->Key(e, 349)[0], 0);
  EXPECT_EQ((*p)->Key(e, 350)[0], 1);
}

TEST(TiresiasPolicy, PromotesAStarvingJob) {
  World w("1x8xV100");
  Job& j = w.NewJob(1, 1);
  JobEntry e;
  e.job = &j;
  e.attained_gpu_s = 5000;  // queue 1
  e.last_run_s = 400;       // waits 2 x 400 = 800 s before promotion
  e.queued_since = 1000;
  auto p = MakePolicy("tiresias", Tiresias());
  EXPECT_EQ((*p)->Key(e, 1799)[0], 1);
  EXPECT_EQ((*p)->Key(e, 1800)[0], 0);
  e.last_run_s = 0;  // never ran: the minimum, 500 s
  EXPECT_EQ((*p)->Key(e, 1499)[0], 1);
  EXPECT_EQ((*p)->Key(e, 1500)[0], 0);
}

TEST(TiresiasScheduler, PreemptsALowerQueueJobForANewOne) {
  World w("1x4xV100");
  w.Run(w.NewJob(1, 4, 0), 0, {0, 1, 2, 3}, /*started=*/0, /*attained=*/20000);  // queue 2
  w.Pend(w.NewJob(2, 2, 5));  // new job: queue 0
  Rng rng(1);
  auto s = MakeScheduler("tiresias", "bestfit", false, Tiresias());
  Decisions d = s.Decide(w.snap, 10, rng);
  ASSERT_EQ(d.preempted.size(), 1u);
  EXPECT_EQ(d.preempted[0].job, 1);
  ASSERT_NE(WaitOf(d, 2), nullptr);
  EXPECT_EQ(WaitOf(d, 2)->reason, WaitReason::kPreempting);
  EXPECT_TRUE(d.placed.empty());
}

TEST(TiresiasScheduler, PreemptsOnlyWhatTheJobNeeds) {
  World w("2x4xV100");
  w.Run(w.NewJob(1, 4, 0), 0, {0, 1, 2, 3}, 0, 20000);  // queue 2, worst
  w.Run(w.NewJob(2, 4, 1), 1, {0, 1, 2, 3}, 0, 5000);   // queue 1
  w.Pend(w.NewJob(3, 4, 5));
  Rng rng(1);
  auto s = MakeScheduler("tiresias", "bestfit", false, Tiresias());
  Decisions d = s.Decide(w.snap, 10, rng);
  ASSERT_EQ(d.preempted.size(), 1u);
  EXPECT_EQ(d.preempted[0].job, 1);  // the lowest queue goes first, and alone
}

TEST(TiresiasScheduler, NeverPreemptsWithinTheSameQueue) {
  World w("1x4xV100");
  w.Run(w.NewJob(1, 4, 50), 0, {0, 1, 2, 3}, 0, 5000);  // queue 1, submitted later
  w.Pend(w.NewJob(2, 4, 0), /*attained=*/5000);         // queue 1, earlier
  Rng rng(1);
  auto s = MakeScheduler("tiresias", "bestfit", false, Tiresias());
  Decisions d = s.Decide(w.snap, 100, rng);
  EXPECT_TRUE(d.preempted.empty());
}

TEST(FairSharePolicy, ProjectWithLessUsageGoesFirst) {
  World w("1x1xV100");
  Job& a = w.NewJob(1, 1, 0);
  a.project = "heavy";
  Job& b = w.NewJob(2, 1, 10);
  b.project = "light";
  w.Pend(a);
  w.Pend(b);
  UsageLedger ledger(3600);
  ledger.Charge("heavy", "u", 10000, 0);
  ledger.Charge("light", "u", 100, 0);
  w.snap.usage = &ledger;
  Rng rng(1);
  auto s = MakeScheduler("fairshare");
  Decisions d = s.Decide(w.snap, 20, rng);
  EXPECT_THAT(PlacedIds(d), ElementsAre(2));
}

TEST(FairSharePolicy, SharesScaleEntitlement) {
  World w("1x1xV100");
  Job& a = w.NewJob(1, 1, 0);
  a.project = "big";
  Job& b = w.NewJob(2, 1, 10);
  b.project = "small";
  w.Pend(a);
  w.Pend(b);
  UsageLedger ledger(3600);
  ledger.Charge("big", "u", 2000, 0);    // 2/3 of usage with share 9/10: under its share
  ledger.Charge("small", "u", 1000, 0);  // 1/3 of usage with share 1/10: over
  w.snap.usage = &ledger;
  PolicyConfig pc;
  pc.project_shares = {{"big", 9}, {"small", 1}};
  Rng rng(1);
  auto s = MakeScheduler("fairshare", "bestfit", false, pc);
  EXPECT_THAT(PlacedIds(s.Decide(w.snap, 20, rng)), ElementsAre(1));
}

// JobEntry::member_id only spares hashing names: a job's key is the same
// with or without ids, flat or with an organisation, for jobs in the pass
// and for jobs outside it (a project or a user not in the pass).
TEST(FairSharePolicy, MemberIdsGiveTheKeysThatNamesGive) {
  World w("4x8xV100");
  const char* members[][2] = {{"p1", "ann"}, {"p1", "bob"}, {"p2", "ann"}, {"p3", "cy"}, {"p2", "dee"}};
  for (JobId id = 1; id <= 20; ++id) {
    Job& j = w.NewJob(id, 1 + static_cast<int>(id % 3), id);
    j.project = members[id % 5][0];
    j.user = members[id % 5][1];
    if (id <= 8) w.Run(j, static_cast<int>(id % 4), {static_cast<int>(id / 4)}, id * 10);
    else w.Pend(j);
  }
  Job& lone_user = w.NewJob(30, 1);  // active project, user not in the pass
  lone_user.project = "p1";
  lone_user.user = "zed";
  Job& lone_project = w.NewJob(31, 1);
  lone_project.project = "p9";
  JobEntry outside[2];
  outside[0].job = &lone_user;
  outside[1].job = &lone_project;
  UsageLedger ledger(3600);
  ledger.Charge("p1", "ann", 500, 0);
  ledger.Charge("p2", "dee", 50, 0);
  w.snap.usage = &ledger;
  OrgPolicy org;
  org.programme_shares = {{"a", 2}};
  org.projects["p1"].programme = "a";
  org.projects["p2"].programme = "b";
  org.projects["p2"].share = 3;

  const OrgPolicy* orgs[] = {nullptr, &org};
  for (const OrgPolicy* o : orgs) {
    w.snap.org = o;
    auto p = MakePolicy("fairshare");
    ASSERT_TRUE(p.ok());
    auto keys = [&] {
      (*p)->Prepare(w.snap, 200);
      std::vector<PriorityKey> k;
      for (const auto* v : {&w.snap.pending, &w.snap.running})
        for (const JobEntry& e : *v) k.push_back((*p)->Key(e, 200));
      for (const JobEntry& e : outside) k.push_back((*p)->Key(e, 200));
      return k;
    };
    const std::vector<PriorityKey> by_name = keys();
    // Ids in another order than the names are met in.
    auto id_of = [&](const Job& j) {
      for (int m = 0; m < 5; ++m)
        if (j.project == members[m][0] && j.user == members[m][1]) return 9 - m;
      return static_cast<int>(j.id) - 28;  // 2, 3: below the members' ids, none in the pass
    };
    for (auto* v : {&w.snap.pending, &w.snap.running})
      for (JobEntry& e : *v) e.member_id = id_of(*e.job);
    for (JobEntry& e : outside) e.member_id = id_of(*e.job);
    EXPECT_EQ(keys(), by_name) << (o ? "organisation" : "flat");
    EXPECT_NE(by_name[0][0], by_name[1][0]);  // jobs 9 (p2) and 10 (p1): projects rank apart
    for (auto* v : {&w.snap.pending, &w.snap.running})
      for (JobEntry& e : *v) e.member_id = -1;
    for (JobEntry& e : outside) e.member_id = -1;
  }
}

TEST(UsageLedger, DecaysWithHalfLife) {
  UsageLedger ledger(100);
  ledger.Charge("t", "u", 800, 0);
  EXPECT_DOUBLE_EQ(ledger.Project("t", 100), 400);
  EXPECT_DOUBLE_EQ(ledger.Project("t", 300), 100);
  ledger.Charge("t", "u", 100, 300);
  EXPECT_DOUBLE_EQ(ledger.User("t", "u", 300), 200);
  EXPECT_DOUBLE_EQ(ledger.Project("other", 300), 0);
}

TEST(SjfPolicy, ShortestTrueDurationFirst) {
  World w("1x1xV100");
  Job& a = w.NewJob(1, 1, 0);
  a.true_duration = 500;
  Job& b = w.NewJob(2, 1, 10);
  b.true_duration = 50;
  w.Pend(a);
  w.Pend(b);
  Rng rng(1);
  auto s = MakeScheduler("sjf");
  EXPECT_THAT(PlacedIds(s.Decide(w.snap, 20, rng)), ElementsAre(2));
}

TEST(PolicyRegistry, UnknownNameListsTheKnownOnes) {
  auto p = MakePolicy("lottery");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.error().message, ::testing::HasSubstr("fifo, sjf, tiresias, fairshare"));
}

}  // namespace
}  // namespace kojo
