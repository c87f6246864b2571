#include "cli/job_commands.h"
#include "common/identity.h"

#include "common/files.h"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <cctype>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "cli/client.h"
#include "cli/common.h"
#include "cli/queue_rows.h"
#include "cli/sbatch.h"

extern char** environ;

namespace kojo::cli {

namespace {

using api::Json;

constexpr const char* kExitCodes =
    "Exit codes: 0 ok; 1 runtime failure (controller unreachable, server error, a state that does not allow "
    "the change); 2 usage or invalid input (bad options, a job the controller rejects); 3 no such job or "
    "node; 4 the controller refused the token.";

constexpr const char* kServerHelp =
    "The controller: --server/--token, else KOJO_SERVER/KOJO_TOKEN, else $XDG_CONFIG_HOME/kojo/config.json "
    "(~/.config/kojo/config.json) {\"server\": ..., \"token\": ...}, else the dev.json that `kojod --dev` "
    "writes there, else http://127.0.0.1:7100.";

std::string Dump(const Json& j) { return j.dump(2, ' ', false, Json::error_handler_t::replace); }

void PrintJson(const Json& j) {
  std::fputs(Dump(j).c_str(), stdout);
  std::fputc('\n', stdout);
}

// --server / --token / --json on every command.
struct Conn {
  std::string server, token;
  bool json = false;
  ServerConfig Config() const { return ResolveServer(server, token, ProcessEnv()); }
};

void AddConn(CLI::App* sub, Conn& c) {
  sub->add_option("--server", c.server, "Controller URL, e.g. http://127.0.0.1:7100");
  sub->add_option("--token", c.token, "Bearer token");
  sub->add_flag("--json", c.json, "Print JSON");
  sub->footer(std::string(kExitCodes) + "\n" + kServerHelp);
}

JobId ParseJobId(const std::string& s) {
  JobId v = 0;
  bool ok = !s.empty() && s.size() < 19;
  for (char c : s) {
    if (c < '0' || c > '9') {
      ok = false;
      break;
    }
    v = v * 10 + (c - '0');
  }
  if (!ok || v < 1) UsageError(fmt::format("{}: expected a job id (a positive integer)", s));
  return v;
}

// ---- formatting ----

std::string GpuText(const Demand& d) {
  if (d.gpus == 0) return "0";
  if (d.Fractional()) return fmt::format("{}", d.gpu_milli / 1000.0);
  return std::to_string(d.gpus);
}

std::string MemText(MiB mib) {
  if (mib == 0) return "-";
  if (mib % (1024 * 1024) == 0) return fmt::format("{}T", mib / (1024 * 1024));
  if (mib % 1024 == 0) return fmt::format("{}G", mib / 1024);
  if (mib >= 1024) return fmt::format("{:.1f}G", mib / 1024.0);
  return fmt::format("{}M", mib);
}

std::string CpuText(MilliCpu m) {
  if (m == 0) return "-";
  if (m % 1000 == 0) return std::to_string(m / 1000);
  return fmt::format("{}", m / 1000.0);
}

std::string Truncate(std::string s, size_t n) {
  if (s.size() > n) s = s.substr(0, n - 1) + "~";
  return s;
}

void PrintTable(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w(header.size());
  for (size_t i = 0; i < header.size(); ++i) w[i] = header[i].size();
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
  auto line = [&](const std::vector<std::string>& r) {
    std::string out;
    for (size_t i = 0; i < r.size(); ++i) {
      if (i + 1 == r.size()) out += r[i];
      else out += r[i] + std::string(w[i] - r[i].size() + 2, ' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    std::puts(out.c_str());
  };
  line(header);
  for (const auto& r : rows) line(r);
}

Seconds Now() { return static_cast<Seconds>(std::time(nullptr)); }

std::string Elapsed(const api::JobView& v) {
  if (!v.start_time) return "0:00";
  const Seconds end = v.end_time ? *v.end_time : Now();
  return Duration(end - *v.start_time);
}

std::string NodesOrReason(const api::JobView& v) {
  if (!v.placement.empty() && !api::IsTerminal(v.state)) {
    std::vector<std::string> nodes;
    for (const auto& p : v.placement)
      if (std::find(nodes.begin(), nodes.end(), p.node) == nodes.end()) nodes.push_back(p.node);
    return fmt::format("{}", fmt::join(nodes, ","));
  }
  if (api::IsTerminal(v.state)) {
    if (v.exit_code && *v.exit_code != 0) return fmt::format("(exit {})", *v.exit_code);
    if (v.signal) return fmt::format("(signal {})", *v.signal);
  }
  if (v.reason.empty()) return "";
  if (v.state == api::JobState::kPending && v.estimated_start && *v.estimated_start > Now())
    return fmt::format("({}, start by {})", v.reason, api::IsoTime(*v.estimated_start).substr(11, 5));
  return "(" + v.reason + ")";
}

api::JobView DecodeJob(const Json& j) {
  auto v = api::JobViewFromJson(j);
  if (!v.ok()) throw CliError(kExitRuntime, fmt::format("unexpected job in the controller's reply: {}", v.error().message));
  return std::move(*v);
}

api::NodeView DecodeNode(const Json& j) {
  auto v = api::NodeViewFromJson(j);
  if (!v.ok()) throw CliError(kExitRuntime, fmt::format("unexpected node in the controller's reply: {}", v.error().message));
  return std::move(*v);
}

// ---- submit ----

std::string ReadAll(std::istream& in) {
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A regular file holding text is a script; anything else is a command.
std::optional<std::string> ReadScript(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return std::nullopt;
  std::ifstream f(path, std::ios::binary);
  if (!f) throw CliError(kExitUsage, fmt::format("{}: cannot read the script", path));
  std::string text = ReadAll(f);
  if (text.size() > (1u << 20)) throw CliError(kExitUsage, fmt::format("{}: a script must be at most 1 MiB", path));
  if (text.substr(0, 8192).find('\0') != std::string::npos) return std::nullopt;  // a binary: run it
  return text;
}


}  // namespace

PreparedSubmit PrepareSubmit(const std::vector<std::string>& args, const SubmitDialect& dialect) {
  PreparedSubmit out;
  // First pass: the command line alone, to find the script or command.
  SubmitOptions first;
  SourceState s0;
  auto idx = ApplyOptions(args, Origin::kCommandLine, first, s0);
  if (!idx.ok()) UsageError(idx.error().message);
  if (first.help) {
    out.help = true;
    return out;
  }
  const std::vector<std::string> options(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(*idx));
  const std::vector<std::string> positional(args.begin() + static_cast<std::ptrdiff_t>(*idx), args.end());
  const bool dashdash = !options.empty() && options.back() == "--";

  Payload& payload = out.payload;
  if (!positional.empty()) {
    std::optional<std::string> script;
    if (!dashdash && !dialect.command_only) script = ReadScript(positional[0]);
    if (script) {
      payload.script = std::move(*script);
      payload.script_name = positional[0];
      payload.script_args.assign(positional.begin() + 1, positional.end());
      if (payload.script.empty()) UsageError(fmt::format("{}: the script is empty", positional[0]));
    } else {
      payload.command = positional;
    }
  } else if (!first.wrap && !dialect.command_only && isatty(STDIN_FILENO) == 0) {
    payload.script = ReadAll(std::cin);  // like sbatch, a script on standard input
    if (payload.script.empty()) UsageError("nothing to run: standard input is empty (see --help)");
  }

  // Second pass: directives, then the command line over them.
  SubmitOptions& opts = out.opts;
  if (!payload.script.empty() && payload.command.empty()) {
    const std::string name = payload.script_name.empty() ? "<stdin>" : payload.script_name;
    auto directives = ReadDirectives(payload.script);
    if (!directives.ok()) UsageError(fmt::format("{}: {}", name, directives.error().message));
    SourceState ds;
    for (const auto& d : *directives) {
      auto r = ApplyOptions(d.args, d.origin, opts, ds, fmt::format("{}:{}: ", name, d.line));
      if (!r.ok()) UsageError(r.error().message);
    }
  }
  SourceState cs;
  if (dialect.command_line == Origin::kCommandLine) {
    if (auto r = ApplyOptions(options, Origin::kCommandLine, opts, cs); !r.ok()) UsageError(r.error().message);
  } else {
    // sbatch's own command line: its short options (-p is --partition), and
    // no "--" among options read as a directive's.
    std::vector<std::string> own = options;
    if (dashdash) own.pop_back();
    if (auto r = ApplyOptions(own, dialect.command_line, opts, cs); !r.ok()) UsageError(r.error().message);
  }

  if (!opts.export_spec && dialect.default_export) opts.export_spec = dialect.default_export;
  if (!opts.output && dialect.slurm_output_default) opts.output = opts.array ? "slurm-%A_%a.out" : "slurm-%j.out";

  SubmitContext ctx;
  ctx.cwd = std::filesystem::current_path().string();
  ctx.user = LoginName();
  ctx.getenv = ProcessEnv();
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv = *e;
    const size_t eq = kv.find('=');
    if (eq != std::string_view::npos && eq > 0) ctx.environment.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  auto spec = ResolveJob(opts, payload, ctx);
  if (!opts.quiet)
    for (const auto& w : opts.warnings) std::fprintf(stderr, "%s: warning: %s\n", dialect.program.c_str(), w.c_str());
  if (!spec.ok()) UsageError(spec.error().message);
  out.spec = std::move(*spec);
  return out;
}

std::pair<api::Json, std::vector<JobId>> PostJob(ApiClient& client, const api::JobSpec& spec) {
  const Json body = api::ToJson(spec);
  // The key makes a retried request return the first answer, never two jobs.
  auto key = RandomHex();
  if (!key.ok()) throw CliError(kExitRuntime, key.error().message);
  const std::vector<std::pair<std::string, std::string>> headers = {{"Idempotency-Key", *key}};
  Json reply = client.PostJson("/api/v1/jobs", body.dump(), headers);
  std::vector<JobId> ids;
  if (reply.is_object() && reply.contains("ids") && reply["ids"].is_array())
    for (const auto& id : reply["ids"])
      if (id.is_number_integer()) ids.push_back(id.get<JobId>());
  if (ids.empty()) throw CliError(kExitRuntime, "the controller's reply holds no job id");
  return {std::move(reply), std::move(ids)};
}

namespace {

int RunSubmit(const std::vector<std::string>& args) {
  PreparedSubmit p = PrepareSubmit(args, SubmitDialect{});
  if (p.help) {
    std::fputs(SubmitHelp().c_str(), stdout);
    return 0;
  }
  const SubmitOptions& opts = p.opts;
  if (opts.dry_run) {
    PrintJson(api::ToJson(p.spec));
    return 0;
  }
  ApiClient client(ResolveServer(opts.server.value_or(""), opts.token.value_or(""), ProcessEnv()));
  auto [reply, ids] = PostJob(client, p.spec);
  if (opts.json) {
    PrintJson(reply);
  } else if (opts.parsable) {
    std::printf("%lld\n", static_cast<long long>(ids.front()));
  } else if (p.spec.array.empty()) {
    std::printf("Submitted job %lld\n", static_cast<long long>(ids.front()));
  } else {
    std::printf("Submitted array job %lld: %zu tasks, ids %lld-%lld\n", static_cast<long long>(ids.front()), ids.size(),
                static_cast<long long>(ids.front()), static_cast<long long>(ids.back()));
  }
  return 0;
}

// ---- queue / show ----

struct QueueArgs {
  Conn conn;
  std::string state, project, user;
  bool all = false;
  bool expand = false;  // one row per array task
};

void RunQueue(const QueueArgs& a) {
  std::string states = a.state;
  if (!states.empty()) {
    std::vector<std::string> norm;
    for (const auto& s : SplitList(states)) {
      auto st = api::ParseJobState(s);
      if (!st)
        UsageError(fmt::format("--state: expected PENDING, HELD, STARTING, RUNNING, STOPPING, COMPLETED, FAILED, "
                               "CANCELLED or TIMEOUT (comma-separated), got '{}'",
                               s));
      norm.emplace_back(api::ToString(*st));
    }
    states = fmt::format("{}", fmt::join(norm, ","));
  } else if (!a.all) {
    states = "PENDING,HELD,STARTING,RUNNING,STOPPING";
  }
  ApiClient client(a.conn.Config());
  Json all = Json::array();
  JobId after = 0;
  for (int page = 0; page < 100000; ++page) {
    std::string path = fmt::format("/api/v1/jobs?limit=1000&after={}", after);
    if (!states.empty()) path += "&state=" + UrlEscape(states);
    if (!a.project.empty()) path += "&project=" + UrlEscape(a.project);
    if (!a.user.empty()) path += "&user=" + UrlEscape(a.user);
    Json r = client.GetJson(path);
    if (!r.is_object() || !r.contains("jobs") || !r["jobs"].is_array())
      throw CliError(kExitRuntime, "unexpected reply to GET /api/v1/jobs: no \"jobs\" list");
    for (auto& j : r["jobs"]) all.push_back(std::move(j));
    if (!r.contains("next_after") || !r["next_after"].is_number_integer()) break;
    const JobId next = r["next_after"].get<JobId>();
    if (next <= after) break;
    after = next;
  }
  if (a.conn.json) {
    PrintJson(Json{{"jobs", std::move(all)}});
    return;
  }
  std::vector<api::JobView> views;
  views.reserve(all.size());
  for (const auto& j : all) views.push_back(DecodeJob(j));
  std::vector<QueueGroup> groups;
  if (a.expand)
    for (size_t i = 0; i < views.size(); ++i) groups.push_back(QueueGroup{i, 1});
  else
    groups = FoldArrayTasks(views, NodesOrReason);
  std::vector<std::vector<std::string>> rows;
  for (const QueueGroup& g : groups) {
    const api::JobView& v = views[g.first];
    std::string id = std::to_string(v.id);
    if (g.count > 1) {  // waiting tasks of one array: "<array>_[<indices>]"
      std::vector<int> indices;
      for (size_t k = g.first; k < g.first + g.count; ++k) indices.push_back(views[k].array_index.value_or(0));
      id = fmt::format("{}_[{}]", *v.array_id, IndexRanges(indices));
    } else if (v.array_id && v.array_index) {
      id += fmt::format(" ({}_{})", *v.array_id, *v.array_index);
    }
    rows.push_back({id, Truncate(v.spec.name, 24), v.spec.user, v.spec.project, std::string(api::ToString(v.state)),
                    GpuText(v.spec.demand), Elapsed(v), NodesOrReason(v)});
  }
  PrintTable({"ID", "NAME", "USER", "PROJECT", "STATE", "GPUS", "TIME", "NODES(REASON)"}, rows);
}

std::string Time(const std::optional<Seconds>& t) { return t ? api::IsoTime(*t) : "-"; }

void PrintJob(const api::JobView& v) {
  const auto& s = v.spec;
  std::printf("Job %lld  %s\n", static_cast<long long>(v.id), s.name.c_str());
  auto row = [](const char* k, const std::string& val) { std::printf("  %-12s %s\n", k, val.c_str()); };
  std::string state(api::ToString(v.state));
  if (!v.reason.empty()) state += " (" + v.reason + ")";
  row("state:", state);
  if (!v.message.empty()) row("message:", v.message);
  row("user:", s.user.empty() ? "-" : s.user);
  row("project:", s.project.empty() ? "default" : s.project);
  if (v.array_id) row("array:", fmt::format("{}_{} ({})", *v.array_id, v.array_index.value_or(0), s.array));
  if (!s.command.empty()) {
    std::string cmd;
    for (const auto& arg : s.command) {
      std::string shown;
      for (char c : arg) shown += c == '\n' ? std::string("\\n") : std::string(1, c);
      // POSIX shell quoting: '...' with each ' written as '\''.
      if (shown.empty() || shown.find_first_of(" \t'\"\\$`*?[]{}()<>|&;#~!") != std::string::npos) {
        std::string quoted = "'";
        for (char c : shown) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
        shown = quoted + "'";
      }
      cmd += (cmd.empty() ? "" : " ") + shown;
    }
    row("command:", Truncate(cmd, 200));
  } else {
    row("script:", fmt::format("{} bytes, first line: {}", s.script.size(), s.script.substr(0, s.script.find('\n'))));
  }
  if (!s.workdir.empty()) row("workdir:", s.workdir);
  const Demand& d = s.demand;
  std::string demand = d.gpus == 0 ? "no GPU" : d.Fractional() ? fmt::format("{}/1000 of a GPU", d.gpu_milli)
                                                               : fmt::format("{} GPU{}", d.gpus, d.gpus == 1 ? "" : "s");
  if (d.tasks > 1) demand += fmt::format(" in {} tasks of {}", d.tasks, d.gpus / d.tasks);
  if (!d.gpu_models.empty()) demand += fmt::format(" ({})", fmt::join(d.gpu_models, " or "));
  demand += fmt::format(", CPUs {}, memory {}", CpuText(d.cpu_milli), MemText(d.mem_mib));
  row("demand:", demand);
  if (!d.nodes.Empty()) row("where:", d.nodes.Describe());
  row("time limit:", (s.time_limit_s ? Duration(*s.time_limit_s) : "none") +
                         (s.extended_s > 0 ? " (extended by " + Duration(s.extended_s) + ")" : ""));
  if (s.idle_timeout_s) row("idle limit:", Duration(*s.idle_timeout_s) + " without input or GPU use");
  row("submitted:", api::IsoTime(v.submit_time));
  row("started:", Time(v.start_time));
  row("ended:", Time(v.end_time));
  if (v.start_time) row("elapsed:", Elapsed(v));
  if (v.exit_code) row("exit code:", std::to_string(*v.exit_code));
  if (v.signal) row("signal:", std::to_string(*v.signal));
  if (v.attempt > 0) row("attempt:", std::to_string(v.attempt));
  for (const auto& p : v.placement)
    row(fmt::format("rank {}:", p.rank).c_str(),
        fmt::format("{} GPUs [{}]", p.node, fmt::join(p.gpus, ",")));
  if (!s.stdout_path.empty()) row("stdout:", s.stdout_path);
  if (!s.stderr_path.empty()) row("stderr:", s.stderr_path);
  row("requeue:", s.requeue ? "yes" : "no");
}

struct ShowArgs {
  Conn conn;
  std::string job;
};

void RunShow(const ShowArgs& a) {
  const JobId id = ParseJobId(a.job);
  ApiClient client(a.conn.Config());
  Json j = client.GetJson(fmt::format("/api/v1/jobs/{}", id));
  if (a.conn.json) return PrintJson(j);
  PrintJob(DecodeJob(j));
}

// ---- why ----

std::string InWords(Seconds s) {
  if (s < 60) return fmt::format("{} s", s);
  if (s < 3600) return fmt::format("{} min", (s + 30) / 60);
  if (s < 48 * 3600) return fmt::format("{:.1f} h", static_cast<double>(s) / 3600);
  return fmt::format("{:.1f} days", static_cast<double>(s) / 86400);
}

void RunWhy(const ShowArgs& a) {
  const JobId id = ParseJobId(a.job);
  ApiClient client(a.conn.Config());
  Json j = client.GetJson(fmt::format("/api/v1/jobs/{}/why", id));
  if (a.conn.json) return PrintJson(j);
  auto w = api::JobWhyFromJson(j);
  if (!w.ok()) throw CliError(kExitRuntime, fmt::format("unexpected answer from the controller: {}", w.error().message));
  std::printf("Job %lld is %s: %s\n", static_cast<long long>(w->job), std::string(api::ToString(w->state)).c_str(),
              w->reason.c_str());
  if (!w->message.empty()) std::printf("  %s\n", w->message.c_str());
  if (w->state == api::JobState::kPending) {
    if (w->jobs_ahead > 0)
      std::printf("  ahead of it: %d job(s), %.1f GPU-hours by their time limits\n", w->jobs_ahead, w->gpu_hours_ahead);
    if (w->estimated_start) {
      const Seconds in = *w->estimated_start - Now();
      std::printf("  estimated start: %s (%s)\n", api::IsoTime(*w->estimated_start).c_str(),
                  in > 0 ? ("in " + InWords(in)).c_str() : "now");
    } else {
      std::printf("  estimated start: unknown\n");
    }
    if (!w->confidence_message.empty()) std::printf("  (%s)\n", w->confidence_message.c_str());
  }
}

// ---- cancel / hold / release ----

struct ActionArgs {
  Conn conn;
  std::vector<std::string> jobs;
};

int RunJobAction(const ActionArgs& a, const std::string& action) {
  std::vector<JobId> ids;
  for (const auto& s : a.jobs) ids.push_back(ParseJobId(s));
  ApiClient client(a.conn.Config());
  int rc = 0;
  Json out = Json::array();
  for (JobId id : ids) {
    try {
      Json j = client.PostJson(fmt::format("/api/v1/jobs/{}/{}", id, action), "");
      if (a.conn.json) {
        out.push_back(std::move(j));
        continue;
      }
      const api::JobView v = DecodeJob(j);
      std::printf("job %lld: %s\n", static_cast<long long>(id), std::string(api::ToString(v.state)).c_str());
    } catch (const CliError& e) {
      // An unreachable controller ends it all; a refusal is reported per job.
      if (e.exit_code() == kExitRuntime && std::string_view(e.what()).find("cannot reach") != std::string_view::npos) throw;
      std::fflush(stdout);
      const std::string what = e.what();
      const std::string prefix = fmt::format("job {}", id);
      if (what.find(prefix + " ") != std::string::npos || what.find(prefix + ":") != std::string::npos)
        std::fprintf(stderr, "kojo: error: %s\n", what.c_str());
      else
        std::fprintf(stderr, "kojo: error: %s: %s\n", prefix.c_str(), what.c_str());
      if (rc == 0) rc = e.exit_code();
    }
  }
  if (a.conn.json) PrintJson(out);
  return rc;
}

// ---- extend ----

struct ExtendArgs {
  Conn conn;
  std::string job;
  long long minutes = 0;
};

void RunExtend(const ExtendArgs& a) {
  const JobId id = ParseJobId(a.job);
  ApiClient client(a.conn.Config());
  Json j = client.PostJson(fmt::format("/api/v1/jobs/{}/extend", id), Json{{"minutes", a.minutes}}.dump());
  if (a.conn.json) return PrintJson(j);
  const api::JobView v = DecodeJob(j);
  const Seconds limit = v.spec.time_limit_s.value_or(0);
  std::printf("job %lld: time limit now %s (extended by %s in all)", static_cast<long long>(id), Duration(limit).c_str(),
              Duration(v.spec.extended_s).c_str());
  if (v.start_time) std::printf(", ends by %s", api::IsoTime(*v.start_time + limit).c_str());
  std::printf("\n");
}

// ---- logs ----

struct LogsArgs {
  Conn conn;
  std::string job;
  bool err = false, follow = false;
  int rank = 0;
  int attempt = 0;  // 0 = the current one
};

int RunLogs(const LogsArgs& a) {
  const JobId id = ParseJobId(a.job);
  const std::string stream = a.err ? "stderr" : "stdout";
  ApiClient client(a.conn.Config());
  constexpr std::int64_t kChunk = 1 << 20;
  std::int64_t offset = 0;
  const auto poll = std::chrono::milliseconds(300);
  while (true) {
    HttpReply r = client.Get(fmt::format("/api/v1/jobs/{}/logs?stream={}&offset={}&limit={}&rank={}{}", id, stream,
                                         offset, kChunk, a.rank,
                                         a.attempt > 0 ? fmt::format("&attempt={}", a.attempt) : std::string()));
    if (r.status == 404 && a.attempt > 0) client.Fail(r);  // the controller says which attempts have logs
    if (r.status == 404) {
      // No such job, not started yet, or placed and not yet launched by its
      // agent: tell them apart.
      const api::JobView v = DecodeJob(client.GetJson(fmt::format("/api/v1/jobs/{}", id)));
      if (api::IsTerminal(v.state) && (v.placement.empty() || v.reason == "LaunchFailed")) {
        std::fprintf(stderr, "kojo: job %lld ended (%s) without starting%s%s: no log\n", static_cast<long long>(id),
                     std::string(api::ToString(v.state)).c_str(), v.message.empty() ? "" : ": ",
                     v.message.c_str());
        return 0;
      }
      if (!api::IsTerminal(v.state)) {
        if (!a.follow)
          throw CliError(kExitRuntime, fmt::format("job {} has not started yet ({}): no log yet; `kojo logs -f {}` waits for it",
                                                   id, api::ToString(v.state), id));
        std::this_thread::sleep_for(poll);
        continue;
      }
      client.Fail(r);
    }
    if (r.status < 200 || r.status >= 300) client.Fail(r);
    std::int64_t next = offset + static_cast<std::int64_t>(r.body.size());
    if (std::string h = r.Header("X-Kojo-Log-Offset"); !h.empty()) {
      try {
        next = std::stoll(h);
      } catch (...) {
      }
    }
    bool eof = r.Header("X-Kojo-Log-Eof") == "1";
    if (eof && a.follow) {
      // Trust an end-of-file only from a job that has ended: an agent may
      // answer one for a task it is still launching.
      const api::JobView v = DecodeJob(client.GetJson(fmt::format("/api/v1/jobs/{}", id)));
      eof = api::IsTerminal(v.state);
    }
    if (a.conn.json) {
      if (!r.body.empty() || eof || !a.follow) {
        std::string line = Json{{"job", id}, {"stream", stream}, {"rank", a.rank}, {"attempt", a.attempt > 0 ? Json(a.attempt) : Json(nullptr)}, {"offset", offset},
                                {"next_offset", next}, {"eof", eof}, {"text", r.body}}
                               .dump(-1, ' ', false, Json::error_handler_t::replace);
        std::puts(line.c_str());
        std::fflush(stdout);
      }
    } else if (!r.body.empty()) {
      std::fwrite(r.body.data(), 1, r.body.size(), stdout);
      std::fflush(stdout);
    }
    offset = next;
    if (eof) return 0;
    if (static_cast<std::int64_t>(r.body.size()) >= kChunk) continue;  // more is there now
    if (!a.follow) return 0;
    std::this_thread::sleep_for(poll);
  }
}

// ---- nodes ----

struct NodesArgs {
  Conn conn;
  bool all = false;  // rented slots that are off too, one row each
};

void RunNodes(const NodesArgs& a) {
  ApiClient client(a.conn.Config());
  Json r = client.GetJson("/api/v1/nodes");
  if (a.conn.json) return PrintJson(r);
  if (!r.is_object() || !r.contains("nodes") || !r["nodes"].is_array())
    throw CliError(kExitRuntime, "unexpected reply to GET /api/v1/nodes: no \"nodes\" list");
  std::vector<std::vector<std::string>> rows;
  std::map<std::string, int> off;  // provider -> slots not rented now (without --all)
  for (const auto& j : r["nodes"]) {
    const api::NodeView n = DecodeNode(j);
    const bool rented = !n.provider.empty();
    if (rented && n.rent_state == "off" && !a.all) {
      off[n.provider] += 1;
      continue;
    }
    std::vector<std::string> models;
    for (const auto& g : n.info.gpus)
      if (std::find(models.begin(), models.end(), g.model) == models.end()) models.push_back(g.model);
    std::string model = models.empty() ? "-" : fmt::format("{}", fmt::join(models, ","));
    if (n.info.emulated_gpus && !n.info.gpus.empty()) model += " (emulated)";
    // A rented node: its phase while not up, and why it is in it.
    std::string state(api::ToString(n.state));
    std::string reason = n.reason;
    if (rented) {
      if (n.rent_state != "up") {
        state = n.rent_state;
        for (char& c : state) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      }
      reason = n.rent_reason + (n.reason.empty() || n.rent_state != "up" ? "" : "; " + n.reason);
    }
    rows.push_back({n.info.name, rented ? n.provider : "owned", state,
                    fmt::format("{}/{}", n.gpus_used, n.info.gpus.size()), model, CpuText(n.info.cpu_milli),
                    MemText(n.info.mem_mib), n.info.cgroups ? "yes" : "no", std::to_string(n.jobs.size()),
                    n.info.features.empty() ? "-" : fmt::format("{}", fmt::join(n.info.features, ",")), reason});
  }
  PrintTable({"NAME", "ORIGIN", "STATE", "GPUS", "MODEL", "CPUS", "MEM", "CGROUPS", "JOBS", "FEATURES", "REASON"},
             rows);
  for (const auto& [provider, count] : off)
    std::printf("%s: %d more node%s that may be rented, off now (kojo nodes --all lists them)\n", provider.c_str(),
                count, count == 1 ? "" : "s");
}

struct NodeActionArgs {
  Conn conn;
  std::string node, reason;
};

void RunNodeAction(const NodeActionArgs& a, const std::string& action) {
  ApiClient client(a.conn.Config());
  std::string body;
  if (action == "drain" && !a.reason.empty()) body = Json{{"reason", a.reason}}.dump();
  Json j = client.PostJson(fmt::format("/api/v1/nodes/{}/{}", UrlEscape(a.node), action), body);
  if (a.conn.json) return PrintJson(j);
  const api::NodeView n = DecodeNode(j);
  std::printf("node %s: %s%s\n", n.info.name.c_str(), std::string(api::ToString(n.state)).c_str(),
              n.reason.empty() ? "" : fmt::format(" ({})", n.reason).c_str());
}

void AddNodeAction(CLI::App& parent, const std::string& action, const std::string& help) {
  auto a = std::make_shared<NodeActionArgs>();
  CLI::App* sub = parent.add_subcommand(action, help);
  sub->add_option("NODE", a->node, "Node name")->required();
  if (action == "drain") sub->add_option("--reason", a->reason, "Why (shown in `kojo nodes`)");
  AddConn(sub, a->conn);
  sub->callback([a, action] { RunNodeAction(*a, action); });
}

}  // namespace

bool MaybeRunSubmit(int argc, char** argv, int& rc) {
  if (argc < 2 || std::string_view(argv[1]) != "submit") return false;
  std::vector<std::string> args(argv + 2, argv + argc);
  rc = RunSubmit(args);
  return true;
}

void AddJobCommands(CLI::App& app) {
  app.footer(std::string(kExitCodes) + "\n" + kServerHelp + "\nSee docs/cli.md.");

  // Listed for --help; `kojo submit` itself is parsed by MaybeRunSubmit.
  CLI::App* submit = app.add_subcommand("submit", "Submit a job: a command, or a script with #KOJO/#SBATCH lines "
                                                  "(see kojo submit --help)");
  submit->allow_extras();

  {
    auto a = std::make_shared<QueueArgs>();
    CLI::App* sub = app.add_subcommand("queue", "List jobs (by default the ones not ended)");
    sub->add_option("--state", a->state, "Only these states, comma-separated (e.g. PENDING,RUNNING)");
    sub->add_option("--project", a->project, "Only this project");
    sub->add_option("--user", a->user, "Only this user's jobs");
    sub->add_flag("--all,-a", a->all, "Ended jobs too");
    sub->add_flag("--expand,-r", a->expand,
                  "One row per array task (by default, adjacent tasks of an array that wait alike share one row, "
                  "e.g. 12_[0-99]; --json always lists every task)");
    AddConn(sub, a->conn);
    sub->callback([a] { RunQueue(*a); });
  }
  {
    auto a = std::make_shared<ShowArgs>();
    CLI::App* sub = app.add_subcommand("show", "Show one job in full");
    sub->add_option("JOB", a->job, "Job id")->required();
    AddConn(sub, a->conn);
    sub->callback([a] { RunShow(*a); });
  }
  {
    auto a = std::make_shared<ShowArgs>();
    CLI::App* sub = app.add_subcommand("why", "Why a job is not running, and when it may start");
    sub->add_option("JOB", a->job, "Job id")->required();
    AddConn(sub, a->conn);
    sub->callback([a] { RunWhy(*a); });
  }
  for (const auto& [action, help] : std::vector<std::pair<std::string, std::string>>{
           {"cancel", "Cancel jobs (a running job gets SIGTERM, then SIGKILL)"},
           {"hold", "Hold pending jobs: they are not scheduled until released"},
           {"release", "Release held jobs"}}) {
    auto a = std::make_shared<ActionArgs>();
    CLI::App* sub = app.add_subcommand(action, help);
    sub->add_option("JOB", a->jobs, "Job ids")->required();
    AddConn(sub, a->conn);
    const std::string act = action;
    sub->callback([a, act] {
      // Each failure was reported on its own line; the last line sums up.
      if (int rc = RunJobAction(*a, act); rc != 0)
        throw CliError(rc, fmt::format("{}: not every job could be changed", act));
    });
  }
  {
    auto a = std::make_shared<ExtendArgs>();
    CLI::App* sub = app.add_subcommand(
        "extend", "Add MINUTES to a job's time limit (pending or running; members within their project's "
                  "max_extend_s, operators and admins beyond it; partitions, reservations and the grant must allow it)");
    sub->add_option("JOB", a->job, "Job id")->required();
    sub->add_option("MINUTES", a->minutes, "Minutes to add")->required()->check(CLI::Range(1LL, 366LL * 24 * 60));
    AddConn(sub, a->conn);
    sub->callback([a] { RunExtend(*a); });
  }
  {
    auto a = std::make_shared<LogsArgs>();
    CLI::App* sub = app.add_subcommand("logs", "Print a job's output");
    sub->add_option("JOB", a->job, "Job id")->required();
    sub->add_flag("--stderr", a->err, "The standard error stream instead of standard output");
    sub->add_flag("-f,--follow", a->follow, "Keep printing until the job ends (waits for a pending job to start)");
    sub->add_option("--rank", a->rank, "The task of a gang job (0-based)")->check(CLI::Range(0, 100000));
    sub->add_option("--attempt", a->attempt, "An earlier attempt of a requeued job (1 = the first run; default the current one)")
        ->check(CLI::Range(1, 1000000));
    AddConn(sub, a->conn);
    sub->callback([a] { RunLogs(*a); });
  }
  {
    auto a = std::make_shared<NodesArgs>();
    CLI::App* sub = app.add_subcommand("nodes", "List nodes: origin (owned or a provider), state, GPUs used/total, "
                                                "model, cgroups");
    sub->add_flag("--all", a->all, "Rented nodes that are off too (else counted on one line per provider)");
    AddConn(sub, a->conn);
    sub->callback([a, sub] {
      if (sub->get_subcommands().empty()) RunNodes(*a);
    });
    AddNodeAction(*sub, "drain", "Drain a node: no new jobs; running ones finish");
    AddNodeAction(*sub, "resume", "Make a drained node schedulable again");
  }
  AddNodeAction(app, "drain", "Drain a node (same as `kojo nodes drain`)");
  AddNodeAction(app, "resume", "Resume a node (same as `kojo nodes resume`)");
}

}  // namespace kojo::cli
