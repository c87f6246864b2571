#include "sim/simulator.h"

#include <map>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/cluster.h"
#include "sim/report.h"

namespace kojo {
namespace {

using ::testing::HasSubstr;

std::vector<NodeSpec> Cluster(const std::string& spec) {
  auto c = ParseClusterSpec(spec);
  EXPECT_TRUE(c.ok()) << spec;
  return c.ok() ? *c : std::vector<NodeSpec>{};
}

Job MakeJob(JobId id, Seconds submit, int gpus, Seconds duration, std::optional<Seconds> limit = std::nullopt) {
  Job j;
  j.id = id;
  j.submit_time = submit;
  j.demand.gpus = gpus;
  j.true_duration = duration;
  j.time_limit = limit ? limit : std::optional<Seconds>(duration);
  j.project = "t";
  return j;
}

Scheduler MakeScheduler(const std::string& policy, bool backfill = false, const std::string& placer = "packing") {
  auto pol = MakePolicy(policy);
  auto pl = MakePlacer(placer);
  EXPECT_TRUE(pol.ok() && pl.ok());
  SchedulerConfig sc;
  sc.backfill = backfill;
  return Scheduler(std::move(*pol), std::move(*pl), sc);
}

SimResult RunSim(const std::string& cluster, const std::vector<Job>& jobs, const std::string& policy,
              bool backfill = false, SimConfig cfg = {}) {
  Scheduler s = MakeScheduler(policy, backfill);
  auto r = Simulate(Cluster(cluster), jobs, s, cfg);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? std::move(*r) : SimResult{};
}

const JobRecord& Rec(const SimResult& r, JobId id) {
  for (const auto& j : r.jobs)
    if (j.id == id) return j;
  ADD_FAILURE() << "no job " << id;
  return r.jobs.front();
}

// One node of 4 GPUs, fifo:
//   A (t=0, 4 GPUs, 100 s) runs 0..100.
//   B (t=10, 2 GPUs, 50 s) waits for A, runs 100..150: JCT 140, wait 90.
//   C (t=20, 2 GPUs, 30 s) fits beside B, runs 100..130: JCT 110, wait 80.
TEST(Simulator, FifoOnOneNodeHasHandComputedTimes) {
  auto r = RunSim("1x4xV100", {MakeJob(1, 0, 4, 100), MakeJob(2, 10, 2, 50), MakeJob(3, 20, 2, 30)}, "fifo");
  EXPECT_EQ(*Rec(r, 1).start, 0);
  EXPECT_EQ(*Rec(r, 1).end, 100);
  EXPECT_EQ(*Rec(r, 2).start, 100);
  EXPECT_EQ(*Rec(r, 2).end, 150);
  EXPECT_EQ(*Rec(r, 3).start, 100);
  EXPECT_EQ(*Rec(r, 3).end, 130);
  EXPECT_EQ(r.metrics.completed, 3);
  EXPECT_DOUBLE_EQ(r.metrics.avg_jct_s, (100 + 140 + 110) / 3.0);
  EXPECT_DOUBLE_EQ(r.metrics.avg_wait_s, (0 + 90 + 80) / 3.0);
  EXPECT_DOUBLE_EQ(r.metrics.p50_jct_s, 110);
  EXPECT_DOUBLE_EQ(r.metrics.p99_jct_s, 140);
  EXPECT_EQ(r.metrics.makespan_s, 150);
  // Busy GPU-seconds: 4x100 + 2x50 + 2x30 = 560 of 4 x 150.
  EXPECT_DOUBLE_EQ(r.metrics.gpu_utilization, 560.0 / 600.0);
}

// Strict order vs EASY backfill on one 4-GPU node:
//   A (t=0, 3 GPUs, 100 s) runs 0..100.
//   B (t=5, 4 GPUs, 10 s) must wait for A: reserved start 100.
//   C (t=6, 1 GPU, 10 s) fits now. Strict fifo keeps it behind B (runs
//   110..120); backfill starts it at 6 (ends 16, before B's reservation).
TEST(Simulator, BackfillStartsSmallJobsWithoutDelayingTheHead) {
  std::vector<Job> jobs = {MakeJob(1, 0, 3, 100), MakeJob(2, 5, 4, 10), MakeJob(3, 6, 1, 10)};
  auto strict = RunSim("1x4xV100", jobs, "fifo");
  EXPECT_EQ(*Rec(strict, 2).start, 100);
  EXPECT_EQ(*Rec(strict, 3).start, 110);
  auto easy = RunSim("1x4xV100", jobs, "fifo", true);
  EXPECT_EQ(*Rec(easy, 3).start, 6);
  EXPECT_EQ(*Rec(easy, 3).end, 16);
  EXPECT_EQ(*Rec(easy, 2).start, 100);  // the head is not delayed
}

// A time limit below the true duration kills the job at the limit.
TEST(Simulator, TimeLimitKillsTheJob) {
  auto r = RunSim("1x4xV100", {MakeJob(1, 0, 1, 100, 40), MakeJob(2, 0, 4, 10)}, "fifo");
  EXPECT_EQ(Rec(r, 1).outcome, JobOutcome::kKilled);
  EXPECT_EQ(*Rec(r, 1).end, 40);
  // The 4-GPU job (id 2, same submit time, fifo by id) waits for it.
  EXPECT_EQ(*Rec(r, 2).start, 40);
  EXPECT_EQ(r.metrics.killed, 1);
  EXPECT_EQ(r.metrics.completed, 1);
}

// A job bigger than the cluster is rejected ("never"), not left waiting.
TEST(Simulator, RejectsAJobBiggerThanTheCluster) {
  auto r = RunSim("1x4xV100", {MakeJob(1, 0, 8, 100), MakeJob(2, 5, 1, 10)}, "fifo");
  EXPECT_EQ(Rec(r, 1).outcome, JobOutcome::kRejected);
  EXPECT_THAT(Rec(r, 1).reason, HasSubstr("8 GPUs"));
  EXPECT_FALSE(Rec(r, 1).start.has_value());
  EXPECT_EQ(*Rec(r, 2).start, 5);
  EXPECT_EQ(r.metrics.rejected, 1);
  EXPECT_EQ(r.metrics.completed, 1);
}

// Node features, constraints and partitions in a replay, applied by the
// same cluster state as kojod: two A100 nodes, one with "ib".
//   1 (ib, 4 GPUs, 100 s) must take node 1 even though node 0 is first.
//   2 (ib, 1 GPU) waits for it until 100; 3 (no constraint) runs at 0 on node 0.
//   4 asks for a partition holding node 0 only, without a time limit: it
//     takes the partition's default (50 s) and is killed then.
//   5 is over the partition's max_time: rejected, naming the field.
TEST(Simulator, ConstraintsAndPartitions) {
  std::vector<NodeSpec> nodes = Cluster("2x4xA100");
  nodes[1].features = {"ib"};
  std::vector<Job> jobs = {MakeJob(1, 0, 4, 100), MakeJob(2, 0, 1, 10), MakeJob(3, 0, 1, 10),
                           MakeJob(4, 1, 1, 1000), MakeJob(5, 2, 1, 10, 7200)};
  ASSERT_TRUE(jobs[0].demand.nodes.SetConstraint("IB").ok());
  ASSERT_TRUE(jobs[1].demand.nodes.SetConstraint("ib&a100").ok());
  jobs[3].time_limit.reset();
  jobs[3].demand.nodes.partitions = {"short"};
  jobs[4].demand.nodes.partitions = {"short"};
  SimConfig cfg;
  cfg.record_runs = true;
  Partition part;
  part.name = "short";
  part.nodes = {nodes[0].name};
  part.max_time = 600;
  part.default_time = 50;
  cfg.partitions = {part};
  Scheduler sched = MakeScheduler("fifo", /*backfill=*/true);
  auto r = Simulate(nodes, jobs, sched, cfg);
  ASSERT_TRUE(r.ok()) << r.error().message;
  std::map<JobId, NodeIndex> node_of;
  for (const RunRecord& run : r->runs) node_of[run.job] = run.allocation.shares[0].node;
  EXPECT_EQ(node_of[1], 1);
  EXPECT_EQ(node_of[2], 1);
  EXPECT_EQ(*Rec(*r, 2).start, 100);
  EXPECT_EQ(*Rec(*r, 3).start, 0);
  EXPECT_EQ(node_of[4], 0);
  EXPECT_EQ(Rec(*r, 4).outcome, JobOutcome::kKilled);
  EXPECT_EQ(*Rec(*r, 4).end, 51);
  EXPECT_EQ(Rec(*r, 5).outcome, JobOutcome::kRejected);
  EXPECT_THAT(Rec(*r, 5).reason, HasSubstr("time_limit_s: 7200 is over the max_time_s of partition 'short'"));
}

// Tiresias preempts a job demoted past the first threshold (3600 GPU-s)
// for a new job of the top queue; the victim pays the restart penalty:
//   A (t=0, 4 GPUs, 10000 s): attained 4000 GPU-s at t=1000 (queue 1).
//   B (t=1000, 4 GPUs, 100 s): queue 0, preempts A, runs 1000..1100.
//   A restarts at 1100, pays 60 s, then its remaining 9000 s: ends 10160.
TEST(Simulator, PreemptedJobPaysTheRestartPenalty) {
  SimConfig cfg;
  cfg.restart_penalty_s = 60;
  auto r = RunSim("1x4xV100", {MakeJob(1, 0, 4, 10000), MakeJob(2, 1000, 4, 100)}, "tiresias", false, cfg);
  EXPECT_EQ(*Rec(r, 2).start, 1000);
  EXPECT_EQ(*Rec(r, 2).end, 1100);
  EXPECT_EQ(Rec(r, 1).preemptions, 1);
  EXPECT_EQ(*Rec(r, 1).end, 10160);
  EXPECT_EQ(r.metrics.preemptions, 1);
  // Without a penalty it ends 60 s earlier.
  auto r0 = RunSim("1x4xV100", {MakeJob(1, 0, 4, 10000), MakeJob(2, 1000, 4, 100)}, "tiresias");
  EXPECT_EQ(*Rec(r0, 1).end, 10100);
}

TEST(Simulator, RoundsAddSchedulingPasses) {
  SimConfig cfg;
  cfg.round_s = 50;
  auto r = RunSim("1x4xV100", {MakeJob(1, 0, 4, 100), MakeJob(2, 10, 2, 50)}, "fifo", false, cfg);
  EXPECT_EQ(*Rec(r, 2).start, 100);  // rounds never start jobs early
  EXPECT_EQ(*Rec(r, 2).end, 150);
}

TEST(Simulator, RefusesUnsortedOrDuplicateJobs) {
  Scheduler s = MakeScheduler("fifo");
  auto r = Simulate(Cluster("1x4xV100"), {MakeJob(1, 10, 1, 5), MakeJob(2, 0, 1, 5)}, s, {});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("out of submit order"));
  r = Simulate(Cluster("1x4xV100"), {MakeJob(1, 0, 1, 5), MakeJob(1, 0, 1, 5)}, s, {});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("appears twice"));
  r = Simulate({}, {MakeJob(1, 0, 1, 5)}, s, {});
  EXPECT_FALSE(r.ok());
}

