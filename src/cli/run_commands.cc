#include "cli/run_commands.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "cli/client.h"
#include "cli/common.h"
#include "cli/job_commands.h"

namespace kojo::cli {

bool CopyJobOutput(ApiClient& client, JobId id, bool ended, OutputCursor& cur) {
  bool progress = false;
  for (int s = 0; s < 2; ++s) {
    if (cur.eof[s]) continue;
    HttpReply r = client.Get(fmt::format("/api/v1/jobs/{}/logs?stream={}&offset={}&limit=1048576", id,
                                         s == 0 ? "stdout" : "stderr", cur.offset[s]));
    if (r.status == 404) {
      if (ended) cur.eof[s] = true;
      continue;
    }
    if (r.status < 200 || r.status >= 300) client.Fail(r);
    if (!r.body.empty()) {
      std::fwrite(r.body.data(), 1, r.body.size(), s == 0 ? stdout : stderr);
      std::fflush(s == 0 ? stdout : stderr);
      progress = true;
    }
    const std::string next = r.Header("X-Kojo-Log-Offset");
    cur.offset[s] = next.empty() ? cur.offset[s] + static_cast<std::int64_t>(r.body.size()) : std::atoll(next.c_str());
    if (r.Header("X-Kojo-Log-Eof") == "1" && ended) cur.eof[s] = true;
  }
  return progress;
}

namespace {

using api::Json;
using namespace std::chrono_literals;

constexpr int kWaitMs = 20000;                // one long poll of the terminal's output
constexpr auto kReconnectFor = 30s;           // kojod unreachable this long: give up (the job runs on)

// ---- the local terminal ----

termios g_saved{};
std::atomic<bool> g_raw{false};
int g_wake[2] = {-1, -1};  // the main loop's wake-up: 'w' resize, 'e' output ended, 's' a signal
volatile sig_atomic_t g_signal = 0;

void RestoreTerminal() {
  if (g_raw.exchange(false)) tcsetattr(STDIN_FILENO, TCSADRAIN, &g_saved);
}

void Wake(char c) {
  if (g_wake[1] >= 0) {
    ssize_t ignored = write(g_wake[1], &c, 1);
    (void)ignored;
  }
}

void OnSignal(int sig) {
  g_signal = sig;
  Wake('s');
}
void OnWinch(int) { Wake('w'); }

void InstallHandlers() {
  if (pipe2(g_wake, O_CLOEXEC | O_NONBLOCK) != 0) throw CliError(kExitRuntime, fmt::format("pipe: {}", std::strerror(errno)));
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  for (int s : {SIGTERM, SIGHUP, SIGINT, SIGQUIT}) sigaction(s, &sa, nullptr);
  sa.sa_handler = OnWinch;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGWINCH, &sa, nullptr);
  std::atexit(RestoreTerminal);
}

void EnterRaw() {
  if (tcgetattr(STDIN_FILENO, &g_saved) != 0) return;
  termios raw = g_saved;
  cfmakeraw(&raw);
  if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0) g_raw = true;
}

void WriteOut(std::string_view s) {
  while (!s.empty()) {
    const ssize_t w = write(STDOUT_FILENO, s.data(), s.size());
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s.remove_prefix(static_cast<std::size_t>(w));
  }
}

// A line for the user on stderr, in raw mode too.
void Say(const std::string& line) {
  const std::string text = g_raw ? "\r\n" + line + "\r\n" : line + "\n";
  ssize_t ignored = write(STDERR_FILENO, text.data(), text.size());
  (void)ignored;
}

// ---- the job ----

api::JobView GetJob(ApiClient& client, JobId id) {
  auto v = api::JobViewFromJson(client.GetJson(fmt::format("/api/v1/jobs/{}", id)));
  if (!v.ok()) throw CliError(kExitRuntime, fmt::format("unexpected job in the controller's reply: {}", v.error().message));
  return std::move(*v);
}

// Waits until the job has started (or ended); says so when it waits.
api::JobView WaitForStart(ApiClient& client, JobId id, bool quiet) {
  const auto begun = std::chrono::steady_clock::now();
  bool said = false;
  for (;;) {
    api::JobView v = GetJob(client, id);
    if (api::IsTerminal(v.state) || v.state == api::JobState::kRunning || v.state == api::JobState::kStopping) {
      if (said) Say(fmt::format("kojo: job {} has started on {}", id, v.placement.empty() ? "?" : v.placement[0].node));
      return v;
    }
    if (!said && !quiet && std::chrono::steady_clock::now() - begun > 1s) {
      Say(fmt::format("kojo: job {} waits ({}); `kojo why {}` says why", id, v.reason, id));
      said = true;
    }
    if (g_signal != 0) return v;
    std::this_thread::sleep_for(std::chrono::milliseconds(v.state == api::JobState::kStarting ? 20 : 100));
  }
}

