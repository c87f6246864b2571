#include "agent/launcher.h"

#include "common/files.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "agent/log.h"
#include "agent/spare_files.h"
#include "agent/spawn.h"
#include "api/codec.h"

namespace kojo::agent {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Key = std::pair<JobId, int>;
using api::Json;

namespace {

constexpr size_t kForgottenMemory = 100000;  // (job, attempt) pairs whose late starts are ignored
constexpr int kLaunchFailedExit = 127;
constexpr size_t kMaxSpare = 4096;  // spare files kept for reuse

struct Task {
  JobId job = 0;
  int attempt = 0;
  int rank = 0;
  // Files: <tasks>/<job>.<attempt>.json (the record), .status (the
  // supervisor's notes), .script; a record of an older agent is a folder
  // <job>.<attempt>/ with task.json, job.pid and exit (legacy_dir).
  std::string base;
  std::string legacy_dir;
  bool has_script = false;
  std::string stdout_path, stderr_path;
  std::string cgroup;
  pid_t sup = 0;
  unsigned long long sup_start = 0;
  pid_t pid = 0;  // the job, leader of its process group; valid while the supervisor lives
  int pidfd = -1;  // of the supervisor; -1 = poll liveness instead
  Seconds start_unix = 0;
  std::optional<Seconds> time_limit_s;
  std::optional<Seconds> idle_timeout_s;  // JobSpec.idle_timeout_s
  std::vector<int> gpus;                  // its GPUs' indices on this node (their use keeps it busy)
  std::string launch_error;
  std::string kill_reason;  // "killed" or "timeout" once a kill began
  Seconds kill_unix = 0;
  Seconds kill_grace_s = 0;
  bool sigkill_sent = false;
  std::optional<Clock::time_point> time_deadline, kill_deadline;
  bool running = true;
  std::optional<int> exit_code, signal;
  std::string reason;
  std::optional<Seconds> end_unix;
  std::shared_ptr<PtySession> pty;  // an interactive task's terminal
  int pty_fd = -1;                  // its master's number in the supervisor, which holds a copy
  // Warnings and idleness (in memory: a restarted agent counts idleness
  // from its start again, and does not repeat a time warning already due).
  bool time_warned = false;
  Clock::time_point last_active{};  // GPU use, input through kojod (NoteActivity), the start
  bool idle_warned = false;
  int session_port = 0;             // a notebook's server, on 127.0.0.1 (KOJO_SESSION_PORT); 0 = none
};

// A port of 127.0.0.1 free now (the kernel's pick; the task binds it
// moments later).
Result<int> FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error{ErrorCode::kIo, fmt::format("cannot pick a port for the session: {}", std::strerror(errno))};
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  const int err = errno;
  close(fd);
  if (!ok) return Error{ErrorCode::kIo, fmt::format("cannot pick a port for the session: {}", std::strerror(err))};
  return static_cast<int>(ntohs(a.sin_port));
}

Seconds NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Json RecordJson(const Task& t) {
  Json j{{"job", t.job},           {"attempt", t.attempt},       {"rank", t.rank},
         {"stdout", t.stdout_path}, {"stderr", t.stderr_path},    {"cgroup", t.cgroup},
         {"supervisor_pid", t.sup}, {"supervisor_start", t.sup_start}, {"pid", t.pid},
         {"start_unix", t.start_unix}, {"launch_error", t.launch_error},
         {"kill_reason", t.kill_reason}, {"kill_unix", t.kill_unix}, {"kill_grace_s", t.kill_grace_s},
         {"pty_fd", t.pty_fd}, {"session_port", t.session_port}};
  j["time_limit_s"] = t.time_limit_s ? Json(*t.time_limit_s) : Json(nullptr);
  if (t.idle_timeout_s) j["idle_timeout_s"] = *t.idle_timeout_s;
  if (!t.gpus.empty()) j["gpus"] = t.gpus;
  return j;
}

// Task records survive a crash of the agent; a crash of the machine ends
// the tasks too, so they are not flushed to disk (launch speed).
constexpr AtomicWriteOptions kRecord{.mode = 0644, .sync = false};

std::string RecordPath(const Task& t) { return t.legacy_dir.empty() ? t.base + ".json" : t.legacy_dir + "/task.json"; }
std::string StatusPath(const Task& t) { return t.base + ".status"; }

// Rewrites the record of a task that may be running: atomically.
bool Persist(const Task& t) { return WriteFileAtomic(RecordPath(t), RecordJson(t).dump(), kRecord).ok(); }

// A status file is given its bytes (spaces) before its task starts, so that
// the supervisor's notes ("pid", "exit": under 64 bytes) overwrite bytes the
// file has: on a file system that overwrites in place (ext4, xfs) a full
// disk cannot then lose a task's end.
constexpr off_t kStatusBytes = 64;
bool ReserveStatus(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  bool ok = fstat(fd, &st) == 0;
  for (off_t at = ok ? st.st_size : kStatusBytes; ok && at < kStatusBytes;) {
    const std::string blank(static_cast<size_t>(kStatusBytes - at), ' ');
    const ssize_t n = pwrite(fd, blank.data(), blank.size(), at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = ENOSPC;
      ok = false;
    }
    at += n > 0 ? n : 0;
  }
  const int err = errno;
  ::close(fd);
  errno = err;
  return ok;
}

std::optional<Task> TaskFromRecord(const std::string& text) {
  auto j = api::ParseJson(text);
  if (!j.ok() || !j->is_object()) return std::nullopt;
  try {
    Task t;
    const Json& r = *j;
    t.job = r.at("job").get<JobId>();
    t.attempt = r.at("attempt").get<int>();
    t.rank = r.value("rank", 0);
    t.stdout_path = r.value("stdout", "");
    t.stderr_path = r.value("stderr", "");
    t.cgroup = r.value("cgroup", "");
    t.sup = r.value("supervisor_pid", 0);
    t.sup_start = r.value("supervisor_start", 0ULL);
    t.pid = r.value("pid", 0);
    t.start_unix = r.value("start_unix", Seconds{0});
    t.launch_error = r.value("launch_error", "");
    t.kill_reason = r.value("kill_reason", "");
    t.kill_unix = r.value("kill_unix", Seconds{0});
    t.kill_grace_s = r.value("kill_grace_s", Seconds{0});
    t.pty_fd = r.value("pty_fd", -1);
    t.session_port = r.value("session_port", 0);
    if (r.contains("time_limit_s") && r["time_limit_s"].is_number_integer())
      t.time_limit_s = r["time_limit_s"].get<Seconds>();
    if (r.contains("idle_timeout_s") && r["idle_timeout_s"].is_number_integer())
      t.idle_timeout_s = r["idle_timeout_s"].get<Seconds>();
    if (r.contains("gpus") && r["gpus"].is_array())
      for (const Json& g : r["gpus"])
        if (g.is_number_integer()) t.gpus.push_back(g.get<int>());
    return t;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// What the supervisor noted: the job's pid and, once it ended, its status.
SupervisorStatus ReadStatus(const Task& t) {
  if (t.legacy_dir.empty()) return ParseSupervisorStatus(ReadFile(StatusPath(t)));
  SupervisorStatus st;  // an older agent's supervisor: "<pid>\n" and "<wait status>\n<end unix>\n"
  std::istringstream pid(ReadFile(t.legacy_dir + "/job.pid"));
  pid >> st.job;
  std::istringstream exit(ReadFile(t.legacy_dir + "/exit"));
  long long status = 0, end = 0;
  if (exit >> status >> end) {
    st.ended = true;
    st.wait_status = static_cast<int>(status);
    st.end_unix = end;
  }
  return st;
}

bool Alive(pid_t pid, unsigned long long start) {
  return pid > 0 && start != 0 && ProcessStartTime(pid) == start;
}

int PidfdOpen(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

void Finish(Task& t, int status, Seconds end, bool fenced = false) {
  if (fenced && t.kill_reason.empty()) t.kill_reason = "fenced";  // by its supervisor: the agent was away
  t.running = false;
  t.end_unix = end;
  if (WIFEXITED(status)) t.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) t.signal = WTERMSIG(status);
  t.reason = !t.launch_error.empty() ? t.launch_error : !t.kill_reason.empty() ? t.kill_reason : "exited";
  t.time_deadline.reset();
  t.kill_deadline.reset();
  if (t.pty) t.pty->TaskEnded();
}

void MarkLost(Task& t) {
  if (t.pty) t.pty->TaskEnded();
  t.running = false;
  t.end_unix = NowUnix();
  t.reason = !t.launch_error.empty() ? t.launch_error : "lost";
  if (!t.launch_error.empty()) t.exit_code = kLaunchFailedExit;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

// %j job, %A array job, %a array index, %x name, %t rank, %N node, %% percent.
std::string ExpandPath(const std::string& pattern, const api::StartCommand& c, const std::string& node) {
  if (pattern.find('%') == std::string::npos) return pattern;
  auto env = [&](const char* name, std::string fallback) {
    auto it = c.spec.env.find(name);
    return it == c.spec.env.end() ? fallback : it->second;
  };
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%' || i + 1 == pattern.size()) {
      out += pattern[i];
      continue;
    }
    char k = pattern[++i];
    switch (k) {
      case 'j': out += std::to_string(c.job); break;
      case 'A': out += env("KOJO_ARRAY_JOB_ID", std::to_string(c.job)); break;
      case 'a': out += env("KOJO_ARRAY_TASK_ID", "0"); break;
      case 'x': out += c.spec.name; break;
      case 't': out += std::to_string(c.placement.rank); break;
      case 'N': out += node; break;
      case '%': out += '%'; break;
      default: out += '%'; out += k; break;
    }
  }
  return out;
}

// A session is warned before its time limit or its idle timeout ends it:
// 5 minutes before, or a tenth of the limit when that is shorter (at least
// a second, for limits of 2 s and more).
Seconds WarnBefore(Seconds limit) { return std::min<Seconds>(300, std::max<Seconds>(limit / 10, limit >= 2 ? 1 : 0)); }

std::string SpanText(Seconds s) { return s % 60 == 0 ? fmt::format("{} min", s / 60) : fmt::format("{} s", s); }

// The line written into an interactive task's terminal before its time limit.
struct TimeWarning {
  Seconds before = 0;
  std::string text;
};
std::optional<TimeWarning> TimeLimitWarning(JobId job, Seconds limit) {
  const Seconds before = WarnBefore(limit);
  if (before < 1) return std::nullopt;
  return TimeWarning{before, fmt::format("\r\n[kojo] job {}: its time limit ends this session in {} "
                                         "(`kojo extend {} MINUTES` adds time where the project allows)\r\n",
                                         job, SpanText(before), job)};
}

std::string UtcClock(Seconds unix) {
  const std::time_t t = static_cast<std::time_t>(unix);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:02}:{:02} UTC", tm.tm_hour, tm.tm_min);
}

// Arms a task's time limit (its start, a restart's adoption, `kojo
// extend`): the deadline on the steady clock, counted from the task's
// start, and whether the terminal's warning is already due at `now` (then
// it is not given late).
void ArmTimeLimit(Task& t, Seconds now) {
  if (!t.time_limit_s) return;
  const Seconds end = t.start_unix + *t.time_limit_s;
  t.time_deadline = Clock::now() + std::chrono::seconds(std::max<Seconds>(0, end - now));
  const auto warn = TimeLimitWarning(t.job, *t.time_limit_s);
  t.time_warned = warn && end - warn->before <= now;
}

constexpr size_t kEndedPtys = 32;  // terminals of forgotten tasks kept for a late reader

}  // namespace

