// The wire types of kojo's REST API (/api/v1): what the CLI sends and reads,
// what the controller stores and serves, and what agents exchange with the
// controller. JSON codecs live in codec.h. docs/api.md and api/openapi.yaml
// describe the same shapes for people and tools; keep the three in step.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/job.h"
#include "model/units.h"

namespace kojo::api {

// What a user submits. Exactly one of `command` (argv, run directly) and
// `script` (text written to a file and executed; a missing "#!" line means
// /bin/sh) is set.
struct JobSpec {
  std::string name;
  std::vector<std::string> command;
  std::string script;
  std::string workdir;                      // absolute; empty = the agent's default
  std::map<std::string, std::string> env;   // added to the job's environment
  std::string project;                      // empty = "default"
  std::string user;                         // set by the controller from the caller
  Demand demand;                            // gpus, gpu_milli, cpu_milli, mem_mib, tasks, gpu_models,
                                            // nodes (constraint, partitions, nodelist, exclude)
  std::optional<Seconds> time_limit_s;      // none = no limit
  std::string stdout_path;                  // optional; %j job id, %A array id, %a index, %x name
  std::string stderr_path;                  // optional; empty = same file as stdout when stdout set
  std::string array;                        // "0-99", "1,3,5", "0-15:2", optionally "%4" (max running)
  bool requeue = true;                      // requeue (true) or fail (false) when its node is lost
  bool hold = false;                        // submit held
  bool pty = false;                         // an interactive session: one task in a pseudo-terminal whose
                                            // terminal kojod relays (GET/POST /api/v1/jobs/{id}/tty)
  int pty_rows = 0, pty_cols = 0;           // its first size; 0 = 24 x 80
  // A session (pty) idle this long -- no terminal input and no use of its
  // GPUs -- is ended, after a warning; set by the controller from its
  // project's idle_timeout_s (a shorter one asked for is kept). None = never.
  std::optional<Seconds> idle_timeout_s;
  Seconds extended_s = 0;                   // added to time_limit_s by `kojo extend` so far
  bool notebook = false;                    // a web session (kojo notebook): one task whose server kojod
                                            // proxies under /sessions/{id}/ (docs/api.md, "Notebook sessions")
  // A notebook's per-session secret (64 hex digits), made by kojod at
  // submission; sent to the agent (JUPYTER_TOKEN) and stored with the job,
  // never taken from a submission nor shown in a job's view (GET
  // /api/v1/jobs/{id} gives it to those who may act on the job, apart).
  std::string session_secret;
};

enum class JobState {
  kPending,    // waiting for resources
  kHeld,       // held by a user or admin; not scheduled until released
  kStarting,   // placed; its agent(s) have not confirmed the start yet
  kRunning,
  kStopping,   // asked to stop (cancel, time limit, preemption); not gone yet
  kCompleted,  // exit code 0
  kFailed,     // non-zero exit, a signal, a launch failure, or its node lost (requeue=false)
  kCancelled,
  kTimeout,    // killed at its time limit
};
std::string_view ToString(JobState s);
std::optional<JobState> ParseJobState(std::string_view s);
bool IsTerminal(JobState s);

// The part of one node a job holds, with names a person can read.
struct Placement {
  std::string node;
  std::vector<int> gpus;            // indices on that node
  std::vector<std::string> gpu_uuids;
  MilliGpu gpu_milli = kWholeGpu;
  int rank = 0;                     // task rank inside a gang (0-based)
};

// A job as the API shows it.
struct JobView {
  JobId id = 0;
  std::optional<JobId> array_id;   // the first job id of its array
  std::optional<int> array_index;
  JobSpec spec;
  JobState state = JobState::kPending;
  std::string reason;              // stable code: Priority, Resources, Held, ... or exit reason
  std::string message;             // for people
  Seconds submit_time = 0;         // Unix seconds
  std::optional<Seconds> start_time;
  std::optional<Seconds> end_time;
  std::optional<int> exit_code;
  std::optional<int> signal;
  int attempt = 0;                 // 1 on the first start, +1 on each requeue
  std::vector<Placement> placement;
  std::optional<Seconds> estimated_start;  // pending jobs: from the scheduler's plan, if known
};

// GET /api/v1/jobs/{id}/why: why a job is not running and when it may
// start. `reason` is a stable code (docs/api.md lists them).
struct JobWhy {
  JobId job = 0;
  JobState state = JobState::kPending;
  std::string reason;
  std::string message;                     // for people
  std::optional<Seconds> estimated_start;  // none = unknown
  // How far to trust the estimate: "none" (no estimate), "upper-bound"
  // (every job it waits for has a time limit: it starts no later, unless
  // jobs of a higher priority arrive), "partial" (some of them have none),
  // "now" (it is being started).
  std::string confidence = "none";
  std::string confidence_message;
  int jobs_ahead = 0;                      // pending jobs ordered before it
  double gpu_hours_ahead = 0;              // their GPU-hours by time limits
  std::optional<Seconds> as_of;            // when the scheduler last explained it
};

enum class NodeState {
  kUp,        // heartbeating and schedulable
  kDraining,  // no new jobs; jobs on it run to the end
  kDrained,   // draining and empty
  kDown,      // no heartbeat within the timeout
  kUnknown,   // after a controller restart, until its agent reports
};
std::string_view ToString(NodeState s);

struct GpuInfo {
  int index = 0;
  std::string model;      // "H100", "A100-SXM4-80GB", ... as discovered
  MiB mem_mib = 0;
  std::string uuid;       // "GPU-..." from NVML, or "EMU-<node>-<i>" when emulated
};

// What an agent says about its node when it registers.
struct NodeInfo {
  std::string name;
  MilliCpu cpu_milli = 0;
  MiB mem_mib = 0;
  std::vector<GpuInfo> gpus;
  bool emulated_gpus = false;
  bool cgroups = false;            // CPU/memory limits enforced with cgroup v2
  std::string agent_url;           // where the agent serves logs, e.g. http://127.0.0.1:7101
  std::string version;
  std::vector<std::string> features;  // the agent's --features (the GPU model counts as one too)
};

struct NodeView {
  NodeInfo info;
  NodeState state = NodeState::kUnknown;
  std::string reason;              // why drained or down
  Seconds last_heartbeat = 0;      // Unix seconds
  std::vector<JobId> jobs;         // running there
  int gpus_used = 0;               // whole GPUs with any share taken
  std::vector<std::string> partitions;  // the partitions that hold the node
  std::vector<int> gpu_util;            // each GPU's utilisation in percent (last heartbeat); empty = unknown
  // Rented capacity (docs/renting.md): the provider ("" = an owned node),
  // the slot's phase (off, starting, up, stopping) and why.
  std::string provider;
  std::string rent_state;
  std::string rent_reason;
};

// ---- Agent protocol ----

// One task of a job that an agent must run.
struct StartCommand {
  JobId job = 0;
  int attempt = 0;
  JobSpec spec;                    // array and user expanded; paths resolved
  Placement placement;             // this node's part
  std::vector<std::string> peers;  // every node of the job, by rank
  int world_size = 1;              // tasks in all
};

// A running task's new time limit (`kojo extend`): sent while the task's
// report shows another one.
struct LimitCommand {
  JobId job = 0;
  int attempt = 0;
  Seconds time_limit_s = 0;        // from the task's start
};

struct KillCommand {
  JobId job = 0;
  int attempt = 0;
  std::string reason;              // "cancelled", "preempted", "node-lost", "stale"
  Seconds grace_s = 10;            // SIGTERM, then SIGKILL after this
};

// A task the agent has, running or ended.
struct TaskReport {
  JobId job = 0;
  int attempt = 0;
  bool running = true;
  std::optional<int> exit_code;    // when ended by itself
  std::optional<int> signal;       // when ended by a signal
  std::string reason;              // "exited", "timeout", "killed", "launch-failed: ...", "node-fault: ..."
  Seconds start_time = 0;
  std::optional<Seconds> end_time;
  // The limit the agent enforces now (it follows `kojo extend`); none = no
  // limit, or an agent that does not say.
  std::optional<Seconds> time_limit_s;
};

// The reason of a task its node could not start through no fault of the job
// (the agent cannot record it: its state directory's disk is full or
// failing): "node-fault: <what failed>". It never ran; kojod requeues the
// job and drains the node.
inline constexpr std::string_view kNodeFaultPrefix = "node-fault: ";

// POST /api/v1/agents/register and /api/v1/agents/{node}/heartbeat.
struct Heartbeat {
  NodeInfo node;                   // full on register; name only needed on heartbeat
  std::vector<TaskReport> tasks;   // every task the agent has (running, or ended and not yet acknowledged)
  int wait_ms = 0;                 // long poll: hold the answer up to this long if there is nothing to do
  // The key of the agent's log server (hex, 32..128 characters): the
  // controller sends it as "Authorization: Bearer <key>" when it fetches
  // logs. A credential: kept in memory only, never stored nor shown. Empty:
  // the controller cannot read this node's logs.
  std::string log_secret;
  std::vector<int> gpu_util;       // each GPU's utilisation in percent, by index; empty = unknown
};

struct HeartbeatReply {
  std::vector<StartCommand> start;
  std::vector<KillCommand> kill;
  std::vector<LimitCommand> limit;
  // Ended tasks the controller has recorded: the agent may forget them.
  std::vector<std::pair<JobId, int>> acknowledged;
  int heartbeat_interval_ms = 1000;
  // The lease on the node's tasks: they may run until lease_ms after the
  // agent sent the heartbeat this answers; an agent that hears nothing more
  // by then ends them (reason "fenced"; SIGKILL lease_grace_s after
  // SIGTERM), and only after that does the controller requeue their jobs
  // elsewhere. 0 = no lease: tasks run on however long the controller is
  // away, and a lost node's jobs are requeued at once.
  int lease_ms = 0;
  int lease_grace_s = 0;
};

}  // namespace kojo::api
