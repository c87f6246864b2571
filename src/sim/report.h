// Reports of a simulation: metrics as JSON, per-job CSV, a readable summary.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "sim/simulator.h"

namespace kojo {

// Every metric of SimMetrics, with the units in the key (_s = seconds).
nlohmann::json MetricsToJson(const SimMetrics& m);

// id,project,gpus,gpu_milli,submit,start,end,jct,wait,preemptions,state
// (empty start/end/jct/wait where the job never started or ended).
std::string JobsCsv(const std::vector<JobRecord>& jobs);
Status WriteJobsCsv(const std::string& path, const std::vector<JobRecord>& jobs);

// t_s,gpu_utilization,pending_jobs
std::string SeriesCsv(const std::vector<SeriesPoint>& series);

// Several lines for people, without a trailing newline.
std::string FormatSummary(const SimMetrics& m);

// "1h 02m", "3.2 d", ... for tables.
std::string FormatDuration(double seconds);

// Writes `text` to `path` (truncating), or an Io error naming the path.
Status WriteTextFile(const std::string& path, const std::string& text);

}  // namespace kojo
