// Helpers shared by the agent's tests.
#pragma once

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "api/types.h"

namespace kojo::agent::testing {

// A fresh folder under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/kojo-agent-test-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Polls `done` every 2 ms until it holds or `timeout_ms` passes.
inline bool WaitFor(const std::function<bool()>& done, int timeout_ms = 10000) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return done();
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline api::StartCommand ScriptTask(JobId job, std::string script, int attempt = 1) {
  api::StartCommand c;
  c.job = job;
  c.attempt = attempt;
  c.spec.script = std::move(script);
  return c;
}

inline api::StartCommand CommandTask(JobId job, std::vector<std::string> argv, int attempt = 1) {
  api::StartCommand c;
  c.job = job;
  c.attempt = attempt;
  c.spec.command = std::move(argv);
  return c;
}

}  // namespace kojo::agent::testing
