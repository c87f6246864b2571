#include "sched/placers/random.h"

namespace kojo {

NodeChoice RandomPlacer::Score(const NodeSpec& /*spec*/, const NodeState& node,
                               const TaskShape& task, Rng& rng) const {
  NodeChoice c;
  c.score = static_cast<std::int64_t>(rng() >> 2);
  if (task.gpus == 1 && task.gpu_milli < kWholeGpu) {
    // Reservoir sampling over the GPUs with room: one draw per candidate,
    // plain modulus (its bias, below 2^-50, is far from measurable), so every
    // platform draws the same.
    int seen = 0;
    int pick = -1;
    for (int i = 0; i < node.gpus; ++i) {
      if (node.gpu_free[i] < task.gpu_milli) continue;
      ++seen;
      if (rng() % static_cast<std::uint64_t>(seen) == 0) pick = i;
    }
    if (pick >= 0) c.gpu_indices.push_back(pick);
    return c;
  }
  c.gpu_indices = DefaultGpus(node, task);
  return c;
}

}  // namespace kojo
