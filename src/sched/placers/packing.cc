#include "sched/placers/packing.h"

#include <algorithm>

namespace kojo {

NodeChoice PackingPlacer::Score(const NodeSpec& /*spec*/, const NodeState& node,
                                const TaskShape& task, Rng& /*rng*/) const {
  NodeChoice c;
  c.gpu_indices = DefaultGpus(node, task);
  if (task.gpus == 0 || task.gpu_milli <= 0) {
    c.score = 0;
    return c;
  }
  const int whole_free = node.WholeGpusFree();
  if (whole_free == node.gpus) {
    c.score = std::max(33 - whole_free, whole_free);
    return c;
  }
  // Score the GPUs with the least free milli that fit, as the task would
  // pack onto them.
  int order[kMaxGpusPerNode];
  for (int i = 0; i < node.gpus; ++i) order[i] = i;
  std::stable_sort(order, order + node.gpus,
                   [&](int a, int b) { return node.gpu_free[a] < node.gpu_free[b]; });
  int need = task.gpus;
  int whole_taken = 0;
  std::int64_t free_pct = 0;
  for (int k = 0; k < node.gpus && need > 0; ++k) {
    const MilliGpu f = node.gpu_free[order[k]];
    if (f < task.gpu_milli) continue;
    --need;
    whole_taken += f == kWholeGpu;
    free_pct += static_cast<std::int64_t>(f) * 100 / kWholeGpu;
  }
  if (whole_taken > 0)
    c.score = std::max(50 - whole_taken, 33);
  else
    c.score = std::max<std::int64_t>(100 - free_pct / 10, 50);
  return c;
}

}  // namespace kojo
