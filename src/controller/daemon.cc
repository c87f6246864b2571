#include "controller/daemon.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

namespace kojo::controller {

namespace fs = std::filesystem;

Result<std::pair<std::string, int>> ParseListen(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return InvalidArgument(fmt::format("--listen: expected HOST:PORT like 127.0.0.1:7100, got '{}'", text));
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = -1;
  const char* b = text.data() + colon + 1;
  const char* e = text.data() + text.size();
  auto [p, ec] = std::from_chars(b, e, port);
  if (ec != std::errc() || p != e || b == e || port < 0 || port > 65535)
    return InvalidArgument(fmt::format("--listen: expected a port 0..65535 after ':', got '{}'", text.substr(colon + 1)));
  return std::make_pair(host, port);
}

static std::string Home() {
  const char* h = std::getenv("HOME");
  return h && *h ? h : "/tmp";
}

std::string DefaultDataDir(const std::string& leaf) {
  const char* x = std::getenv("XDG_DATA_HOME");
  return (x && *x ? std::string(x) : Home() + "/.local/share") + "/kojo/" + leaf;
}

std::string DevConfigPath() {
  const char* x = std::getenv("XDG_CONFIG_HOME");
  return (x && *x ? std::string(x) : Home() + "/.config") + "/kojo/dev.json";
}

bool NvmlPresent() {
  void* h = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) return false;
  dlclose(h);
  return true;
}

std::string SiblingBinary(const std::string& name) {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return name;
  return (self.parent_path() / name).string();
}

Result<pid_t> SpawnChild(const std::vector<std::string>& argv, const std::string& token) {
  if (argv.empty()) return InvalidArgument("no program to start");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> envs;
  for (char** e = environ; e && *e; ++e)
    if (std::string_view(*e).rfind("KOJO_TOKEN=", 0) != 0) envs.emplace_back(*e);
  if (!token.empty()) envs.push_back("KOJO_TOKEN=" + token);
  std::vector<char*> envp;
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return Error{ErrorCode::kIo, fmt::format("fork: {}", std::strerror(errno))};
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    execve(args[0], args.data(), envp.data());
    std::fprintf(stderr, "kojod: cannot start %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  return pid;
}

void StopChild(pid_t pid, int grace_ms) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

}  // namespace kojo::controller
