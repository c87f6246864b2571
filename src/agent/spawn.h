// Low-level start of one supervised task: the agent forks a supervisor
// that calls setsid(), forks the job (its own process group), waits for it,
// kills what is left of the job's process group, and writes the job's wait
// status atomically to a file. The supervisor outlives the agent, so a
// restarted agent finds the exit status of a task that ended meanwhile.
//
// Between fork and exec only async-signal-safe calls are made: everything
// is prepared in SpawnRequest before the fork.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace kojo::agent {

struct SpawnRequest {
  std::string path;                  // executable, resolved (absolute or relative to workdir)
  std::vector<std::string> argv;
  std::vector<std::string> env;      // "NAME=value"
  std::string workdir;
  int stdout_fd = -1;                // opened by the caller (close-on-exec); stderr may be the same fd
  int stderr_fd = -1;
  std::string cgroup_procs;          // "<cgroup>/cgroup.procs" to join before exec; empty = none
  std::string exit_file;             // the supervisor writes "<wait status>\n<end unix>\n" here
  std::string pid_file;              // the supervisor writes the job's pid here
};

struct SpawnResult {
  pid_t supervisor = -1;
  pid_t job = -1;                    // also the job's process group id
  std::string error;                 // empty when the job was exec'd; else why it could not start
};

// Forks the supervisor, calls record(supervisor pid) -- which must make the
// task durable -- and only then lets the supervisor start the job, so that
// a task is never run without a record (if record returns false, or the
// agent dies first, the supervisor exits without starting it). Then waits
// (up to 10 s) until the job was exec'd or failed to start. Never throws; a
// failure of fork itself gives supervisor -1 and an error.
SpawnResult SpawnSupervised(const SpawnRequest& req, const std::function<bool(pid_t)>& record);

// Whether pid is the leader of a task started by supervisor `sup` (its
// process group is its pid and its session the supervisor's), so that a
// reused pid is never taken for the job.
bool IsTaskLeader(pid_t pid, pid_t sup);

// The start time of a process (field 22 of /proc/<pid>/stat, in clock ticks
// since boot), 0 when the process does not exist or has ended (zombie). With the pid it names a
// process uniquely: a reused pid has another start time.
unsigned long long ProcessStartTime(pid_t pid);


}  // namespace kojo::agent
