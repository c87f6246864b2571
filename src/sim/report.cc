#include "sim/report.h"

#include <cmath>
#include <fstream>

#include <fmt/format.h>

namespace kojo {

nlohmann::json MetricsToJson(const SimMetrics& m) {
  nlohmann::json j;
  j["jobs"] = m.jobs;
  j["completed"] = m.completed;
  j["killed"] = m.killed;
  j["rejected"] = m.rejected;
  j["unfinished"] = m.unfinished;
  j["avg_jct_s"] = m.avg_jct_s;
  j["p50_jct_s"] = m.p50_jct_s;
  j["p99_jct_s"] = m.p99_jct_s;
  j["avg_wait_s"] = m.avg_wait_s;
  j["p50_wait_s"] = m.p50_wait_s;
  j["p99_wait_s"] = m.p99_wait_s;
  j["makespan_s"] = m.makespan_s;
  j["gpu_utilization"] = m.gpu_utilization;
  j["preemptions"] = m.preemptions;
  j["decide_calls"] = m.decide_calls;
  j["total_gpus"] = m.total_gpus;
  j["sim_wall_s"] = m.sim_wall_s;
  if (m.renting) {
    j["rent_cost"] = m.rent_cost;
    j["rented_gpu_hours"] = m.rented_gpu_hours;
    j["rented_nodes"] = m.rented_nodes;
  }
  return j;
}

namespace {
std::string Opt(const std::optional<Seconds>& v) { return v ? std::to_string(*v) : std::string(); }

// Quotes a CSV field when it needs it (RFC 4180).
std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + '"';
}
}  // namespace

std::string JobsCsv(const std::vector<JobRecord>& jobs) {
  std::string out = "id,project,gpus,gpu_milli,submit,start,end,jct,wait,preemptions,state\n";
  out.reserve(jobs.size() * 64);
  for (const JobRecord& r : jobs)
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{}\n", r.id, CsvField(r.project), r.gpus, r.gpu_milli,
                       r.submit, Opt(r.start), Opt(r.end), Opt(r.Jct()), Opt(r.WaitTime()), r.preemptions,
                       ToString(r.outcome));
  return out;
}

Status WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return Error{ErrorCode::kIo, fmt::format("{}: cannot open for writing", path)};
  f << text;
  f.close();
  if (!f) return Error{ErrorCode::kIo, fmt::format("{}: write failed", path)};
  return Ok{};
}

Status WriteJobsCsv(const std::string& path, const std::vector<JobRecord>& jobs) {
  return WriteTextFile(path, JobsCsv(jobs));
}

std::string SeriesCsv(const std::vector<SeriesPoint>& series) {
  std::string out = "t_s,gpu_utilization,pending_jobs\n";
  for (const SeriesPoint& p : series)
    out += fmt::format("{},{:.4f},{:.2f}\n", p.t, p.gpu_utilization, p.pending_jobs);
  return out;
}

std::string FormatDuration(double s) {
  if (!std::isfinite(s)) return "-";
  if (s < 60) return fmt::format("{:.0f}s", s);
  if (s < 3600) return fmt::format("{:.1f}m", s / 60);
  if (s < 86400 * 2) return fmt::format("{:.1f}h", s / 3600);
  return fmt::format("{:.1f}d", s / 86400);
}

std::string FormatSummary(const SimMetrics& m) {
  std::string out;
  out += fmt::format("jobs        {} ({} completed, {} killed at their time limit, {} rejected, {} unfinished)\n",
                     m.jobs, m.completed, m.killed, m.rejected, m.unfinished);
  out += fmt::format("JCT         avg {} ({:.0f} s)  p50 {}  p99 {}\n", FormatDuration(m.avg_jct_s), m.avg_jct_s,
                     FormatDuration(m.p50_jct_s), FormatDuration(m.p99_jct_s));
  out += fmt::format("wait        avg {} ({:.0f} s)  p50 {}  p99 {}\n", FormatDuration(m.avg_wait_s),
                     m.avg_wait_s, FormatDuration(m.p50_wait_s), FormatDuration(m.p99_wait_s));
  out += fmt::format("makespan    {} ({} s)\n", FormatDuration(static_cast<double>(m.makespan_s)), m.makespan_s);
  out += fmt::format("GPU util    {:.1f}% of {} GPUs\n", 100 * m.gpu_utilization, m.total_gpus);
  out += fmt::format("preemptions {}\n", m.preemptions);
  if (m.renting)
    out += fmt::format("rented      {} nodes, {:.1f} GPU-hours, cost {:.2f}\n", m.rented_nodes, m.rented_gpu_hours,
                       m.rent_cost);
  out += fmt::format("sim time    {:.3f} s wall, {} scheduling passes", m.sim_wall_s, m.decide_calls);
  return out;
}

}  // namespace kojo