class ProcessLauncher::Impl {
 public:
  explicit Impl(LauncherOptions o) : opt(std::move(o)) {}

  LauncherOptions opt;
  std::string tasks_dir, logs_dir, work_dir;
  std::map<std::string, std::string> base_env;
  mutable std::mutex mu;
  std::map<Key, Task> tasks;
  std::set<Key> forgotten;
  std::set<Key> launching;  // between Start() and the task entering `tasks`
  std::deque<Key> forgotten_order;
  std::function<void()> listener;
  std::mutex launch_mu;  // one launch at a time
  int event_fd = -1;
  bool stop = false;
  int adopted = 0;
  std::thread monitor;
  std::unique_ptr<SpawnHelper> helper;
  std::unique_ptr<SpareFiles> spare;  // forgotten tasks' files, for reuse
  std::deque<std::pair<JobId, std::shared_ptr<PtySession>>> ended_ptys;  // of forgotten tasks, newest last
  // The controller's lease (RenewLease): running tasks end at lease_until.
  std::string lease_path;
  std::optional<Clock::time_point> lease_until;
  Seconds lease_grace_s = 0;
  long long lease_written_ms = -1;  // the deadline in the lease file
  bool fencing = false;             // the lease ran out: its tasks are being ended

  std::string DefaultLog(JobId job, int attempt, int rank, const char* ext) const {
    return fmt::format("{}/{}.{}.{}.{}", logs_dir, job, attempt, rank, ext);
  }
  void Wake() const {
    uint64_t one = 1;
    ssize_t ignored = write(event_fd, &one, sizeof one);
    (void)ignored;
  }
  void Notify() {
    std::function<void()> l;
    {
      std::lock_guard lock(mu);
      l = listener;
    }
    if (l) l();
  }

