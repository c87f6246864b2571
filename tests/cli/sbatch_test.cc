// `kojo submit`'s pure part: sbatch's directive rules, formats, option
// grammar and the conversion into an api::JobSpec.
#include "cli/sbatch.h"
#include "cli/sbatch_fixtures.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/codec.h"

namespace kojo::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// ---- time ----

std::optional<Seconds> Time(std::string_view s) {
  auto r = ParseTimeLimit(s);
  EXPECT_TRUE(r.ok()) << s << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : std::nullopt;
}

TEST(TimeLimit, EveryDocumentedFormat) {
  EXPECT_EQ(Time("10"), 600);                        // minutes
  EXPECT_EQ(Time("90"), 5400);                       // minutes beyond an hour
  EXPECT_EQ(Time("10:30"), 630);                     // minutes:seconds
  EXPECT_EQ(Time("1:02:03"), 3723);                  // hours:minutes:seconds
  EXPECT_EQ(Time("2-3"), 2 * 86400 + 3 * 3600);      // days-hours
  EXPECT_EQ(Time("2-3:04"), 2 * 86400 + 3 * 3600 + 4 * 60);
  EXPECT_EQ(Time("2-03:04:05"), 2 * 86400 + 3 * 3600 + 4 * 60 + 5);
  EXPECT_EQ(Time("0-0:0:1"), 1);
  EXPECT_EQ(Time("00:45"), 45);  // seconds are kept, not rounded up to a minute
}

TEST(TimeLimit, ZeroAndUnlimitedMeanNoLimit) {
  EXPECT_EQ(Time("0"), std::nullopt);
  EXPECT_EQ(Time("0:00"), std::nullopt);
  EXPECT_EQ(Time("-1"), std::nullopt);
  EXPECT_EQ(Time("UNLIMITED"), std::nullopt);
  EXPECT_EQ(Time("unlimited"), std::nullopt);
  EXPECT_EQ(Time("INFINITE"), std::nullopt);
}

TEST(TimeLimit, BadFormsAreErrorsListingTheFormats) {
  for (const char* bad : {"", "abc", "1:2:3:4", "1-2:3:4:5", "1-", "-5", "1--2", "1-2-3", "1:", ":5", "1.5", "1h",
                          "1 0", "2-:00", "99999999999"}) {
    auto r = ParseTimeLimit(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_THAT(r.error().message, HasSubstr("days-hours:minutes:seconds")) << bad;
    }
  }
  EXPECT_FALSE(ParseTimeLimit("100000-0").ok());  // beyond 100 years
}

// ---- memory ----

TEST(Memory, DefaultUnitIsMegabytesAndSuffixesScale) {
  EXPECT_EQ(*ParseMemory("4096"), 4096);
  EXPECT_EQ(*ParseMemory("4096M"), 4096);
  EXPECT_EQ(*ParseMemory("4096m"), 4096);
  EXPECT_EQ(*ParseMemory("16G"), 16384);
  EXPECT_EQ(*ParseMemory("16g"), 16384);
  EXPECT_EQ(*ParseMemory("1T"), 1024 * 1024);
  EXPECT_EQ(*ParseMemory("2t"), 2 * 1024 * 1024);
  EXPECT_EQ(*ParseMemory("1024K"), 1);
  EXPECT_EQ(*ParseMemory("1025K"), 2);  // kilobytes round up
  EXPECT_EQ(*ParseMemory("1k"), 1);
  EXPECT_EQ(*ParseMemory("0"), 0);
}

// What Slurm 22.05.8's sbatch (Debian 12) does with each value, measured with
// `sbatch --test-only --mem=VALUE --wrap true` (and `sbatch -H` + `scontrol
// show job` for the sizes); see docs/cli.md. A value sbatch refuses has
// mib = -1. "16T" and the values past 4 PiB parse in sbatch and are refused
// only by the test cluster's node size; kojo refuses more than 4 PiB itself.
struct MemCase {
  const char* value;
  std::int64_t mib;  // -1: refused
};
constexpr MemCase kSlurmMemTable[] = {
    {"16", 16},           {"16M", 16},          {"16m", 16},          {"16K", 1},         {"16G", 16384},
    {"16g", 16384},       {"16T", 16777216},    {"16GB", 16384},      {"16gb", 16384},    {"16Gb", 16384},
    {"16MB", 16},         {"16KB", 1},          {"16TB", 16777216},   {"16tb", 16777216}, {"16Mb", 16},
    {"16mB", 16},         {"16kB", 1},          {"16Kb", 1},          {"1k", 1},          {"1025K", 2},
    {"1025KB", 2},        {"0", 0},             {"-0", 0},            {"+0", 0},          {"0G", 0},
    {"0K", 0},            {"0GB", 0},           {" 16", 16},          {"  16G", 16384},   {"\t16", 16},
    {" +16", 16},         {"+16", 16},          {"016", 16},          {"16GiB", -1},      {"16Gi", -1},
    {"1.5G", -1},         {"-1", -1},           {"-16", -1},          {"16X", -1},        {"16 G", -1},
    {"16 ", -1},          {"", -1},             {"16B", -1},          {"16b", -1},        {"16BB", -1},
    {"16GBB", -1},        {"16GBX", -1},        {"16Gxyz", -1},       {"16P", -1},        {"16PB", -1},
    {"16E", -1},          {"0x10", -1},         {"+", -1},            {"G", -1},          {"GB", -1},
    {"99999999999999999999", -1},
};

