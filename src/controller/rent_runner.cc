#include "controller/rent_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

extern char** environ;

namespace kojo::controller {

namespace {

constexpr size_t kKeepStderr = 4096;

// The last non-empty line of `text`.
std::string LastLine(const std::string& text) {
  size_t end = text.size();
  while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r' || text[end - 1] == ' ')) --end;
  const size_t begin = text.rfind('\n', end == 0 ? 0 : end - 1);
  return text.substr(begin == std::string::npos ? 0 : begin + 1, end - (begin == std::string::npos ? 0 : begin + 1));
}

}  // namespace

RentRunner::RentRunner(Done done) : done_(std::move(done)) {}

RentRunner::~RentRunner() { Stop(); }

void RentRunner::Run(RentProgram p) {
  std::lock_guard lock(mu_);
  if (stopping_) return;
  // Threads of earlier programs that have ended.
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (*it->finished) {
      it->thread.join();
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
  NodeQueue& q = nodes_[p.node];
  if (!p.start && q.running && q.running_start && q.pgid > 0 && !q.cancelled) {
    q.cancelled = true;
    ::kill(-q.pgid, SIGKILL);
  }
  const std::string node = p.node;
  q.queue.push_back(std::move(p));
  if (q.running) return;
  q.running = true;
  auto finished = std::make_shared<bool>(false);
  workers_.push_back(Worker{std::thread([this, node, finished] {
                              Work(node);
                              std::lock_guard l(mu_);
                              *finished = true;
                            }),
                            finished});
}

bool RentRunner::Busy(const std::string& node) const {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(node);
  return it != nodes_.end() && (it->second.running || !it->second.queue.empty());
}

void RentRunner::Stop() {
  std::vector<Worker> workers;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (auto& [name, q] : nodes_) {
      q.queue.clear();
      if (q.pgid > 0) {
        q.cancelled = true;
        ::kill(-q.pgid, SIGKILL);
      }
    }
    workers = std::move(workers_);
    workers_.clear();
  }
  cv_.notify_all();
  for (Worker& w : workers)
    if (w.thread.joinable()) w.thread.join();
}

void RentRunner::Work(std::string node) {
  std::unique_lock lock(mu_);
  while (true) {
    NodeQueue& q = nodes_[node];
    if (stopping_ || q.queue.empty()) {
      q.running = false;
      return;
    }
    RentProgram p = std::move(q.queue.front());
    q.queue.pop_front();
    q.running_start = p.start;
    q.cancelled = false;
    if (p.delay_s > 0) {
      cv_.wait_for(lock, std::chrono::seconds(p.delay_s), [&] { return stopping_; });
      if (stopping_) continue;
    }
    lock.unlock();
    RentProgramEnd end;
    end.node = p.node;
    end.start = p.start;
    bool prepared = true;
    if (p.prepare) {
      auto extra = p.prepare();
      if (!extra.ok()) {
        end.reason = extra.error().message;
        prepared = false;
      } else {
        for (auto& [k, v] : *extra) p.env[k] = v;
      }
    }
    if (prepared) end = Execute(p, q);
    lock.lock();
    if (stopping_) continue;  // no report once stopped
    lock.unlock();
    done_(end);
    lock.lock();
  }
}

RentProgramEnd RentRunner::Execute(const RentProgram& p, NodeQueue& q) {
  RentProgramEnd end;
  end.node = p.node;
  end.start = p.start;
  const char* what = p.start ? "start" : "stop";
  std::vector<std::string> envs;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    const std::string key(kv.substr(0, kv.find('=')));
    if (key == "KOJO_TOKEN" || p.env.count(key)) continue;
    envs.emplace_back(kv);
  }
  for (const auto& [k, v] : p.env) envs.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);
  const char* argv[] = {"/bin/sh", "-c", p.command.c_str(), nullptr};

  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    end.reason = fmt::format("{} program: pipe: {}", what, std::strerror(errno));
    return end;
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(pipefd[0]);
    close(pipefd[1]);
    end.reason = fmt::format("{} program: fork: {}", what, std::strerror(errno));
    return end;
  }
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    const int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
    }
    dup2(pipefd[1], 2);
    // Nothing of kojod's (its database, its sockets) goes to the program.
    syscall(SYS_close_range, 3, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    execve(argv[0], const_cast<char* const*>(argv), envp.data());
    _exit(127);
  }
  close(pipefd[1]);
  setpgid(pid, pid);
  {
    std::lock_guard lock(mu_);
    q.pgid = pid;
    if (stopping_ || q.cancelled) ::kill(-pid, SIGKILL);
  }
  fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
  std::string err;
  auto drain = [&] {
    char buf[1024];
    ssize_t n;
    while ((n = read(pipefd[0], buf, sizeof buf)) > 0) {
      err.append(buf, static_cast<size_t>(n));
      if (err.size() > 2 * kKeepStderr) err.erase(0, err.size() - kKeepStderr);
    }
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(std::max<Seconds>(1, p.timeout_s));
  int status = 0;
  bool timed_out = false;
  while (true) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) break;
    if (!timed_out && std::chrono::steady_clock::now() >= deadline) {
      timed_out = true;
      ::kill(-pid, SIGKILL);
    }
    pollfd pfd{pipefd[0], POLLIN, 0};
    poll(&pfd, 1, 50);
    drain();
  }
  drain();
  close(pipefd[0]);
  bool cancelled = false;
  {
    std::lock_guard lock(mu_);
    q.pgid = -1;
    cancelled = q.cancelled;
  }
  const std::string last = LastLine(err);
  if (timed_out) {
    end.reason = fmt::format("{} program killed at its time-out of {} s{}", what, p.timeout_s,
                             last.empty() ? "" : "; its last words: " + last);
  } else if (cancelled) {
    end.reason = fmt::format("{} program cancelled: a stop was ordered", what);
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    end.ok = true;
  } else if (WIFEXITED(status)) {
    end.reason = last.empty() ? fmt::format("{} program exited with status {}", what, WEXITSTATUS(status))
                              : fmt::format("{} program exited with status {}: {}", what, WEXITSTATUS(status), last);
  } else {
    end.reason = fmt::format("{} program killed by signal {}{}", what, WIFSIGNALED(status) ? WTERMSIG(status) : 0,
                             last.empty() ? "" : ": " + last);
  }
  return end;
}

}  // namespace kojo::controller