// The job's end as `kojo run`'s status; waits (briefly) for kojod to hear of it.
int FinalStatus(ApiClient& client, JobId id) {
  api::JobView v = GetJob(client, id);
  for (int i = 0; i < 300 && !api::IsTerminal(v.state); ++i) {
    std::this_thread::sleep_for(50ms);
    v = GetJob(client, id);
  }
  switch (v.state) {
    case api::JobState::kCompleted: return 0;
    case api::JobState::kCancelled: Say(fmt::format("kojo: job {} was cancelled", id)); break;
    case api::JobState::kTimeout: Say(fmt::format("kojo: job {}: its time limit was reached", id)); break;
    case api::JobState::kFailed:
      if (v.exit_code && v.reason != "LaunchFailed") return *v.exit_code;
      if (v.signal) return 128 + *v.signal;
      Say(fmt::format("kojo: job {} failed ({}){}{}", id, v.reason, v.message.empty() ? "" : ": ", v.message));
      return v.exit_code.value_or(1);
    default:
      Say(fmt::format("kojo: job {} has not ended ({}); `kojo attach {}` or `kojo logs -f {}` follows it", id,
                      api::ToString(v.state), id, id));
      return 1;
  }
  if (v.signal) return 128 + *v.signal;
  return v.exit_code && *v.exit_code != 0 ? *v.exit_code : 1;
}

// ---- the terminal relay ----

struct Relay {
  ServerConfig config;
  JobId id = 0;
  std::atomic<bool> ended{false};    // the terminal has ended (output read to its end)
  std::atomic<bool> lost{false};     // kojod could not be reached for kReconnectFor
  std::string error;                 // a refusal, for the user (set before `ended`)
};

// Copies the terminal's output to stdout until it ends.
void PumpOutput(Relay& r) {
  std::int64_t offset = 0;
  auto unreachable_since = std::optional<std::chrono::steady_clock::time_point>();
  std::unique_ptr<ApiClient> client;
  int not_there = 0;
  for (;;) {
    HttpReply reply;
    try {
      if (!client) client = std::make_unique<ApiClient>(r.config);
      reply = client->Get(fmt::format("/api/v1/jobs/{}/tty?offset={}&wait_ms={}", r.id, offset, kWaitMs));
      unreachable_since.reset();
    } catch (const CliError&) {
      client.reset();
      const auto now = std::chrono::steady_clock::now();
      if (!unreachable_since) unreachable_since = now;
      if (now - *unreachable_since > kReconnectFor) {
        r.lost = true;
        break;
      }
      std::this_thread::sleep_for(500ms);
      continue;
    }
    if (reply.status == 404) {
      // Not launched yet by its agent, or gone: the job's state tells.
      if (++not_there % 20 == 0) {
        try {
          if (api::IsTerminal(GetJob(*client, r.id).state)) break;
        } catch (const CliError&) {
        }
      }
      if (not_there > 600) {
        r.error = ApiClient::ErrorMessageOf(reply).value_or("no terminal");
        break;
      }
      std::this_thread::sleep_for(50ms);
      continue;
    }
    if (reply.status < 200 || reply.status >= 300) {
      r.error = ApiClient::ErrorMessageOf(reply).value_or(fmt::format("HTTP {}", reply.status));
      break;
    }
    not_there = 0;
    const std::string start = reply.Header("X-Kojo-Tty-Start");
    if (!start.empty() && std::atoll(start.c_str()) > offset && offset > 0)
      WriteOut("\r\n[kojo: some output was dropped]\r\n");
    WriteOut(reply.body);
    const std::string next = reply.Header("X-Kojo-Tty-Offset");
    offset = next.empty() ? offset + static_cast<std::int64_t>(reply.body.size()) : std::atoll(next.c_str());
    if (reply.Header("X-Kojo-Tty-Eof") == "1") break;
  }
  r.ended = true;
  Wake('e');
}

void SendResize(ApiClient& client, JobId id) {
  winsize ws{};
  if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0) return;
  client.Post(fmt::format("/api/v1/jobs/{}/tty/resize", id), Json{{"rows", ws.ws_row}, {"cols", ws.ws_col}}.dump());
}

}  // namespace

