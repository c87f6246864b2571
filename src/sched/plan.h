// Plan and Future: the free resources of one scheduling pass, and a sweep
// through their future. Internal to sched (used by Pass); no I/O, no clock.
// Thread safety: none; both live for one pass.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "sched/placer.h"
#include "sched/snapshot.h"

namespace kojo {

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
    std::make_heap(ends_.begin(), ends_.end(), LaterEnd{});
  }
  // The earliest time (>= the sweep's time) at which `job` fits, and where;
  // {kForever, nullopt} if it never does. `try_now`: look at the current
  // state before releasing anything.
  template <typename PlaceFn>
  std::pair<Seconds, std::optional<Allocation>> Fit(const Job& job, bool try_now, PlaceFn try_place) {
    if (try_now && plan_.MayFit(job.demand))
      if (auto a = try_place(plan_, job)) return {t_, std::move(a)};
    // A one-node job can only start on a node that a release changed, so
    // look there first and scan the cluster once one of them fits. Only a
    // job of one GPU (or a part of one) or none is sure to be one: larger
    // jobs spread over nodes when no node holds them (PlaceJobOn).
    const bool one_node = job.demand.tasks == 1 && (job.demand.gpus < 2 || job.demand.Fractional());
    const TaskShape task{job.demand.gpus, job.demand.gpu_milli, job.demand.cpu_milli,
                         job.demand.mem_mib, &job.demand.gpu_models, &job.demand.nodes};
    std::vector<const Allocation*> group;
    while (!ends_.empty()) {
      // Release every job that ends at the same time before looking, so
      // that the answer does not depend on the order among them.
      const Seconds end = ends_.front().first;
      group.clear();
      while (!ends_.empty() && ends_.front().first == end) {
        std::pop_heap(ends_.begin(), ends_.end(), LaterEnd{});
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
  // The sweep's time: every end up to it has been released.
  Seconds now() const { return t_; }
  // A fitted job holds `a` from the sweep's time until `end`.
  void Hold(Allocation a, Seconds end) {
    plan_.Take(a);
    held_.push_back(std::move(a));
    if (end < kForever) {
      ends_.emplace_back(end, &held_.back());
      std::push_heap(ends_.begin(), ends_.end(), LaterEnd{});
    }
  }

 private:
  struct LaterEnd {  // the heap's order, the earliest end on top (a type: inlined)
    bool operator()(const End& a, const End& b) const { return a.first > b.first; }
  };
  const ClusterSnapshot& snap_;
  std::vector<NodeState> trial_;
  Plan plan_;
  std::vector<End> ends_;
  std::deque<Allocation> held_;  // stable addresses for ends_
  Seconds t_;
};

}  // namespace kojo
