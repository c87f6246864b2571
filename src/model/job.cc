#include "model/job.h"

#include <algorithm>

#include <fmt/format.h>

namespace kojo {

bool Demand::AllowsModel(const std::string& model) const {
  return gpu_models.empty() ||
         std::find(gpu_models.begin(), gpu_models.end(), model) != gpu_models.end();
}

std::optional<std::string> ValidateDemand(const Demand& d) {
  constexpr int kMaxGpusPerJob = 100000;
  if (d.gpus < 0 || d.gpus > kMaxGpusPerJob)
    return fmt::format("gpus: expected 0..{}, got {}", kMaxGpusPerJob, d.gpus);
  if (d.gpu_milli < 1 || d.gpu_milli > kWholeGpu)
    return fmt::format("gpu_milli: expected 1..1000, got {}", d.gpu_milli);
  if (d.gpu_milli < kWholeGpu && d.gpus != 1)
    return fmt::format("gpu_milli: a fraction of a GPU ({}) needs gpus = 1, got gpus = {}",
                       d.gpu_milli, d.gpus);
  if (d.cpu_milli < 0) return fmt::format("cpu_milli: expected >= 0, got {}", d.cpu_milli);
  if (d.mem_mib < 0) return fmt::format("mem_mib: expected >= 0, got {}", d.mem_mib);
  if (d.tasks < 1 || d.tasks > kMaxGpusPerJob)
    return fmt::format("tasks: expected 1..{}, got {}", kMaxGpusPerJob, d.tasks);
  if (d.tasks > 1 && d.gpus % d.tasks != 0)
    return fmt::format("tasks: {} tasks must divide gpus ({}) evenly", d.tasks, d.gpus);
  return std::nullopt;
}

}  // namespace kojo
