#include "sched/placers/fgd_exact.h"

namespace kojo {

namespace {
constexpr std::int64_t kSecondary = std::int64_t{1} << 20;
}

NodeChoice FgdExactPlacer::Score(const NodeSpec& spec, const NodeState& node,
                                 const TaskShape& task, Rng& /*rng*/) const {
  NodeChoice c;
  const std::int64_t before =
      model_.Frag(spec.gpu_model, node.cpu_free, node.gpu_free.data(), node.gpus);
  auto gpu_after = node.gpu_free;
  const MilliCpu cpu_after = node.cpu_free - task.cpu_milli;
  const std::int64_t free_after =
      node.GpuMilliFree() - static_cast<std::int64_t>(task.gpus) * task.gpu_milli;
  const std::int64_t secondary = kSecondary - 1 - std::min(free_after, kSecondary - 1);
  if (task.gpus == 1 && task.gpu_milli < kWholeGpu) {
    bool any = false;
    for (int i = 0; i < node.gpus; ++i) {
      const MilliGpu f = node.gpu_free[i];
      if (f < task.gpu_milli) continue;
      gpu_after[i] = f - task.gpu_milli;
      const std::int64_t after =
          model_.Frag(spec.gpu_model, cpu_after, gpu_after.data(), node.gpus);
      gpu_after[i] = f;
      const std::int64_t s = (before - after) * kSecondary + secondary;
      if (!any || s > c.score) {
        any = true;
        c.score = s;
        c.gpu_indices.assign(1, i);
      }
    }
    return c;
  }
  c.gpu_indices = DefaultGpus(node, task);
  for (int i : c.gpu_indices) gpu_after[i] -= task.gpu_milli;
  const std::int64_t after = model_.Frag(spec.gpu_model, cpu_after, gpu_after.data(), node.gpus);
  c.score = (before - after) * kSecondary + secondary;
  return c;
}

}  // namespace kojo
