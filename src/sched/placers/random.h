// RandomPlacer: a node chosen uniformly at random among those that fit, and
// for a fraction of a GPU, a GPU chosen uniformly among those with room
// (whole GPUs: the lowest-numbered free ones). The "Random" baseline of the
// FGD paper (Weng et al., ATC'23). Every feasible node gets an independent
// draw over 0..2^62-1 as its score, so ties (and with them the tie rank)
// practically never decide.
// Thread safety: stateless; the caller's `rng` is the only thing it touches.
#pragma once

#include "sched/placer.h"

namespace kojo {

class RandomPlacer : public Placer {
 public:
  std::string_view Name() const override { return "random"; }
  NodeChoice Score(const NodeSpec& spec, const NodeState& node, const TaskShape& task,
                   Rng& rng) const override;
};

}  // namespace kojo
