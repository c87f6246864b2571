// FgdExactPlacer ("fgd-exact"): FGD (see fgd.h) without the rounding. FGD
// squashes the fragmentation change through a sigmoid and truncates it to an
// integer 0..100, so nodes whose changes differ by less than about 40 milli
// tie and the tie rank decides. This placer ranks nodes by the exact change
// (FragModel units, no sigmoid), and breaks remaining ties by packing: the
// node left with less free GPU milli wins.
//
// Score = (frag before - frag after) x 2^20 + (2^20 - 1 - free milli after).
// Thread safety: as FgdPlacer.
#pragma once

#include "sched/placers/fgd.h"

namespace kojo {

class FgdExactPlacer : public Placer {
 public:
  static constexpr std::string_view kName = "fgd-exact";
  std::string_view Name() const override { return kName; }
  void Observe(const Demand& demand) override { model_.Add(demand); }
  NodeChoice Score(const NodeSpec& spec, const NodeState& node, const TaskShape& task,
                   Rng& rng) const override;
  bool Deterministic() const override { return true; }

 private:
  FragModel model_;
};

}  // namespace kojo
