#include "sched/scheduler.h"

#include <fmt/format.h>

#include "sched/pass.h"
#include "sched/placement.h"

namespace kojo {

std::string_view ToString(EstimateConfidence c) {
  switch (c) {
    case EstimateConfidence::kNone: return "none";
    case EstimateConfidence::kUpperBound: return "upper-bound";
    case EstimateConfidence::kPartial: return "partial";
  }
  return "none";
}

std::string WaitMessage(const Wait& w) {
  if (!w.message.empty() || w.reason != WaitReason::kPriority) return w.message;
  if (w.no_limit_ahead > 0)
    return fmt::format("{} job(s) ahead ({:.1f} GPU-hours by their time limits, {} without one); job {} is next",
                       w.jobs_ahead, w.gpu_hours_ahead, w.no_limit_ahead, w.next);
  return fmt::format("{} job(s) ahead ({:.1f} GPU-hours by their time limits); job {} is next", w.jobs_ahead,
                     w.gpu_hours_ahead, w.next);
}

std::string_view ToString(WaitReason r) {
  switch (r) {
    case WaitReason::kPriority: return "Priority";
    case WaitReason::kResources: return "Resources";
    case WaitReason::kPreempting: return "Preempting";
    case WaitReason::kQuota: return "Quota";
    case WaitReason::kGrant: return "GrantExhausted";
    case WaitReason::kArrayLimit: return "ArrayLimit";
    case WaitReason::kNodeDrain: return "NodeDrain";
    case WaitReason::kNodeDown: return "NodeDown";
    case WaitReason::kReservation: return "Reservation";
  }
  return "Unknown";
}

Scheduler::Scheduler(std::unique_ptr<Policy> policy, std::unique_ptr<Placer> placer,
                     SchedulerConfig config)
    : policy_(std::move(policy)), placer_(std::move(placer)), config_(config), scratch_(std::make_unique<PassScratch>()) {}

Scheduler::Scheduler(Scheduler&&) noexcept = default;
Scheduler& Scheduler::operator=(Scheduler&&) noexcept = default;
Scheduler::~Scheduler() = default;

std::optional<Allocation> Scheduler::PlaceJob(const ClusterSnapshot& snapshot,
                                              const std::vector<NodeState>& nodes,
                                              const Job& job, Rng& rng) const {
  return PlaceJobOn(snapshot.specs, snapshot.tie_rank, nodes, job, *placer_, rng);
}

std::optional<std::string> Scheduler::Infeasible(const ClusterSnapshot& snapshot,
                                                 const Job& job) const {
  return NeverFits(snapshot, job, *placer_);
}

Decisions Scheduler::Decide(const ClusterSnapshot& snap, Seconds now, Rng& rng) {
  return Decide(snap, now, rng, config_.explain_waits);
}

Decisions Scheduler::Decide(const ClusterSnapshot& snap, Seconds now, Rng& rng, bool explain) {
  SchedulerConfig config = config_;
  config.explain_waits = explain;
  policy_->Prepare(snap, now);
  return Pass(snap, now, rng, *policy_, *placer_, config, *scratch_).Run();
}

}  // namespace kojo
