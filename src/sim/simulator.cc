#include "sim/simulator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <queue>
#include <unordered_map>

#include <fmt/format.h>

#include "sched/org_pass.h"

namespace kojo {

namespace {

constexpr int kMaxPassesPerTime = 4;

struct Event {
  Seconds t = 0;
  int job = 0;
  std::uint32_t gen = 0;
  bool operator>(const Event& o) const { return t != o.t ? t > o.t : job > o.job; }
};

// What the simulator knows about one job beyond the snapshot's JobEntry.
struct JobState {
  int pending_pos = -1;
  int running_pos = -1;
  Seconds effective = 0;      // work to do: min(true duration, time limit)
  Seconds work_done = 0;      // useful work of finished runs
  Seconds run_penalty = 0;    // restart time paid at the start of this run
  std::int64_t attained_milli_s = 0;  // milli-GPU-seconds of finished runs
  std::uint32_t gen = 0;      // bumped on preemption: stale completions
  bool restarted = false;
  bool killed_at_limit = false;
};

class Engine {
 public:
  Engine(const std::vector<NodeSpec>& nodes, const std::vector<Job>& jobs, Scheduler& scheduler,
         const SimConfig& config)
      : jobs_(jobs), scheduler_(scheduler), config_(config), ledger_(config.usage_half_life_s),
        rng_(config.seed) {
    snap_.specs = nodes;
    snap_.nodes.reserve(nodes.size());
    for (const auto& n : nodes) {
      snap_.nodes.push_back(NodeState::Empty(n));
      total_milli_ += static_cast<std::int64_t>(n.gpus) * kWholeGpu;
      total_gpus_ += n.gpus;
    }
    snap_.usage = &ledger_;
    if (config.org) InitOrg(*config.org);
  }

  Result<SimResult> Run(const ProgressFn& progress);

 private:
  std::int64_t Milli(int j) const { return jobs_[j].demand.TotalGpuMilli(); }
  int IndexOf(JobId id) const {
    auto it = index_.find(id);
    return it == index_.end() ? -1 : it->second;
  }
  void Advance(Seconds t);
  void Arrive(int j);
  void Finish(int j);
  Status DecideNow(bool* placed, bool* preempted = nullptr);
  Status PlaceJob(const Place& p);
  Status PreemptJob(JobId id);
  void RejectPending(int j, const std::string& reason);
  Status CheckAllocation(int j, const Allocation& a) const;
  bool MayPlaceSomething() const;

  void AddPending(int j, JobEntry entry);
  JobEntry TakePending(int j);
  void AddRunning(int j, JobEntry entry);
  JobEntry TakeRunning(int j);
  void RecordPoint();
  // The recorded points are a step function (each held until the next, the
  // last until now_), cut into at most config_.series_points equal buckets.
  struct BucketGrid {
    Seconds horizon = 1, width = 1;
    int count = 0;
  };
  BucketGrid Grid() const;
  // Calls add(k, bucket, seconds) for each piece of point k inside a bucket.
  template <typename Add>
  void ForEachPiece(const BucketGrid& g, Add add) const;
  std::vector<SeriesPoint> Buckets() const;
  ProgrammeSeries ProgrammeBuckets() const;

  // Organisations (config_.org set).
  void InitOrg(const SimOrg& org);
  NormUnits CostOf(const Allocation& a, Seconds seconds) const;
  void UpdateGrantsLeft();
  void ChargeGrants(const std::string& project, NormUnits units);
  const SimOrg* org_ = nullptr;
  bool org_has_guarantee_ = false;
  OrgPolicy org_policy_;                          // the snapshot's, grant_left kept current
  std::vector<std::string> programmes_;           // sorted
  std::vector<int> programme_of_;                 // by job index
  std::vector<std::int64_t> busy_by_programme_;   // milli-GPUs now
  std::vector<std::vector<std::int64_t>> programme_points_;  // aligned with points_
  std::vector<NormUnits> grant_used_;             // by grant
  std::unordered_map<std::string, NormUnits> reserved_;  // by project: running jobs' reservations
  std::vector<NormUnits> job_reserved_;           // by job index

