// The rows of `kojo queue`: one per job, except that adjacent tasks of one
// array that wait alike (all PENDING or all HELD, for the same reason) fold
// into one row, the way squeue shows a pending array ("12_[0-3,7,10-20:2]").
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "api/types.h"

namespace kojo::cli {

// jobs[first .. first + count) make one row.
struct QueueGroup {
  size_t first = 0;
  size_t count = 1;
};

// Groups `jobs` (in the order listed) into rows. `reason` is what the row
// shows for a waiting job; tasks fold only while it is the same.
std::vector<QueueGroup> FoldArrayTasks(const std::vector<api::JobView>& jobs,
                                       const std::function<std::string(const api::JobView&)>& reason);

// Sorted, distinct indices in array-spec form: runs of three or more with
// one step become "a-b" or "a-b:step", the rest stay single ("0-3,7,10-20:2").
std::string IndexRanges(const std::vector<int>& indices);

}  // namespace kojo::cli
