// Synthetic workloads for experiments that need a controlled overload, such
// as fair share across programmes: every project submits a seeded stream of
// jobs whose GPU demand alone would keep `load` times the cluster busy.
// Deterministic for a seed. Value types only; no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/job.h"

namespace kojo {

struct SyntheticSpec {
  std::vector<std::string> projects;  // one stream each
  int cluster_gpus = 64;
  double load = 1.5;               // each project's demand / cluster capacity
  Seconds horizon_s = 4 * 86400;   // submits in [0, horizon)
  Seconds min_duration_s = 1800;   // durations uniform in [min, max]
  Seconds max_duration_s = 4 * 3600;
  std::uint64_t seed = 42;
};

// Jobs of 1, 2 or 4 GPUs (1 most often), time limit = true duration,
// sorted by submit time, ids from 1. Users: two per project.
std::vector<Job> SyntheticWorkload(const SyntheticSpec& spec);

}  // namespace kojo
