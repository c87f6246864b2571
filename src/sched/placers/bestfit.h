// BestFitPlacer: prefers the node left with the least CPU and GPU after the
// task is placed (the "BestFit" baseline of the FGD paper, Weng et al.,
// ATC'23):
//
//   score = floor(100 x (1 - 0.5 x cpu_left / kRefCpu - 0.5 x gpu_left / kRefGpu))
//
// where cpu_left is the node's free milli-CPU after placing and gpu_left its
// free milli-GPU (all GPUs summed) after placing. The reference sizes are the
// largest node of the Alibaba openb cluster, as in the paper's artifact:
// 128 CPUs (128,000 milli) and 8 GPUs (8,000 milli). They are fixed, not the
// node's own capacity, so that a small node half full is not "as full" as a
// big node half full: the score compares leftovers across nodes. A node larger
// than the reference uses its own size instead, which keeps the score within
// 0..100. Exact integer arithmetic (no rounding at integer boundaries).
//
// GPUs: whole GPUs are the lowest-numbered free ones; a fraction takes the GPU
// with the least free milli that still fits (DefaultGpus).
// Thread safety: stateless.
#pragma once

#include "sched/placer.h"

namespace kojo {

class BestFitPlacer : public Placer {
 public:
  static constexpr MilliCpu kRefCpu = 128'000;
  static constexpr MilliGpu kRefGpu = 8'000;

  std::string_view Name() const override { return "bestfit"; }
  NodeChoice Score(const NodeSpec& spec, const NodeState& node, const TaskShape& task,
                   Rng& rng) const override;
  bool Deterministic() const override { return true; }
};

}  // namespace kojo
