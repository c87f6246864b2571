#include "agent/spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include <fmt/format.h>

namespace kojo::agent {

namespace {

// ---------------------------------------------------------------------------
// The wire between the agent and the helper (a SOCK_STREAM socketpair).
//
// agent -> helper: Header{kSpawn, len, argc, envc} + len bytes of
//   NUL-terminated strings: kFixed fields (see Fixed), then argv, then env;
//   after the kForked answer, Header{kGo} or Header{kAbort}.
// helper -> agent: Msg{kForked, supervisor pid} (or kFailed), then
//   Msg{kJobPid, job pid or -1 when not known} or Msg{kFailed, stage, errno}.
// The supervisor sends the helper the same kJobPid / kFailed Msg on a pipe.

constexpr uint32_t kMagic = 0x6b6f6a6f;  // "kojo"
enum Kind : uint32_t { kSpawn = 1, kGo = 2, kAbort = 3 };
struct Header {
  uint32_t magic;
  uint32_t kind;
  uint32_t len;
  uint32_t argc;
  uint32_t envc;
};
enum MsgKind : int { kForked = 1, kJobPid = 2, kFailed = 3 };
enum Stage : int { kStageFork = 1, kStageStdin, kStageStdout, kStageStderr, kStageChdir, kStageExec, kStageBad, kStageTty };
struct Msg {
  int kind;
  int value;  // pid, or stage
  int err;
};
// The fixed strings of a request, in order.
enum Fixed { kPath, kWorkdir, kStdout, kStderr, kCgroupProcs, kStatusFile, kTty, kLeaseFile, kFixed };

constexpr size_t kMaxRequest = 64u << 20;  // bytes of strings
constexpr int kHelperWaitMs = 10000;       // for the job's exec (a hung chdir on a dead NFS mount)
constexpr int kAgentWaitMs = 15000;        // for the helper's answers

// ---------------------------------------------------------------------------
// Raw helpers: async-signal-safe, no allocation (also used in the helper).

// to_socket: send() without SIGPIPE (the agent may not ignore it).
bool WriteAll(int fd, const void* data, size_t n, bool to_socket = false) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = to_socket ? send(fd, p, n, MSG_NOSIGNAL) : write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Reads exactly n bytes; false on end of file, error, or after timeout_ms
// (-1 = no limit).
bool ReadFull(int fd, void* data, size_t n, int timeout_ms) {
  char* p = static_cast<char*>(data);
  timespec start{};
  clock_gettime(CLOCK_MONOTONIC, &start);
  while (n > 0) {
    if (timeout_ms >= 0) {
      timespec now{};
      clock_gettime(CLOCK_MONOTONIC, &now);
      const long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
      if (elapsed >= timeout_ms) return false;
      pollfd pfd{fd, POLLIN, 0};
      const int r = poll(&pfd, 1, static_cast<int>(timeout_ms - elapsed));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
    }
    const ssize_t got = read(fd, p, n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    p += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

// Decimal rendering; returns the end of what it wrote.
char* AppendInt(char* out, long long v) {
  char digits[24];
  int n = 0;
  const bool neg = v < 0;
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

// Signals the helper and the supervisors ignore (a job gets them back).
constexpr int kIgnored[] = {SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2};

void SetSignal(int sig, void (*handler)(int)) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigaction(sig, &sa, nullptr);
}

void UnblockAll() {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

// ---------------------------------------------------------------------------
// The supervisor and the job (in the helper's children).

struct Request {
  const char* s[kFixed];
  char** argv;
  char** envp;
};

struct JobArgs {
  const Request* req;
  int out_fd, err_fd;
  int stage, err;  // set by the job when it cannot exec (shared memory: CLONE_VM)
};

// fd onto target, without close-on-exec.
bool MoveTo(int fd, int target) {
  if (fd == target) return fcntl(fd, F_SETFD, 0) == 0;
  return dup2(fd, target) == target;
}

// The job, between clone and exec: it shares the supervisor's memory (the
// supervisor is suspended until it execs or exits), so it only makes
// system calls and writes its failure into *args.
__attribute__((no_sanitize("address"))) int JobMain(void* arg) {
  auto* a = static_cast<JobArgs*>(arg);
  const Request& r = *a->req;
  const bool tty = r.s[kTty][0] != '\0';
  // With a terminal: a session of its own (also a process group of its
  // own), whose controlling terminal the tty becomes.
  if (tty) setsid();
  else setpgid(0, 0);
  // The helper reset every handler; what the supervisor ignores, the job
  // must not (SIG_IGN survives exec).
  for (int s : kIgnored) SetSignal(s, SIG_DFL);
  UnblockAll();
  auto fail = [&](int stage) {
    a->err = errno;
    a->stage = stage;
    _exit(127);
  };
  if (r.s[kCgroupProcs][0]) {
    const int fd = open(r.s[kCgroupProcs], O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      ssize_t ignored = write(fd, "0", 1);
      (void)ignored;
      close(fd);
    }
  }
  if (tty) {
    const int t = open(r.s[kTty], O_RDWR | O_CLOEXEC);
    if (t < 0 || ioctl(t, TIOCSCTTY, 0) != 0) fail(kStageTty);
    if (!MoveTo(t, 0) || !MoveTo(t, 1) || !MoveTo(t, 2)) fail(kStageTty);
  } else {
    const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0 || !MoveTo(null_fd, 0)) fail(kStageStdin);
    if (!MoveTo(a->out_fd, 1) || !MoveTo(a->err_fd, 2)) fail(kStageStdout);
  }
  if (chdir(r.s[kWorkdir]) != 0) fail(kStageChdir);
  execve(r.s[kPath], r.argv, r.envp);
  fail(kStageExec);
  return 127;
}

alignas(64) char g_job_stack[64 * 1024];

// "exit <status> <end unix>[ fenced]\n" at offset `at` of the status file.
void WriteExit(int fd, off_t at, int status, bool fenced = false) {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  char line[80] = "exit ";
  char* p = AppendInt(line + 5, status);
  *p++ = ' ';
  p = AppendInt(p, now.tv_sec);
  if (fenced) {
    std::memcpy(p, " fenced", 7);
    p += 7;
  }
  *p++ = '\n';
  if (fd >= 0) {
    ssize_t ignored = pwrite(fd, line, static_cast<size_t>(p - line), at);
    (void)ignored;
  }
}

long long MonoMsRaw() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<long long>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

// The lease file's deadline and grace; false when it cannot be read.
bool ReadLease(const char* path, long long* deadline_ms, long long* grace_s) {
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[64];
  ssize_t n;
  do n = read(fd, buf, sizeof buf - 1);
  while (n < 0 && errno == EINTR);
  close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  long long v[2] = {0, 0};
  const char* p = buf;
  for (long long& x : v) {
    while (*p == ' ') ++p;
    if (*p < '0' || *p > '9') return false;
    while (*p >= '0' && *p <= '9') x = x * 10 + (*p++ - '0');
  }
  *deadline_ms = v[0];
  *grace_s = v[1];
  return true;
}

// Waits for the job like waitpid, ending it once the lease in `lease_file`
// is over (SIGTERM, SIGKILL after its grace). True when it was fenced.
bool WaitUnderLease(pid_t job, const char* lease_file, int* status) {
  int pidfd = -1;
#ifdef SYS_pidfd_open
  if (lease_file[0]) pidfd = static_cast<int>(syscall(SYS_pidfd_open, job, 0));
#endif
  bool fenced = false;
  long long kill_at = 0;
  while (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    if (poll(&p, 1, 1000) > 0) break;  // it ended
    const long long now = MonoMsRaw();
    long long deadline = 0, grace = 0;
    if (!fenced && ReadLease(lease_file, &deadline, &grace) && deadline > 0 && now >= deadline) {
      fenced = true;
      kill(-job, SIGTERM);
      kill_at = now + grace * 1000;
    }
    if (fenced && kill_at > 0 && now >= kill_at) {
      kill(-job, SIGKILL);
      kill_at = 0;
    }
  }
  if (pidfd >= 0) close(pidfd);
  while (waitpid(job, status, 0) < 0) {
    if (errno != EINTR) {
      *status = 127 << 8;
      break;
    }
  }
  return fenced;
}

[[noreturn]] void RunSupervisor(const Request& r, int go_fd, int rep_fd, int held_fd) {
  prctl(PR_SET_NAME, "kojo-supervise", 0, 0, 0);
  setsid();
  SetSignal(SIGCHLD, SIG_DFL);  // the helper's SIG_IGN would reap the job before waitpid
  // held_fd (close-on-exec: the job does not get it) stays open until the
  // supervisor exits.
  int keep[3] = {go_fd, rep_fd, held_fd};
  CloseAllExcept(keep, 3);
  if (held_fd >= 0 && held_fd != kSupervisorHeldFd && dup3(held_fd, kSupervisorHeldFd, O_CLOEXEC) == kSupervisorHeldFd)
    close(held_fd);
  // Start nothing before the agent has recorded this supervisor.
  char go = 0;
  if (!ReadFull(go_fd, &go, 1, -1) || go != 1) _exit(0);
  close(go_fd);
  const int status_fd = open(r.s[kStatusFile], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  auto fail = [&](int stage, int err) {
    Msg m{kFailed, stage, err};
    WriteAll(rep_fd, &m, sizeof m);
    WriteExit(status_fd, 0, 127 << 8);
    _exit(0);
  };
  const int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
  const int out_fd = open(r.s[kStdout], flags, 0644);
  if (out_fd < 0) fail(kStageStdout, errno);
  const int err_fd = std::strcmp(r.s[kStdout], r.s[kStderr]) == 0 ? out_fd : open(r.s[kStderr], flags, 0644);
  if (err_fd < 0) fail(kStageStderr, errno);

  JobArgs args{&r, out_fd, err_fd, 0, 0};
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &all, nullptr);  // no handler may run on the job's stack
  const pid_t job = clone(JobMain, g_job_stack + sizeof g_job_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
  const int clone_errno = errno;
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (job < 0) fail(kStageFork, clone_errno);
  int status = 0;
  auto wait_job = [&] {
    while (waitpid(job, &status, 0) < 0) {
      if (errno != EINTR) {
        status = 127 << 8;
        break;
      }
    }
  };
  if (args.stage != 0) {  // it exited 127 without exec
    wait_job();
    Msg m{kFailed, args.stage, args.err};
    WriteAll(rep_fd, &m, sizeof m);
    WriteExit(status_fd, 0, status);
    _exit(0);
  }
  setpgid(job, job);
  Msg m{kJobPid, job, 0};
  WriteAll(rep_fd, &m, sizeof m);
  close(rep_fd);
  char pid_line[32] = "pid ";
  char* pid_end = AppendInt(pid_line + 4, job);
  *pid_end++ = '\n';
  const off_t pid_len = pid_end - pid_line;
  if (status_fd >= 0) {
    ssize_t ignored = pwrite(status_fd, pid_line, static_cast<size_t>(pid_len), 0);
    (void)ignored;
  }
  close(out_fd);
  if (err_fd != out_fd) close(err_fd);
  const bool fenced = WaitUnderLease(job, r.s[kLeaseFile], &status);
  kill(-job, SIGKILL);  // what is left of the task's process group
  WriteExit(status_fd, pid_len, status, fenced);
  _exit(0);
}

// ---------------------------------------------------------------------------
// The helper.

// A request's bytes and pointer arrays, in memory mapped for it (the
// helper does not use malloc: it may be forked from a multi-threaded agent).
struct Buffer {
  char* data = nullptr;
  size_t size = 0;
  bool Reserve(size_t n) {
    if (n <= size) return true;
    if (data) munmap(data, size);
    size_t want = 1 << 16;
    while (want < n) want <<= 1;
    void* p = mmap(nullptr, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      data = nullptr;
      size = 0;
      return false;
    }
    data = static_cast<char*>(p);
    size = want;
    return true;
  }
};

// Splits the strings of a request; false when they do not add up.
bool Parse(char* bytes, const Header& h, char** ptrs, Request* r) {
  char* p = bytes;
  char* end = bytes + h.len;
  const size_t total = kFixed + h.argc + h.envc;
  for (size_t i = 0; i < total; ++i) {
    char* s = p;
    while (p < end && *p) ++p;
    if (p == end) return false;
    ++p;
    if (i < kFixed) r->s[i] = s;
    else if (i < kFixed + h.argc) ptrs[i - kFixed] = s;
    else ptrs[i - kFixed + 1] = s;
  }
  ptrs[h.argc] = nullptr;
  ptrs[h.argc + 1 + h.envc] = nullptr;
  r->argv = ptrs;
  r->envp = ptrs + h.argc + 1;
  return h.argc > 0;
}

// One request: fork a supervisor, tell the agent, wait for its go.
// Returns false when the agent has gone.
bool HandleSpawn(int sock, const Request& r, int held_fd) {
  int go[2], rep[2];
  if (pipe2(go, O_CLOEXEC) != 0) {
    Msg m{kFailed, kStageFork, errno};
    return WriteAll(sock, &m, sizeof m, true);
  }
  if (pipe2(rep, O_CLOEXEC) != 0) {
    Msg m{kFailed, kStageFork, errno};
    close(go[0]);
    close(go[1]);
    return WriteAll(sock, &m, sizeof m, true);
  }
  const pid_t sup = fork();
  if (sup == 0) {
    close(sock);
    close(go[1]);
    close(rep[0]);
    RunSupervisor(r, go[0], rep[1], held_fd);
  }
  const int fork_errno = errno;
  close(go[0]);
  close(rep[1]);
  auto done = [&](bool ok) {
    close(go[1]);  // a supervisor still waiting reads end of file and exits
    close(rep[0]);
    return ok;
  };
  if (sup < 0) {
    Msg m{kFailed, kStageFork, fork_errno};
    return done(WriteAll(sock, &m, sizeof m, true));
  }
  Msg forked{kForked, sup, 0};
  Header d{};
  if (!WriteAll(sock, &forked, sizeof forked, true) || !ReadFull(sock, &d, sizeof d, -1) || d.magic != kMagic)
    return done(false);
  if (d.kind != kGo) return done(true);
  const char one = 1;
  WriteAll(go[1], &one, 1);
  Msg m{kJobPid, -1, 0};  // no word within the wait: carry on as started
  if (!ReadFull(rep[0], &m, sizeof m, kHelperWaitMs)) m = Msg{kJobPid, -1, 0};
  return done(WriteAll(sock, &m, sizeof m, true));
}

// A request's header, with the fd the agent passed along with it
// (SCM_RIGHTS), if any.
bool ReadHeader(int sock, Header* h, int* fd) {
  *fd = -1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  iovec iov{h, sizeof *h};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t got;
  do {
    got = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (got < 0 && errno == EINTR);
  if (got <= 0) return false;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) std::memcpy(fd, CMSG_DATA(c), sizeof(int));
  if (static_cast<size_t>(got) < sizeof *h &&
      !ReadFull(sock, reinterpret_cast<char*>(h) + got, sizeof *h - static_cast<size_t>(got), -1)) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
    return false;
  }
  return true;
}

[[noreturn]] void HelperMain(int sock) {
  prctl(PR_SET_NAME, "kojo-launch", 0, 0, 0);
  // The link on fd >= 3 and 0, 1, 2 open, so that no file of a task takes
  // the place of a standard stream.
  if (sock < 3) {
    const int moved = fcntl(sock, F_DUPFD_CLOEXEC, 3);
    if (moved < 0) _exit(1);
    close(sock);
    sock = moved;
  }
  for (int fd = 0; fd < 3; ++fd)
    if (fcntl(fd, F_GETFD) < 0) {
      const int null_fd = open("/dev/null", O_RDWR);
      if (null_fd >= 0 && null_fd != fd) {
        dup2(null_fd, fd);
        close(null_fd);
      }
    }
  int keep[1] = {sock};
  CloseAllExcept(keep, 1);
  for (int s = 1; s < NSIG; ++s) SetSignal(s, SIG_DFL);  // the agent's handlers: gone
  for (int s : kIgnored) SetSignal(s, SIG_IGN);
  SetSignal(SIGCHLD, SIG_IGN);  // the kernel reaps the supervisors
  UnblockAll();
  Buffer bytes, ptrs;
  for (;;) {
    Header h{};
    int held_fd = -1;
    if (!ReadHeader(sock, &h, &held_fd)) _exit(0);  // the agent has gone
    if (h.magic != kMagic || h.kind != kSpawn || h.len > kMaxRequest || h.argc > kMaxRequest ||
        h.envc > kMaxRequest)
      _exit(1);
    if (!bytes.Reserve(h.len) || !ptrs.Reserve((h.argc + h.envc + 2) * sizeof(char*))) _exit(1);
    if (!ReadFull(sock, bytes.data, h.len, -1)) _exit(0);
    Request r{};
    if (!Parse(bytes.data, h, reinterpret_cast<char**>(ptrs.data), &r)) {
      if (held_fd >= 0) close(held_fd);
      Msg m{kFailed, kStageBad, EINVAL};
      if (!WriteAll(sock, &m, sizeof m, true)) _exit(0);
      continue;
    }
    const bool go_on = HandleSpawn(sock, r, held_fd);
    if (held_fd >= 0) close(held_fd);  // the supervisor has its copy
    if (!go_on) _exit(0);
  }
}

// The request's bytes, with `fd` passed along (SCM_RIGHTS) when >= 0.
bool SendRequest(int sock, const std::string& msg, int fd) {
  if (fd < 0) return WriteAll(sock, msg.data(), msg.size(), true);
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  iovec iov{const_cast<char*>(msg.data()), msg.size()};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  ssize_t sent;
  do {
    sent = sendmsg(sock, &m, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent <= 0) return false;
  return WriteAll(sock, msg.data() + sent, msg.size() - static_cast<size_t>(sent), true);
}

std::string Describe(const SpawnRequest& req, int stage, int err) {
  const char* why = std::strerror(err);
  switch (stage) {
    case kStageFork: return fmt::format("fork: {}", why);
    case kStageStdin: return fmt::format("stdin /dev/null: {}", why);
    case kStageStdout: return fmt::format("stdout {}: {}", req.stdout_path, why);
    case kStageStderr: return fmt::format("stderr {}: {}", req.stderr_path, why);
    case kStageChdir: return fmt::format("working directory {}: {}", req.workdir, why);
    case kStageBad: return "the launch helper could not read the request";
    case kStageTty: return fmt::format("terminal {}: {}", req.tty, why);
    default: return fmt::format("{}: {}", req.path, why);
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// The agent's side.

Result<std::unique_ptr<SpawnHelper>> SpawnHelper::Start() {
  std::unique_ptr<SpawnHelper> h(new SpawnHelper());
  if (!h->Fork()) return Error{ErrorCode::kIo, fmt::format("launch helper: {}", std::strerror(errno))};
  return h;
}

bool SpawnHelper::Fork() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return false;
  const pid_t pid = fork();
  if (pid == 0) {
    close(sv[0]);
    HelperMain(sv[1]);
  }
  const int fork_errno = errno;
  close(sv[1]);
  if (pid < 0) {
    close(sv[0]);
    errno = fork_errno;
    return false;
  }
  pid_ = pid;
  sock_ = sv[0];
  return true;
}

void SpawnHelper::Drop() {
  if (sock_ >= 0) close(sock_);
  sock_ = -1;
  if (pid_ > 0) {
    kill(pid_, SIGKILL);  // its supervisors go on
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  pid_ = -1;
}

SpawnHelper::~SpawnHelper() {
  std::lock_guard lock(mu_);
  if (sock_ >= 0) close(sock_);  // end of file: the helper exits
  sock_ = -1;
  if (pid_ <= 0) return;
  for (int i = 0; i < 200; ++i) {  // up to 1 s
    const pid_t r = waitpid(pid_, nullptr, WNOHANG);
    if (r == pid_ || (r < 0 && errno != EINTR)) return;
    usleep(5000);
  }
  Drop();
}

pid_t SpawnHelper::helper_pid() const {
  std::lock_guard lock(mu_);
  return pid_;
}

SpawnResult SpawnHelper::Spawn(const SpawnRequest& req, const std::function<bool(pid_t)>& record) {
  SpawnResult result;
  if (req.argv.empty()) {
    result.error = "no arguments";
    return result;
  }
  // The request: header + strings.
  std::string msg(sizeof(Header), '\0');
  for (const std::string* s : {&req.path, &req.workdir, &req.stdout_path, &req.stderr_path, &req.cgroup_procs,
                               &req.status_file, &req.tty, &req.lease_file}) {
    msg += *s;
    msg += '\0';
  }
  for (const auto& a : req.argv) (msg += a) += '\0';
  for (const auto& e : req.env) (msg += e) += '\0';
  if (msg.size() - sizeof(Header) > kMaxRequest) {
    result.error = fmt::format("command line and environment too large ({} bytes)", msg.size());
    return result;
  }
  const Header h{kMagic, kSpawn, static_cast<uint32_t>(msg.size() - sizeof(Header)),
                 static_cast<uint32_t>(req.argv.size()), static_cast<uint32_t>(req.env.size())};
  std::memcpy(msg.data(), &h, sizeof h);

  std::lock_guard lock(mu_);
  Msg m{};
  for (int attempt = 0;; ++attempt) {
    // A dead helper is found here: nothing was started (a supervisor it
    // forked sees its go pipe close and exits), so the request is retried.
    if (sock_ < 0 && !Fork()) {
      result.error = fmt::format("launch helper: fork: {}", std::strerror(errno));
      return result;
    }
    if (SendRequest(sock_, msg, req.held_fd) && ReadFull(sock_, &m, sizeof m, kAgentWaitMs)) break;
    Drop();
    if (attempt == 1) {
      result.error = "the launch helper does not answer";
      return result;
    }
  }
  if (m.kind == kFailed) {
    result.error = Describe(req, m.value, m.err);
    return result;
  }
  if (m.kind != kForked || m.value <= 0) {
    Drop();
    result.error = "the launch helper gave a bad answer";
    return result;
  }
  const pid_t sup = m.value;
  const bool recorded = record(sup);
  const Header d{kMagic, recorded ? kGo : kAbort, 0, 0, 0};
  const bool sent = WriteAll(sock_, &d, sizeof d, true);
  if (!recorded) {
    result.error = "cannot record the task";  // the supervisor exits without starting it
    if (!sent) Drop();
    return result;
  }
  result.supervisor = sup;
  if (!sent || !ReadFull(sock_, &m, sizeof m, kAgentWaitMs)) {
    // The helper died after the go (or never passed it on): the supervisor
    // runs the job or exits; its end is watched like any other.
    Drop();
    return result;
  }
  if (m.kind == kJobPid) result.job = m.value;
  else result.error = Describe(req, m.value, m.err);
  return result;
}

SupervisorStatus ParseSupervisorStatus(const std::string& text) {
  SupervisorStatus st;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (lines.eof()) break;  // no newline: still being written
    std::istringstream in(line);
    std::string key;
    in >> key;
    long long a = 0, b = 0;
    if (key == "pid" && in >> a) {
      st.job = static_cast<pid_t>(a);
    } else if (key == "exit" && in >> a >> b) {
      st.ended = true;
      st.wait_status = static_cast<int>(a);
      st.end_unix = b;
      std::string note;
      st.fenced = in >> note && note == "fenced";
    }
  }
  return st;
}

std::string FormatLease(long long deadline_ms, int grace_s) {
  return fmt::format("{:>20} {:>10}\n", std::max(deadline_ms, 0LL), std::max(grace_s, 0));
}

long long MonotonicMs() { return MonoMsRaw(); }

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
  return state != "Z" && state != "X" && pgrp == pid && (session == sup || (session == pid && ppid == sup));
}

}  // namespace kojo::agent
