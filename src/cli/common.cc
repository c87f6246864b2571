#include "cli/common.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

namespace kojo::cli {

void Fail(const Error& e) {
  const bool input = e.code == ErrorCode::kInvalidArgument || e.code == ErrorCode::kNotFound;
  throw CliError(input ? kExitUsage : kExitRuntime, e.message);
}

std::vector<std::string> SplitList(std::string_view s) {
  std::vector<std::string> out;
  while (true) {
    size_t comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

namespace {
bool ParseU64(std::string_view s, std::uint64_t& v) {
  if (s.empty() || s.size() > 19) return false;
  v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return true;
}
}  // namespace

std::vector<std::uint64_t> ParseSeeds(std::string_view s, std::string_view flag) {
  std::vector<std::uint64_t> out;
  auto bad = [&] {
    UsageError(fmt::format("{}: expected a seed, a range like 42..51 or a list like 1,2,3, got '{}'", flag, s));
  };
  if (size_t dots = s.find(".."); dots != std::string_view::npos) {
    std::uint64_t a, b;
    if (!ParseU64(s.substr(0, dots), a) || !ParseU64(s.substr(dots + 2), b) || b < a || b - a >= 10000) bad();
    for (std::uint64_t x = a; x <= b; ++x) out.push_back(x);
    return out;
  }
  for (const auto& item : SplitList(s)) {
    std::uint64_t v;
    if (!ParseU64(item, v)) bad();
    out.push_back(v);
  }
  if (out.empty()) bad();
  return out;
}

void MakeDirs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir))
    throw CliError(kExitRuntime, fmt::format("{}: cannot create directory ({})", dir,
                                             ec ? ec.message() : "not a directory"));
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (f) f << text;
  if (f) f.close();
  if (!f) throw CliError(kExitRuntime, fmt::format("{}: cannot write file", path));
}

std::string Duration(Seconds s) {
  if (s < 0) s = 0;
  const Seconds d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
  if (d > 0) return fmt::format("{}-{:02}:{:02}:{:02}", d, h, m, sec);
  if (h > 0) return fmt::format("{}:{:02}:{:02}", h, m, sec);
  return fmt::format("{}:{:02}", m, sec);
}

std::string CreditFor(std::string_view format) {
  if (format == "philly")
    return "Trace: Microsoft Philly (Jeon et al., USENIX ATC'19), CC-BY-4.0, via the Pollux artifact "
           "(petuum/adaptdl osdi21-artifact)";
  if (format == "tiresias")
    return "Trace: Tiresias simulator 60-job fixture (Gu et al., NSDI'19, SymbioticLab/Tiresias), Apache-2.0";
  if (format == "openb")
    return "Trace: Alibaba PAI GPU cluster 2023, alibaba/clusterdata cluster-trace-gpu-v2023 "
           "(Weng et al., USENIX ATC'23)";
  return "Trace: user-supplied kojo CSV";
}

ProgressBar::ProgressBar(std::string label)
    : label_(std::move(label)), tty_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()), last_(start_) {}

ProgressBar::~ProgressBar() { Done(); }

void ProgressBar::Update(double fraction, std::string_view what) {
  if (!tty_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - start_ < std::chrono::seconds(1)) return;
  if (shown_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  shown_ = true;
  fraction = fraction < 0 ? 0 : fraction > 1 ? 1 : fraction;
  constexpr int kWidth = 30;
  int filled = static_cast<int>(fraction * kWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(kWidth - filled), ' ');
  std::string line = fmt::format("\r{} [{}] {:3.0f}% {}", label_, bar, 100 * fraction, what);
  if (line.size() > 100) line.resize(100);
  std::fputs(line.c_str(), stderr);
  std::fputs("\033[K", stderr);
  std::fflush(stderr);
}

void ProgressBar::Done() {
  if (!shown_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  shown_ = false;
}

}  // namespace kojo::cli
