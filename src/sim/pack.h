// The FGD packing experiment (Weng et al., "Beware of Fragmentation:
// Scheduling GPU-Sharing Workloads with Fragmentation Gradient Descent",
// USENIX ATC'23, Fig. 9a) on the Alibaba PAI openb traces
// (alibaba/clusterdata, cluster-trace-gpu-v2023). Not a time simulation: pods
// arrive one at a time, never leave, and a pod that fits nowhere fails and is
// dropped. It measures how much of the cluster's GPU capacity a placer gets
// allocated before fragmentation stops it.
//
// Contract of RunPack(input, placer, seed, inflate):
//  - The node list is the cluster. The pods are sorted by name (stable), then
//    shuffled with the seed. Their demand is tuned to `inflate` x the
//    cluster's GPU milli: copies of pods drawn uniformly with replacement from
//    the sorted list are appended until the next copy would take the total
//    requested GPU milli (num_gpu x gpu_milli) above the target; a list that
//    already asks for more loses pods drawn at random until it does not.
//  - Feasible node: CPU and memory fit beside what is placed there; num_gpu =
//    1 needs one GPU with gpu_milli free; num_gpu >= 2 needs that many whole
//    free GPUs; a non-empty gpu_spec must name the node's model (GPU pods
//    only). The placer (by name, see MakePlacer) scores every feasible node
//    through Placer::Score, the very same code the scheduler runs; the
//    highest score wins and ties go to the node first in a random permutation
//    of the nodes drawn once per seed. The placer's Observe() sees every pod
//    of the original (not tuned) list, in name order, before the first
//    arrival.
//  - Metric: after each arrival, arrived% = 100 x GPU milli requested by all
//    pods so far (failed ones included) / cluster GPU milli, and alloc% = 100
//    x GPU milli allocated / cluster GPU milli. The curve's value at integer
//    k is the mean alloc% of the arrivals whose arrived% rounds (half up) to
//    k; a k that no arrival rounds to takes the alloc% in force when the
//    arrivals crossed it. alloc_at_100 is the curve at 100.
//  - Same input, placer, seed and inflate: the same result on every platform
//    (every draw is a plain function of std::mt19937_64's output).
//  - Errors: an unknown placer, a cluster without GPUs, inflate outside
//    (0, 100], or a placer that returns GPUs that do not fit.
// Thread safety: RunPack shares nothing; calls may run in parallel.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "model/node.h"

namespace kojo {

// One pod of an openb pod list.
struct PackPod {
  std::string name;
  MilliCpu cpu_milli = 0;
  MiB mem_mib = 0;
  int num_gpu = 0;
  MilliGpu gpu_milli = 0;              // per GPU; 0 when num_gpu == 0
  std::vector<std::string> gpu_spec;  // allowed models; empty = any
  std::int64_t GpuMilli() const { return static_cast<std::int64_t>(num_gpu) * gpu_milli; }
};

struct PackInput {
  std::vector<NodeSpec> nodes;
  std::vector<PackPod> pods;
};

// Reads an openb node list: columns sn (or name), cpu_milli, memory_mib, gpu,
// model (any order; others ignored). Errors are "file:line: what was
// expected": missing column, non-numeric or out-of-range value (CPU up to
// 100,000 cores, memory up to 1 PiB, GPUs 0..16), duplicate name, no rows.
Result<std::vector<NodeSpec>> ReadPackNodes(const std::string& path);
// Reads an openb pod list: columns name, cpu_milli, memory_mib, num_gpu,
// gpu_milli and, when present, gpu_spec ('|'-separated models; the
// multigpu* files lack it). num_gpu is 0..16, gpu_milli 1..1000 for GPU pods
// and exactly 1000 when num_gpu >= 2 (ignored for CPU-only pods).
Result<std::vector<PackPod>> ReadPackPods(const std::string& path);
Result<PackInput> ReadPackInput(const std::string& nodes_path, const std::string& pods_path);

struct PackPoint {
  int arrived_pct = 0;     // k
  double alloc_pct = 0;    // mean alloc% of the arrivals at k
};

struct PackResult {
  double alloc_at_100 = 0;   // percent; the final alloc% if arrivals stop short of 100%
  bool reached_100 = false;  // some arrival's arrived% rounded to 100 or more
  std::vector<PackPoint> curve;  // k = 0, 1, ... up to the last arrival's k
  std::int64_t pods_original = 0;  // in the pod list
  std::int64_t pods_arrived = 0;   // after tuning to `inflate`
  std::int64_t pods_failed = 0;    // arrived but fitted nowhere
  std::int64_t cluster_gpu_milli = 0;
  std::int64_t requested_gpu_milli = 0;  // by all arrivals
  std::int64_t allocated_gpu_milli = 0;  // at the end
};

inline constexpr double kDefaultPackInflate = 1.3;

Result<PackResult> RunPack(const PackInput& input, std::string_view placer, std::uint64_t seed,
                           double inflate = kDefaultPackInflate);

}  // namespace kojo
