// Slurm's environment for a kojo task: the SLURM_* variables that job
// scripts commonly read, from the job's view and placement (docs/api.md,
// "A task's environment", lists them and what differs from Slurm).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/types.h"
#include "common/result.h"

namespace kojo::api {

// `hosts` in Slurm's hostlist form, kept in their order: runs of names
// with one prefix and consecutive numeric suffixes become ranges, and
// neighbouring names with one prefix share a bracket, so that
// {gpu01, gpu02, gpu03, gpu07, cpu1} is "gpu[01-03,07],cpu1". Zero padding
// is kept ("n[09-10]"); a name without a numeric suffix stays as it is.
std::string CompressHostlist(const std::vector<std::string>& hosts);

// The names of a hostlist ("gpu[01-03,07],cpu1"), in order, zero padding
// kept; an error names what is wrong. At most `max_hosts` names.
Result<std::vector<std::string>> ExpandHostlist(std::string_view text, size_t max_hosts = 100000);

// "1(x3)" for {1, 1, 1}; "2(x2),1" for {2, 2, 1}: Slurm's
// SLURM_TASKS_PER_NODE form of a count per node.
std::string TasksPerNode(const std::vector<int>& counts);

// The SLURM_* variables of task `rank` of `v` (placement set, rank a valid
// index into it).
std::map<std::string, std::string> SlurmEnv(const JobView& v, int rank);

}  // namespace kojo::api
