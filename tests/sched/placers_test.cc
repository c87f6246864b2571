// Placers on tiny hand-made nodes; expected scores are worked out by hand in
// the comments.
#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sched/placer.h"
#include "sched/placers/bestfit.h"
#include "sched/placers/fgd.h"
#include "sched/placers/fgd_pack.h"
#include "sched/placers/packing.h"
#include "sched/placers/random.h"

namespace kojo {
namespace {

NodeSpec Spec(std::string model, int gpus, MilliCpu cpu = 32000, MiB mem = 262144) {
  NodeSpec s;
  s.name = "n";
  s.gpu_model = std::move(model);
  s.gpus = gpus;
  s.cpu_milli = cpu;
  s.mem_mib = mem;
  return s;
}

NodeState State(const NodeSpec& spec, std::vector<MilliGpu> free, MilliCpu cpu_free = -1) {
  NodeState s = NodeState::Empty(spec);
  for (size_t i = 0; i < free.size(); ++i) s.gpu_free[i] = free[i];
  if (cpu_free >= 0) s.cpu_free = cpu_free;
  return s;
}

TaskShape Task(int gpus, MilliGpu milli, MilliCpu cpu = 1000, MiB mem = 1024,
               const std::vector<std::string>* models = nullptr) {
  TaskShape t;
  t.gpus = gpus;
  t.gpu_milli = milli;
  t.cpu_milli = cpu;
  t.mem_mib = mem;
  t.models = models;
  return t;
}

Demand Dem(int gpus, MilliGpu milli, MilliCpu cpu) {
  Demand d;
  d.gpus = gpus;
  d.gpu_milli = milli;
  d.cpu_milli = cpu;
  return d;
}

TEST(Fits, ChecksCpuMemoryGpusAndModel) {
  NodeSpec t4 = Spec("T4", 2, 8000, 16384);
  NodeState s = State(t4, {1000, 300});
  EXPECT_TRUE(Fits(t4, s, Task(1, 300)));
  EXPECT_TRUE(Fits(t4, s, Task(1, 1000)));
  EXPECT_FALSE(Fits(t4, s, Task(2, 1000)));        // only one whole GPU free
  EXPECT_FALSE(Fits(t4, s, Task(1, 500, 9000)));   // CPU
  EXPECT_FALSE(Fits(t4, s, Task(1, 500, 1000, 20000)));  // memory
  std::vector<std::string> v100{"V100M16", "V100M32"};
  std::vector<std::string> t4s{"P100", "T4"};
  EXPECT_FALSE(Fits(t4, s, Task(1, 500, 1000, 1024, &v100)));
  EXPECT_TRUE(Fits(t4, s, Task(1, 500, 1000, 1024, &t4s)));
  // A CPU-only task ignores the model list.
  EXPECT_TRUE(Fits(t4, s, Task(0, kWholeGpu, 1000, 1024, &v100)));
  s.schedulable = false;
  EXPECT_FALSE(Fits(t4, s, Task(0, kWholeGpu)));
}

TEST(DefaultGpus, WholeGpusAreTheLowestFreeOnes) {
  NodeSpec spec = Spec("G2", 4);
  NodeState s = State(spec, {1000, 300, 1000, 1000});
  EXPECT_EQ(DefaultGpus(s, Task(2, 1000)), (std::vector<int>{0, 2}));
  EXPECT_EQ(DefaultGpus(s, Task(1, 1000)), (std::vector<int>{0}));
}

TEST(DefaultGpus, FractionTakesTheTightestGpuThatFits) {
  NodeSpec spec = Spec("G2", 4);
  NodeState s = State(spec, {1000, 300, 250, 250});
  EXPECT_EQ(DefaultGpus(s, Task(1, 200)), (std::vector<int>{2}));  // 250, lowest index
  EXPECT_EQ(DefaultGpus(s, Task(1, 280)), (std::vector<int>{1}));
  EXPECT_EQ(DefaultGpus(s, Task(0, kWholeGpu)), std::vector<int>{});
}

TEST(MakePlacer, KnowsEveryNameAndRejectsOthers) {
  for (const auto& name : PlacerNames()) {
    auto p = MakePlacer(name);
    ASSERT_TRUE(p.ok()) << name;
    EXPECT_EQ((*p)->Name(), name);
  }
  auto bad = MakePlacer("tetris");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("unknown placer 'tetris'"), std::string::npos);
  EXPECT_NE(bad.error().message.find("fgd"), std::string::npos);
}

TEST(BestFit, PicksTheTightestNode) {
  Rng rng(1);
  BestFitPlacer bf;
  // Big node: 128 CPUs, 8 free GPUs. After 1 GPU + 8 CPUs: 120,000 milli-CPU
  // and 7,000 milli-GPU left: 100 x (1 - 0.46875 - 0.4375) = 9.375 -> 9.
  NodeSpec big = Spec("G3", 8, 128000);
  NodeState big_s = NodeState::Empty(big);
  // Small node, half used: 16,000 CPU and 2 GPUs free; after: 8,000 and
  // 1,000: 100 x (1 - 0.03125 - 0.0625) = 90.625 -> 90.
  NodeSpec small = Spec("V100M16", 4, 32000);
  NodeState small_s = State(small, {0, 0, 1000, 1000}, 16000);
  TaskShape t = Task(1, 1000, 8000);
  EXPECT_EQ(bf.Score(big, big_s, t, rng).score, 9);
  NodeChoice c = bf.Score(small, small_s, t, rng);
  EXPECT_EQ(c.score, 90);
  EXPECT_EQ(c.gpu_indices, (std::vector<int>{2}));
}

TEST(BestFit, ExactAtIntegerBoundaries) {
  Rng rng(1);
  BestFitPlacer bf;
  // 72,000 - 8,000 = 64,000 CPU left (0.5 x 0.5) and 5,000 - 1,000 = 4,000
  // GPU milli left (0.5 x 0.5): exactly 100 x (1 - 0.25 - 0.25) = 50.
  NodeSpec spec = Spec("G3", 8, 128000);
  NodeState s = State(spec, {1000, 1000, 1000, 1000, 1000, 0, 0, 0}, 72000);
  EXPECT_EQ(bf.Score(spec, s, Task(1, 1000, 8000), rng).score, 50);
}

TEST(Packing, PrefersSharedGpusThenUsedNodesThenEmptyNodes) {
  Rng rng(1);
  PackingPlacer pk;
  NodeSpec spec = Spec("G2", 8, 96000);
  NodeState empty = NodeState::Empty(spec);
  NodeState used = State(spec, {0, 1000, 1000, 1000, 1000, 1000, 1000, 1000});
  NodeState shared = State(spec, {600, 1000, 1000, 1000, 1000, 1000, 1000, 1000});
  TaskShape frac = Task(1, 500);
  // Empty node: max(33 - 8, 8) = 25. Used node, one whole GPU: 50 - 1 = 49.
  // Shared GPU with 600 free: 100 - 60 / 10 = 94.
  EXPECT_EQ(pk.Score(spec, empty, frac, rng).score, 25);
  EXPECT_EQ(pk.Score(spec, used, frac, rng).score, 49);
  NodeChoice c = pk.Score(spec, shared, frac, rng);
  EXPECT_EQ(c.score, 94);
  EXPECT_EQ(c.gpu_indices, (std::vector<int>{0}));
  EXPECT_EQ(pk.Score(spec, used, Task(0, kWholeGpu), rng).score, 0);
}

TEST(Random, SameSeedSameChoices) {
  RandomPlacer r;
  NodeSpec spec = Spec("G2", 8, 96000);
  NodeState s = State(spec, {300, 1000, 700, 1000, 500, 1000, 1000, 1000});
  Rng a(7), b(7);
  for (int i = 0; i < 20; ++i) {
    NodeChoice x = r.Score(spec, s, Task(1, 250), a);
    NodeChoice y = r.Score(spec, s, Task(1, 250), b);
    EXPECT_EQ(x.score, y.score);
    EXPECT_EQ(x.gpu_indices, y.gpu_indices);
    ASSERT_EQ(x.gpu_indices.size(), 1u);
    EXPECT_GE(s.gpu_free[x.gpu_indices[0]], 250);
  }
}

TEST(FragModel, KeepsTheMostFrequentTypesUpTo95Percent) {
  FragModel m;
  auto add = [&](int n, Demand d) { for (int i = 0; i < n; ++i) m.Add(d); };
  add(50, Dem(1, 500, 1000));
  add(30, Dem(1, 1000, 4000));
  add(15, Dem(0, kWholeGpu, 2000));
  add(5, Dem(8, 1000, 64000));
  // 50 + 30 = 80% < 95%, + 15 = 95%: three types, the 8-GPU one dropped.
  ASSERT_EQ(m.Types().size(), 3u);
  EXPECT_EQ(m.KeptCount(), 95);
  EXPECT_EQ(m.Types()[0].gpu_milli, 500);
  EXPECT_EQ(m.Types()[2].gpus, 0);
  // Node with 2 GPUs free {1000, 300}, 8 CPUs: type 500 -> 300 is too small
  // (300); type 1000 -> 300 (the whole GPU fits); CPU-only -> all 1,300.
  std::array<MilliGpu, 2> free{1000, 300};
  EXPECT_EQ(m.Frag("T4", 8000, free.data(), 2), 50 * 300 + 30 * 300 + 15 * 1300);
  // With 3 CPUs free the 1-GPU type (4 CPUs) cannot run: all 1,300 count.
  EXPECT_EQ(m.Frag("T4", 3000, free.data(), 2), 50 * 300 + 30 * 1300 + 15 * 1300);
}

TEST(FgdSigmoidScore, MatchesTheFormula) {
  EXPECT_EQ(FgdSigmoidScore(0, 10), 50);
  // delta / kept = -300 milli: 100 / (1 + e^0.3) = 42.55 -> 42.
  EXPECT_EQ(FgdSigmoidScore(-3000, 10), 42);
  // +400 milli: 100 / (1 + e^-0.4) = 59.87 -> 59.
  EXPECT_EQ(FgdSigmoidScore(4000, 10), 59);
}

// The workload is one type: 1 GPU at 500 milli. A 300-milli task on a node
// with 600 free leaves 300, too small for the type: fragmentation grows by
// 300 (score 100 x sigmoid(-0.3) = 42). On a node with 800 free it leaves
// 500, still usable: no change (score 50). BestFit takes the tighter node;
// FGD the one that leaves less fragmentation.
TEST(Fgd, PrefersThePlacementThatLeavesLessFragmentation) {
  Rng rng(1);
  FgdPlacer fgd;
  BestFitPlacer bf;
  for (int i = 0; i < 10; ++i) fgd.Observe(Dem(1, 500, 1000));
  NodeSpec spec = Spec("T4", 1, 8000);
  NodeState tight = State(spec, {600});
  NodeState roomy = State(spec, {800});
  TaskShape t = Task(1, 300, 1000);
  EXPECT_EQ(fgd.Score(spec, tight, t, rng).score, 42);
  EXPECT_EQ(fgd.Score(spec, roomy, t, rng).score, 50);
  // BestFit: 7,000 CPU left (0.02734375) and 300 vs 500 GPU left (0.01875 vs
  // 0.03125): 95 vs 94.
  EXPECT_EQ(bf.Score(spec, tight, t, rng).score, 95);
  EXPECT_EQ(bf.Score(spec, roomy, t, rng).score, 94);
}

TEST(Fgd, FractionTriesEveryGpuOnTheNode) {
  Rng rng(1);
  FgdPlacer fgd;
  for (int i = 0; i < 10; ++i) fgd.Observe(Dem(1, 500, 1000));
  NodeSpec spec = Spec("T4", 2, 8000);
  NodeState s = State(spec, {600, 800});
  // GPU 0 -> {300, 800}: +300 fragmentation (42); GPU 1 -> {600, 500}: none.
  NodeChoice c = fgd.Score(spec, s, Task(1, 300), rng);
  EXPECT_EQ(c.score, 50);
  EXPECT_EQ(c.gpu_indices, (std::vector<int>{1}));
  EXPECT_EQ(DefaultGpus(s, Task(1, 300)), (std::vector<int>{0}));  // best fit differs
}

TEST(Fgd, ModelNotAllowedCountsAsFragmentation) {
  FragModel m;
  Demand d = Dem(1, 1000, 1000);
  d.gpu_models = {"V100M32"};
  for (int i = 0; i < 4; ++i) m.Add(d);
  std::array<MilliGpu, 2> free{1000, 1000};
  EXPECT_EQ(m.Frag("T4", 8000, free.data(), 2), 4 * 2000);
  EXPECT_EQ(m.Frag("V100M32", 8000, free.data(), 2), 0);
}

// FGD ties (a whole GPU on an empty node or on a used one changes nothing
// for a workload of whole-GPU tasks); fgd-pack breaks the tie for the node in
// use, and sends a CPU-only task where no GPU is left free.
TEST(FgdPack, BreaksFgdTiesByPacking) {
  Rng rng(1);
  FgdPlacer fgd;
  FgdPackPlacer fp;
  for (int i = 0; i < 10; ++i) {
    fgd.Observe(Dem(1, 1000, 1000));
    fp.Observe(Dem(1, 1000, 1000));
  }
  NodeSpec spec = Spec("T4", 2, 8000);
  NodeState empty = NodeState::Empty(spec);
  NodeState used = State(spec, {0, 1000});
  NodeState full = State(spec, {0, 0});
  TaskShape gpu = Task(1, 1000);
  EXPECT_EQ(fgd.Score(spec, empty, gpu, rng).score, fgd.Score(spec, used, gpu, rng).score);
  EXPECT_GT(fp.Score(spec, used, gpu, rng).score, fp.Score(spec, empty, gpu, rng).score);
  EXPECT_EQ(fp.Score(spec, used, gpu, rng).gpu_indices, (std::vector<int>{1}));
  TaskShape cpu = Task(0, kWholeGpu, 1000);
  EXPECT_EQ(fgd.Score(spec, full, cpu, rng).score, 50);
  EXPECT_GT(fp.Score(spec, full, cpu, rng).score, fp.Score(spec, used, cpu, rng).score);
  EXPECT_GT(fp.Score(spec, used, cpu, rng).score, fp.Score(spec, empty, cpu, rng).score);
  // A better FGD score still wins over any tie-break.
  EXPECT_EQ(fp.Score(spec, empty, gpu, rng).score / FgdPackPlacer::kTieRange,
            fgd.Score(spec, empty, gpu, rng).score);
}

// Places random tasks one at a time on a small cluster with every placer and
// checks the invariants: nothing above capacity, GPU choices fit.
TEST(AllPlacers, NeverOverfillAGpu) {
  std::vector<NodeSpec> specs = {Spec("T4", 2, 16000), Spec("G2", 8, 96000), Spec("V100M16", 4, 32000)};
  for (const auto& name : PlacerNames()) {
    auto made = MakePlacer(name);
    ASSERT_TRUE(made.ok());
    Placer& p = **made;
    Rng rng(42);
    for (int i = 0; i < 50; ++i) p.Observe(Dem(1, 100 + 50 * (i % 15), 2000));
    std::vector<NodeState> nodes;
    for (const auto& s : specs) nodes.push_back(NodeState::Empty(s));
    for (int i = 0; i < 400; ++i) {
      const int kind = static_cast<int>(rng() % 4);
      TaskShape t = kind == 0 ? Task(1, static_cast<MilliGpu>(50 + rng() % 900), 1000)
                  : kind == 1 ? Task(1, 1000, 2000)
                  : kind == 2 ? Task(2, 1000, 4000)
                              : Task(0, kWholeGpu, 1500);
      int best = -1;
      NodeChoice bc;
      for (size_t n = 0; n < nodes.size(); ++n) {
        if (!Fits(specs[n], nodes[n], t)) continue;
        NodeChoice c = p.Score(specs[n], nodes[n], t, rng);
        if (best < 0 || c.score > bc.score) { best = static_cast<int>(n); bc = c; }
      }
      if (best < 0) continue;
      ASSERT_EQ(static_cast<int>(bc.gpu_indices.size()), t.gpus) << name;
      NodeState& s = nodes[best];
      for (int g : bc.gpu_indices) {
        ASSERT_GE(s.gpu_free[g], t.gpu_milli) << name;
        s.gpu_free[g] -= t.gpu_milli;
      }
      s.cpu_free -= t.cpu_milli;
      s.mem_free -= t.mem_mib;
      for (int g = 0; g < s.gpus; ++g) {
        ASSERT_GE(s.gpu_free[g], 0) << name;
        ASSERT_LE(s.gpu_free[g], kWholeGpu) << name;
      }
      ASSERT_GE(s.cpu_free, 0) << name;
    }
  }
}

}  // namespace
}  // namespace kojo

