#include "sim/pack.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <unordered_set>

#include <fmt/format.h>

#include "common/csv.h"
#include "sched/placer.h"

namespace kojo {

namespace {

constexpr std::int64_t kMaxCpuMilli = 100'000'000;          // 100,000 cores
constexpr std::int64_t kMaxMemMib = std::int64_t{1} << 30;  // 1 PiB

// A uniform draw from 0..n-1 by rejection over the raw 64-bit output, so that
// every platform draws the same numbers (std::uniform_int_distribution is
// implementation-defined).
std::uint64_t Below(Rng& rng, std::uint64_t n) {
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  std::uint64_t x;
  do x = rng();
  while (x >= limit);
  return x % n;
}

template <typename T>
void Shuffle(std::vector<T>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[Below(rng, i)]);
}

std::vector<std::string> SplitModels(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    size_t bar = s.find('|');
    std::string_view item = s.substr(0, bar);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    if (bar == std::string_view::npos) break;
    s.remove_prefix(bar + 1);
  }
  return out;
}

}  // namespace

Result<std::vector<NodeSpec>> ReadPackNodes(const std::string& path) {
  auto table = CsvTable::Read(path);
  if (!table) return table.error();
  const CsvTable& t = *table;
  std::optional<int> name_col = t.Find({"sn", "name"});
  if (!name_col) return t.ErrorAt(1, "missing column 'sn' (or 'name') in the header");
  auto cpu_col = t.Require("cpu_milli");
  if (!cpu_col) return cpu_col.error();
  auto mem_col = t.Require("memory_mib");
  if (!mem_col) return mem_col.error();
  auto gpu_col = t.Require("gpu");
  if (!gpu_col) return gpu_col.error();
  auto model_col = t.Require("model");
  if (!model_col) return model_col.error();
  if (t.rows().empty()) return t.ErrorAt(1, "no nodes: expected at least one row after the header");

  std::vector<NodeSpec> nodes;
  nodes.reserve(t.rows().size());
  std::unordered_set<std::string_view> names;
  for (const CsvRow& row : t.rows()) {
    NodeSpec n;
    std::string_view name = row.Text(*name_col);
    if (name.empty()) return t.ErrorAt(row.line(), "column 'sn': expected a node name, got ''");
    if (!names.insert(name).second)
      return t.ErrorAt(row.line(), fmt::format("column 'sn': duplicate node name '{}'", name));
    n.name = std::string(name);
    auto cpu = row.Int(*cpu_col, 0, kMaxCpuMilli);
    if (!cpu) return cpu.error();
    auto mem = row.Int(*mem_col, 0, kMaxMemMib);
    if (!mem) return mem.error();
    auto gpus = row.Int(*gpu_col, 0, kMaxGpusPerNode);
    if (!gpus) return gpus.error();
    n.cpu_milli = *cpu;
    n.mem_mib = *mem;
    n.gpus = static_cast<int>(*gpus);
    n.gpu_model = std::string(row.Text(*model_col));
    nodes.push_back(std::move(n));
  }
  return nodes;
}

Result<std::vector<PackPod>> ReadPackPods(const std::string& path) {
  auto table = CsvTable::Read(path);
  if (!table) return table.error();
  const CsvTable& t = *table;
  int cols[5];
  const char* names[5] = {"name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli"};
  for (int i = 0; i < 5; ++i) {
    auto c = t.Require(names[i]);
    if (!c) return c.error();
    cols[i] = *c;
  }
  std::optional<int> spec_col = t.Find({"gpu_spec"});
  if (t.rows().empty()) return t.ErrorAt(1, "no pods: expected at least one row after the header");

  std::vector<PackPod> pods;
  pods.reserve(t.rows().size());
  for (const CsvRow& row : t.rows()) {
    PackPod p;
    p.name = std::string(row.Text(cols[0]));
    auto cpu = row.Int(cols[1], 0, kMaxCpuMilli);
    if (!cpu) return cpu.error();
    auto mem = row.Int(cols[2], 0, kMaxMemMib);
    if (!mem) return mem.error();
    auto num = row.Int(cols[3], 0, kMaxGpusPerNode);
    if (!num) return num.error();
    auto milli = row.Int(cols[4], 0, kWholeGpu);
    if (!milli) return milli.error();
    p.cpu_milli = *cpu;
    p.mem_mib = *mem;
    p.num_gpu = static_cast<int>(*num);
    if (p.num_gpu > 0) {
      if (*milli == 0)
        return t.ErrorAt(row.line(), fmt::format("column 'gpu_milli': expected 1..1000 for a pod "
                                                 "with num_gpu = {}, got 0", p.num_gpu));
      if (p.num_gpu > 1 && *milli != kWholeGpu)
        return t.ErrorAt(row.line(),
                         fmt::format("column 'gpu_milli': a fraction of a GPU ({}) needs num_gpu "
                                     "= 1, got num_gpu = {}", *milli, p.num_gpu));
      p.gpu_milli = static_cast<MilliGpu>(*milli);
      if (spec_col) p.gpu_spec = SplitModels(row.Text(*spec_col));
    }
    pods.push_back(std::move(p));
  }
  return pods;
}

