// Terse fixtures for scheduler tests: clusters from specs, jobs from a few
// numbers, snapshots built step by step.
#pragma once

#include <deque>
#include <string>

#include <gtest/gtest.h>

#include "model/cluster.h"
#include "sched/scheduler.h"

namespace kojo::testing {

// Owns the jobs that snapshot entries point to.
class World {
 public:
  explicit World(const std::string& spec) {
    auto nodes = ParseClusterSpec(spec);
    EXPECT_TRUE(nodes.ok()) << (nodes.ok() ? "" : nodes.error().message);
    snap.specs = *nodes;
    for (const auto& s : snap.specs) snap.nodes.push_back(NodeState::Empty(s));
  }

  Job& NewJob(JobId id, int gpus, Seconds submit = 0, std::optional<Seconds> limit = std::nullopt) {
    Job j;
    j.id = id;
    j.name = "job" + std::to_string(id);
    j.project = "t";
    j.user = "u";
    j.demand.gpus = gpus;
    j.submit_time = submit;
    j.time_limit = limit;
    jobs.push_back(j);
    return jobs.back();
  }
  void Pend(const Job& j, Seconds attained = 0, Seconds queued_since = -1) {
    JobEntry e;
    e.job = &j;
    e.attained_gpu_s = attained;
    e.queued_since = queued_since < 0 ? j.submit_time : queued_since;
    snap.pending.push_back(e);
  }
  // Marks `j` running on node `node`, GPUs `gpus`, since `started`.
  void Run(const Job& j, int node, std::vector<int> gpus, Seconds started = 0, Seconds attained = 0) {
    JobEntry e;
    e.job = &j;
    e.started = started;
    e.attained_gpu_s = attained;
    e.allocation.shares.push_back(NodeShare{node, std::move(gpus), j.demand.gpu_milli,
                                            j.demand.cpu_milli, j.demand.mem_mib});
    Apply(snap.nodes, e.allocation);
    snap.running.push_back(e);
  }

  std::deque<Job> jobs;  // stable addresses
  ClusterSnapshot snap;
};

inline Scheduler MakeScheduler(const std::string& policy, const std::string& placer = "bestfit",
                               bool backfill = false, PolicyConfig pc = {}) {
  auto p = MakePolicy(policy, pc);
  auto q = MakePlacer(placer);
  EXPECT_TRUE(p.ok() && q.ok());
  return Scheduler(std::move(*p), std::move(*q), SchedulerConfig{backfill, /*explain_waits=*/true});
}

inline std::vector<JobId> PlacedIds(const Decisions& d) {
  std::vector<JobId> ids;
  for (const auto& p : d.placed) ids.push_back(p.job);
  return ids;
}

inline const Wait* WaitOf(const Decisions& d, JobId id) {
  for (const auto& w : d.waiting)
    if (w.job == id) return &w;
  return nullptr;
}

}  // namespace kojo::testing
