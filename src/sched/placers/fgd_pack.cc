#include "sched/placers/fgd_pack.h"

#include <algorithm>

namespace kojo {

NodeChoice FgdPackPlacer::Score(const NodeSpec& spec, const NodeState& node,
                                const TaskShape& task, Rng& rng) const {
  NodeChoice c = fgd_.Score(spec, node, task, rng);
  const std::int64_t in_use = node.WholeGpusFree() != node.gpus ? 1 : 0;
  std::int64_t tie = in_use;
  if (task.gpus == 0) {
    // Less free GPU milli first (capped so the term stays in range).
    constexpr std::int64_t kCap = 4 * kMaxGpusPerNode * kWholeGpu;
    const std::int64_t free = std::min<std::int64_t>(node.GpuMilliFree(), kCap);
    tie += 2 * (kCap - free);
  }
  c.score = c.score * kTieRange + tie;
  return c;
}

}  // namespace kojo
