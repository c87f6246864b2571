// kojod: the kojo controller. Serves the REST API, schedules, keeps its
// state in DATA/kojo.db (SQLite). With --dev it also runs one kojo-agent on
// this machine and writes the address and token where the kojo CLI finds
// them, so that `kojod --dev` is all a newcomer needs to start.
//
// Foreground, logs to stderr, stops cleanly on SIGINT/SIGTERM.
#include <malloc.h>
#include <pwd.h>
#include <sys/resource.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "api/org_config.h"
#include "common/identity.h"
#include "controller/auth.h"
#include "controller/bootstrap.h"
#include "controller/controller.h"
#include "common/files.h"
#include "controller/daemon.h"
#include "controller/http_server.h"
#include "sched/placer.h"
#include "sched/policy.h"
#include "store/store.h"

namespace {

template <typename... Args>
void Log(fmt::format_string<Args...> f, Args&&... args) {
  std::fprintf(stderr, "kojod: %s\n", fmt::format(f, std::forward<Args>(args)...).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kojo;
  using namespace kojo::controller;
  // Grow the heap in steps of 16 MiB: an array of thousands of jobs would
  // otherwise extend it (one mprotect or brk each) a hundred times.
  mallopt(M_TOP_PAD, 16 << 20);

  CLI::App app{"kojod: the kojo controller (REST API, scheduler, durable state).\n"
               "  kojod --dev            controller and one agent on this machine, for trying kojo\n"
               "  kojod --data-dir DIR   the controller alone; agents register with it"};
  app.set_version_flag("--version", "kojod 0.1.0");
  bool dev = false, backfill = true;
  std::string data_dir, listen = "127.0.0.1:7100", policy = "fifo", placer = "bestfit", token, gpus = "8xH100-80GB";
  double node_timeout_s = 30, lease_s = 300;
  int gather_ms = 20;
  Seconds kill_grace = 10;
  int http_threads = 1024;
  std::size_t max_body = 4 << 20;
  double header_timeout_s = 10;
  std::string org_file;
  Seconds default_time_limit = 24 * 3600, usage_half_life = 7 * 24 * 3600, keep_ended = 30 * 24 * 3600;
  std::uint64_t seed = 1;
  app.add_flag("--dev", dev, "Run a controller and one kojo-agent on this machine (real GPUs if NVML finds any, "
                             "else emulated --gpus); write the address and token to " + DevConfigPath());
  app.add_option("--data-dir", data_dir,
                 "Folder of the state (kojo.db), the address file (kojod.addr) and, with --dev, the agent's "
                 "state (agent/). Default: " + DefaultDataDir("controller") + ", with --dev " + DefaultDataDir("dev"));
  app.add_option("--listen", listen, "HOST:PORT of the API; port 0 picks a free port")->capture_default_str();
  app.add_option("--policy", policy, "Queue policy: " + fmt::format("{}", fmt::join(PolicyNames(), ", ")))->capture_default_str();
  app.add_option("--placer", placer, "Placer: " + fmt::format("{}", fmt::join(PlacerNames(), ", ")))->capture_default_str();
  app.add_flag("--backfill,!--no-backfill", backfill, "EASY backfill (default on)");
  app.add_option("--node-timeout", node_timeout_s, "Seconds without a heartbeat before a node goes DOWN")
      ->check(CLI::Range(0.2, 86400.0))
      ->capture_default_str();
  app.add_option("--lease", lease_s,
                 "Seconds an agent's tasks run on without word from kojod; past them its agent stops them and "
                 "kojod requeues (or fails) their jobs: a node cut off for less keeps its jobs and none runs on "
                 "two nodes at once. 0: no lease (a DOWN node's jobs are requeued at once; its tasks run on)")
      ->check(CLI::Range(0.0, 7 * 86400.0))
      ->capture_default_str();
  app.add_option("--gather-ms", gather_ms,
                 "Runs ending within this many ms of each other are scheduled in one pass (0: a pass per end)")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  std::string admin_token_file, tls_cert, tls_key;
  app.add_option("--token", token,
                 "A shared admin token that clients and agents may send (kept for compatibility; prefer "
                 "--admin-token-file and per-user tokens)");
  app.add_option("--admin-token-file", admin_token_file,
                 "On first start, create the user admin and an admin token and write it (mode 0600) to this file; "
                 "later starts keep it while it is valid");
  app.add_option("--tls-cert", tls_cert, "PEM certificate (chain): serve HTTPS instead of HTTP (needs --tls-key)");
  app.add_option("--tls-key", tls_key, "PEM private key of --tls-cert");
  app.add_option("--gpus", gpus, "With --dev and no NVML: the emulated GPUs, e.g. 8xH100-80GB")->capture_default_str();
  app.add_option("--kill-grace", kill_grace, "Seconds between SIGTERM and SIGKILL when a job is stopped")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
  app.add_option("--http-threads", http_threads,
                 "Most connections served at once: a thread each, started on demand and ended when idle (each "
                 "keep-alive connection or long poll holds one; more wait in the listen backlog)")
      ->check(CLI::Range(4, 16384))
      ->capture_default_str();
  app.add_option("--max-body", max_body, "Largest request body in bytes, with a Content-Length or chunked (413 beyond)")
      ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 30))
      ->capture_default_str();
  app.add_option("--header-timeout", header_timeout_s,
                 "Seconds a client has to send a request's line and headers (408 and the connection closed after)")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--org", org_file,
                 "Apply this organisation document (docs/org-config.md) at start, like `kojo admin apply -f FILE`");
  app.add_option("--default-time-limit", default_time_limit,
                 "Seconds: the time limit of metered jobs submitted without one (their grant reservation)")
      ->check(CLI::Range(Seconds{1}, Seconds{10} * 365 * 24 * 3600))
      ->capture_default_str();
  app.add_option("--keep-ended", keep_ended,
                 "Seconds: ended jobs (not array tasks) are forgotten this long after they end, with the idempotency "
                 "keys of the jobs forgotten; usage records are kept. 0: keep them for ever")
      ->check(CLI::Range(Seconds{0}, Seconds{100LL * 365 * 24 * 3600}))
      ->capture_default_str();
  app.add_option("--usage-half-life", usage_half_life, "Seconds: half-life of the usage fair share counts")
      ->check(CLI::Range(Seconds{60}, Seconds{10} * 365 * 24 * 3600))
      ->capture_default_str();
  app.add_option("--seed", seed, "Seed of the scheduler's random choices (the placer's), as `kojo sim --seed`")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto address = ParseListen(listen);
  if (!address.ok()) {
    Log("{}", address.error().message);
    return 2;
  }
  if (data_dir.empty()) data_dir = DefaultDataDir(dev ? "dev" : "controller");
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    Log("--data-dir {}: cannot create: {}", data_dir, ec.message());
    return 1;
  }
  data_dir = std::filesystem::absolute(data_dir).string();
  if (tls_cert.empty() != tls_key.empty()) {
    Log("--tls-cert and --tls-key: give both or neither");
    return 2;
  }
  if (dev && !tls_cert.empty()) {
    Log("--dev with --tls-cert: the dev agent talks to kojod over plain HTTP on this machine; drop --tls-cert");
    return 2;
  }

  // Signals go to a sigwait thread; every other thread has them blocked.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Each connection holds a descriptor: allow as many as the hard limit
  // (the soft one is often 1024, below --http-threads' default).
  if (rlimit files{}; getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }

  auto store = store::OpenSqliteStore(data_dir + "/kojo.db");
  if (!store.ok()) {
    Log("{}", store.error().message);
    return 1;
  }
  ControllerConfig cc;
  cc.policy = policy;
  cc.placer = placer;
  cc.backfill = backfill;
  cc.node_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(node_timeout_s * 1000));
  cc.gather = std::chrono::milliseconds(gather_ms);
  cc.lease = std::chrono::milliseconds(static_cast<std::int64_t>(lease_s * 1000));
  if (cc.lease.count() > 0 && cc.lease < cc.node_timeout) {
    Log("--lease {} s is shorter than --node-timeout {} s: using {} s (an agent would stop its tasks before its node "
        "is seen DOWN)", lease_s, node_timeout_s, node_timeout_s);
    cc.lease = cc.node_timeout;
  }
  cc.kill_grace_s = kill_grace;
  cc.default_time_limit_s = default_time_limit;
  cc.usage_half_life_s = usage_half_life;
  cc.keep_ended_s = keep_ended;
  cc.seed = seed;
  const auto load_start = std::chrono::steady_clock::now();
  auto controller = Controller::Open(**store, cc);
  if (!controller.ok()) {
    Log("{}", controller.error().message);
    return 1;
  }
  Log("state: {}/kojo.db, {} jobs loaded in {} ms; policy {}, placer {}, backfill {}, node timeout {} s", data_dir,
      (*controller)->JobCount(),
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - load_start).count(),
      policy, placer, backfill ? "on" : "off", node_timeout_s);
  Log("lease on agents' tasks: {}", cc.lease.count() ? fmt::format("{} s", cc.lease.count() / 1000.0) : "none");

  if (!org_file.empty()) {
    std::ifstream in(org_file);
    if (!in) {
      Log("--org {}: cannot read: {}", org_file, std::strerror(errno));
      return 1;
    }
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto applied = (*controller)->ApplyOrg(text);
    if (!applied.ok()) {
      Log("--org {}: {}", org_file, applied.error().message);
      return 1;
    }
    Log("organisation from {}: {} projects, {} grants", org_file, applied.value().projects.size(),
        applied.value().grants.size());
  }
  if (dev) {
    if (auto s = (*controller)->EnsureDevDefaults(LoginName(), (*controller)->config().clock->Wall()); !s.ok()) {
      Log("cannot create the --dev project: {}", s.error().message);
      return 1;
    }
  }
  Controller* ctl = controller->get();
  TokenStore tokens([ctl](std::vector<store::DocRow> docs) { return ctl->WriteDocs(std::move(docs)); },
                    [ctl] { return ctl->config().clock->Wall(); });
  {
    std::vector<store::DocRow> docs = ctl->LoadedDocs("user");
    for (auto& d : ctl->LoadedDocs("token")) docs.push_back(std::move(d));
    if (auto s = tokens.Load(docs); !s.ok()) {
      Log("{}", s.error().message);
      return 1;
    }
  }
  // Project roles come from the organisation model's members.
  class RegistryMemberships final : public Memberships {
   public:
    explicit RegistryMemberships(const OrgRegistry& org) : org_(org) {}
    std::optional<ProjectRole> RoleIn(std::string_view project, std::string_view user) const override {
      return org_.RoleIn(project, user);
    }
    std::vector<std::string> ProjectsOf(std::string_view user) const override { return org_.ProjectsOf(user); }

   private:
    const OrgRegistry& org_;
  } memberships(ctl->org());
  Authoriser auth(tokens, memberships, token);
  std::string dev_token, agent_token = token;
  if (!admin_token_file.empty()) {
    auto made = EnsureAdminTokenFile(tokens, admin_token_file);
    if (!made.ok()) {
      Log("--admin-token-file: {}", made.error().message);
      return 1;
    }
    Log("{}", *made);  // what was done, never the secret
  }
  if (dev) {
    auto made = MakeDevTokens(tokens, LoginName(), HostName());
    if (!made.ok()) {
      Log("--dev: {}", made.error().message);
      return 1;
    }
    dev_token = made->user_secret;
    agent_token = made->node_secret;
  }
  if (auth.open() && address->first != "127.0.0.1" && address->first != "localhost" && address->first != "::1")
    Log("warning: listening on {} with no token configured: anyone who can reach it is an admin", address->first);
  if (auth.open()) Log("authentication: off (no user, token or --token yet); see --admin-token-file");

  HttpConfig hc;
  hc.host = address->first;
  hc.port = address->second;
  hc.threads = http_threads;
  hc.max_body = max_body;
  hc.header_timeout_ms = static_cast<int>(header_timeout_s * 1000);
  hc.tls_cert = tls_cert;
  hc.tls_key = tls_key;
  HttpServer http(**controller, hc, tokens, auth);
  if (!http.valid()) {
    Log("--tls-cert {} / --tls-key {}: cannot load the certificate or key (PEM files expected)", tls_cert, tls_key);
    return 1;
  }
  auto port = http.Bind();
  if (!port.ok()) {
    Log("{}", port.error().message);
    return 1;
  }
  const std::string host = hc.host.find(':') != std::string::npos ? "[" + hc.host + "]" : hc.host;
  const std::string url = fmt::format("{}://{}:{}", tls_cert.empty() ? "http" : "https", host, *port);
  if (auto s = WriteFileAtomic(data_dir + "/kojod.addr", url + "\n"); !s.ok()) Log("{}", s.error().message);
  std::thread server([&] { http.Run(); });
  Log("API at {}/api/v1", url);
  // Renting partner capacity (docs/renting.md): a rented node's agent gets a
  // node token made for that rent (none while the API is open), revoked
  // once the node is given back.
  {
    RentRuntime rent;
    rent.controller_url = url;
    rent.make_token = [&tokens, &auth](const std::string& node) -> Result<std::string> {
      if (auth.open()) return std::string();
      TokenRequest req;
      req.name = "rent-" + node;
      req.node = node;
      req.replace = true;
      auto made = tokens.CreateToken(req);
      if (!made.ok()) return Error{ErrorCode::kIo, made.error().message};
      return made.value().secret;
    };
    rent.revoke_token = [&tokens](const std::string& node) { (void)tokens.Revoke("rent-" + node); };
    ctl->EnableRenting(std::move(rent));
  }

  pid_t agent = -1;
  if (dev) {
    const std::string config = DevConfigPath();
    const std::string doc = fmt::format("{{\"server\": \"{}\", \"token\": \"{}\"}}\n", url, dev_token);
    std::filesystem::create_directories(std::filesystem::path(config).parent_path(), ec);
    if (auto s = WriteFileAtomic(config, doc, {.mode = 0600}); !s.ok()) Log("{}", s.error().message);
    std::vector<std::string> args = {SiblingBinary("kojo-agent"), "--server", url, "--name", HostName(),
                                     "--state-dir", data_dir + "/agent", "--listen", "127.0.0.1:0"};
    const bool nvml = NvmlPresent();
    if (!nvml) {
      args.push_back("--emulate-gpus");
      args.push_back(gpus);
    }
    auto pid = SpawnChild(args, agent_token);
    if (!pid.ok()) Log("cannot start the agent: {}", pid.error().message);
    else agent = *pid;
    std::fprintf(stderr,
                 "\nkojo is running on this machine (%s).\n"
                 "  API:    %s/api/v1   (address and token saved in %s)\n"
                 "  data:   %s\n"
                 "  try:    kojo submit --gpus 1 -- nvidia-smi\n"
                 "          kojo queue\n"
                 "          kojo logs <job id>\n"
                 "          kojo why <job id>      (why it waits, and when it should start)\n"
                 "          kojo grants            (project default, with a grant, and you as its lead)\n"
                 "  stop:   Ctrl-C\n\n",
                 nvml ? "real GPUs from NVML" : fmt::format("emulated GPUs: {}", gpus).c_str(), url.c_str(),
                 config.c_str(), data_dir.c_str());
  }

  // Between signals, give the heap's free pages back to the kernel. A
  // listing of 10,000 jobs (5.4 MB of JSON) is built from ~37 MB of small
  // allocations in the malloc arena of the HTTP thread that serves it (glibc
  // makes up to 8 arenas per core); once freed, they stay resident behind
  // the longer-lived chunks of that arena (glibc gives back only the top of
  // a heap), so RSS grew by hundreds of MB under load and stayed there.
  // malloc_trim(0) releases the free pages of every arena (2-3 ms when there
  // is nothing to release). It runs after 5 s in which kojod was mostly idle
  // (pages given back under load are faulted in again at once), and at
  // least once a minute (docs/results.md, "kojod's memory").
  auto cpu_now = [] {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec);
  };
  int sig = 0;
  const timespec tick{5, 0};
  auto cpu_before = cpu_now();
  int ticks_untrimmed = 0;
  while ((sig = sigtimedwait(&stop_signals, nullptr, &tick)) <= 0) {
    if (errno != EAGAIN) continue;
    const auto cpu = cpu_now();
    const bool quiet = cpu - cpu_before < std::chrono::milliseconds(500);  // under 10% of one core
    if (quiet || ++ticks_untrimmed >= 12) {
      malloc_trim(0);
      ticks_untrimmed = 0;
    }
    cpu_before = cpu_now();
  }
  Log("signal {}: stopping", sig);
  if (agent > 0) StopChild(agent, 5000);
  (*controller)->Shutdown();
  http.Stop();
  server.join();
  controller->reset();
  Log("stopped");
  return 0;
}
