// Policy: the order of the queue, and whether running jobs may be preempted
// for jobs ahead of them. Policies are registered by name (MakePolicy); each
// keeps its settings from construction and reads nothing global.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "sched/snapshot.h"

namespace kojo {

// Lexicographic priority: smaller runs first. The scheduler appends the job
// id as the last tie-break, so equal keys are ordered deterministically.
using PriorityKey = std::array<std::int64_t, 3>;

class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::string_view Name() const = 0;
  // Called once per scheduling pass before Key(), e.g. to rank projects.
  virtual void Prepare(const ClusterSnapshot& snapshot, Seconds now) {
    (void)snapshot; (void)now;
  }
  // Priority of a pending or running job at `now`.
  virtual PriorityKey Key(const JobEntry& job, Seconds now) const = 0;
  // True if running jobs with a worse key may be preempted for better ones.
  virtual bool Preemptive() const { return false; }
};

// Settings of every policy, declared once with their defaults.
struct PolicyConfig {
  // tiresias (Gu et al., NSDI'19): attained-service thresholds between the
  // priority queues in GPU-seconds (K = thresholds + 1 queues).
  std::vector<Seconds> tiresias_thresholds = {3600, 36000};
  // A job waiting longer than starve_factor x its last run (or than
  // starve_min_s if it never ran) goes back to the top queue.
  double tiresias_starve_factor = 8.0;
  Seconds tiresias_starve_min_s = 4 * 3600;
  // fairshare: configured shares per project (absent = 1), and per user
  // inside a project (absent = 1). Usage comes from ClusterSnapshot::usage.
  std::unordered_map<std::string, double> project_shares;
};

std::vector<std::string> PolicyNames();
Result<std::unique_ptr<Policy>> MakePolicy(std::string_view name, const PolicyConfig& config = {});

}  // namespace kojo
