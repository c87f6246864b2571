// A corpus of sbatch job scripts (tests/testdata/sbatch/NAME.sh), written for
// kojo from the option forms of Slurm's sbatch(1) manual page: the forms GPU
// users write (GPU counts per job, node and task, memory per node, CPU and
// GPU, time limits, arrays, output patterns, constraints, partitions, node
// lists, informational options, refused options). Each script is one test
// case, resolved as `kojo submit --dry-run NAME.sh` resolves it (its
// directives, no command-line options, kojo's default --export), with the
// fixed user and working directory of sbatch_test.cc's Ctx(). Next to it:
//
//  * NAME.json: the fields of the resolved JobSpec that matter (compared
//    with the same keys of api::ToJson(spec); null = the key is absent), and
//    optionally "warnings": substrings, each matching one of the warnings;
//    every warning must be matched by one, and no "warnings" means none.
//    "about" is a note for people, "slurm_22_05" what the real sbatch made of
//    the script (below). "known_defect": "why" marks a case whose
//    expectation is Slurm's behaviour but kojo's differs: it is reported as
//    skipped while it fails, and fails once it passes (remove the mark).
//  * or NAME.error: a substring of the message with which kojo refuses it.
//
// A script with neither, or an expected file without its script, fails.
//
// Checked against the real sbatch (Slurm 22.05.8, Debian 12) on a loopback
// slurmctld with four 8-GPU nodes (a100 and h100, features a100/h100, nvlink,
// ib, rack1/rack2; set up as bench/compare-slurm.sh does): each script but
// option_spellings.sh and mem_per_cpu_tasks.sh with `sbatch --test-only`, and the resulting job with `sbatch -H` + `scontrol
// show job`, recorded in each file's "slurm_22_05". That covers the memory
// forms --mem=32G/64gb/200G/480000, --mem-per-gpu=16GB/40G and
// --mem-per-cpu=4G/2000M (totals per node, GPU and CPU); the time forms
// 2:30:00, 1-12:00:00, 2-00:00:00, 90, 30, 0-06, 45:30 (46 minutes in Slurm,
// 45 min 30 s in kojo) and UNLIMITED; the GPU forms --gres=gpu:1,
// --gres=gpu:a100:2, --gres=gpu:8 and --gpus-per-node=4 over -N 2,
// --gpus-per-task=1 with -n 4 and with -N 2 --ntasks-per-node=4,
// --gpus=h100:4 with --cpus-per-gpu, -G 1; arrays 0-99%10 and 1,3,5-11:2%2;
// the three constraint forms; a partition list; a nodelist hostlist; -N 2-4;
// and %J, which a batch job run there expanded to the job id. sbatch refuses
// --mem=1.5G and --gres=shard:2 (no shard on that cluster) as kojo does;
// --dependency, --gpus-per-socket and -N 3 --gpus=8 it accepts, and kojo
// refuses them by design (docs/cli.md). exclude_hostlist.sh names nodes that
// cluster lacks and informational_options.sh a license it lacks, which
// Slurm refuses there.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/codec.h"
#include "cli/sbatch.h"
#include "cli/sbatch_fixtures.h"
#include "test_support.h"

