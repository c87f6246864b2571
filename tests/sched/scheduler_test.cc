#include "sched/scheduler.h"

#include <algorithm>
#include <tuple>

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

TEST(SchedulerFifo, StrictOrderStopsAtFirstJobThatDoesNotFit) {
  World w("1x4xV100");
  w.Run(w.NewJob(1, 2), 0, {0, 1});
  w.Pend(w.NewJob(2, 4, /*submit=*/1));  // next, but only 2 GPUs are free
  w.Pend(w.NewJob(3, 1, /*submit=*/2));  // would fit, but must not pass job 2
  Rng rng(1);
  auto s = MakeScheduler("fifo");
  Decisions d = s.Decide(w.snap, 10, rng);
  EXPECT_TRUE(d.placed.empty());
  ASSERT_NE(WaitOf(d, 2), nullptr);
  EXPECT_EQ(WaitOf(d, 2)->reason, WaitReason::kResources);
  ASSERT_NE(WaitOf(d, 3), nullptr);
  EXPECT_EQ(WaitOf(d, 3)->reason, WaitReason::kPriority);
  EXPECT_THAT(WaitMessage(*WaitOf(d, 3)), HasSubstr("job 2 is next"));
}

TEST(SchedulerFifo, PlacesInSubmitOrderUntilFull) {
  World w("2x4xV100");
  w.Pend(w.NewJob(3, 4, 30));
  w.Pend(w.NewJob(1, 2, 10));
  w.Pend(w.NewJob(2, 4, 20));
  Rng rng(1);
  auto s = MakeScheduler("fifo");
  Decisions d = s.Decide(w.snap, 40, rng);
  // Job 1 (2 GPUs) then job 2 (4 GPUs) fit; job 3 needs 4 and only 2 are left.
  EXPECT_THAT(PlacedIds(d), ElementsAre(1, 2));
  EXPECT_EQ(d.placed[1].allocation.shares.size(), 1u);  // one node, not split
}

// An explaining pass orders the whole queue (jobs_ahead says where each
// job stands) exactly as the policy's keys and the ids say, whether the
// keys pack into one integer (small spreads) or not (a key at kForever, an
// id near the top of its range).
TEST(SchedulerExplain, QueueOrderFollowsTheKeysWhateverTheirSpread) {
  for (const bool wide : {false, true}) {
    World w("1x8xA100");
    w.Run(w.NewJob(1, 8), 0, {0, 1, 2, 3, 4, 5, 6, 7});
    Rng gen(wide ? 11 : 7);
    std::vector<const Job*> expected;
    for (int i = 0; i < 300; ++i) {
      const JobId id = wide && i == 0 ? (JobId{1} << 62) : 100 + static_cast<JobId>(gen() % 100000) * 300 + i;
      Job& j = w.NewJob(id, 1, static_cast<Seconds>(gen() % 5) - 2);
      if (!(wide && gen() % 4 == 0)) j.true_duration = static_cast<Seconds>(gen() % 3) * 60;
      w.Pend(j);
      expected.push_back(&j);
    }
    std::sort(expected.begin(), expected.end(), [](const Job* a, const Job* b) {
      return std::tuple(a->true_duration.value_or(kForever), a->submit_time, a->id) <
             std::tuple(b->true_duration.value_or(kForever), b->submit_time, b->id);
    });
    Scheduler s = MakeScheduler("sjf");
    Rng rng(1);
    const Decisions d = s.Decide(w.snap, 0, rng);
    ASSERT_EQ(d.waiting.size(), expected.size());
    for (size_t k = 0; k < expected.size(); ++k) {
      const Wait* wait = WaitOf(d, expected[k]->id);
      ASSERT_NE(wait, nullptr);
      EXPECT_EQ(wait->jobs_ahead, static_cast<int>(k)) << "job " << expected[k]->id << (wide ? " (wide keys)" : "");
    }
  }
}

// Strict order behind a head that cannot start on the nodes up now (it
// needs a drained one): nothing can pass it, so no job behind it gets an
// estimate ("now" would be false); with backfill they are planned without it.
TEST(SchedulerExplain, NoEstimateBehindAHeadThatCannotStartOnTheNodesUp) {
  for (const bool backfill : {false, true}) {
    World w("2x8xA100");
    w.snap.nodes[1].schedulable = false;  // drained
    w.Run(w.NewJob(1, 8, 0, 100), 0, {0, 1, 2, 3, 4, 5, 6, 7});
    w.Pend(w.NewJob(2, 16, 1, 1000));  // head: both nodes
    w.Pend(w.NewJob(3, 8, 2, 1000));
    Rng rng(1);
    auto s = MakeScheduler("fifo", "bestfit", backfill);
    Decisions d = s.Decide(w.snap, 10, rng);
    EXPECT_TRUE(d.rejected.empty());
    ASSERT_NE(WaitOf(d, 2), nullptr);
    EXPECT_EQ(WaitOf(d, 2)->estimated_start, std::nullopt);
    ASSERT_NE(WaitOf(d, 3), nullptr);
    if (backfill) {
      EXPECT_EQ(WaitOf(d, 3)->estimated_start, std::optional<Seconds>(100));
    } else {
      EXPECT_EQ(WaitOf(d, 3)->estimated_start, std::nullopt);
      EXPECT_THAT(std::string(WaitOf(d, 3)->confidence_text), HasSubstr("head of the queue cannot start"));
    }
  }
}