Result<PackInput> ReadPackInput(const std::string& nodes_path, const std::string& pods_path) {
  auto nodes = ReadPackNodes(nodes_path);
  if (!nodes) return nodes.error();
  auto pods = ReadPackPods(pods_path);
  if (!pods) return pods.error();
  return PackInput{std::move(*nodes), std::move(*pods)};
}

Result<PackResult> RunPack(const PackInput& input, std::string_view placer_name,
                           std::uint64_t seed, double inflate) {
  if (!(inflate > 0 && inflate <= 100))
    return InvalidArgument(fmt::format("inflate: expected a factor in (0, 100], got {}", inflate));
  auto made = MakePlacer(placer_name);
  if (!made) return made.error();
  Placer& placer = **made;

  const std::vector<NodeSpec>& specs = input.nodes;
  const size_t n_nodes = specs.size();
  std::int64_t cluster_milli = 0;
  for (const auto& s : specs) cluster_milli += static_cast<std::int64_t>(s.gpus) * kWholeGpu;
  if (cluster_milli == 0) return InvalidArgument("nodes: the cluster has no GPUs");
  if (input.pods.empty()) return InvalidArgument("pods: the pod list is empty");

  // Original list in name order; its distinct shapes (what a placer may see).
  std::vector<int> sorted(input.pods.size());
  std::iota(sorted.begin(), sorted.end(), 0);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [&](int a, int b) { return input.pods[a].name < input.pods[b].name; });
  std::vector<TaskShape> shapes;
  std::vector<int> shape_of(input.pods.size());
  {
    std::map<std::tuple<MilliCpu, MiB, int, MilliGpu, std::vector<std::string>>, int> ids;
    for (size_t i = 0; i < input.pods.size(); ++i) {
      const PackPod& p = input.pods[i];
      auto [it, inserted] = ids.try_emplace(
          std::make_tuple(p.cpu_milli, p.mem_mib, p.num_gpu, p.gpu_milli, p.gpu_spec),
          static_cast<int>(shapes.size()));
      if (inserted) {
        TaskShape t;
        t.gpus = p.num_gpu;
        t.gpu_milli = p.num_gpu == 0 ? kWholeGpu : p.gpu_milli;
        t.cpu_milli = p.cpu_milli;
        t.mem_mib = p.mem_mib;
        t.models = &p.gpu_spec;
        shapes.push_back(t);
      }
      shape_of[i] = it->second;
    }
  }
  for (int i : sorted) {
    const PackPod& p = input.pods[i];
    Demand d;
    d.gpus = p.num_gpu;
    d.gpu_milli = p.num_gpu == 0 ? kWholeGpu : p.gpu_milli;
    d.cpu_milli = p.cpu_milli;
    d.mem_mib = p.mem_mib;
    d.gpu_models = p.gpu_spec;
    placer.Observe(d);
  }

  // Per seed: node priority for ties, arrival order, tuning to `inflate`.
  Rng rng(seed);
  std::vector<int> perm(n_nodes);
  std::iota(perm.begin(), perm.end(), 0);
  Shuffle(perm, rng);
  std::vector<int> tie_rank(n_nodes);
  for (size_t r = 0; r < n_nodes; ++r) tie_rank[perm[r]] = static_cast<int>(r);

  std::vector<int> order = sorted;
  Shuffle(order, rng);
  const double target = inflate * static_cast<double>(cluster_milli);
  std::int64_t total = 0;
  for (int i : order) total += input.pods[i].GpuMilli();
  if (static_cast<double>(total) <= target) {
    while (true) {
      int i = sorted[Below(rng, sorted.size())];
      if (static_cast<double>(total + input.pods[i].GpuMilli()) > target) break;
      total += input.pods[i].GpuMilli();
      order.push_back(i);
    }
  } else {
    while (static_cast<double>(total) > target && !order.empty()) {
      size_t k = Below(rng, order.size());
      total -= input.pods[order[k]].GpuMilli();
      order.erase(order.begin() + static_cast<std::ptrdiff_t>(k));
    }
  }

  // Replay.
  std::vector<NodeState> nodes(n_nodes);
  for (size_t i = 0; i < n_nodes; ++i) nodes[i] = NodeState::Empty(specs[i]);
  const bool cache = placer.Deterministic();
  const size_t n_shapes = shapes.size();
  std::vector<std::uint32_t> version(n_nodes, 1);
  std::vector<std::uint32_t> cached_at(cache ? n_nodes * n_shapes : 0, 0);
  std::vector<NodeChoice> cached(cache ? n_nodes * n_shapes : 0);

  PackResult res;
  res.pods_original = static_cast<std::int64_t>(input.pods.size());
  res.pods_arrived = static_cast<std::int64_t>(order.size());
  res.cluster_gpu_milli = cluster_milli;
  std::vector<double> sum_at;
  std::vector<std::int64_t> n_at;
  std::int64_t requested = 0, allocated = 0;
  NodeChoice scratch;
  for (int pi : order) {
    const int sid = shape_of[pi];
    const TaskShape& task = shapes[sid];
    int best = -1;
    const NodeChoice* best_choice = nullptr;
    for (size_t n = 0; n < n_nodes; ++n) {
      if (!Fits(specs[n], nodes[n], task)) continue;
      const NodeChoice* c;
      if (cache) {
        const size_t slot = n * n_shapes + static_cast<size_t>(sid);
        if (cached_at[slot] != version[n]) {
          cached[slot] = placer.Score(specs[n], nodes[n], task, rng);
          cached_at[slot] = version[n];
        }
        c = &cached[slot];
      } else {
        // Keep the best choice in `scratch`; score into a temporary.
        NodeChoice tmp = placer.Score(specs[n], nodes[n], task, rng);
        if (best < 0 || tmp.score > best_choice->score ||
            (tmp.score == best_choice->score && tie_rank[n] < tie_rank[best])) {
          scratch = std::move(tmp);
          best = static_cast<int>(n);
          best_choice = &scratch;
        }
        continue;
      }
      if (best < 0 || c->score > best_choice->score ||
          (c->score == best_choice->score && tie_rank[n] < tie_rank[best])) {
        best = static_cast<int>(n);
        best_choice = c;
      }
    }
    const std::int64_t milli = input.pods[pi].GpuMilli();
    requested += milli;
    if (best < 0) {
      ++res.pods_failed;
    } else {
      NodeState& s = nodes[best];
      if (static_cast<int>(best_choice->gpu_indices.size()) != task.gpus)
        return Error{ErrorCode::kUnsupported,
                     fmt::format("placer {} chose {} GPUs for a pod that needs {}", placer.Name(),
                                 best_choice->gpu_indices.size(), task.gpus)};
      for (int g : best_choice->gpu_indices) {
        if (g < 0 || g >= s.gpus || s.gpu_free[g] < task.gpu_milli)
          return Error{ErrorCode::kUnsupported,
                       fmt::format("placer {} chose GPU {} of node {} that has no room",
                                   placer.Name(), g, specs[best].name)};
        s.gpu_free[g] -= task.gpu_milli;
      }
      s.cpu_free -= task.cpu_milli;
      s.mem_free -= task.mem_mib;
      ++version[best];
      allocated += milli;
    }
    // arrived% rounded half up to an integer k.
    const size_t k = static_cast<size_t>((200 * requested + cluster_milli) / (2 * cluster_milli));
    const double alloc_pct = 100.0 * static_cast<double>(allocated) / static_cast<double>(cluster_milli);
    if (k >= sum_at.size()) {
      // Gaps (a k no arrival rounds to) take the alloc% in force before.
      const double before = 100.0 * static_cast<double>(allocated - (best < 0 ? 0 : milli)) /
                            static_cast<double>(cluster_milli);
      while (sum_at.size() < k) {
        sum_at.push_back(before);
        n_at.push_back(1);
      }
      sum_at.push_back(0);
      n_at.push_back(0);
    }
    sum_at[k] += alloc_pct;
    ++n_at[k];
  }
  res.curve.reserve(sum_at.size());
  for (size_t k = 0; k < sum_at.size(); ++k)
    res.curve.push_back(PackPoint{static_cast<int>(k), n_at[k] ? sum_at[k] / static_cast<double>(n_at[k]) : 0});
  res.requested_gpu_milli = requested;
  res.allocated_gpu_milli = allocated;
  res.reached_100 = res.curve.size() > 100;
  res.alloc_at_100 = res.reached_100
                         ? res.curve[100].alloc_pct
                         : 100.0 * static_cast<double>(allocated) / static_cast<double>(cluster_milli);
  return res;
}

}  // namespace kojo
