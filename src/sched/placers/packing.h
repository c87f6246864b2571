// PackingPlacer: GPU packing (the "GpuPacking" baseline of the FGD paper,
// Weng et al., ATC'23). Prefers, in this order:
//   1. GPUs already shared: 100 - (free share of the GPUs it takes, in
//      percent, summed) / 10, at least 50;
//   2. whole free GPUs on a node already in use: 50 - GPUs taken, at least 33;
//   3. a node with every GPU free: max(33 - its GPUs, its GPUs).
// So empty nodes stay empty as long as anything else fits. A CPU-only task
// scores 0 everywhere (the tie rank decides). GPUs: DefaultGpus.
// Thread safety: stateless.
#pragma once

#include "sched/placer.h"

namespace kojo {

class PackingPlacer : public Placer {
 public:
  std::string_view Name() const override { return "packing"; }
  NodeChoice Score(const NodeSpec& spec, const NodeState& node, const TaskShape& task,
                   Rng& rng) const override;
  bool Deterministic() const override { return true; }
};

}  // namespace kojo
