// Job: what a user asks for. Value types only.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/node.h"
#include "model/node_rule.h"
#include "model/units.h"

namespace kojo {

// What one job needs. A job asks either for `gpus` whole GPUs (gpu_milli ==
// 1000), for a fraction of one GPU (gpus == 1, gpu_milli < 1000), or for no
// GPU at all (gpus == 0).
//
// `tasks` is the gang size. With tasks == 1 the job's GPUs may be split over
// as few nodes as possible (same node first), like a data-parallel job that
// starts one worker per node it lands on. With tasks == k > 1 the job is k
// tasks of gpus / k GPUs each, every task on one node, placed all together or
// not at all; tasks that fit on one node may share it (they then run as one
// task there), unless `distinct_nodes` asks for a node of its own for each
// (Slurm's -N: exactly k nodes). CPUs and memory are totals for the job,
// shared out over its nodes in proportion to the GPUs each holds.
struct Demand {
  int gpus = 0;
  MilliGpu gpu_milli = kWholeGpu;  // share of each GPU taken
  MilliCpu cpu_milli = 0;
  MiB mem_mib = 0;
  int tasks = 1;
  bool distinct_nodes = false;  // every task on a node of its own
  std::vector<std::string> gpu_models;  // allowed GPU models; empty = any
  NodeRule nodes;  // features, partitions, node lists; empty = any node

  bool Fractional() const { return gpus == 1 && gpu_milli < kWholeGpu; }
  // Total GPU demand in milli-GPUs.
  std::int64_t TotalGpuMilli() const {
    return static_cast<std::int64_t>(gpus) * gpu_milli;
  }
  bool AllowsModel(const std::string& model) const;
  // The node's GPU model (GPU jobs) and the node rule allow it.
  bool AllowsNode(const NodeSpec& spec) const {
    return (gpus == 0 || AllowsModel(spec.gpu_model)) && RentAllows(&nodes, spec) &&
           (nodes.Empty() || nodes.Allows(spec));
  }
};

struct Job {
  JobId id = 0;
  std::string name;
  std::string project;
  std::string user;
  Demand demand;
  Seconds submit_time = 0;
  std::optional<Seconds> time_limit;  // the user's bound on run time
  // Known only to the simulator (the trace's true run time): oracle policies
  // such as sjf may read it; the live controller leaves it empty.
  std::optional<Seconds> true_duration;
};

// True when `allowed` is empty or names `model`. GPU model names compare
// without regard to case ("a100" = "A100"), as users type them both ways.
bool GpuModelAllowed(const std::vector<std::string>& allowed, std::string_view model);

// Checks a demand for values no cluster can ever serve (negative counts,
// fractions of several GPUs, gangs that do not divide the GPUs). The message
// names the field and what was expected.
std::optional<std::string> ValidateDemand(const Demand& d);

}  // namespace kojo
