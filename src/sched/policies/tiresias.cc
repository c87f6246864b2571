// Tiresias (Gu et al., "Tiresias: A GPU Cluster Manager for Distributed Deep
// Learning", NSDI'19), discretized 2D-LAS:
//  - a job's attained service is GPUs x time run, over all its runs;
//  - K priority queues split by thresholds on attained service; a job starts
//    in queue 0 and is demoted as it crosses each threshold;
//  - inside a queue, first come first served (by submit time);
//  - starvation: a pending job that has waited longer than starve_factor x
//    its last run (starve_min_s if it never ran) is promoted to queue 0;
//  - preemptive: a job in a better queue may preempt jobs in worse queues.
// It needs no job durations.
#include <algorithm>

#include "sched/policies/policies.h"

namespace kojo {

namespace {

class TiresiasPolicy final : public Policy {
 public:
  explicit TiresiasPolicy(const PolicyConfig& c)
      : thresholds_(c.tiresias_thresholds),
        starve_factor_(c.tiresias_starve_factor),
        starve_min_s_(c.tiresias_starve_min_s) {
    std::sort(thresholds_.begin(), thresholds_.end());
  }
  std::string_view Name() const override { return "tiresias"; }
  bool Preemptive() const override { return true; }

  PriorityKey Key(const JobEntry& e, Seconds now) const override {
    Seconds attained = e.attained_gpu_s;
    const bool running = !e.allocation.shares.empty();
    if (running) attained += (now - e.started) * std::max(1, e.job->demand.gpus);
    std::int64_t queue = 0;
    while (queue < static_cast<std::int64_t>(thresholds_.size()) && attained >= thresholds_[queue])
      ++queue;
    if (!running && queue > 0) {
      const Seconds waited = now - e.queued_since;
      const Seconds limit = e.last_run_s > 0
          ? static_cast<Seconds>(starve_factor_ * static_cast<double>(e.last_run_s))
          : starve_min_s_;
      if (waited >= std::max<Seconds>(limit, 1)) queue = 0;
    }
    return {queue, e.job->submit_time, 0};
  }

 private:
  std::vector<Seconds> thresholds_;
  double starve_factor_;
  Seconds starve_min_s_;
};

}  // namespace

std::unique_ptr<Policy> MakeTiresiasPolicy(const PolicyConfig& config) {
  return std::make_unique<TiresiasPolicy>(config);
}

}  // namespace kojo
