// Test helpers: temporary folders, real kojod / kojo-agent processes on
// 127.0.0.1 (each in its own process group, killed on destruction), and
// bounded waits.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "test_support.h"

namespace kojo::testing {

using Json = nlohmann::json;
using JobId = std::int64_t;


// A child process in its own process group; SIGKILLed (group) on destruction.
class Process {
 public:
  Process() = default;
  explicit Process(const std::vector<std::string>& argv, const std::string& log_path = "") {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      // Dies with the test process, even one that aborts (a sanitizer
      // report) before its destructors can stop it.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      setpgid(0, 0);
      if (!log_path.empty()) {
        const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
          dup2(fd, 2);
          dup2(fd, 1);
        }
      }
      execv(args[0], args.data());
      _exit(127);
    }
    if (pid_ > 0) setpgid(pid_, pid_);
  }
  Process(Process&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
  Process& operator=(Process&& o) noexcept {
    Kill();
    pid_ = o.pid_;
    o.pid_ = -1;
    return *this;
  }
  ~Process() { Kill(); }
  pid_t pid() const { return pid_; }
  bool alive() const { return pid_ > 0 && ::kill(pid_, 0) == 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }
  // SIGKILL to the whole group, then reap.
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // SIGTERM and wait up to `timeout`; returns the exit status or nullopt.
  std::optional<int> Terminate(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return std::nullopt;
    ::kill(pid_, SIGTERM);
    int status = 0;
    const bool done = WaitFor([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, timeout);
    if (!done) {
      Kill();
      return std::nullopt;
    }
    ::kill(-pid_, SIGKILL);  // anything left in its group
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
};

// A reply's JSON body (null without a reply).
inline Json Body(const httplib::Result& r) {
  if (!r) return Json();
  return Json::parse(r->body, nullptr, false);
}

// A kojod on 127.0.0.1, any free port, with `data_dir`.
class Kojod {
 public:
  Kojod(const std::string& data_dir, std::vector<std::string> extra = {}, const std::string& listen = "127.0.0.1:0")
      : data_dir_(data_dir) {
    std::filesystem::create_directories(data_dir);
    std::filesystem::remove(data_dir + "/kojod.addr");
    std::vector<std::string> argv = {KOJOD_BINARY, "--data-dir", data_dir, "--listen", listen};
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc_ = Process(argv, data_dir + "/kojod.log");
    WaitFor([&] { return !ReadFile(data_dir + "/kojod.addr").empty() || !proc_.alive(); }, std::chrono::seconds(20));
    url_ = ReadFile(data_dir + "/kojod.addr");
    while (!url_.empty() && (url_.back() == '\n' || url_.back() == ' ')) url_.pop_back();
  }
  bool ok() const { return !url_.empty(); }
  const std::string& url() const { return url_; }
  int port() const { return std::stoi(url_.substr(url_.rfind(':') + 1)); }
  Process& process() { return proc_; }
  std::string log() const { return ReadFile(data_dir_ + "/kojod.log"); }
  httplib::Client Client() const {
    httplib::Client c(url_);
    c.set_connection_timeout(5, 0);
    c.set_read_timeout(30, 0);
    c.set_keep_alive(true);
    return c;
  }
  // POST /api/v1/jobs: the first id, or 0 unless answered 201 (then
  // `refusal`, if given, gets the answer).
  JobId Submit(const Json& spec, std::string* refusal = nullptr) const {
    auto r = Client().Post("/api/v1/jobs", spec.dump(), "application/json");
    if (r && r->status == 201) return Body(r)["ids"][0].get<JobId>();
    if (refusal) *refusal = r ? std::to_string(r->status) + " " + r->body : "no answer";
    return 0;
  }
  // GET /api/v1/jobs/{id}.
  Json Job(JobId id) const { return Body(Client().Get(("/api/v1/jobs/" + std::to_string(id)).c_str())); }
  // A node's state ("UP", "DOWN", ...), "" when it is not known.
  std::string NodeState(const std::string& name) const {
    auto r = Client().Get(("/api/v1/nodes/" + name).c_str());
    return r && r->status == 200 ? Body(r)["state"].get<std::string>() : "";
  }

 private:
  std::string data_dir_;
  std::string url_;
  Process proc_;
};

// Runs a shell command; returns its exit status and its output (stdout and stderr).
inline std::pair<int, std::string> Shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {-1, ""};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace kojo::testing