// A random trace of mixed jobs: whole GPUs, fractions, gangs, CPU and
// memory, model constraints, and wrong estimates.
std::vector<Job> RandomTrace(std::uint64_t seed, int n) {
  std::mt19937_64 rng(seed);
  std::vector<Job> jobs;
  Seconds t = 0;
  for (int i = 0; i < n; ++i) {
    t += static_cast<Seconds>(rng() % 120);
    Job j = MakeJob(i, t, 1, 1 + static_cast<Seconds>(rng() % 3000));
    int kind = static_cast<int>(rng() % 10);
    if (kind < 5) j.demand.gpus = 1;
    else if (kind < 7) j.demand.gpus = 1 << (rng() % 4);
    else if (kind < 8) { j.demand.gpus = 1; j.demand.gpu_milli = 100 + static_cast<MilliGpu>(rng() % 800); }
    else if (kind < 9) { j.demand.gpus = 8; j.demand.tasks = 2; }
    else j.demand.gpus = 0;
    j.demand.cpu_milli = static_cast<MilliCpu>(rng() % 8000);
    j.demand.mem_mib = static_cast<MiB>(rng() % 16384);
    if (rng() % 8 == 0) j.demand.gpu_models = {rng() % 2 ? "T4" : "A100"};
    if (rng() % 4 == 0) j.time_limit = *j.true_duration / 2 + 1;
    if (rng() % 4 == 0) j.time_limit = *j.true_duration * 3;
    j.project = "t" + std::to_string(rng() % 3);
    jobs.push_back(j);
  }
  return jobs;
}

