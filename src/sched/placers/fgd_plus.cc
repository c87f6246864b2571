#include "sched/placers/fgd_plus.h"

#include <algorithm>
#include <cmath>

namespace kojo {

namespace {

struct Params {
  int levels;    // primary levels of the fragmentation change
  int ties;      // tie-break values inside a level (levels x ties <= 101)
  double scale;  // milli-GPU of fragmentation change per unit of the sigmoid
  enum { kFirstBest, kBestFit, kLeastFrag } gpu;  // a fraction's GPU
};

Params ParamsOf(FgdPlusPlacer::Mode m) {
  switch (m) {
    case FgdPlusPlacer::Mode::kShared: return {50, 2, 500, Params::kBestFit};
    case FgdPlusPlacer::Mode::kMultiGpu: return {100, 1, 1000, Params::kLeastFrag};
    case FgdPlusPlacer::Mode::kSpread: break;
  }
  return {100, 1, 2000, Params::kFirstBest};
}

// floor(levels x sigmoid(delta / (kept x scale))), at most levels - 1; the
// middle level for no change.
std::int64_t Level(std::int64_t delta, std::int64_t kept, const Params& p) {
  if (delta == 0 || kept <= 0) return p.levels / 2;
  const double x = static_cast<double>(delta) / (static_cast<double>(kept) * p.scale);
  const auto l = static_cast<std::int64_t>(1.0 / (1.0 + std::exp(-x)) * p.levels);
  return std::clamp<std::int64_t>(l, 0, p.levels - 1);
}

}  // namespace

void FgdPlusPlacer::Observe(const Demand& d) {
  model_.Add(d);
  const int tasks = std::max(1, d.tasks);
  tasks_ += tasks;
  if (d.Fractional()) fractional_tasks_ += tasks;
  gpu_milli_ += d.TotalGpuMilli();
  if (d.gpus / tasks >= 2) multi_gpu_milli_ += d.TotalGpuMilli();
}

FgdPlusPlacer::Mode FgdPlusPlacer::mode() const {
  if (multi_gpu_milli_ * 4 >= gpu_milli_ && gpu_milli_ > 0) return Mode::kMultiGpu;
  if (fractional_tasks_ * 100 >= tasks_ * 45 && tasks_ > 0) return Mode::kShared;
  return Mode::kSpread;
}

NodeChoice FgdPlusPlacer::Score(const NodeSpec& spec, const NodeState& node,
                                const TaskShape& task, Rng& /*rng*/) const {
  const Params p = ParamsOf(mode());
  const std::int64_t kept = model_.KeptCount();
  const std::int64_t before =
      model_.Frag(spec.gpu_model, node.cpu_free, node.gpu_free.data(), node.gpus);
  auto gpu_after = node.gpu_free;
  const MilliCpu cpu_after = node.cpu_free - task.cpu_milli;
  NodeChoice c;
  std::int64_t after = before;
  if (task.gpus == 1 && task.gpu_milli < kWholeGpu) {
    int best = -1;
    std::int64_t best_level = -1;
    for (int i = 0; i < node.gpus; ++i) {
      const MilliGpu f = node.gpu_free[i];
      if (f < task.gpu_milli) continue;
      // Equal free milli leaves the same multiset: the earlier GPU stands.
      bool seen = false;
      for (int j = 0; j < i && !seen; ++j) seen = node.gpu_free[j] == f;
      if (seen) continue;
      gpu_after[i] = f - task.gpu_milli;
      const std::int64_t a = model_.Frag(spec.gpu_model, cpu_after, gpu_after.data(), node.gpus);
      gpu_after[i] = f;
      const std::int64_t level = Level(before - a, kept, p);
      bool better = best < 0;
      if (!better) {
        const bool tighter = f < node.gpu_free[best];
        switch (p.gpu) {
          case Params::kFirstBest: better = level > best_level; break;
          case Params::kBestFit:
            better = level > best_level || (level == best_level && tighter);
            break;
          case Params::kLeastFrag: better = a < after || (a == after && tighter); break;
        }
      }
      if (better) {
        best = i;
        best_level = level;
        after = a;
      }
    }
    if (best >= 0) c.gpu_indices.push_back(best);
  } else {
    c.gpu_indices = DefaultGpus(node, task);
    for (int i : c.gpu_indices) gpu_after[i] -= task.gpu_milli;
    after = model_.Frag(spec.gpu_model, cpu_after, gpu_after.data(), node.gpus);
  }
  std::int64_t tie = 0;
  if (p.ties > 1) {
    if (task.gpus > 0) tie = node.WholeGpusFree() != node.gpus;  // some GPU in use
    else tie = node.GpuMilliFree() == 0;                         // no GPU left to strand
  }
  c.score = Level(before - after, kept, p) * p.ties + tie;
  return c;
}

}  // namespace kojo
