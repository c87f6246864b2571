// Integer units used throughout kojo. No floating point in resource
// arithmetic: GPUs are counted in milli-GPUs, CPUs in milli-CPUs, memory in
// MiB and time in whole seconds.
#pragma once

#include <cstdint>

namespace kojo {

using Seconds = std::int64_t;   // a duration or a point on a clock, in s
using MilliGpu = std::int32_t;  // 1000 = one whole GPU
using MilliCpu = std::int64_t;  // 1000 = one CPU core
using MiB = std::int64_t;       // memory
using JobId = std::int64_t;
using NodeIndex = std::int32_t;  // position of a node in a ClusterSnapshot

inline constexpr MilliGpu kWholeGpu = 1000;
// The most GPUs kojo models on one node (a DGX-2 / HGX-2 has 16).
inline constexpr int kMaxGpusPerNode = 16;
// A sentinel-free "no time": use std::optional<Seconds> in interfaces; this
// constant only bounds arithmetic (about 292 billion years).
inline constexpr Seconds kForever = INT64_MAX / 4;

}  // namespace kojo
