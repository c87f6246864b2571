// Placing a whole job: splits it into tasks and asks a Placer where each goes.
//  - one task (tasks == 1): one node if any can host all its GPUs; otherwise
//    (whole GPUs only) as few nodes as possible: the nodes with the most free
//    GPUs first, the last part on the node the placer likes best;
//  - a gang (tasks == k > 1): k tasks of gpus/k GPUs, each on one node, nodes
//    already holding a task of this job first, all or nothing.
// CPUs and memory are shared out over the nodes in proportion to GPUs.
// `candidates`, when given, lists the only nodes worth looking at for a job
// that needs GPUs (those with some GPU free), so that a pass over a busy
// cluster does not scan full nodes; it may hold full nodes too.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sched/placer.h"
#include "sched/snapshot.h"

namespace kojo {

// `now`, when given, makes reservations' holds apply (NodeSpec::hold_*):
// the job must end (by its time limit) before a hold of another project
// starts; without it holds are ignored (a look at the empty cluster).
std::optional<Allocation> PlaceJobOn(const std::vector<NodeSpec>& specs,
                                     const std::vector<int>& tie_rank,
                                     const std::vector<NodeState>& nodes, const Job& job,
                                     const Placer& placer, Rng& rng,
                                     const std::vector<int>* candidates = nullptr,
                                     std::optional<Seconds> now = std::nullopt);

// Why `job` can never run on the snapshot's cluster (even empty), or
// nullopt: it has no placement on the empty cluster (Scheduler::Infeasible).
std::optional<std::string> NeverFits(const ClusterSnapshot& snapshot, const Job& job, const Placer& placer);

}  // namespace kojo