  Task Launch(const api::StartCommand& c);
  void LaunchFailed(Task& t, const std::string& why);
  void NodeFault(Task& t, const std::string& why);
  void Adopt();
  void TakeBackPty(Task& t);
  void SupervisorGone(Task& t);
  void BeginKill(Task& t, const std::string& reason, Seconds grace);
  // Gives the warnings that are due (time limit, idleness) and says whether
  // the task has been idle past its idle timeout.
  bool Idle(Task& t, Clock::time_point now);
  void MonitorLoop();
  // The job's pid from the supervisor's note, when the launch did not say.
  void LearnPid(Task& t) {
    if (t.pid <= 0) t.pid = ReadStatus(t).job;
  }
};

void ProcessLauncher::Impl::LaunchFailed(Task& t, const std::string& why) {
  t.launch_error = "launch-failed: " + why;
  Finish(t, kLaunchFailedExit << 8, NowUnix());
  // The status makes a restarted agent report the same end.
  (void)WriteFileInPlace(StatusPath(t), fmt::format("exit {} {}\n", kLaunchFailedExit << 8, *t.end_unix));
  Persist(t);
  LogWarn("task {}.{}: {}", t.job, t.attempt, t.launch_error);
}

// A start this node cannot make durable (its state directory's disk is
// full or failing): not started, since a task without a record would be
// orphaned by a restart of the agent. Its end says so ("node-fault: "), and
// kojod requeues the job and drains the node. Nothing is written: the disk
// is what failed.
void ProcessLauncher::Impl::NodeFault(Task& t, const std::string& why) {
  t.running = false;
  t.end_unix = NowUnix();
  t.reason = std::string(api::kNodeFaultPrefix) + why;
  if (t.pty) t.pty->TaskEnded();
  LogWarn("task {}.{}: not started: {}", t.job, t.attempt, t.reason);
}

