// kojod's metrics in the Prometheus text exposition format (docs/metrics.md):
// a snapshot of what the controller holds (Controller::MetricsSnapshot),
// the event counters and the duration histograms, and the pure function
// that renders them.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "common/histogram.h"

namespace kojo::controller {

// Events counted where they happen.
struct MetricCounters {
  std::atomic<std::uint64_t> submitted{0};  // jobs (each array task one)
  std::atomic<std::uint64_t> started{0};    // runs started
  std::atomic<std::uint64_t> preempted{0};  // runs preempted
  std::atomic<std::uint64_t> requeued{0};   // jobs put back in the queue after a run
  std::atomic<std::uint64_t> jobs_purged{0};  // ended jobs forgotten (retention)
};

struct Metrics {
  std::map<std::string, std::uint64_t> jobs_by_state;      // every state, 0 included
  std::map<std::string, std::uint64_t> pending_by_reason;  // PENDING jobs only (HELD apart)
  struct Gpus {
    std::uint64_t total = 0, allocated = 0, idle = 0;
  };
  std::map<std::string, Gpus> gpus_by_model;
  struct Grant {
    double awarded_s = 0, used_s = 0, left_s = 0;  // normalised GPU-seconds
  };
  std::map<std::pair<std::string, std::string>, Grant> grants;  // (programme, project): its active grants summed
  std::map<std::string, double> heartbeat_age_s;                // by node
  std::uint64_t submitted = 0, started = 0, preempted = 0, requeued = 0, purged = 0;
  HistogramSnapshot schedule_pass;
  HistogramSnapshot store_commit;
  std::map<std::pair<std::string, std::string>, HistogramSnapshot> api_requests;  // (method, route)
};

// The text format, version 0.0.4: HELP and TYPE lines, then the samples.
std::string RenderMetrics(const Metrics& m);
// A label value with \, " and newline escaped.
std::string EscapeLabel(std::string_view v);

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace kojo::controller