TEST(Memory, MatchesSlurm2205Table) {
  for (const MemCase& c : kSlurmMemTable) {
    auto r = ParseMemory(c.value);
    if (c.mib < 0) {
      EXPECT_FALSE(r.ok()) << "'" << c.value << "' parsed as " << (r.ok() ? *r : 0);
      if (!r.ok()) {
        EXPECT_THAT(r.error().message, HasSubstr(std::string("'") + c.value + "'")) << c.value;
      }
    } else {
      EXPECT_TRUE(r.ok()) << "'" << c.value << "': " << (r.ok() ? "" : r.error().message);
      if (r.ok()) {
        EXPECT_EQ(*r, c.mib) << c.value;
      }
    }
  }
}

TEST(Memory, RefusalsSayWhy) {
  EXPECT_THAT(ParseMemory("1.5G").error().message, HasSubstr("fractions"));
  EXPECT_THAT(ParseMemory("16GiB").error().message, HasSubstr("iB"));
  EXPECT_THAT(ParseMemory("-1").error().message, HasSubstr("negative"));
  EXPECT_THAT(ParseMemory("16X").error().message, HasSubstr("K, M, G or T"));
}

TEST(Memory, BeyondFourPebibytesIsRefused) {
  // sbatch parses these (its cluster then has no node that big); kojo's limit.
  EXPECT_EQ(*ParseMemory("4096T"), 1LL << 32);
  for (const char* big : {"4097T", "4194305G", "4294967297", "99999T", "9223372036854775807", "17592186044415G"}) {
    auto r = ParseMemory(big);
    EXPECT_FALSE(r.ok()) << big;
    if (!r.ok()) {
      EXPECT_THAT(r.error().message, HasSubstr("4 PiB")) << big;
    }
  }
}

// ---- GPUs ----

TEST(Gpus, CountWithOptionalType) {
  auto g = *ParseGpuCount("4");
  EXPECT_EQ(g.count, 4);
  EXPECT_EQ(g.type, "");
  g = *ParseGpuCount("h100:2");
  EXPECT_EQ(g.count, 2);
  EXPECT_EQ(g.type, "h100");
  for (const char* bad : {"", "x", ":2", "a:b:2", "a100:1,v100:1", "-1", "2:"}) EXPECT_FALSE(ParseGpuCount(bad).ok()) << bad;
}

TEST(Gpus, GresForms) {
  auto g = *ParseGres("gpu");
  EXPECT_EQ(g.count, 1);
  EXPECT_EQ(g.type, "");
  g = *ParseGres("gpu:4");
  EXPECT_EQ(g.count, 4);
  g = *ParseGres("gpu:a100");
  EXPECT_EQ(g.count, 1);
  EXPECT_EQ(g.type, "a100");
  g = *ParseGres("gpu:a100:2");
  EXPECT_EQ(g.count, 2);
  EXPECT_EQ(g.type, "a100");
  g = *ParseGres("gpu:1g.10gb:3");  // MIG-style type names
  EXPECT_EQ(g.type, "1g.10gb");
  EXPECT_EQ(g.count, 3);
  g = *ParseGres("gres/gpu:2");
  EXPECT_EQ(g.count, 2);
  g = *ParseGres("none");
  EXPECT_EQ(g.count, 0);
}

TEST(Gpus, GresOtherResourcesAreRefusedByName) {
  auto r = ParseGres("shard:2");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("shard"));
  EXPECT_THAT(r.error().message, HasSubstr("--gpu-milli"));
  r = ParseGres("gpu:2,nvme:1");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("nvme"));
  EXPECT_FALSE(ParseGres("gpu:2,gpu:3").ok());
  EXPECT_FALSE(ParseGres("gpu:a:b:c").ok());
  EXPECT_FALSE(ParseGres("gpu:a100:x").ok());
  EXPECT_FALSE(ParseGres("").ok());
}

// ---- splitting directive lines ----

std::vector<std::string> Split(std::string_view s) {
  auto r = SplitDirectiveArgs(s);
  EXPECT_TRUE(r.ok()) << s;
  return r.ok() ? *r : std::vector<std::string>{};
}

TEST(DirectiveArgs, WhitespaceQuotesEscapesAndComments) {
  EXPECT_THAT(Split(" --time=10 -J  job"), ElementsAre("--time=10", "-J", "job"));
  EXPECT_THAT(Split("\t-J 'my job'"), ElementsAre("-J", "my job"));
  EXPECT_THAT(Split(" -J \"my job\""), ElementsAre("-J", "my job"));
  // As in sbatch, a backslash does not escape whitespace (the space still
  // ends the argument); it escapes quotes, '#' and backslashes.
  EXPECT_THAT(Split(" -J my\\ job"), ElementsAre("-J", "my", "job"));
  EXPECT_THAT(Split(" -J a\\\"b"), ElementsAre("-J", "a\"b"));
  EXPECT_THAT(Split(" -J a\\\\b"), ElementsAre("-J", "a\\b"));
  EXPECT_THAT(Split(" --time=10 # ten minutes"), ElementsAre("--time=10"));
  EXPECT_THAT(Split(" --time=10# no space"), ElementsAre("--time=10"));
  EXPECT_THAT(Split(" -J 'a#b'"), ElementsAre("-J", "a#b"));   // quoted # is text
  EXPECT_THAT(Split(" -J a\\#b"), ElementsAre("-J", "a#b"));   // escaped # is text
  EXPECT_THAT(Split(" -J a\"b c\"d"), ElementsAre("-J", "ab cd"));
  EXPECT_THAT(Split(" -J ''"), ElementsAre("-J", ""));
  EXPECT_THAT(Split("   "), IsEmpty());
  EXPECT_THAT(Split(" --mem=4G\r"), ElementsAre("--mem=4G"));  // CRLF scripts
  EXPECT_FALSE(SplitDirectiveArgs(" -J 'open").ok());
}