Task ProcessLauncher::Impl::Launch(const api::StartCommand& c) {
  Task t;
  t.job = c.job;
  t.attempt = c.attempt;
  t.rank = c.placement.rank;
  t.base = fmt::format("{}/{}.{}", tasks_dir, c.job, c.attempt);
  t.start_unix = NowUnix();
  t.time_limit_s = c.spec.time_limit_s;
  t.idle_timeout_s = c.spec.idle_timeout_s;
  t.gpus = c.placement.gpus;
  t.last_active = Clock::now();
  const std::string workdir = c.spec.workdir.empty() ? work_dir : c.spec.workdir;
  auto absolute = [&](const std::string& p) { return p.empty() || p[0] == '/' ? p : workdir + "/" + p; };
  t.stdout_path = c.spec.stdout_path.empty() ? DefaultLog(c.job, c.attempt, t.rank, "out")
                                             : absolute(ExpandPath(c.spec.stdout_path, c, opt.node_name));
  t.stderr_path = !c.spec.stderr_path.empty() ? absolute(ExpandPath(c.spec.stderr_path, c, opt.node_name))
                  : c.spec.stdout_path.empty() ? DefaultLog(c.job, c.attempt, t.rank, "err")
                                               : t.stdout_path;

  // The environment of docs/api.md, over a few basics of the agent's own.
  std::map<std::string, std::string> env = base_env;
  for (const auto& [k, v] : c.spec.env) env[k] = v;
  std::vector<std::string> gpus, uuids;
  for (size_t i = 0; i < c.placement.gpus.size(); ++i) {
    int g = c.placement.gpus[i];
    gpus.push_back(std::to_string(g));
    if (i < c.placement.gpu_uuids.size()) uuids.push_back(c.placement.gpu_uuids[i]);
    else if (g >= 0 && static_cast<size_t>(g) < opt.gpus.size()) uuids.push_back(opt.gpus[static_cast<size_t>(g)].uuid);
  }
  // MIG instances are named by UUID only (CUDA has no index for them).
  const bool mig = std::any_of(uuids.begin(), uuids.end(), [](const std::string& u) { return u.rfind("MIG-", 0) == 0; });
  env["CUDA_VISIBLE_DEVICES"] = mig ? Join(uuids) : Join(gpus);
  env["NVIDIA_VISIBLE_DEVICES"] = mig ? Join(uuids) : Join(gpus);
  if (!c.spec.env.count("CUDA_DEVICE_ORDER")) env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID";  // NVML's order
  env["KOJO_JOB_ID"] = std::to_string(c.job);
  env["KOJO_ATTEMPT"] = std::to_string(c.attempt);
  env["KOJO_NODE"] = opt.node_name;
  env["KOJO_GPUS"] = Join(gpus);
  env["KOJO_GPU_UUIDS"] = Join(uuids);
  env["KOJO_RANK"] = std::to_string(c.placement.rank);
  env["KOJO_WORLD_SIZE"] = std::to_string(c.world_size);
  env["KOJO_PEERS"] = c.peers.empty() ? opt.node_name : Join(c.peers);
  env["KOJO_MASTER_ADDR"] = c.peers.empty() ? opt.node_name : c.peers[0];

  if (c.spec.notebook) {  // its server listens on a free loopback port that kojod's proxy reaches through us
    auto port = FreeLoopbackPort();
    if (!port.ok()) {
      LaunchFailed(t, port.error().message);
      return t;
    }
    t.session_port = *port;
    env["KOJO_SESSION_PORT"] = std::to_string(*port);
    env["KOJO_SESSION_BASE"] = fmt::format("/sessions/{}/", c.job);
    if (!c.spec.session_secret.empty()) env["JUPYTER_TOKEN"] = c.spec.session_secret;
  }

  SpawnRequest req;
  if (c.spec.pty) {
    auto pty = PtySession::Open(c.spec.pty_rows > 0 ? c.spec.pty_rows : 24, c.spec.pty_cols > 0 ? c.spec.pty_cols : 80);
    if (!pty.ok()) {
      LaunchFailed(t, pty.error().message);
      return t;
    }
    t.pty = std::move(*pty);
    req.tty = t.pty->slave_path();
    req.held_fd = t.pty->master_fd();  // the supervisor keeps the terminal up if the agent goes
    if (!env.count("TERM")) env["TERM"] = "xterm-256color";
  }
  req.workdir = workdir;
  req.status_file = StatusPath(t);
  for (const auto& [k, v] : env) req.env.push_back(k + "=" + v);
  if (!c.spec.script.empty()) {
    const std::string script = t.base + ".script";
    std::string text = c.spec.script;
    if (text.rfind("#!", 0) != 0) text = "#!/bin/sh\n" + text;
    if (auto w = WriteFileAtomic(script, text, kRecord); !w.ok()) {
      NodeFault(t, "task script: " + w.error().message);
      return t;
    }
    if (chmod(script.c_str(), 0700) != 0) {
      LaunchFailed(t, fmt::format("cannot write {}: {}", script, std::strerror(errno)));
      return t;
    }
    t.has_script = true;
    req.path = script;
    req.argv = {script};
  } else if (c.spec.command.empty() || c.spec.command[0].empty()) {
    LaunchFailed(t, "no command and no script");
    return t;
  } else {
    req.argv = c.spec.command;
    const std::string& cmd = c.spec.command[0];
    if (cmd.find('/') != std::string::npos) {
      req.path = cmd;
    } else {
      std::istringstream path(env["PATH"]);
      std::string dir;
      while (req.path.empty() && std::getline(path, dir, ':')) {
        std::string candidate = (dir.empty() ? "." : dir) + "/" + cmd;
        if (candidate[0] != '/') candidate = workdir + "/" + candidate;
        struct stat st {};
        if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(candidate.c_str(), X_OK) == 0)
          req.path = candidate;
      }
      if (req.path.empty()) {
        LaunchFailed(t, fmt::format("{}: command not found", cmd));
        return t;
      }
    }
  }

  req.stdout_path = t.stdout_path;
  req.stderr_path = t.stderr_path;
  req.lease_file = lease_path;
  if (opt.cgroups) {
    auto cg = opt.cgroups->CreateTask(fmt::format("{}.{}", c.job, c.attempt), c.spec.demand.cpu_milli,
                                      c.spec.demand.mem_mib);
    if (cg.ok()) {
      t.cgroup = *cg;
      req.cgroup_procs = t.cgroup + "/cgroup.procs";
    } else {
      LogWarn("task {}.{}: {}; running without limits", c.job, c.attempt, cg.error().message);
    }
  }

  // The record (with the supervisor's pid and start time) is durable
  // before the job may start.
  if (!spare->Take(RecordPath(t))) {
    NodeFault(t, fmt::format("task record {}: {}", RecordPath(t), std::strerror(errno)));
    return t;
  }
  if (!spare->Take(StatusPath(t)) || !ReserveStatus(StatusPath(t))) {
    NodeFault(t, fmt::format("task status {}: {}", StatusPath(t), std::strerror(errno)));
    return t;
  }
  std::string unrecorded;  // why the record could not be written
  SpawnResult r = helper->Spawn(req, [&](pid_t sup) {
    t.sup = sup;
    t.pty_fd = t.pty ? kSupervisorHeldFd : -1;
    t.pidfd = PidfdOpen(sup);
    t.sup_start = ProcessStartTime(sup);
    // In place, not atomically: nothing reads the first record until it is
    // complete (no supervisor starts before it is).
    if (WriteFileInPlace(RecordPath(t), RecordJson(t).dump())) return true;
    unrecorded = fmt::format("task record {}: {}", RecordPath(t), std::strerror(errno));
    return false;
  });
  if (r.supervisor < 0) {
    if (t.pidfd >= 0) close(t.pidfd);
    t.pidfd = -1;
    t.sup = 0;
    if (!unrecorded.empty()) NodeFault(t, unrecorded);
    else LaunchFailed(t, r.error);
    return t;
  }
  t.pid = r.job > 0 ? r.job : 0;
  if (!r.error.empty()) {
    t.launch_error = "launch-failed: " + r.error;  // the supervisor exits 127
    Persist(t);
    LogWarn("task {}.{}: {}", t.job, t.attempt, t.launch_error);
  }
  ArmTimeLimit(t, t.start_unix);
  if (t.pty) t.pty->Start(t.stdout_path);
  return t;
}

