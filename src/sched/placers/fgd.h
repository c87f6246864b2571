// Fragmentation Gradient Descent (Weng et al., "Beware of Fragmentation:
// Scheduling GPU-Sharing Workloads with Fragmentation Gradient Descent",
// USENIX ATC'23).
//
// FragModel learns the workload: every observed task counts for its type,
// the distinct (cpu_milli, gpu_milli, gpus, allowed models) (memory ignored,
// CPU-only tasks included). The most frequent types are kept until they cover
// 95% of the tasks; each weighs count / (tasks of the kept types). A node's
// fragmentation for one type is
//   - all its free GPU milli if the type is CPU-only, its model is not
//     allowed, or it cannot host the type (less CPU free than the type asks,
//     or fewer than `gpus` GPUs with gpu_milli free);
//   - otherwise the free milli on the GPUs too small for the type.
// The node's fragmentation is the weighted sum over the kept types. FragModel
// keeps it in integers: Frag() returns the sum of count x milli, so the
// weighted value is Frag() / KeptCount().
//
// FgdPlacer scores a node by how little the placement grows fragmentation:
//   score = floor(100 x sigmoid((frag before - frag after) / 1000))
// A fractional task tries every GPU that fits and takes the first one that
// reaches the node's best score; whole GPUs are the lowest-numbered free
// ones. Scores tie often (integers, squashed): the tie rank decides.
//
// Thread safety: Score() is const but fills lazily built caches; use one
// placer from one thread at a time. Observe() invalidates cached scores.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "sched/placer.h"

namespace kojo {

class FragModel {
 public:
  struct Type {
    int gpus = 0;
    MilliGpu gpu_milli = 0;  // 0 for CPU-only types
    MilliCpu cpu_milli = 0;
    std::vector<std::string> models;  // allowed; empty = any
    std::int64_t count = 0;
  };

  // Coverage of the kept types, in percent of the observed tasks.
  static constexpr int kCoveragePercent = 95;

  // One task of this shape arrived. A demand of several tasks counts as
  // `tasks` tasks of gpus / tasks GPUs and cpu_milli / tasks each.
  void Add(const Demand& demand);
  bool empty() const { return observed_ == 0; }

  // The kept types, most frequent first (ties: first observed first).
  const std::vector<Type>& Types() const;
  // Tasks of the kept types: the denominator of the weights.
  std::int64_t KeptCount() const;

  // Sum over kept types of count x fragmentation (milli-GPU) of a node with
  // model `model`, `cpu_free` milli-CPU and the given free milli per GPU.
  std::int64_t Frag(const std::string& model, MilliCpu cpu_free, const MilliGpu* gpu_free,
                    int gpus) const;

 private:
  struct Key {
    int gpus;
    MilliGpu gpu_milli;
    MilliCpu cpu_milli;
    std::string models;  // '|'-joined
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  void Rebuild() const;
  const std::vector<char>& Allowed(const std::string& model) const;

  std::unordered_map<Key, size_t, KeyHash> index_;  // key -> all_ position
  std::vector<Type> all_;                           // in first-observed order
  std::int64_t observed_ = 0;
  // Lazily rebuilt from all_:
  mutable bool dirty_ = true;
  mutable std::vector<Type> kept_;
  mutable std::int64_t kept_count_ = 0;
  mutable std::unordered_map<std::string, std::vector<char>> allowed_;  // model -> per kept type
};

// floor(100 x sigmoid(delta / (kept x 1000))): FGD's score of a fragmentation
// change `delta` (before - after, in FragModel::Frag units).
std::int64_t FgdSigmoidScore(std::int64_t delta, std::int64_t kept);

class FgdPlacer : public Placer {
 public:
  std::string_view Name() const override { return "fgd"; }
  void Observe(const Demand& demand) override { model_.Add(demand); }
  NodeChoice Score(const NodeSpec& spec, const NodeState& node, const TaskShape& task,
                   Rng& rng) const override;
  bool Deterministic() const override { return true; }
  const FragModel& model() const { return model_; }

 private:
  FragModel model_;
};

}  // namespace kojo
