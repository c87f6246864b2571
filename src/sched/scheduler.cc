#include "sched/scheduler.h"

#include <algorithm>
#include <deque>
#include <tuple>
#include <unordered_map>

#include <fmt/format.h>

#include "sched/org_pass.h"
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

std::string_view ToString(WaitReason r) {
  switch (r) {
    case WaitReason::kPriority: return "Priority";
    case WaitReason::kResources: return "Resources";
    case WaitReason::kPreempting: return "Preempting";
    case WaitReason::kQuota: return "Quota";
    case WaitReason::kGrant: return "GrantExhausted";
  }
  return "Unknown";
}

namespace {

// A plan of free resources during one pass: the node states, their free GPU
// totals, and the nodes with some GPU free (the only ones a GPU job needs to
// look at), kept in step so that most jobs that cannot fit are turned away
// without scanning the cluster.
class Plan {
 public:
  explicit Plan(std::vector<NodeState>& nodes) : nodes_(nodes), listed_(nodes.size(), false) {
    for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
      Count(nodes_[i], +1);
      List(i);
    }
  }
  std::vector<NodeState>& nodes() { return nodes_; }
  const std::vector<int>* candidates() {
    if (with_free_gpu_.size() > 2 * static_cast<size_t>(nodes_with_free_) + 16) {  // drop full nodes
      std::erase_if(with_free_gpu_, [&](int i) {
        listed_[i] = nodes_[i].GpuMilliFree() > 0;
        return !listed_[i];
      });
    }
    return &with_free_gpu_;
  }
  // A necessary condition for `d` to fit; false means it surely does not.
  bool MayFit(const Demand& d) const {
    if (d.gpus == 0) return true;
    if (d.gpu_milli < kWholeGpu) return free_milli_ >= d.gpu_milli;
    return free_whole_ >= d.gpus;
  }
  bool AnyGpuFree() const { return free_milli_ > 0; }
  std::int64_t FreeMilli() const { return free_milli_; }
  void Take(const Allocation& a) { Update(a, [&] { Apply(nodes_, a); }); }
  void Give(const Allocation& a) { Update(a, [&] { Release(nodes_, a); }); }

 private:
  void Count(const NodeState& n, int sign) {
    if (!n.schedulable) return;
    const MilliGpu milli = n.GpuMilliFree();
    free_whole_ += sign * n.WholeGpusFree();
    free_milli_ += sign * static_cast<std::int64_t>(milli);
    nodes_with_free_ += sign * (milli > 0);
  }
  void List(int i) {
    if (listed_[i] || !nodes_[i].schedulable || nodes_[i].GpuMilliFree() == 0) return;
    listed_[i] = true;
    with_free_gpu_.push_back(i);
  }
  template <typename F>
  void Update(const Allocation& a, F change) {
    for (const auto& s : a.shares) Count(nodes_[s.node], -1);
    change();
    for (const auto& s : a.shares) {
      Count(nodes_[s.node], +1);
      List(s.node);
    }
  }
  std::vector<NodeState>& nodes_;
  std::vector<bool> listed_;
  std::vector<int> with_free_gpu_;  // may also hold nodes that filled up since
  std::int64_t free_whole_ = 0;
  std::int64_t free_milli_ = 0;
  int nodes_with_free_ = 0;
};

struct Item {
  PriorityKey key;
  JobId id;
  int index;  // into snapshot.pending or snapshot.running
  // With an organisation: starting it would take its project above its
  // guarantee. Such jobs go after every job that stays within one (as in
  // Kueue), so that GPUs freed for a guarantee are not borrowed again.
  bool borrows = false;
};
// Heap order: the best item (not borrowing, smallest key, then id) on top.
bool Worse(const Item& a, const Item& b) {
  return std::tie(a.borrows, a.key, a.id) > std::tie(b.borrows, b.key, b.id);
}

bool Uses(const Allocation& a, int node, int gpu) {
  for (const auto& s : a.shares)
    if (s.node == node && std::find(s.gpu_indices.begin(), s.gpu_indices.end(), gpu) != s.gpu_indices.end())
      return true;
  return false;
}

