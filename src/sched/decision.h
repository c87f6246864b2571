// Decisions: the typed answer of one scheduling pass. "Not now" (Wait) and
// "never" (Reject) are different answers.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sched/snapshot.h"

namespace kojo {

enum class WaitReason {
  kPriority,   // jobs ahead of it in the queue take the resources
  kResources,  // it is next, but what it needs is not free yet
  kPreempting, // it will start once the jobs being preempted have left
  kQuota,      // its project is at its GPU limit (guaranteed + borrowable)
  kGrant,      // its project's grants have too little left for its reservation
  // Given by the cluster state around the scheduler (state/cluster_state.h):
  kArrayLimit, // its array runs as many tasks at once as its "%N" allows
  kNodeDrain,  // only nodes being drained (or drained) could run it
  kNodeDown,   // only nodes that are down could run it
  kReservation,  // what it could use now is held by a reservation of another project
};
std::string_view ToString(WaitReason r);

struct Place {
  JobId job = 0;
  Allocation allocation;
  bool backfilled = false;  // started ahead of the reserved head job
};
struct Preempt {
  JobId job = 0;
  std::string reason;
};
// How far an estimated start can be trusted.
enum class EstimateConfidence {
  kNone,        // no estimate: what it waits for has no time limit, or no plan fits it
  kUpperBound,  // from the time limits of every job it waits for: it starts by
                // then unless a job of a higher priority arrives
  kPartial,     // an estimate exists, but some jobs ahead of it have no time
                // limit (their GPU-hours are not counted; they may delay it)
};
std::string_view ToString(EstimateConfidence c);

struct Wait {
  JobId job = 0;
  WaitReason reason = WaitReason::kPriority;
  // What it waits for, in a sentence; empty for a Priority wait, whose
  // sentence WaitMessage composes from the counts below when asked (an
  // explaining pass gives thousands of them and most are never read).
  std::string message;
  std::optional<Seconds> estimated_start;  // from the plan (reservations), if known
  // Jobs ahead of it in the queue that are still waiting to start (Priority
  // and Resources waits; not those held by Quota or GrantExhausted, which
  // block no one), and their GPU-hours by their time limits.
  int jobs_ahead = 0;
  double gpu_hours_ahead = 0;
  int no_limit_ahead = 0;  // of jobs_ahead, GPU jobs without a time limit
  JobId next = 0;          // Priority waits: the job at the head of the queue
  EstimateConfidence confidence = EstimateConfidence::kNone;
  // One short sentence on the estimate, e.g. "upper bound from the time
  // limits of the jobs it waits for"; static text (no allocation per wait).
  std::string_view confidence_text;
};
// A wait's sentence: its message, or for a Priority wait the jobs ahead.
std::string WaitMessage(const Wait& w);

struct Reject {
  JobId job = 0;
  std::string reason;  // why no node of this cluster can ever run it
};

struct Decisions {
  std::vector<Place> placed;
  std::vector<Preempt> preempted;
  std::vector<Wait> waiting;  // filled only when SchedulerConfig::explain_waits
  std::vector<Reject> rejected;
};

}  // namespace kojo