// ---- reading directives ----

std::vector<Directive> Read(std::string_view script) {
  auto r = ReadDirectives(script);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : std::vector<Directive>{};
}

TEST(Directives, StopAtTheFirstCommand) {
  auto d = Read(
      "#!/bin/bash\n"
      "#SBATCH -J first\n"
      "\n"
      "# a comment\n"
      "   # an indented comment\n"
      "#SBATCH --time=5\n"
      "echo hello\n"
      "#SBATCH --mem=1G\n");
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].line, 2);
  EXPECT_THAT(d[0].args, ElementsAre("-J", "first"));
  EXPECT_EQ(d[1].line, 6);
  EXPECT_THAT(d[1].args, ElementsAre("--time=5"));
}

TEST(Directives, OnlyColumnZeroUpperCaseIsADirective) {
  auto d = Read(
      "#!/bin/sh\n"
      "# SBATCH --time=1\n"
      "#sbatch --time=2\n"
      " #SBATCH --time=3\n"
      "##SBATCH --time=4\n"
      "#SBATCH --time=5\n");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_THAT(d[0].args, ElementsAre("--time=5"));
}

TEST(Directives, KojoAndOldSlurmPrefixes) {
  auto d = Read("#!/bin/sh\n#KOJO --gpu-model H100\n#SLURM -t 5\n#SBATCH -N 2\n");
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].origin, Origin::kKojoDirective);
  EXPECT_EQ(d[1].origin, Origin::kSbatchDirective);
  EXPECT_EQ(d[2].origin, Origin::kSbatchDirective);
}

TEST(Directives, IndentedCommandStopsAndBlankLinesDoNot) {
  auto d = Read("#!/bin/sh\n\n\t\n#SBATCH -t 1\n  true\n#SBATCH -t 2\n");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_THAT(d[0].args, ElementsAre("-t", "1"));
  EXPECT_TRUE(Read("echo first\n#SBATCH -t 1\n").empty());
  EXPECT_TRUE(Read("").empty());
}

TEST(Directives, UnmatchedQuoteNamesTheLine) {
  auto r = ReadDirectives("#!/bin/sh\n#SBATCH -J 'x\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("line 2"));
}

// ---- the option grammar ----

struct Parsed {
  SubmitOptions opts;
  size_t index = 0;
  std::string error;
};

Parsed Cli(std::vector<std::string> args) {
  Parsed p;
  SourceState st;
  auto r = ApplyOptions(args, Origin::kCommandLine, p.opts, st);
  if (r.ok()) p.index = *r;
  else p.error = r.error().message;
  return p;
}

TEST(Options, LongShortAttachedAndSeparated) {
  auto p = Cli({"--time=10", "-J", "a", "-c4", "--mem", "2G", "-N2", "--gres=gpu:4", "cmd"});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.index, 8u);
  EXPECT_EQ(p.opts.time_limit, std::optional<std::optional<Seconds>>(600));
  EXPECT_EQ(p.opts.name, "a");
  EXPECT_EQ(p.opts.cpus->count, 4);
  EXPECT_EQ(p.opts.mem->mib, 2048);
  EXPECT_EQ(p.opts.nodes, 2);
  EXPECT_EQ(p.opts.gpus->count.count, 4);
}

TEST(Options, StopAtFirstNonOptionAndAfterDoubleDash) {
  auto p = Cli({"-t", "5", "script.sh", "--time=9", "-x"});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.index, 2u);  // --time=9 and -x belong to the script
  EXPECT_EQ(p.opts.time_limit, std::optional<std::optional<Seconds>>(300));
  p = Cli({"-t", "5", "--", "-weird-program", "--help"});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.index, 3u);
  EXPECT_FALSE(p.opts.help);
}

TEST(Options, UniquePrefixesOfLongNamesLikeGetoptLong) {
  auto p = Cli({"--job=x", "--ntasks-per-n=2"});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.opts.name, "x");
  EXPECT_EQ(p.opts.ntasks_per_node, 2);
  p = Cli({"--gpu=2"});
  EXPECT_THAT(p.error, HasSubstr("ambiguous"));
  EXPECT_THAT(p.error, HasSubstr("--gpus-per-node"));
}