// True if `a` can be taken again on `nodes` (its resources are still free).
bool StillFree(const std::vector<NodeState>& nodes, const Allocation& a) {
  for (const auto& s : a.shares) {
    const NodeState& n = nodes[s.node];
    if (n.cpu_free < s.cpu_milli || n.mem_free < s.mem_mib) return false;
    for (int g : s.gpu_indices)
      if (n.gpu_free[g] < s.gpu_milli) return false;
  }
  return true;
}


// A sweep through the future of one pass: running jobs release their
// resources at their time limits, earliest first, and jobs fitted on the
// way hold theirs until their own limits. Fit() never goes back in time, so
// jobs fitted one after the other get starts in queue order (a list
// schedule by time limits: an upper bound on when each can start, unless a
// better job arrives).
class Future {
 public:
  using End = std::pair<Seconds, const Allocation*>;
  Future(const ClusterSnapshot& snap, const std::vector<NodeState>& base, std::vector<End> ends, Seconds now)
      : snap_(snap), trial_(base), plan_(trial_), ends_(std::move(ends)), t_(now) {
    std::make_heap(ends_.begin(), ends_.end(), Later);
  }
  // The earliest time (>= the sweep's time) at which `job` fits, and where;
  // {kForever, nullopt} if it never does. `try_now`: look at the current
  // state before releasing anything.
  template <typename PlaceFn>
  std::pair<Seconds, std::optional<Allocation>> Fit(const Job& job, bool try_now, PlaceFn try_place) {
    if (try_now && plan_.MayFit(job.demand))
      if (auto a = try_place(plan_, job)) return {t_, std::move(a)};
    // A one-node job can only start on a node that a release changed, so
    // look there first and scan the cluster once one of them fits.
    const bool one_node = job.demand.tasks == 1 && job.demand.gpus <= kMaxGpusPerNode;
    const TaskShape task{job.demand.gpus, job.demand.gpu_milli, job.demand.cpu_milli,
                         job.demand.mem_mib, &job.demand.gpu_models};
    std::vector<const Allocation*> group;
    while (!ends_.empty()) {
      // Release every job that ends at the same time before looking, so
      // that the answer does not depend on the order among them.
      const Seconds end = ends_.front().first;
      group.clear();
      while (!ends_.empty() && ends_.front().first == end) {
        std::pop_heap(ends_.begin(), ends_.end(), Later);
        group.push_back(ends_.back().second);
        ends_.pop_back();
        plan_.Give(*group.back());
      }
      t_ = std::max(t_, end);
      if (!plan_.MayFit(job.demand)) continue;
      if (one_node && std::none_of(group.begin(), group.end(), [&](const Allocation* a) {
            return std::any_of(a->shares.begin(), a->shares.end(), [&](const NodeShare& s) {
              return Fits(snap_.specs[s.node], trial_[s.node], task);
            });
          }))
        continue;
      if (auto a = try_place(plan_, job)) return {t_, std::move(a)};
    }
    return {kForever, std::nullopt};
  }
  // A fitted job holds `a` from the sweep's time until `end`.
  void Hold(Allocation a, Seconds end) {
    plan_.Take(a);
    held_.push_back(std::move(a));
    if (end < kForever) {
      ends_.emplace_back(end, &held_.back());
      std::push_heap(ends_.begin(), ends_.end(), Later);
    }
  }

 private:
  static bool Later(const End& a, const End& b) { return a.first > b.first; }
  const ClusterSnapshot& snap_;
  std::vector<NodeState> trial_;
  Plan plan_;
  std::vector<End> ends_;
  std::deque<Allocation> held_;  // stable addresses for ends_
  Seconds t_;
};

