// Runs the real `kojo` binary (KOJO_BINARY) and checks its output, files
// and exit codes.
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

struct Outcome {
  int code = -1;
  std::string out, err;
};

std::string Slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class KojoCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("kojo-cli-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Outcome Kojo(const std::string& args) {
    const fs::path out = dir_ / "stdout", err = dir_ / "stderr";
    std::string cmd = std::string(KOJO_BINARY) + " " + args + " >" + out.string() + " 2>" + err.string();
    int status = std::system(cmd.c_str());
    Outcome o;
    o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    o.out = Slurp(out);
    o.err = Slurp(err);
    return o;
  }
  static std::string Sample(const std::string& name) { return std::string(KOJO_SAMPLES_DIR) + "/" + name; }
  static std::string Testdata(const std::string& name) { return std::string(KOJO_TESTDATA_DIR) + "/" + name; }

  fs::path dir_;
};

TEST_F(KojoCli, RunPrintsOneJsonObject) {
  Outcome o = Kojo("sim run --trace " + Sample("tiresias-60job.csv") + " --cluster 4x4xV100 --policy tiresias --json");
  ASSERT_EQ(o.code, 0) << o.err;
  auto j = nlohmann::json::parse(o.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << o.out;
  for (const char* key : {"jobs", "avg_jct_s", "p50_jct_s", "p99_jct_s", "avg_wait_s", "p50_wait_s", "p99_wait_s",
                          "makespan_s", "gpu_utilization", "preemptions", "sim_wall_s", "rejected", "completed",
                          "policy", "placer", "cluster"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["jobs"], 60);
  EXPECT_EQ(j["completed"], 60);
  EXPECT_EQ(j["policy"], "tiresias");
  EXPECT_EQ(j["format"], "tiresias");  // detected from the header
  EXPECT_GT(j["avg_jct_s"].get<double>(), 0);
  EXPECT_GT(j["gpu_utilization"].get<double>(), 0);
  EXPECT_LE(j["gpu_utilization"].get<double>(), 1);
}

TEST_F(KojoCli, RunWithoutJsonPrintsASummary) {
  Outcome o = Kojo("sim run --trace " + Sample("philly-sample.csv") + " --cluster 16x8xV100 --policy fifo --backfill --limit-jobs 200");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("200 jobs"));
  EXPECT_THAT(o.out, HasSubstr("JCT"));
  EXPECT_THAT(o.out, HasSubstr("EASY backfill"));
}

TEST_F(KojoCli, OutWritesPerJobCsv) {
  const fs::path out = dir_ / "run";
  Outcome o = Kojo("sim run --trace " + Sample("tiresias-60job.csv") + " --cluster 4x4xV100 --policy fifo --json --out " +
                   out.string());
  ASSERT_EQ(o.code, 0) << o.err;
  std::string csv = Slurp(out / "jobs.csv");
  EXPECT_EQ(csv.rfind("id,project,gpus,gpu_milli,submit,start,end,jct,wait,preemptions,state\n", 0), 0u);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 61);
  EXPECT_THAT(csv, HasSubstr(",completed\n"));
  EXPECT_TRUE(fs::exists(out / "series.csv"));
  auto summary = nlohmann::json::parse(Slurp(out / "summary.json"), nullptr, false);
  EXPECT_EQ(summary["jobs"], 60);
}

TEST_F(KojoCli, BadFlagsExitTwoNamingTheFlag) {
  const std::string base = "sim run --trace " + Sample("tiresias-60job.csv") + " --cluster 4x4xV100";
  Outcome o = Kojo(base + " --policy fifo --bogus 3");
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("--bogus"));
  o = Kojo(base + " --policy nope");
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("--policy"));
  EXPECT_THAT(o.err, HasSubstr("fifo, sjf, tiresias, fairshare"));
  o = Kojo(base + " --policy fifo --placer nope");
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("--placer"));
  EXPECT_THAT(o.err, HasSubstr("bestfit"));
  o = Kojo(base + " --policy fifo --seed abc");
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("--seed"));
  o = Kojo(base);
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("--policy"));
  o = Kojo("sim run --trace " + Sample("tiresias-60job.csv") + " --cluster 4x4xNOPE:cpu=x --policy fifo");
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("--cluster"));
  o = Kojo("sim run --trace /no/such/file.csv --cluster 4x4xV100 --policy fifo");
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("--trace"));
  // One line, no stack trace.
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
}

TEST_F(KojoCli, UnknownCommandIsNamedWithTheKnownOnes) {
  Outcome o = Kojo("frobnicate 1");
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("unknown command 'frobnicate'"));
  EXPECT_THAT(o.err, HasSubstr("sim, submit, queue"));
  o = Kojo("sim bogus");
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("unknown command 'bogus' (expected one of: run, compare, pack)"));
}

