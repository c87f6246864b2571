// kojo-agent: one per GPU node. Finds the node's GPUs, registers with the
// controller, runs the tasks it is given, serves their logs.
//
// SIGTERM/SIGINT stop the agent cleanly and leave its tasks running: a new
// agent on the same --state-dir adopts them (and reports the ones that ended
// meanwhile), so an agent upgrade or restart never kills or repeats a job.
#include <fstream>
#include <signal.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

#include <CLI/CLI.hpp>

#include "agent/agent.h"
#include "common/identity.h"
#include "agent/cgroups.h"
#include "model/node_rule.h"
#include "agent/gpu_discovery.h"
#include "agent/launcher.h"
#include "agent/log.h"
#include "agent/log_server.h"

namespace {

}  // namespace

int main(int argc, char** argv) {
  using namespace kojo;
  using namespace kojo::agent;

  CLI::App app{"kojo-agent: runs kojo jobs on this node's GPUs for a kojod controller.\n"
               "Stop it with SIGTERM or SIGINT: running tasks keep running and are adopted again\n"
               "when an agent starts on the same --state-dir."};
  app.set_version_flag("--version", "kojo-agent 0.1.0");
  std::string server, name = HostName(), state_dir, listen = "127.0.0.1:0", emulate, token, cgroups = "auto";
  Seconds kill_grace = 10;
  int wait_ms = 10000, linger_ms = 2;
  bool quiet = false;
  app.add_option("--server", server, "Controller URL, e.g. http://127.0.0.1:7100")->required();
  app.add_option("--name", name, "Node name reported to the controller")->capture_default_str();
  app.add_option("--state-dir", state_dir,
                 "Folder for task records, logs (logs/) and the default working directory (work/)")
      ->required();
  app.add_option("--listen", listen, "HOST:PORT of the log server (port 0 = any free port)")->capture_default_str();
  std::string features;
  app.add_option("--features", features,
                 "Node features for jobs' constraints (-C), comma-separated, e.g. nvlink,ib,rack1; "
                 "the GPU model counts as one");
  app.add_option("--emulate-gpus", emulate,
                 "Made-up GPUs instead of NVML, e.g. 8xH100-80GB, 2xA100,2xT4, or MIG slices 1xH100-80GB:mig=1g.10gb*7");
  app.add_option("--token", token, "Bearer token for the controller (default: $KOJO_TOKEN)");
  std::string ca_cert;
  app.add_option("--ca-cert", ca_cert,
                 "PEM CA certificate that signed an https:// controller's certificate (default: $KOJO_CA_CERT, "
                 "else the system's CAs)");
  app.add_option("--kill-grace", kill_grace, "Seconds between SIGTERM and SIGKILL at a time limit, and for kills without their own grace")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
  app.add_option("--heartbeat-wait-ms", wait_ms, "Long-poll wait of each heartbeat")
      ->check(CLI::Range(0, 60000))
      ->capture_default_str();
  app.add_option("--report-linger-ms", linger_ms,
                 "Task starts and ends this close after the first are reported in one heartbeat")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  app.add_option("--cgroups", cgroups, "CPU/memory limits with cgroup v2: auto (where the machine allows) or off")
      ->check(CLI::IsMember({"auto", "off"}))
      ->capture_default_str();
  app.add_flag("--quiet", quiet, "Log warnings only");
  CLI11_PARSE(app, argc, argv);

  SetVerboseLogging(!quiet);
  if (token.empty())
    if (const char* t = std::getenv("KOJO_TOKEN")) token = t;
  if (ca_cert.empty())
    if (const char* c = std::getenv("KOJO_CA_CERT")) ca_cert = c;
  if (!ca_cert.empty() && !std::ifstream(ca_cert)) {
    LogWarn("--ca-cert {}: cannot read it", ca_cert);
    return 2;
  }
  if (server.rfind("http://", 0) != 0 && server.rfind("https://", 0) != 0) {
    LogWarn("--server '{}': expected a URL like http://127.0.0.1:7100", server);
    return 2;
  }
  auto address = ParseListenAddress(listen);
  if (!address.ok()) {
    LogWarn("{}", address.error().message);
    return 2;
  }

  // Signals are taken by sigwait on the main thread; every other thread
  // (and, through the launcher, no task) inherits them blocked.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  api::NodeInfo node;
  node.name = name;
  node.cpu_milli = HostCpuMilli();
  node.mem_mib = HostMemMib();
  node.version = "0.1.0";
  for (size_t at = 0; at <= features.size() && !features.empty();) {
    const size_t comma = std::min(features.find(',', at), features.size());
    std::string f = features.substr(at, comma - at);
    at = comma + 1;
    if (f.empty()) continue;
    auto parsed = ParseConstraint(f);
    if (!parsed.ok() || parsed->any_of.size() != 1 || parsed->any_of[0].size() != 1 || parsed->counts) {
      LogWarn("--features: expected names of letters, digits and _-.:+/ separated by commas, got '{}'", f);
      return 2;
    }
    node.features.push_back(f);
  }
  std::unique_ptr<GpuDiscovery> discovery;
  if (!emulate.empty()) {
    auto d = EmulatedDiscovery::Create(emulate, name);
    if (!d.ok()) {
      LogWarn("{}", d.error().message);
      return 2;
    }
    discovery = std::move(*d);
  } else {
    discovery = std::make_unique<NvmlDiscovery>();
  }
  auto gpus = discovery->Discover();
  if (gpus.ok()) {
    node.gpus = *gpus;
    node.emulated_gpus = discovery->emulated();
    LogInfo("{} GPUs ({})", node.gpus.size(), discovery->Describe());
  } else {
    LogWarn("{}; starting with no GPUs (use --emulate-gpus SPEC to make some up)", gpus.error().message);
  }

  LauncherOptions lo;
  lo.state_dir = state_dir;
  lo.node_name = name;
  lo.gpus = node.gpus;
  lo.default_grace_s = kill_grace;
  if (cgroups == "auto") {
    std::string why;
    lo.cgroups = Cgroups::Detect("/sys/fs/cgroup", &why);
    if (!lo.cgroups) LogInfo("running without CPU/memory limits: {}", why);
  }
  node.cgroups = lo.cgroups.has_value();
  auto launcher = ProcessLauncher::Create(std::move(lo));
  if (!launcher.ok()) {
    LogWarn("{}", launcher.error().message);
    return 1;
  }
  if (int n = (*launcher)->adopted()) LogInfo("adopted {} running tasks", n);

  auto log_secret = NewLogSecret();
  if (!log_secret.ok()) {
    LogWarn("{}", log_secret.error().message);
    return 1;
  }
  LogServer logs(**launcher, *log_secret);
  logs.OnSessionActivity([l = launcher->get()](JobId job) { l->NoteActivity(job); });
  auto port = logs.Start(address->first, address->second);
  if (!port.ok()) {
    LogWarn("{}", port.error().message);
    return 1;
  }
  std::string host = address->first;
  if (host == "0.0.0.0" || host == "::" || host.empty()) host = name;
  node.agent_url = host.find(':') != std::string::npos ? fmt::format("http://[{}]:{}", host, *port)
                                                       : fmt::format("http://{}:{}", host, *port);
  LogInfo("serving logs at {}", node.agent_url);

  AgentOptions ao;
  ao.server = server;
  ao.token = token;
  ao.ca_cert = ca_cert;
  ao.log_secret = *log_secret;
  ao.heartbeat_wait_ms = wait_ms;
  ao.report_linger_ms = linger_ms;
  if (auto* emulated = dynamic_cast<EmulatedDiscovery*>(discovery.get()))
    emulated->set_util_file(state_dir + "/emulated-gpu-util");
  // Called from the agent's heartbeat threads: one at a time.
  auto util_mu = std::make_shared<std::mutex>();
  ao.gpu_util = [d = discovery.get(), util_mu] {
    std::lock_guard lock(*util_mu);
    return d->Utilisation();
  };
  Agent agent(ao, node, **launcher);
  agent.Start();

  int sig = 0;
  while (sigwait(&stop_signals, &sig) != 0) {
  }
  LogInfo("signal {}: stopping; tasks keep running and are adopted by the next agent", sig);
  agent.Stop();
  logs.Stop();
  return 0;
}
