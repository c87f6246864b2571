#include "sched/placer.h"

#include <algorithm>

#include <fmt/format.h>

#include "sched/placers/bestfit.h"
#include "sched/placers/fgd.h"
#include "sched/placers/fgd_pack.h"
#include "sched/placers/fgd_plus.h"
#include "sched/placers/packing.h"
#include "sched/placers/random.h"

namespace kojo {

namespace {

bool ModelAllowed(const NodeSpec& spec, const TaskShape& task) {
  if (task.gpus == 0 || task.models == nullptr || task.models->empty()) return true;
  return GpuModelAllowed(*task.models, spec.gpu_model);
}

}  // namespace

bool Fits(const NodeSpec& spec, const NodeState& node, const TaskShape& task) {
  if (!node.schedulable) return false;
  if (!spec.provider.empty() && !RentAllows(task.rule, spec)) return false;
  if (!HoldAllows(spec, task)) return false;
  if (task.rule != nullptr && !task.rule->Empty() && !task.rule->Allows(spec)) return false;
  if (node.cpu_free < task.cpu_milli || node.mem_free < task.mem_mib) return false;
  if (task.gpus == 0) return true;
  if (task.gpus > node.gpus || !ModelAllowed(spec, task)) return false;
  // `gpus` GPUs with at least gpu_milli free each: whole free GPUs when
  // gpu_milli is 1000, one GPU with room for the fraction otherwise.
  int room = 0;
  for (int i = 0; i < node.gpus; ++i) room += node.gpu_free[i] >= task.gpu_milli;
  return room >= task.gpus;
}

GpuList DefaultGpus(const NodeState& node, const TaskShape& task) {
  GpuList out;
  if (task.gpus == 0) return out;
  if (task.gpus == 1 && task.gpu_milli < kWholeGpu) {
    int best = -1;
    for (int i = 0; i < node.gpus; ++i)
      if (node.gpu_free[i] >= task.gpu_milli && (best < 0 || node.gpu_free[i] < node.gpu_free[best]))
        best = i;
    if (best >= 0) out.push_back(best);
    return out;
  }
  for (int i = 0; i < node.gpus && static_cast<int>(out.size()) < task.gpus; ++i)
    if (node.gpu_free[i] >= task.gpu_milli) out.push_back(i);
  return out;
}

std::vector<std::string> PlacerNames() {
  return {"random", "bestfit", "packing", "fgd", std::string(FgdPackPlacer::kName),
          std::string(FgdPlusPlacer::kName)};
}

Result<std::unique_ptr<Placer>> MakePlacer(std::string_view name) {
  std::unique_ptr<Placer> p;
  if (name == "random") p = std::make_unique<RandomPlacer>();
  else if (name == "bestfit") p = std::make_unique<BestFitPlacer>();
  else if (name == "packing") p = std::make_unique<PackingPlacer>();
  else if (name == "fgd") p = std::make_unique<FgdPlacer>();
  else if (name == FgdPackPlacer::kName) p = std::make_unique<FgdPackPlacer>();
  else if (name == FgdPlusPlacer::kName) p = std::make_unique<FgdPlusPlacer>();
  if (p) return p;
  std::string known;
  for (const auto& n : PlacerNames()) known += (known.empty() ? "" : ", ") + n;
  return Error{ErrorCode::kNotFound,
               fmt::format("unknown placer '{}': expected one of {}", name, known)};
}

}  // namespace kojo
