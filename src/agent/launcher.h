// Runs the tasks the controller places on this node.
//
// Launcher is the seam the agent's protocol loop drives; ProcessLauncher
// runs each task as real processes: a small supervisor (its own session,
// forked by the launch helper of spawn.h) starts the job as its own process
// group, with the environment of docs/api.md, stdout/stderr to files, and a
// cgroup where available. Each task has a record
// <state>/tasks/<job>.<attempt>.json, written before its job may start, and
// the supervisor's notes next to it (.status: the job's pid, then its end),
// so that a new ProcessLauncher on the same state dir -- after an agent
// restart -- adopts the tasks still running, reports those that ended
// meanwhile, and never starts one twice. The files of forgotten tasks are
// kept in <state>/spare/ and reused rather than deleted and created again.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/cgroups.h"
#include "agent/pty.h"
#include "api/types.h"
#include "common/result.h"

namespace kojo::agent {

// Where a task's logs are, for the log server.
struct TaskLogs {
  std::string stdout_path;
  std::string stderr_path;
  bool ended = false;   // no more bytes will come
};

class Launcher {
 public:
  virtual ~Launcher() = default;
  // Called, from any thread and without locks held, whenever a task
  // starts or ends. Set it before the first Start().
  virtual void SetListener(std::function<void()> listener) = 0;
  // Starts a task; a (job, attempt) the launcher has, or forgot recently,
  // is ignored, and so, for now, is one whose job has an earlier attempt
  // still running here (the start is expected again). A task that cannot start is reported ended with reason
  // "launch-failed: <why>" and exit code 127.
  virtual void Start(const api::StartCommand& cmd) = 0;
  // SIGTERM to the task's process group, SIGKILL after grace_s (default:
  // the launcher's). Reason "killed". Unknown or ended tasks: ignored.
  virtual void Kill(JobId job, int attempt, std::optional<Seconds> grace_s) = 0;
  // Every task, running or ended and not yet forgotten.
  virtual std::vector<api::TaskReport> Tasks() const = 0;
  // A running task's new time limit, from its start (`kojo extend`); its
  // terminal, if any, is told. Unknown, ended or stopping tasks: ignored.
  virtual void SetTimeLimit(JobId job, int attempt, Seconds limit) = 0;
  // The node's GPUs' utilisation (percent by index; empty = unknown), as
  // sampled for a heartbeat: a task with an idle timeout (JobSpec.
  // idle_timeout_s) is in use while one of its GPUs is busy or unknown.
  // Besides, input to its terminal and NoteActivity keep it in use; a task
  // idle past its timeout is warned (terminal), then ended with reason "idle".
  virtual void NoteGpuUtil(const std::vector<int>& util) = 0;
  virtual void NoteActivity(JobId job) = 0;
  // The controller's lease on this node's tasks (api::HeartbeatReply::
  // lease_ms), renewed by each reply: `heard` is when the heartbeat it
  // answers was sent. Once heard + lease passes with no renewal, every
  // running task is ended (SIGTERM, SIGKILL after grace_s) with reason
  // "fenced" -- by each task's supervisor too, so also while the agent is
  // stopped or gone. lease 0: none (tasks run on while the controller is
  // away).
  virtual void RenewLease(std::chrono::steady_clock::time_point heard, std::chrono::milliseconds lease,
                          Seconds grace_s) {
    (void)heard, (void)lease, (void)grace_s;
  }
  // Forgets an ended task (deletes its record, keeps its logs).
  virtual void Forget(JobId job, int attempt) = 0;
  // The logs of a task, running, ended or forgotten. attempt: none = the
  // newest the launcher has.
  virtual std::optional<TaskLogs> FindLogs(JobId job, std::optional<int> attempt, int rank) const = 0;
  // The terminal of an interactive task of `job` (JobSpec.pty): its newest
  // attempt's, running or lately ended (also of a task adopted after a
  // restart, taken back from its supervisor); null when there is none here.
  virtual std::shared_ptr<PtySession> FindPty(JobId job) const {
    (void)job;
    return nullptr;
  }
  // The loopback port of a running notebook task of `job` (JobSpec.notebook:
  // KOJO_SESSION_PORT in its environment); none when there is none here.
  virtual std::optional<int> SessionPort(JobId job) const {
    (void)job;
    return std::nullopt;
  }
};

struct LauncherOptions {
  std::string state_dir;                 // holds tasks/, logs/, work/
  std::string node_name;                 // KOJO_NODE
  std::vector<api::GpuInfo> gpus;        // for KOJO_GPU_UUIDS
  Seconds default_grace_s = 10;          // SIGTERM -> SIGKILL
  std::optional<Cgroups> cgroups;        // none = no CPU/memory limits
};

class ProcessLauncher : public Launcher {
 public:
  // Creates the state folders and adopts the tasks recorded there.
  static Result<std::unique_ptr<ProcessLauncher>> Create(LauncherOptions options);
  // Stops watching; running tasks keep running (a new launcher adopts them).
  ~ProcessLauncher() override;

  void SetListener(std::function<void()> listener) override;
  void Start(const api::StartCommand& cmd) override;
  void Kill(JobId job, int attempt, std::optional<Seconds> grace_s) override;
  std::vector<api::TaskReport> Tasks() const override;
  void SetTimeLimit(JobId job, int attempt, Seconds limit) override;
  void NoteGpuUtil(const std::vector<int>& util) override;
  void NoteActivity(JobId job) override;
  void RenewLease(std::chrono::steady_clock::time_point heard, std::chrono::milliseconds lease,
                  Seconds grace_s) override;
  void Forget(JobId job, int attempt) override;
  std::optional<TaskLogs> FindLogs(JobId job, std::optional<int> attempt, int rank) const override;
  std::shared_ptr<PtySession> FindPty(JobId job) const override;
  std::optional<int> SessionPort(JobId job) const override;

  // How many tasks were adopted running at creation (for logs and tests).
  int adopted() const;
  // The process group of a running task (tests), 0 if none.
  int ProcessGroup(JobId job, int attempt) const;
  // The launch helper's pid (tests), -1 while there is none.
  int HelperPid() const;

  class Impl;

 private:
  explicit ProcessLauncher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kojo::agent
