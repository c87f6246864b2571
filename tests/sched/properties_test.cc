// Properties over many seeded random clusters and queues: no GPU is given
// twice or beyond capacity, gangs are whole, and the same seed gives the
// same decisions.
#include <gtest/gtest.h>

#include "fixtures.h"

namespace kojo {
namespace {

using testing::World;

struct Case {
  std::string policy;
  std::string placer;
  bool backfill;
};

Decisions RunRandom(const Case& c, std::uint64_t seed, World& w) {
  Rng gen(seed);
  auto pick = [&](int lo, int hi) { return lo + static_cast<int>(gen() % static_cast<std::uint64_t>(hi - lo + 1)); };
  JobId id = 1;
  // Some running jobs placed by the scheduler itself, then a fresh queue.
  for (int i = 0; i < 40; ++i) {
    Job& j = w.NewJob(id++, pick(0, 4) == 0 ? 1 : (1 << pick(0, 3)), pick(0, 100), pick(1, 3) * 100);
    if (j.demand.gpus == 1 && pick(0, 1)) j.demand.gpu_milli = pick(1, 9) * 100;
    if (pick(0, 5) == 0 && j.demand.gpus >= 2) j.demand.tasks = 2;
    j.demand.cpu_milli = pick(0, 8) * 1000;
    j.demand.mem_mib = pick(0, 64) * 1024;
    if (pick(0, 6) == 0) j.demand.gpu_models = {pick(0, 1) ? "A100" : "T4"};
    w.Pend(j, pick(0, 20000));
  }
  auto s = testing::MakeScheduler(c.policy, c.placer, c.backfill);
  Rng rng(seed);
  return s.Decide(w.snap, 200, rng);
}

class SchedulerProperties : public ::testing::TestWithParam<Case> {};

TEST_P(SchedulerProperties, NeverOversubscribesAndIsDeterministic) {
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    World w("3x8xA100+4x4xT4:cpu=16:mem=128");
    // Half the cluster busy with running jobs.
    w.Run(w.NewJob(10000, 4, 0, 300), 0, {0, 1, 2, 3});
    w.Run(w.NewJob(10001, 2, 0, 50), 4, {1, 2});
    Decisions d = RunRandom(GetParam(), seed, w);
    std::vector<NodeState> nodes = w.snap.nodes;
    for (const auto& p : d.preempted)
      for (const auto& r : w.snap.running)
        if (r.job->id == p.job) Release(nodes, r.allocation);
    for (const auto& p : d.placed) {
      const Job* job = nullptr;
      for (const auto& e : w.snap.pending)
        if (e.job->id == p.job) job = e.job;
      ASSERT_NE(job, nullptr);
      EXPECT_EQ(p.allocation.GpuCount(), job->demand.gpus) << "seed " << seed;
      for (const auto& s : p.allocation.shares) {
        EXPECT_TRUE(job->demand.gpus == 0 || job->demand.AllowsModel(w.snap.specs[s.node].gpu_model));
        if (job->demand.tasks > 1) {
          EXPECT_EQ(s.gpu_indices.size() % (job->demand.gpus / job->demand.tasks), 0u);
        }
      }
      Apply(nodes, p.allocation);
    }
    for (const auto& n : nodes) {
      EXPECT_GE(n.cpu_free, 0) << "seed " << seed;
      EXPECT_GE(n.mem_free, 0) << "seed " << seed;
      for (int g = 0; g < n.gpus; ++g) {
        EXPECT_GE(n.gpu_free[g], 0) << "seed " << seed;
        EXPECT_LE(n.gpu_free[g], kWholeGpu) << "seed " << seed;
      }
    }
    // Same seed, same decisions.
    World w2("3x8xA100+4x4xT4:cpu=16:mem=128");
    w2.Run(w2.NewJob(10000, 4, 0, 300), 0, {0, 1, 2, 3});
    w2.Run(w2.NewJob(10001, 2, 0, 50), 4, {1, 2});
    Decisions d2 = RunRandom(GetParam(), seed, w2);
    ASSERT_EQ(d.placed.size(), d2.placed.size());
    for (size_t i = 0; i < d.placed.size(); ++i) {
      EXPECT_EQ(d.placed[i].job, d2.placed[i].job);
      ASSERT_EQ(d.placed[i].allocation.shares.size(), d2.placed[i].allocation.shares.size());
      for (size_t k = 0; k < d.placed[i].allocation.shares.size(); ++k) {
        EXPECT_EQ(d.placed[i].allocation.shares[k].node, d2.placed[i].allocation.shares[k].node);
        EXPECT_EQ(d.placed[i].allocation.shares[k].gpu_indices, d2.placed[i].allocation.shares[k].gpu_indices);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllPoliciesAndPlacers, SchedulerProperties,
    ::testing::Values(Case{"fifo", "bestfit", false}, Case{"fifo", "random", true},
                      Case{"sjf", "packing", true}, Case{"tiresias", "fgd", false},
                      Case{"tiresias", "bestfit", true}, Case{"fairshare", "bestfit", true}),
    [](const auto& info) {
      return info.param.policy + "_" + info.param.placer + (info.param.backfill ? "_backfill" : "");
    });

}  // namespace
}  // namespace kojo
