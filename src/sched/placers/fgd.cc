#include "sched/placers/fgd.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

namespace kojo {

size_t FragModel::KeyHash::operator()(const Key& k) const {
  size_t h = std::hash<std::string>()(k.models);
  auto mix = [&h](std::uint64_t v) { h ^= std::hash<std::uint64_t>()(v) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2); };
  mix(static_cast<std::uint64_t>(k.gpus));
  mix(static_cast<std::uint64_t>(k.gpu_milli));
  mix(static_cast<std::uint64_t>(k.cpu_milli));
  return h;
}

void FragModel::Add(const Demand& d) {
  const int tasks = std::max(1, d.tasks);
  Key key;
  key.gpus = d.gpus / tasks;
  key.gpu_milli = key.gpus == 0 ? 0 : d.gpu_milli;
  key.cpu_milli = d.cpu_milli / tasks;
  for (const auto& m : d.gpu_models) key.models += (key.models.empty() ? "" : "|") + m;
  auto [it, inserted] = index_.try_emplace(key, all_.size());
  if (inserted) {
    Type t;
    t.gpus = key.gpus;
    t.gpu_milli = key.gpu_milli;
    t.cpu_milli = key.cpu_milli;
    t.models = d.gpu_models;
    all_.push_back(std::move(t));
  }
  all_[it->second].count += tasks;
  observed_ += tasks;
  dirty_ = true;
}

void FragModel::Rebuild() const {
  dirty_ = false;
  std::vector<size_t> order(all_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return all_[a].count > all_[b].count; });
  kept_.clear();
  kept_count_ = 0;
  for (size_t i : order) {
    if (kept_count_ * 100 >= observed_ * kCoveragePercent) break;
    kept_.push_back(all_[i]);
    kept_count_ += all_[i].count;
  }
  allowed_.clear();
}

const std::vector<FragModel::Type>& FragModel::Types() const {
  if (dirty_) Rebuild();
  return kept_;
}

std::int64_t FragModel::KeptCount() const {
  if (dirty_) Rebuild();
  return kept_count_;
}

const std::vector<char>& FragModel::Allowed(const std::string& model) const {
  auto it = allowed_.find(model);
  if (it != allowed_.end()) return it->second;
  std::vector<char> v(kept_.size());
  for (size_t i = 0; i < kept_.size(); ++i) {
    const auto& ms = kept_[i].models;
    v[i] = GpuModelAllowed(ms, model);
  }
  return allowed_.emplace(model, std::move(v)).first->second;
}

std::int64_t FragModel::Frag(const std::string& model, MilliCpu cpu_free,
                             const MilliGpu* gpu_free, int gpus) const {
  if (dirty_) Rebuild();
  std::int64_t total = 0;
  for (int i = 0; i < gpus; ++i) total += gpu_free[i];
  if (total == 0) return 0;
  const std::vector<char>& allowed = Allowed(model);
  std::int64_t frag = 0;
  for (size_t t = 0; t < kept_.size(); ++t) {
    const Type& type = kept_[t];
    std::int64_t f = total;
    if (type.gpus > 0 && allowed[t] && cpu_free >= type.cpu_milli) {
      int room = 0;
      std::int64_t small = 0;
      for (int i = 0; i < gpus; ++i) {
        if (gpu_free[i] >= type.gpu_milli) ++room;
        else small += gpu_free[i];
      }
      if (room >= type.gpus) f = small;
    }
    frag += type.count * f;
  }
  return frag;
}

std::int64_t FgdSigmoidScore(std::int64_t delta, std::int64_t kept) {
  if (delta == 0 || kept <= 0) return 50;
  const double x = static_cast<double>(delta) / (static_cast<double>(kept) * 1000.0);
  return static_cast<std::int64_t>(1.0 / (1.0 + std::exp(-x)) * 100.0);
}

NodeChoice FgdPlacer::Score(const NodeSpec& spec, const NodeState& node, const TaskShape& task,
                            Rng& /*rng*/) const {
  NodeChoice c;
  const std::int64_t kept = model_.KeptCount();
  const std::int64_t before = model_.Frag(spec.gpu_model, node.cpu_free, node.gpu_free.data(), node.gpus);
  auto gpu_after = node.gpu_free;
  const MilliCpu cpu_after = node.cpu_free - task.cpu_milli;
  if (task.gpus == 1 && task.gpu_milli < kWholeGpu) {
    c.score = -1;
    int best = -1;
    for (int i = 0; i < node.gpus; ++i) {
      const MilliGpu f = node.gpu_free[i];
      if (f < task.gpu_milli) continue;
      // A GPU with the same free milli as one tried before leaves the same
      // multiset of free milli, hence the same score: the earlier one wins.
      bool seen = false;
      for (int j = 0; j < i && !seen; ++j) seen = node.gpu_free[j] == f;
      if (seen) continue;
      gpu_after[i] = f - task.gpu_milli;
      const std::int64_t after = model_.Frag(spec.gpu_model, cpu_after, gpu_after.data(), node.gpus);
      gpu_after[i] = f;
      const std::int64_t s = FgdSigmoidScore(before - after, kept);
      if (s > c.score) {
        c.score = s;
        best = i;
      }
    }
    if (best >= 0) c.gpu_indices.push_back(best);
    else c.score = 0;
    return c;
  }
  c.gpu_indices = DefaultGpus(node, task);
  for (int i : c.gpu_indices) gpu_after[i] -= task.gpu_milli;
  const std::int64_t after = model_.Frag(spec.gpu_model, cpu_after, gpu_after.data(), node.gpus);
  c.score = FgdSigmoidScore(before - after, kept);
  return c;
}

}  // namespace kojo
