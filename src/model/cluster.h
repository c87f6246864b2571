// Cluster shapes: inline specs ("16x4xT4", "2x8xA100+4x4xT4") or a node CSV.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "model/node.h"

namespace kojo {

// Parses "COUNTxGPUSxMODEL[+...]" into nodes named "<model>-<n>" (lower
// case). Each GPU brings 12 CPUs and 96 GiB of host memory unless the spec
// says otherwise with ":cpu=N:mem=GiB" after a group, e.g. "4x8xH100:cpu=96:mem=1024".
// Errors name the group and what was expected.
Result<std::vector<NodeSpec>> ParseClusterSpec(std::string_view spec);

// Reads a node CSV with a header. Columns (any order): name or sn, gpu or
// gpus, model or gpu_model, cpu_milli, memory_mib or mem_mib; optional
// gpu_mem_mib. Errors are "file:line: what was expected".
Result<std::vector<NodeSpec>> ReadNodeCsv(const std::string& path);

// ParseClusterSpec, or ReadNodeCsv when `spec` names an existing file.
Result<std::vector<NodeSpec>> LoadCluster(const std::string& spec);

int TotalGpus(const std::vector<NodeSpec>& nodes);

}  // namespace kojo