// What a job that does not fit lacks now, in words.
std::string Missing(const ClusterSnapshot& snap, const std::vector<NodeState>& nodes, const Job& job) {
  const Demand& d = job.demand;
  if (d.gpus == 0)
    return fmt::format("needs {} milli-CPU and {} MiB on one node; no node has them free", d.cpu_milli, d.mem_mib);
  const std::string kind = d.gpu_models.empty() ? "GPUs" : fmt::format("{} GPUs", fmt::join(d.gpu_models, "|"));
  int largest = 0, total = 0;
  MilliGpu most_milli = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const NodeState& n = nodes[i];
    if (!n.schedulable || !d.AllowsModel(snap.specs[i].gpu_model)) continue;
    const int whole = n.WholeGpusFree();
    largest = std::max(largest, whole);
    total += whole;
    for (int g = 0; g < n.gpus; ++g) most_milli = std::max(most_milli, n.gpu_free[g]);
  }
  if (d.Fractional()) {
    if (most_milli >= d.gpu_milli)
      return fmt::format("needs {} milli of one of the {} with {} milli-CPU and {} MiB; no node with such a GPU free has them",
                         d.gpu_milli, kind, d.cpu_milli, d.mem_mib);
    return fmt::format("needs {} milli of one of the {}; the most free on one GPU is {}", d.gpu_milli, kind, most_milli);
  }
  if (d.tasks > 1) {
    const int per = d.gpus / d.tasks;
    if (total == 0) return fmt::format("needs {} tasks of {} {} each on one node; none is free", d.tasks, per, kind);
    return fmt::format("needs {} tasks of {} {} each on one node; {} are free, at most {} on one node", d.tasks, per,
                       kind, total, largest);
  }
  if (total >= d.gpus)
    return fmt::format("needs {} {} with {} milli-CPU and {} MiB; enough GPUs are free, but not with that CPU and memory",
                       d.gpus, kind, d.cpu_milli, d.mem_mib);
  if (total == 0) return fmt::format("needs {} {}; none is free", d.gpus, kind);
  return fmt::format("needs {} {}; {} are free, at most {} on one node", d.gpus, kind, total, largest);
}

Wait MakeWait(JobId job, WaitReason reason, std::string message, std::optional<Seconds> estimate) {
  Wait w;
  w.job = job;
  w.reason = reason;
  w.message = std::move(message);
  w.estimated_start = estimate;
  return w;
}

// GPU-hours of a job by its time limit (0 without one).
double GpuHoursByLimit(const Job& job) {
  if (!job.time_limit) return 0;
  return static_cast<double>(job.demand.TotalGpuMilli()) / kWholeGpu * static_cast<double>(*job.time_limit) / 3600.0;
}

void SetConfidence(Wait& w, int no_limit_ahead) {
  if (!w.estimated_start) {
    w.confidence = EstimateConfidence::kNone;
    if (w.confidence_text.empty()) w.confidence_text = "no estimate: what it waits for has no time limit";
  } else if (no_limit_ahead > 0) {
    w.confidence = EstimateConfidence::kPartial;
    w.confidence_text = "partial: some jobs ahead of it have no time limit";
  } else {
    w.confidence = EstimateConfidence::kUpperBound;
    w.confidence_text = "upper bound from the time limits of the jobs it waits for";
  }
}

}  // namespace

Scheduler::Scheduler(std::unique_ptr<Policy> policy, std::unique_ptr<Placer> placer,
                     SchedulerConfig config)
    : policy_(std::move(policy)), placer_(std::move(placer)), config_(config) {}

std::optional<Allocation> Scheduler::PlaceJob(const ClusterSnapshot& snapshot,
                                              const std::vector<NodeState>& nodes,
                                              const Job& job, Rng& rng) const {
  return PlaceJobOn(snapshot.specs, snapshot.tie_rank, nodes, job, *placer_, rng);
}