// Replays the recorded runs GPU by GPU: no GPU ever holds more than 1000
// milli, no node more CPU or memory than it has.
void ExpectNoOversubscription(const std::vector<NodeSpec>& nodes, const SimResult& r) {
  std::map<std::pair<int, int>, std::map<Seconds, std::int64_t>> gpu;  // (node,gpu) -> time -> delta
  std::map<int, std::map<Seconds, std::pair<std::int64_t, std::int64_t>>> host;
  for (const RunRecord& run : r.runs) {
    EXPECT_LE(run.start, run.end);
    if (run.start == run.end) continue;
    for (const NodeShare& s : run.allocation.shares) {
      for (int g : s.gpu_indices) {
        gpu[{s.node, g}][run.start] += s.gpu_milli;
        gpu[{s.node, g}][run.end] -= s.gpu_milli;
      }
      host[s.node][run.start].first += s.cpu_milli;
      host[s.node][run.start].second += s.mem_mib;
      host[s.node][run.end].first -= s.cpu_milli;
      host[s.node][run.end].second -= s.mem_mib;
    }
  }
  for (const auto& [key, deltas] : gpu) {
    std::int64_t level = 0;
    for (const auto& [t, d] : deltas) {
      level += d;
      ASSERT_LE(level, kWholeGpu) << "GPU " << key.second << " of node " << key.first << " at t=" << t;
      ASSERT_LT(key.second, nodes[key.first].gpus);
    }
  }
  for (const auto& [node, deltas] : host) {
    std::int64_t cpu = 0, mem = 0;
    for (const auto& [t, d] : deltas) {
      cpu += d.first;
      mem += d.second;
      ASSERT_LE(cpu, nodes[node].cpu_milli) << "node " << node << " at t=" << t;
      ASSERT_LE(mem, nodes[node].mem_mib) << "node " << node << " at t=" << t;
    }
  }
}

