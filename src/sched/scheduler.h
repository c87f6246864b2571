// Scheduler: one scheduling pass, Decide(snapshot, now) -> Decisions. The
// controller and the simulator both call this; it does no I/O, reads no clock
// and keeps no state between calls other than what its policy and placer
// learned (FGD's task shapes).
//
// A pass orders pending (and, for preemptive policies, running) jobs by
// policy and places them in that order: strictly, or with EASY backfill
// behind the first job that does not fit (SchedulerConfig::backfill). A
// preemptive policy preempts worse running jobs for a better pending one;
// with an organisation (ClusterSnapshot::org) jobs over their project's
// quota or grants wait without blocking others,
// and a project below its guarantee reclaims GPUs from borrowers by
// preemption. Jobs that could not run even on the empty cluster are
// rejected once the pass reaches them before the queue blocks. With SchedulerConfig::explain_waits every waiting job gets a
// reason, a message and, for the first 32, an estimated start. Pass (in
// sched/pass.h, internal to this module) runs the steps and describes each.
// Thread safety: none; one caller at a time.
#pragma once

#include <memory>

#include "sched/decision.h"
#include "sched/placer.h"
#include "sched/policy.h"

namespace kojo {

struct PassScratch;  // sched/pass.h

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
  Scheduler(Scheduler&&) noexcept;
  Scheduler& operator=(Scheduler&&) noexcept;
  ~Scheduler();

  // A job was submitted (placers that learn the workload see it).
  void Observe(const Job& job) { placer_->Observe(job.demand); }

  Decisions Decide(const ClusterSnapshot& snapshot, Seconds now, Rng& rng);
  // The same, explaining waits or not whatever the configuration says.
  Decisions Decide(const ClusterSnapshot& snapshot, Seconds now, Rng& rng, bool explain);

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
  std::unique_ptr<PassScratch> scratch_;  // a pass's buffers, reused
};

}  // namespace kojo
