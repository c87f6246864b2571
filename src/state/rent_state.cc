// ClusterState's renting: slots of each provider, their phases, the rent
// reserved and spent by account, and the step that asks sched/rent.h what
// to rent. See "renting" in cluster_state.h.
#include <algorithm>

#include <fmt/format.h>

#include "state/cluster_state.h"

namespace kojo {

namespace {

constexpr Seconds kBackoffFirst = 30;
constexpr int kFailuresUnavailable = 3;
constexpr Seconds kUnavailableFor = 15 * 60;
// Paid time is extended by an hour this long before it ends (so that the
// rent of a node still wanted is always reserved before it is spent).
constexpr Seconds kExtendLead = 15 * 60;

std::string Ago(Seconds s) { return s < 90 ? fmt::format("{} s", s) : fmt::format("{} min", (s + 30) / 60); }

}  // namespace

std::string_view ToString(RentPhase p) {
  switch (p) {
    case RentPhase::kOff: return "off";
    case RentPhase::kStarting: return "starting";
    case RentPhase::kUp: return "up";
    case RentPhase::kStopping: return "stopping";
  }
  return "?";
}

bool ClusterState::RentOff(NodeIndex n) const {
  return static_cast<size_t>(n) < rent_off_.size() && rent_off_[n];
}

void ClusterState::SetRent(RentPolicy policy) {
  rent_ = std::move(policy);
  // Slots by provider name, as they are now.
  std::unordered_map<std::string, int> have;
  for (RentedNode& r : rented_) {
    const std::string& name = snap_.specs[r.node].provider;
    have[name] += 1;
    const Provider* p = rent_.FindProvider(name);
    r.provider = p == nullptr ? -1 : static_cast<int>(p - rent_.providers.data());
  }
  for (size_t pi = 0; pi < rent_.providers.size(); ++pi) {
    const Provider& p = rent_.providers[pi];
    for (int i = have[p.name]; i < p.max_nodes; ++i) {
      NodeSpec spec = p.node;
      spec.name = fmt::format("{}-{}", p.name, i + 1);
      spec.provider = p.name;
      spec.rent_account.clear();
      const NodeIndex n = AddNode(spec, NodeService::kDown);
      RentedNode r;
      r.node = n;
      r.provider = static_cast<int>(pi);
      r.reason = "not rented";
      rented_at_[n] = rented_.size();
      rented_.push_back(std::move(r));
    }
  }
  rent_off_.assign(snap_.specs.size(), false);
  for (const RentedNode& r : rented_) rent_off_[r.node] = r.phase == RentPhase::kOff;
  infeasible_.clear();
}

std::string ClusterState::RentAccountOf(const std::string& project) const {
  auto it = rent_.account_of.find(project);
  return it == rent_.account_of.end() ? rent_.default_account : it->second;
}

const RentedNode* ClusterState::RentedAt(NodeIndex n) const {
  auto it = rented_at_.find(n);
  return it == rented_at_.end() ? nullptr : &rented_[it->second];
}

Money ClusterState::RunningRent(const RentedNode& r, Seconds now) const {
  if (r.phase != RentPhase::kStarting && r.phase != RentPhase::kUp) return 0;
  const Money price = r.provider < 0 ? 0 : rent_.providers[r.provider].price_per_gpu_hour;
  return std::min(r.reserved, RentFor(price, snap_.specs[r.node].gpus, now - r.started));
}

void ClusterState::SettleRent(RentedNode& r, Seconds now) {
  const Money charged = RunningRent(r, now);
  rent_spent_[r.account] += charged;
  rent_reserved_[r.account] -= r.reserved;
  ProviderRun& run = provider_runs_[snap_.specs[r.node].provider];
  run.spent += charged;
  run.gpu_seconds += static_cast<Seconds>(snap_.specs[r.node].gpus) * std::max<Seconds>(0, now - r.started);
  r.reserved = 0;
}

Money ClusterState::RentSpent(const std::string& account, std::optional<Seconds> now) const {
  auto it = rent_spent_.find(account);
  Money m = it == rent_spent_.end() ? 0 : it->second;
  if (now)
    for (const RentedNode& r : rented_)
      if (r.account == account) m += RunningRent(r, *now);
  return m;
}

Money ClusterState::RentReserved(const std::string& account) const {
  auto it = rent_reserved_.find(account);
  return it == rent_reserved_.end() ? 0 : it->second;
}

Money ClusterState::ProviderSpent(int provider, std::optional<Seconds> now) const {
  const std::string& name = rent_.providers.at(provider).name;
  auto it = provider_runs_.find(name);
  Money m = it == provider_runs_.end() ? 0 : it->second.spent;
  if (now)
    for (const RentedNode& r : rented_)
      if (r.provider == provider) m += RunningRent(r, *now);
  return m;
}

Seconds ClusterState::ProviderGpuSeconds(int provider, std::optional<Seconds> now) const {
  const std::string& name = rent_.providers.at(provider).name;
  auto it = provider_runs_.find(name);
  Seconds s = it == provider_runs_.end() ? 0 : it->second.gpu_seconds;
  if (now)
    for (const RentedNode& r : rented_)
      if (r.provider == provider && (r.phase == RentPhase::kStarting || r.phase == RentPhase::kUp))
        s += static_cast<Seconds>(snap_.specs[r.node].gpus) * std::max<Seconds>(0, *now - r.started);
  return s;
}

RentChanges ClusterState::PlanRent(Seconds now, const std::vector<Wait>& waiting) {
  RentChanges out;
  if (rented_.empty()) return out;
  // Rented nodes with jobs on them.
  std::unordered_map<NodeIndex, std::vector<JobId>> busy;
  for (const JobEntry& e : snap_.running)
    for (const NodeShare& s : e.allocation.shares)
      if (rented_at_.count(s.node)) busy[s.node].push_back(e.job->id);
  auto stop = [&](RentedNode& r, std::string why) {
    SettleRent(r, now);
    r.phase = RentPhase::kStopping;
    r.draining = false;
    r.reason = std::move(why);
    SetNode(r.node, snap_.specs[r.node], NodeService::kDown);
    out.stop.push_back(r.node);
  };

  // Nodes: registration time-outs, paid time, idle time-outs.
  for (RentedNode& r : rented_) {
    if (r.phase != RentPhase::kStarting && r.phase != RentPhase::kUp) continue;
    const Provider* prov = r.provider < 0 ? nullptr : &rent_.providers[r.provider];
    const int gpus = snap_.specs[r.node].gpus;
    if (r.phase == RentPhase::kStarting && prov && now - r.started > prov->timeout_s) {
      RentFailed(r.node, now, fmt::format("not registered within {}", Ago(prov->timeout_s)));
      out.stop.push_back(r.node);
      continue;
    }
    auto b = busy.find(r.node);
    const bool has_jobs = b != busy.end();
    if (r.phase == RentPhase::kUp && has_jobs) r.idle_since = now;
    if (r.phase == RentPhase::kUp && !has_jobs &&
        (prov == nullptr || now - r.idle_since >= prov->idle_timeout_s)) {
      stop(r, fmt::format("idle for {}", Ago(now - r.idle_since)));
      continue;
    }
    // Paid time: extended by the hour while the node is wanted.
    if (now + kExtendLead >= r.paid_until && !r.draining) {
      const Money hour = prov ? RentFor(prov->price_per_gpu_hour, gpus, 3600) : 0;
      auto terms = rent_.accounts.find(r.account);
      const Money left = terms == rent_.accounts.end()
                             ? 0
                             : terms->second.budget - RentSpent(r.account) - RentReserved(r.account);
      if (prov && (rent_.always || left >= hour)) {
        r.paid_until += 3600;
        r.reserved += hour;
        rent_reserved_[r.account] += hour;
      } else {
        r.draining = true;
        r.reason = fmt::format("{} cannot pay beyond {} more", r.account, Ago(std::max<Seconds>(0, r.paid_until - now)));
        if (r.phase == RentPhase::kUp) SetNode(r.node, snap_.specs[r.node], NodeService::kDraining);
      }
    }
    if (r.draining && now >= r.paid_until) {
      if (has_jobs) out.evict.insert(out.evict.end(), b->second.begin(), b->second.end());
      stop(r, fmt::format("paid time over: {} has no budget left for it", r.account));
    }
  }

  // What to rent for the jobs waiting for capacity.
  RentInput in;
  in.now = now;
  in.policy = &rent_;
  if (org_) in.default_time_limit = org_->policy.default_time_limit;
  for (const Wait& w : waiting) {
    if (w.reason != WaitReason::kPriority && w.reason != WaitReason::kResources && w.reason != WaitReason::kNodeDown &&
        w.reason != WaitReason::kNodeDrain)
      continue;
    auto it = recs_.find(w.job);
    if (it == recs_.end() || it->second.pending_pos < 0) continue;
    in.waiting.push_back(RentCandidate{snap_.pending[it->second.pending_pos].job, w.estimated_start});
  }
  if (in.waiting.empty()) return out;
  in.providers.resize(rent_.providers.size());
  for (size_t pi = 0; pi < rent_.providers.size(); ++pi) {
    auto run = provider_runs_.find(rent_.providers[pi].name);
    if (run == provider_runs_.end()) continue;
    in.providers[pi].available_at = run->second.available_at;
    in.providers[pi].unavailable_reason = run->second.reason;
  }
  for (const RentedNode& r : rented_) {
    if (r.provider < 0 || r.phase == RentPhase::kOff) continue;
    in.providers[r.provider].rented += 1;
    if (r.phase != RentPhase::kStarting) continue;
    StartingNode s;
    s.node = r.node;
    s.provider = r.provider;
    s.account = r.account;
    s.name = snap_.specs[r.node].name;
    s.ready_at = r.started + rent_.providers[r.provider].startup_s;
    s.free = NodeState::Empty(snap_.specs[r.node]);
    in.starting.push_back(std::move(s));
  }
  for (const auto& [name, terms] : rent_.accounts)
    in.left[name] = terms.budget - RentSpent(name) - RentReserved(name);
  RentPlan plan = kojo::PlanRent(in);
  for (RentOrder& o : plan.orders) {
    auto slot = std::find_if(rented_.begin(), rented_.end(), [&](const RentedNode& r) {
      return r.provider == o.provider && r.phase == RentPhase::kOff;
    });
    if (slot == rented_.end()) continue;  // PlanRent counted the slots: not reached
    RentedNode& r = *slot;
    r.phase = RentPhase::kStarting;
    r.account = o.account;
    r.started = now;
    r.up_since = 0;
    r.idle_since = now;
    r.paid_until = now + o.planned_s;
    r.reserved = o.cost;
    r.draining = false;
    r.reason = o.jobs.empty() ? "rented for waiting jobs"
                              : fmt::format("rented for job {}{}", o.jobs.front(),
                                            o.jobs.size() > 1 ? fmt::format(" and {} more", o.jobs.size() - 1) : "");
    rent_reserved_[r.account] += r.reserved;
    NodeSpec spec = snap_.specs[r.node];
    spec.rent_account = r.account;
    snap_.specs[r.node] = spec;
    rent_off_[r.node] = false;
    infeasible_.clear();
    out.start.push_back(r.node);
  }
  out.notes = std::move(plan.notes);
  return out;
}

bool ClusterState::MayRent(Seconds now) const {
  if (snap_.pending.empty()) return false;
  bool slot = false;
  for (const RentedNode& r : rented_) {
    if (r.provider < 0 || r.phase != RentPhase::kOff) continue;
    auto run = provider_runs_.find(rent_.providers[r.provider].name);
    if (run == provider_runs_.end() || run->second.available_at <= now) {
      slot = true;
      break;
    }
  }
  if (!slot) return false;
  if (rent_.always) return true;
  for (const auto& [name, terms] : rent_.accounts)
    if (terms.value_per_gpu_hour > 0 && terms.budget - RentSpent(name) - RentReserved(name) > 0) return true;
  return false;
}

void ClusterState::RentUp(NodeIndex n, Seconds now) {
  auto it = rented_at_.find(n);
  if (it == rented_at_.end()) return;
  RentedNode& r = rented_[it->second];
  if (r.phase != RentPhase::kStarting) return;
  r.phase = RentPhase::kUp;
  r.up_since = now;
  r.idle_since = now;
  r.reason = fmt::format("up after {}", Ago(now - r.started));
  provider_runs_[snap_.specs[n].provider].failures = 0;
  SetNode(n, snap_.specs[n], r.draining ? NodeService::kDraining : NodeService::kUp);
}

void ClusterState::RentFailed(NodeIndex n, Seconds now, std::string why) {
  auto it = rented_at_.find(n);
  if (it == rented_at_.end()) return;
  RentedNode& r = rented_[it->second];
  if (r.phase != RentPhase::kStarting) return;
  SettleRent(r, now);
  r.phase = RentPhase::kStopping;
  r.reason = "start failed: " + why;
  SetNode(n, snap_.specs[n], NodeService::kDown);
  ProviderRun& run = provider_runs_[snap_.specs[n].provider];
  run.failures += 1;
  if (run.failures >= kFailuresUnavailable) {
    run.available_at = now + kUnavailableFor;
    run.reason = fmt::format("{} starts failed in a row, the last: {}", run.failures, why);
    run.failures = 0;
  } else {
    run.available_at = now + (kBackoffFirst << (run.failures - 1));
    run.reason = fmt::format("backing off after a failed start: {}", why);
  }
}

void ClusterState::RentAbandon(NodeIndex n, Seconds now, std::string why) {
  auto it = rented_at_.find(n);
  if (it == rented_at_.end()) return;
  RentedNode& r = rented_[it->second];
  if (r.phase != RentPhase::kStarting && r.phase != RentPhase::kUp) return;
  SettleRent(r, now);
  r.phase = RentPhase::kStopping;
  r.draining = false;
  r.reason = std::move(why);
  SetNode(n, snap_.specs[n], NodeService::kDown);
}

void ClusterState::RentStopped(NodeIndex n, Seconds now) {
  auto it = rented_at_.find(n);
  if (it == rented_at_.end()) return;
  RentedNode& r = rented_[it->second];
  if (r.phase == RentPhase::kStarting || r.phase == RentPhase::kUp) SettleRent(r, now);
  r.phase = RentPhase::kOff;
  r.account.clear();
  r.draining = false;
  r.reserved = 0;
  r.reason = "given back";
  NodeSpec spec = snap_.specs[n];
  spec.rent_account.clear();
  SetNode(n, spec, NodeService::kDown);
  rent_off_[n] = true;
  infeasible_.clear();
}

void ClusterState::RestoreRented(const RentedNode& given) {
  auto it = rented_at_.find(given.node);
  if (it == rented_at_.end()) return;
  RentedNode& r = rented_[it->second];
  const int provider = r.provider;
  rent_reserved_[r.account] -= r.reserved;
  r = given;
  r.provider = provider;
  rent_reserved_[r.account] += r.reserved;
  NodeSpec spec = snap_.specs[r.node];
  spec.rent_account = r.account;
  snap_.specs[r.node] = spec;
  rent_off_[r.node] = r.phase == RentPhase::kOff;
  SetNode(r.node, spec,
          r.phase == RentPhase::kUp ? (r.draining ? NodeService::kDraining : NodeService::kUp) : NodeService::kDown);
  infeasible_.clear();
}

}  // namespace kojo
