// Controller: the snapshot behind GET /metrics (metrics.h).
#include <algorithm>
#include <set>

#include "controller/controller.h"

namespace kojo::controller {

using api::JobState;

Metrics Controller::MetricsSnapshot() const {
  Metrics m;
  // Grants first: Grants() takes mu_ itself.
  const auto org = org_.Config();
  for (const GrantView& g : Grants("")) {
    if (!g.active) continue;
    const std::string programme = g.grant.programme.empty() ? org->ProgrammeOf(g.grant.project) : g.grant.programme;
    Metrics::Grant& out = m.grants[{programme, g.grant.project}];
    constexpr double kNormPerGpuSecond = static_cast<double>(kNormPerGpuHour) / 3600;
    out.awarded_s += static_cast<double>(g.grant.amount) / kNormPerGpuSecond;
    out.used_s += static_cast<double>(g.used) / kNormPerGpuSecond;
    out.left_s += static_cast<double>(g.left) / kNormPerGpuSecond;
  }

  std::lock_guard lock(mu_);
  for (JobState s : {JobState::kPending, JobState::kHeld, JobState::kStarting, JobState::kRunning, JobState::kStopping,
                     JobState::kCompleted, JobState::kFailed, JobState::kCancelled, JobState::kTimeout})
    m.jobs_by_state[std::string(api::ToString(s))] = 0;
  auto count = [&](const api::JobView& v, std::uint64_t n) {
    m.jobs_by_state[std::string(api::ToString(v.state))] += n;
    if (v.state == JobState::kPending) m.pending_by_reason[v.reason.empty() ? "Submitted" : v.reason] += n;
  };
  for (const auto& [id, rec] : jobs_) count(rec.view, 1);
  arrays_.ForEachArray([&](const JobRec& tmpl, size_t untouched) { count(tmpl.view, untouched); });

  const Seconds now = Now();
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const NodeRec& node = nodes_[i];
    // A rented slot not rented now is not capacity, and has no heartbeat to age.
    if (const RentedNode* r = Rented(static_cast<int>(i)); r && r->phase == RentPhase::kOff) continue;
    std::set<int> used;
    for (JobId id : node.jobs) {
      auto it = jobs_.find(id);
      if (it == jobs_.end()) continue;
      for (const auto& s : it->second.alloc.shares)
        if (s.node == static_cast<int>(i)) used.insert(s.gpu_indices.begin(), s.gpu_indices.end());
    }
    const bool in_service = !node.down && !node.drain;
    for (const api::GpuInfo& g : node.info.gpus) {
      Metrics::Gpus& out = m.gpus_by_model[g.model];
      out.total += 1;
      if (used.count(g.index)) out.allocated += 1;
      else if (in_service) out.idle += 1;
    }
    if (node.last_heartbeat > 0) m.heartbeat_age_s[node.info.name] = static_cast<double>(std::max<Seconds>(0, now - node.last_heartbeat));
  }

  m.submitted = counters_.submitted;
  m.started = counters_.started;
  m.preempted = counters_.preempted;
  m.requeued = counters_.requeued;
  m.purged = counters_.jobs_purged;
  m.schedule_pass = pass_duration_.Read();
  m.store_commit = commit_.commit_durations();
  return m;
}

}  // namespace kojo::controller
