// `kojo notebook [SUBMIT OPTIONS] [-- EXTRA JUPYTER ARGS]`: a Jupyter
// server as a job, reached through kojod (docs/api.md, "Notebook
// sessions"). Submits the job with "notebook": true (kojod makes the
// session's secret, the agent gives the task a loopback port), waits for it
// to run, then for Jupyter to answer through kojod's proxy, and prints the
// URL with the session's token. The session runs on until its time limit
// or `kojo cancel`.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "api/codec.h"
#include "cli/client.h"
#include "cli/common.h"
#include "cli/job_commands.h"
#include "cli/run_commands.h"

namespace kojo::cli {

namespace {

using namespace std::chrono_literals;

constexpr const char* kNotebookHelp =
    "Usage: kojo notebook [SUBMIT OPTIONS] [-- EXTRA JUPYTER ARGS...]\n"
    "Starts a Jupyter server (jupyter-notebook, which must be installed on the nodes) as a job and waits until\n"
    "it answers through kojod; then prints its URL, http(s)://<kojod>/sessions/JOB/?token=SECRET, and exits 0.\n"
    "The server listens on the node's loopback only: a browser reaches it through kojod alone, with the\n"
    "session's secret (the URL's token, kept in a cookie after the first visit) or a kojo token of a user\n"
    "who may act on the job. The session runs until its time limit or `kojo cancel JOB`.\n"
    "SUBMIT OPTIONS: those of kojo submit (--gpus N, --time T, --mem, --cpus-per-task, -p, -J, --chdir, ...);\n"
    "              one task; the caller's environment goes with it (as kojo run).\n"
    "  --wait SEC  how long to wait for the server to answer once the job runs (default 120)\n"
    "EXTRA JUPYTER ARGS: added to jupyter-notebook's command line (e.g. --notebook-dir=/data).\n"
    "Exit status: 0 with the URL printed; 1 when the job ends or the server does not answer in time (the\n"
    "job's state and the end of its log are shown; a job still running is left to run); 2 for bad options;\n"
    "4 when kojod refuses the token or the session's secret. Where tasks run as root, --allow-root is added.\n"
    "Example: kojo notebook --gpus 1 --time 4h\n"
    "See docs/cli.md.\n";

// The server's command: its port and base URL come from the agent
// (KOJO_SESSION_PORT, KOJO_SESSION_BASE), its token from JUPYTER_TOKEN.
// Where tasks run as root (containers), Jupyter needs --allow-root.
constexpr const char* kServerScript =
    "if [ \"$(id -u)\" = 0 ]; then set -- --allow-root \"$@\"; fi; exec jupyter-notebook --no-browser --ip=127.0.0.1 --port=\"$KOJO_SESSION_PORT\" --port-retries=0 "
    "--NotebookApp.base_url=\"$KOJO_SESSION_BASE\" --NotebookApp.allow_remote_access=True \"$@\"";

api::JobView GetJob(ApiClient& client, JobId id) {
  auto v = api::JobViewFromJson(client.GetJson(fmt::format("/api/v1/jobs/{}", id)));
  if (!v.ok()) throw CliError(kExitRuntime, fmt::format("unexpected job in the controller's reply: {}", v.error().message));
  return std::move(*v);
}

// The last lines of the job's log (Jupyter writes to its standard error).
std::string LogTail(ApiClient& client, JobId id) {
  std::string out;
  for (const char* stream : {"stderr", "stdout"}) {
    HttpReply r = client.Get(fmt::format("/api/v1/jobs/{}/logs?stream={}", id, stream));
    if (r.status != 200 || r.body.empty()) continue;
    std::string tail = r.body.size() > 2000 ? r.body.substr(r.body.size() - 2000) : r.body;
    out += fmt::format("--- the end of its {} ---\n{}{}", stream, tail, tail.back() == '\n' ? "" : "\n");
  }
  return out.empty() ? "(its log is empty)\n" : out;
}

[[noreturn]] void Failed(ApiClient& client, JobId id, const std::string& why) {
  throw CliError(kExitRuntime, fmt::format("{}\n{}", why, LogTail(client, id)));
}

}  // namespace

int RunNotebook(std::vector<std::string> args) {
  std::vector<std::string> options, extra;
  int wait_s = 120;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      extra.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (a == "-h" || a == "--help") {
      std::fputs(kNotebookHelp, stdout);
      return 0;
    }
    if (a == "--wait" || a.rfind("--wait=", 0) == 0) {
      std::string v = a == "--wait" ? (i + 1 < args.size() ? args[++i] : "") : a.substr(7);
      if (v.empty() || v.size() > 6 || v.find_first_not_of("0123456789") != std::string::npos || std::stoi(v) < 1)
        UsageError(fmt::format("--wait: expected a number of seconds (1..999999), got '{}'", v));
      wait_s = std::stoi(v);
      continue;
    }
    options.push_back(a);
  }
  options.insert(options.end(), {"--", "sh", "-c", kServerScript, "kojo-notebook"});
  options.insert(options.end(), extra.begin(), extra.end());
  SubmitDialect dialect;
  dialect.command_only = true;
  dialect.default_export = "ALL";
  PreparedSubmit p = PrepareSubmit(options, dialect);
  if (p.help) {
    std::fputs(kNotebookHelp, stdout);
    return 0;
  }
  if (!p.spec.array.empty()) UsageError("--array: a notebook session is one job");
  if (p.spec.demand.tasks != 1) UsageError("-n/--ntasks: a notebook session runs one task");
  p.spec.notebook = true;
  if (p.spec.name.empty()) p.spec.name = "notebook";
  const ServerConfig config = ResolveServer(p.opts.server.value_or(""), p.opts.token.value_or(""), ProcessEnv());
  ApiClient client(config);
  const JobId id = PostJob(client, p.spec).second.front();
  if (!p.opts.quiet) std::fprintf(stderr, "kojo: notebook session %lld submitted\n", static_cast<long long>(id));