TEST(Memory, EachOptionTakesTheSameForms) {
  for (const char* flag : {"--mem", "--mem-per-cpu", "--mem-per-gpu"}) {
    for (const MemCase& c : kSlurmMemTable) {
      auto p = Cli({std::string(flag) + "=" + c.value});
      if (c.mib < 0) {
        EXPECT_THAT(p.error, HasSubstr(flag)) << flag << "=" << c.value;
        EXPECT_THAT(p.error, HasSubstr(std::string("'") + c.value + "'")) << flag << "=" << c.value;
      } else {
        EXPECT_EQ(p.error, "") << flag << "=" << c.value;
        if (p.error.empty()) {
          ASSERT_TRUE(p.opts.mem);
          EXPECT_EQ(p.opts.mem->mib, c.mib) << flag << "=" << c.value;
        }
      }
    }
  }
}

TEST(Options, UnknownAndMissingValuesNameTheOption) {
  EXPECT_THAT(Cli({"--bogus=1"}).error, HasSubstr("--bogus"));
  EXPECT_THAT(Cli({"-Z"}).error, HasSubstr("-Z"));
  EXPECT_THAT(Cli({"--time"}).error, HasSubstr("--time: needs a value"));
  EXPECT_THAT(Cli({"--hold=yes"}).error, HasSubstr("--hold: takes no value"));
  EXPECT_THAT(Cli({"--time=abc"}).error, HasSubstr("--time"));
  EXPECT_THAT(Cli({"--mem=1.5G"}).error, HasSubstr("--mem"));
  EXPECT_THAT(Cli({"-c", "0"}).error, HasSubstr("--cpus-per-task"));
  EXPECT_THAT(Cli({"--array=5-1"}).error, HasSubstr("--array"));
  auto range = Cli({"-N", "2-4", "cmd"});
  EXPECT_EQ(range.error, "");
  EXPECT_EQ(range.opts.nodes, 2);
  ASSERT_EQ(range.opts.warnings.size(), 1u);
  EXPECT_THAT(range.opts.warnings[0], HasSubstr("--nodes=2-4: kojo runs a job on a fixed number of nodes: 2"));
  EXPECT_THAT(Cli({"--env", "NOVALUE"}).error, HasSubstr("NAME=VALUE"));
}

TEST(Options, UnsupportedSbatchOptionsAreRefusedByName) {
  for (const char* opt : {"--dependency=afterok:1", "--begin=now+1h", "--container=img", "--uid=0",
                          "--gpus-per-socket=1"}) {
    auto p = Cli({opt, "v"});
    EXPECT_THAT(p.error, HasSubstr("not supported by kojo")) << opt;
    std::string name = opt;
    name = name.substr(0, name.find('='));
    EXPECT_THAT(p.error, HasSubstr(name)) << opt;
  }
}


TEST(Options, OptionsThatChangeNothingEssentialWarn) {
  auto p = Cli({"--licenses=matlab", "--overcommit", "--signal=USR1@60", "--reservation=r", "-M", "c1", "cmd"});
  ASSERT_EQ(p.error, "");
  ASSERT_EQ(p.opts.warnings.size(), 5u);
  EXPECT_THAT(p.opts.warnings[0], HasSubstr("--licenses ignored: kojo tracks no licenses"));
  EXPECT_THAT(p.opts.warnings[1], HasSubstr("--overcommit ignored"));
}

TEST(Options, InformationalOptionsWarn) {
  auto p = Cli({"--mail-user=a@b", "--mail-type=END", "--comment", "x", "--qos=high", "cmd"});
  ASSERT_EQ(p.error, "");
  ASSERT_EQ(p.opts.warnings.size(), 4u);
  EXPECT_THAT(p.opts.warnings[0], HasSubstr("--mail-user ignored"));
  EXPECT_THAT(p.opts.warnings[3], HasSubstr("--qos ignored"));
}

TEST(Options, MutuallyExclusiveWithinOneSource) {
  EXPECT_THAT(Cli({"--mem=1G", "--mem-per-cpu=1G"}).error, HasSubstr("mutually exclusive"));
  EXPECT_THAT(Cli({"--gpus=2", "--gres=gpu:2"}).error, HasSubstr("mutually exclusive"));
  EXPECT_THAT(Cli({"-c", "2", "--cpus-per-gpu=4"}).error, HasSubstr("mutually exclusive"));
  EXPECT_EQ(Cli({"--mem=1G", "--mem=2G"}).error, "");  // the same option twice: the last wins
}

TEST(Options, DialectOfDirectives) {
  SubmitOptions o;
  SourceState st;
  // -p is --partition on an #SBATCH line ...
  auto r = ApplyOptions({"-p", "gpu"}, Origin::kSbatchDirective, o, st, "job.sh:2: ");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(o.project);
  EXPECT_EQ(o.partitions, (std::vector<std::string>{"gpu"}));
  EXPECT_TRUE(o.warnings.empty());
  // ... and --project on a #KOJO line and the command line.
  r = ApplyOptions({"-p", "vision"}, Origin::kKojoDirective, o, st);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(o.project, "vision");
  // -A/--account is the project everywhere.
  r = ApplyOptions({"-A", "nlp"}, Origin::kSbatchDirective, o, st);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(o.project, "nlp");
  // kojo's own options are refused on #SBATCH lines, CLI-only ones in scripts.
  r = ApplyOptions({"--gpu-model=H100"}, Origin::kSbatchDirective, o, st, "job.sh:3: ");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("job.sh:3: --gpu-model is a kojo option"));
  r = ApplyOptions({"--dry-run"}, Origin::kKojoDirective, o, st);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("only on the command line"));
  // A directive holds options only.
  r = ApplyOptions({"-t", "5", "stray"}, Origin::kSbatchDirective, o, st);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("stray"));
}

