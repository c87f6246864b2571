// A pass after one event, through the scheduling loop's state machine
// (state/cluster_state.h), as kojod and `kojo sim` run it: 1,000 nodes x 8
// GPUs kept full, 10,000 jobs waiting. Each iteration is one event -- a
// running job ends and a new job is submitted, so the queue stays at
// 10,000 -- and the pass that follows, explained (every waiting job gets
// its reason), as kojod's passes are. Seeded; no I/O.
//   build/release/bench/event_pass_bench --benchmark_repetitions=5
#include <deque>

#include <benchmark/benchmark.h>

#include "model/cluster.h"
#include "sched/scheduler.h"
#include "state/cluster_state.h"

namespace kojo {
namespace {

struct Loop {
  std::deque<Job> jobs;
  Scheduler scheduler;
  ClusterState state;
  Rng gen{42}, rng{1};
  Seconds now = 0;
  JobId next_id = 1;

  Loop(const char* policy, bool backfill)
      : scheduler(std::move(MakePolicy(policy).value()), std::move(MakePlacer("bestfit").value()),
                  SchedulerConfig{backfill, true}),
        state(scheduler, 7 * 24 * 3600) {
    const auto specs = ParseClusterSpec("1000x8xH100");
    for (const auto& s : *specs) state.AddNode(s);
    // Fill the cluster, then the queue.
    while (state.busy_milli() < 8000LL * kWholeGpu * 99 / 100 || state.waiting_count() < 10000) {
      Submit();
      if (next_id % 500 == 0) state.Pass(now, rng, PassOptions{});
    }
    state.Pass(now, rng, PassOptions{.explain = true, .force = true});
  }
  void Submit() {
    Job& j = jobs.emplace_back();
    j.id = next_id++;
    j.project = "vc" + std::to_string(gen() % 15);
    const int r = static_cast<int>(gen() % 1000);
    j.demand.gpus = r < 930 ? 1 : r < 952 ? 2 : r < 975 ? 4 : r < 995 ? 8 : 16;
    j.submit_time = now;
    j.time_limit = 600 + static_cast<Seconds>(gen() % 36000);
    scheduler.Observe(j);
    state.Enqueue(j.id, QueuedJob{&j, now});
  }
  // One event: a running job ends and a new one arrives; then the pass.
  // Not inlined, so that a profiler can count it alone, e.g.
  //   valgrind --tool=callgrind --toggle-collect='kojo::(anonymous namespace)::Loop::Event()' ...
  [[gnu::noinline]] size_t Event() {
    now += 1;
    const auto& running = state.snapshot().running;
    state.Finish(running[gen() % running.size()].job->id, now, false);
    Submit();
    return state.Pass(now, rng, PassOptions{.explain = true}).waiting.size();
  }
};

// A fixed number of events: the queue and the cluster drift as events go
// by, so builds are compared on the same passes (same decisions, same
// events) only when they run the same number.
constexpr int kEvents = 400;

void BM_EventPass(benchmark::State& st, const char* policy, bool backfill) {
  Loop loop(policy, backfill);
  size_t waiting = 0;
  for (auto _ : st) waiting = loop.Event();
  st.counters["waiting"] = static_cast<double>(waiting);
  st.counters["running"] = static_cast<double>(loop.state.running_count());
}

BENCHMARK_CAPTURE(BM_EventPass, fifo, "fifo", false)->Unit(benchmark::kMillisecond)->Iterations(kEvents);
BENCHMARK_CAPTURE(BM_EventPass, fifo_backfill, "fifo", true)->Unit(benchmark::kMillisecond)->Iterations(kEvents);
BENCHMARK_CAPTURE(BM_EventPass, tiresias_backfill, "tiresias", true)->Unit(benchmark::kMillisecond)->Iterations(kEvents);
BENCHMARK_CAPTURE(BM_EventPass, fairshare_backfill, "fairshare", true)->Unit(benchmark::kMillisecond)->Iterations(kEvents);

}  // namespace
}  // namespace kojo

BENCHMARK_MAIN();
