#include "agent/log.h"

#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>

namespace kojo::agent {

namespace {
std::atomic<bool> verbose{true};
}

void SetVerboseLogging(bool v) { verbose = v; }

void LogLine(std::string_view level, std::string_view message) {
  if (level == "info" && !verbose) return;
  timeval tv{};
  gettimeofday(&tv, nullptr);
  tm utc{};
  gmtime_r(&tv.tv_sec, &utc);
  char stamp[40];
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  std::string line = fmt::format("{}.{:03}Z kojo-agent {}: {}\n", stamp, tv.tv_usec / 1000, level, message);
  // One write per line, so lines of different threads do not interleave.
  ssize_t ignored = write(2, line.data(), line.size());
  (void)ignored;
}

}  // namespace kojo::agent
