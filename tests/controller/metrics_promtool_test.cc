// GET /metrics of a live kojod passes Prometheus' own checker (`promtool
// check metrics`, Debian's package prometheus; skipped without it), and its
// numbers are what the API reports for the same state: jobs by state and
// pending reason, GPUs total and allocated, grants, nodes.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "daemons.h"

namespace kojo::testing {
namespace {

using namespace std::chrono_literals;

// Every sample line: "name{labels}" -> value.
std::map<std::string, double> Samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t sp = line.rfind(' ');
    out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
  }
  return out;
}

// The sum of the samples of `metric` (every label set).
double Sum(const std::map<std::string, double>& s, const std::string& metric) {
  double total = 0;
  for (const auto& [k, v] : s)
    if (k == metric || k.rfind(metric + "{", 0) == 0) total += v;
  return total;
}

// Every job of `state`, through the paged list.
std::vector<Json> JobsIn(httplib::Client& c, const std::string& state) {
  std::vector<Json> out;
  std::string after = "0";
  for (;;) {
    auto r = c.Get(fmt::format("/api/v1/jobs?state={}&limit=2&after={}", state, after));
    if (!r || r->status != 200) return out;
    const Json page = Json::parse(r->body);
    for (const auto& j : page["jobs"]) out.push_back(j);
    if (page["next_after"].is_null()) return out;
    after = std::to_string(page["next_after"].get<std::int64_t>());
  }
}