  const std::vector<Job>& jobs_;
  Scheduler& scheduler_;
  const SimConfig& config_;
  UsageLedger ledger_;
  Rng rng_;
  ClusterSnapshot snap_;
  std::vector<JobState> state_;
  std::vector<JobRecord> records_;
  std::vector<RunRecord> runs_;
  std::unordered_map<JobId, int> index_;
  std::unordered_map<std::string, std::optional<std::string>> infeasible_;  // by demand shape
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::map<std::int64_t, int> pending_milli_;  // demand -> count of waiting jobs


  std::int64_t total_milli_ = 0;
  int total_gpus_ = 0;
  std::int64_t busy_milli_ = 0;
  double busy_milli_s_ = 0;  // integral of busy_milli_ over time
  Seconds now_ = 0;
  bool dirty_ = false;       // something arrived or ended since the last pass
  std::int64_t preemptions_ = 0;
  std::int64_t decide_calls_ = 0;
  // Change points of (busy milli, pending count) for the time series.
  struct Point { Seconds t; std::int64_t busy; std::int64_t pending; };
  std::vector<Point> points_;
};

void Engine::AddPending(int j, JobEntry entry) {
  state_[j].pending_pos = static_cast<int>(snap_.pending.size());
  snap_.pending.push_back(std::move(entry));
  ++pending_milli_[Milli(j)];
}

JobEntry Engine::TakePending(int j) {
  int pos = state_[j].pending_pos;
  JobEntry e = std::move(snap_.pending[pos]);
  if (pos + 1 != static_cast<int>(snap_.pending.size())) {
    snap_.pending[pos] = std::move(snap_.pending.back());
    state_[snap_.pending[pos].job - jobs_.data()].pending_pos = pos;
  }
  snap_.pending.pop_back();
  state_[j].pending_pos = -1;
  auto it = pending_milli_.find(Milli(j));
  if (--it->second == 0) pending_milli_.erase(it);
  return e;
}

void Engine::AddRunning(int j, JobEntry entry) {
  state_[j].running_pos = static_cast<int>(snap_.running.size());
  snap_.running.push_back(std::move(entry));
  const std::int64_t m = Milli(j);
  busy_milli_ += m;
  if (org_) busy_by_programme_[programme_of_[j]] += m;
}

JobEntry Engine::TakeRunning(int j) {
  int pos = state_[j].running_pos;
  JobEntry e = std::move(snap_.running[pos]);
  if (pos + 1 != static_cast<int>(snap_.running.size())) {
    snap_.running[pos] = std::move(snap_.running.back());
    state_[snap_.running[pos].job - jobs_.data()].running_pos = pos;
  }
  snap_.running.pop_back();
  state_[j].running_pos = -1;
  const std::int64_t m = Milli(j);
  busy_milli_ -= m;
  const Seconds ran = now_ - e.started;
  state_[j].attained_milli_s += m * ran;
  // Fair share: a run's usage is charged when it ends (snapshot.h); with
  // an organisation in normalised units, at three levels, and against the
  // project's grants (by the time it really ran), freeing its reservation.
  if (org_) {
    busy_by_programme_[programme_of_[j]] -= m;
    const NormUnits cost = CostOf(e.allocation, ran);
    if (ran > 0)
      ledger_.Charge(programmes_[programme_of_[j]], e.job->project, e.job->user, static_cast<double>(cost), now_);
    if (!org_->grants.empty()) {
      reserved_[e.job->project] -= job_reserved_[j];
      job_reserved_[j] = 0;
      ChargeGrants(e.job->project, cost);
    }
  } else if (ran > 0) {
    ledger_.Charge(e.job->project, e.job->user, static_cast<double>(m) * static_cast<double>(ran) / kWholeGpu,
                   now_);
  }
  Release(snap_.nodes, e.allocation);
  if (config_.record_runs) runs_.push_back(RunRecord{e.job->id, e.started, now_, e.allocation});
  return e;
}

void Engine::Advance(Seconds t) {
  busy_milli_s_ += static_cast<double>(busy_milli_) * static_cast<double>(t - now_);
  now_ = t;
}

void Engine::Arrive(int j) {
  const Job& job = jobs_[j];
  scheduler_.Observe(job);
  // Whether a job can ever run depends on its demand alone (the cluster's
  // shape is fixed): traces repeat a few shapes, so remember the answers.
  const Demand& d = job.demand;
  std::string shape = fmt::format("{}/{}/{}/{}/{}/{}", d.gpus, d.gpu_milli, d.cpu_milli, d.mem_mib, d.tasks,
                                  fmt::join(d.gpu_models, "|"));
  auto it = infeasible_.find(shape);
  if (it == infeasible_.end()) it = infeasible_.emplace(std::move(shape), scheduler_.Infeasible(snap_, job)).first;
  if (it->second) {
    records_[j].outcome = JobOutcome::kRejected;
    records_[j].reason = *it->second;
    return;
  }
  JobEntry e;
  e.job = &job;
  e.queued_since = now_;
  AddPending(j, std::move(e));
  dirty_ = true;
}

void Engine::Finish(int j) {
  TakeRunning(j);
  JobState& s = state_[j];
  s.work_done = s.effective;
  records_[j].end = now_;
  records_[j].outcome = s.killed_at_limit ? JobOutcome::kKilled : JobOutcome::kCompleted;
  dirty_ = true;
}

void Engine::RejectPending(int j, const std::string& reason) {
  TakePending(j);
  records_[j].outcome = JobOutcome::kRejected;
  records_[j].reason = reason;
}

Status Engine::CheckAllocation(int j, const Allocation& a) const {
  const Demand& d = jobs_[j].demand;
  auto fail = [&](std::string_view what) -> Status {
    return Error{ErrorCode::kUnsupported,
                 fmt::format("at t={} the scheduler placed job {} against the rules: {}", now_,
                             jobs_[j].id, what)};
  };
  if (a.GpuCount() != d.gpus) return fail(fmt::format("{} GPUs given, {} asked", a.GpuCount(), d.gpus));
  if (d.tasks > 1 && static_cast<int>(a.shares.size()) > d.tasks) return fail("more nodes than tasks");
  std::vector<NodeIndex> seen;
  for (const NodeShare& s : a.shares) {
    if (s.node < 0 || s.node >= static_cast<NodeIndex>(snap_.nodes.size())) return fail("no such node");
    if (std::find(seen.begin(), seen.end(), s.node) != seen.end()) return fail("a node listed twice");
    seen.push_back(s.node);
    const NodeState& n = snap_.nodes[s.node];
    const NodeSpec& spec = snap_.specs[s.node];
    if (!s.gpu_indices.empty() && !d.AllowsModel(spec.gpu_model)) return fail("GPU model not allowed");
    if (s.gpu_milli != d.gpu_milli) return fail("wrong GPU share");
    if (s.cpu_milli > n.cpu_free || s.mem_mib > n.mem_free) return fail("CPU or memory oversubscribed");
    for (size_t k = 0; k < s.gpu_indices.size(); ++k) {
      int g = s.gpu_indices[k];
      if (g < 0 || g >= n.gpus) return fail("no such GPU");
      if (n.gpu_free[g] < s.gpu_milli) return fail(fmt::format("GPU {} of node {} oversubscribed", g, s.node));
      for (size_t m = 0; m < k; ++m)
        if (s.gpu_indices[m] == g) return fail("a GPU listed twice");
    }
  }
  return Ok{};
}

Status Engine::PlaceJob(const Place& p) {
  int j = IndexOf(p.job);
  if (j < 0 || state_[j].pending_pos < 0)
    return Error{ErrorCode::kUnsupported,
                 fmt::format("at t={} the scheduler placed job {}, which is not waiting", now_, p.job)};
  if (config_.check_invariants) {
    if (auto st = CheckAllocation(j, p.allocation); !st.ok()) return st;
  }
  JobEntry e = TakePending(j);
  Apply(snap_.nodes, p.allocation);
  JobState& s = state_[j];
  e.started = now_;
  e.allocation = p.allocation;
  s.run_penalty = s.restarted ? config_.restart_penalty_s : 0;
  const Seconds end = now_ + s.run_penalty + (s.effective - s.work_done);
  events_.push(Event{end, j, s.gen});
  if (!records_[j].start) records_[j].start = now_;
  if (org_ && !org_->grants.empty()) {
    const Job& job = jobs_[j];
    job_reserved_[j] = CostOf(p.allocation, job.time_limit ? *job.time_limit : org_policy_.default_time_limit);
    reserved_[job.project] += job_reserved_[j];
  }
  AddRunning(j, std::move(e));
  return Ok{};
}

Status Engine::PreemptJob(JobId id) {
  int j = IndexOf(id);
  if (j < 0 || state_[j].running_pos < 0)
    return Error{ErrorCode::kUnsupported,
                 fmt::format("at t={} the scheduler preempted job {}, which is not running", now_, id)};
  JobEntry e = TakeRunning(j);
  JobState& s = state_[j];
  const Seconds ran = now_ - e.started;
  s.work_done = std::min(s.effective, s.work_done + std::max<Seconds>(0, ran - s.run_penalty));
  s.restarted = true;
  ++s.gen;
  ++records_[j].preemptions;
  ++preemptions_;
  JobEntry q;
  q.job = e.job;
  q.attained_gpu_s = s.attained_milli_s / kWholeGpu;
  q.queued_since = now_;
  q.last_run_s = ran;
  AddPending(j, std::move(q));
  return Ok{};
}

bool Engine::MayPlaceSomething() const {
  if (snap_.pending.empty()) return false;
  if (scheduler_.policy().Preemptive() || org_has_guarantee_) return true;  // (reclaim may preempt)
  return total_milli_ - busy_milli_ >= pending_milli_.begin()->first;
}

Status Engine::DecideNow(bool* placed, bool* preempted) {
  if (org_ && !org_->grants.empty()) UpdateGrantsLeft();
  Decisions d = scheduler_.Decide(snap_, now_, rng_);
  ++decide_calls_;
  dirty_ = false;
  for (const Preempt& p : d.preempted)
    if (auto st = PreemptJob(p.job); !st.ok()) return st;
  for (const Place& p : d.placed)
    if (auto st = PlaceJob(p); !st.ok()) return st;
  for (const Reject& r : d.rejected) {
    int j = IndexOf(r.job);
    if (j < 0 || state_[j].pending_pos < 0)
      return Error{ErrorCode::kUnsupported,
                   fmt::format("at t={} the scheduler rejected job {}, which is not waiting", now_, r.job)};
    RejectPending(j, r.reason);
  }
  if (placed) *placed = !d.placed.empty();
  if (preempted) *preempted = !d.preempted.empty();
  return Ok{};
}

void Engine::RecordPoint() {
  const std::int64_t pending = static_cast<std::int64_t>(snap_.pending.size());
  if (!points_.empty() && points_.back().busy == busy_milli_ && points_.back().pending == pending &&
      (!org_ || programme_points_.back() == busy_by_programme_))
    return;
  if (!points_.empty() && points_.back().t == now_) {
    points_.back().busy = busy_milli_;
    points_.back().pending = pending;
    if (org_) programme_points_.back() = busy_by_programme_;
    return;
  }
  points_.push_back(Point{now_, busy_milli_, pending});
  if (org_) programme_points_.push_back(busy_by_programme_);
}

void Engine::InitOrg(const SimOrg& org) {
  org_ = &org;
  org_policy_ = org.policy;
  snap_.org = &org_policy_;
  for (const auto& [name, limits] : org_policy_.projects)
    org_has_guarantee_ = org_has_guarantee_ || limits.guaranteed_gpus > 0;
  std::vector<std::string> names = {""};
  for (const auto& [name, limits] : org_policy_.projects) names.push_back(limits.programme);
  for (const auto& [name, share] : org_policy_.programme_shares) names.push_back(name);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  programmes_ = std::move(names);
  busy_by_programme_.assign(programmes_.size(), 0);
  programme_of_.resize(jobs_.size(), 0);
  for (size_t j = 0; j < jobs_.size(); ++j) {
    auto p = org_policy_.projects.find(jobs_[j].project);
    const std::string& prog = p == org_policy_.projects.end() ? programmes_[0] : p->second.programme;
    programme_of_[j] = static_cast<int>(std::lower_bound(programmes_.begin(), programmes_.end(), prog) -
                                        programmes_.begin());
  }
  grant_used_.assign(org.grants.size(), 0);
  job_reserved_.assign(jobs_.size(), 0);
}

NormUnits Engine::CostOf(const Allocation& a, Seconds seconds) const {
  return RunCost(org_policy_, snap_.specs, a, seconds);
}

// grant_left of each project = what its active grants have left together,
// less the reservations of its running jobs. Pooled: the simulator charges
// a run to several grants when one is not enough (ChargeGrants), where
// kojod reserves a run from one grant (api::PolicyOf counts the largest).
void Engine::UpdateGrantsLeft() {
  const Seconds t = now_ + org_->grant_time_offset;
  for (auto& [name, limits] : org_policy_.projects) limits.grant_left = 0;
  for (size_t g = 0; g < org_->grants.size(); ++g) {
    const Grant& grant = org_->grants[g];
    if (!grant.Active(t)) continue;
    auto p = org_policy_.projects.find(grant.project);
    if (p == org_policy_.projects.end()) continue;
    *p->second.grant_left += std::max<NormUnits>(0, grant.amount - grant_used_[g]);
  }
  for (auto& [name, limits] : org_policy_.projects) {
    auto r = reserved_.find(name);
    if (r != reserved_.end()) limits.grant_left = std::max<NormUnits>(0, *limits.grant_left - r->second);
  }
}

// Charges `units` to the project's grants active now, the one ending first
// first; what none has left goes to the first of them (an overdraft).
void Engine::ChargeGrants(const std::string& project, NormUnits units) {
  const Seconds t = now_ + org_->grant_time_offset;
  std::vector<size_t> active;
  for (size_t g = 0; g < org_->grants.size(); ++g)
    if (org_->grants[g].project == project && org_->grants[g].Active(t)) active.push_back(g);
  if (active.empty()) return;
  std::sort(active.begin(), active.end(),
            [&](size_t a, size_t b) { return org_->grants[a].end < org_->grants[b].end; });
  for (size_t g : active) {
    const NormUnits take = std::min(units, std::max<NormUnits>(0, org_->grants[g].amount - grant_used_[g]));
    grant_used_[g] += take;
    units -= take;
  }
  grant_used_[active[0]] += units;
}

Engine::BucketGrid Engine::Grid() const {
  BucketGrid g;
  g.horizon = std::max<Seconds>(1, now_);
  const int n = config_.series_points;
  g.width = std::max<Seconds>(1, (g.horizon + n - 1) / n);
  g.count = static_cast<int>((g.horizon + g.width - 1) / g.width);
  return g;
}

template <typename Add>
void Engine::ForEachPiece(const BucketGrid& g, Add add) const {
  for (size_t k = 0; k < points_.size(); ++k) {
    Seconds a = points_[k].t;
    const Seconds b = k + 1 < points_.size() ? points_[k + 1].t : g.horizon;
    while (a < b) {
      const int i = static_cast<int>(a / g.width);
      if (i >= g.count) break;
      const Seconds stop = std::min(b, (i + 1) * g.width);
      add(k, i, static_cast<double>(stop - a));
      a = stop;
    }
  }
}

ProgrammeSeries Engine::ProgrammeBuckets() const {
  ProgrammeSeries out;
  if (!org_ || points_.empty() || config_.series_points <= 0) return out;
  out.programmes = programmes_;
  const size_t np = programmes_.size();
  const BucketGrid g = Grid();
  const int buckets = g.count;
  std::vector<std::vector<double>> busy(np, std::vector<double>(buckets, 0));
  ForEachPiece(g, [&](size_t k, int i, double dt) {
    for (size_t p = 0; p < np; ++p) busy[p][i] += static_cast<double>(programme_points_[k][p]) * dt;
  });
  out.share.assign(np, std::vector<double>(buckets, 0));
  for (int i = 0; i < buckets; ++i) {
    out.t.push_back(i * g.width);
    double total = 0;
    for (size_t p = 0; p < np; ++p) total += busy[p][i];
    if (total > 0)
      for (size_t p = 0; p < np; ++p) out.share[p][i] = busy[p][i] / total;
  }
  return out;
}

std::vector<SeriesPoint> Engine::Buckets() const {
  std::vector<SeriesPoint> out;
  if (points_.empty() || config_.series_points <= 0) return out;
  const BucketGrid g = Grid();
  std::vector<double> busy(g.count, 0), pend(g.count, 0);
  ForEachPiece(g, [&](size_t k, int i, double dt) {
    busy[i] += static_cast<double>(points_[k].busy) * dt;
    pend[i] += static_cast<double>(points_[k].pending) * dt;
  });
  for (int i = 0; i < g.count; ++i) {
    const Seconds t0 = i * g.width;
    const double w = static_cast<double>(std::min(g.horizon, t0 + g.width) - t0);
    SeriesPoint p;
    p.t = t0;
    p.gpu_utilization = total_milli_ > 0 ? busy[i] / w / static_cast<double>(total_milli_) : 0;
    p.pending_jobs = pend[i] / w;
    out.push_back(p);
  }
  return out;
}

Result<SimResult> Engine::Run(const ProgressFn& progress) {
  const auto wall0 = std::chrono::steady_clock::now();
  if (snap_.specs.empty()) return InvalidArgument("the cluster has no nodes");
  const int n = static_cast<int>(jobs_.size());
  state_.resize(n);
  records_.resize(n);
  index_.reserve(n);
  for (int j = 0; j < n; ++j) {
    const Job& job = jobs_[j];
    if (!index_.emplace(job.id, j).second)
      return InvalidArgument(fmt::format("job id {} appears twice", job.id));
    if (j > 0 && job.submit_time < jobs_[j - 1].submit_time)
      return InvalidArgument(fmt::format("job {} is out of submit order", job.id));
    if (!job.true_duration || *job.true_duration < 1)
      return InvalidArgument(fmt::format("job {} has no true duration (>= 1 s)", job.id));
    JobState& s = state_[j];
    s.effective = *job.true_duration;
    if (job.time_limit && *job.time_limit < s.effective) {
      s.effective = std::max<Seconds>(1, *job.time_limit);
      s.killed_at_limit = true;
    }
    JobRecord& r = records_[j];
    r.id = job.id;
    r.project = job.project;
    r.gpus = job.demand.gpus;
    r.gpu_milli = job.demand.gpu_milli;
    r.submit = job.submit_time;
  }
  now_ = n > 0 ? jobs_[0].submit_time : 0;
  const Seconds origin = now_;

  int next = 0;
  int last_progress = 0;
  bool final_tried = false;
  while (true) {
    while (!events_.empty() && events_.top().gen != state_[events_.top().job].gen) events_.pop();
    Seconds t = kForever;
    if (next < n) t = jobs_[next].submit_time;
    if (!events_.empty()) t = std::min(t, events_.top().t);
    bool tick = false;
    if (config_.round_s > 0 && !snap_.pending.empty() && t != kForever) {
      const Seconds tick_t = (now_ / config_.round_s + 1) * config_.round_s;
      if (tick_t <= t) { t = tick_t; tick = true; }
    }
    if (t == kForever) {
      // Nothing left to happen. Give waiting jobs one last pass on the
      // quiet cluster; if it places nothing, they stay unfinished.
      if (snap_.pending.empty() || final_tried) break;
      final_tried = true;
      bool placed = false;
      if (auto st = DecideNow(&placed); !st.ok()) return st.error();
      RecordPoint();
      if (!placed) break;
      continue;
    }
    final_tried = false;
    Advance(t);
    while (!events_.empty() && events_.top().t == now_) {
      Event e = events_.top();
      events_.pop();
      if (e.gen == state_[e.job].gen && state_[e.job].running_pos >= 0) Finish(e.job);
    }
    while (next < n && jobs_[next].submit_time == now_) Arrive(next++);
    if ((dirty_ || tick) && MayPlaceSomething()) {
      // Preempted jobs leave at once here, so the jobs they made room for
      // start in a second pass at the same time (bounded, in case a
      // policy keeps preempting).
      for (int pass = 0; pass < kMaxPassesPerTime; ++pass) {
        bool preempted = false;
        if (auto st = DecideNow(nullptr, &preempted); !st.ok()) return st.error();
        if (!preempted) break;
      }
    }
    RecordPoint();
    if (progress && next - last_progress >= 1024) {
      last_progress = next;
      progress(static_cast<double>(next) / n);
    }
  }

  Seconds last = origin;
  for (int j = 0; j < n; ++j) {
    JobRecord& r = records_[j];
    if (r.end) last = std::max(last, *r.end);
    last = std::max(last, r.submit);
  }
  // Account busy time up to the end of the run (nothing runs after `last`
  // unless jobs are left unfinished, whose time counts up to `now_`).
  SimResult out;
  out.metrics = Summarize(records_, busy_milli_s_ / kWholeGpu, total_gpus_, std::max(last, now_) - origin);
  out.metrics.preemptions = preemptions_;
  out.metrics.decide_calls = decide_calls_;
  out.series = Buckets();
  out.programme_series = ProgrammeBuckets();
  out.jobs = std::move(records_);
  out.runs = std::move(runs_);
  if (progress) progress(1.0);
  out.metrics.sim_wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return out;
}

double Percentile(std::vector<Seconds>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  rank = std::clamp<size_t>(rank, 1, v.size());
  return static_cast<double>(v[rank - 1]);
}

double Mean(const std::vector<Seconds>& v) {
  if (v.empty()) return 0;
  long double s = 0;
  for (Seconds x : v) s += x;
  return static_cast<double>(s / static_cast<long double>(v.size()));
}

}  // namespace

std::string_view ToString(JobOutcome o) {
  switch (o) {
    case JobOutcome::kCompleted: return "completed";
    case JobOutcome::kKilled: return "killed";
    case JobOutcome::kRejected: return "rejected";
    case JobOutcome::kUnfinished: return "unfinished";
  }
  return "unknown";
}

SimMetrics Summarize(const std::vector<JobRecord>& jobs, double busy_gpu_s, int total_gpus,
                     Seconds makespan) {
  SimMetrics m;
  m.jobs = static_cast<std::int64_t>(jobs.size());
  m.total_gpus = total_gpus;
  std::vector<Seconds> jct, wait;
  jct.reserve(jobs.size());
  wait.reserve(jobs.size());
  for (const JobRecord& r : jobs) {
    switch (r.outcome) {
      case JobOutcome::kCompleted: ++m.completed; break;
      case JobOutcome::kKilled: ++m.killed; break;
      case JobOutcome::kRejected: ++m.rejected; break;
      case JobOutcome::kUnfinished: ++m.unfinished; break;
    }
    if (auto x = r.Jct()) jct.push_back(*x);
    if (auto x = r.WaitTime()) wait.push_back(*x);
  }
  m.avg_jct_s = Mean(jct);
  m.p50_jct_s = Percentile(jct, 50);
  m.p99_jct_s = Percentile(jct, 99);
  m.avg_wait_s = Mean(wait);
  m.p50_wait_s = Percentile(wait, 50);
  m.p99_wait_s = Percentile(wait, 99);
  m.makespan_s = makespan;
  m.gpu_utilization = total_gpus > 0 && makespan > 0
                          ? busy_gpu_s / (static_cast<double>(total_gpus) * static_cast<double>(makespan))
                          : 0;
  return m;
}

Result<SimResult> Simulate(const std::vector<NodeSpec>& nodes, const std::vector<Job>& jobs,
                           Scheduler& scheduler, const SimConfig& config, const ProgressFn& progress) {
  Engine engine(nodes, jobs, scheduler, config);
  return engine.Run(progress);
}

}  // namespace kojo
