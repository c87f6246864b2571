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
#include "test_support.h"

namespace kojo::agent::testing {

using kojo::testing::ReadFile;

// A fresh folder under /tmp, removed with everything in it.
class TempDir : public kojo::testing::TempDir {
 public:
  TempDir() : kojo::testing::TempDir("kojo-agent-test") {}
};

// Polls `done` every 2 ms until it holds or `timeout_ms` passes.
inline bool WaitFor(const std::function<bool()>& done, int timeout_ms = 10000) {
  return kojo::testing::WaitFor(done, std::chrono::milliseconds(timeout_ms), std::chrono::milliseconds(2));
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
