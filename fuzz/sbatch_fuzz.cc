// libFuzzer target: `kojo submit`'s input: a job script's #SBATCH / #KOJO /
// #SLURM directives, a command line, and the option values they share
// (times, memory sizes, GPU counts, --gres). The first byte picks which; the
// rest is the script, the arguments (one per line), or the value.
//
// What is checked: nothing crashes, throws, leaks or trips a sanitizer; a
// refusal says why; a job that ResolveJob accepts is one `kojo submit` can
// send (its JSON serialises) and kojod accepts unchanged; parsed values lie
// in their documented ranges and read back the same when written in the
// canonical form.
//
//   build/fuzz/fuzz/sbatch_fuzz -max_total_time=60 CORPUS_COPY fuzz/corpus/sbatch_fuzz
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "api_checks.h"
#include "cli/sbatch.h"

using namespace kojo;
using namespace kojo::fuzz;

namespace {

constexpr Seconds kMaxTimeLimit = 100LL * 365 * 24 * 3600;
constexpr MiB kMaxMem = 1LL << 32;

void Refused(const Error& e, std::string_view what) { Check(!e.message.empty(), what, "empty error message"); }

// A fixed submitting side: the same input always resolves the same way.
cli::SubmitContext Context() {
  cli::SubmitContext ctx;
  ctx.cwd = "/home/ada/work";
  ctx.user = "ada";
  ctx.getenv = [](const std::string& name) -> std::optional<std::string> {
    if (name == "HOME") return "/home/ada";
    if (name == "PATH") return "/usr/bin:/bin";
    return std::nullopt;
  };
  ctx.environment = {{"HOME", "/home/ada"}, {"PATH", "/usr/bin:/bin"}, {"KOJO_TOKEN", "secret"}};
  return ctx;
}

// The job `kojo submit` would send: kojod must take it as it is.
void Resolve(cli::SubmitOptions& opts, const cli::Payload& payload) {
  auto spec = cli::ResolveJob(opts, payload, Context());
  if (!spec.ok()) return Refused(spec.error(), "ResolveJob");
  Check(spec->user == "ada", "ResolveJob: user");
  Check(spec->env.count("KOJO_TOKEN") == 0, "ResolveJob: exported the token");
  RoundTrip(*spec, api::JobSpecFromJson, [](const api::JobSpec& s) { return api::ToJson(s); }, "submitted JobSpec");
}

void Script(std::string_view text) {
  auto directives = cli::ReadDirectives(text);
  if (!directives.ok()) return Refused(directives.error(), "ReadDirectives");
  cli::SubmitOptions opts;
  cli::SourceState state;
  int last_line = 0;
  for (const auto& d : *directives) {
    Check(d.line > last_line && !d.args.empty(), "ReadDirectives: lines");
    last_line = d.line;
    Check(d.origin != cli::Origin::kCommandLine, "ReadDirectives: origin");
    auto r = cli::ApplyOptions(d.args, d.origin, opts, state, fmt::format("job.sh:{}: ", d.line));
    if (!r.ok()) return Refused(r.error(), "ApplyOptions (directive)");
    Check(*r == d.args.size(), "ApplyOptions: a directive's arguments are all options");
  }
  cli::Payload payload;
  payload.script = std::string(text);
  payload.script_name = "job.sh";
  Resolve(opts, payload);
}

void CommandLine(std::string_view text) {
  std::vector<std::string> args;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    args.emplace_back(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  cli::SubmitOptions opts;
  cli::SourceState state;
  auto r = cli::ApplyOptions(args, cli::Origin::kCommandLine, opts, state);
  if (!r.ok()) return Refused(r.error(), "ApplyOptions (command line)");
  Check(*r <= args.size(), "ApplyOptions: index");
  cli::Payload payload;
  payload.command.assign(args.begin() + static_cast<std::ptrdiff_t>(*r), args.end());
  Resolve(opts, payload);
}

void Values(std::string_view text) {
  if (auto t = cli::ParseTimeLimit(text); !t.ok()) {
    Refused(t.error(), "ParseTimeLimit");
  } else if (*t) {
    const Seconds s = **t;
    Check(s >= 1 && s <= kMaxTimeLimit, "ParseTimeLimit: range");
    const std::string canonical = fmt::format("{}-{}:{}:{}", s / 86400, s % 86400 / 3600, s % 3600 / 60, s % 60);
    auto again = cli::ParseTimeLimit(canonical);
    Check(again.ok() && *again == *t, "ParseTimeLimit: D-H:M:S does not read back", canonical);
  }
  if (auto m = cli::ParseMemory(text); !m.ok()) {
    Refused(m.error(), "ParseMemory");
  } else {
    Check(*m >= 0 && *m <= kMaxMem, "ParseMemory: range");
    auto again = cli::ParseMemory(std::to_string(*m));
    Check(again.ok() && *again == *m, "ParseMemory: MiB do not read back");
  }
  if (auto g = cli::ParseGpuCount(text); !g.ok()) Refused(g.error(), "ParseGpuCount");
  else Check(g->count >= 0 && g->count <= 100000, "ParseGpuCount: range");
  if (auto g = cli::ParseGres(text); !g.ok()) Refused(g.error(), "ParseGres");
  else Check(g->count >= 0 && g->count <= 100000, "ParseGres: range");
  if (auto a = cli::SplitDirectiveArgs(text); !a.ok()) Refused(a.error(), "SplitDirectiveArgs");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto [which, rest] = Select(data, size, 3);
  switch (which) {
    case 0: Script(rest); break;
    case 1: CommandLine(rest); break;
    default: Values(rest); break;
  }
  return 0;
}