TEST(MetricsPromtool, PassesPromtoolAndAgreesWithTheApi) {
  if (Shell("command -v promtool").first != 0) GTEST_SKIP() << "promtool not found (Debian package prometheus)";
  TempDir dir;
  const std::string org = dir.path() + "/org.json";
  {
    std::ofstream out(org);
    out << R"({"gpu_weights": {"H100": 2.0},
               "programmes": [{"name": "research"}, {"name": "teaching"}],
               "organisations": [{"name": "uni", "programme": "research"}, {"name": "school", "programme": "teaching"}],
               "projects": [{"name": "A", "organisation": "uni"}, {"name": "B", "organisation": "school"}],
               "grants": [{"id": "ga", "project": "A", "gpu_hours": 1000, "start": "2020-01-01", "end": "2099-01-01"},
                          {"id": "gb", "project": "B", "gpu_hours": 10, "start": "2020-01-01", "end": "2099-01-01"}]})";
  }
  Kojod d(dir.path() + "/data", {"--org", org});
  ASSERT_TRUE(d.ok()) << d.log();
  auto c = d.Client();
  // Three nodes registered by hand (their agents never confirm a start:
  // placed jobs stay STARTING); n3 is drained.
  for (const auto& [name, model] : {std::pair{"n1", "H100"}, {"n2", "H100"}, {"n3", "A100"}}) {
    Json hb{{"node", {{"name", name}, {"cpu_milli", 64000}, {"mem_mib", 512000},
                      {"gpus", {{{"index", 0}, {"model", model}}, {{"index", 1}, {"model", model}}}}}}};
    auto reg = c.Post("/api/v1/agents/register", hb.dump(), "application/json");
    ASSERT_TRUE(reg);
    ASSERT_EQ(reg->status, 200) << reg->body;
  }
  ASSERT_EQ(c.Post("/api/v1/nodes/n3/drain", R"({"reason":"maintenance"})", "application/json")->status, 200);
  std::int64_t last = 0;
  for (const char* spec : {R"({"command":["true"],"gpus":2,"gpu_models":["H100"],"project":"A","time_limit_s":3600})",
                           R"({"command":["true"],"gpus":1,"gpu_models":["H100"],"project":"B","time_limit_s":3600})",
                           R"({"command":["true"],"gpus":2,"gpu_models":["H100"],"project":"A","time_limit_s":3600})",
                           R"({"command":["true"],"gpus":2,"gpu_models":["A100"],"project":"A","time_limit_s":60})",
                           R"({"command":["true"],"project":"B","hold":true,"array":"0-2"})",
                           R"({"command":["true"],"gpus":1,"project":"A","hold":true})"}) {
    auto r = c.Post("/api/v1/jobs", spec, "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
    last = Body(r)["ids"].back().get<std::int64_t>();
  }
  ASSERT_EQ(c.Post(fmt::format("/api/v1/jobs/{}/cancel", last))->status, 200);  // the held one: CANCELLED

  // Settled: two jobs placed, two waiting with a reason.
  std::string text;
  ASSERT_TRUE(WaitFor([&] {
    int starting = 0, explained = 0;
    for (const auto& j : JobsIn(c, "STARTING")) starting += j.is_object();
    for (const auto& j : JobsIn(c, "PENDING")) explained += j["reason"] != "Submitted";
    return starting == 2 && explained == 2;
  }, 15s)) << d.log();
  // The scheduler writes the reasons the metrics count a moment later.
  std::this_thread::sleep_for(1500ms);
  auto r = c.Get("/metrics");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  text = r->body;

  // Prometheus' own parser and linter.
  const std::string file = dir.path() + "/metrics.txt";
  std::ofstream(file) << text;
  const auto [rc, out] = Shell("promtool check metrics < " + file);
  EXPECT_EQ(rc, 0) << out << "\n" << text;

  const auto s = Samples(text);
  const Json overview = Body(c.Get("/api/v1/overview"));
  // Jobs by state: the metric, the list and the overview agree.
  for (const char* state : {"PENDING", "HELD", "STARTING", "RUNNING", "STOPPING", "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"}) {
    const auto listed = JobsIn(c, state);
    EXPECT_EQ(s.at(fmt::format("kojo_jobs{{state=\"{}\"}}", state)), static_cast<double>(listed.size())) << state;
    EXPECT_EQ(overview["jobs"][state].get<int>(), static_cast<int>(listed.size())) << state;
  }
  EXPECT_EQ(s.at(R"(kojo_jobs{state="HELD"})"), 3.0);
  EXPECT_EQ(s.at(R"(kojo_jobs{state="CANCELLED"})"), 1.0);
  // Pending jobs by reason, from each job's own reason.
  std::map<std::string, double> reasons;
  for (const auto& j : JobsIn(c, "PENDING")) reasons[j["reason"].get<std::string>()] += 1;
  EXPECT_EQ(Sum(s, "kojo_pending_jobs"), 2.0);
  for (const auto& [reason, n] : reasons) EXPECT_EQ(s.at(fmt::format("kojo_pending_jobs{{reason=\"{}\"}}", reason)), n) << reason;

  // GPUs: by model from the nodes; allocated from the placed jobs.
  // (Each answer held in a variable: a range-for over a member of a
  // temporary would outlive it.)
  const Json nodes = Body(c.Get("/api/v1/nodes"));
  std::map<std::string, double> total;
  for (const auto& n : nodes["nodes"])
    for (const auto& g : n["gpus"]) total[g["model"].get<std::string>()] += 1;
  EXPECT_EQ(total, (std::map<std::string, double>{{"A100", 2}, {"H100", 4}}));
  for (const auto& [model, n] : total) EXPECT_EQ(s.at(fmt::format("kojo_gpus{{model=\"{}\"}}", model)), n) << model;
  std::set<std::pair<std::string, int>> held;
  for (const auto& j : JobsIn(c, "STARTING,RUNNING,STOPPING"))
    for (const auto& p : j["placement"])
      for (const auto& g : p["gpus"]) held.emplace(p["node"].get<std::string>(), g.get<int>());
  EXPECT_EQ(Sum(s, "kojo_gpus"), 6.0);
  EXPECT_EQ(Sum(s, "kojo_gpus_allocated"), static_cast<double>(held.size()));
  EXPECT_EQ(overview["gpus"]["total"].get<int>(), 6);
  EXPECT_EQ(overview["gpus"]["allocated"].get<int>(), static_cast<int>(held.size()));
  EXPECT_EQ(held.size(), 3u);
  // Idle: GPUs without a task on nodes in service (n3 is drained).
  EXPECT_EQ(Sum(s, "kojo_gpus_idle"), 4.0 - static_cast<double>(held.size()));

  // Grants: awarded, used and left, in normalised GPU-seconds, as GET /grants says in GPU-hours.
  const Json grants = Body(c.Get("/api/v1/grants"));
  ASSERT_EQ(grants["grants"].size(), 2u);
  for (const auto& g : grants["grants"]) {
    const std::string labels = fmt::format("{{programme=\"{}\",project=\"{}\"}}", g["programme"].get<std::string>(),
                                           g["project"].get<std::string>());
    EXPECT_NEAR(s.at("kojo_grant_awarded_gpu_seconds" + labels), g["awarded_gpu_hours"].get<double>() * 3600, 1e-6);
    // Placed jobs are charged by the second: allow for the time between the two reads.
    EXPECT_NEAR(s.at("kojo_grant_used_gpu_seconds" + labels), g["used_gpu_hours"].get<double>() * 3600, 30);
    EXPECT_NEAR(s.at("kojo_grant_left_gpu_seconds" + labels), g["left_gpu_hours"].get<double>() * 3600, 30);
  }
  // One heartbeat age per node the API lists.
  ASSERT_EQ(nodes["nodes"].size(), 3u);
  for (const auto& n : nodes["nodes"])
    EXPECT_TRUE(s.count(fmt::format("kojo_agent_heartbeat_age_seconds{{node=\"{}\"}}", n["name"].get<std::string>())));
}

}  // namespace
}  // namespace kojo::testing
