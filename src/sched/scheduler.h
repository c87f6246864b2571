// Scheduler: one scheduling pass, Decide(snapshot, now) -> Decisions. The
// controller and the simulator both call this; it does no I/O, reads no clock
// and keeps no state between calls other than what its policy and placer
// learned (FGD's task shapes).
//
// A pass:
//  1. orders pending (and, for preemptive policies, running) jobs by policy;
//  2. for a preemptive policy, picks the jobs that should run (best first,
//     while GPUs suffice) and preempts running jobs outside that set when a
//     better pending job needs their GPUs;
//  3. places pending jobs in order. Without backfill it stops at the first
//     job that does not fit (strict order). With EASY backfill, the first
//     job that does not fit gets a reservation at the earliest time enough
//     running jobs will have ended (by their time limits), and later jobs may
//     start now only if they do not delay that reservation: they end before
//     it, or they use none of the GPUs it holds;
//  4. rejects jobs that could not run even on the empty cluster.
//
// With an organisation (ClusterSnapshot::org; Job::tenant is the project):
//  - Quota: a GPU job that would take its project past max_gpus (GPUs of
//    its running jobs plus those started or held in this pass) waits with
//    reason Quota and blocks no one behind it (like Slurm's QOS limits);
//  - Reclaim: a job that does not fit but stays within its project's
//    guarantee preempts jobs of projects above their own guarantee, newest
//    first, only those whose GPUs it really takes, never taking a borrower
//    below its guarantee; under every policy (reason Preempting);
//  - Grants: a GPU job starts only if the cost of its placement (GPU weight
//    of each node's model x GPUs x its time limit, or the policy's default)
//    fits what its project's grants have left less this pass's
//    reservations; else it waits with reason GrantExhausted and blocks no
//    one. CPU-only jobs cost nothing.
//
// Explained waits (SchedulerConfig::explain_waits): every waiting job gets
// a reason and a message saying what it waits for; Priority and Resources
// waits also count the jobs ahead still waiting and their GPU-hours by time
// limit. Estimated starts: the head job's from its reservation; the next 31
// waiting jobs' from one sweep through the future of the pass (running jobs
// end at their time limits; each job, in queue order, starts at the first
// time it fits and holds its resources until its own limit), an upper bound
// unless a better job arrives (EstimateConfidence says how sure). Jobs past
// the first 32 get no estimate.
// Thread safety: none; one caller at a time.
#pragma once

#include <memory>

#include "sched/decision.h"
#include "sched/placer.h"
#include "sched/policy.h"

namespace kojo {

struct SchedulerConfig {
  bool backfill = false;
  // Fill Decisions::waiting with a reason for every job left waiting (the
  // controller does; the simulator saves the work).
  bool explain_waits = false;
};

class Scheduler {
 public:
  Scheduler(std::unique_ptr<Policy> policy, std::unique_ptr<Placer> placer,
            SchedulerConfig config);

  // A job was submitted (placers that learn the workload see it).
  void Observe(const Job& job) { placer_->Observe(job.demand); }

  Decisions Decide(const ClusterSnapshot& snapshot, Seconds now, Rng& rng);

  // Where `job` would go on `nodes` now, or nullopt if it does not fit.
  // Multi-GPU jobs use as few nodes as possible, one node first.
  std::optional<Allocation> PlaceJob(const ClusterSnapshot& snapshot,
                                     const std::vector<NodeState>& nodes,
                                     const Job& job, Rng& rng) const;

  // Why `job` can never run on this cluster (even empty), or nullopt.
  std::optional<std::string> Infeasible(const ClusterSnapshot& snapshot, const Job& job) const;

  const Policy& policy() const { return *policy_; }
  const Placer& placer() const { return *placer_; }
  const SchedulerConfig& config() const { return config_; }

 private:
  std::unique_ptr<Policy> policy_;
  std::unique_ptr<Placer> placer_;
  SchedulerConfig config_;
  std::vector<NodeState> scratch_;  // reused plan of free resources
};

}  // namespace kojo