TEST(SchedulerBackfill, ShortJobStartsBeforeTheReservation) {
  // Node: 4 GPUs, job 1 holds 3 of them until t=100 (its time limit).
  World w("1x4xV100");
  w.Run(w.NewJob(1, 3, 0, 100), 0, {0, 1, 2}, /*started=*/0);
  w.Pend(w.NewJob(2, 2, 1, 500));  // head: needs 2, reservation at t=100
  w.Pend(w.NewJob(3, 1, 2, 50));   // ends by t=60 <= 100: may backfill
  w.Pend(w.NewJob(4, 1, 3));       // no time limit: may not take reserved GPUs
  Rng rng(1);
  auto s = MakeScheduler("fifo", "bestfit", /*backfill=*/true);
  Decisions d = s.Decide(w.snap, 10, rng);
  EXPECT_THAT(PlacedIds(d), ElementsAre(3));
  EXPECT_TRUE(d.placed[0].backfilled);
  ASSERT_NE(WaitOf(d, 2), nullptr);
  EXPECT_EQ(WaitOf(d, 2)->estimated_start, std::optional<Seconds>(100));
  EXPECT_NE(WaitOf(d, 4), nullptr);
}

// A job larger than any node spreads over nodes (PlaceJobOn): its
// reservation is the first time enough GPUs are free across nodes, and a
// long job behind it may not take the GPU it holds. (The sweep through the
// future once looked for one node big enough for it: it found none, the
// head had no reservation, and every later job could pass it forever.)
TEST(SchedulerBackfill, HeadLargerThanANodeReservesAcrossNodes) {
  World w("2x8xA100");
  w.Run(w.NewJob(1, 7, 0, 100), 0, {0, 1, 2, 3, 4, 5, 6});  // node 0: GPU 7 free now
  w.Run(w.NewJob(2, 8, 0, 200), 1, {0, 1, 2, 3, 4, 5, 6, 7});
  w.Pend(w.NewJob(3, 16, 1, 1000));  // head: all 16 GPUs, free at t=200
  w.Pend(w.NewJob(4, 1, 2, 5000));   // would end after 200, on the reserved GPU 7
  Rng rng(1);
  auto s = MakeScheduler("fifo", "bestfit", /*backfill=*/true);
  Decisions d = s.Decide(w.snap, 10, rng);
  EXPECT_TRUE(d.placed.empty());
  ASSERT_NE(WaitOf(d, 3), nullptr);
  EXPECT_EQ(WaitOf(d, 3)->estimated_start, std::optional<Seconds>(200));
  ASSERT_NE(WaitOf(d, 4), nullptr);
  EXPECT_EQ(WaitOf(d, 4)->estimated_start, std::optional<Seconds>(1200));  // after the head's limit
}

TEST(SchedulerBackfill, LongJobMayUseGpusOutsideTheReservation) {
  World w("2x2xV100");
  w.Run(w.NewJob(1, 2, 0, 100), 0, {0, 1});   // node 0 busy until 100
  w.Run(w.NewJob(2, 1, 0, 1000), 1, {0});      // node 1: one GPU busy until 1000
  w.Pend(w.NewJob(3, 2, 1, 500));  // head: reserved on node 0 at t=100
  w.Pend(w.NewJob(4, 1, 2));       // unbounded, but node 1's GPU 1 is not reserved
  w.Pend(w.NewJob(5, 1, 3));
  Rng rng(1);
  auto s = MakeScheduler("fifo", "bestfit", true);
  Decisions d = s.Decide(w.snap, 10, rng);
  ASSERT_THAT(PlacedIds(d), ElementsAre(4));
  EXPECT_EQ(d.placed[0].allocation.shares[0].node, 1);
  EXPECT_EQ(WaitOf(d, 3)->estimated_start, std::optional<Seconds>(100));
}

TEST(SchedulerBackfill, NeverDelaysTheHeadsReservation) {
  // Same as above but the only free GPU is one the head will need.
  World w("1x4xV100");
  w.Run(w.NewJob(1, 3, 0, 100), 0, {0, 1, 2});
  w.Pend(w.NewJob(2, 4, 1, 500));    // head: all 4 GPUs at t=100
  w.Pend(w.NewJob(3, 1, 2, 200));    // would end at 210 > 100: must wait
  Rng rng(1);
  auto s = MakeScheduler("fifo", "bestfit", true);
  Decisions d = s.Decide(w.snap, 10, rng);
  EXPECT_TRUE(d.placed.empty());
}

