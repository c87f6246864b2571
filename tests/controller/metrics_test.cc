// The Prometheus text that RenderMetrics makes of a snapshot, and the
// histogram's cumulative buckets.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "api/codec.h"

#include "common/histogram.h"
#include "controller/metrics.h"

namespace kojo::controller {
namespace {

TEST(Histogram, CountsCumulativelyWithSumAndCount) {
  Histogram h({0.1, 1});
  h.Observe(0.05);
  h.Observe(0.1);  // on a bound: in that bucket
  h.Observe(0.5);
  h.Observe(7);
  const HistogramSnapshot s = h.Read();
  EXPECT_EQ(s.bounds, (std::vector<double>{0.1, 1}));
  EXPECT_EQ(s.counts, (std::vector<std::uint64_t>{2, 3}));
  EXPECT_EQ(s.count, 4u);
  EXPECT_DOUBLE_EQ(s.sum, 7.65);
}

TEST(Metrics, RendersASmallSnapshotExactly) {
  Metrics m;
  m.jobs_by_state = {{"HELD", 1}, {"PENDING", 3}};
  m.pending_by_reason = {{"Priority", 2}, {"Resources", 1}};
  m.gpus_by_model = {{"H100", {8, 3, 4}}};
  m.grants[{"research", "A"}] = {3600, 900.5, 1800};
  m.heartbeat_age_s = {{"n1", 2}};
  m.submitted = 4;
  m.started = 1;
  m.schedule_pass = HistogramSnapshot{{0.01, 0.1}, {1, 2}, 0.125, 3};
  m.store_commit = HistogramSnapshot{{0.01}, {0}, 0, 0};
  m.api_requests[{"GET", "/api/v1/jobs"}] = HistogramSnapshot{{0.01}, {1}, 0.002, 1};
  EXPECT_EQ(RenderMetrics(m),
            R"(# HELP kojo_jobs Jobs known to the controller, by state.
# TYPE kojo_jobs gauge
kojo_jobs{state="HELD"} 1
kojo_jobs{state="PENDING"} 3
# HELP kojo_pending_jobs PENDING jobs by the reason they wait (HELD jobs are not among them).
# TYPE kojo_pending_jobs gauge
kojo_pending_jobs{reason="Priority"} 2
kojo_pending_jobs{reason="Resources"} 1
# HELP kojo_gpus GPUs of the nodes the controller knows, by model.
# TYPE kojo_gpus gauge
kojo_gpus{model="H100"} 8
# HELP kojo_gpus_allocated GPUs with at least one running job's task, by model.
# TYPE kojo_gpus_allocated gauge
kojo_gpus_allocated{model="H100"} 3
# HELP kojo_gpus_idle GPUs without a task on nodes in service (neither down nor drained), by model.
# TYPE kojo_gpus_idle gauge
kojo_gpus_idle{model="H100"} 4
# HELP kojo_schedule_pass_duration_seconds Time one scheduling pass took.
# TYPE kojo_schedule_pass_duration_seconds histogram
kojo_schedule_pass_duration_seconds_bucket{le="0.01"} 1
kojo_schedule_pass_duration_seconds_bucket{le="0.1"} 2
kojo_schedule_pass_duration_seconds_bucket{le="+Inf"} 3
kojo_schedule_pass_duration_seconds_sum 0.125
kojo_schedule_pass_duration_seconds_count 3
# HELP kojo_api_request_duration_seconds Time the API took to answer a request, by method and route (agents' long polls included).
# TYPE kojo_api_request_duration_seconds histogram
kojo_api_request_duration_seconds_bucket{method="GET",route="/api/v1/jobs",le="0.01"} 1
kojo_api_request_duration_seconds_bucket{method="GET",route="/api/v1/jobs",le="+Inf"} 1
kojo_api_request_duration_seconds_sum{method="GET",route="/api/v1/jobs"} 0.002
kojo_api_request_duration_seconds_count{method="GET",route="/api/v1/jobs"} 1
# HELP kojo_jobs_submitted_total Jobs submitted (each task of an array one).
# TYPE kojo_jobs_submitted_total counter
kojo_jobs_submitted_total 4
# HELP kojo_jobs_started_total Runs started by the scheduler.
# TYPE kojo_jobs_started_total counter
kojo_jobs_started_total 1
# HELP kojo_jobs_preempted_total Runs preempted for other jobs.
# TYPE kojo_jobs_preempted_total counter
kojo_jobs_preempted_total 0
# HELP kojo_jobs_requeued_total Jobs put back in the queue after a run (preempted or a node lost).
# TYPE kojo_jobs_requeued_total counter
kojo_jobs_requeued_total 0
# HELP kojo_jobs_purged_total Ended jobs forgotten after the retention time (kojod --keep-ended).
# TYPE kojo_jobs_purged_total counter
kojo_jobs_purged_total 0
# HELP kojo_grant_awarded_gpu_seconds Normalised GPU-seconds awarded by the active grants, by programme and project.
# TYPE kojo_grant_awarded_gpu_seconds gauge
kojo_grant_awarded_gpu_seconds{programme="research",project="A"} 3600
# HELP kojo_grant_used_gpu_seconds Normalised GPU-seconds the active grants' runs used (settled and running to date), by programme and project.
# TYPE kojo_grant_used_gpu_seconds gauge
kojo_grant_used_gpu_seconds{programme="research",project="A"} 900.5
# HELP kojo_grant_left_gpu_seconds Normalised GPU-seconds left on the active grants (awarded - used - reserved), by programme and project.
# TYPE kojo_grant_left_gpu_seconds gauge
kojo_grant_left_gpu_seconds{programme="research",project="A"} 1800
# HELP kojo_agent_heartbeat_age_seconds Seconds since the node's agent was last heard from, by node.
# TYPE kojo_agent_heartbeat_age_seconds gauge
kojo_agent_heartbeat_age_seconds{node="n1"} 2
# HELP kojo_store_commit_duration_seconds Time one store transaction (a group commit) took.
# TYPE kojo_store_commit_duration_seconds histogram
kojo_store_commit_duration_seconds_bucket{le="0.01"} 0
kojo_store_commit_duration_seconds_bucket{le="+Inf"} 0
kojo_store_commit_duration_seconds_sum 0
kojo_store_commit_duration_seconds_count 0
)");
}

TEST(Metrics, EscapesLabelValues) {
  EXPECT_EQ(EscapeLabel(R"(a\b"c)" "\n" "d"), R"(a\\b\"c\nd)");
  Metrics m;
  m.gpus_by_model = {{"A100 \"80GB\"\\x\ny", {1, 0, 1}}};
  const std::string text = RenderMetrics(m);
  EXPECT_NE(text.find("kojo_gpus{model=\"A100 \\\"80GB\\\"\\\\x\\ny\"} 1\n"), std::string::npos) << text;
  // Every line is a comment or one sample: no raw newline inside a label.
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    ASSERT_NE(end, std::string::npos);
    const std::string line = text.substr(start, end - start);
    EXPECT_TRUE(line.rfind("# ", 0) == 0 || line.rfind("kojo_", 0) == 0) << line;
    start = end + 1;
  }
}

std::string ReadDoc(const std::string& name) {
  std::ifstream in(std::string(KOJO_TESTDATA_DIR) + "/../../docs/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// docs/metrics.md has a row for every metric kojod renders, with its type,
// and the sample dashboard is JSON whose queries name only such metrics.
TEST(Metrics, EveryMetricIsDocumentedAndTheDashboardUsesThem) {
  Metrics m;
  m.jobs_by_state = {{"PENDING", 1}};
  m.pending_by_reason = {{"Priority", 1}};
  m.gpus_by_model = {{"H100", {1, 1, 0}}};
  m.grants[{"p", "a"}] = {1, 1, 0};
  m.heartbeat_age_s = {{"n1", 1}};
  m.api_requests[{"GET", "/metrics"}] = HistogramSnapshot{{1}, {1}, 0.1, 1};
  const std::string text = RenderMetrics(m);
  const std::string doc = ReadDoc("metrics.md");
  ASSERT_FALSE(doc.empty());
  std::set<std::string> names;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    const std::string name = line.substr(7, line.find(' ', 7) - 7);
    const std::string type = line.substr(line.rfind(' ') + 1);
    names.insert(name);
    EXPECT_NE(doc.find(fmt::format("| `{}` | {} |", name, type)), std::string::npos) << name << " (" << type << ") is not in docs/metrics.md";
  }
  EXPECT_EQ(names.size(), 17u);

  auto dash = api::ParseJson(ReadDoc("grafana-kojo.json"));
  ASSERT_TRUE(dash.ok()) << dash.error().message;
  ASSERT_TRUE((*dash)["panels"].is_array());
  int queries = 0;
  for (const auto& panel : (*dash)["panels"])
    for (const auto& target : panel["targets"]) {
      const std::string expr = target["expr"].get<std::string>();
      for (size_t at = expr.find("kojo_"); at != std::string::npos; at = expr.find("kojo_", at + 1)) {
        size_t end = at;
        while (end < expr.size() && (std::isalnum(static_cast<unsigned char>(expr[end])) || expr[end] == '_')) ++end;
        std::string name = expr.substr(at, end - at);
        for (const char* suffix : {"_bucket", "_sum", "_count"})
          if (!names.count(name) && name.size() > std::strlen(suffix) && name.ends_with(suffix))
            name.resize(name.size() - std::strlen(suffix));
        EXPECT_TRUE(names.count(name)) << expr;
        at = end - 1;
      }
      ++queries;
    }
  EXPECT_GE(queries, 5);
}

}  // namespace
}  // namespace kojo::controller
