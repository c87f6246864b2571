#include "state/cluster_state.h"

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

#include "sched/org_pass.h"

namespace kojo {

namespace {

std::int64_t MilliOf(const Job& job) { return job.demand.TotalGpuMilli(); }

std::int64_t MilliOf(const Allocation& a) {
  std::int64_t m = 0;
  for (const NodeShare& s : a.shares) m += static_cast<std::int64_t>(s.gpu_indices.size()) * s.gpu_milli;
  return m;
}

}  // namespace

ClusterState::ClusterState(Scheduler& scheduler, Seconds usage_half_life)
    : scheduler_(scheduler), fair_(usage_half_life) {
  snap_.usage = &fair_;
}

// ---- nodes ----

NodeSpec ClusterState::Normalised(NodeSpec spec) const {
  spec.features = NodeFeatures(spec.features, spec.gpu_model);
  spec.partitions = PartitionsOf(partitions_, spec);
  return spec;
}

void ClusterState::SetPartitions(std::vector<Partition> partitions) {
  partitions_ = std::move(partitions);
  for (NodeSpec& spec : snap_.specs) spec = Normalised(std::move(spec));
  infeasible_.clear();
}

NodeIndex ClusterState::AddNode(const NodeSpec& given, NodeService service) {
  const NodeSpec spec = Normalised(given);
  snap_.specs.push_back(spec);
  NodeState s = NodeState::Empty(spec);
  s.schedulable = service == NodeService::kUp;
  snap_.nodes.push_back(s);
  service_.push_back(service);
  if (s.schedulable) free_up_milli_ += s.GpuMilliFree();
  infeasible_.clear();
  return static_cast<NodeIndex>(snap_.specs.size() - 1);
}

void ClusterState::SetNode(NodeIndex n, const NodeSpec& given, NodeService service) {
  const NodeSpec spec = Normalised(given);
  service_[n] = service;
  NodeState& s = snap_.nodes[n];
  if (s.schedulable) free_up_milli_ -= s.GpuMilliFree();
  const NodeSpec& old = snap_.specs[n];
  if (old.name != spec.name || old.gpus != spec.gpus || old.gpu_model != spec.gpu_model ||
      old.cpu_milli != spec.cpu_milli || old.mem_mib != spec.mem_mib) {
    // A new shape: its free resources are the new spec less what runs there.
    snap_.specs[n] = spec;
    std::vector<NodeState> one{NodeState::Empty(spec)};
    for (const JobEntry& e : snap_.running) {
      Allocation here;
      for (NodeShare share : e.allocation.shares)
        if (share.node == n) {
          share.node = 0;
          here.shares.push_back(std::move(share));
        }
      Apply(one, here);
    }
    s = one[0];
    infeasible_.clear();
  } else if (old.features != spec.features || old.partitions != spec.partitions) {
    snap_.specs[n].features = spec.features;
    snap_.specs[n].partitions = spec.partitions;
    infeasible_.clear();
  }
  s.schedulable = service == NodeService::kUp;
  if (s.schedulable) free_up_milli_ += s.GpuMilliFree();
}

// ---- organisation ----

void ClusterState::SetOrg(std::optional<ClusterOrg> org) {
  org_ = std::move(org);
  org_guarantee_ = false;
  snap_.org = org_ ? &org_->policy : nullptr;
  if (!org_) return;
  org_->policy.member_used = member_used_;
  for (const auto& [name, limits] : org_->policy.projects)
    org_guarantee_ = org_guarantee_ || limits.guaranteed_gpus > 0;
}

void ClusterState::Charge(const std::string& project, const std::string& user, NormUnits units, Seconds now) {
  // Each member's use over the project's life (member_gpu_hours caps it),
  // kept whatever the organisation is now (recovery charges before it is set).
  {
    const std::string key = MemberKey(project, user);
    NormUnits& used = member_used_[key];
    used += units;
    if (org_) org_->policy.member_used[key] = used;
  }
  // Fair share counts normalised units at three levels with an
  // organisation, GPU-seconds at two without one.
  if (org_) {
    auto p = org_->policy.projects.find(project);
    const std::string programme = p == org_->policy.projects.end() ? "" : p->second.programme;
    fair_.Charge(programme, project, user, static_cast<double>(units), now);
  } else {
    fair_.Charge(project, user, static_cast<double>(units) / kWholeGpu, now);
  }
}

void ClusterState::ChargeSettled(const std::string& project, const std::string& user, const std::string& grant,
                                 NormUnits units, Seconds end) {
  if (!grant.empty()) used_[grant] += units;
  Charge(project, user, units, end);
}

NormUnits ClusterState::GrantUsed(const std::string& grant) const {
  auto it = used_.find(grant);
  return it == used_.end() ? 0 : it->second;
}

NormUnits ClusterState::GrantReserved(const std::string& grant) const {
  auto it = reserved_.find(grant);
  return it == reserved_.end() ? 0 : it->second;
}

NormUnits ClusterState::Cost(const Allocation& a, Seconds seconds) const {
  if (!org_) return MilliOf(a) * seconds;
  return RunCost(org_->policy, snap_.specs, a, seconds);
}

// grant_left of each metered project: the most that one of its active
// grants has left (awarded - used - reserved), as a start reserves from
// one grant.
void ClusterState::UpdateGrantsLeft(Seconds now) {
  const Seconds t = now + org_->grant_time_offset;
  for (auto& [name, limits] : org_->policy.projects) limits.grant_left = 0;
  for (const Grant& g : org_->grants) {
    if (!g.Active(t)) continue;
    auto p = org_->policy.projects.find(g.project);
    if (p == org_->policy.projects.end()) continue;
    const NormUnits left = std::max<NormUnits>(0, g.amount - GrantUsed(g.id) - GrantReserved(g.id));
    *p->second.grant_left = std::max(*p->second.grant_left, left);
  }
}

const Grant* ClusterState::ChooseGrant(const std::string& project, Seconds now, NormUnits need) const {
  const Seconds t = now + org_->grant_time_offset;
  const Grant* best = nullptr;
  for (const Grant& g : org_->grants) {
    if (g.project != project || !g.Active(t) || g.amount - GrantUsed(g.id) - GrantReserved(g.id) < need) continue;
    if (!best || g.end < best->end || (g.end == best->end && g.id < best->id)) best = &g;
  }
  return best;
}

// ---- jobs ----

std::optional<std::string> ClusterState::Infeasible(const Job& job) {
  if (snap_.specs.empty()) return std::nullopt;  // no node known yet: it waits
  // Whether a job can ever run depends on its demand alone while the nodes
  // stay as they are: workloads repeat a few shapes, so remember answers.
  const Demand& d = job.demand;
  std::string shape = fmt::format("{}/{}/{}/{}/{}{}/{}/{}", d.gpus, d.gpu_milli, d.cpu_milli, d.mem_mib, d.tasks,
                                  d.distinct_nodes ? "d" : "", fmt::join(d.gpu_models, "|"), d.nodes.Key());
  auto it = infeasible_.find(shape);
  if (it != infeasible_.end()) return it->second;
  ClusterSnapshot empty;
  empty.specs = snap_.specs;
  for (const NodeSpec& s : snap_.specs) empty.nodes.push_back(NodeState::Empty(s));
  auto answer = scheduler_.Infeasible(empty, job);
  infeasible_.emplace(std::move(shape), answer);
  return answer;
}

void ClusterState::AddPending(Rec& r, JobEntry e) {
  r.pending_pos = static_cast<int>(snap_.pending.size());
  ++pending_milli_[MilliOf(*e.job)];
  if (r.max_running > 0) ++limited_pending_;
  snap_.pending.push_back(std::move(e));
}

JobEntry ClusterState::SwapRemove(std::vector<JobEntry>& v, int Rec::*pos, Rec& r) {
  const int at = r.*pos;
  JobEntry e = std::move(v[at]);
  if (at + 1 != static_cast<int>(v.size())) {
    v[at] = std::move(v.back());
    recs_.at(v[at].job->id).*pos = at;
  }
  v.pop_back();
  r.*pos = -1;
  return e;
}

JobEntry ClusterState::TakePending(Rec& r) {
  JobEntry e = SwapRemove(snap_.pending, &Rec::pending_pos, r);
  auto it = pending_milli_.find(MilliOf(*e.job));
  if (--it->second == 0) pending_milli_.erase(it);
  if (r.max_running > 0) --limited_pending_;
  return e;
}

void ClusterState::AddRunning(Rec& r, JobEntry e) {
  r.running_pos = static_cast<int>(snap_.running.size());
  Apply(snap_.nodes, e.allocation);
  CountFree(e.allocation, -1);
  busy_milli_ += MilliOf(e.allocation);
  if (r.max_running > 0 && r.array_id) ++array_running_[*r.array_id];
  snap_.running.push_back(std::move(e));
}

JobEntry ClusterState::TakeRunning(Rec& r) {
  JobEntry e = SwapRemove(snap_.running, &Rec::running_pos, r);
  Release(snap_.nodes, e.allocation);
  CountFree(e.allocation, +1);
  busy_milli_ -= MilliOf(e.allocation);
  if (r.max_running > 0 && r.array_id && --array_running_[*r.array_id] == 0) array_running_.erase(*r.array_id);
  return e;
}

int ClusterState::MemberId(const Job& job) {
  return member_ids_.try_emplace(MemberKey(job.project, job.user), static_cast<int>(member_ids_.size()))
      .first->second;
}

void ClusterState::Enqueue(JobId id, const QueuedJob& q) {
  Rec& r = recs_[id];
  if (r.pending_pos >= 0 || r.running_pos >= 0) return;  // known already
  r.array_id = q.array_id;
  r.max_running = q.max_running;
  JobEntry e;
  e.job = q.job;
  e.member_id = MemberId(*q.job);
  e.queued_since = q.queued_since;
  e.attained_gpu_s = q.attained_gpu_s;
  e.last_run_s = q.last_run_s;
  AddPending(r, std::move(e));
}

void ClusterState::Dequeue(JobId id) {
  auto it = recs_.find(id);
  if (it == recs_.end() || it->second.pending_pos < 0) return;
  TakePending(it->second);
  recs_.erase(it);
}

void ClusterState::Restore(JobId id, const QueuedJob& q, const Allocation& a, Seconds started,
                           const std::string& grant, NormUnits reserved) {
  Rec& r = recs_[id];
  if (r.pending_pos >= 0 || r.running_pos >= 0) return;
  r.array_id = q.array_id;
  r.max_running = q.max_running;
  r.grant = grant;
  r.reserved = reserved;
  if (!grant.empty()) reserved_[grant] += reserved;
  JobEntry e;
  e.job = q.job;
  e.member_id = MemberId(*q.job);
  e.queued_since = q.queued_since;
  e.attained_gpu_s = q.attained_gpu_s;
  e.last_run_s = q.last_run_s;
  e.started = started;
  e.allocation = a;
  AddRunning(r, std::move(e));
}

void ClusterState::Stop(JobId id) {
  auto it = recs_.find(id);
  if (it != recs_.end() && it->second.running_pos >= 0) it->second.stopping = true;
}

Settled ClusterState::Finish(JobId id, Seconds now, bool requeue) {
  Settled out;
  auto it = recs_.find(id);
  if (it == recs_.end() || it->second.running_pos < 0) return out;
  Rec& r = it->second;
  JobEntry e = TakeRunning(r);
  if (!rented_at_.empty())  // a rented node is idle from its last job's end
    for (const NodeShare& share : e.allocation.shares)
      if (auto slot = rented_at_.find(share.node); slot != rented_at_.end()) rented_[slot->second].idle_since = now;
  out.started = e.started;
  out.ran = std::max<Seconds>(0, now - e.started);
  out.grant = r.grant;
  out.reserved = r.reserved;
  out.charged = Cost(e.allocation, out.ran);
  if (!r.grant.empty()) {
    out.charged = std::min(out.charged, r.reserved);
    auto res = reserved_.find(r.grant);
    if (res != reserved_.end()) res->second = std::max<NormUnits>(0, res->second - r.reserved);
    used_[r.grant] += out.charged;
  }
  if (out.ran > 0) Charge(e.job->project, e.job->user, out.charged, now);
  out.attained_gpu_s = e.attained_gpu_s + MilliOf(e.allocation) * out.ran / kWholeGpu;
  out.allocation = std::move(e.allocation);
  r.grant.clear();
  r.reserved = 0;
  r.stopping = false;
  if (!requeue) {
    recs_.erase(it);
    return out;
  }
  JobEntry q;
  q.job = e.job;
  q.member_id = e.member_id;
  q.attained_gpu_s = out.attained_gpu_s;
  q.queued_since = now;
  q.last_run_s = out.ran;
  AddPending(r, std::move(q));
  return out;
}

bool ClusterState::Waiting(JobId id) const {
  auto it = recs_.find(id);
  return it != recs_.end() && it->second.pending_pos >= 0;
}

bool ClusterState::Running(JobId id) const {
  auto it = recs_.find(id);
  return it != recs_.end() && it->second.running_pos >= 0;
}

// ---- the pass ----

void ClusterState::CountFree(const Allocation& a, int sign) {
  for (const NodeShare& s : a.shares)
    if (snap_.nodes[s.node].schedulable)
      free_up_milli_ += sign * static_cast<std::int64_t>(s.gpu_indices.size()) * s.gpu_milli;
}

bool ClusterState::MayStartSomething() const {
  if (snap_.pending.empty()) return false;
  if (scheduler_.policy().Preemptive() || org_guarantee_) return true;  // (reclaim may preempt)
  return free_up_milli_ >= pending_milli_.begin()->first;
}

std::optional<std::string> ClusterState::CheckAllocation(const Job& job, const Allocation& a,
                                                         const std::vector<NodeState>& nodes) const {
  const Demand& d = job.demand;
  if (a.GpuCount() != d.gpus) return fmt::format("{} GPUs given, {} asked", a.GpuCount(), d.gpus);
  if (d.tasks > 1 && static_cast<int>(a.shares.size()) > d.tasks) return "more nodes than tasks";
  if (d.distinct_nodes && static_cast<int>(a.shares.size()) != d.tasks) return "tasks share a node";
  std::vector<NodeIndex> seen;
  for (const NodeShare& s : a.shares) {
    if (s.node < 0 || s.node >= static_cast<NodeIndex>(nodes.size())) return "no such node";
    if (std::find(seen.begin(), seen.end(), s.node) != seen.end()) return "a node listed twice";
    seen.push_back(s.node);
    const NodeState& n = nodes[s.node];
    const NodeSpec& spec = snap_.specs[s.node];
    if (!n.schedulable) return fmt::format("node {} is out of service", spec.name);
    if (!s.gpu_indices.empty() && !d.AllowsModel(spec.gpu_model)) return "GPU model not allowed";
    if (!d.nodes.Empty() && !d.nodes.Allows(spec)) return fmt::format("node {} is not allowed by its node rule", spec.name);
    if (s.gpu_milli != d.gpu_milli) return "wrong GPU share";
    if (s.cpu_milli > n.cpu_free || s.mem_mib > n.mem_free) return "CPU or memory oversubscribed";
    for (size_t k = 0; k < s.gpu_indices.size(); ++k) {
      const int g = s.gpu_indices[k];
      if (g < 0 || g >= n.gpus) return "no such GPU";
      if (n.gpu_free[g] < s.gpu_milli) return fmt::format("GPU {} of node {} oversubscribed", g, s.node);
      for (size_t m = 0; m < k; ++m)
        if (s.gpu_indices[m] == g) return "a GPU listed twice";
    }
  }
  return std::nullopt;
}

void ClusterState::ExplainOutOfService(Wait& w, const Job& job) {
  // Rented slots are not out of service: renting explains them (rent notes).
  auto counts = [&](size_t i) {
    return service_[i] != NodeService::kUp && (rented_at_.empty() || !rented_at_.count(static_cast<NodeIndex>(i)));
  };
  bool any = false;
  for (size_t i = 0; i < service_.size() && !any; ++i) any = counts(i);
  if (!any) return;
  std::vector<std::string> out;
  bool draining = false;
  ClusterSnapshot up;
  for (size_t i = 0; i < service_.size(); ++i) {
    if (!counts(i)) {
      if (service_[i] != NodeService::kUp) continue;
      up.specs.push_back(snap_.specs[i]);
      up.nodes.push_back(NodeState::Empty(snap_.specs[i]));
    } else {
      out.push_back(snap_.specs[i].name);
      draining = draining || service_[i] == NodeService::kDraining;
    }
  }
  if (out.empty() || !scheduler_.Infeasible(up, job)) return;
  w.reason = draining ? WaitReason::kNodeDrain : WaitReason::kNodeDown;
  w.message = fmt::format("no node in service can run it; nodes draining or down: {}",
                          fmt::join(out.begin(), out.begin() + std::min<size_t>(out.size(), 8), ", "));
  w.estimated_start.reset();
  w.confidence = EstimateConfidence::kNone;
  w.confidence_text = "it starts once a node that can run it is resumed or comes back";
}

Changes ClusterState::Pass(Seconds now, Rng& rng, PassOptions options) {
  Changes out;
  if (snap_.pending.empty() || snap_.specs.empty()) return out;
  if (!options.force && !MayStartSomething()) return out;
  if (metered()) UpdateGrantsLeft(now);
  if (!reservations_.empty()) UpdateHolds(now);

  // "%N": an array's tasks beyond N running wait, out of the scheduler's sight.
  const ClusterSnapshot* snap = &snap_;
  ClusterSnapshot limited;
  if (limited_pending_ > 0) {
    limited.specs = snap_.specs;
    limited.nodes = snap_.nodes;
    limited.tie_rank = snap_.tie_rank;
    limited.running = snap_.running;
    limited.usage = snap_.usage;
    limited.org = snap_.org;
    // Within an array, the tasks with the lowest ids go first.
    std::vector<const JobEntry*> tasks;
    for (const JobEntry& e : snap_.pending) {
      if (recs_.at(e.job->id).max_running > 0) tasks.push_back(&e);
      else limited.pending.push_back(e);
    }
    std::sort(tasks.begin(), tasks.end(), [](const JobEntry* a, const JobEntry* b) { return a->job->id < b->job->id; });
    std::unordered_map<JobId, int> running = array_running_;
    for (const JobEntry* e : tasks) {
      const Rec& r = recs_.at(e->job->id);
      int& n = running[r.array_id.value_or(0)];
      if (n >= r.max_running) {
        if (options.explain) {
          Wait w;
          w.job = e->job->id;
          w.reason = WaitReason::kArrayLimit;
          w.message = fmt::format("array {} runs at most {} tasks at once", r.array_id.value_or(0), r.max_running);
          out.waiting.push_back(std::move(w));
        }
        continue;
      }
      ++n;
      limited.pending.push_back(*e);
    }
    snap = &limited;
  }

  Decisions d = scheduler_.Decide(*snap, now, rng, options.explain);
  out.decided = true;
  auto broken = [&](std::string what) {
    out.violation = fmt::format("at t={} the scheduler {}", now, what);
    return out;
  };
  for (Preempt& p : d.preempted) {
    auto it = recs_.find(p.job);
    if (it == recs_.end() || it->second.running_pos < 0) {
      if (options.check) return broken(fmt::format("preempted job {}, which is not running", p.job));
      continue;
    }
    if (it->second.stopping) continue;
    out.preempted.push_back(std::move(p));
  }
  // Jobs preempted in this pass hold their resources until they end (or
  // leave now, PassOptions::preempt_at_once): a placement that needs some
  // of them waits for a pass after they have left. `after` is the cluster
  // once they have.
  std::vector<NodeState> after;
  if (options.preempt_at_once) {
    for (const Preempt& p : out.preempted) out.preempted_runs.push_back(Finish(p.job, now, /*requeue=*/true));
  } else if (!out.preempted.empty()) {
    after = snap_.nodes;
    for (const Preempt& p : out.preempted) Release(after, snap_.running[recs_.at(p.job).running_pos].allocation);
  }
  for (Place& p : d.placed) {
    auto it = recs_.find(p.job);
    if (it == recs_.end() || it->second.pending_pos < 0) {
      if (options.check) return broken(fmt::format("placed job {}, which is not waiting", p.job));
      continue;
    }
    Rec& r = it->second;
    const Job& job = *snap_.pending[r.pending_pos].job;
    if (!after.empty() && CheckAllocation(job, p.allocation, snap_.nodes)) {
      if (auto bad = CheckAllocation(job, p.allocation, after); bad && options.check)
        return broken(fmt::format("placed job {} against the rules: {}", p.job, *bad));
      if (options.explain) {
        Wait w;
        w.job = p.job;
        w.reason = WaitReason::kPreempting;
        w.message = "waiting for the preempted jobs to stop";
        out.waiting.push_back(std::move(w));
      }
      continue;
    }
    if (options.check)
      if (auto bad = CheckAllocation(job, p.allocation, snap_.nodes))
        return broken(fmt::format("placed job {} against the rules: {}", p.job, *bad));
    std::string grant;
    NormUnits need = 0;
    if (metered() && org_->policy.projects.count(job.project)) {
      need = ReservationCost(org_->policy, snap_.specs, job, p.allocation);
      const Grant* g = ChooseGrant(job.project, now, need);
      if (!g) {  // no grant of its project has enough left: it waits
        if (options.explain) {
          Wait w;
          w.job = p.job;
          w.reason = WaitReason::kGrant;
          w.message = fmt::format(
              "no active grant of project \"{}\" has the {:.3f} GPU-hours its time limit needs left; it waits "
              "for running jobs to end or for a new grant", job.project, static_cast<double>(need) / kNormPerGpuHour);
          out.waiting.push_back(std::move(w));
        }
        continue;
      }
      grant = g->id;
      reserved_[grant] += need;
    }
    JobEntry e = TakePending(r);
    e.started = now;
    e.allocation = p.allocation;
    r.grant = grant;
    r.reserved = need;
    if (!after.empty()) Apply(after, e.allocation);
    AddRunning(r, std::move(e));
    out.started.push_back(Started{p.job, std::move(p.allocation), p.backfilled, std::move(grant), need});
  }
  for (Reject& rj : d.rejected) {
    auto it = recs_.find(rj.job);
    if (it == recs_.end() || it->second.pending_pos < 0) {
      if (options.check) return broken(fmt::format("rejected job {}, which is not waiting", rj.job));
      continue;
    }
    TakePending(it->second);
    recs_.erase(it);
    out.rejected.push_back(std::move(rj));
  }
  // Every wait is of a job waiting in the snapshot, so still waiting; a
  // Resources wait may be explained further. Moved, not copied (thousands).
  for (Wait& w : d.waiting) {
    if (w.reason != WaitReason::kResources) continue;
    auto it = recs_.find(w.job);
    if (it == recs_.end() || it->second.pending_pos < 0) continue;
    const Job& job = *snap_.pending[it->second.pending_pos].job;
    ExplainOutOfService(w, job);
    if (!reservations_.empty() && w.reason == WaitReason::kResources) ExplainHeld(w, job, now);
  }
  // The pass's waits (thousands, with room reserved for every pending job)
  // stay where they are; the state's few (array limits, grants, jobs
  // waiting for preempted ones) join them.
  std::move(out.waiting.begin(), out.waiting.end(), std::back_inserter(d.waiting));
  out.waiting = std::move(d.waiting);
  return out;
}

}  // namespace kojo
