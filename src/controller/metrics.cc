#include "controller/metrics.h"

#include <cmath>

#include <fmt/format.h>

namespace kojo::controller {

namespace {

std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  return fmt::format("{}", v);
}

using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

std::string LabelText(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    out += fmt::format("{}=\"{}\"", labels[i].first, EscapeLabel(labels[i].second));
  }
  return out + "}";
}

class Writer {
 public:
  void Head(std::string_view name, std::string_view type, std::string_view help) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void Sample(std::string_view name, const Labels& labels, double v) {
    out_ += fmt::format("{}{} {}\n", name, LabelText(labels), Number(v));
  }
  void Histogram(std::string_view name, Labels labels, const HistogramSnapshot& h) {
    const std::string bucket = fmt::format("{}_bucket", name);
    for (size_t i = 0; i <= h.bounds.size(); ++i) {
      const bool inf = i == h.bounds.size();
      const std::string le = inf ? "+Inf" : Number(h.bounds[i]);
      Labels with = labels;
      with.emplace_back("le", le);
      Sample(bucket, with, static_cast<double>(inf ? h.count : h.counts[i]));
    }
    Sample(fmt::format("{}_sum", name), labels, h.sum);
    Sample(fmt::format("{}_count", name), labels, static_cast<double>(h.count));
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string EscapeLabel(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char ch : v) {
    switch (ch) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += ch;
    }
  }
  return out;
}

std::string RenderMetrics(const Metrics& m) {
  Writer w;
  w.Head("kojo_jobs", "gauge", "Jobs known to the controller, by state.");
  for (const auto& [state, n] : m.jobs_by_state) w.Sample("kojo_jobs", {{"state", state}}, static_cast<double>(n));
  w.Head("kojo_pending_jobs", "gauge", "PENDING jobs by the reason they wait (HELD jobs are not among them).");
  for (const auto& [reason, n] : m.pending_by_reason)
    w.Sample("kojo_pending_jobs", {{"reason", reason}}, static_cast<double>(n));

  const struct {
    const char* name;
    const char* help;
    std::uint64_t Metrics::Gpus::*field;
  } gpus[] = {
      {"kojo_gpus", "GPUs of the nodes the controller knows, by model.", &Metrics::Gpus::total},
      {"kojo_gpus_allocated", "GPUs with at least one running job's task, by model.", &Metrics::Gpus::allocated},
      {"kojo_gpus_idle", "GPUs without a task on nodes in service (neither down nor drained), by model.",
       &Metrics::Gpus::idle},
  };
  for (const auto& g : gpus) {
    w.Head(g.name, "gauge", g.help);
    for (const auto& [model, v] : m.gpus_by_model) w.Sample(g.name, {{"model", model}}, static_cast<double>(v.*g.field));
  }

  w.Head("kojo_schedule_pass_duration_seconds", "histogram", "Time one scheduling pass took.");
  w.Histogram("kojo_schedule_pass_duration_seconds", {}, m.schedule_pass);
  w.Head("kojo_api_request_duration_seconds", "histogram",
         "Time the API took to answer a request, by method and route (agents' long polls included).");
  for (const auto& [key, h] : m.api_requests)
    w.Histogram("kojo_api_request_duration_seconds", {{"method", key.first}, {"route", key.second}}, h);

  const struct {
    const char* name;
    const char* help;
    std::uint64_t value;
  } counters[] = {
      {"kojo_jobs_submitted_total", "Jobs submitted (each task of an array one).", m.submitted},
      {"kojo_jobs_started_total", "Runs started by the scheduler.", m.started},
      {"kojo_jobs_preempted_total", "Runs preempted for other jobs.", m.preempted},
      {"kojo_jobs_requeued_total", "Jobs put back in the queue after a run (preempted or a node lost).", m.requeued},
      {"kojo_jobs_purged_total", "Ended jobs forgotten after the retention time (kojod --keep-ended).", m.purged},
  };
  for (const auto& c : counters) {
    w.Head(c.name, "counter", c.help);
    w.Sample(c.name, {}, static_cast<double>(c.value));
  }

  const struct {
    const char* name;
    const char* help;
    double Metrics::Grant::*field;
  } grants[] = {
      {"kojo_grant_awarded_gpu_seconds", "Normalised GPU-seconds awarded by the active grants, by programme and project.",
       &Metrics::Grant::awarded_s},
      {"kojo_grant_used_gpu_seconds",
       "Normalised GPU-seconds the active grants' runs used (settled and running to date), by programme and project.",
       &Metrics::Grant::used_s},
      {"kojo_grant_left_gpu_seconds",
       "Normalised GPU-seconds left on the active grants (awarded - used - reserved), by programme and project.",
       &Metrics::Grant::left_s},
  };
  for (const auto& g : grants) {
    w.Head(g.name, "gauge", g.help);
    for (const auto& [key, v] : m.grants) w.Sample(g.name, {{"programme", key.first}, {"project", key.second}}, v.*g.field);
  }

  w.Head("kojo_agent_heartbeat_age_seconds", "gauge", "Seconds since the node's agent was last heard from, by node.");
  for (const auto& [node, age] : m.heartbeat_age_s) w.Sample("kojo_agent_heartbeat_age_seconds", {{"node", node}}, age);

  w.Head("kojo_store_commit_duration_seconds", "histogram", "Time one store transaction (a group commit) took.");
  w.Histogram("kojo_store_commit_duration_seconds", {}, m.store_commit);
  return w.Take();
}

}  // namespace kojo::controller
