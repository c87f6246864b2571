// Node: a machine with CPUs, memory and GPUs of one model.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "model/units.h"

namespace kojo {

struct NodeSpec {
  std::string name;
  std::string gpu_model;  // "H100", "A100", "T4", ... any name; "" if no GPUs
  int gpus = 0;           // 0..kMaxGpusPerNode
  MilliCpu cpu_milli = 0;
  MiB mem_mib = 0;
  MiB gpu_mem_mib = 0;    // memory of one GPU, 0 if unknown
  // Node features (NodeFeatures: lower case, sorted; the GPU model always
  // counts as one) and the partitions that hold the node (PartitionsOf).
  std::vector<std::string> features;
  std::vector<std::string> partitions;
  // Rented nodes (model/rent.h): the provider ("" = owned by the pool) and
  // the account that pays for it; only jobs of that account run there.
  std::string provider;
  std::string rent_account;
  // A reservation's hold (model/reservation.h; the cluster state sets it
  // before each pass): from hold_start to hold_end only jobs of
  // hold_project may use the node, and before it only jobs that end by
  // hold_start. hold_start == kForever: no hold.
  std::string hold_project;
  std::string hold_name;
  Seconds hold_start = kForever;
  Seconds hold_end = kForever;
};

// The free resources of one node at one moment. Value type, cheap to copy
// (no heap), so the scheduler can plan on a scratch copy of the cluster.
struct NodeState {
  MilliCpu cpu_free = 0;
  MiB mem_free = 0;
  int gpus = 0;                                 // GPUs installed
  std::array<MilliGpu, kMaxGpusPerNode> gpu_free{};  // free milli per GPU
  bool schedulable = true;                      // false while drained or down

  static NodeState Empty(const NodeSpec& spec) {
    NodeState s;
    s.cpu_free = spec.cpu_milli;
    s.mem_free = spec.mem_mib;
    s.gpus = spec.gpus;
    for (int i = 0; i < spec.gpus; ++i) s.gpu_free[i] = kWholeGpu;
    return s;
  }
  int WholeGpusFree() const {
    int n = 0;
    for (int i = 0; i < gpus; ++i) n += gpu_free[i] == kWholeGpu;
    return n;
  }
  MilliGpu GpuMilliFree() const {
    MilliGpu n = 0;
    for (int i = 0; i < gpus; ++i) n += gpu_free[i];
    return n;
  }
};

}  // namespace kojo
