// ClusterState::ExtendRun: a running job's longer time limit (`kojo
// extend`), held to the rules a start with that limit would have met.
#include <fmt/format.h>

#include "sched/org_pass.h"
#include "state/cluster_state.h"

namespace kojo {

Result<NormUnits> ClusterState::ExtendRun(JobId id, Seconds limit, Seconds now) {
  auto it = recs_.find(id);
  if (it == recs_.end() || it->second.running_pos < 0 || it->second.stopping)
    return Error{ErrorCode::kInvalidArgument, fmt::format("job {} is not running", id)};
  Rec& r = it->second;
  const JobEntry& e = snap_.running[r.running_pos];
  const Job& job = *e.job;
  if (!job.time_limit) return Error{ErrorCode::kInvalidArgument, fmt::format("job {} has no time limit to extend", id)};
  if (limit <= *job.time_limit)
    return Error{ErrorCode::kInvalidArgument,
                 fmt::format("job {}: a new time limit must be longer than its {} s", id, *job.time_limit)};
  Job longer = job;
  longer.time_limit = limit;
  if (auto a = Admit(longer); !a.ok()) return a.error();
  // A reservation's window on one of its nodes must not begin before the
  // run would end (before its window, a node runs other projects' jobs
  // only if they end in time).
  const Seconds end = e.started + limit;
  for (const NodeShare& s : e.allocation.shares) {
    const NodeSpec& spec = snap_.specs[s.node];
    if (spec.hold_start == kForever || spec.hold_project == job.project || end <= spec.hold_start) continue;
    return Error{ErrorCode::kInvalidArgument,
                 fmt::format("node {} is reserved for project {} ({}) from {} s after the job's start; the job may "
                             "run at most {} s",
                             spec.name, spec.hold_project, spec.hold_name, spec.hold_start - e.started,
                             spec.hold_start - e.started)};
  }
  if (r.grant.empty()) return NormUnits{0};
  // The run settles against the grant it reserved from: the extra units
  // come from the same one.
  const NormUnits extra = std::max<NormUnits>(0, ReservationCost(org_->policy, snap_.specs, longer, e.allocation) - r.reserved);
  const Grant* g = nullptr;
  for (const Grant& x : org_->grants)
    if (x.id == r.grant) g = &x;
  const NormUnits left = g ? g->amount - GrantUsed(r.grant) - GrantReserved(r.grant) : 0;
  if (!g || !g->Active(now + org_->grant_time_offset) || left < extra)
    return Error{ErrorCode::kInvalidArgument,
                 fmt::format("grant {} has {:.3f} GPU-hours left; the longer time limit needs {:.3f} more", r.grant,
                             static_cast<double>(std::max<NormUnits>(0, g ? left : 0)) / kNormPerGpuHour,
                             static_cast<double>(extra) / kNormPerGpuHour)};
  r.reserved += extra;
  reserved_[r.grant] += extra;
  return extra;
}

}  // namespace kojo