std::optional<std::string> Scheduler::Infeasible(const ClusterSnapshot& snapshot,
                                                 const Job& job) const {
  if (auto bad = ValidateDemand(job.demand)) return *bad;
  std::vector<NodeState> empty;
  empty.reserve(snapshot.specs.size());
  int largest = 0, total = 0;
  for (const auto& spec : snapshot.specs) {
    empty.push_back(NodeState::Empty(spec));
    if (job.demand.gpus > 0 && !job.demand.AllowsModel(spec.gpu_model)) continue;
    largest = std::max(largest, spec.gpus);
    total += spec.gpus;
  }
  Rng rng(0);  // placement on an empty cluster: any answer will do
  if (PlaceJob(snapshot, empty, job, rng)) return std::nullopt;
  const Demand& d = job.demand;
  std::string models = d.gpu_models.empty() ? "" : fmt::format(" of model {}", fmt::join(d.gpu_models, "|"));
  if (d.gpus > 0 && total == 0) return fmt::format("no node has GPUs{}", models);
  if (d.gpus > total)
    return fmt::format("needs {} GPUs{}; the cluster has {}", d.gpus, models, total);
  if (d.tasks > 1 && d.gpus / d.tasks > largest)
    return fmt::format("each of its {} tasks needs {} GPUs{} on one node; the largest node has {}",
                       d.tasks, d.gpus / d.tasks, models, largest);
  return fmt::format("no node can hold its share of {} GPUs{}, {} milli-CPU and {} MiB",
                     d.gpus, models, d.cpu_milli, d.mem_mib);
}