// ---- resolving the job ----

using fixtures::Ctx;  // sbatch_fixtures.h

// Directives of `script`, then the command line `cli`, resolved.
Result<api::JobSpec> Submit(const std::string& script, std::vector<std::string> cli = {},
                            std::vector<std::string> script_args = {}, SubmitOptions* out = nullptr) {
  SubmitOptions o;
  auto d = ReadDirectives(script);
  if (!d.ok()) return d.error();
  SourceState ds, cs;
  for (const auto& x : *d)
    if (auto r = ApplyOptions(x.args, x.origin, o, ds); !r.ok()) return r.error();
  if (auto r = ApplyOptions(cli, Origin::kCommandLine, o, cs); !r.ok()) return r.error();
  Payload p;
  p.script = script;
  p.script_name = "train.sh";
  p.script_args = std::move(script_args);
  auto spec = ResolveJob(o, p, Ctx());
  if (out) *out = o;
  return spec;
}

api::JobSpec Ok(Result<api::JobSpec> r) {
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : api::JobSpec{};
}

TEST(Resolve, ATypicalSbatchScript) {
  const std::string script =
      "#!/bin/bash\n"
      "#SBATCH --job-name=resnet\n"
      "#SBATCH -t 1-12:00:00\n"
      "#SBATCH --gres=gpu:a100:4\n"
      "#SBATCH -c 8\n"
      "#SBATCH --mem=64G\n"
      "#SBATCH -o logs/%x-%j.out\n"
      "#SBATCH -e logs/%x-%j.err\n"
      "#SBATCH --array=0-15:2%4\n"
      "#SBATCH -A vision\n"
      "python train.py\n";
  api::JobSpec s = Ok(Submit(script));
  EXPECT_EQ(s.name, "resnet");
  EXPECT_EQ(s.time_limit_s, 36 * 3600);
  EXPECT_EQ(s.demand.gpus, 4);
  EXPECT_EQ(s.demand.tasks, 1);
  EXPECT_THAT(s.demand.gpu_models, ElementsAre("a100"));
  EXPECT_EQ(s.demand.cpu_milli, 8000);
  EXPECT_EQ(s.demand.mem_mib, 65536);
  EXPECT_EQ(s.stdout_path, "logs/%x-%j.out");
  EXPECT_EQ(s.stderr_path, "logs/%x-%j.err");
  EXPECT_EQ(s.array, "0-15:2%4");
  EXPECT_EQ(s.project, "vision");
  EXPECT_EQ(s.user, "ada");
  EXPECT_EQ(s.workdir, "/home/ada/proj");
  EXPECT_EQ(s.script, script);
  EXPECT_TRUE(s.command.empty());
  EXPECT_TRUE(s.requeue);
  EXPECT_FALSE(s.hold);
}

TEST(Resolve, CommandLineOverridesDirectives) {
  const std::string script = "#!/bin/sh\n#SBATCH -t 10 -J fromscript --mem-per-cpu=1G -c 2\n#KOJO -p a\ntrue\n";
  api::JobSpec s = Ok(Submit(script, {"-t", "2:00:00", "--job-name=cli", "--mem=8G", "-p", "b"}));
  EXPECT_EQ(s.time_limit_s, 7200);
  EXPECT_EQ(s.name, "cli");
  EXPECT_EQ(s.demand.mem_mib, 8192);  // --mem on the command line replaces the script's --mem-per-cpu
  EXPECT_EQ(s.demand.cpu_milli, 2000);
  EXPECT_EQ(s.project, "b");
}

TEST(Resolve, DirectivesAfterTheFirstCommandAreIgnored) {
  api::JobSpec s = Ok(Submit("#!/bin/sh\n#SBATCH -t 5\nhostname\n#SBATCH -t 99\n#SBATCH --gres=gpu:8\n"));
  EXPECT_EQ(s.time_limit_s, 300);
  EXPECT_EQ(s.demand.gpus, 0);
}

TEST(Resolve, GpusPerNodePerTaskAndInTotal) {
  // --gres and --gpus-per-node are per node.
  api::JobSpec s = Ok(Submit("#!/bin/sh\n#SBATCH -N 2 --gres=gpu:4\n"));
  EXPECT_EQ(s.demand.gpus, 8);
  EXPECT_EQ(s.demand.tasks, 2);
  s = Ok(Submit("#!/bin/sh\n#SBATCH -N 3 --gpus-per-node=h100:2\n"));
  EXPECT_EQ(s.demand.gpus, 6);
  EXPECT_EQ(s.demand.tasks, 3);
  EXPECT_THAT(s.demand.gpu_models, ElementsAre("h100"));
  // --gpus is the total.
  s = Ok(Submit("#!/bin/sh\n#SBATCH -N 2 --gpus 8\n"));
  EXPECT_EQ(s.demand.gpus, 8);
  EXPECT_EQ(s.demand.tasks, 2);
  s = Ok(Submit("#!/bin/sh\n#SBATCH -G 3\n"));
  EXPECT_EQ(s.demand.gpus, 3);
  EXPECT_EQ(s.demand.tasks, 1);
  // --gpus-per-task times the tasks.
  s = Ok(Submit("#!/bin/sh\n#SBATCH -n 4 --gpus-per-task=2\n"));
  EXPECT_EQ(s.demand.gpus, 8);
  EXPECT_EQ(s.demand.tasks, 4);
  s = Ok(Submit("#!/bin/sh\n#SBATCH -N 2 --ntasks-per-node=4 --gpus-per-task=1\n"));
  EXPECT_EQ(s.demand.gpus, 8);
  EXPECT_EQ(s.demand.tasks, 2);
  s = Ok(Submit("#!/bin/sh\n#SBATCH --gres=gpu\n"));
  EXPECT_EQ(s.demand.gpus, 1);
}