TEST(SimulatorProperty, NoGpuOversubscribedAndSameSeedSameResult) {
  const std::vector<NodeSpec> nodes = Cluster("3x8xA100+4x4xT4:cpu=16:mem=64");
  ASSERT_FALSE(nodes.empty());
  const std::vector<std::string> policies = {"fifo", "sjf", "tiresias", "fairshare"};
  const std::vector<std::string> placers = {"random", "bestfit", "packing", "fgd"};
  for (std::uint64_t seed = 1; seed <= 24; ++seed) {
    const auto jobs = RandomTrace(seed, 150);
    const std::string& policy = policies[seed % policies.size()];
    const std::string& placer = placers[(seed / 4) % placers.size()];
    const bool backfill = seed % 3 == 0;
    SimConfig cfg;
    cfg.seed = seed;
    cfg.record_runs = true;
    cfg.restart_penalty_s = static_cast<Seconds>(seed % 2) * 30;
    cfg.round_s = seed % 5 == 0 ? 300 : 0;
    SCOPED_TRACE(policy + " " + placer + (backfill ? " backfill" : "") + " seed " + std::to_string(seed));
    Scheduler s1 = MakeScheduler(policy, backfill, placer);
    auto a = Simulate(nodes, jobs, s1, cfg);
    ASSERT_TRUE(a.ok()) << a.error().message;
    ExpectNoOversubscription(nodes, *a);
    EXPECT_EQ(a->metrics.unfinished, 0);
    EXPECT_EQ(a->metrics.completed + a->metrics.killed + a->metrics.rejected, a->metrics.jobs);
    for (const JobRecord& j : a->jobs) {
      if (j.start) EXPECT_GE(*j.start, j.submit);
      if (j.end) EXPECT_GT(*j.end, *j.start);
    }
    Scheduler s2 = MakeScheduler(policy, backfill, placer);
    auto b = Simulate(nodes, jobs, s2, cfg);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(JobsCsv(a->jobs), JobsCsv(b->jobs));
    EXPECT_EQ(a->metrics.preemptions, b->metrics.preemptions);
  }
}

TEST(Summarize, PercentilesUseNearestRank) {
  std::vector<JobRecord> recs;
  for (int i = 1; i <= 100; ++i) {
    JobRecord r;
    r.id = i;
    r.submit = 0;
    r.start = 0;
    r.end = i;
    r.outcome = JobOutcome::kCompleted;
    recs.push_back(r);
  }
  SimMetrics m = Summarize(recs, 100, 1, 100);
  EXPECT_DOUBLE_EQ(m.p50_jct_s, 50);
  EXPECT_DOUBLE_EQ(m.p99_jct_s, 99);
  EXPECT_DOUBLE_EQ(m.avg_jct_s, 50.5);
  EXPECT_DOUBLE_EQ(m.gpu_utilization, 1.0);
}

}  // namespace
}  // namespace kojo
