// Golden tests: a shipped sample trace in, expected metrics out. Every
// tests/testdata/golden/<name>.json is one case: its "trace" (a file under
// KOJO_SAMPLES_DIR) and "cluster" say what to replay, the rest is the
// expected metrics. To re-pin them after an intended change, or to fill in a
// new case (a file holding just "trace" and "cluster"), run the test with
// KOJO_UPDATE_GOLDEN=1 and review the diff.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "model/cluster.h"
#include "sim/report.h"
#include "sim/simulator.h"
#include "sim/trace.h"

namespace kojo {
namespace {

struct GoldenCase {
  std::string name;     // golden file stem
  std::string trace;    // under KOJO_SAMPLES_DIR
  std::string cluster;
};
void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.name; }  // in gtest's messages

nlohmann::json RunAll(const GoldenCase& c) {
  auto jobs = ReadTrace(std::string(KOJO_SAMPLES_DIR) + "/" + c.trace, std::nullopt);
  EXPECT_TRUE(jobs.ok()) << jobs.error().message;
  auto nodes = ParseClusterSpec(c.cluster);
  EXPECT_TRUE(nodes.ok());
  nlohmann::json out;
  out["trace"] = c.trace;
  out["cluster"] = c.cluster;
  out["placer"] = "packing";
  for (const std::string policy : {"fifo", "sjf", "tiresias", "fairshare"}) {
    for (bool backfill : {false, true}) {
      SchedulerConfig sc;
      sc.backfill = backfill;
      Scheduler s(MakePolicy(policy).value(), MakePlacer("packing").value(), sc);
      auto r = Simulate(*nodes, *jobs, s, SimConfig{});
      EXPECT_TRUE(r.ok());
      nlohmann::json m = MetricsToJson(r->metrics);
      m.erase("sim_wall_s");    // a time, not a result
      m.erase("decide_calls");  // an implementation detail
      out["runs"][policy + (backfill ? "+backfill" : "")] = m;
    }
  }
  return out;
}

void ExpectSame(const nlohmann::json& want, const nlohmann::json& got, const std::string& path) {
  if (want.is_object()) {
    ASSERT_TRUE(got.is_object()) << path;
    for (auto it = want.begin(); it != want.end(); ++it) {
      ASSERT_TRUE(got.contains(it.key())) << path << "/" << it.key();
      ExpectSame(it.value(), got[it.key()], path + "/" + it.key());
    }
    EXPECT_EQ(want.size(), got.size()) << path;
  } else if (want.is_number_float() || got.is_number_float()) {
    const double a = want.get<double>(), b = got.get<double>();
    EXPECT_NEAR(a, b, 1e-9 * std::max(1.0, std::abs(a))) << path;
  } else {
    EXPECT_EQ(want, got) << path;
  }
}

const std::string kGoldenDir = std::string(KOJO_TESTDATA_DIR) + "/golden";

// The cases: one per file in the golden folder, named after the file.
std::vector<GoldenCase> ListCases() {
  std::vector<GoldenCase> cases;
  for (const auto& entry : std::filesystem::directory_iterator(kGoldenDir)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".json") continue;
    std::ifstream f(entry.path());
    nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
    GoldenCase c{entry.path().stem().string(), "", ""};
    if (!j.is_discarded() && j.contains("trace") && j["trace"].is_string()) c.trace = j["trace"];
    if (!j.is_discarded() && j.contains("cluster") && j["cluster"].is_string()) c.cluster = j["cluster"];
    cases.push_back(c);  // a file without them fails its test, which says so
  }
  std::sort(cases.begin(), cases.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return cases;
}

class Golden : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(Golden, MetricsMatchThePinnedFile) {
  const GoldenCase& c = GetParam();
  const std::string path = kGoldenDir + "/" + c.name + ".json";
  ASSERT_FALSE(c.trace.empty() || c.cluster.empty())
      << path << ": expected a JSON object with string fields \"trace\" and \"cluster\"";
  nlohmann::json got = RunAll(c);
  const char* update = std::getenv("KOJO_UPDATE_GOLDEN");
  if (update && std::string(update) == "1") {
    std::ofstream(path) << got.dump(2) << "\n";
    GTEST_SKIP() << "wrote " << path;
  }
  std::ifstream f(path);
  ASSERT_TRUE(f) << "missing " << path << " (run with KOJO_UPDATE_GOLDEN=1 to create it)";
  nlohmann::json want = nlohmann::json::parse(f, nullptr, false);
  ASSERT_FALSE(want.is_discarded()) << path;
  ExpectSame(want, got, c.name);
}

INSTANTIATE_TEST_SUITE_P(Samples, Golden,
                         ::testing::ValuesIn(ListCases()),
                         [](const auto& info) {
                           std::string n = info.param.name;
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

}  // namespace
}  // namespace kojo
