// Retention (ControllerConfig::keep_ended_s): ended jobs are forgotten --
// from memory and from the store -- once they ended that long ago, and an
// idempotency key with them once every job it created is gone. Array tasks
// are kept (their array's stored template would bring them back). The
// usage records of runs that old are accounting: they are merged, one per
// day and (project, user, grant, GPU model), not dropped
// (GrantLedger::Compact; docs/kojod.md, "Retention").
#include <fmt/format.h>

#include "controller/controller.h"

namespace kojo::controller {

namespace {
constexpr size_t kMaxPurgedPerPass = 10000;  // bounds one write
}  // namespace

size_t Controller::PurgeEnded(Seconds now) {
  if (config_.keep_ended_s <= 0) return 0;
  for (store::DocRow& row : ledger_.Compact(now - config_.keep_ended_s)) batch_.docs.push_back(std::move(row));
  size_t purged = 0;
  for (auto it = jobs_.begin(); it != jobs_.end() && purged < kMaxPurgedPerPass;) {
    const api::JobView& v = it->second.view;
    if (!api::IsTerminal(v.state) || !v.end_time || *v.end_time + config_.keep_ended_s > now || v.array_id) {
      ++it;
      continue;
    }
    batch_.jobs.push_back(store::JobRow{it->first, "", "", /*deleted=*/true});
    it = jobs_.erase(it);
    ++purged;
  }
  if (purged == 0) return 0;
  for (auto it = keys_.begin(); it != keys_.end();) {
    bool gone = !it->second.first.empty();
    for (JobId id : it->second.first) gone = gone && !jobs_.count(id) && !arrays_.Contains(id);
    if (!gone) {
      ++it;
      continue;
    }
    batch_.keys.push_back(store::KeyRow{it->first, {}, /*deleted=*/true});
    it = keys_.erase(it);
  }
  counters_.jobs_purged += purged;
  return purged;
}

}  // namespace kojo::controller
