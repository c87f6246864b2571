// Trace readers: turn a job trace file into kojo Jobs. Every reader checks
// every field and reports "file:line: what was expected"; none crashes or
// throws on bad input. Formats (docs/trace-format.md describes each):
//   philly   - Microsoft Philly as flattened by the Pollux artifact
//   tiresias - the Tiresias simulator's job files (60_job.csv)
//   openb    - an Alibaba openb pod list replayed as a job trace
//   kojo     - kojo's own CSV format
// Jobs come back sorted by submit time (ties: file order) with submit times
// relative to the earliest job, so the first job arrives at t = 0.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/csv.h"
#include "common/result.h"
#include "model/job.h"

namespace kojo {

enum class TraceFormat { kPhilly, kTiresias, kOpenb, kKojo };

std::string_view ToString(TraceFormat f);
std::vector<std::string> TraceFormatNames();
Result<TraceFormat> ParseTraceFormat(std::string_view name);

// Limits beyond which a value is taken for a broken file, not a workload.
inline constexpr int kMaxTraceGpus = 100000;
inline constexpr Seconds kMaxTraceDuration = 10LL * 365 * 24 * 3600;  // 10 years
inline constexpr Seconds kMaxTraceSubmit = 100LL * 365 * 24 * 3600;   // 100 years

struct TraceOptions {
  // Traces without a time limit column (philly, tiresias, openb) get
  // time_limit = ceil(true_duration x estimate_factor): 1.0 means users
  // estimate run times perfectly, as EASY backfill studies usually assume.
  // 0 leaves time_limit empty (no estimate, no limit).
  double estimate_factor = 1.0;
  // Keep only the first N jobs by submit time (0 = all).
  std::size_t limit_jobs = 0;
};

// Guesses the format from the header's column names.
Result<TraceFormat> DetectTraceFormat(const CsvTable& table);

// Parses an already-read table. `format` empty = detect from the header.
Result<std::vector<Job>> ParseTrace(const CsvTable& table, std::optional<TraceFormat> format,
                                    const TraceOptions& options = {});
// Reads and parses a file.
Result<std::vector<Job>> ReadTrace(const std::string& path, std::optional<TraceFormat> format,
                                   const TraceOptions& options = {});

// Seconds since 1970-01-01 00:00:00 UTC of "YYYY-MM-DD HH:MM:SS" (also
// accepts a 'T' between date and time), read as UTC; nullopt if malformed.
std::optional<Seconds> ParseUtcTimestamp(std::string_view text);
// Days since 1970-01-01 of a proleptic Gregorian date (valid dates only).
std::int64_t DaysFromCivil(std::int64_t year, unsigned month, unsigned day);

}  // namespace kojo