void ProcessLauncher::Impl::SupervisorGone(Task& t) {
  if (t.pidfd >= 0) close(t.pidfd);
  t.pidfd = -1;
  if (t.sup > 0) waitpid(t.sup, nullptr, WNOHANG);  // reaps it when it is our child
  const SupervisorStatus st = ReadStatus(t);
  if (st.ended) {
    if (st.fenced && t.kill_reason.empty())
      LogWarn("task {}.{}: fenced: stopped by its supervisor when the lease ran out", t.job, t.attempt);
    Finish(t, st.wait_status, st.end_unix, st.fenced);
    return;
  }
  if (t.pid <= 0) t.pid = st.job;
  // The supervisor died without a word (killed): stop what is left.
  LearnPid(t);
  if (IsTaskLeader(t.pid, t.sup)) kill(-t.pid, SIGKILL);
  if (opt.cgroups) opt.cgroups->KillTask(t.cgroup);
  MarkLost(t);
}

bool ProcessLauncher::Impl::Idle(Task& t, Clock::time_point now) {
  if (t.pty && !t.time_warned && t.time_deadline)
    if (auto warn = TimeLimitWarning(t.job, *t.time_limit_s); warn && now >= *t.time_deadline - std::chrono::seconds(warn->before)) {
      t.pty->Notice(warn->text);
      t.time_warned = true;
    }
  if (!t.idle_timeout_s) return false;
  auto active = t.last_active;
  if (t.pty)
    if (auto input = t.pty->last_input(); input && *input > active) active = *input;
  const auto end = active + std::chrono::seconds(*t.idle_timeout_s);
  if (now >= end) return true;
  const Seconds before = WarnBefore(*t.idle_timeout_s);
  if (before < 1 || now < end - std::chrono::seconds(before)) {
    t.idle_warned = false;  // in use again since a warning
  } else if (!t.idle_warned) {
    t.idle_warned = true;
    LogInfo("task {}.{}: idle; it ends in {} unless used", t.job, t.attempt, SpanText(before));
    if (t.pty)
      t.pty->Notice(fmt::format("\r\n[kojo] job {}: this session has been idle (no input, no GPU use) for {}; it "
                                "ends in {} unless used\r\n",
                                t.job, SpanText(*t.idle_timeout_s - before), SpanText(before)));
  }
  return false;
}

void ProcessLauncher::Impl::BeginKill(Task& t, const std::string& reason, Seconds grace) {
  LearnPid(t);
  t.kill_reason = reason;
  t.kill_unix = NowUnix();
  t.kill_grace_s = grace;
  Persist(t);
  if (t.pid > 0 && t.pty) kill(-t.pid, SIGHUP);  // an interactive shell ignores SIGTERM, not a hang-up
  if (t.pid > 0) {
    kill(-t.pid, SIGTERM);
    kill(-t.pid, SIGCONT);  // a stopped task must see its SIGTERM
  }
  if (grace <= 0) {
    if (t.pid > 0) kill(-t.pid, SIGKILL);
    if (opt.cgroups) opt.cgroups->KillTask(t.cgroup);
    t.sigkill_sent = true;
  } else {
    t.kill_deadline = Clock::now() + std::chrono::seconds(grace);
  }
}

// The terminal of an interactive task found running at start: its master,
// from the copy its supervisor holds (pidfd_getfd).
void ProcessLauncher::Impl::TakeBackPty(Task& t) {
  int master = -1;
#ifdef SYS_pidfd_getfd
  if (t.pidfd >= 0) master = static_cast<int>(syscall(SYS_pidfd_getfd, t.pidfd, t.pty_fd, 0));
#endif
  if (master < 0) {
    LogWarn("task {}.{}: its terminal cannot be taken back from its supervisor ({}); it runs on unreachable", t.job,
            t.attempt, std::strerror(errno));
    return;
  }
  struct stat log {};
  auto pty = PtySession::FromMaster(master, stat(t.stdout_path.c_str(), &log) == 0 ? log.st_size : 0);
  if (!pty.ok()) {
    close(master);
    LogWarn("task {}.{}: {}", t.job, t.attempt, pty.error().message);
    return;
  }
  t.pty = std::move(*pty);
  t.pty->Start(t.stdout_path);
}

void ProcessLauncher::Impl::Adopt() {
  std::error_code ec;
  const Seconds now = NowUnix();
  std::vector<std::string> records, legacy, strays;
  for (const auto& entry : fs::directory_iterator(tasks_dir, ec)) {
    const std::string path = entry.path().string();
    const std::string ext = entry.path().extension().string();
    if (entry.is_directory(ec)) legacy.push_back(path);
    else if (ext == ".json") records.push_back(path);
    else if (ext == ".tmp") strays.push_back(path);  // an atomic write cut short
    else if (!fs::exists(path.substr(0, path.size() - ext.size()) + ".json", ec)) strays.push_back(path);
  }
  for (const auto& path : strays) fs::remove(path, ec);
  auto adopt = [&](const std::string& record, const std::string& base, const std::string& legacy_dir) {
    auto t = TaskFromRecord(ReadFile(record));
    if (!t) {
      LogWarn("{}: no readable task record; removed", record);
      if (!legacy_dir.empty()) {
        fs::remove_all(legacy_dir, ec);
      } else {
        for (const char* ext : {".json", ".status", ".script"}) fs::remove(base + ext, ec);
      }
      return;
    }
    t->base = base;
    t->legacy_dir = legacy_dir;
    t->has_script = legacy_dir.empty() && fs::exists(base + ".script", ec);
    const SupervisorStatus st = ReadStatus(*t);
    if (t->pid <= 0) t->pid = st.job;  // the supervisor notes the job's pid
    const Key key{t->job, t->attempt};
    if (st.ended) {
      Finish(*t, st.wait_status, st.end_unix, st.fenced);
    } else if (Alive(t->sup, t->sup_start)) {
      t->pidfd = PidfdOpen(t->sup);
      t->last_active = Clock::now();
      if (t->pty_fd >= 0) TakeBackPty(*t);
      ArmTimeLimit(*t, now);
      if (!t->kill_reason.empty())
        t->kill_deadline = Clock::now() + std::chrono::seconds(std::max<Seconds>(0, t->kill_unix + t->kill_grace_s - now));
      ++adopted;
      LogInfo("task {}.{}: adopted (pid {})", t->job, t->attempt, t->pid);
    } else {
      SupervisorGone(*t);
      LogWarn("task {}.{}: {} while the agent was away", t->job, t->attempt, t->reason);
    }
    tasks.emplace(key, std::move(*t));
  };
  for (const auto& path : records) adopt(path, path.substr(0, path.size() - 5), "");
  for (const auto& dir : legacy) adopt(dir + "/task.json", dir, dir);
}