Decisions Scheduler::Decide(const ClusterSnapshot& snap, Seconds now, Rng& rng) {
  Decisions out;
  policy_->Prepare(snap, now);
  scratch_ = snap.nodes;
  Plan plan(scratch_);
  const bool explain = config_.explain_waits;
  std::optional<OrgPass> org;
  if (snap.org) org.emplace(snap);

  std::vector<Item> heap;
  heap.reserve(snap.pending.size());
  const bool guarantees = org && org->AnyGuarantee();
  for (int i = 0; i < static_cast<int>(snap.pending.size()); ++i) {
    const Job& job = *snap.pending[i].job;
    const bool borrows = guarantees && job.demand.gpus > 0 &&
                         org->InUse(job.tenant) + job.demand.TotalGpuMilli() > org->Guaranteed(job.tenant);
    heap.push_back({policy_->Key(snap.pending[i], now), job.id, i, borrows});
  }
  std::make_heap(heap.begin(), heap.end(), Worse);
  auto pop = [&] {
    std::pop_heap(heap.begin(), heap.end(), Worse);
    Item it = heap.back();
    heap.pop_back();
    return it;
  };

  std::vector<bool> preempted(snap.running.size(), false);

  // Jobs started in this pass, for the reservation's view of the future.
  // (Their allocations are out.placed[i].allocation, i in order.)
  std::vector<Seconds> started_ends;
  auto place = [&](const JobEntry& e, Allocation a, bool backfilled) {
    plan.Take(a);
    if (org) org->Start(*e.job, a);
    out.placed.push_back(Place{e.job->id, std::move(a), backfilled});
    started_ends.push_back(e.job->time_limit ? now + *e.job->time_limit : kForever);
  };
  auto try_place = [&](Plan& p, const Job& job) -> std::optional<Allocation> {
    return PlaceJobOn(snap.specs, snap.tie_rank, p.nodes(), job, *placer_, rng, p.candidates());
  };
  // The grant gate: false (and a GrantExhausted wait) if `a` costs more
  // than the job's project has left.
  auto grant_ok = [&](const Job& job, const Allocation& a) {
    if (!org) return true;
    auto w = org->GrantWait(job, a);
    if (!w) return true;
    if (explain) {
      w->confidence_text = "no estimate: it waits for its project's grants";
      out.waiting.push_back(std::move(*w));
    }
    return false;
  };

  // Frees the GPUs of running jobs taken from `order` (indices into
  // snap.running, from position `from` on; `admit` says of each whether it
  // may go, is skipped, or ends the search) until `job` fits; keeps only
  // the victims whose resources the job really takes, and holds the freed
  // GPUs for the job until they leave. kNo if no set suffices, kGrant if
  // one does but the job's grants cannot pay for it (nothing preempted).
  enum class Freed { kNo, kYes, kGrant };
  Allocation held;  // what the last successful preemption holds for its job
  enum class Cand { kTake, kSkip, kStop };
  auto preempt_among = [&](const Job& job, const std::vector<int>& order, size_t from, auto&& admit,
                           const std::string& why) -> Freed {
    std::vector<int> chosen;  // released on the plan
    std::optional<Allocation> a;
    for (size_t v = from; v < order.size() && !a; ++v) {
      const int r = order[v];
      if (preempted[r]) continue;
      const Cand c = admit(r);
      if (c == Cand::kStop) break;
      if (c == Cand::kSkip) continue;
      plan.Give(snap.running[r].allocation);
      chosen.push_back(r);
      if (plan.MayFit(job.demand)) a = try_place(plan, job);
    }
    auto undo = [&] {
      for (int r : chosen) plan.Take(snap.running[r].allocation);
    };
    if (!a) { undo(); return Freed::kNo; }
    if (!grant_ok(job, *a)) { undo(); return Freed::kGrant; }
    plan.Take(*a);
    std::vector<int> needed;
    for (auto it = chosen.rbegin(); it != chosen.rend(); ++it) {  // the last chosen first
      const Allocation& va = snap.running[*it].allocation;
      if (StillFree(scratch_, va)) plan.Take(va);  // not in the job's way: it stays
      else needed.push_back(*it);
    }
    for (int r : needed) {
      preempted[r] = true;
      if (org) org->Stop(*snap.running[r].job);
      out.preempted.push_back(Preempt{snap.running[r].job->id, why});
    }
    if (org) org->Start(job, *a);
    held = *a;
    Wait w = MakeWait(job.id, WaitReason::kPreempting,
                      fmt::format("waiting for {} preempted job(s) to stop", needed.size()), now);
    w.confidence = EstimateConfidence::kUpperBound;
    w.confidence_text = "starts as soon as the preempted jobs have stopped";
    out.waiting.push_back(std::move(w));
    return Freed::kYes;
  };

  // Preemptive policies: running jobs worst first, the order in which they
  // would be preempted. Sorted only once a job needs them: most passes
  // preempt nothing.
  std::vector<int> victims;
  std::vector<std::int64_t> victim_class;  // key[0] by running index
  size_t first_victim = 0;                 // victims before it are all preempted
  auto policy_preempt = [&](const Item& item, const Job& job) {
    if (victims.empty()) {
      std::vector<Item> v;
      for (int i = 0; i < static_cast<int>(snap.running.size()); ++i)
        v.push_back({policy_->Key(snap.running[i], now), snap.running[i].job->id, i});
      std::sort(v.begin(), v.end(), Worse);
      victim_class.resize(snap.running.size());
      for (const Item& x : v) {
        victims.push_back(x.index);
        victim_class[x.index] = x.key[0];
      }
    }
    while (first_victim < victims.size() && preempted[victims[first_victim]]) ++first_victim;
    return preempt_among(job, victims, first_victim,
                         [&](int r) { return victim_class[r] > item.key[0] ? Cand::kTake : Cand::kStop; },
                         fmt::format("preempted for job {} of a higher priority queue", job.id));
  };

  // Reclaim (organisations): a job within its project's guarantee takes
  // GPUs back from projects above theirs, newest runs first, never taking a
  // borrower below its own guarantee.
  std::vector<int> newest;  // running indices, newest start first
  auto reclaim = [&](const Job& job) {
    if (!org || !org->MayReclaim(job) || snap.running.empty()) return Freed::kNo;
    if (newest.empty()) {
      for (int i = 0; i < static_cast<int>(snap.running.size()); ++i) newest.push_back(i);
      std::sort(newest.begin(), newest.end(), [&](int a, int b) {
        const JobEntry &x = snap.running[a], &y = snap.running[b];
        return std::tie(x.started, x.job->id) > std::tie(y.started, y.job->id);
      });
    }
    std::unordered_map<std::string_view, std::int64_t> taken;  // by project, in this attempt
    return preempt_among(
        job, newest, 0,
        [&](int r) {
          const Job& v = *snap.running[r].job;
          std::int64_t& t = taken[v.tenant];
          if (!org->MayReclaimFrom(v, job, t)) return Cand::kSkip;
          t += v.demand.TotalGpuMilli();
          return Cand::kTake;
        },
        fmt::format("preempted for job {}: project {} reclaims its guaranteed GPUs", job.id, job.tenant));
  };

  // EASY reservation for the first job that does not fit: the earliest end
  // (by time limits) of running jobs after which it fits, and where.
  auto ends_now = [&] {
    std::vector<Future::End> ends;
    for (size_t i = 0; i < started_ends.size(); ++i) ends.emplace_back(started_ends[i], &out.placed[i].allocation);
    for (size_t i = 0; i < snap.running.size(); ++i) {
      if (preempted[i]) continue;
      const JobEntry& e = snap.running[i];
      ends.emplace_back(e.job->time_limit ? std::max(now, e.started + *e.job->time_limit) : kForever, &e.allocation);
    }
    return ends;
  };
  auto reserve = [&](const Job& job) {
    Future future(snap, scratch_, ends_now(), now);
    return future.Fit(job, /*try_now=*/false, try_place);
  };

  int cpu_only_left = 0;  // pending jobs that need no GPU, not yet seen
  for (const auto& e : snap.pending) cpu_only_left += e.job->demand.gpus == 0;

  bool blocked = false;
  Seconds shadow = kForever;
  std::optional<Allocation> reserved;
  std::vector<NodeState> mask;  // scratch without the reserved GPUs
  std::optional<Plan> masked;
  JobId head_id = 0;
  // Jobs left waiting to start, in queue order (explain_waits): their wait
  // in out.waiting and the jobs without a time limit ahead of them.
  struct Queued {
    size_t wait;
    const Job* job;
    int no_limit_ahead;
  };
  std::vector<Queued> queued;
  int ahead = 0, no_limit_ahead = 0;
  double gpu_hours_ahead = 0;
  auto queue_wait = [&](const Job& job, Wait w) {
    w.jobs_ahead = ahead;
    w.gpu_hours_ahead = gpu_hours_ahead;
    queued.push_back(Queued{out.waiting.size(), &job, no_limit_ahead});
    out.waiting.push_back(std::move(w));
  };
  auto note_ahead = [&](const Job& job) {
    ++ahead;
    gpu_hours_ahead += GpuHoursByLimit(job);
    no_limit_ahead += job.demand.gpus > 0 && !job.time_limit;
  };
  while (!heap.empty()) {
    const Item item = pop();
    const JobEntry& e = snap.pending[item.index];
    const Job& job = *e.job;
    cpu_only_left -= job.demand.gpus == 0;
    if (blocked && !explain && (!org || !org->AnyGuarantee()) &&
        (!config_.backfill || (job.demand.gpus > 0 && !plan.AnyGpuFree() && cpu_only_left == 0)))
      break;  // nothing later can start (no reclaim either), and no one asked why
    if (org) {
      if (auto w = org->QuotaWait(job)) {  // blocks no one behind it
        if (explain) {
          w->confidence_text = "no estimate: it waits for its project's other jobs to end";
          out.waiting.push_back(std::move(*w));
        }
        continue;
      }
    }
    if (!blocked) {
      std::optional<Allocation> a;
      if (plan.MayFit(job.demand)) a = try_place(plan, job);
      if (a) {
        if (grant_ok(job, *a)) place(e, std::move(*a), false);
        continue;
      }
      if (policy_->Preemptive() && !snap.running.empty() && policy_preempt(item, job) != Freed::kNo) continue;
      if (reclaim(job) != Freed::kNo) continue;
      if (auto why = Infeasible(snap, job)) {
        out.rejected.push_back(Reject{job.id, *why});
        continue;
      }
      blocked = true;
      head_id = job.id;
      if (config_.backfill || explain) std::tie(shadow, reserved) = reserve(job);
      if (explain)
        queue_wait(job, MakeWait(job.id, WaitReason::kResources, "next in line; " + Missing(snap, scratch_, job),
                             shadow < kForever ? std::optional<Seconds>(shadow) : std::nullopt));
      note_ahead(job);
      if (config_.backfill) {
        mask = scratch_;
        if (reserved)
          for (const auto& s : reserved->shares) {
            NodeState& n = mask[s.node];
            for (int g : s.gpu_indices) n.gpu_free[g] = 0;
            n.cpu_free = std::max<MilliCpu>(0, n.cpu_free - s.cpu_milli);
            n.mem_free = std::max<MiB>(0, n.mem_free - s.mem_mib);
          }
        masked.emplace(mask);
      }
      continue;
    }
    // Keeps the mask in step with a job that starts or is held: it shows
    // what is free now outside the reservation (whose GPUs it counts as
    // taken), at most what the plan has free (GPUs freed by preemption in
    // this pass it may still count as busy: the job takes only what it
    // shows free).
    auto mask_take = [&](const Allocation& a) {
      Allocation outside = a;
      for (auto& sh : outside.shares) {
        const NodeState& n = mask[sh.node];
        std::erase_if(sh.gpu_indices, [&](int g) {
          return (reserved && Uses(*reserved, sh.node, g)) || n.gpu_free[g] < sh.gpu_milli;
        });
        sh.cpu_milli = std::min(sh.cpu_milli, n.cpu_free);
        sh.mem_mib = std::min(sh.mem_mib, n.mem_free);
      }
      masked->Take(outside);
    };
    std::optional<Allocation> a;
    if (config_.backfill && plan.MayFit(job.demand)) {
      const Seconds end = job.time_limit ? now + *job.time_limit : kForever;
      if (end <= shadow) a = try_place(plan, job);
      if (!a && masked->MayFit(job.demand)) a = try_place(*masked, job);
    }
    if (a) {
      if (!grant_ok(job, *a)) continue;
      mask_take(*a);
      place(e, std::move(*a), true);
      continue;
    }
    if (const Freed f = reclaim(job); f != Freed::kNo) {
      if (f == Freed::kYes && masked) mask_take(held);
      continue;
    }
    if (explain) {
      queue_wait(job, MakeWait(job.id, WaitReason::kPriority,
                               no_limit_ahead > 0
                                   ? fmt::format("{} job(s) ahead ({:.1f} GPU-hours by their time limits, {} without "
                                                 "one); job {} is next",
                                                 ahead, gpu_hours_ahead, no_limit_ahead, head_id)
                                   : fmt::format("{} job(s) ahead ({:.1f} GPU-hours by their time limits); job {} is next",
                                                 ahead, gpu_hours_ahead, head_id),
                               std::nullopt));
    }
    note_ahead(job);
  }

  // Estimates for the jobs left waiting, in queue order: the head keeps its
  // reservation; the next kEstimated - 1 are fitted one after the other on
  // the future of what this pass leaves running (see Future).
  if (explain && !queued.empty()) {
    constexpr size_t kEstimated = 32;  // (the text below says so)
    std::optional<Future> future;
    if (queued.size() > 1) future.emplace(snap, scratch_, ends_now(), now);
    for (size_t k = 0; k < queued.size(); ++k) {
      Wait& w = out.waiting[queued[k].wait];
      if (k > 0 && k < kEstimated) {
        const Job& job = *queued[k].job;
        auto [t, a] = future->Fit(job, /*try_now=*/true, try_place);
        if (a) {
          w.estimated_start = t;
          future->Hold(std::move(*a), job.time_limit ? t + *job.time_limit : kForever);
        }
      } else if (k == 0 && future && reserved) {
        const Job& job = *queued[0].job;
        auto [t, a] = future->Fit(job, /*try_now=*/true, try_place);
        if (a) future->Hold(std::move(*a), job.time_limit ? std::max(t, shadow) + *job.time_limit : kForever);
      } else if (k >= kEstimated) {
        w.confidence_text = "no estimate: only the first 32 waiting jobs are planned";
      }
      SetConfidence(w, queued[k].no_limit_ahead);
    }
  }
  return out;
}

}  // namespace kojo
