// The daemons a benchmark starts (kojod, agents), each in its own process
// group, and a signal handler that takes them along when the benchmark is
// stopped (SIGTERM/SIGINT, e.g. by `timeout` or ctest). Header-only, for the
// programs under bench/.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace kojo::bench {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline constexpr int kMaxChildren = 1024;
inline volatile sig_atomic_t g_children[kMaxChildren];
inline volatile sig_atomic_t g_child_count = 0;

// SIGKILL to every child's group, then exit: async-signal-safe.
inline void KillChildrenAndExit(int sig) {
  for (int i = 0; i < g_child_count; ++i) {
    kill(-static_cast<pid_t>(g_children[i]), SIGKILL);
    kill(static_cast<pid_t>(g_children[i]), SIGKILL);
  }
  _exit(128 + sig);
}

// Starts argv[0] in a process group of its own, stdout and stderr to `log`.
inline pid_t Spawn(const std::vector<std::string>& argv, const std::string& log) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execv(args[0], args.data());
    _exit(127);
  }
  if (pid > 0 && g_child_count < kMaxChildren) {
    g_children[g_child_count] = pid;
    g_child_count = g_child_count + 1;
  }
  return pid;
}

}  // namespace kojo::bench
