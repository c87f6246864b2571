// kojod's controller memory per node and per pending job: a Controller on
// the SQLite store (as kojod runs it, in a temporary folder), in this
// process (the HTTP layer and the agents are left out), with N nodes registered through the
// agent protocol and then M jobs submitted through Controller::Submit while
// every node is drained, so that all of them wait (and are explained by the
// scheduling passes that run meanwhile).
//
//   kojo_controller_mem [--nodes 1000] [--gpus 8] [--jobs 100000] [--settle-ms 2500]
//
// Prints the heap in use (mallinfo2 uordblks + hblkhd) and VmRSS after each
// step, and the bytes per node and per pending job.
//
// --busy leaves the nodes open instead: the first pass places as many
// 1-GPU jobs as there are GPUs (they stay STARTING: no agent confirms them)
// and the passes during --settle-ms face a full cluster and the rest of the
// queue. The last line (`scale: ...`) gives the sizes, the memory and the
// scheduling passes' count and mean time during the settling
// (bench/scale-curves.sh collects it).
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "common/histogram.h"
#include "controller/controller.h"
#include "store/store.h"

namespace {

struct Mem {
  double heap_mib = 0, rss_mib = 0;
};

Mem Measure() {
  malloc_trim(0);
  const struct mallinfo2 mi = mallinfo2();
  Mem m;
  m.heap_mib = static_cast<double>(mi.uordblks + mi.hblkhd) / (1024.0 * 1024.0);
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) m.rss_mib = std::stod(line.substr(6)) / 1024.0;
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kojo;
  using namespace kojo::controller;
  int nodes = 1000, gpus = 8, jobs = 100000, settle_ms = 2500;
  CLI::App app{"kojod's controller memory per node and per pending job"};
  app.add_option("--nodes", nodes)->capture_default_str();
  app.add_option("--gpus", gpus, "GPUs per node")->capture_default_str();
  app.add_option("--jobs", jobs)->capture_default_str();
  app.add_option("--settle-ms", settle_ms, "time for scheduling passes after the submissions")->capture_default_str();
  bool busy = false;
  app.add_flag("--busy", busy, "leave the nodes open: a full cluster and a queue instead of drained nodes");
  CLI11_PARSE(app, argc, argv);

  char dir[] = "/tmp/kojo-mem.XXXXXX";
  if (!mkdtemp(dir)) return 1;
  const std::string path = std::string(dir) + "/kojod.db";
  auto store = store::OpenSqliteStore(path);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.error().message.c_str());
    return 1;
  }
  ControllerConfig cfg;
  cfg.node_timeout = std::chrono::hours(1);
  auto c = Controller::Open(**store, cfg);
  if (!c.ok()) {
    std::fprintf(stderr, "%s\n", c.error().message.c_str());
    return 1;
  }
  const Mem m0 = Measure();
  for (int n = 0; n < nodes; ++n) {
    api::Heartbeat hb;
    hb.node.name = fmt::format("node-{:05d}", n);
    hb.node.cpu_milli = 128000;
    hb.node.mem_mib = 1024 * 1024;
    for (int g = 0; g < gpus; ++g)
      hb.node.gpus.push_back(api::GpuInfo{g, "H100", 80 * 1024, fmt::format("EMU-{}-{}", n, g)});
    hb.node.emulated_gpus = true;
    hb.node.agent_url = "http://127.0.0.1:1";
    if (!(*c)->Register(hb).ok()) return 1;
    if (!busy) (void)(*c)->Drain(hb.node.name, "memory benchmark");
  }
  const Mem m1 = Measure();
  const int per_request = 10000;
  for (int done = 0; done < jobs; done += per_request) {
    std::string body = R"({"jobs":[)";
    for (int k = 0; k < std::min(per_request, jobs - done); ++k)
      body += fmt::format(R"({}{{"command":["true"],"gpus":1,"time_limit_s":600,"name":"job-{}"}})", k ? "," : "",
                          done + k);
    body += "]}";
    auto ids = (*c)->Submit(body, "");
    if (!ids.ok()) {
      std::fprintf(stderr, "submit: %s\n", ids.error().message.c_str());
      return 1;
    }
  }
  const Mem m2 = Measure();
  // Passes counted from here: the first ones (placing the jobs that fit)
  // run while the submissions still come.
  std::this_thread::sleep_for(std::chrono::milliseconds(std::min(settle_ms, 500)));
  const HistogramSnapshot p0 = (*c)->MetricsSnapshot().schedule_pass;
  std::this_thread::sleep_for(std::chrono::milliseconds(settle_ms));
  const HistogramSnapshot p1 = (*c)->MetricsSnapshot().schedule_pass;
  const Mem m3 = Measure();
  auto row = [](const char* what, const Mem& m) {
    std::printf("%-34s heap %8.1f MiB  rss %8.1f MiB\n", what, m.heap_mib, m.rss_mib);
  };
  row("controller open", m0);
  row(fmt::format("{} nodes registered", nodes).c_str(), m1);
  row(fmt::format("{} jobs submitted", jobs).c_str(), m2);
  row("after the passes", m3);
  const std::uint64_t passes = p1.count - p0.count;
  const double pass_ms = passes ? (p1.sum - p0.sum) * 1000 / static_cast<double>(passes) : 0;
  std::printf("scheduling passes during the last %d ms: %llu, mean %.2f ms\n", settle_ms,
              static_cast<unsigned long long>(passes), pass_ms);
  std::printf("per node: %.0f bytes (heap)\n", (m1.heap_mib - m0.heap_mib) * 1024 * 1024 / nodes);
  std::printf("per pending job: %.0f bytes (heap, submitted), %.0f bytes (heap, after the passes)\n",
              (m2.heap_mib - m1.heap_mib) * 1024 * 1024 / jobs, (m3.heap_mib - m1.heap_mib) * 1024 * 1024 / jobs);
  std::printf("scale: nodes=%d gpus=%d jobs=%d busy=%d heap_mib=%.1f rss_mib=%.1f passes=%llu pass_ms=%.3f\n", nodes,
              gpus, jobs, busy ? 1 : 0, m3.heap_mib, m3.rss_mib, static_cast<unsigned long long>(passes), pass_ms);
  (*c)->Shutdown();
  c->reset();
  store->reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
  rmdir(dir);
  return 0;
}
