#include "sim/simulator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <queue>
#include <unordered_map>

#include <fmt/format.h>


namespace kojo {

namespace {

constexpr int kMaxPassesPerTime = 4;

struct Event {
  Seconds t = 0;
  int job = 0;
  std::uint32_t gen = 0;
  bool operator>(const Event& o) const { return t != o.t ? t > o.t : job > o.job; }
};

// What the simulator knows about one job beyond the cluster state: its
// work, which only a replay knows (kojod learns a job's end from its agent).
struct JobState {
  bool running = false;
  Seconds effective = 0;      // work to do: min(true duration, time limit)
  Seconds work_done = 0;      // useful work of finished runs
  Seconds run_penalty = 0;    // restart time paid at the start of this run
  std::uint32_t gen = 0;      // bumped on preemption: stale completions
  bool restarted = false;
  bool killed_at_limit = false;
};

class Engine {
 public:
  Engine(const std::vector<NodeSpec>& nodes, const std::vector<Job>& jobs, Scheduler& scheduler,
         const SimConfig& config)
      : jobs_(jobs), scheduler_(scheduler), config_(config), state_(scheduler, config.usage_half_life_s),
        rng_(config.seed) {
    state_.SetPartitions(config.partitions);
    for (const auto& n : nodes) {
      state_.AddNode(n);
      total_milli_ += static_cast<std::int64_t>(n.gpus) * kWholeGpu;
      total_gpus_ += n.gpus;
    }
    if (config.org) InitOrg(*config.org);
    if (config.rent && !config.rent->Empty()) state_.SetRent(*config.rent);
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
  // One pass of the cluster state; `force`: even when nothing could start.
  // `rent`: an explaining pass followed by ClusterState::PlanRent.
  Status DecideNow(bool force, bool* placed, bool* preempted = nullptr, bool rent = false);
  void Rent(const std::vector<Wait>& waiting);
  bool Renting() const { return config_.rent != nullptr && !config_.rent->Empty(); }
  // A rented node is in use (starting or up): rent steps must go on.
  bool RentActive() const;
  void Started(const kojo::Started& s);
  void Preempted(JobId id, const Settled& settled);
  // The end of job j's run, from the cluster state's settlement.
  void Ended(int j, const Settled& s);

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

  // Organisations (config_.org set): programmes for the time series.
  void InitOrg(const SimOrg& org);
  const SimOrg* org_ = nullptr;
  std::vector<std::string> programmes_;           // sorted
  std::vector<int> programme_of_;                 // by job index
  std::vector<std::int64_t> busy_by_programme_;   // milli-GPUs now
  std::vector<std::vector<std::int64_t>> programme_points_;  // aligned with points_

  std::vector<Job> jobs_;  // a copy: admission to partitions may set a time limit
  Scheduler& scheduler_;
  const SimConfig& config_;
  ClusterState state_;
  Rng rng_;
  std::vector<JobState> state_of_;
  std::vector<JobRecord> records_;
  std::vector<RunRecord> runs_;
  std::unordered_map<JobId, int> index_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  // Rented nodes coming up: (time, node).
  std::priority_queue<std::pair<Seconds, NodeIndex>, std::vector<std::pair<Seconds, NodeIndex>>, std::greater<>>
      rent_up_;
  std::int64_t rented_nodes_ = 0;

  std::int64_t total_milli_ = 0;
  int total_gpus_ = 0;
  double busy_milli_s_ = 0;  // integral of busy milli-GPUs over time
  Seconds now_ = 0;
  bool dirty_ = false;       // something arrived or ended since the last pass
  std::int64_t preemptions_ = 0;
  std::int64_t decide_calls_ = 0;
  // Change points of (busy milli, pending count) for the time series.
  struct Point { Seconds t; std::int64_t busy; std::int64_t pending; };
  std::vector<Point> points_;
};

void Engine::Advance(Seconds t) {
  busy_milli_s_ += static_cast<double>(state_.busy_milli()) * static_cast<double>(t - now_);
  now_ = t;
}

void Engine::Arrive(int j) {
  Job& job = jobs_[j];
  if (!state_.partitions().empty()) {
    auto admitted = state_.Admit(job);
    if (!admitted.ok()) {
      records_[j].outcome = JobOutcome::kRejected;
      records_[j].reason = admitted.error().message;
      return;
    }
    job.demand.nodes.partitions = admitted->partitions;
    job.time_limit = admitted->time_limit;
    // A time limit from the partition bounds the run as the user's would.
    JobState& s = state_of_[j];
    if (job.time_limit && *job.time_limit < s.effective) {
      s.effective = std::max<Seconds>(1, *job.time_limit);
      s.killed_at_limit = true;
    }
  }
  if (Renting()) job.demand.nodes.account = state_.RentAccountOf(job.project);
  scheduler_.Observe(job);
  if (auto why = state_.Infeasible(job)) {
    records_[j].outcome = JobOutcome::kRejected;
    records_[j].reason = *why;
    return;
  }
  QueuedJob q;
  q.job = &job;
  q.queued_since = now_;
  state_.Enqueue(job.id, q);
  dirty_ = true;
}

void Engine::Ended(int j, const Settled& s) {
  state_of_[j].running = false;
  if (org_) busy_by_programme_[programme_of_[j]] -= Milli(j);
  if (config_.record_runs) runs_.push_back(RunRecord{jobs_[j].id, s.started, now_, s.allocation});
}

void Engine::Finish(int j) {
  Ended(j, state_.Finish(jobs_[j].id, now_, /*requeue=*/false));
  JobState& s = state_of_[j];
  s.work_done = s.effective;
  records_[j].end = now_;
  records_[j].outcome = s.killed_at_limit ? JobOutcome::kKilled : JobOutcome::kCompleted;
  dirty_ = true;
}

void Engine::Started(const kojo::Started& st) {
  const int j = IndexOf(st.job);
  JobState& s = state_of_[j];
  s.running = true;
  s.run_penalty = s.restarted ? config_.restart_penalty_s : 0;
  const Seconds end = now_ + s.run_penalty + (s.effective - s.work_done);
  events_.push(Event{end, j, s.gen});
  if (!records_[j].start) records_[j].start = now_;
  if (org_) busy_by_programme_[programme_of_[j]] += Milli(j);
}

// Preempted jobs leave at once here (kojod waits for their agents): the run
// ends now and the job is queued again, keeping its useful work.
void Engine::Preempted(JobId id, const Settled& settled) {
  const int j = IndexOf(id);
  Ended(j, settled);
  JobState& s = state_of_[j];
  s.work_done = std::min(s.effective, s.work_done + std::max<Seconds>(0, settled.ran - s.run_penalty));
  s.restarted = true;
  ++s.gen;
  ++records_[j].preemptions;
  ++preemptions_;
}

Status Engine::DecideNow(bool force, bool* placed, bool* preempted, bool rent) {
  PassOptions options;
  options.force = force || rent;
  options.explain = rent;
  options.check = config_.check_invariants;
  options.preempt_at_once = true;
  Changes c = state_.Pass(now_, rng_, options);
  if (rent) Rent(c.waiting);
  if (!c.decided) return Ok{};
  ++decide_calls_;
  dirty_ = false;
  if (c.violation) return Error{ErrorCode::kUnsupported, *c.violation};
  for (size_t i = 0; i < c.preempted.size(); ++i) Preempted(c.preempted[i].job, c.preempted_runs[i]);
  for (const kojo::Started& s : c.started) Started(s);
  for (const Reject& r : c.rejected) {
    const int j = IndexOf(r.job);
    records_[j].outcome = JobOutcome::kRejected;
    records_[j].reason = r.reason;
  }
  if (placed) *placed = !c.started.empty();
  if (preempted) *preempted = !c.preempted.empty();
  return Ok{};
}

bool Engine::RentActive() const {
  for (const RentedNode& r : state_.rented())
    if (r.phase == RentPhase::kStarting || r.phase == RentPhase::kUp) return true;
  return false;
}

// A rent step: nodes come up after their provider's start-up, are given
// back at once, and the jobs of a node whose paid time is over are requeued.
void Engine::Rent(const std::vector<Wait>& waiting) {
  RentChanges rc = state_.PlanRent(now_, waiting);
  for (JobId id : rc.evict) {
    if (!state_.Running(id)) continue;
    Preempted(id, state_.Finish(id, now_, /*requeue=*/true));
    dirty_ = true;
  }
  for (NodeIndex n : rc.stop) state_.RentStopped(n, now_);
  for (NodeIndex n : rc.start) {
    const RentedNode* r = state_.RentedAt(n);
    rent_up_.push({now_ + config_.rent->providers[r->provider].startup_s, n});
    ++rented_nodes_;
  }
}

void Engine::RecordPoint() {
  const std::int64_t pending = static_cast<std::int64_t>(state_.waiting_count());
  const std::int64_t busy = state_.busy_milli();
  if (!points_.empty() && points_.back().busy == busy && points_.back().pending == pending &&
      (!org_ || programme_points_.back() == busy_by_programme_))
    return;
  if (!points_.empty() && points_.back().t == now_) {
    points_.back().busy = busy;
    points_.back().pending = pending;
    if (org_) programme_points_.back() = busy_by_programme_;
    return;
  }
  points_.push_back(Point{now_, busy, pending});
  if (org_) programme_points_.push_back(busy_by_programme_);
}

void Engine::InitOrg(const SimOrg& org) {
  org_ = &org;
  state_.SetOrg(org);
  const OrgPolicy& policy = org.policy;
  std::vector<std::string> names = {""};
  for (const auto& [name, limits] : policy.projects) names.push_back(limits.programme);
  for (const auto& [name, share] : policy.programme_shares) names.push_back(name);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  programmes_ = std::move(names);
  busy_by_programme_.assign(programmes_.size(), 0);
  programme_of_.resize(jobs_.size(), 0);
  for (size_t j = 0; j < jobs_.size(); ++j) {
    auto p = policy.projects.find(jobs_[j].project);
    const std::string& prog = p == policy.projects.end() ? programmes_[0] : p->second.programme;
    programme_of_[j] = static_cast<int>(std::lower_bound(programmes_.begin(), programmes_.end(), prog) -
                                        programmes_.begin());
  }
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
  if (state_.node_count() == 0) return InvalidArgument("the cluster has no nodes");
  if (!config_.reservations.empty())
    if (auto st = state_.SetReservations(config_.reservations); !st.ok()) return st.error();
  const int n = static_cast<int>(jobs_.size());
  state_of_.resize(n);
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
    JobState& s = state_of_[j];
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
    while (!events_.empty() && events_.top().gen != state_of_[events_.top().job].gen) events_.pop();
    Seconds t = kForever;
    if (next < n) t = jobs_[next].submit_time;
    if (!events_.empty()) t = std::min(t, events_.top().t);
    bool tick = false;
    if (config_.round_s > 0 && state_.waiting_count() > 0 && t != kForever) {
      const Seconds tick_t = (now_ / config_.round_s + 1) * config_.round_s;
      if (tick_t <= t) { t = tick_t; tick = true; }
    }
    if (!rent_up_.empty()) t = std::min(t, rent_up_.top().first);
    // A reservation's window opening or closing can start waiting jobs.
    if (state_.waiting_count() > 0 && t != kForever)
      for (const Reservation& r : config_.reservations)
        if (auto w = r.WindowAt(now_)) {
          const Seconds edge = w->start > now_ ? w->start : w->end;
          if (edge < t) { t = edge; tick = true; }
        }
    bool rent_tick = false;
    // Rent steps while jobs wait and something else is to happen, or while
    // rented nodes are in use (they must be given back).
    const bool rent_active = Renting() && RentActive();
    if (Renting() && config_.rent_interval_s > 0 && (state_.waiting_count() > 0 || rent_active) &&
        (t != kForever || rent_active)) {
      const Seconds tick_t = (now_ / config_.rent_interval_s + 1) * config_.rent_interval_s;
      if (tick_t <= t) { t = tick_t; rent_tick = true; }
    }
    if (t == kForever) {
      // Nothing left to happen. Give waiting jobs one last pass on the
      // quiet cluster; if it places nothing, they stay unfinished.
      if (state_.waiting_count() == 0 || final_tried) break;
      final_tried = true;
      bool placed = false;
      if (auto st = DecideNow(/*force=*/true, &placed, nullptr, /*rent=*/Renting()); !st.ok()) return st.error();
      RecordPoint();
      if (!placed && rent_up_.empty()) break;
      continue;
    }
    final_tried = false;
    Advance(t);
    while (!events_.empty() && events_.top().t == now_) {
      Event e = events_.top();
      events_.pop();
      if (e.gen == state_of_[e.job].gen && state_of_[e.job].running) Finish(e.job);
    }
    while (next < n && jobs_[next].submit_time == now_) Arrive(next++);
    while (!rent_up_.empty() && rent_up_.top().first == now_) {
      state_.RentUp(rent_up_.top().second, now_);
      rent_up_.pop();
      dirty_ = true;
    }
    if (rent_tick) {
      if (state_.MayRent(now_)) {
        if (auto st = DecideNow(/*force=*/true, nullptr, nullptr, /*rent=*/true); !st.ok()) return st.error();
      } else {
        Rent({});  // paid time and idle nodes only
      }
    }
    if (dirty_ || tick) {
      // Preempted jobs leave at once here, so the jobs they made room for
      // start in a second pass at the same time (bounded, in case a
      // policy keeps preempting).
      for (int pass = 0; pass < kMaxPassesPerTime; ++pass) {
        bool preempted = false;
        if (auto st = DecideNow(/*force=*/pass > 0, nullptr, &preempted); !st.ok()) return st.error();
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
  if (Renting()) {
    const Seconds end = std::max(last, now_);
    Money spent = 0;
    Seconds gpu_s = 0;
    for (size_t p = 0; p < config_.rent->providers.size(); ++p) {
      spent += state_.ProviderSpent(static_cast<int>(p), end);
      gpu_s += state_.ProviderGpuSeconds(static_cast<int>(p), end);
    }
    out.metrics.renting = true;
    out.metrics.rent_cost = static_cast<double>(spent) / static_cast<double>(kMoneyUnit);
    out.metrics.rented_gpu_hours = static_cast<double>(gpu_s) / 3600.0;
    out.metrics.rented_nodes = rented_nodes_;
    // Utilisation over the GPUs there were: owned all along, rented while rented.
    const double owned_gpu_s = static_cast<double>(total_gpus_) * static_cast<double>(out.metrics.makespan_s);
    if (owned_gpu_s + static_cast<double>(gpu_s) > 0)
      out.metrics.gpu_utilization = busy_milli_s_ / kWholeGpu / (owned_gpu_s + static_cast<double>(gpu_s));
  }
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