TEST(Resolve, UnevenGpuSplitsAreRefused) {
  auto r = Submit("#!/bin/sh\n#SBATCH -N 2 --gpus=3\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("--gpus: 3 GPUs cannot be split evenly over 2 nodes"));
  r = Submit("#!/bin/sh\n#SBATCH -N 4 -n 2\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("--ntasks=2 is less than --nodes=4"));
}

TEST(Resolve, CpusAndMemoryScale) {
  api::JobSpec s = Ok(Submit("#!/bin/sh\n#SBATCH -N 2 -c 4 --mem=10G\n"));
  EXPECT_EQ(s.demand.cpu_milli, 8000);   // 4 per task, one task per node
  EXPECT_EQ(s.demand.mem_mib, 20480);    // --mem is per node
  s = Ok(Submit("#!/bin/sh\n#SBATCH -n 2 -c 3 --mem-per-cpu=1000\n"));
  EXPECT_EQ(s.demand.cpu_milli, 6000);
  EXPECT_EQ(s.demand.mem_mib, 6000);
  s = Ok(Submit("#!/bin/sh\n#SBATCH --gpus=4 --cpus-per-gpu=6 --mem-per-gpu=20G\n"));
  EXPECT_EQ(s.demand.cpu_milli, 24000);
  EXPECT_EQ(s.demand.mem_mib, 4 * 20480);
  s = Ok(Submit("#!/bin/sh\n#SBATCH --mem-per-cpu=512\n"));  // one CPU per task by default
  EXPECT_EQ(s.demand.mem_mib, 512);
  EXPECT_FALSE(Submit("#!/bin/sh\n#SBATCH --mem-per-gpu=1G\n").ok());
  EXPECT_FALSE(Submit("#!/bin/sh\n#SBATCH --cpus-per-gpu=2\n").ok());
}

TEST(Resolve, MemZeroWarns) {
  // sbatch 22.05 gives the job all of a node's memory for any of the three at 0.
  for (const char* flag : {"--mem", "--mem-per-cpu", "--mem-per-gpu"}) {
    SubmitOptions o;
    api::JobSpec s = Ok(Submit(std::string("#!/bin/sh\n#SBATCH ") + flag + "=0GB\n", {}, {}, &o));
    EXPECT_EQ(s.demand.mem_mib, 0) << flag;
    ASSERT_EQ(o.warnings.size(), 1u) << flag;
    EXPECT_THAT(o.warnings[0], HasSubstr(std::string(flag) + "=0")) << flag;
  }
}

TEST(Resolve, ScriptTakesSlurmMemorySpellings) {
  api::JobSpec s = Ok(Submit("#!/bin/sh\n#SBATCH -N 2 --mem=16GB\n"));
  EXPECT_EQ(s.demand.mem_mib, 2 * 16384);
  EXPECT_THAT(Submit("#!/bin/sh\n#SBATCH --mem=16GiB\n").error().message, HasSubstr("--mem"));
}

TEST(Resolve, TimeZeroIsNoLimit) {
  api::JobSpec s = Ok(Submit("#!/bin/sh\n#SBATCH -t 30\n", {"-t", "0"}));
  EXPECT_FALSE(s.time_limit_s);
  s = Ok(Submit("#!/bin/sh\n#SBATCH -t UNLIMITED\n"));
  EXPECT_FALSE(s.time_limit_s);
}

TEST(Resolve, KojoOptionsFractionsAndModels) {
  api::JobSpec s = Ok(Submit("#!/bin/sh\n#KOJO --gpu-milli 250 --gpu-model H100-80GB,A100-80GB\n"));
  EXPECT_EQ(s.demand.gpus, 1);
  EXPECT_EQ(s.demand.gpu_milli, 250);
  EXPECT_THAT(s.demand.gpu_models, ElementsAre("H100-80GB", "A100-80GB"));
  auto r = Submit("#!/bin/sh\n#KOJO --gpus 2 --gpu-milli 500\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("--gpu-milli"));
  // --gpu-model wins over a type in --gres.
  s = Ok(Submit("#!/bin/sh\n#SBATCH --gres=gpu:v100:1\n#KOJO --gpu-model V100-SXM2-32GB\n"));
  EXPECT_THAT(s.demand.gpu_models, ElementsAre("V100-SXM2-32GB"));
}

TEST(Resolve, OutputPatterns) {
  api::JobSpec s = Ok(Submit("#!/bin/sh\n#SBATCH -o out/%u-%A_%a.log -e none\n"));
  EXPECT_EQ(s.stdout_path, "out/ada-%A_%a.log");
  EXPECT_EQ(s.stderr_path, "/dev/null");
  // Slurm's %J (jobid.stepid), %n (node index) and %s (step) for a batch job.
  s = Ok(Submit("#!/bin/sh\n#SBATCH -o %J-%n-%s.out\n"));
  EXPECT_EQ(s.stdout_path, "%j-%t-batch.out");
  auto r = Submit("#!/bin/sh\n#SBATCH -o %b.out\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("--output: %b"));
}

TEST(Resolve, WorkdirHoldRequeue) {
  api::JobSpec s = Ok(Submit("#!/bin/sh\n#SBATCH -D ../data --hold --no-requeue\n"));
  EXPECT_EQ(s.workdir, "/home/ada/data");
  EXPECT_TRUE(s.hold);
  EXPECT_FALSE(s.requeue);
  s = Ok(Submit("#!/bin/sh\n#SBATCH --chdir=/scratch/x/\n", {"--requeue"}));
  EXPECT_EQ(s.workdir, "/scratch/x");
  EXPECT_TRUE(s.requeue);
}

TEST(Resolve, ExportAndEnv) {
  api::JobSpec s = Ok(Submit("#!/bin/sh\n#SBATCH --export=HOME,A=1\n", {"--env", "B=2", "--env", "A=3"}));
  EXPECT_EQ(s.env.size(), 3u);
  EXPECT_EQ(s.env["HOME"], "/home/ada");
  EXPECT_EQ(s.env["A"], "3");  // --env wins
  EXPECT_EQ(s.env["B"], "2");
  s = Ok(Submit("#!/bin/sh\n#SBATCH --export=ALL\n"));
  EXPECT_EQ(s.env.size(), 2u);  // never the token
  EXPECT_FALSE(s.env.count("KOJO_TOKEN"));
  s = Ok(Submit("#!/bin/sh\n#SBATCH --export=NONE\n"));
  EXPECT_TRUE(s.env.empty());
  s = Ok(Submit("#!/bin/sh\ntrue\n"));
  EXPECT_TRUE(s.env.empty());  // kojo's default is NONE
}

TEST(Resolve, ScriptArgumentsBecomeACommand) {
  api::JobSpec s = Ok(Submit("#!/bin/bash -l\n#SBATCH -t 5\necho \"$1\"\n", {}, {"a b", "c"}));
  ASSERT_TRUE(s.script.empty());
  EXPECT_THAT(s.command, ElementsAre("/bin/bash", "-l", "-c", "#!/bin/bash -l\n#SBATCH -t 5\necho \"$1\"\n",
                                     "train.sh", "a b", "c"));
  s = Ok(Submit("#!/usr/bin/env python3\nimport sys\n", {}, {"x"}));
  EXPECT_THAT(s.command, ElementsAre("/usr/bin/env", "python3", "-c", "#!/usr/bin/env python3\nimport sys\n", "x"));
  s = Ok(Submit("echo no shebang\n", {}, {"x"}));
  EXPECT_EQ(s.command[0], "/bin/sh");
  auto r = Submit("#!/usr/bin/perl\nprint 1;\n", {}, {"x"});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("-- INTERPRETER SCRIPT ARGS"));
}

TEST(Resolve, CommandsWrapAndNames) {
  SubmitOptions o;
  Payload p;
  p.command = {"/usr/bin/nvidia-smi", "-L"};
  api::JobSpec s = Ok(ResolveJob(o, p, Ctx()));
  EXPECT_EQ(s.name, "nvidia-smi");
  EXPECT_THAT(s.command, ElementsAre("/usr/bin/nvidia-smi", "-L"));
  SubmitOptions w;
  w.wrap = "echo hi | tr a-z A-Z";
  s = Ok(ResolveJob(w, Payload{}, Ctx()));
  EXPECT_EQ(s.name, "wrap");
  EXPECT_EQ(s.script, "#!/bin/sh\necho hi | tr a-z A-Z\n");
  EXPECT_FALSE(ResolveJob(w, p, Ctx()).ok());  // --wrap and a command
  SubmitOptions none;
  auto r = ResolveJob(none, Payload{}, Ctx());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("nothing to run"));
}

TEST(Resolve, TheJsonIsWhatTheApiAccepts) {
  api::JobSpec s = Ok(Submit("#!/bin/sh\n#SBATCH -N 2 --gpus-per-node 4 -t 1:00:00 --mem 1G\n"));
  auto back = api::JobSpecFromJson(api::ToJson(s));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(api::ToJson(*back), api::ToJson(s));
  const api::Json j = api::ToJson(s);
  EXPECT_EQ(j["gpus"], 8);
  EXPECT_EQ(j["tasks"], 2);
  EXPECT_EQ(j["time_limit_s"], 3600);
  EXPECT_EQ(j["mem_mib"], 2048);
}

// Found by fuzzing (fuzz/regressions/sbatch_fuzz/): a script that is not
// UTF-8 resolved into a job that `kojo submit` then failed to serialise
// ("[json.exception.type_error.316] invalid UTF-8 byte"). It is refused
// with the field and the byte.
TEST(Resolve, ScriptThatIsNotUtf8IsRefusedWithTheByte) {
  auto r = Submit("#!/bin/sh\n#SBATCH -t 5\necho caf\xE9\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("script: expected UTF-8 text, got the byte 0xE9 at offset 31"));
  r = Submit("#!/bin/sh\n#SBATCH --job-name=\xC1x\necho\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("expected UTF-8 text, got the byte 0xC1"));
  auto ok = Submit("#!/bin/sh\n# caf\xC3\xA9\necho \xE2\x82\xAC\n");
  EXPECT_TRUE(ok.ok()) << ok.error().message;
}

// A default name (the command's or the script's file name) beyond the
// API's 256 characters is cut after the 256th character, never inside one
// (which left text that is not UTF-8); --job-name counts characters, not
// bytes, as the API does.
TEST(Resolve, LongNamesAreCutBetweenCharacters) {
  std::string e_acute;
  for (int i = 0; i < 300; ++i) e_acute += "\xC3\xA9";
  SubmitOptions o;
  Payload p;
  p.command = {"/opt/" + e_acute, "x"};
  api::JobSpec s = Ok(ResolveJob(o, p, Ctx()));
  EXPECT_EQ(s.name, e_acute.substr(0, 512));
  EXPECT_EQ(api::Utf8Length(s.name), 256u);
  p.command = {"/opt/" + std::string(300, 'x')};
  s = Ok(ResolveJob(o, p, Ctx()));
  EXPECT_EQ(s.name, std::string(256, 'x'));

  const std::string name256 = "a" + e_acute.substr(0, 510);  // 256 characters in 511 bytes
  s = Ok(Submit("#!/bin/sh\necho\n", {"--job-name=" + name256}));
  EXPECT_EQ(s.name, name256);
  auto r = Submit("#!/bin/sh\necho\n", {"--job-name=" + name256 + "b"});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("--job-name: expected a name of 1..256 characters"));
}

TEST(Options, WhereAJobMayRun) {
  auto p = Cli({"-C", "a100&[rack1|rack2]", "--partition=gpu,debug", "-w", "gpu[01-02]", "-x", "gpu03", "--gpus=2",
                "cmd"});
  ASSERT_EQ(p.error, "");
  Payload payload;
  payload.command = {"cmd"};
  auto spec = ResolveJob(p.opts, payload, Ctx());
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  const NodeRule& r = spec->demand.nodes;
  EXPECT_EQ(r.constraint, "a100&[rack1|rack2]");
  EXPECT_TRUE(r.parsed.matching);
  EXPECT_EQ(r.partitions, (std::vector<std::string>{"gpu", "debug"}));
  EXPECT_EQ(r.nodelist, (std::vector<std::string>{"gpu01", "gpu02"}));
  EXPECT_EQ(r.exclude, (std::vector<std::string>{"gpu03"}));
  EXPECT_FALSE(spec->demand.distinct_nodes);
  // -N: exactly that many nodes.
  auto two = Cli({"-N", "2", "--gpus-per-node=1", "cmd"});
  ASSERT_EQ(two.error, "");
  auto two_spec = ResolveJob(two.opts, payload, Ctx());
  ASSERT_TRUE(two_spec.ok());
  EXPECT_EQ(two_spec->demand.tasks, 2);
  EXPECT_TRUE(two_spec->demand.distinct_nodes);
  // A one-node job given two nodes: accepted, with a warning.
  ASSERT_EQ(p.opts.warnings.size(), 1u);
  EXPECT_THAT(p.opts.warnings[0], HasSubstr("--nodelist names 2 nodes for a job of 1"));
  // Errors name the option and where it went wrong.
  EXPECT_THAT(Cli({"--constraint=a100&", "v"}).error, HasSubstr("--constraint: constraint 'a100&': expected a feature name"));
  EXPECT_THAT(Cli({"-w", "gpu[01-", "v"}).error, HasSubstr("--nodelist: hostlist 'gpu[01-'"));
  EXPECT_THAT(Cli({"--nodelist=/tmp/hosts", "v"}).error, HasSubstr("node list files are not supported"));
  // A counted feature is taken on every node, with a warning.
  auto counted = Cli({"-C", "ib*2", "cmd"});
  ASSERT_EQ(counted.error, "");
  ASSERT_EQ(counted.opts.warnings.size(), 1u);
  EXPECT_THAT(counted.opts.warnings[0], HasSubstr("counted feature"));
}

TEST(Resolve, NoRentOnTheCommandLineOrAKojoLineButNotAnSbatchOne) {
  api::JobSpec s = Ok(Submit("#!/bin/sh\n#KOJO --no-rent\n"));
  EXPECT_TRUE(s.demand.nodes.no_rent);
  s = Ok(Submit("#!/bin/sh\necho\n", {"--no-rent"}));
  EXPECT_TRUE(s.demand.nodes.no_rent);
  s = Ok(Submit("#!/bin/sh\necho\n"));
  EXPECT_FALSE(s.demand.nodes.no_rent);
  auto r = Submit("#!/bin/sh\n#SBATCH --no-rent\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("--no-rent is a kojo option"));
}

}  // namespace
}  // namespace kojo::cli
