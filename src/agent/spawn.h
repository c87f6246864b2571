// Low-level start of one supervised task, through a small launch helper.
//
// SpawnHelper forks, once, a single-threaded helper process that talks to
// the agent over a socketpair. For each task the helper forks a supervisor
// (a cheap fork: the helper is small and has one thread); the supervisor
// calls setsid(), opens the task's log files, starts the job as its own
// process group with clone(CLONE_VM | CLONE_VFORK) + execve (no copy of
// any address space), reports the job's pid, waits for it, kills what is
// left of the job's process group, and writes the job's wait status
// atomically to a file. The supervisor outlives the helper and the agent,
// so a restarted agent finds the exit status of a task that ended meanwhile.
//
// The helper and the supervisors make only raw system calls (no allocation,
// no locks), so the helper may be forked from a multi-threaded process; it
// is cheapest when forked early, while the caller is still small.
//
// Thread safety: Spawn may be called from any thread (one spawn at a time).
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"

namespace kojo::agent {

struct SpawnRequest {
  std::string path;                  // executable, resolved (absolute or relative to workdir)
  std::vector<std::string> argv;
  std::vector<std::string> env;      // "NAME=value"
  std::string workdir;
  std::string stdout_path;           // created or truncated by the supervisor
  std::string stderr_path;           // may equal stdout_path (one file, both streams)
  std::string cgroup_procs;          // "<cgroup>/cgroup.procs" to join before exec; empty = none
  // The supervisor's notes, written in place from offset 0 (the file should
  // exist and be empty or blank -- spaces only, see spare_files.h; it is
  // created if missing): "pid <job pid>\n" once the job runs,
  // then "exit <wait status> <end unix>\n" when it has ended (first line
  // when it never ran). Read them with ReadSupervisorStatus.
  std::string status_file;
  // A terminal (the slave side of a pseudo-terminal, "/dev/pts/N"): the job
  // becomes the leader of a session of its own (and so of its process
  // group) with this terminal as its controlling terminal and as its
  // standard input, output and error; stdout_path and stderr_path are still
  // created. Empty = none (standard input /dev/null).
  std::string tty;
  // An fd the supervisor holds open until it exits (not the job: it is
  // closed on exec), e.g. the terminal's master, so that the terminal
  // outlives the agent and a new agent can take it back (pidfd_getfd);
  // -1 = none.
  int held_fd = -1;
  // The node's lease file (FormatLease): while the job runs the supervisor
  // reads it every second, and once its deadline has passed it ends the job
  // as the agent would (SIGTERM to its process group, SIGKILL after the
  // grace) and notes the end as fenced -- also when the agent is stopped or
  // gone. Empty, unreadable or a deadline of 0 = no lease.
  std::string lease_file;
};

// A lease file's text: the deadline in CLOCK_MONOTONIC milliseconds (0 =
// none) and the grace in seconds, at a fixed width so that it can be
// rewritten in place (no new disk blocks, even on a full disk).
std::string FormatLease(long long deadline_ms, int grace_s);
// CLOCK_MONOTONIC in milliseconds (std::chrono::steady_clock on Linux).
long long MonotonicMs();

struct SpawnResult {
  pid_t supervisor = -1;
  pid_t job = -1;                    // also the job's process group id; -1 = not known (yet)
  std::string error;                 // empty when the job was exec'd; else why it could not start
};

// The number SpawnRequest.held_fd has in its supervisor.
inline constexpr int kSupervisorHeldFd = 1000;

class SpawnHelper {
 public:
  // Forks the helper process.
  static Result<std::unique_ptr<SpawnHelper>> Start();
  // Closes the link: the helper exits; supervisors and their jobs go on.
  ~SpawnHelper();
  SpawnHelper(const SpawnHelper&) = delete;
  SpawnHelper& operator=(const SpawnHelper&) = delete;

  // Has the helper fork a supervisor, calls record(supervisor pid) -- which
  // must make the task durable -- and only then lets the supervisor start
  // the job, so that a task is never run without a record (if record
  // returns false, or the agent or the helper dies first, the supervisor
  // exits without starting it). Then waits (up to about 10 s) until the job
  // was exec'd or failed to start. A helper found dead is forked again (and
  // the request retried when nothing was started). Never throws.
  SpawnResult Spawn(const SpawnRequest& req, const std::function<bool(pid_t)>& record);

  // The helper's pid (tests), -1 while there is none.
  pid_t helper_pid() const;

 private:
  SpawnHelper() = default;
  bool Fork();          // a new helper; false with errno
  void Drop();          // closes the link and reaps (or kills) the helper
  mutable std::mutex mu_;
  pid_t pid_ = -1;
  int sock_ = -1;
};

struct SupervisorStatus {
  pid_t job = 0;                     // 0 = not noted (yet)
  bool ended = false;
  int wait_status = 0;               // when ended
  long long end_unix = 0;
  bool fenced = false;               // ended by its supervisor at the lease's end
};
// Parses a status file's text (complete lines only).
SupervisorStatus ParseSupervisorStatus(const std::string& text);

// Whether pid is the leader of a task started by supervisor `sup` (its
// process group is its pid and its session the supervisor's -- or, for a
// task with a terminal, its own session and the supervisor its parent), so
// that a reused pid is never taken for the job.
bool IsTaskLeader(pid_t pid, pid_t sup);

// The start time of a process (field 22 of /proc/<pid>/stat, in clock ticks
// since boot), 0 when the process does not exist or has ended (zombie). With the pid it names a
// process uniquely: a reused pid has another start time.
unsigned long long ProcessStartTime(pid_t pid);

}  // namespace kojo::agent