// fgd-plus (appended with its own include to keep the file above unchanged).
#include "sched/placers/fgd_plus.h"

namespace kojo {
namespace {

TEST(FgdPlus, ChoosesItsModeFromTheObservedMix) {
  FgdPlusPlacer spread, shared, multi;
  for (int i = 0; i < 10; ++i) spread.Observe(Dem(1, 1000, 1000));
  EXPECT_EQ(spread.mode(), FgdPlusPlacer::Mode::kSpread);
  // 5 fractional of 10 tasks: 50% >= 45%.
  for (int i = 0; i < 5; ++i) shared.Observe(Dem(1, 1000, 1000));
  for (int i = 0; i < 5; ++i) shared.Observe(Dem(1, 300, 1000));
  EXPECT_EQ(shared.mode(), FgdPlusPlacer::Mode::kShared);
  // 2-GPU tasks ask 2000 of 10000 milli (20%): not yet; 4000 of 12000: yes.
  for (int i = 0; i < 8; ++i) multi.Observe(Dem(1, 1000, 1000));
  multi.Observe(Dem(2, 1000, 2000));
  EXPECT_EQ(multi.mode(), FgdPlusPlacer::Mode::kSpread);
  multi.Observe(Dem(2, 1000, 2000));
  EXPECT_EQ(multi.mode(), FgdPlusPlacer::Mode::kMultiGpu);
}

// Spread mode: FGD's fragmentation change on a coarser sigmoid (d / 2000).
// Workload: 10 tasks of one whole GPU (one type, weight 1).
TEST(FgdPlus, SpreadModeScoresByHand) {
  Rng rng(1);
  FgdPlusPlacer p;
  FgdPlacer fgd;
  for (int i = 0; i < 10; ++i) {
    p.Observe(Dem(1, 1000, 1000));
    fgd.Observe(Dem(1, 1000, 1000));
  }
  NodeSpec spec = Spec("T4", 2, 8000);
  NodeState empty = NodeState::Empty(spec);
  // A whole GPU on an empty node: no fragmentation before or after -> 50.
  EXPECT_EQ(p.Score(spec, empty, Task(1, 1000), rng).score, 50);
  // 500 milli on an empty node leaves {500, 1000}: the 500 is a fragment,
  // d = -500; sigmoid(-0.25) = 0.4378 -> 43 (FGD: sigmoid(-0.5) -> 37).
  EXPECT_EQ(p.Score(spec, empty, Task(1, 500), rng).score, 43);
  EXPECT_EQ(fgd.Score(spec, empty, Task(1, 500), rng).score, 37);
  // On {500, 1000}: GPU 0 fills the fragment (d = +500: sigmoid(0.25) =
  // 0.5622 -> 56); GPU 1 would leave {500, 500}, nothing whole (d = -500).
  NodeState half = State(spec, {500, 1000});
  NodeChoice c = p.Score(spec, half, Task(1, 500), rng);
  EXPECT_EQ(c.score, 56);
  EXPECT_EQ(c.gpu_indices, (std::vector<int>{0}));
}

// Shared mode: 50 levels of sigmoid(d / 500), two tie values each.
// Workload: 10 tasks of 500 milli (one type).
TEST(FgdPlus, SharedModeTieBreaksAndBestFitByHand) {
  Rng rng(1);
  FgdPlusPlacer p;
  for (int i = 0; i < 10; ++i) p.Observe(Dem(1, 500, 1000));
  ASSERT_EQ(p.mode(), FgdPlusPlacer::Mode::kShared);
  NodeSpec spec = Spec("T4", 2, 8000);
  // Every GPU with >= 500 free hosts the type: no fragmentation anywhere,
  // level 25. Empty node: tie 0 -> 50. Node in use: tie 1 -> 51, and the
  // fraction goes to the tighter GPU (1, 500 free), not the first one.
  NodeChoice e = p.Score(spec, NodeState::Empty(spec), Task(1, 500), rng);
  EXPECT_EQ(e.score, 50);
  EXPECT_EQ(e.gpu_indices, (std::vector<int>{0}));
  NodeChoice u = p.Score(spec, State(spec, {1000, 500}), Task(1, 500), rng);
  EXPECT_EQ(u.score, 51);
  EXPECT_EQ(u.gpu_indices, (std::vector<int>{1}));
  // A CPU-only task: level 25 everywhere (CPU stays above the type's 1000);
  // a node with no free GPU milli gets the tie -> 51, others 50.
  TaskShape cpu = Task(0, kWholeGpu, 1000);
  EXPECT_EQ(p.Score(spec, State(spec, {0, 0}), cpu, rng).score, 51);
  EXPECT_EQ(p.Score(spec, State(spec, {1000, 500}), cpu, rng).score, 50);
  // Taking the last CPU a type needs strands the node's 1500 free milli:
  // d = -1500, sigmoid(-3) = 0.0474 -> level 2, tie 0 -> 4.
  EXPECT_EQ(p.Score(spec, State(spec, {1000, 500}, 1500), cpu, rng).score, 4);
}

// Multi-GPU mode: FGD's own levels; a fraction takes the GPU that leaves the
// least fragmentation. Workload: 10 x 1 GPU and 10 x 2 GPUs (2/3 of milli).
TEST(FgdPlus, MultiGpuModeKeepsFgdLevels) {
  Rng rng(1);
  FgdPlusPlacer p;
  FgdPlacer fgd;
  for (int i = 0; i < 10; ++i) {
    p.Observe(Dem(1, 1000, 1000));
    p.Observe(Dem(2, 1000, 2000));
    fgd.Observe(Dem(1, 1000, 1000));
    fgd.Observe(Dem(2, 1000, 2000));
  }
  ASSERT_EQ(p.mode(), FgdPlusPlacer::Mode::kMultiGpu);
  NodeSpec spec = Spec("G2", 4, 32000);
  for (auto free : {std::vector<MilliGpu>{1000, 1000, 1000, 1000},
                    std::vector<MilliGpu>{1000, 400, 1000, 0}}) {
    NodeState s = State(spec, free);
    for (TaskShape t : {Task(1, 1000), Task(2, 1000), Task(1, 400)})
      EXPECT_EQ(p.Score(spec, s, t, rng).score, fgd.Score(spec, s, t, rng).score);
  }
  // {1000, 400, 1000, 0} and 400 milli: GPU 1 fills its fragment (d > 0);
  // GPU 0 would leave one whole GPU (the 2-GPU type is lost).
  NodeChoice c = p.Score(spec, State(spec, {1000, 400, 1000, 0}), Task(1, 400), rng);
  EXPECT_EQ(c.gpu_indices, (std::vector<int>{1}));
}

TEST(FgdPlus, ScoresStayInZeroToHundred) {
  Rng rng(7);
  for (int mix = 0; mix < 3; ++mix) {
    FgdPlusPlacer p;
    for (int i = 0; i < 40; ++i) {
      const int k = static_cast<int>(rng() % 4);
      if (mix == 1 && k < 2) p.Observe(Dem(1, static_cast<MilliGpu>(100 + rng() % 800), 2000));
      else if (mix == 2 && k < 2) p.Observe(Dem(8, 1000, 16000));
      else if (k == 3) p.Observe(Dem(0, kWholeGpu, 4000));
      else p.Observe(Dem(1, 1000, 4000));
    }
    NodeSpec spec = Spec("G2", 8, 96000);
    for (int i = 0; i < 300; ++i) {
      std::vector<MilliGpu> free(8);
      for (auto& f : free) f = static_cast<MilliGpu>(rng() % 3 == 0 ? 1000 : rng() % 1001);
      NodeState s = State(spec, free, static_cast<MilliCpu>(rng() % 96001));
      const int kind = static_cast<int>(rng() % 3);
      TaskShape t = kind == 0 ? Task(1, static_cast<MilliGpu>(50 + rng() % 900), 3000)
                  : kind == 1 ? Task(1, 1000, 3000)
                              : Task(0, kWholeGpu, 3000);
      if (!Fits(spec, s, t)) continue;
      const std::int64_t score = p.Score(spec, s, t, rng).score;
      EXPECT_GE(score, 0);
      EXPECT_LE(score, 100);
    }
  }
}

}  // namespace
}  // namespace kojo
