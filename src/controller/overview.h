// GET /api/v1/overview: the whole cluster in one small answer, for the
// dashboard's heat map and counters: how many jobs the caller may see in
// each state, and each node's GPUs with the jobs that hold them (ids only,
// and no id for a job the caller may not see). One walk over the jobs under
// the controller's lock, without copying any of them, so that it stays
// cheap with 10,000 jobs and 1,000 nodes (docs/results.md, "dashboard").
#pragma once

#include <functional>

#include "api/codec.h"
#include "controller/controller.h"

namespace kojo::controller {

// `visible(job)`: whether the caller may see that job.
api::Json Overview(const Controller& c, const std::function<bool(const api::JobView&)>& visible);

}  // namespace kojo::controller
