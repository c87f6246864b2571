#include "agent/spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace kojo::agent {

namespace {

// Messages from the supervisor and the job to the agent, on a pipe.
enum MsgKind : int { kJobPid = 1, kFailed = 2 };
enum Stage : int { kStageFork = 1, kStageStdin, kStageStdout, kStageChdir, kStageExec };
struct Msg {
  int kind;
  int value;  // pid, or stage
  int err;
};

void WriteAll(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// Async-signal-safe decimal rendering; returns the end of what it wrote.
char* AppendInt(char* out, long long v) {
  char digits[24];
  int n = 0;
  bool neg = v < 0;
  unsigned long long u = neg ? 0ULL - static_cast<unsigned long long>(v) : static_cast<unsigned long long>(v);
  do {
    digits[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u);
  if (neg) *out++ = '-';
  while (n > 0) *out++ = digits[--n];
  return out;
}

void CloseRange(unsigned lo, unsigned hi) {
  if (lo > hi) return;
#ifdef SYS_close_range
  if (syscall(SYS_close_range, lo, hi, 0) == 0) return;
#endif
  long max = sysconf(_SC_OPEN_MAX);
  unsigned top = max > 0 && max < 65536 ? static_cast<unsigned>(max) : 65536U;
  for (unsigned fd = lo; fd <= hi && fd < top; ++fd) close(static_cast<int>(fd));
}

// Closes every fd >= 3 except those in keep (at most 4, may repeat or be -1).
void CloseAllExcept(int* keep, int n) {
  for (int i = 1; i < n; ++i)  // insertion sort
    for (int j = i; j > 0 && keep[j - 1] > keep[j]; --j) std::swap(keep[j - 1], keep[j]);
  unsigned lo = 3;
  for (int i = 0; i < n; ++i) {
    if (keep[i] < static_cast<int>(lo)) continue;
    if (static_cast<unsigned>(keep[i]) > lo) CloseRange(lo, static_cast<unsigned>(keep[i]) - 1);
    lo = static_cast<unsigned>(keep[i]) + 1;
  }
  CloseRange(lo, ~0U);
}

[[noreturn]] void RunJob(const SpawnRequest& req, const char* path, char* const* argv, char* const* envp,
                         int wfd) {
  setpgid(0, 0);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < 32; ++s) sigaction(s, &dfl, nullptr);  // SIG_IGN survives exec; handlers do not
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  auto fail = [&](int stage) {
    Msg m{kFailed, stage, errno};
    WriteAll(wfd, &m, sizeof m);
    _exit(127);
  };
  if (!req.cgroup_procs.empty()) {
    int fd = open(req.cgroup_procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      WriteAll(fd, "0", 1);
      close(fd);
    }
  }
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0 || dup2(null_fd, 0) < 0) fail(kStageStdin);
  if (dup2(req.stdout_fd, 1) < 0 || dup2(req.stderr_fd, 2) < 0) fail(kStageStdout);
  if (chdir(req.workdir.c_str()) != 0) fail(kStageChdir);
  execve(path, argv, envp);
  fail(kStageExec);
  _exit(127);
}

[[noreturn]] void RunSupervisor(const SpawnRequest& req, const char* path, char* const* argv, char* const* envp,
                                int wfd, int go_fd, const char* exit_tmp, const char* pid_tmp) {
  setsid();
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  for (int s : {SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2}) sigaction(s, &ign, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGCHLD, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  int keep[4] = {wfd, go_fd, req.stdout_fd, req.stderr_fd};
  CloseAllExcept(keep, 4);
  // Start nothing before the agent has recorded this supervisor.
  char go = 0;
  ssize_t got;
  do {
    got = read(go_fd, &go, 1);
  } while (got < 0 && errno == EINTR);
  if (got != 1) _exit(0);
  close(go_fd);

  pid_t job = fork();
  if (job == 0) RunJob(req, path, argv, envp, wfd);
  if (job < 0) {
    Msg m{kFailed, kStageFork, errno};
    WriteAll(wfd, &m, sizeof m);
    _exit(127);
  }
  setpgid(job, job);
  char pid_text[24];
  char* pid_end = AppendInt(pid_text, job);
  *pid_end++ = '\n';
  int pid_fd = open(pid_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (pid_fd >= 0) {
    WriteAll(pid_fd, pid_text, static_cast<size_t>(pid_end - pid_text));
    close(pid_fd);
    rename(pid_tmp, req.pid_file.c_str());
  }
  Msg m{kJobPid, job, 0};
  WriteAll(wfd, &m, sizeof m);
  close(wfd);
  close(req.stdout_fd);
  if (req.stderr_fd != req.stdout_fd) close(req.stderr_fd);

  int status = 0;
  while (waitpid(job, &status, 0) < 0) {
    if (errno != EINTR) {
      status = 127 << 8;
      break;
    }
  }
  kill(-job, SIGKILL);  // what is left of the task's process group
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  char line[64];
  char* p = AppendInt(line, status);
  *p++ = '\n';
  p = AppendInt(p, now.tv_sec);
  *p++ = '\n';
  const size_t len = static_cast<size_t>(p - line);
  int fd = open(exit_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    WriteAll(fd, line, len);
    close(fd);
    rename(exit_tmp, req.exit_file.c_str());
  }
  _exit(0);
}

}  // namespace

SpawnResult SpawnSupervised(const SpawnRequest& req, const std::function<bool(pid_t)>& record) {
  SpawnResult result;
  std::vector<char*> argv, envp;
  for (const auto& a : req.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : req.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const std::string exit_tmp = req.exit_file + ".tmp";
  const std::string pid_tmp = req.pid_file + ".tmp";
  int fds[2], go[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    result.error = fmt::format("pipe: {}", std::strerror(errno));
    return result;
  }
  if (pipe2(go, O_CLOEXEC) != 0) {
    result.error = fmt::format("pipe: {}", std::strerror(errno));
    close(fds[0]);
    close(fds[1]);
    return result;
  }
  pid_t sup = fork();
  if (sup == 0) {
    close(fds[0]);
    close(go[1]);
    RunSupervisor(req, req.path.c_str(), argv.data(), envp.data(), fds[1], go[0], exit_tmp.c_str(),
                  pid_tmp.c_str());
  }
  close(fds[1]);
  close(go[0]);
  if (sup < 0) {
    result.error = fmt::format("fork: {}", std::strerror(errno));
    close(fds[0]);
    close(go[1]);
    return result;
  }
  result.supervisor = sup;
  if (!record(sup)) {
    close(go[1]);  // the supervisor reads EOF and exits without starting the job
    close(fds[0]);
    while (waitpid(sup, nullptr, 0) < 0 && errno == EINTR) {
    }
    result.supervisor = -1;
    result.error = "cannot record the task";
    return result;
  }
  const char one = 1;
  WriteAll(go[1], &one, 1);
  close(go[1]);
  // Read until EOF: the job's exec closes the pipe (close-on-exec), a
  // failure writes why first.
  Msg m{};
  size_t have = 0;
  timespec start{};
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    long elapsed_ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
    if (elapsed_ms >= 10000) break;  // a hung chdir (dead NFS): carry on as started
    pollfd p{fds[0], POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(10000 - elapsed_ms));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    ssize_t n = read(fds[0], reinterpret_cast<char*>(&m) + have, sizeof m - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    have += static_cast<size_t>(n);
    if (have < sizeof m) continue;
    have = 0;
    if (m.kind == kJobPid) {
      result.job = m.value;
    } else if (m.kind == kFailed) {
      const char* why = std::strerror(m.err);
      switch (m.value) {
        case kStageFork: result.error = fmt::format("fork: {}", why); break;
        case kStageStdin: result.error = fmt::format("stdin /dev/null: {}", why); break;
        case kStageStdout: result.error = fmt::format("stdout/stderr: {}", why); break;
        case kStageChdir: result.error = fmt::format("working directory {}: {}", req.workdir, why); break;
        default: result.error = fmt::format("{}: {}", req.path, why); break;
      }
    }
  }
  close(fds[0]);
  return result;
}

unsigned long long ProcessStartTime(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat;
  if (!std::getline(in, stat)) return 0;
  size_t paren = stat.rfind(')');  // the command name may hold spaces and parentheses
  if (paren == std::string::npos) return 0;
  std::istringstream rest(stat.substr(paren + 2));
  std::string field;
  // Fields after the name start at 3 (state); the start time is field 22.
  for (int i = 3; i <= 22; ++i) {
    if (!(rest >> field)) return 0;
    if (i == 3 && (field == "Z" || field == "X")) return 0;  // a zombie has ended
  }
  return std::strtoull(field.c_str(), nullptr, 10);
}

bool IsTaskLeader(pid_t pid, pid_t sup) {
  if (pid <= 0 || sup <= 0) return false;
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat;
  if (!std::getline(in, stat)) return false;
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return false;
  std::istringstream rest(stat.substr(paren + 2));
  std::string state;
  long ppid = 0, pgrp = 0, session = 0;
  if (!(rest >> state >> ppid >> pgrp >> session)) return false;
  return state != "Z" && state != "X" && pgrp == pid && session == sup;
}

}  // namespace kojo::agent
