// One scheduling pass at controller scale: 10,000 pending jobs on 1,000
// nodes x 8 GPUs, the cluster about 90% busy. Job sizes follow the Philly
// mix (mostly 1 GPU, some 2, 4, 8 and multi-node). Seeded; no I/O.
//   build/release/bench/decide_bench --benchmark_repetitions=5
#include <deque>

#include <benchmark/benchmark.h>

#include "model/cluster.h"
#include "sched/scheduler.h"

namespace kojo {
namespace {

struct Fixture {
  std::deque<Job> jobs;
  ClusterSnapshot snap;
  UsageLedger ledger;

  explicit Fixture(int pending) {
    snap.specs = *ParseClusterSpec("1000x8xH100");
    for (const auto& s : snap.specs) snap.nodes.push_back(NodeState::Empty(s));
    Rng gen(42);
    auto gpus = [&] {
      int r = static_cast<int>(gen() % 1000);
      return r < 930 ? 1 : r < 952 ? 2 : r < 975 ? 4 : r < 995 ? 8 : 16;
    };
    JobId id = 1;
    // Running: fill nodes to ~90% with jobs that end over the next hours.
    for (int n = 0; n < 1000; ++n) {
      int used = 0;
      const int target = n % 10 == 0 ? 0 : 8;  // every 10th node left idle
      while (used < target) {
        int g = std::min(gpus(), target - used);
        if (g > 8) g = 8;
        Job& j = jobs.emplace_back();
        j.id = id++;
        j.project = "vc" + std::to_string(gen() % 15);
        j.demand.gpus = g;
        j.time_limit = 600 + static_cast<Seconds>(gen() % 36000);
        JobEntry e;
        e.job = &j;
        e.started = -static_cast<Seconds>(gen() % 3600);
        std::vector<int> idx;
        for (int k = 0; k < g; ++k) idx.push_back(used + k);
        e.allocation.shares.push_back(NodeShare{n, idx, kWholeGpu, 0, 0});
        Apply(snap.nodes, e.allocation);
        snap.running.push_back(e);
        used += g;
      }
    }
    for (int i = 0; i < pending; ++i) {
      Job& j = jobs.emplace_back();
      j.id = id++;
      j.project = "vc" + std::to_string(gen() % 15);
      j.demand.gpus = gpus();
      j.submit_time = i;
      j.time_limit = 600 + static_cast<Seconds>(gen() % 36000);
      JobEntry e;
      e.job = &j;
      e.queued_since = i;
      e.attained_gpu_s = static_cast<Seconds>(gen() % 4) * 2000;
      snap.pending.push_back(e);
    }
    for (int t = 0; t < 15; ++t) ledger.Charge("vc" + std::to_string(t), "", 1000.0 * (t + 1), 0);
    snap.usage = &ledger;
  }
};

void BM_Decide(benchmark::State& state, const char* policy, bool backfill, bool explain) {
  static Fixture fixture(10000);
  auto s = Scheduler(std::move(MakePolicy(policy).value()), std::move(MakePlacer("bestfit").value()),
                     SchedulerConfig{backfill, explain});
  Rng rng(1);
  size_t placed = 0;
  for (auto _ : state) {
    Decisions d = s.Decide(fixture.snap, 20000, rng);
    placed = d.placed.size();
    benchmark::DoNotOptimize(d);
  }
  state.counters["placed"] = static_cast<double>(placed);
  state.counters["pending"] = static_cast<double>(fixture.snap.pending.size());
}

// The same pass with an organisation: the 15 virtual clusters are projects
// in 3 programmes (shares 5/3/2), each guaranteed 40 GPUs and capped at 800,
// with grants metered.
void BM_DecideOrg(benchmark::State& state, const char* policy, bool backfill, bool explain) {
  static Fixture fixture(10000);
  static OrgPolicy org = [] {
    OrgPolicy o;
    o.programme_shares = {{"p0", 5}, {"p1", 3}, {"p2", 2}};
    o.weights.Set("H100", 2000);
    for (int t = 0; t < 15; ++t) {
      ProjectLimits& l = o.projects["vc" + std::to_string(t)];
      l.programme = "p" + std::to_string(t % 3);
      l.guaranteed_gpus = 40;
      l.max_gpus = 800;
      l.grant_left = 1'000'000 * kNormPerGpuHour;
    }
    return o;
  }();
  ClusterSnapshot snap = fixture.snap;
  snap.org = &org;
  auto s = Scheduler(std::move(MakePolicy(policy).value()), std::move(MakePlacer("bestfit").value()),
                     SchedulerConfig{backfill, explain});
  Rng rng(1);
  size_t placed = 0, preempted = 0;
  for (auto _ : state) {
    Decisions d = s.Decide(snap, 20000, rng);
    placed = d.placed.size();
    preempted = d.preempted.size();
    benchmark::DoNotOptimize(d);
  }
  state.counters["placed"] = static_cast<double>(placed);
  state.counters["preempted"] = static_cast<double>(preempted);
}

BENCHMARK_CAPTURE(BM_Decide, fifo, "fifo", false, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decide, fifo_backfill, "fifo", true, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decide, fifo_backfill_explain, "fifo", true, true)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decide, tiresias, "tiresias", false, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decide, tiresias_backfill_explain, "tiresias", true, true)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decide, fairshare_backfill_explain, "fairshare", true, true)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_DecideOrg, fairshare, "fairshare", false, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_DecideOrg, fairshare_backfill_explain, "fairshare", true, true)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kojo

BENCHMARK_MAIN();