void ProcessLauncher::Impl::MonitorLoop() {
  std::vector<pollfd> fds;
  std::vector<Key> keys;
  for (;;) {
    fds.assign(1, pollfd{event_fd, POLLIN, 0});
    keys.assign(1, Key{});
    int timeout_ms = 1000;
    {
      std::lock_guard lock(mu);
      if (stop) return;
      const auto now = Clock::now();
      for (const auto& [key, t] : tasks) {
        if (!t.running) continue;
        if (t.pidfd >= 0) {
          fds.push_back(pollfd{t.pidfd, POLLIN, 0});
          keys.push_back(key);
        } else {
          timeout_ms = std::min(timeout_ms, 100);  // no pidfd: look at it every 100 ms
        }
        std::optional<Clock::time_point> next = t.kill_reason.empty() ? t.time_deadline
                                                : t.sigkill_sent      ? std::nullopt
                                                                      : t.kill_deadline;
        if (t.kill_reason.empty() && lease_until) next = next ? std::min(*next, *lease_until) : *lease_until;
        if (next) {
          auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*next - now).count() + 1;
          timeout_ms = static_cast<int>(std::clamp<long long>(ms, 0, timeout_ms));
        }
      }
    }
    int n = poll(fds.data(), fds.size(), timeout_ms);
    if (n < 0 && errno != EINTR) {
      LogWarn("poll: {}", std::strerror(errno));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (fds[0].revents & POLLIN) {
      uint64_t v;
      ssize_t ignored = read(event_fd, &v, sizeof v);
      (void)ignored;
    }
    bool changed = false;
    {
      std::lock_guard lock(mu);
      if (stop) return;
      for (size_t i = 1; i < fds.size(); ++i) {
        if (!fds[i].revents) continue;
        auto it = tasks.find(keys[i]);
        if (it == tasks.end() || !it->second.running) continue;
        SupervisorGone(it->second);
        changed = true;
      }
      const auto now = Clock::now();
      for (auto& [key, t] : tasks) {
        if (!t.running) continue;
        if (t.pidfd < 0) {
          int status = 0;
          bool reaped = t.sup > 0 && waitpid(t.sup, &status, WNOHANG) == t.sup;
          if (reaped || !Alive(t.sup, t.sup_start)) {
            SupervisorGone(t);
            changed = true;
            continue;
          }
        }
        if (t.kill_reason.empty() && lease_until && now >= *lease_until) {
          if (!fencing)
            LogWarn("no word from the controller within the lease it gave: stopping this node's tasks (their jobs "
                    "are requeued or fail elsewhere)");
          fencing = true;
          LogInfo("task {}.{}: its lease is over: ending it", t.job, t.attempt);
          BeginKill(t, "fenced", lease_grace_s);
        } else if (t.kill_reason.empty() && t.time_deadline && now >= *t.time_deadline) {
          LogInfo("task {}.{}: time limit of {} s reached", t.job, t.attempt, t.time_limit_s.value_or(0));
          BeginKill(t, "timeout", opt.default_grace_s);
        } else if (t.kill_reason.empty() && Idle(t, now)) {
          LogInfo("task {}.{}: idle for {} s (no input, no GPU use): ending it", t.job, t.attempt,
                  t.idle_timeout_s.value_or(0));
          BeginKill(t, "idle", opt.default_grace_s);
        } else if (!t.kill_reason.empty() && !t.sigkill_sent && t.kill_deadline && now >= *t.kill_deadline) {
          if (t.pid > 0) kill(-t.pid, SIGKILL);
          if (opt.cgroups) opt.cgroups->KillTask(t.cgroup);
          t.sigkill_sent = true;
        }
      }
    }
    if (changed) Notify();
  }
}

