#include "sched/placement.h"

#include <algorithm>

#include <fmt/format.h>

namespace kojo {

namespace {

struct Candidate {
  int node = -1;
  NodeChoice choice;
};

int Rank(const std::vector<int>& tie_rank, int node) {
  return tie_rank.empty() ? node : tie_rank[node];
}

// Calls f(i) for every node index worth trying for a task needing `gpus`.
template <typename F>
void ForNodes(const std::vector<NodeState>& nodes, const std::vector<int>* candidates, int gpus, F f) {
  if (candidates && gpus > 0) {
    for (int i : *candidates) f(i);
  } else {
    for (int i = 0; i < static_cast<int>(nodes.size()); ++i) f(i);
  }
}

// The node the placer scores highest for `task`, ties to the lower rank.
Candidate BestNode(const std::vector<NodeSpec>& specs, const std::vector<int>& tie_rank,
                   const std::vector<NodeState>& nodes, const TaskShape& task,
                   const Placer& placer, Rng& rng, const std::vector<int>* candidates) {
  Candidate best;
  ForNodes(nodes, candidates, task.gpus, [&](int i) {
    if (!Fits(specs[i], nodes[i], task)) return;
    NodeChoice c = placer.Score(specs[i], nodes[i], task, rng);
    if (best.node < 0 || c.score > best.choice.score ||
        (c.score == best.choice.score && Rank(tie_rank, i) < Rank(tie_rank, best.node))) {
      best.node = i;
      best.choice = std::move(c);
    }
  });
  return best;
}

// CPUs or memory for a part holding `part` of the job's `gpus` GPUs, rounded
// up so the parts never add up to less than the whole.
std::int64_t Prorate(std::int64_t total, int part, int gpus) {
  if (gpus <= 0) return total;
  return (total * part + gpus - 1) / gpus;
}

void AddShare(Allocation& a, int node, const GpuList& gpus, MilliGpu milli,
              MilliCpu cpu, MiB mem) {
  for (auto& s : a.shares) {
    if (s.node != node) continue;
    s.gpu_indices.insert(s.gpu_indices.end(), gpus.begin(), gpus.end());
    std::sort(s.gpu_indices.begin(), s.gpu_indices.end());
    s.cpu_milli += cpu;
    s.mem_mib += mem;
    return;
  }
  a.shares.push_back(NodeShare{node, gpus.ToVector(), milli, cpu, mem});
}

std::optional<Allocation> PlaceSpread(const std::vector<NodeSpec>& specs,
                                      const std::vector<int>& tie_rank,
                                      const std::vector<NodeState>& nodes, const Job& job,
                                      const std::vector<int>* candidates, Seconds ends_by) {
  const Demand& d = job.demand;
  TaskShape hold;
  hold.project = &job.project;
  hold.ends_by = ends_by;
  struct Free {
    int node;
    int whole;
  };
  std::vector<Free> free;
  int total = 0;
  ForNodes(nodes, candidates, d.gpus, [&](int i) {
    const NodeState& n = nodes[i];
    if (!n.schedulable || !d.AllowsNode(specs[i]) || !HoldAllows(specs[i], hold)) return;
    int w = n.WholeGpusFree();
    if (w == 0) return;
    free.push_back({i, w});
    total += w;
  });
  if (total < d.gpus) return std::nullopt;
  std::sort(free.begin(), free.end(), [&](const Free& a, const Free& b) {
    if (a.whole != b.whole) return a.whole > b.whole;
    return Rank(tie_rank, a.node) < Rank(tie_rank, b.node);
  });
  Allocation alloc;
  std::vector<bool> used(free.size(), false);
  int left = d.gpus;
  while (left > 0) {
    // The smallest block that holds the rest (best fit), else the largest.
    int pick = -1;
    for (int k = static_cast<int>(free.size()) - 1; k >= 0; --k)
      if (!used[k] && free[k].whole >= left) { pick = k; break; }
    if (pick < 0)
      for (int k = 0; k < static_cast<int>(free.size()); ++k)
        if (!used[k]) { pick = k; break; }
    if (pick < 0) return std::nullopt;
    used[pick] = true;
    const int node = free[pick].node;
    const int take = std::min(left, free[pick].whole);
    TaskShape part{take, kWholeGpu, Prorate(d.cpu_milli, take, d.gpus),
                   Prorate(d.mem_mib, take, d.gpus), &d.gpu_models, &d.nodes, &job.project, ends_by};
    if (!Fits(specs[node], nodes[node], part)) continue;  // CPU or memory short there
    alloc.shares.push_back(NodeShare{node, DefaultGpus(nodes[node], part).ToVector(), kWholeGpu,
                                     part.cpu_milli, part.mem_mib});
    left -= take;
  }
  return alloc;
}

std::optional<Allocation> PlaceGang(const std::vector<NodeSpec>& specs,
                                    const std::vector<int>& tie_rank,
                                    const std::vector<NodeState>& nodes, const Job& job,
                                    const Placer& placer, Rng& rng,
                                    const std::vector<int>* candidates, Seconds ends_by) {
  const Demand& d = job.demand;
  TaskShape task{d.gpus / d.tasks, d.gpu_milli, d.cpu_milli / d.tasks, d.mem_mib / d.tasks,
                 &d.gpu_models, &d.nodes, &job.project, ends_by};
  std::vector<NodeState> plan = nodes;  // gangs are rare: a private copy is fine
  Allocation alloc;
  for (int t = 0; t < d.tasks; ++t) {
    int node = -1;
    GpuList gpus;
    for (const auto& s : alloc.shares)  // same node first (unless each task needs its own)
      if (!d.distinct_nodes && Fits(specs[s.node], plan[s.node], task)) {
        node = s.node;
        gpus = placer.Score(specs[node], plan[node], task, rng).gpu_indices;
        break;
      }
    if (node < 0) {
      Candidate c = BestNode(specs, tie_rank, plan, task, placer, rng, candidates);
      if (c.node < 0) return std::nullopt;
      node = c.node;
      gpus = c.choice.gpu_indices;
    }
    Allocation one;
    one.shares.push_back(NodeShare{node, gpus.ToVector(), task.gpu_milli, task.cpu_milli, task.mem_mib});
    Apply(plan, one);
    if (d.distinct_nodes) plan[node].schedulable = false;  // no second task here
    AddShare(alloc, node, gpus, task.gpu_milli, task.cpu_milli, task.mem_mib);
  }
  return alloc;
}

}  // namespace

std::optional<Allocation> PlaceJobOn(const std::vector<NodeSpec>& specs,
                                     const std::vector<int>& tie_rank,
                                     const std::vector<NodeState>& nodes, const Job& job,
                                     const Placer& placer, Rng& rng,
                                     const std::vector<int>* candidates, std::optional<Seconds> now) {
  const Demand& d = job.demand;
  const Seconds ends_by = !now ? 0 : job.time_limit ? *now + *job.time_limit : kForever;
  // A matching OR ("[rack1|rack2]") puts every node of a job that spans
  // nodes on the same alternative: try them in turn.
  if (d.nodes.parsed.matching && (d.tasks > 1 || d.gpus > 1)) {
    std::vector<NodeRule> alternatives = d.nodes.Alternatives();
    if (alternatives.size() > 1) {
      Job one = job;
      for (NodeRule& rule : alternatives) {
        one.demand.nodes = std::move(rule);
        if (auto a = PlaceJobOn(specs, tie_rank, nodes, one, placer, rng, candidates, now)) return a;
      }
      return std::nullopt;
    }
  }
  if (d.tasks > 1) return PlaceGang(specs, tie_rank, nodes, job, placer, rng, candidates, ends_by);
  if (d.gpus <= kMaxGpusPerNode) {
    TaskShape task{d.gpus, d.gpu_milli, d.cpu_milli, d.mem_mib, &d.gpu_models, &d.nodes, &job.project, ends_by};
    Candidate c = BestNode(specs, tie_rank, nodes, task, placer, rng, candidates);
    if (c.node >= 0) {
      Allocation a;
      a.shares.push_back(NodeShare{c.node, c.choice.gpu_indices.ToVector(), d.gpu_milli,
                                   d.cpu_milli, d.mem_mib});
      return a;
    }
  }
  if (d.gpus < 2 || d.Fractional()) return std::nullopt;
  return PlaceSpread(specs, tie_rank, nodes, job, candidates, ends_by);
}

std::optional<std::string> NeverFits(const ClusterSnapshot& snapshot, const Job& job, const Placer& placer) {
  if (auto bad = ValidateDemand(job.demand)) return *bad;
  std::vector<NodeState> empty;
  empty.reserve(snapshot.specs.size());
  int largest = 0, total = 0;
  for (const auto& spec : snapshot.specs) {
    empty.push_back(NodeState::Empty(spec));
    if (!job.demand.AllowsNode(spec)) continue;
    largest = std::max(largest, spec.gpus);
    total += spec.gpus;
  }
  Rng rng(0);  // placement on an empty cluster: any answer will do
  if (PlaceJobOn(snapshot.specs, snapshot.tie_rank, empty, job, placer, rng)) return std::nullopt;
  const Demand& d = job.demand;
  std::string models = d.gpu_models.empty() ? "" : fmt::format(" of model {}", fmt::join(d.gpu_models, "|"));
  if (!d.nodes.Empty()) {
    const bool any = std::any_of(snapshot.specs.begin(), snapshot.specs.end(),
                                 [&](const NodeSpec& s) { return d.nodes.Allows(s); });
    if (!any) return fmt::format("no node matches its {}", d.nodes.Describe());
    models += fmt::format(" on nodes with its {}", d.nodes.Describe());
  }
  if (d.gpus > 0 && total == 0) return fmt::format("no node has GPUs{}", models);
  if (d.gpus > total)
    return fmt::format("needs {} GPUs{}; the cluster has {}", d.gpus, models, total);
  if (d.tasks > 1 && d.gpus / d.tasks > largest)
    return fmt::format("each of its {} tasks needs {} GPUs{} on one node; the largest node has {}",
                       d.tasks, d.gpus / d.tasks, models, largest);
  return fmt::format("no node can hold its share of {} GPUs{}, {} milli-CPU and {} MiB",
                     d.gpus, models, d.cpu_milli, d.mem_mib);
}

}  // namespace kojo