TEST_F(KojoCli, BadTraceNamesFileAndLine) {
  Outcome o = Kojo("sim run --trace " + Testdata("traces/philly-negative-duration.csv") + " --cluster 1x8xV100 --policy fifo");
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("philly-negative-duration.csv:4:"));
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  o = Kojo("sim run --trace " + Testdata("traces/empty.csv") + " --cluster 1x8xV100 --policy fifo");
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("empty.csv:1:"));
  o = Kojo("sim run --trace " + Testdata("traces/philly-good.csv") + " --format tiresias --cluster 1x8xV100 --policy fifo");
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("missing column 'job_id'"));
}

TEST_F(KojoCli, HelpIsAccurate) {
  Outcome o = Kojo("--help");
  EXPECT_EQ(o.code, 0);
  EXPECT_THAT(o.out, HasSubstr("sim"));
  o = Kojo("sim --help");
  EXPECT_EQ(o.code, 0);
  EXPECT_THAT(o.out, HasSubstr("run"));
  EXPECT_THAT(o.out, HasSubstr("compare"));
  EXPECT_THAT(o.out, HasSubstr("pack"));
  o = Kojo("sim run --help");
  EXPECT_EQ(o.code, 0);
  for (const char* flag : {"--trace", "--format", "--cluster", "--policy", "--placer", "--backfill", "--seed",
                           "--limit-jobs", "--round", "--restart-penalty", "--out", "--json"})
    EXPECT_THAT(o.out, HasSubstr(flag));
  o = Kojo("sim");
  EXPECT_EQ(o.code, 2);
}

// Crude well-formedness: the XML prolog, one root, balanced elements.
void ExpectSvg(const fs::path& p) {
  std::string s = Slurp(p);
  ASSERT_FALSE(s.empty()) << p;
  EXPECT_EQ(s.rfind("<?xml", 0), 0u) << p;
  EXPECT_THAT(s, HasSubstr("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_THAT(s, HasSubstr("</svg>"));
  auto count = [&](const std::string& needle) {
    size_t n = 0;
    for (size_t pos = s.find(needle); pos != std::string::npos; pos = s.find(needle, pos + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("<text"), count("</text>")) << p;
  EXPECT_GT(count("<polyline"), 0u) << p;
  EXPECT_EQ(s.find("nan"), std::string::npos) << p;
  EXPECT_EQ(s.find("inf"), std::string::npos) << p;
}

TEST_F(KojoCli, CompareWritesTableAndSvgPlots) {
  const fs::path out = dir_ / "cmp";
  Outcome o = Kojo("sim compare --trace " + Sample("philly-sample.csv") +
                   " --cluster 16x8xV100 --policy fifo,tiresias --both-backfill --limit-jobs 300 --out " + out.string());
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("tiresias+backfill"));
  EXPECT_THAT(o.out, HasSubstr("avg JCT"));
  for (const char* f : {"jct-cdf.svg", "utilization.svg", "queue.svg"}) ExpectSvg(out / f);
  std::string cdf = Slurp(out / "jct-cdf.svg");
  EXPECT_THAT(cdf, HasSubstr("Philly"));      // credit line
  EXPECT_THAT(cdf, HasSubstr("fifo+backfill"));  // legend
  auto summary = nlohmann::json::parse(Slurp(out / "summary.json"), nullptr, false);
  ASSERT_TRUE(summary.is_array());
  EXPECT_EQ(summary.size(), 4u);
  EXPECT_TRUE(fs::exists(out / "jobs-tiresias-backfill.csv"));
}

TEST_F(KojoCli, PackPrintsAllocationCurve) {
  Outcome o = Kojo("sim pack --nodes " + Sample("openb-nodes-sample.csv") + " --pods " + Sample("openb-pods-sample.csv") +
                   " --placer bestfit --seed 42 --json");
  ASSERT_EQ(o.code, 0) << o.err;
  auto j = nlohmann::json::parse(o.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << o.out;
  const double at100 = j["alloc_at_100"].get<double>();
  EXPECT_GT(at100, 50);
  EXPECT_LE(at100, 100);
  std::set<int> ks;
  for (const auto& p : j["curve"]) ks.insert(p["arrived_pct"].get<int>());
  for (int k = 0; k <= 100; k += 5) EXPECT_TRUE(ks.count(k)) << "curve has no point at " << k << "%";
}

TEST_F(KojoCli, PackCompareWritesSvg) {
  const fs::path out = dir_ / "pack";
  Outcome o = Kojo("sim compare --nodes " + Sample("openb-nodes-sample.csv") + " --pods " +
                   Sample("openb-pods-sample.csv") + " --placer bestfit,fgd --seeds 42..43 --out " + out.string());
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("fgd"));
  ExpectSvg(out / "pack-alloc.svg");
  EXPECT_THAT(Slurp(out / "pack-alloc.svg"), HasSubstr("Alibaba"));
}

}  // namespace