Result<std::unique_ptr<ProcessLauncher>> ProcessLauncher::Create(LauncherOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  Impl& m = *impl;
  m.tasks_dir = m.opt.state_dir + "/tasks";
  m.logs_dir = m.opt.state_dir + "/logs";
  m.work_dir = m.opt.state_dir + "/work";
  const std::string spare_dir = m.opt.state_dir + "/spare";
  for (const auto& d : {m.tasks_dir, m.logs_dir, m.work_dir, spare_dir}) {
    std::error_code ec;
    fs::create_directories(d, ec);
    // Tasks' records and default logs are the agent's alone: other local
    // users read logs through kojod, which checks who may see the job.
    if (!ec && (d == m.tasks_dir || d == m.logs_dir)) fs::permissions(d, fs::perms::owner_all, fs::perm_options::replace, ec);
    if (ec) return Error{ErrorCode::kIo, fmt::format("state dir: cannot create {}: {}", d, ec.message())};
  }
  m.spare = std::make_unique<SpareFiles>(spare_dir, kMaxSpare);
  // Kept across restarts: tasks adopted keep the lease the last agent had.
  m.lease_path = m.opt.state_dir + "/lease";
  if (std::error_code ec; !fs::exists(m.lease_path, ec) && !WriteFileInPlace(m.lease_path, FormatLease(0, 0)))
    return Error{ErrorCode::kIo, fmt::format("state dir: cannot create {}: {}", m.lease_path, std::strerror(errno))};
  for (const char* name : {"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "TZ", "TMPDIR"})
    if (const char* v = getenv(name)) m.base_env[name] = v;
  if (!m.base_env.count("PATH")) m.base_env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  // The helper first, while this process is small (and, in kojo-agent,
  // has one thread): every supervisor is a fork of it.
  auto helper = SpawnHelper::Start();
  if (!helper.ok()) return helper.error();
  m.helper = std::move(*helper);
  m.event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (m.event_fd < 0) return Error{ErrorCode::kIo, fmt::format("eventfd: {}", std::strerror(errno))};
  m.Adopt();
  m.monitor = std::thread([&m] { m.MonitorLoop(); });
  return std::unique_ptr<ProcessLauncher>(new ProcessLauncher(std::move(impl)));
}

ProcessLauncher::ProcessLauncher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ProcessLauncher::~ProcessLauncher() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->Wake();
  if (impl_->monitor.joinable()) impl_->monitor.join();
  for (auto& [key, t] : impl_->tasks)
    if (t.pidfd >= 0) close(t.pidfd);
  close(impl_->event_fd);
}

void ProcessLauncher::SetListener(std::function<void()> listener) {
  std::lock_guard lock(impl_->mu);
  impl_->listener = std::move(listener);
}

void ProcessLauncher::Start(const api::StartCommand& cmd) {
  std::lock_guard launch(impl_->launch_mu);
  const Key key{cmd.job, cmd.attempt};
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stop || impl_->tasks.count(key) || impl_->forgotten.count(key)) return;
    // An earlier attempt of the job still running here (a node the
    // controller declared lost, back with its tasks): never two at once.
    // Not started now; the controller sends the start again with each reply
    // until the old attempt, which it has been told to kill, is gone.
    for (auto it = impl_->tasks.lower_bound(Key{cmd.job, 0}); it != impl_->tasks.end() && it->first.first == cmd.job;
         ++it)
      if (it->first.second < cmd.attempt && it->second.running) {
        LogInfo("task {}.{}: waits for attempt {} to end", cmd.job, cmd.attempt, it->first.second);
        return;
      }
    impl_->launching.insert(key);
  }
  Task t = impl_->Launch(cmd);
  if (t.running) LogInfo("task {}.{}: started, pid {}", t.job, t.attempt, t.pid);
  {
    std::lock_guard lock(impl_->mu);
    impl_->tasks.emplace(key, std::move(t));
    impl_->launching.erase(key);
  }
  impl_->Wake();
  impl_->Notify();
}

void ProcessLauncher::Kill(JobId job, int attempt, std::optional<Seconds> grace_s) {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->tasks.find(Key{job, attempt});
  if (it == impl_->tasks.end() || !it->second.running) return;
  Task& t = it->second;
  const Seconds grace = grace_s.value_or(impl_->opt.default_grace_s);
  if (!t.kill_reason.empty()) {
    // Already stopping: a shorter grace may bring the SIGKILL forward.
    auto sooner = Clock::now() + std::chrono::seconds(grace);
    if (!t.sigkill_sent && t.kill_deadline && sooner < *t.kill_deadline) t.kill_deadline = sooner;
  } else {
    LogInfo("task {}.{}: killing (grace {} s)", job, attempt, grace);
    impl_->BeginKill(t, "killed", grace);
  }
  impl_->Wake();
}

std::vector<api::TaskReport> ProcessLauncher::Tasks() const {
  std::lock_guard lock(impl_->mu);
  std::vector<api::TaskReport> out;
  out.reserve(impl_->tasks.size());
  for (const auto& [key, t] : impl_->tasks) {
    api::TaskReport r;
    r.job = t.job;
    r.attempt = t.attempt;
    r.running = t.running;
    r.exit_code = t.exit_code;
    r.signal = t.signal;
    r.reason = t.running ? "" : t.reason;
    r.start_time = t.start_unix;
    r.end_time = t.end_unix;
    if (t.running && t.kill_reason.empty()) r.time_limit_s = t.time_limit_s;  // what SetTimeLimit may change
    out.push_back(std::move(r));
  }
  return out;
}

void ProcessLauncher::SetTimeLimit(JobId job, int attempt, Seconds limit) {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->tasks.find(Key{job, attempt});
  if (it == impl_->tasks.end() || !it->second.running || !it->second.kill_reason.empty()) return;
  Task& t = it->second;
  if (t.time_limit_s == limit || limit <= 0) return;
  const Seconds old = t.time_limit_s.value_or(0);
  t.time_limit_s = limit;
  ArmTimeLimit(t, NowUnix());
  Persist(t);
  LogInfo("task {}.{}: time limit now {} s (was {} s)", job, attempt, limit, old);
  if (t.pty)
    t.pty->Notice(fmt::format("\r\n[kojo] job {}: time limit {} by {}; this session ends at {}\r\n", job,
                              limit > old ? "extended" : "shortened", SpanText(limit > old ? limit - old : old - limit),
                              UtcClock(t.start_unix + limit)));
  impl_->Wake();
}

void ProcessLauncher::NoteGpuUtil(const std::vector<int>& util) {
  std::lock_guard lock(impl_->mu);
  const auto now = Clock::now();
  for (auto& [key, t] : impl_->tasks) {
    if (!t.running || !t.idle_timeout_s || t.gpus.empty()) continue;
    // A GPU whose use is unknown counts as used: never ended for want of a reading.
    for (int g : t.gpus)
      if (g < 0 || static_cast<size_t>(g) >= util.size() || util[g] > 0) {
        t.last_active = now;
        break;
      }
  }
}

void ProcessLauncher::RenewLease(Clock::time_point heard, std::chrono::milliseconds lease, Seconds grace_s) {
  Impl& m = *impl_;
  std::lock_guard lock(m.mu);
  long long deadline_ms = 0;
  if (lease.count() <= 0) {
    m.lease_until.reset();
  } else {
    const auto until = heard + lease;
    if (m.lease_until && until <= *m.lease_until && grace_s == m.lease_grace_s) return;  // an older heartbeat's
    m.lease_until = std::max(until, m.lease_until.value_or(until));
    m.lease_grace_s = grace_s;
    deadline_ms = std::chrono::duration_cast<std::chrono::milliseconds>(m.lease_until->time_since_epoch()).count();
  }
  if (m.fencing) LogInfo("the controller is heard from again");
  // No Wake: the monitor looks at least once a second, and a later
  // deadline only makes its next look early.
  m.fencing = false;
  // The supervisors' copy, rewritten when it moved by a second (a tenth of
  // a shorter lease): theirs may end that much early, never late.
  const long long step = std::min<long long>(1000, lease.count() / 10);
  if (deadline_ms != 0 && m.lease_written_ms > 0 && deadline_ms - m.lease_written_ms < step) return;
  if (deadline_ms == m.lease_written_ms) return;
  if (!WriteFileInPlace(m.lease_path, FormatLease(deadline_ms, static_cast<int>(grace_s))))
    LogWarn("{}: cannot write the lease: {} (the tasks' supervisors keep the lease written before)", m.lease_path,
            std::strerror(errno));
  else
    m.lease_written_ms = deadline_ms;
}