  // Running, and its secret (shown to those who may act on the job).
  std::string secret;
  bool said = false;
  const auto begun = std::chrono::steady_clock::now();
  for (;;) {
    const api::Json j = client.GetJson(fmt::format("/api/v1/jobs/{}", id));
    auto v = api::JobViewFromJson(j);
    if (!v.ok()) throw CliError(kExitRuntime, fmt::format("unexpected job in the controller's reply: {}", v.error().message));
    if (api::IsTerminal(v->state) || v->state == api::JobState::kStopping)
      Failed(client, id, fmt::format("job {} ended before its notebook server answered ({}{}{})", id,
                                     api::ToString(v->state), v->reason.empty() ? "" : ": ", v->reason));
    if (v->state == api::JobState::kRunning) {
      if (j.contains("session") && j["session"].is_object()) secret = j["session"].value("secret", "");
      if (secret.empty())
        throw CliError(kExitRuntime, fmt::format("kojod gave no session secret for job {} (a kojod older than "
                                                 "`kojo notebook`?); cancel it with `kojo cancel {}`", id, id));
      break;
    }
    if (!said && !p.opts.quiet && std::chrono::steady_clock::now() - begun > 1s) {
      std::fprintf(stderr, "kojo: job %lld waits (%s); `kojo why %lld` says why\n", static_cast<long long>(id),
                   v->reason.c_str(), static_cast<long long>(id));
      said = true;
    }
    std::this_thread::sleep_for(v->state == api::JobState::kStarting ? 20ms : 100ms);
  }

  // Jupyter answers through kojod.
  const std::string status_path = fmt::format("/sessions/{}/api/status", id);
  const std::vector<std::pair<std::string, std::string>> cookie = {
      {"Cookie", fmt::format("kojo_session_{}={}", id, secret)}};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_s);
  int last_status = 0;
  for (int round = 0;; ++round) {
    HttpReply r = client.Get(status_path, cookie);
    last_status = r.status;
    if (r.status == 200) break;
    if (r.status == 401 || r.status == 403)
      throw CliError(kExitAuth, fmt::format("kojod refused the session's secret for job {} (HTTP {})", id, r.status));
    if (round % 10 == 9) {
      api::JobView v = GetJob(client, id);
      if (v.state != api::JobState::kRunning)
        Failed(client, id, fmt::format("job {} ended before its notebook server answered ({}{}{})", id,
                                       api::ToString(v.state), v.reason.empty() ? "" : ": ", v.reason));
    }
    if (std::chrono::steady_clock::now() >= deadline)
      Failed(client, id, fmt::format("job {} runs, but its notebook server did not answer within {} s (last "
                                     "HTTP {} from {}); it is left running: `kojo cancel {}` ends it",
                                     id, wait_s, last_status, status_path, id));
    std::this_thread::sleep_for(100ms);
  }
  std::string base = config.url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::printf("%s/sessions/%lld/?token=%s\n", base.c_str(), static_cast<long long>(id), secret.c_str());
  if (!p.opts.quiet)
    std::fprintf(stderr, "kojo: the session runs until its time limit or `kojo cancel %lld`\n", static_cast<long long>(id));
  return 0;
}

}  // namespace kojo::cli
