// FgdPackPlacer ("fgd-pack"): FGD (see fgd.h) with a packing tie-break.
//
// FGD's score is an integer 0..100 (a truncated sigmoid of the change in
// fragmentation), so many nodes tie and the tie rank picks among them. This
// placer keeps FGD's score and its GPU choice as they are and only orders the
// tied nodes, before the tie rank:
//   - a GPU task prefers a node where some GPU is already in use, so that
//     whole empty nodes stay empty for multi-GPU tasks and fractions gather
//     on GPUs that are already split;
//   - a CPU-only task prefers the node with the least free GPU milli (ideally
//     a node whose GPUs are all taken), then a node in use: its CPU is then
//     taken where it strands no GPU.
// It keeps one arrival at a time, no retries and the same tie rank, but its
// score goes beyond the 0..100 range the FGD experiment gives every policy
// (a second level below FGD's), so its packing figures (docs/results.md,
// section 2) are a variant of that experiment, not a result under its rules.
//
// Score = FGD score x 2^24 + tie-break (0 .. 2^24 - 1).
// Thread safety: as FgdPlacer.
#pragma once

#include "sched/placers/fgd.h"

namespace kojo {

class FgdPackPlacer : public Placer {
 public:
  static constexpr std::string_view kName = "fgd-pack";
  static constexpr std::int64_t kTieRange = std::int64_t{1} << 24;

  std::string_view Name() const override { return kName; }
  void Observe(const Demand& demand) override { fgd_.Observe(demand); }
  NodeChoice Score(const NodeSpec& spec, const NodeState& node, const TaskShape& task,
                   Rng& rng) const override;
  bool Deterministic() const override { return true; }

 private:
  FgdPlacer fgd_;
};

}  // namespace kojo
