// Organisations in one scheduling pass: quotas, reclaim, the grant gate,
// the three-level fair tree, and explained waits. Each wait reason is set up
// by its cause and checked to go away when the cause does.
#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fixtures.h"

namespace kojo {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MakeScheduler;
using testing::PlacedIds;
using testing::WaitOf;
using testing::World;

Job& ProjectJob(World& w, JobId id, int gpus, const std::string& project, Seconds submit = 0,
                std::optional<Seconds> limit = std::nullopt) {
  Job& j = w.NewJob(id, gpus, submit, limit);
  j.project = project;
  return j;
}

ProjectLimits Limits(const std::string& programme, int guaranteed, std::optional<int> max = std::nullopt) {
  ProjectLimits l;
  l.programme = programme;
  l.guaranteed_gpus = guaranteed;
  l.max_gpus = max;
  return l;
}

TEST(OrgQuota, JobOverItsProjectsLimitWaitsAndDoesNotBlockOthers) {
  World w("1x8xH100");
  OrgPolicy org;
  org.projects["vision"] = Limits("research", 2, 4);
  w.snap.org = &org;
  w.Run(ProjectJob(w, 1, 3, "vision"), 0, {0, 1, 2});
  w.Pend(ProjectJob(w, 2, 2, "vision", 1));  // 3 + 2 > 4: quota
  w.Pend(ProjectJob(w, 3, 2, "nlp", 2));     // behind it, fits: starts
  Rng rng(1);
  auto s = MakeScheduler("fifo");
  Decisions d = s.Decide(w.snap, 10, rng);
  EXPECT_THAT(PlacedIds(d), ElementsAre(3));
  ASSERT_NE(WaitOf(d, 2), nullptr);
  EXPECT_EQ(WaitOf(d, 2)->reason, WaitReason::kQuota);
  EXPECT_THAT(WaitOf(d, 2)->message, HasSubstr("project vision uses 3 of its 4 GPUs"));
  EXPECT_THAT(WaitOf(d, 2)->message, HasSubstr("this job needs 2"));

  // The cause goes: the limit is raised. The job starts.
  org.projects["vision"].max_gpus = 5;
  d = s.Decide(w.snap, 10, rng);
  EXPECT_THAT(PlacedIds(d), ElementsAre(2, 3));
  EXPECT_EQ(WaitOf(d, 2), nullptr);
}

TEST(OrgQuota, JobsPlacedEarlierInThePassCount) {
  World w("1x8xH100");
  OrgPolicy org;
  org.projects["vision"] = Limits("research", 0, 3);
  w.snap.org = &org;
  w.Pend(ProjectJob(w, 1, 2, "vision", 1));
  w.Pend(ProjectJob(w, 2, 2, "vision", 2));  // 2 + 2 > 3
  w.Pend(ProjectJob(w, 3, 1, "vision", 3));  // 2 + 1 = 3: fits the quota
  Rng rng(1);
  auto s = MakeScheduler("fifo");
  Decisions d = s.Decide(w.snap, 0, rng);
  EXPECT_THAT(PlacedIds(d), ElementsAre(1, 3));
  EXPECT_EQ(WaitOf(d, 2)->reason, WaitReason::kQuota);
}

TEST(OrgQuota, WithoutAnOrganisationNothingChanges) {
  World w("1x8xH100");
  w.Run(ProjectJob(w, 1, 3, "vision"), 0, {0, 1, 2});
  w.Pend(ProjectJob(w, 2, 2, "vision", 1));
  Rng rng(1);
  auto s = MakeScheduler("fifo");
  EXPECT_THAT(PlacedIds(s.Decide(w.snap, 10, rng)), ElementsAre(2));
}

TEST(OrgReclaim, GuaranteedProjectTakesBackOnlyWhatItNeedsFromTheNewestBorrower) {
  // 8 GPUs. nlp (guarantee 2) borrows all 8 in four 2-GPU jobs; vision
  // (guarantee 4) submits a 2-GPU job: one nlp job, the newest, goes.
  World w("1x8xH100");
  OrgPolicy org;
  org.projects["vision"] = Limits("research", 4);
  org.projects["nlp"] = Limits("research", 2);
  w.snap.org = &org;
  w.Run(ProjectJob(w, 1, 2, "nlp"), 0, {0, 1}, /*started=*/0);
  w.Run(ProjectJob(w, 2, 2, "nlp"), 0, {2, 3}, /*started=*/5);
  w.Run(ProjectJob(w, 3, 2, "nlp"), 0, {4, 5}, /*started=*/9);
  w.Run(ProjectJob(w, 4, 2, "nlp"), 0, {6, 7}, /*started=*/7);
  w.Pend(ProjectJob(w, 5, 2, "vision", 10));
  Rng rng(1);
  auto s = MakeScheduler("fifo");  // not a preemptive policy: reclaim works anyway
  Decisions d = s.Decide(w.snap, 20, rng);
  ASSERT_EQ(d.preempted.size(), 1u);
  EXPECT_EQ(d.preempted[0].job, 3);  // started last
  EXPECT_THAT(d.preempted[0].reason, HasSubstr("project vision reclaims"));
  ASSERT_NE(WaitOf(d, 5), nullptr);
  EXPECT_EQ(WaitOf(d, 5)->reason, WaitReason::kPreempting);
}

// A job behind a reserved head that fits only on the head's reserved GPU
// waits (Priority); reclaim is for GPUs that borrowers hold, not for those
// the head holds: it once "reclaimed" with no victim at all and waited "for
// 0 preempted job(s)" while holding the head's GPU.
TEST(OrgReclaim, NoReclaimOfTheGpusTheHeadHolds) {
  World w("2x2xH100");
  OrgPolicy org;
  org.projects["safe"] = Limits("research", 2);    // within its guarantee: never reclaimed from
  org.projects["nlp"] = Limits("research", 0);     // borrows
  org.projects["head"] = Limits("research", 3);
  org.projects["vision"] = Limits("research", 2);
  w.snap.org = &org;
  w.Run(ProjectJob(w, 1, 2, "safe", 0, 100), 0, {0, 1}, /*started=*/0);
  w.Run(ProjectJob(w, 4, 1, "nlp", 0, 5000), 1, {1}, /*started=*/5);  // node 1's GPU 0 is free
  w.Pend(ProjectJob(w, 2, 3, "head", 1, 1000));  // reclaiming job 4 is not enough: reserved at t=100
  w.Pend(ProjectJob(w, 3, 1, "vision", 2));      // no time limit: not before the reservation
  Rng rng(1);
  auto s = MakeScheduler("fifo", "bestfit", /*backfill=*/true);
  Decisions d = s.Decide(w.snap, 10, rng);
  EXPECT_TRUE(d.placed.empty());
  EXPECT_TRUE(d.preempted.empty());
  ASSERT_NE(WaitOf(d, 2), nullptr);
  EXPECT_EQ(WaitOf(d, 2)->estimated_start, std::optional<Seconds>(100));
  ASSERT_NE(WaitOf(d, 3), nullptr);
  EXPECT_EQ(WaitOf(d, 3)->reason, WaitReason::kPriority);
}

// Regression: a borrower's requeued job (an older id, so first in fifo)
// took the GPU freed for a guarantee in every pass, and the owner reclaimed
// it again in the next: jobs that stay within their guarantee go first.
TEST(OrgReclaim, FreedGpusAreNotBorrowedAgainByAnEarlierJob) {
  World w("1x4xH100");
  OrgPolicy org;
  org.projects["owner"] = Limits("research", 2);
  org.projects["borrower"] = Limits("research", 0, 3);
  w.snap.org = &org;
  w.Run(ProjectJob(w, 1, 1, "borrower"), 0, {0}, /*started=*/0);
  w.Run(ProjectJob(w, 3, 1, "borrower"), 0, {1}, /*started=*/1);
  w.Pend(ProjectJob(w, 2, 1, "borrower", 0));  // requeued after a reclaim: 1 GPU is free for it
  w.Pend(ProjectJob(w, 5, 2, "owner", 5));
  Rng rng(1);
  auto s = MakeScheduler("fifo");
  Decisions d = s.Decide(w.snap, 20, rng);
  // The owner needs 2: the free ones (2 and 3) are enough, and the borrower's
  // job waits although it is older and would fit.
  EXPECT_THAT(PlacedIds(d), ElementsAre(5));
  EXPECT_TRUE(d.preempted.empty());
  // Without guarantees, fifo order again: job 2 first.
  org.projects["owner"].guaranteed_gpus = 0;
  d = s.Decide(w.snap, 20, rng);
  EXPECT_THAT(PlacedIds(d), ElementsAre(2));
}

TEST(OrgReclaim, NeverTakesABorrowerBelowItsGuaranteeNorGoesPastTheOwnGuarantee) {
  World w("1x8xH100");
  OrgPolicy org;
  org.projects["vision"] = Limits("research", 4);
  org.projects["nlp"] = Limits("research", 6);
  w.snap.org = &org;
  // nlp holds 8, 2 above its guarantee of 6: vision may take back 2, not 4.
  for (JobId id = 1; id <= 4; ++id) w.Run(ProjectJob(w, id, 2, "nlp"), 0, {2 * (int(id) - 1), 2 * (int(id) - 1) + 1}, id);
  w.Pend(ProjectJob(w, 5, 4, "vision", 10));
  Rng rng(1);
  auto s = MakeScheduler("fifo");
  Decisions d = s.Decide(w.snap, 20, rng);
  EXPECT_TRUE(d.preempted.empty());
  EXPECT_EQ(WaitOf(d, 5)->reason, WaitReason::kResources);

  // Within both guarantees: 2 GPUs are taken back.
  w.snap.pending.clear();
  w.Pend(ProjectJob(w, 6, 2, "vision", 11));
  d = s.Decide(w.snap, 20, rng);
  ASSERT_EQ(d.preempted.size(), 1u);
  EXPECT_EQ(d.preempted[0].job, 4);

  // A job that would take vision past its guarantee does not reclaim.
  org.projects["vision"].guaranteed_gpus = 1;
  d = s.Decide(w.snap, 20, rng);
  EXPECT_TRUE(d.preempted.empty());
  EXPECT_EQ(WaitOf(d, 6)->reason, WaitReason::kResources);
}

TEST(OrgGrant, JobWhoseReservationExceedsTheGrantWaitsAndOthersStart) {
  World w("1x8xH100+1x8xT4");
  OrgPolicy org;
  org.weights.Set("H100", 2000);
  org.weights.Set("T4", 250);
  org.projects["vision"] = Limits("research", 0);
  org.projects["vision"].grant_left = 6 * kNormPerGpuHour;  // 6 normalised GPU-hours
  w.snap.org = &org;
  Job& big = ProjectJob(w, 1, 4, "vision", 1, 3600);  // 4 H100 x 1 h x 2 = 8
  big.demand.gpu_models = {"H100"};
  w.Pend(big);
  Job& small = ProjectJob(w, 2, 4, "vision", 2, 3600);  // 4 T4 x 1 h x 0.25 = 1
  small.demand.gpu_models = {"T4"};
  w.Pend(small);
  Rng rng(1);
  auto s = MakeScheduler("fifo");
  Decisions d = s.Decide(w.snap, 0, rng);
  EXPECT_THAT(PlacedIds(d), ElementsAre(2));
  ASSERT_NE(WaitOf(d, 1), nullptr);
  EXPECT_EQ(WaitOf(d, 1)->reason, WaitReason::kGrant);
  EXPECT_EQ(WaitOf(d, 1)->message, "project vision has 6.0 GPU-hours left in its active grants; this job reserves 8.0");

  // Reservations in this pass count: two 1-hour T4 jobs at 5.5 left.
  org.projects["vision"].grant_left = 8 * kNormPerGpuHour;  // now the big one fits
  d = s.Decide(w.snap, 0, rng);
  EXPECT_THAT(PlacedIds(d), ElementsAre(1));  // 8 reserved; the T4 job's 1 no longer fits
  EXPECT_EQ(WaitOf(d, 2)->reason, WaitReason::kGrant);

  org.projects["vision"].grant_left = 0;
  d = s.Decide(w.snap, 0, rng);
  EXPECT_THAT(WaitOf(d, 2)->message, HasSubstr("no GPU-hours left"));

  org.projects["vision"].grant_left.reset();  // not metered: the cause is gone
  d = s.Decide(w.snap, 0, rng);
  EXPECT_THAT(PlacedIds(d), ElementsAre(1, 2));
  EXPECT_TRUE(d.waiting.empty());
}

TEST(OrgGrant, DefaultTimeLimitAndCpuOnlyJobs) {
  World w("1x8xA100");
  OrgPolicy org;
  org.default_time_limit = 2 * 3600;
  org.projects["p"] = Limits("x", 0);
  org.projects["p"].grant_left = 3 * kNormPerGpuHour;
  w.snap.org = &org;
  w.Pend(ProjectJob(w, 1, 2, "p", 1));  // no limit: 2 GPUs x 2 h = 4 > 3
  Job& cpu = ProjectJob(w, 2, 0, "p", 2);
  cpu.demand.cpu_milli = 1000;
  w.Pend(cpu);  // costs nothing
  Rng rng(1);
  auto s = MakeScheduler("fifo");
  Decisions d = s.Decide(w.snap, 0, rng);
  EXPECT_THAT(PlacedIds(d), ElementsAre(2));
  EXPECT_THAT(WaitOf(d, 1)->message, HasSubstr("this job reserves 4.0"));
}

TEST(OrgFairTree, ProgrammeFirstThenProjectThenUser) {
  // Programme "a" (share 1) has used much more than "b" (share 1): every
  // job of b goes first, whatever its projects have used.
  World w("1x1xH100");
  OrgPolicy org;
  org.programme_shares = {{"a", 1.0}, {"b", 1.0}};
  org.projects["a1"] = Limits("a", 0);
  org.projects["b1"] = Limits("b", 0);
  org.projects["b2"] = Limits("b", 0);
  org.projects["b2"].share = 3;
  w.snap.org = &org;
  UsageLedger ledger;
  ledger.Charge("a", "a1", "u", 100.0 * kNormPerGpuHour, 0);
  ledger.Charge("b", "b1", "u", 10.0 * kNormPerGpuHour, 0);
  ledger.Charge("b", "b2", "u", 10.0 * kNormPerGpuHour, 0);  // same usage, 3x the share
  w.snap.usage = &ledger;
  w.Pend(ProjectJob(w, 1, 1, "a1", 1));
  w.Pend(ProjectJob(w, 2, 1, "b1", 2));
  w.Pend(ProjectJob(w, 3, 1, "b2", 3));
  Rng rng(1);
  auto s = MakeScheduler("fairshare");
  Decisions d = s.Decide(w.snap, 0, rng);
  EXPECT_THAT(PlacedIds(d), ElementsAre(3));
  EXPECT_EQ(WaitOf(d, 2)->jobs_ahead, 0);  // job 2 is next in line
  EXPECT_EQ(WaitOf(d, 1)->reason, WaitReason::kPriority);
  EXPECT_EQ(WaitOf(d, 1)->jobs_ahead, 1);

  // Shares decide between programmes: b's weight 1 vs a's 20 turns it round.
  org.programme_shares["a"] = 20;
  d = s.Decide(w.snap, 0, rng);
  EXPECT_THAT(PlacedIds(d), ElementsAre(1));
}

TEST(OrgFairTree, RunningJobsCountByTheWeightOfTheirGpus) {
  World w("1x2xH100+1x2xT4");
  OrgPolicy org;
  org.weights.Set("H100", 4000);
  org.weights.Set("T4", 250);
  org.projects["h"] = Limits("ph", 0);
  org.projects["t"] = Limits("pt", 0);
  w.snap.org = &org;
  // Each ran 1 GPU for the same time, h on an H100, t on a T4: h used 16x.
  Job& hj = ProjectJob(w, 1, 1, "h");
  w.Run(hj, 0, {0}, 0);
  Job& tj = ProjectJob(w, 2, 1, "t");
  w.Run(tj, 1, {0}, 0);
  w.Pend(ProjectJob(w, 3, 2, "h", 1));
  w.Pend(ProjectJob(w, 4, 2, "t", 2));
  Rng rng(1);
  auto s = MakeScheduler("fairshare");
  Decisions d = s.Decide(w.snap, 100, rng);
  // One GPU is free on each node: t's job goes first and takes both.
  EXPECT_THAT(PlacedIds(d), ElementsAre(4));
  EXPECT_EQ(WaitOf(d, 3)->reason, WaitReason::kResources);
}

TEST(ExplainedWaits, PriorityAndResourcesSayWhatTheyWaitFor) {
  World w("2x4xH100");
  w.Run(w.NewJob(1, 4, 0, 100), 0, {0, 1, 2, 3});
  w.Run(w.NewJob(2, 2, 0, 300), 1, {0, 1});
  w.Pend(w.NewJob(3, 4, 1, 3600));  // head: 2 free, at most 2 on a node
  w.Pend(w.NewJob(4, 4, 2, 7200));
  w.Pend(w.NewJob(5, 2, 3));        // no time limit
  w.Pend(w.NewJob(6, 1, 4, 60));
  Rng rng(1);
  auto s = MakeScheduler("fifo");
  Decisions d = s.Decide(w.snap, 10, rng);
  ASSERT_TRUE(d.placed.empty());
  const Wait* head = WaitOf(d, 3);
  EXPECT_EQ(head->reason, WaitReason::kResources);
  EXPECT_EQ(head->message, "next in line; needs 4 GPUs; 2 are free, at most 2 on one node");
  EXPECT_EQ(head->estimated_start, std::optional<Seconds>(100));  // job 1 ends
  EXPECT_EQ(head->confidence, EstimateConfidence::kUpperBound);
  const Wait* second = WaitOf(d, 4);
  EXPECT_EQ(second->reason, WaitReason::kPriority);
  EXPECT_EQ(WaitMessage(*second), "1 job(s) ahead (4.0 GPU-hours by their time limits); job 3 is next");
  EXPECT_EQ(second->jobs_ahead, 1);
  EXPECT_DOUBLE_EQ(second->gpu_hours_ahead, 4.0);
  // Job 3 holds node 0 from 100 to 3700; job 2 ends at 300: job 4 starts
  // on node 1 at 300.
  EXPECT_EQ(second->estimated_start, std::optional<Seconds>(300));
  EXPECT_EQ(second->confidence, EstimateConfidence::kUpperBound);
  const Wait* fifth = WaitOf(d, 5);
  EXPECT_THAT(WaitMessage(*fifth), HasSubstr("2 job(s) ahead (12.0 GPU-hours"));
  // Nodes busy until 3700 and 7500: job 5 starts at 3700 and never ends.
  EXPECT_EQ(fifth->estimated_start, std::optional<Seconds>(3700));
  const Wait* sixth = WaitOf(d, 6);
  EXPECT_THAT(WaitMessage(*sixth), HasSubstr("3 job(s) ahead (12.0 GPU-hours by their time limits, 1 without one)"));
  EXPECT_EQ(sixth->confidence, EstimateConfidence::kPartial);
  EXPECT_EQ(sixth->estimated_start, std::optional<Seconds>(3700));  // the other 2 GPUs of node 0

  // The cause goes: job 1 ends. The head starts, the rest move up.
  w.snap.running.erase(w.snap.running.begin());
  w.snap.nodes = {NodeState::Empty(w.snap.specs[0]), w.snap.nodes[1]};
  d = s.Decide(w.snap, 100, rng);
  EXPECT_THAT(PlacedIds(d), ElementsAre(3));
  EXPECT_EQ(WaitOf(d, 4)->reason, WaitReason::kResources);
  EXPECT_EQ(WaitOf(d, 4)->estimated_start, std::optional<Seconds>(300));
}

TEST(ExplainedWaits, ResourcesNamesTheMissingPiece) {
  World w("1x8xH100");
  w.Run(w.NewJob(1, 6), 0, {0, 1, 2, 3, 4, 5});
  Job& frac = w.NewJob(2, 1, 1);
  frac.demand.gpu_milli = 500;
  frac.demand.cpu_milli = 1'000'000'000;  // more CPU than the node has free
  w.Pend(frac);
  Rng rng(1);
  auto s = MakeScheduler("fifo");
  Decisions d = s.Decide(w.snap, 0, rng);
  // Not rejected only if the node has that CPU at all; here it is never
  // placeable, so the answer is Reject, not Resources.
  EXPECT_EQ(d.rejected.size(), 1u);

  World w2("1x8xH100");
  w2.Run(w2.NewJob(1, 6), 0, {0, 1, 2, 3, 4, 5});
  Job& gang = w2.NewJob(2, 8, 1);
  gang.demand.tasks = 2;
  gang.demand.gpu_models = {"H100"};
  w2.Pend(gang);
  d = s.Decide(w2.snap, 0, rng);
  EXPECT_EQ(WaitOf(d, 2)->message,
            "next in line; needs 2 tasks of 4 H100 GPUs each on one node; 2 are free, at most 2 on one node");
  EXPECT_EQ(WaitOf(d, 2)->confidence, EstimateConfidence::kNone);  // job 1 has no time limit
}

TEST(OrgProperties, CapsHoldAndReclaimNeverTakesABorrowerBelowItsGuarantee) {
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    World w("4x8xH100");
    OrgPolicy org;
    org.projects["a"] = Limits("x", 4, 10);
    org.projects["b"] = Limits("x", 8, 16);
    org.projects["c"] = Limits("y", 0);
    w.snap.org = &org;
    Rng gen(seed);
    const char* names[] = {"a", "b", "c"};
    std::map<std::string, int> used;
    JobId id = 1;
    // Running: fill nodes with jobs of random projects, within their caps.
    for (int node = 0; node < 4; ++node)
      for (int g = 0; g < 8;) {
        const int n = std::min<int>(8 - g, 1 + static_cast<int>(gen() % 4));
        std::string p = names[gen() % 3];
        if (org.projects[p].max_gpus && used[p] + n > *org.projects[p].max_gpus) p = "c";
        std::vector<int> gpus;
        for (int k = 0; k < n; ++k) gpus.push_back(g + k);
        w.Run(ProjectJob(w, id++, n, p), node, gpus, static_cast<Seconds>(gen() % 100));
        used[p] += n;
        g += n;
      }
    for (int k = 0; k < 20; ++k) w.Pend(ProjectJob(w, id++, 1 + static_cast<int>(gen() % 4), names[gen() % 3], 100 + k));
    Rng rng(seed);
    auto s = MakeScheduler(seed % 2 ? "fairshare" : "fifo", "bestfit", seed % 3 == 0);
    Decisions d = s.Decide(w.snap, 200, rng);
    std::map<JobId, const Job*> by_id;
    for (const auto& j : w.jobs) by_id[j.id] = &j;
    std::map<std::string, int> after = used;
    for (const auto& p : d.preempted) after[by_id[p.job]->project] -= by_id[p.job]->demand.gpus;
    // Borrowers keep their guarantee (or what they had, if below it).
    for (const auto& [p, n] : after)
      EXPECT_GE(n, std::min(used[p], org.projects[p].guaranteed_gpus)) << "seed " << seed << " project " << p;
    for (const auto& pl : d.placed) after[by_id[pl.job]->project] += by_id[pl.job]->demand.gpus;
    for (const auto& wt : d.waiting)
      if (wt.reason == WaitReason::kPreempting) after[by_id[wt.job]->project] += by_id[wt.job]->demand.gpus;
    for (const char* p : {"a", "b"})
      EXPECT_LE(after[p], *org.projects[p].max_gpus) << "seed " << seed << " project " << p;
    // Every waiting job has exactly one reason, and Quota only when the cap is the cause.
    for (const auto& wt : d.waiting)
      if (wt.reason == WaitReason::kQuota) {
        const Job& j = *by_id[wt.job];
        EXPECT_TRUE(org.projects[j.project].max_gpus.has_value());
      }
  }
}

}  // namespace
}  // namespace kojo
