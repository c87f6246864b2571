// The controller's in-memory records of jobs and nodes, and their stored
// form (JSON documents in the Store's rows).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/codec.h"
#include "api/types.h"
#include "common/clock.h"
#include "model/job.h"
#include "model/node.h"
#include "sched/snapshot.h"
#include "store/store.h"

namespace kojo::controller {

using SteadyTime = Clock::Steady;

// One task of a placed job: the part on one node (placement[rank]).
struct TaskState {
  bool running = false;  // an agent has reported it running
  bool ended = false;
  std::optional<int> exit_code;
  std::optional<int> signal;
  std::string reason;    // the agent's: exited, timeout, killed, launch-failed: ...
};

// Where an earlier attempt of a requeued job ran: its logs stay there.
struct PastAttempt {
  int attempt = 0;
  std::vector<std::string> nodes;  // by rank
};
constexpr size_t kMaxPastAttempts = 16;  // the newest are kept

// Why a STOPPING job is stopping, and so what it becomes once its tasks end.
enum class StopReason { kNone, kCancelled, kPreempted, kFailed, kRequeue, kNodeLost, kNodeFault };
std::string_view KillReason(StopReason r);

struct JobRec {
  api::JobView view;
  Job job;                       // the scheduler's view of it
  int max_running = 0;           // array limit ("%N"), 0 = none
  Seconds queued_since = 0;
  Seconds attained_gpu_s = 0;
  Seconds last_run_s = 0;
  // While placed: per placement entry, the node's index and its share.
  Allocation alloc;
  std::vector<TaskState> tasks;
  StopReason stop = StopReason::kNone;
  std::uint64_t start_seq = 0;   // start commands go out once this batch is durable
  // The scheduler's last explanation of why it waits (not stored: the next
  // explaining pass, at most a second away, renews it).
  api::JobWhy why;
  // Metering of the current run: the grant it reserved against ("" = not
  // metered) and how much (normalised units); see ledger.h.
  std::vector<PastAttempt> past;  // earlier attempts, oldest first
  std::string grant;
  NormUnits reserved = 0;

  bool Active() const {
    return view.state == api::JobState::kStarting || view.state == api::JobState::kRunning ||
           view.state == api::JobState::kStopping;
  }
};

struct NodeRec {
  api::NodeInfo info;
  NodeSpec spec;
  bool registered = false;   // its agent registered since this controller started
  bool down = false;
  bool drain = false;
  std::string reason;        // why drained or down
  SteadyTime last_seen{};
  Seconds last_heartbeat = 0;
  int polls = 0;             // long polls held now
  std::uint64_t wake = 0;    // bumped when its agent has something new to hear
  std::set<JobId> jobs;      // active jobs with a task here
  // Kills in the last reply: a long poll does not answer at once with the
  // same kills again while the agent is still stopping those tasks.
  std::set<std::pair<JobId, int>> kills_sent;
  // The key of its agent's log server, from its latest register or
  // heartbeat (api::Heartbeat::log_secret). In memory only: never persisted
  // nor shown; a restarted controller learns it again from the agent.
  std::string log_secret;
  std::vector<int> gpu_util;  // from its latest heartbeat (percent by GPU); in memory only

  api::NodeState State() const;
};

// The scheduler's NodeSpec for what an agent reported.
NodeSpec SpecOf(const api::NodeInfo& info);

// Stored forms. A job row's JSON: {"view": JobView, "tasks": [...],
// "shares": [{"cpu_milli","mem_mib"}...], "stop", "queued_since",
// "attained_gpu_s", "last_run_s", "grant", "reserved"}.
store::JobRow JobRow(const JobRec& rec);
Result<JobRec> JobFromRow(const store::JobRow& row);
// An array row: the template JobView (id = first id, array_index unset) and
// the indices, in id order.
store::ArrayRow ArrayRowOf(const JobRec& first, const std::vector<int>& indices);
struct StoredArray {
  JobRec tmpl;               // id and array_id = the first id, array_index unset
  std::vector<int> indices;  // task k has id first + k
};
Result<StoredArray> ArrayFromRow(const store::ArrayRow& row);
store::NodeRow NodeRow(const NodeRec& rec);
Result<NodeRec> NodeFromRow(const store::NodeRow& row);

// Fills rec.job from rec.view (after decoding or submitting).
void SyncSchedJob(JobRec& rec);

}  // namespace kojo::controller
