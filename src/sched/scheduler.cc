#include "sched/scheduler.h"

#include <algorithm>
#include <tuple>

#include <fmt/format.h>

#include "sched/placement.h"

namespace kojo {

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
};
// Heap order: the best item (smallest key, then id) on top.
bool Worse(const Item& a, const Item& b) { return std::tie(a.key, a.id) > std::tie(b.key, b.id); }

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

  std::vector<Item> heap;
  heap.reserve(snap.pending.size());
  for (int i = 0; i < static_cast<int>(snap.pending.size()); ++i)
    heap.push_back({policy_->Key(snap.pending[i], now), snap.pending[i].job->id, i});
  std::make_heap(heap.begin(), heap.end(), Worse);
  auto pop = [&] {
    std::pop_heap(heap.begin(), heap.end(), Worse);
    Item it = heap.back();
    heap.pop_back();
    return it;
  };

  // Running jobs worst first: the order in which they would be preempted.
  // Sorted only once a job needs them: most passes preempt nothing.
  std::vector<Item> victims;
  bool victims_ready = false;
  std::vector<bool> preempted(snap.running.size(), false);
  size_t first_victim = 0;  // victims before it are all preempted

  // Jobs started in this pass, for the reservation's view of the future.
  // (Their allocations are out.placed[i].allocation, i in order.)
  std::vector<Seconds> started_ends;
  auto place = [&](const JobEntry& e, Allocation a, bool backfilled) {
    plan.Take(a);
    out.placed.push_back(Place{e.job->id, std::move(a), backfilled});
    started_ends.push_back(e.job->time_limit ? now + *e.job->time_limit : kForever);
  };
  auto try_place = [&](Plan& p, const Job& job) -> std::optional<Allocation> {
    return PlaceJobOn(snap.specs, snap.tie_rank, p.nodes(), job, *placer_, rng, p.candidates());
  };

  // Frees the GPUs of running jobs in a worse preemption class (key[0])
  // than `item`, worst first, until the job fits; keeps only the victims
  // whose resources the job really takes. Returns false if no set suffices.
  auto preempt_for = [&](const Item& item, const Job& job) {
    if (!victims_ready) {
      victims_ready = true;
      for (int i = 0; i < static_cast<int>(snap.running.size()); ++i)
        victims.push_back({policy_->Key(snap.running[i], now), snap.running[i].job->id, i});
      std::sort(victims.begin(), victims.end(), Worse);
    }
    std::vector<size_t> chosen;  // indices into victims, released on the plan
    std::optional<Allocation> a;
    while (first_victim < victims.size() && preempted[victims[first_victim].index]) ++first_victim;
    for (size_t v = first_victim; v < victims.size() && !a; ++v) {
      if (victims[v].key[0] <= item.key[0]) break;  // worst first: none further is worse
      if (preempted[victims[v].index]) continue;
      plan.Give(snap.running[victims[v].index].allocation);
      chosen.push_back(v);
      if (plan.MayFit(job.demand)) a = try_place(plan, job);
    }
    if (!a) {  // no set of victims suffices: undo
      for (size_t v : chosen) plan.Take(snap.running[victims[v].index].allocation);
      return false;
    }
    plan.Take(*a);  // hold the freed GPUs for this job until the victims leave
    std::vector<size_t> needed;
    for (auto it = chosen.rbegin(); it != chosen.rend(); ++it) {  // best victim first
      const Allocation& va = snap.running[victims[*it].index].allocation;
      if (StillFree(scratch_, va)) plan.Take(va);  // not in the job's way: it stays
      else needed.push_back(*it);
    }
    for (size_t v : needed) {
      const JobEntry& e = snap.running[victims[v].index];
      preempted[victims[v].index] = true;
      out.preempted.push_back(Preempt{e.job->id, fmt::format("preempted for job {} of a higher priority queue", job.id)});
    }
    out.waiting.push_back(Wait{job.id, WaitReason::kPreempting,
                               fmt::format("waiting for {} preempted job(s) to stop", needed.size()), now});
    return true;
  };

  // EASY reservation for the first job that does not fit: the earliest end
  // (by time limits) of running jobs after which it fits, and where.
  auto reserve = [&](const Job& job) -> std::pair<Seconds, std::optional<Allocation>> {
    std::vector<std::pair<Seconds, const Allocation*>> ends;
    for (size_t i = 0; i < started_ends.size(); ++i)
      ends.emplace_back(started_ends[i], &out.placed[i].allocation);
    for (size_t i = 0; i < snap.running.size(); ++i) {
      if (preempted[i]) continue;
      const JobEntry& e = snap.running[i];
      ends.emplace_back(e.job->time_limit ? std::max(now, e.started + *e.job->time_limit) : kForever,
                        &e.allocation);
    }
    // Earliest end first, popped lazily: the head usually fits after a few.
    auto later = [](const auto& a, const auto& b) { return a.first > b.first; };
    std::make_heap(ends.begin(), ends.end(), later);
    std::vector<NodeState> trial = scratch_;
    Plan future(trial);
    // A one-node job can only start on a node that a release changed, so
    // look there first and scan the cluster once one of them fits.
    const bool one_node = job.demand.tasks == 1 && job.demand.gpus <= kMaxGpusPerNode;
    const TaskShape task{job.demand.gpus, job.demand.gpu_milli, job.demand.cpu_milli,
                         job.demand.mem_mib, &job.demand.gpu_models};
    std::vector<const Allocation*> group;
    while (!ends.empty()) {
      // Release every job that ends at the same time before looking, so
      // that the answer does not depend on the order among them.
      const Seconds end = ends.front().first;
      group.clear();
      while (!ends.empty() && ends.front().first == end) {
        std::pop_heap(ends.begin(), ends.end(), later);
        group.push_back(ends.back().second);
        ends.pop_back();
        future.Give(*group.back());
      }
      if (!future.MayFit(job.demand)) continue;
      if (one_node && std::none_of(group.begin(), group.end(), [&](const Allocation* a) {
            return std::any_of(a->shares.begin(), a->shares.end(), [&](const NodeShare& s) {
              return Fits(snap.specs[s.node], trial[s.node], task);
            });
          }))
        continue;
      if (auto a = try_place(future, job)) return {end, std::move(a)};
    }
    return {kForever, std::nullopt};
  };

  int cpu_only_left = 0;  // pending jobs that need no GPU, not yet seen
  for (const auto& e : snap.pending) cpu_only_left += e.job->demand.gpus == 0;

  bool blocked = false;
  Seconds shadow = kForever;
  std::optional<Allocation> reserved;
  std::vector<NodeState> mask;  // scratch without the reserved GPUs
  std::optional<Plan> masked;
  int ahead = 0;                // jobs ahead of the current one, for messages
  JobId head_id = 0;
  for (; !heap.empty(); ++ahead) {
    const Item item = pop();
    const JobEntry& e = snap.pending[item.index];
    const Job& job = *e.job;
    cpu_only_left -= job.demand.gpus == 0;
    if (!blocked) {
      if (plan.MayFit(job.demand)) {
        if (auto a = try_place(plan, job)) { place(e, std::move(*a), false); continue; }
      }
      if (policy_->Preemptive() && !snap.running.empty() && preempt_for(item, job)) continue;
      if (auto why = Infeasible(snap, job)) {
        out.rejected.push_back(Reject{job.id, *why});
        continue;
      }
      blocked = true;
      head_id = job.id;
      if (config_.backfill || config_.explain_waits) std::tie(shadow, reserved) = reserve(job);
      if (config_.explain_waits)
        out.waiting.push_back(Wait{job.id, WaitReason::kResources,
                                   "next in line; not enough free resources yet",
                                   shadow < kForever ? std::optional<Seconds>(shadow) : std::nullopt});
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
    auto wait = [&] {
      if (config_.explain_waits)
        out.waiting.push_back(Wait{job.id, WaitReason::kPriority,
                                   fmt::format("{} job(s) ahead in the queue; job {} is next", ahead, head_id),
                                   std::nullopt});
    };
    if (!config_.explain_waits &&
        (!config_.backfill ||
         (job.demand.gpus > 0 && !plan.AnyGpuFree() && cpu_only_left == 0)))
      break;  // nothing later can start, and no one asked why
    if (!config_.backfill || !plan.MayFit(job.demand)) { wait(); continue; }
    const Seconds end = job.time_limit ? now + *job.time_limit : kForever;
    std::optional<Allocation> a;
    if (end <= shadow) a = try_place(plan, job);
    if (!a && masked->MayFit(job.demand)) a = try_place(*masked, job);
    if (!a) { wait(); continue; }
    // Keep the mask in step: it shows what is free now outside the
    // reservation (whose GPUs it already counts as taken).
    Allocation outside = *a;
    if (reserved)
      for (auto& s : outside.shares)
        std::erase_if(s.gpu_indices, [&](int g) { return Uses(*reserved, s.node, g); });
    masked->Take(outside);
    place(e, std::move(*a), true);
  }
  return out;
}

}  // namespace kojo
