#include "sched/placers/bestfit.h"

#include <algorithm>

namespace kojo {

NodeChoice BestFitPlacer::Score(const NodeSpec& spec, const NodeState& node,
                                const TaskShape& task, Rng& /*rng*/) const {
  NodeChoice c;
  c.gpu_indices = DefaultGpus(node, task);
  const std::int64_t ref_cpu = std::max<std::int64_t>(kRefCpu, spec.cpu_milli);
  const std::int64_t ref_gpu =
      std::max<std::int64_t>(kRefGpu, static_cast<std::int64_t>(spec.gpus) * kWholeGpu);
  const std::int64_t cpu_left = std::max<std::int64_t>(0, node.cpu_free - task.cpu_milli);
  std::int64_t gpu_left = node.GpuMilliFree() -
                          static_cast<std::int64_t>(task.gpus) * task.gpu_milli;
  gpu_left = std::max<std::int64_t>(0, gpu_left);
  // 100 x (1 - cl / (2 rc) - gl / (2 rg)) = 100 (2 rc rg - cl rg - gl rc) / (2 rc rg)
  const std::int64_t den = 2 * ref_cpu * ref_gpu;
  const std::int64_t num = 100 * (den - cpu_left * ref_gpu - gpu_left * ref_cpu);
  c.score = std::max<std::int64_t>(0, num / den);
  return c;
}

}  // namespace kojo
