// Placer: where one task goes. A placer scores the nodes that can host a task
// (higher is better) and picks the GPUs on the chosen node. Ties between
// nodes go to the lower ClusterSnapshot::tie_rank. Placers are registered by
// name (MakePlacer) and hold no I/O, clock or global state.
#pragma once

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "model/job.h"
#include "model/node.h"

namespace kojo {

using Rng = std::mt19937_64;

// One task: the part of a job that must sit on one node.
struct TaskShape {
  int gpus = 0;                    // GPUs on this node
  MilliGpu gpu_milli = kWholeGpu;  // per GPU (< 1000 only when gpus == 1)
  MilliCpu cpu_milli = 0;
  MiB mem_mib = 0;
  const std::vector<std::string>* models = nullptr;  // allowed; null/empty = any
  const NodeRule* rule = nullptr;  // features, partitions, node lists; null/empty = any
  // Reservations' holds (NodeSpec::hold_*): the job's project and when it
  // would end if it started now (its time limit; kForever without one).
  // ends_by == 0 ignores holds (a look at the empty cluster).
  const std::string* project = nullptr;
  Seconds ends_by = 0;
};

// GPU indices on one node, held inline: placers score every node a task
// fits on, and a heap allocation per node scored cost more than the score.
class GpuList {
 public:
  using value_type = int;
  using iterator = const int*;
  using const_iterator = const int*;
  void push_back(int g) { gpus_[size_++] = g; }  // at most kMaxGpusPerNode
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  int operator[](size_t i) const { return gpus_[i]; }
  const int* begin() const { return gpus_.data(); }
  const int* end() const { return gpus_.data() + size_; }
  std::vector<int> ToVector() const { return {begin(), end()}; }
  friend bool operator==(const GpuList& a, const GpuList& b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }
  friend bool operator==(const GpuList& a, const std::vector<int>& b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

 private:
  std::array<int, kMaxGpusPerNode> gpus_{};
  size_t size_ = 0;
};

// GPUs chosen on one node; `score` ranks nodes (higher wins).
struct NodeChoice {
  std::int64_t score = 0;
  GpuList gpu_indices;
};

// Whether a reservation's hold on `spec` lets `task` use it.
inline bool HoldAllows(const NodeSpec& spec, const TaskShape& task) {
  return spec.hold_start == kForever || task.ends_by <= spec.hold_start ||
         (task.project != nullptr && *task.project == spec.hold_project);
}

// True when `node` can host `task` now: schedulable, the node rule allows
// it, model allowed (GPU tasks only), CPU and memory fit, and enough GPUs with room: `gpus` whole free
// GPUs, or one GPU with at least gpu_milli free for a fraction.
bool Fits(const NodeSpec& spec, const NodeState& node, const TaskShape& task);
// The lowest-numbered GPUs that fit the task (whole), or for a fraction the
// GPU with the least free milli that still fits (best fit). Requires Fits().
GpuList DefaultGpus(const NodeState& node, const TaskShape& task);

class Placer {
 public:
  virtual ~Placer() = default;
  virtual std::string_view Name() const = 0;
  // A job arrived: placers that learn the workload (FGD) update here.
  virtual void Observe(const Demand& demand) { (void)demand; }
  // Scores a node that Fits() the task and picks its GPUs.
  virtual NodeChoice Score(const NodeSpec& spec, const NodeState& node,
                           const TaskShape& task, Rng& rng) const = 0;
  // True when Score() depends on its arguments alone (it draws nothing from
  // `rng`; of the spec it reads only model, GPUs, CPU and memory): a caller
  // may then reuse a score while the node and the task are unchanged and no
  // Observe() came in between.
  virtual bool Deterministic() const { return false; }
};

// Names accepted by MakePlacer, for --help and errors.
std::vector<std::string> PlacerNames();
Result<std::unique_ptr<Placer>> MakePlacer(std::string_view name);

}  // namespace kojo
