#include "model/job.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace kojo {

bool GpuModelAllowed(const std::vector<std::string>& allowed, std::string_view model) {
  auto same = [&](const std::string& a) {
    return a.size() == model.size() &&
           std::equal(a.begin(), a.end(), model.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
  };
  return allowed.empty() || std::any_of(allowed.begin(), allowed.end(), same);
}

bool Demand::AllowsModel(const std::string& model) const { return GpuModelAllowed(gpu_models, model); }

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
  if (d.distinct_nodes && d.tasks < 2)
    return fmt::format("distinct_nodes: needs tasks of 2 or more, got tasks = {}", d.tasks);
  if (d.tasks > 1 && d.gpus % d.tasks != 0)
    return fmt::format("tasks: {} tasks must divide gpus ({}) evenly", d.tasks, d.gpus);
  return std::nullopt;
}

}  // namespace kojo
