// `kojo sim --org`: replays with programmes, shares, quotas and grants, run
// through the real binary (KOJO_BINARY).
#include <sys/wait.h>

#include <cstdlib>
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

std::string Slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class SimOrgCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("kojo-sim-org-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  int Kojo(const std::string& args, std::string* out = nullptr, std::string* err = nullptr) {
    const fs::path o = dir_ / "stdout", e = dir_ / "stderr";
    const std::string cmd = std::string(KOJO_BINARY) + " " + args + " >" + o.string() + " 2>" + e.string();
    const int status = std::system(cmd.c_str());
    if (out) *out = Slurp(o);
    if (err) *err = Slurp(e);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  static std::string Sample(const std::string& name) { return std::string(KOJO_SAMPLES_DIR) + "/" + name; }
  void Write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  fs::path dir_;
};

TEST_F(SimOrgCli, SyntheticRunWritesTheProgrammeShareFigure) {
  const fs::path out = dir_ / "run";
  std::string stdout_text, err;
  ASSERT_EQ(Kojo("sim run --org " + Sample("org-three-programmes.json") +
                     " --synthetic 0.5 --synthetic-days 1 --cluster 2x8xH100 --policy fairshare --out " + out.string(),
                 &stdout_text, &err),
            0)
      << err;
  EXPECT_THAT(stdout_text, HasSubstr("synthetic workload"));
  const std::string csv = Slurp(out / "programme-share.csv");
  EXPECT_EQ(csv.rfind("t,(none),alpha,beta,gamma\n", 0), 0u);
  const std::string svg = Slurp(out / "programme-share.svg");
  EXPECT_THAT(svg, HasSubstr("alpha"));
  EXPECT_THAT(svg, HasSubstr("seeded synthetic jobs"));  // the credit line
}

TEST_F(SimOrgCli, TraceClustersAreProjectsAndGrantsAreMetered) {
  // The Philly sample's virtual cluster 6214e9 is project "p" with a grant
  // of 1 normalised GPU-hour: most of its jobs never start.
  Write("org.json", R"({"programmes": [{"name": "x"}], "organisations": [{"name": "o", "programme": "x"}],
    "projects": [{"name": "6214e9", "organisation": "o"}],
    "grants": [{"id": "g", "project": "6214e9", "gpu_hours": 1, "start": "2017-10-15", "end": "2018-01-01"}]})");
  std::string out, err;
  ASSERT_EQ(Kojo("sim run --trace " + Sample("philly-sample.csv") + " --cluster 16x8xV100 --policy fairshare" +
                     " --limit-jobs 300 --json --org " + (dir_ / "org.json").string(),
                 &out, &err),
            0)
      << err;
  auto j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_GT(j["unfinished"].get<int>(), 0);
  EXPECT_EQ(j["org"], (dir_ / "org.json").string());
}

TEST_F(SimOrgCli, BadOrgDocumentsAndFlagsAreRefusedNamingTheField) {
  Write("bad.json", R"({"projects": [{"name": "x", "organisation": "nope"}]})");
  std::string err;
  EXPECT_EQ(Kojo("sim run --org " + (dir_ / "bad.json").string() + " --synthetic 1 --cluster 1x8xH100 --policy fifo",
                 nullptr, &err),
            2);
  EXPECT_THAT(err, HasSubstr("projects[0].organisation"));
  EXPECT_EQ(Kojo("sim run --synthetic 1 --cluster 1x8xH100 --policy fifo", nullptr, &err), 2);
  EXPECT_THAT(err, HasSubstr("--synthetic needs --org"));
  EXPECT_EQ(Kojo("sim run --cluster 1x8xH100 --policy fifo", nullptr, &err), 2);
  EXPECT_THAT(err, HasSubstr("--trace is required"));
}

}  // namespace