void ProcessLauncher::NoteActivity(JobId job) {
  std::lock_guard lock(impl_->mu);
  const auto now = Clock::now();
  for (auto it = impl_->tasks.lower_bound(Key{job, INT32_MIN}); it != impl_->tasks.end() && it->first.first == job; ++it)
    if (it->second.running) it->second.last_active = now;
}

void ProcessLauncher::Forget(JobId job, int attempt) {
  Task t;
  std::shared_ptr<PtySession> oldest;  // dropped outside the lock: its end may wait for its thread
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->tasks.find(Key{job, attempt});
    if (it == impl_->tasks.end() || it->second.running) return;
    t = std::move(it->second);
    impl_->tasks.erase(it);
    if (t.pty) {
      impl_->ended_ptys.emplace_back(job, std::move(t.pty));
      if (impl_->ended_ptys.size() > kEndedPtys) {
        oldest = std::move(impl_->ended_ptys.front().second);
        impl_->ended_ptys.pop_front();
      }
    }
    impl_->forgotten.insert(Key{job, attempt});
    impl_->forgotten_order.push_back(Key{job, attempt});
    if (impl_->forgotten_order.size() > kForgottenMemory) {
      impl_->forgotten.erase(impl_->forgotten_order.front());
      impl_->forgotten_order.pop_front();
    }
  }
  // Logs at other places than the defaults stay findable through an index.
  if (t.stdout_path != impl_->DefaultLog(job, attempt, t.rank, "out") ||
      t.stderr_path != impl_->DefaultLog(job, attempt, t.rank, "err"))
    (void)WriteFileAtomic(impl_->DefaultLog(job, attempt, t.rank, "paths"), t.stdout_path + "\n" + t.stderr_path + "\n", kRecord);
  if (!t.legacy_dir.empty()) {
    std::error_code ec;
    fs::remove_all(t.legacy_dir, ec);
  } else {
    impl_->spare->Give(RecordPath(t));
    impl_->spare->Give(StatusPath(t));
    if (t.has_script) unlink((t.base + ".script").c_str());
  }
  if (impl_->opt.cgroups) impl_->opt.cgroups->RemoveTask(t.cgroup);
}

std::optional<TaskLogs> ProcessLauncher::FindLogs(JobId job, std::optional<int> attempt, int rank) const {
  // One lock over it all, the files of forgotten tasks included: a start
  // enters `launching` under this lock before it creates the task's log
  // files, so a task that starts meanwhile is never taken for a forgotten
  // one (whose log would end at once, empty).
  std::lock_guard lock(impl_->mu);
  const Task* best = nullptr;
  for (auto it = impl_->tasks.lower_bound(Key{job, INT32_MIN}); it != impl_->tasks.end() && it->first.first == job; ++it)
    if (it->second.rank == rank && (!attempt || *attempt == it->second.attempt)) best = &it->second;
  if (best) return TaskLogs{best->stdout_path, best->stderr_path, !best->running};
  // Still launching: its log files may exist already, but it has not
  // ended; answer "not there yet" rather than an early end of file.
  for (auto it = impl_->launching.lower_bound(Key{job, INT32_MIN}); it != impl_->launching.end() && it->first == job; ++it)
    if (!attempt || *attempt == it->second) return std::nullopt;
  if (!attempt) return std::nullopt;
  // Forgotten (acknowledged) tasks: the index, else the default files.
  std::istringstream index(ReadFile(impl_->DefaultLog(job, *attempt, rank, "paths")));
  TaskLogs logs;
  logs.ended = true;
  if (std::getline(index, logs.stdout_path) && std::getline(index, logs.stderr_path)) return logs;
  logs.stdout_path = impl_->DefaultLog(job, *attempt, rank, "out");
  logs.stderr_path = impl_->DefaultLog(job, *attempt, rank, "err");
  if (access(logs.stdout_path.c_str(), F_OK) == 0) return logs;
  return std::nullopt;
}

std::optional<int> ProcessLauncher::SessionPort(JobId job) const {
  std::lock_guard lock(impl_->mu);
  for (auto it = impl_->tasks.upper_bound(Key{job, INT32_MAX}); it != impl_->tasks.begin();) {
    --it;
    if (it->first.first != job) break;
    if (it->second.running && it->second.session_port > 0) return it->second.session_port;
  }
  return std::nullopt;
}

std::shared_ptr<PtySession> ProcessLauncher::FindPty(JobId job) const {
  std::lock_guard lock(impl_->mu);
  for (auto it = impl_->tasks.upper_bound(Key{job, INT32_MAX}); it != impl_->tasks.begin();) {
    --it;
    if (it->first.first != job) break;
    if (it->second.pty) return it->second.pty;
  }
  for (auto it = impl_->ended_ptys.rbegin(); it != impl_->ended_ptys.rend(); ++it)
    if (it->first == job) return it->second;
  return nullptr;
}

int ProcessLauncher::adopted() const {
  std::lock_guard lock(impl_->mu);
  return impl_->adopted;
}

int ProcessLauncher::HelperPid() const { return impl_->helper->helper_pid(); }

int ProcessLauncher::ProcessGroup(JobId job, int attempt) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->tasks.find(Key{job, attempt});
  return it == impl_->tasks.end() || !it->second.running ? 0 : it->second.pid;
}

}  // namespace kojo::agent