TEST(SchedulerReject, NeverIsNotNotNow) {
  World w("3x8xA100");
  w.Pend(w.NewJob(1, 25));  // more GPUs than the cluster has: never
  Job& gang = w.NewJob(2, 18);
  gang.demand.tasks = 2;  // 2 tasks of 9 GPUs: no node has 9
  w.Pend(gang);
  Job& t4 = w.NewJob(3, 1);
  t4.demand.gpu_models = {"T4"};
  w.Pend(t4);
  w.Pend(w.NewJob(4, 24));  // fits the empty cluster: placed
  Rng rng(1);
  auto s = MakeScheduler("fifo");
  Decisions d = s.Decide(w.snap, 0, rng);
  ASSERT_EQ(d.rejected.size(), 3u);
  EXPECT_THAT(d.rejected[0].reason, HasSubstr("needs 25 GPUs; the cluster has 24"));
  EXPECT_THAT(d.rejected[1].reason, HasSubstr("9 GPUs"));
  EXPECT_THAT(d.rejected[2].reason, HasSubstr("T4"));
  EXPECT_THAT(PlacedIds(d), ElementsAre(4));
}

TEST(SchedulerPlacement, MultiGpuJobUsesFewestNodes) {
  World w("3x4xV100");
  w.Run(w.NewJob(1, 3), 0, {0, 1, 2});  // node 0: 1 free; nodes 1, 2: 4 free
  w.Pend(w.NewJob(2, 6, 1));
  Rng rng(1);
  auto s = MakeScheduler("fifo");
  Decisions d = s.Decide(w.snap, 0, rng);
  ASSERT_EQ(d.placed.size(), 1u);
  const auto& shares = d.placed[0].allocation.shares;
  ASSERT_EQ(shares.size(), 2u);  // 4 + 2, never 1 + 4 + 1
  EXPECT_EQ(shares[0].gpu_indices.size() + shares[1].gpu_indices.size(), 6u);
  EXPECT_NE(shares[0].node, 0);
  EXPECT_NE(shares[1].node, 0);
}

TEST(SchedulerPlacement, GangIsAllOrNothingAndSameNodeFirst) {
  World w("2x4xV100");
  w.Run(w.NewJob(1, 2), 0, {0, 1});
  Job& big = w.NewJob(2, 8, 1);
  big.demand.tasks = 2;  // 2 x 4 GPUs: node 0 has only 2 free
  w.Pend(big);
  Rng rng(1);
  auto s = MakeScheduler("fifo");
  Decisions d = s.Decide(w.snap, 0, rng);
  EXPECT_TRUE(d.placed.empty());
  EXPECT_TRUE(d.rejected.empty());  // not now, but not never

  World w2("2x4xV100");
  Job& pair = w2.NewJob(3, 4);
  pair.demand.tasks = 2;  // 2 x 2 GPUs: both tasks on one empty node
  w2.Pend(pair);
  Decisions d2 = s.Decide(w2.snap, 0, rng);
  ASSERT_EQ(d2.placed.size(), 1u);
  ASSERT_EQ(d2.placed[0].allocation.shares.size(), 1u);
  EXPECT_EQ(d2.placed[0].allocation.shares[0].gpu_indices.size(), 4u);
}

TEST(SchedulerPlacement, FractionsNeverPushAGpuOverOneThousandMilli) {
  World w("1x1xT4");
  for (JobId id = 1; id <= 3; ++id) {
    Job& j = w.NewJob(id, 1, id);
    j.demand.gpu_milli = 400;
    w.Pend(j);
  }
  Rng rng(1);
  auto s = MakeScheduler("fifo");
  Decisions d = s.Decide(w.snap, 0, rng);
  EXPECT_THAT(PlacedIds(d), ElementsAre(1, 2));  // 400 + 400; a third would make 1200
  EXPECT_TRUE(d.rejected.empty());
}

TEST(SchedulerPlacement, ModelConstraintIsHonoured) {
  World w("1x4xT4+1x4xA100");
  Job& j = w.NewJob(1, 2);
  j.demand.gpu_models = {"A100"};
  w.Pend(j);
  Rng rng(1);
  auto s = MakeScheduler("fifo");
  Decisions d = s.Decide(w.snap, 0, rng);
  ASSERT_EQ(d.placed.size(), 1u);
  EXPECT_EQ(w.snap.specs[d.placed[0].allocation.shares[0].node].gpu_model, "A100");
}

}  // namespace
}  // namespace kojo
