// Load generator for the live system: a real kojod and N real kojo-agents
// with emulated GPUs on this machine, driven over keep-alive HTTP.
//
// Figures (printed as a Markdown table):
//  1. submit-to-start latency of one job on an idle cluster (median of
//     --latency-runs): from just before the POST to the job's process
//     writing its own start time (CLOCK_REALTIME, same machine);
//  2. single submissions per second: --threads clients, one job per
//     request, each acknowledged only once durable (fsync'd); the jobs are
//     submitted held so that running them does not take the CPU;
//  3. array submission: one request creating --jobs jobs (median of 5);
//  4. end to end: --jobs trivial 1-GPU jobs (`true`) submitted as one
//     array, placed, run as real processes and completed.
//
//   kojo_live_bench --kojod build/release/src/kojod --agent build/release/src/kojo-agent
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "children.h"

namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

using kojo::bench::ReadFile;
using kojo::bench::Spawn;

void Stop(pid_t pid) {
  if (pid <= 0) return;
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

template <typename F>
bool WaitFor(F pred, std::chrono::milliseconds timeout, std::chrono::milliseconds every = std::chrono::milliseconds(5)) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(every);
  }
  return pred();
}

// CPU seconds (user + system) a process has used so far.
double CpuSeconds(pid_t pid) {
  std::string stat = ReadFile(fmt::format("/proc/{}/stat", pid));
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream in(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && in >> field; ++i)
    if (i == 14 || i == 15) ticks += std::stod(field);
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU seconds used so far by every process of this process's cgroup (all
// the bench's descendants, also those reparented to init: the launch
// helpers' supervisors and the tasks), when the machine offers it: cgroup
// v1 cpuacct or cgroup v2 cpu.stat. -1 when not.
double CgroupCpuSeconds() {
  std::istringstream lines(ReadFile("/proc/self/cgroup"));
  std::string line;
  while (std::getline(lines, line)) {
    const size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (controllers.find("cpuacct") != std::string::npos) {
      const std::string usage = ReadFile("/sys/fs/cgroup/" + controllers + path + "/cpuacct.usage");
      if (!usage.empty()) return std::stod(usage) / 1e9;
    }
    if (controllers.empty() && path != "/") {
      std::istringstream stat(ReadFile("/sys/fs/cgroup" + path + "/cpu.stat"));
      std::string key;
      double value = 0;
      while (stat >> key >> value)
        if (key == "usage_usec") return value / 1e6;
    }
  }
  return -1;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

std::int64_t RealNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kojo live benchmark: kojod + kojo-agents with emulated GPUs on this machine"};
  std::string kojod = "kojod", agent = "kojo-agent", out, tmp = "/tmp";
  if (const char* t = std::getenv("TMPDIR"); t && *t) tmp = t;
  int nodes = 16, gpus = 8, jobs = 5000, threads = 8, singles = 5000, latency_runs = 9;
  app.add_option("--kojod", kojod, "kojod executable")->capture_default_str();
  app.add_option("--agent", agent, "kojo-agent executable")->capture_default_str();
  app.add_option("--nodes", nodes, "emulated nodes (one kojo-agent each)")->capture_default_str();
  app.add_option("--gpus-per-node", gpus)->capture_default_str();
  app.add_option("--jobs", jobs, "jobs of the array and end-to-end runs")->capture_default_str();
  app.add_option("--singles", singles, "single submissions in the rate test")->capture_default_str();
  app.add_option("--threads", threads, "client threads for single submissions")->capture_default_str();
  app.add_option("--latency-runs", latency_runs)->capture_default_str();
  app.add_option("--out", out, "also append the Markdown table to this file");
  app.add_option("--tmp-dir", tmp, "where the run's folder (kojod's data, the agents' state and task logs) goes")
      ->capture_default_str();
  std::string agent_tmp;
  app.add_option("--agent-tmp-dir", agent_tmp,
                 "where the agents' state and task logs go instead, to tell the two costs apart (default: --tmp-dir)");
  bool keep = false;
  app.add_flag("--keep", keep,
               "leave the run's folders in place (say where) instead of deleting them: on ext4 without a journal, "
               "files created within minutes of a mass deletion cost a scan of the deleted inodes each, so a "
               "deleted run slows the next one; delete the folders after the last run");
  CLI11_PARSE(app, argc, argv);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, kojo::bench::KillChildrenAndExit);
  signal(SIGINT, kojo::bench::KillChildrenAndExit);

  std::string tmpl = tmp + "/kojo-bench-XXXXXX";
  if (!mkdtemp(tmpl.data())) {
    std::fprintf(stderr, "cannot create a folder in %s\n", tmp.c_str());
    return 1;
  }
  const std::string dir = tmpl;
  std::string agents_dir = dir;
  if (!agent_tmp.empty()) {
    std::string t = agent_tmp + "/kojo-bench-agents-XXXXXX";
    if (!mkdtemp(t.data())) {
      std::fprintf(stderr, "cannot create a folder in %s\n", agent_tmp.c_str());
      return 1;
    }
    agents_dir = t;
  }
  std::vector<pid_t> pids;
  auto cleanup = [&] {
    for (pid_t p : pids) Stop(p);
    if (keep) {
      std::fprintf(stderr, "kept %s%s%s\n", dir.c_str(), agents_dir != dir ? " and " : "",
                   agents_dir != dir ? agents_dir.c_str() : "");
      return;
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (agents_dir != dir) fs::remove_all(agents_dir, ec);
  };

  pids.push_back(Spawn({kojod, "--data-dir", dir + "/kojod", "--listen", "127.0.0.1:0", "--http-threads", "160"},
                       dir + "/kojod.log"));
  if (!WaitFor([&] { return !ReadFile(dir + "/kojod/kojod.addr").empty(); }, std::chrono::seconds(20))) {
    std::fprintf(stderr, "kojod did not start:\n%s\n", ReadFile(dir + "/kojod.log").c_str());
    cleanup();
    return 1;
  }
  std::string url = ReadFile(dir + "/kojod/kojod.addr");
  url.erase(url.find_last_not_of("\n ") + 1);
  for (int i = 0; i < nodes; ++i)
    pids.push_back(Spawn({agent, "--server", url, "--name", fmt::format("node-{:02}", i), "--state-dir",
                          fmt::format("{}/agent-{}", agents_dir, i), "--listen", "127.0.0.1:0", "--emulate-gpus",
                          fmt::format("{}xH100-80GB", gpus), "--quiet"},
                         fmt::format("{}/agent-{}.log", dir, i)));
  httplib::Client c(url);
  c.set_keep_alive(true);
  c.set_tcp_nodelay(true);  // else a POST's body waits for the ACK of its headers (Nagle + delayed ACK: 40 ms)
  c.set_read_timeout(120, 0);
  auto up = [&] {
    auto r = c.Get("/api/v1/nodes");
    if (!r || r->status != 200) {
      std::fprintf(stderr, "nodes: %s\n", r ? std::to_string(r->status).c_str() : httplib::to_string(r.error()).c_str());
      return false;
    }
    int n = 0;
    const Json list = Json::parse(r->body);
    for (const auto& node : list["nodes"]) n += node["state"] == "UP";
    return n == nodes;
  };
  if (!WaitFor(up, std::chrono::seconds(30), std::chrono::milliseconds(50))) {
    std::fprintf(stderr, "the agents did not all register (logs in %s)\n", dir.c_str());
    for (pid_t p : pids) Stop(p);
    return 1;
    cleanup();
    return 1;
  }
  auto post = [&](httplib::Client& cl, const Json& body) {
    return cl.Post("/api/v1/jobs", body.dump(), "application/json");
  };
  auto state_of = [&](std::int64_t id) {
    auto r = c.Get(fmt::format("/api/v1/jobs/{}", id).c_str());
    return r && r->status == 200 ? Json::parse(r->body)["state"].get<std::string>() : std::string();
  };

  std::fprintf(stderr, "%d agents up; measuring latency\n", nodes);
  // 1. Submit-to-start latency on the idle cluster.
  std::vector<double> latency_ms;
  for (int i = 0; i < latency_runs; ++i) {
    const std::string mark = fmt::format("{}/start-{}", dir, i);
    Json spec{{"command", {"/bin/sh", "-c", fmt::format("date +%s%N > {}.tmp && mv {}.tmp {}", mark, mark, mark)}},
              {"gpus", 1}};
    const std::int64_t sent = RealNs();
    auto r = post(c, spec);
    if (!r || r->status != 201) { std::fprintf(stderr, "submit failed\n"); cleanup(); return 1; }
    const std::int64_t id = Json::parse(r->body)["ids"][0].get<std::int64_t>();
    if (!WaitFor([&] { return fs::exists(mark); }, std::chrono::seconds(20), std::chrono::milliseconds(1))) {
      std::fprintf(stderr, "job %lld did not start\n", static_cast<long long>(id));
      cleanup();
      return 1;
    }
    const std::int64_t started = std::stoll(ReadFile(mark));
    latency_ms.push_back((started - sent) / 1e6);
    WaitFor([&] { return state_of(id) == "COMPLETED"; }, std::chrono::seconds(10), std::chrono::milliseconds(2));
  }

  std::fprintf(stderr, "latency done; single submissions\n");
  // 2. Single submissions per second (held jobs: the API and durability path).
  std::atomic<int> next{0}, failed{0};
  const auto s0 = Clock::now();
  std::vector<std::thread> clients;
  for (int t = 0; t < threads; ++t)
    clients.emplace_back([&] {
      httplib::Client cl(url);
      cl.set_keep_alive(true);
      cl.set_tcp_nodelay(true);
      cl.set_read_timeout(60, 0);
      const std::string body = Json{{"command", {"true"}}, {"gpus", 1}, {"hold", true}}.dump();
      while (next++ < singles) {
        auto r = cl.Post("/api/v1/jobs", body, "application/json");
        if (!r || r->status != 201) ++failed;
      }
    });
  for (auto& t : clients) t.join();
  const double single_s = std::chrono::duration<double>(Clock::now() - s0).count();

  std::fprintf(stderr, "singles done; arrays\n");
  // 3. Array submission of --jobs (held).
  std::vector<double> array_ms;
  for (int i = 0; i < 5; ++i) {
    Json spec{{"command", {"true"}}, {"gpus", 1}, {"hold", true}, {"array", fmt::format("0-{}", jobs - 1)}};
    const auto a0 = Clock::now();
    auto r = post(c, spec);
    array_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - a0).count());
    if (!r || r->status != 201) ++failed;
  }

  std::fprintf(stderr, "arrays done; end to end\n");
  // 4. End to end: --jobs trivial jobs as one array, all completed.
  const double kojod_cpu0 = CpuSeconds(pids[0]);
  double agents_cpu0 = 0;
  for (size_t i = 1; i < pids.size(); ++i) agents_cpu0 += CpuSeconds(pids[i]);
  const double tree_cpu0 = CgroupCpuSeconds();
  const auto e0 = Clock::now();
  auto r = post(c, Json{{"command", {"true"}}, {"gpus", 1}, {"array", fmt::format("0-{}", jobs - 1)}});
  if (!r || r->status != 201) { std::fprintf(stderr, "e2e submit failed\n"); cleanup(); return 1; }
  const double queued_array_ms = std::chrono::duration<double, std::milli>(Clock::now() - e0).count();
  const auto ids = Json::parse(r->body)["ids"];
  const std::int64_t first = ids.front().get<std::int64_t>();
  auto open_jobs = [&] {
    auto q = c.Get(fmt::format("/api/v1/jobs?state=PENDING,STARTING,RUNNING,STOPPING&after={}&limit=1", first - 1).c_str());
    return q && q->status == 200 && Json::parse(q->body)["jobs"].empty();
  };
  const bool done = WaitFor(open_jobs, std::chrono::seconds(600), std::chrono::milliseconds(20));
  const double e2e_s = std::chrono::duration<double>(Clock::now() - e0).count();
  const double tree_cpu = CgroupCpuSeconds() - tree_cpu0;
  const double kojod_cpu = CpuSeconds(pids[0]) - kojod_cpu0;
  double agents_cpu = -agents_cpu0;
  for (size_t i = 1; i < pids.size(); ++i) agents_cpu += CpuSeconds(pids[i]);
  int completed = 0;
  for (std::int64_t after = first - 1;;) {
    auto q = c.Get(fmt::format("/api/v1/jobs?state=COMPLETED&after={}&limit=10000", after).c_str());
    if (!q || q->status != 200) break;
    Json j = Json::parse(q->body);
    completed += static_cast<int>(j["jobs"].size());
    if (j["next_after"].is_null()) break;
    after = j["next_after"].get<std::int64_t>();
  }

  const std::string table = fmt::format(
      "| figure | kojo | Slurm 22.05 (issue's reference) |\n"
      "|---|---|---|\n"
      "| submit-to-start latency, idle cluster (median of {}) | {:.1f} ms (min {:.1f}, max {:.1f}) | 1-2 s |\n"
      "| single submissions, {} keep-alive clients, durable before the answer | {:.0f} jobs/s ({} in {:.2f} s, {} failed) | 60-150 /s |\n"
      "| array of {} jobs, one request (median of 5) | {:.1f} ms | a few ms |\n"
      "| end to end, {} trivial 1-GPU jobs (`true`) on {} x {} GPUs | {:.0f} jobs/s ({:.2f} s, {} completed{}) | 55-75 jobs/s |\n",
      latency_ms.size(), Median(latency_ms), *std::min_element(latency_ms.begin(), latency_ms.end()),
      *std::max_element(latency_ms.begin(), latency_ms.end()), threads, singles / single_s, singles, single_s,
      failed.load(), jobs, Median(array_ms), jobs, nodes, gpus, jobs / e2e_s, e2e_s, completed,
      done ? "" : ", TIMED OUT");
  std::printf("%s", table.c_str());
  std::printf("\nThe end-to-end run's array (queued, not held) was answered in %.1f ms.\n", queued_array_ms);
  std::printf("CPU during the end-to-end run: kojod %.2f s, the %d agents %.2f s (tasks not counted), wall %.2f s\n",
              kojod_cpu, nodes, agents_cpu, e2e_s);
  if (tree_cpu0 >= 0)
    std::printf("CPU of the whole process tree (cgroup; kojod, agents, launch helpers, supervisors, tasks, this "
                "client): %.2f s, %.2f ms per job\n",
                tree_cpu, tree_cpu * 1000 / jobs);
  if (!out.empty()) {
    std::ofstream f(out, std::ios::app);
    f << table;
  }
  cleanup();
  return done && completed == jobs ? 0 : 1;
}
