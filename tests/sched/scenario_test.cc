// Data-driven scheduler scenarios: every *.txt file in
// tests/testdata/sched/ is one test case (named after the file). Each holds
// a cluster, jobs and a configuration, runs one Decide() pass and compares
// its decisions with the file's `expect` block. A new rule or policy is
// tested by adding a file; the format is in tests/testdata/sched/README.md.
#include <algorithm>
#include <cctype>
#include <filesystem>

#include <fmt/format.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "scenario.h"

namespace kojo::testing {
namespace {

const std::string kDir = std::string(KOJO_TESTDATA_DIR) + "/sched";

std::vector<std::string> ListScenarios() {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(kDir))
    if (entry.is_regular_file() && entry.path().extension() == ".txt") files.push_back(entry.path().filename());
  std::sort(files.begin(), files.end());
  return files;
}

class Scenarios : public ::testing::TestWithParam<std::string> {};

TEST_P(Scenarios, DecisionsMatchTheExpectedOnes) {
  auto s = ReadScenario(kDir + "/" + GetParam());
  ASSERT_TRUE(s.ok()) << s.error().message;
  const std::vector<DecisionLine> made = RunScenario(*s);
  // Pair each expectation with a decision it matches; what is left over on
  // either side is the diff.
  std::vector<bool> used(made.size(), false);
  std::string diff;
  for (const DecisionLine& want : s->expected) {
    bool found = false;
    for (size_t i = 0; i < made.size() && !found; ++i)
      if (!used[i] && want.Matches(made[i])) used[i] = found = true;
    if (!found) diff += fmt::format("  - {}   (line {}: expected, not made)\n", want.ToString(), want.line);
  }
  for (size_t i = 0; i < made.size(); ++i)
    if (!used[i]) diff += fmt::format("  + {}   (made, not expected)\n", made[i].ToString());
  if (diff.empty()) return;
  std::string all;
  for (const auto& d : made) all += "  " + d.ToString() + "\n";
  ADD_FAILURE() << s->file << ": the decisions differ from the expected ones\n"
                << (s->about.empty() ? "" : "  (" + s->about + ")\n") << diff << "all decisions made:\n" << all;
}

INSTANTIATE_TEST_SUITE_P(Files, Scenarios, ::testing::ValuesIn(ListScenarios()), [](const auto& info) {
  std::string name = std::filesystem::path(info.param).stem();
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
});

TEST(ScenarioFiles, TheFolderHoldsScenarios) { EXPECT_GE(ListScenarios().size(), 12u) << kDir; }

// The reader's errors name the file, the line and the field.
std::string ErrorOf(const std::string& text) {
  auto s = ParseScenario(text, "x.txt");
  return s.ok() ? "(no error)" : s.error().message;
}

TEST(ScenarioReader, ErrorsNameTheFileLineAndField) {
  using ::testing::HasSubstr;
  EXPECT_EQ(ErrorOf("cluster 1x8xH100\npending 1 gpus=two\nexpect\n"),
            "x.txt:2: gpus: expected an integer in 0..2147483647, got 'two'");
  EXPECT_THAT(ErrorOf("cluster 1x8xH100\nrunning 1 on=h100-7:0\nexpect\n"),
              HasSubstr("x.txt:2: on: expected a node name (h100-0 .. h100-0), got 'h100-7'"));
  EXPECT_THAT(ErrorOf("cluster 1x8xH100\nrunning 1 on=h100-0:0\nrunning 2 on=h100-0:0\nexpect\n"),
              HasSubstr("x.txt:3: on: GPU 0 of h100-0 is already taken"));
  EXPECT_THAT(ErrorOf("cluster 1x8xH100\npending 1 colour=red\nexpect\n"),
              HasSubstr("x.txt:2: pending: unknown key 'colour'"));
  EXPECT_THAT(ErrorOf("cluster 1x8xH100\npending 1\nexpect\nwait 1 Sleepy\n"),
              HasSubstr("x.txt:4: reason: expected Priority, Resources"));
  EXPECT_THAT(ErrorOf("cluster 1x8xH100\nexpect\nplace 9\n"), HasSubstr("x.txt:3: id: no job 9"));
  EXPECT_THAT(ErrorOf("cluster 1x8xH100\npending 1\n"), HasSubstr("x.txt:2: expect: missing"));
  EXPECT_THAT(ErrorOf("pending 1\n"), HasSubstr("x.txt:1: pending: the 'cluster' line must come first"));
  EXPECT_THAT(ErrorOf("cluster 1x8\n"), HasSubstr("x.txt:1: cluster: cluster spec '1x8'"));
  EXPECT_THAT(ErrorOf("cluster 1x8xH100\nscheduler backfill=yes\nexpect\n"),
              HasSubstr("x.txt:2: backfill: expected on or off, got 'yes'"));
}

}  // namespace
}  // namespace kojo::testing