namespace kojo::cli {
namespace {

namespace fs = std::filesystem;
using api::Json;

const std::string kDir = std::string(KOJO_TESTDATA_DIR) + "/sbatch";

using fixtures::Ctx;  // the submitting side sbatch_test.cc uses too

std::string ReadFile(const fs::path& p) { return kojo::testing::ReadFile(p.string()); }

std::vector<std::string> ListFiles(const std::string& ext) {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(kDir))
    if (entry.is_regular_file() && entry.path().extension() == ext) files.push_back(entry.path().filename());
  std::sort(files.begin(), files.end());
  return files;
}

// What `kojo submit --dry-run NAME.sh` does with the script (PrepareSubmit in
// src/cli/job_commands.cc, without a command line): its directives in order,
// then ResolveJob.
Result<api::JobSpec> Resolve(const std::string& name, const std::string& script, SubmitOptions& opts) {
  auto directives = ReadDirectives(script);
  if (!directives.ok()) return Error{directives.error().code, name + ": " + directives.error().message};
  SourceState ds;
  for (const auto& d : *directives) {
    auto r = ApplyOptions(d.args, d.origin, opts, ds, name + ":" + std::to_string(d.line) + ": ");
    if (!r.ok()) return r.error();
  }
  SourceState cs;
  if (auto r = ApplyOptions({}, Origin::kCommandLine, opts, cs); !r.ok()) return r.error();
  Payload p;
  p.script = script;
  p.script_name = name;
  return ResolveJob(opts, p, Ctx());
}

// The differences between the expected file and what kojo made, one per line;
// empty when they agree.
std::string Compare(const std::string& name, const std::string& script, const fs::path& json_file,
                    const fs::path& error_file) {
  SubmitOptions opts;
  auto spec = Resolve(name, script, opts);
  std::string diff;
  std::string warnings;
  for (const auto& w : opts.warnings) warnings += "    " + w + "\n";
  if (fs::exists(error_file)) {
    std::string want = ReadFile(error_file);
    while (!want.empty() && (want.back() == '\n' || want.back() == '\r')) want.pop_back();
    if (spec.ok()) return "  accepted, expected a refusal containing '" + want + "':\n" + api::ToJson(*spec).dump(2);
    if (spec.error().message.find(want) == std::string::npos)
      diff += "  refused with '" + spec.error().message + "', expected it to contain '" + want + "'\n";
    return diff;
  }
  Json want = Json::parse(ReadFile(json_file), nullptr, /*allow_exceptions=*/false);
  if (!want.is_object()) return "  " + json_file.filename().string() + " is not a JSON object\n";
  if (!spec.ok()) return "  refused: " + spec.error().message + "\n";
  const Json got = api::ToJson(*spec);
  for (const auto& [key, value] : want.items()) {
    if (key == "warnings" || key == "about" || key == "slurm_22_05" || key == "known_defect") continue;
    if (value.is_null()) {
      if (got.contains(key)) diff += "  " + key + ": expected absent, got " + got[key].dump() + "\n";
    } else if (!got.contains(key)) {
      diff += "  " + key + ": expected " + value.dump() + ", absent\n";
    } else if (got[key] != value) {
      diff += "  " + key + ": expected " + value.dump() + ", got " + got[key].dump() + "\n";
    }
  }
  std::vector<std::string> want_warnings;
  if (want.contains("warnings"))
    for (const auto& w : want["warnings"]) want_warnings.push_back(w.get<std::string>());
  for (const auto& w : want_warnings)
    if (std::none_of(opts.warnings.begin(), opts.warnings.end(),
                     [&](const std::string& g) { return g.find(w) != std::string::npos; }))
      diff += "  no warning contains '" + w + "'\n";
  for (const auto& g : opts.warnings)
    if (std::none_of(want_warnings.begin(), want_warnings.end(),
                     [&](const std::string& w) { return g.find(w) != std::string::npos; }))
      diff += "  unexpected warning: " + g + "\n";
  if (!diff.empty()) diff += "the resolved spec:\n" + got.dump(2) + "\nwarnings:\n" + warnings;
  return diff;
}

class SbatchCorpus : public ::testing::TestWithParam<std::string> {};

TEST_P(SbatchCorpus, ResolvesAsExpected) {
  const std::string name = GetParam();
  const fs::path script_file = fs::path(kDir) / name;
  const fs::path json_file = fs::path(script_file).replace_extension(".json");
  const fs::path error_file = fs::path(script_file).replace_extension(".error");
  const bool has_json = fs::exists(json_file), has_error = fs::exists(error_file);
  ASSERT_TRUE(has_json || has_error) << name << ": no expected file (" << json_file.filename().string() << " or "
                                     << error_file.filename().string() << ")";
  ASSERT_FALSE(has_json && has_error) << name << ": both a .json and an .error file";
  std::string known_defect;
  if (has_json) {
    Json want = Json::parse(ReadFile(json_file), nullptr, false);
    if (want.is_object() && want.contains("known_defect")) known_defect = want["known_defect"].get<std::string>();
  }
  const std::string diff = Compare(name, ReadFile(script_file), json_file, error_file);
  if (!known_defect.empty()) {
    if (diff.empty())
      FAIL() << name << ": marked known_defect (" << known_defect << ") but now resolves as expected: remove the mark";
    GTEST_SKIP() << name << ": known defect: " << known_defect << "\n" << diff;
  }
  EXPECT_TRUE(diff.empty()) << name << " differs from " << (has_json ? json_file : error_file).filename().string()
                            << ":\n" << diff;
}

INSTANTIATE_TEST_SUITE_P(Scripts, SbatchCorpus, ::testing::ValuesIn(ListFiles(".sh")), [](const auto& info) {
  std::string name = fs::path(info.param).stem();
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
});

TEST(SbatchCorpusFiles, EveryExpectedFileHasItsScript) {
  std::vector<std::string> expected = ListFiles(".json");
  for (auto& e : ListFiles(".error")) expected.push_back(e);
  for (const auto& e : expected)
    EXPECT_TRUE(fs::exists(fs::path(kDir) / fs::path(e).replace_extension(".sh"))) << e << " has no script";
  EXPECT_GE(ListFiles(".sh").size(), 20u) << "the corpus is in " << kDir;
}

}  // namespace
}  // namespace kojo::cli