int RelayTerminal(const ServerConfig& config, JobId id, bool quiet) {
  if (!isatty(STDIN_FILENO))
    throw CliError(kExitUsage, "--pty: standard input is not a terminal (run it in one, or leave out --pty to "
                               "stream the job's output)");
  ApiClient client(config);
  api::JobView v = GetJob(client, id);
  if (!v.spec.pty)
    throw CliError(kExitUsage, fmt::format("job {} has no terminal: it was not started with `kojo run --pty` "
                                           "(`kojo logs -f {}` prints its output)",
                                           id, id));
  // Whether this caller may use the terminal at all (the submitter, a lead,
  // an operator, an admin), before waiting for it.
  if (HttpReply probe = client.Get(fmt::format("/api/v1/jobs/{}/tty?offset=0&wait_ms=0", id));
      probe.status == 401 || probe.status == 403)
    client.Fail(probe);
  InstallHandlers();
  v = WaitForStart(client, id, quiet);
  if (g_signal != 0) {
    Say(fmt::format("kojo: job {} keeps its place in the queue: `kojo attach {}` reaches it once it runs, `kojo cancel {}` "
                    "cancels it", id, id, id));
    return 128 + g_signal;
  }
  EnterRaw();
  Relay relay;
  relay.config = config;
  relay.id = id;
  try {
    SendResize(client, id);
  } catch (const CliError&) {
  }
  std::thread output([&relay] { PumpOutput(relay); });
  bool stdin_open = true;
  char buf[4096];
  while (!relay.ended) {
    pollfd fds[2] = {{g_wake[0], POLLIN, 0}, {stdin_open ? STDIN_FILENO : -1, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR) break;
    if (fds[0].revents) {
      char c[64];
      ssize_t n = 0;
      bool resize = false;
      while ((n = read(g_wake[0], c, sizeof c)) > 0)
        for (ssize_t i = 0; i < n; ++i) resize = resize || c[i] == 'w';
      if (g_signal != 0) break;
      if (resize) try {
          SendResize(client, id);
        } catch (const CliError&) {
        }
    }
    if (fds[1].revents) {
      const ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
      if (n <= 0) {
        stdin_open = false;  // this terminal is gone: the session runs on
        continue;
      }
      try {
        client.Post(fmt::format("/api/v1/jobs/{}/tty/input", id), std::string(buf, static_cast<std::size_t>(n)));
      } catch (const CliError&) {
        // kojod away: the output side notices and reconnects or gives up.
      }
    }
  }
  if (!relay.ended) {
    // Stopped by a signal: the session runs on; the output thread may be in
    // a long poll, so leave without waiting for it.
    const int sig = g_signal;
    RestoreTerminal();
    Say(fmt::format("kojo: detached from job {}; it keeps running: `kojo attach {}` reconnects, `kojo cancel {}` ends it",
                    id, id, id));
    std::fflush(stdout);
    _exit(128 + (sig != 0 ? sig : SIGTERM));
  }
  output.join();
  RestoreTerminal();
  if (relay.lost)
    throw CliError(kExitRuntime, fmt::format("lost the connection to the controller; job {} keeps running: `kojo attach {}` "
                                             "reconnects",
                                             id, id));
  if (!relay.error.empty()) throw CliError(kExitRuntime, fmt::format("job {}: {}", id, relay.error));
  return FinalStatus(client, id);
}

namespace {

// ---- kojo run without a terminal: the job's output as it comes ----

int StreamJob(const ServerConfig& config, JobId id, bool quiet) {
  ApiClient client(config);
  InstallHandlers();
  WaitForStart(client, id, quiet);
  OutputCursor cur;
  bool cancelled = false;
  int idle_after_end = 0;
  for (;;) {
    if (g_signal != 0 && !cancelled) {
      Say(fmt::format("kojo: cancelling job {}", id));
      client.Post(fmt::format("/api/v1/jobs/{}/cancel", id), "");
      cancelled = true;
    }
    const bool ended = api::IsTerminal(GetJob(client, id).state);
    const bool progress = CopyJobOutput(client, id, ended, cur);
    if (cur.Done()) break;
    if (ended && !progress && ++idle_after_end > 50) {
      Say(fmt::format("kojo: job {} ended; the rest of its output cannot be read", id));
      break;
    }
    if (!progress) std::this_thread::sleep_for(200ms);
  }
  return FinalStatus(client, id);
}

constexpr const char* kRunHelp =
    "Usage: kojo run [SUBMIT OPTIONS] [--pty] [--] COMMAND [ARGS...]\n"
    "Runs COMMAND as a job and waits for it: submits it (the options of `kojo submit`: --gpus, --time, --project,\n"
    "...; the caller's environment goes with it), waits for it to start, and exits with its status (128+N when\n"
    "signal N ended it).\n"
    "  (no --pty)  prints the job's output and errors as they come; Ctrl-C cancels the job\n"
    "  --pty       runs COMMAND in a terminal on its node, relayed to this one through the controller (raw\n"
    "              mode: every key, Ctrl-C and Ctrl-D too, goes to COMMAND; the window's size follows). A\n"
    "              session outlives its client: if this terminal goes, the job runs on until it ends or\n"
    "              reaches its time limit (a warning is printed in the terminal 5 minutes before, or a tenth\n"
    "              of the limit when shorter); `kojo attach JOB` reconnects.\n"
    "Example: kojo run --gpus 1 --time 2h --pty -- bash\n"
    "See docs/cli.md.\n";

constexpr const char* kAttachHelp =
    "Usage: kojo attach [--server URL] [--token TOKEN] JOB\n"
    "Reconnects this terminal to the terminal of job JOB (started with `kojo run --pty`), waiting for it to\n"
    "start if it has not; exits with the job's status when it ends. Only the job's submitter, its project's\n"
    "leads, operators and admins may attach. See docs/cli.md.\n";

int RunRun(std::vector<std::string> args) {
  bool pty = false;
  for (auto it = args.begin(); it != args.end() && *it != "--";) {
    if (*it == "--pty") {
      pty = true;
      it = args.erase(it);
    } else if (*it == "-h" || *it == "--help") {
      std::fputs(kRunHelp, stdout);
      return 0;
    } else {
      ++it;
    }
  }
  SubmitDialect dialect;
  dialect.command_only = true;
  dialect.default_export = "ALL";
  PreparedSubmit p = PrepareSubmit(args, dialect);
  if (p.help) {
    std::fputs(kRunHelp, stdout);
    return 0;
  }
  if (!p.spec.array.empty()) throw CliError(kExitUsage, "--array: `kojo run` runs one job (use `kojo submit` for arrays)");
  if (pty && p.spec.demand.tasks != 1)
    throw CliError(kExitUsage, "--pty: a terminal session runs one task (leave out -n/--ntasks)");
  if (pty && !isatty(STDIN_FILENO))
    throw CliError(kExitUsage, "--pty: standard input is not a terminal (run it in one, or leave out --pty to "
                               "stream the job's output)");
  p.spec.pty = pty;
  if (winsize ws{}; pty && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
    // The terminal starts with this one's size: no SIGWINCH as it starts,
    // which could cost a shell the keys typed ahead.
    p.spec.pty_rows = ws.ws_row;
    p.spec.pty_cols = ws.ws_col;
  }
  const ServerConfig config =
      ResolveServer(p.opts.server.value_or(""), p.opts.token.value_or(""), ProcessEnv());
  JobId id = 0;
  {
    ApiClient client(config);
    id = PostJob(client, p.spec).second.front();
  }
  return pty ? RelayTerminal(config, id, p.opts.quiet) : StreamJob(config, id, p.opts.quiet);
}

int RunAttach(const std::vector<std::string>& args) {
  std::string server, token, job;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const char* name) {
      if (i + 1 >= args.size()) throw CliError(kExitUsage, fmt::format("{}: expected a value", name));
      return args[++i];
    };
    if (a == "-h" || a == "--help") {
      std::fputs(kAttachHelp, stdout);
      return 0;
    } else if (a == "--server") server = value("--server");
    else if (a.rfind("--server=", 0) == 0) server = a.substr(9);
    else if (a == "--token") token = value("--token");
    else if (a.rfind("--token=", 0) == 0) token = a.substr(8);
    else if (!a.empty() && a[0] == '-') throw CliError(kExitUsage, fmt::format("attach: unknown option '{}' (see kojo attach --help)", a));
    else if (job.empty()) job = a;
    else throw CliError(kExitUsage, fmt::format("attach: one job, got '{}' and '{}'", job, a));
  }
  if (job.empty()) throw CliError(kExitUsage, "attach: JOB: required (see kojo attach --help)");
  JobId id = 0;
  if (job.size() > 18 || job.find_first_not_of("0123456789") != std::string::npos || (id = std::atoll(job.c_str())) < 1)
    throw CliError(kExitUsage, fmt::format("JOB: expected a job id (a positive integer), got '{}'", job));
  return RelayTerminal(ResolveServer(server, token, ProcessEnv()), id, false);
}

}  // namespace

bool MaybeRunTerminal(int argc, char** argv, int& rc) {
  if (argc < 2) return false;
  const std::string_view cmd = argv[1];
  if (cmd != "run" && cmd != "attach" && cmd != "notebook") return false;
  std::vector<std::string> args(argv + 2, argv + argc);
  rc = cmd == "run" ? RunRun(std::move(args)) : cmd == "notebook" ? RunNotebook(std::move(args)) : RunAttach(args);
  return true;
}

}  // namespace kojo::cli
