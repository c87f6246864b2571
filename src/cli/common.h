// Helpers shared by the CLI's commands (internal to the cli module).
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "model/units.h"

namespace kojo::cli {

inline constexpr int kExitRuntime = 1;
inline constexpr int kExitUsage = 2;

// Thrown inside the cli module only; Main() turns it into a message and an
// exit code.
class CliError : public std::runtime_error {
 public:
  CliError(int exit_code, const std::string& message)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// Input errors (bad files, names, values) exit 2; I/O and the rest exit 1.
[[noreturn]] void Fail(const Error& e);
[[noreturn]] inline void UsageError(const std::string& message) { throw CliError(kExitUsage, message); }

template <typename T>
T Unwrap(Result<T> r) {
  if (!r.ok()) Fail(r.error());
  return std::move(r).value();
}

// "a,b,c" -> {"a","b","c"} (empty items dropped).
std::vector<std::string> SplitList(std::string_view s);
// "42", "42..51" or "1,5,9" -> seeds; errors name `flag`.
std::vector<std::uint64_t> ParseSeeds(std::string_view s, std::string_view flag);

// Creates DIR (and parents) or fails naming it.
void MakeDirs(const std::string& dir);
void WriteFile(const std::string& path, const std::string& text);

// A duration as squeue shows an elapsed time: "D-HH:MM:SS" from a day on,
// else "H:MM:SS" from an hour on, else "M:SS"; negative counts as 0.
std::string Duration(Seconds s);

// The credit line for figures made from a trace of this format name
// ("philly", "tiresias", "openb", "kojo").
std::string CreditFor(std::string_view format);

// A one-line progress bar on stderr, shown only when stderr is a terminal
// and the work has lasted longer than a second.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  ~ProgressBar();
  void Update(double fraction, std::string_view what = {});
  void Done();

 private:
  std::string label_;
  bool tty_ = false;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace kojo::cli
