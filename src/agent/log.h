// kojo-agent's log lines: to stderr, one line each, with a UTC timestamp.
#pragma once

#include <fmt/format.h>

#include <string_view>

namespace kojo::agent {

void LogLine(std::string_view level, std::string_view message);

template <typename... Args>
void LogInfo(fmt::format_string<Args...> f, Args&&... args) {
  LogLine("info", fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void LogWarn(fmt::format_string<Args...> f, Args&&... args) {
  LogLine("warn", fmt::format(f, std::forward<Args>(args)...));
}

// Quiet (only warnings) when false; tests turn it off.
void SetVerboseLogging(bool verbose);

}  // namespace kojo::agent
