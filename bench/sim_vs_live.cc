// Differential replay: one small trace through the live system (a real
// kojod, real kojo-agents with emulated GPUs, each job a real process that
// sleeps its duration, submitted at its submit time) and through the
// simulator (the same Scheduler, policy, placer, backfill, seed and time
// limits), then the two schedules side by side.
//
// Time: trace times are divided by --time-scale, durations rounded up to
// whole seconds (at least 1, at most --max-duration), so one trace second is
// one wall second of the live run. Time limits: the trace's, scaled, but at
// least duration + --limit-slack (the agent kills a job at its limit, and a
// limit equal to the sleep would race it); a trace limit below the duration
// stays below it (the job is killed at its limit in both runs). CPU and
// memory demands are dropped (emulated nodes report the host's).
//
// Output: one line per job (submit order), a summary, and last exactly
//   order_agreement: X   fraction of job pairs (both started in both runs)
//                        started in the same order; a pair started in the
//                        same second in either run agrees (a tie: one second
//                        is the resolution of kojod's clock and of the
//                        simulator's, and jobs placed by one pass share it)
//   max_start_diff_s: Y  largest |start_live - start_sim|, each relative to
//                        its run's first submit, in scaled seconds
//
//   kojo_sim_vs_live --kojod build/release/src/kojod --agent build/release/src/kojo-agent
//       --trace data/samples/philly-scaled-300.csv --cluster 6x8xH100 --policy fifo
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "model/cluster.h"
#include "sched/placer.h"
#include "sched/policy.h"
#include "sched/scheduler.h"
#include "sim/simulator.h"
#include "sim/trace.h"

#include "children.h"

namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;
using namespace kojo;

using kojo::bench::ReadFile;
using kojo::bench::Spawn;

// SIGTERM first (kojod and the agents stop their tasks), SIGKILL after 3 s.
void Stop(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  for (int i = 0; i < 300; ++i) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) {
      kill(-pid, SIGKILL);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

double RealNow() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

void SleepUntilReal(double t) {
  const double d = t - RealNow();
  if (d > 0) std::this_thread::sleep_for(std::chrono::duration<double>(d));
}

template <typename F>
bool WaitFor(F pred, double timeout_s, double every_s) {
  const double deadline = RealNow() + timeout_s;
  while (RealNow() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::duration<double>(every_s));
  }
  return pred();
}

struct Options {
  std::string kojod = "kojod", agent = "kojo-agent", trace, format, cluster = "6x8xH100";
  std::string policy = "fifo", placer = "bestfit", tmp = "/tmp";
  bool backfill = true;
  std::uint64_t seed = 1;
  int gather_ms = -1;  // kojod --gather-ms; -1: kojod's default
  std::size_t limit_jobs = 0;
  double time_scale = 1, estimate_factor = 1;
  Seconds max_duration = 0, limit_slack = 1, round_s = 1, usage_half_life = 7 * 24 * 3600;
  double live_timeout_s = 300, min_agreement = -1;
  bool require_all = false;
};

// The trace as both runs see it (see the comment on top).
std::vector<Job> ScaleJobs(std::vector<Job> in, const Options& o) {
  std::vector<Job> out;
  for (Job j : in) {
    const Seconds orig_dur = j.true_duration.value_or(1);
    Seconds dur = std::max<Seconds>(1, static_cast<Seconds>(std::ceil(orig_dur / o.time_scale)));
    const bool capped = o.max_duration > 0 && dur > o.max_duration;
    if (capped) dur = o.max_duration;
    std::optional<Seconds> limit;
    if (j.time_limit) {
      const Seconds scaled = std::max<Seconds>(1, static_cast<Seconds>(std::ceil(*j.time_limit / o.time_scale)));
      if (*j.time_limit < orig_dur) limit = std::min(scaled, dur);  // killed at its limit in both runs
      else limit = std::max(capped ? dur + o.limit_slack : scaled, dur + o.limit_slack);
    }
    j.submit_time = static_cast<Seconds>(std::llround(j.submit_time / o.time_scale));
    j.true_duration = dur;
    j.time_limit = limit;
    j.demand.cpu_milli = 0;
    j.demand.mem_mib = 0;
    out.push_back(std::move(j));
  }
  std::stable_sort(out.begin(), out.end(), [](const Job& a, const Job& b) { return a.submit_time < b.submit_time; });
  // kojod numbers jobs 1, 2, ... in submit order; policies break ties by id.
  for (size_t i = 0; i < out.size(); ++i) out[i].id = static_cast<JobId>(i + 1);
  return out;
}

struct LiveResult {
  bool ok = false;
  std::string error;
  std::vector<std::optional<Seconds>> start;  // relative to the first submit
  std::vector<std::string> state;
  int submit_second_mismatches = 0;  // kojod's submit second != the trace's
  double max_submit_lag_s = 0;       // POST sent after its trace time by
  double wall_s = 0;
};

LiveResult RunLive(const std::vector<NodeSpec>& nodes, const std::vector<Job>& jobs, const Options& o,
                   Seconds sim_makespan) {
  LiveResult res;
  res.start.assign(jobs.size(), std::nullopt);
  res.state.assign(jobs.size(), "");
  std::string tmpl = o.tmp + "/kojo-sim-vs-live-XXXXXX";
  if (!mkdtemp(tmpl.data())) {
    res.error = "cannot create a folder in " + o.tmp;
    return res;
  }
  const std::string dir = tmpl;
  std::vector<pid_t> pids;
  auto cleanup = [&] {
    for (auto it = pids.rbegin(); it != pids.rend(); ++it) Stop(*it);  // agents first, then kojod
    std::error_code ec;
    fs::remove_all(dir, ec);
  };
  auto fail = [&](std::string why) {
    res.error = std::move(why) + fmt::format(" (kojod log:\n{})", ReadFile(dir + "/kojod.log"));
    cleanup();
    return res;
  };
  std::vector<std::string> kojod_args = {o.kojod, "--data-dir", dir + "/kojod", "--listen", "127.0.0.1:0",
                                        "--policy", o.policy, "--placer", o.placer,
                                        o.backfill ? "--backfill" : "--no-backfill", "--seed", std::to_string(o.seed),
                                        "--usage-half-life", std::to_string(o.usage_half_life)};
  if (o.gather_ms >= 0) {
    kojod_args.push_back("--gather-ms");
    kojod_args.push_back(std::to_string(o.gather_ms));
  }
  pids.push_back(Spawn(kojod_args, dir + "/kojod.log"));
  if (!WaitFor([&] { return !ReadFile(dir + "/kojod/kojod.addr").empty(); }, 20, 0.02)) return fail("kojod did not start");
  std::string url = ReadFile(dir + "/kojod/kojod.addr");
  url.erase(url.find_last_not_of("\n ") + 1);
  httplib::Client c(url);
  c.set_keep_alive(true);
  c.set_tcp_nodelay(true);
  c.set_read_timeout(30, 0);
  auto up_count = [&] {
    auto r = c.Get("/api/v1/nodes");
    if (!r || r->status != 200) return -1;
    int n = 0;
    const Json list = Json::parse(r->body);  // kept: a range-for over a member of a temporary dangles
    for (const auto& node : list["nodes"]) n += node["state"] == "UP";
    return n;
  };
  // One agent at a time, so that kojod's node order is the simulator's.
  for (size_t i = 0; i < nodes.size(); ++i) {
    const NodeSpec& n = nodes[i];
    pids.push_back(Spawn({o.agent, "--server", url, "--name", n.name, "--state-dir", fmt::format("{}/agent-{}", dir, i),
                          "--listen", "127.0.0.1:0", "--emulate-gpus", fmt::format("{}x{}", n.gpus, n.gpu_model),
                          "--quiet"},
                         fmt::format("{}/agent-{}.log", dir, i)));
    if (!WaitFor([&] { return up_count() == static_cast<int>(i + 1); }, 30, 0.02))
      return fail(fmt::format("agent {} ({}) did not register: {}", i, n.name,
                              ReadFile(fmt::format("{}/agent-{}.log", dir, i))));
  }
  std::fprintf(stderr, "live: %zu agents up; submitting %zu jobs\n", nodes.size(), jobs.size());

  // Trace time 0 = a whole Unix second + 50 ms, so that a job submitted at
  // trace second s gets kojod's submit second T0 + s.
  const double t0 = std::ceil(RealNow()) + 1.05;
  const auto T0 = static_cast<Seconds>(std::floor(t0));
  std::vector<std::int64_t> ids(jobs.size(), 0);
  const double started = RealNow();
  for (size_t i = 0; i < jobs.size();) {
    size_t k = i;
    Json batch = Json::array();
    while (k < jobs.size() && jobs[k].submit_time == jobs[i].submit_time) {
      const Job& j = jobs[k];
      Json spec{{"name", fmt::format("t{}", j.id)},
                {"command", {"sleep", std::to_string(*j.true_duration)}},
                {"gpus", j.demand.gpus}};
      if (j.demand.gpu_milli != kWholeGpu) spec["gpu_milli"] = j.demand.gpu_milli;
      if (j.demand.tasks != 1) spec["tasks"] = j.demand.tasks;
      if (!j.demand.gpu_models.empty()) spec["gpu_models"] = j.demand.gpu_models;
      if (!j.project.empty()) spec["project"] = j.project;
      if (j.time_limit) spec["time_limit_s"] = *j.time_limit;
      batch.push_back(std::move(spec));
      ++k;
    }
    SleepUntilReal(t0 + static_cast<double>(jobs[i].submit_time));
    res.max_submit_lag_s = std::max(res.max_submit_lag_s, RealNow() - t0 - static_cast<double>(jobs[i].submit_time));
    auto r = c.Post("/api/v1/jobs", Json{{"jobs", batch}}.dump(), "application/json");
    if (!r || r->status != 201)
      return fail(fmt::format("submit of trace job {} failed: {}", jobs[i].id,
                              r ? fmt::format("{} {}", r->status, r->body) : httplib::to_string(r.error())));
    const Json got = Json::parse(r->body)["ids"];
    for (size_t m = i; m < k; ++m) ids[m] = got.at(m - i).get<std::int64_t>();
    i = k;
  }
  const std::int64_t first = ids.front(), last = ids.back();
  auto open_jobs = [&] {
    auto q = c.Get(fmt::format("/api/v1/jobs?state=PENDING,STARTING,RUNNING,STOPPING&after={}&limit=1", first - 1));
    if (!q || q->status != 200) return true;
    const Json j = Json::parse(q->body)["jobs"];
    return !j.empty() && j[0]["id"].get<std::int64_t>() <= last;
  };
  const double budget = std::max(o.live_timeout_s - (RealNow() - started), 10.0);
  const bool done = WaitFor([&] { return !open_jobs(); }, std::min(budget, 2.0 * sim_makespan + 60), 0.2);
  res.wall_s = RealNow() - started;
  std::map<std::int64_t, size_t> index;
  for (size_t i = 0; i < ids.size(); ++i) index[ids[i]] = i;
  std::vector<Json> views(jobs.size());
  for (std::int64_t after = first - 1;;) {
    auto q = c.Get(fmt::format("/api/v1/jobs?after={}&limit=1000", after));
    if (!q || q->status != 200) return fail("listing the jobs failed");
    const Json page = Json::parse(q->body);
    for (const auto& v : page["jobs"])
      if (auto it = index.find(v["id"].get<std::int64_t>()); it != index.end()) views[it->second] = v;
    if (page["next_after"].is_null()) break;
    after = page["next_after"].get<std::int64_t>();
  }
  Seconds first_submit = 0;
  bool have_first = false;
  for (const Json& v : views)
    if (v.is_object()) {
      const Seconds s = v["submit_unix"].get<Seconds>();
      first_submit = have_first ? std::min(first_submit, s) : s;
      have_first = true;
    }
  for (size_t i = 0; i < views.size(); ++i) {
    const Json& v = views[i];
    if (!v.is_object()) continue;
    res.state[i] = v["state"].get<std::string>();
    if (v["submit_unix"].get<Seconds>() - T0 != jobs[i].submit_time) ++res.submit_second_mismatches;
    if (!v["start_unix"].is_null()) res.start[i] = v["start_unix"].get<Seconds>() - first_submit;
  }
  cleanup();
  res.ok = done;
  if (!done) res.error = fmt::format("not every job ended within {:.0f} s", res.wall_s);
  return res;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kojo sim vs the live system: one trace replayed through kojod + kojo-agents and through kojo sim"};
  Options o;
  if (const char* t = std::getenv("TMPDIR"); t && *t) o.tmp = t;
  app.add_option("--kojod", o.kojod, "kojod executable")->capture_default_str();
  app.add_option("--agent", o.agent, "kojo-agent executable")->capture_default_str();
  app.add_option("--trace", o.trace, "job trace (docs/trace-format.md)")->required();
  app.add_option("--format", o.format, "trace format (default: from the header)");
  app.add_option("--cluster", o.cluster, "inline cluster (COUNTxGPUSxMODEL[+...]); one kojo-agent per node")
      ->capture_default_str();
  app.add_option("--policy", o.policy)->capture_default_str();
  app.add_option("--placer", o.placer)->capture_default_str();
  app.add_flag("--backfill,!--no-backfill", o.backfill, "EASY backfill (default on, as kojod)");
  app.add_option("--seed", o.seed, "seed of both runs (kojod --seed, kojo sim --seed)")->capture_default_str();
  app.add_option("--gather-ms", o.gather_ms, "kojod --gather-ms (default: kojod's own)");
  app.add_option("--limit-jobs", o.limit_jobs, "keep the first N jobs (0 = all)")->capture_default_str();
  app.add_option("--time-scale", o.time_scale, "divide the trace's times by this")->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max-duration", o.max_duration, "cap scaled durations at S seconds (0 = no cap)")
      ->capture_default_str();
  app.add_option("--estimate-factor", o.estimate_factor, "time limits of traces without them (as kojo sim)")
      ->capture_default_str();
  app.add_option("--limit-slack", o.limit_slack, "time limit >= duration + this (s)")->capture_default_str();
  app.add_option("--round", o.round_s, "the simulator's rounds (s): kojod's tick is 1 s by default")
      ->capture_default_str();
  app.add_option("--usage-half-life", o.usage_half_life, "fair share's half-life (s), both runs")
      ->capture_default_str();
  app.add_option("--live-timeout", o.live_timeout_s, "give up on the live run after S s")->capture_default_str();
  app.add_option("--tmp-dir", o.tmp, "where the live run's folder goes")->capture_default_str();
  app.add_option("--min-agreement", o.min_agreement, "exit 1 if order_agreement is below this");
  app.add_flag("--require-all", o.require_all, "exit 1 unless every job started in both runs");
  CLI11_PARSE(app, argc, argv);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, kojo::bench::KillChildrenAndExit);
  signal(SIGINT, kojo::bench::KillChildrenAndExit);

  std::optional<TraceFormat> format;
  if (!o.format.empty()) {
    auto f = ParseTraceFormat(o.format);
    if (!f.ok()) { std::fprintf(stderr, "--format: %s\n", f.error().message.c_str()); return 2; }
    format = *f;
  }
  TraceOptions topt;
  topt.estimate_factor = o.estimate_factor;
  topt.limit_jobs = o.limit_jobs;
  auto raw = ReadTrace(o.trace, format, topt);
  if (!raw.ok()) { std::fprintf(stderr, "%s\n", raw.error().message.c_str()); return 2; }
  const std::vector<Job> jobs = ScaleJobs(std::move(*raw), o);
  if (jobs.empty()) { std::fprintf(stderr, "the trace has no jobs\n"); return 2; }
  auto nodes = ParseClusterSpec(o.cluster);
  if (!nodes.ok()) { std::fprintf(stderr, "--cluster: %s\n", nodes.error().message.c_str()); return 2; }

  // The simulator, in process.
  auto policy = MakePolicy(o.policy);
  if (!policy.ok()) { std::fprintf(stderr, "--policy: %s\n", policy.error().message.c_str()); return 2; }
  auto placer = MakePlacer(o.placer);
  if (!placer.ok()) { std::fprintf(stderr, "--placer: %s\n", placer.error().message.c_str()); return 2; }
  Scheduler scheduler(std::move(*policy), std::move(*placer), SchedulerConfig{o.backfill, false});
  SimConfig cfg;
  cfg.seed = o.seed;
  cfg.round_s = o.round_s;
  cfg.usage_half_life_s = o.usage_half_life;
  auto sim = Simulate(*nodes, jobs, scheduler, cfg);
  if (!sim.ok()) { std::fprintf(stderr, "simulation: %s\n", sim.error().message.c_str()); return 1; }
  std::vector<std::optional<Seconds>> sim_start(jobs.size());
  for (const JobRecord& r : sim->jobs) sim_start.at(static_cast<size_t>(r.id - 1)) = r.start;
  std::fprintf(stderr, "sim: %zu jobs, makespan %lld s; live run next (about as long)\n", jobs.size(),
               static_cast<long long>(sim->metrics.makespan_s));

  const LiveResult live = RunLive(*nodes, jobs, o, sim->metrics.makespan_s);
  if (!live.ok) std::fprintf(stderr, "live: %s\n", live.error.c_str());

  // Ranks: position in start order (ties share the smallest rank).
  auto ranks = [&](const std::vector<std::optional<Seconds>>& s) {
    std::vector<int> r(s.size(), -1);
    for (size_t i = 0; i < s.size(); ++i) {
      if (!s[i]) continue;
      int n = 0;
      for (size_t k = 0; k < s.size(); ++k) n += s[k] && *s[k] < *s[i];
      r[i] = n;
    }
    return r;
  };
  const auto sim_rank = ranks(sim_start), live_rank = ranks(live.start);
  std::printf("# %s on %s, policy %s, placer %s, backfill %s, seed %llu, time scale %g\n", o.trace.c_str(),
              o.cluster.c_str(), o.policy.c_str(), o.placer.c_str(), o.backfill ? "on" : "off",
              static_cast<unsigned long long>(o.seed), o.time_scale);
  std::printf("%-6s %-8s %4s %6s %5s %5s | %8s %8s | %8s %8s | %5s %s\n", "job", "project", "gpus", "submit", "dur",
              "limit", "sim_rank", "live_rnk", "sim_s", "live_s", "diff", "live_state");
  int both = 0;
  Seconds max_diff = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const Job& j = jobs[i];
    auto show = [](const std::optional<Seconds>& v) { return v ? std::to_string(*v) : std::string("-"); };
    std::string diff = "-";
    if (sim_start[i] && live.start[i]) {
      ++both;
      const Seconds d = *live.start[i] - *sim_start[i];
      max_diff = std::max<Seconds>(max_diff, std::llabs(d));
      diff = fmt::format("{:+d}", d);
    }
    std::printf("%-6lld %-8s %4d %6lld %5lld %5s | %8s %8s | %8s %8s | %5s %s\n", static_cast<long long>(j.id),
                j.project.substr(0, 8).c_str(), j.demand.gpus, static_cast<long long>(j.submit_time),
                static_cast<long long>(*j.true_duration), show(j.time_limit).c_str(),
                sim_rank[i] < 0 ? "-" : std::to_string(sim_rank[i]).c_str(),
                live_rank[i] < 0 ? "-" : std::to_string(live_rank[i]).c_str(), show(sim_start[i]).c_str(),
                show(live.start[i]).c_str(), diff.c_str(), live.state[i].empty() ? "?" : live.state[i].c_str());
  }
  std::int64_t pairs = 0, agree = 0, strict = 0, tied = 0;
  for (size_t a = 0; a < jobs.size(); ++a) {
    if (!sim_start[a] || !live.start[a]) continue;
    for (size_t b = a + 1; b < jobs.size(); ++b) {
      if (!sim_start[b] || !live.start[b]) continue;
      ++pairs;
      const Seconds ds = *sim_start[a] - *sim_start[b], dl = *live.start[a] - *live.start[b];
      const bool same = (ds > 0) == (dl > 0) && (ds < 0) == (dl < 0);
      strict += same;
      if (same || ds == 0 || dl == 0) ++agree;
      tied += !same && (ds == 0 || dl == 0);
    }
  }
  const double agreement = pairs ? static_cast<double>(agree) / pairs : 1.0;
  int sim_started = 0, live_started = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    sim_started += sim_start[i].has_value();
    live_started += live.start[i].has_value();
  }
  std::printf("jobs: %zu; started: sim %d, live %d, both %d\n", jobs.size(), sim_started, live_started, both);
  std::printf("pairs: %lld; same strict order: %lld (%.4f); agreeing only as ties within one second: %lld\n",
              static_cast<long long>(pairs), static_cast<long long>(strict), pairs ? double(strict) / pairs : 1.0,
              static_cast<long long>(tied));
  std::printf("sim makespan: %lld s; live wall from the first submit: %.1f s; submits late by at most %.3f s; "
              "kojod submit second != trace second: %d jobs\n",
              static_cast<long long>(sim->metrics.makespan_s), live.wall_s, live.max_submit_lag_s,
              live.submit_second_mismatches);
  std::printf("order_agreement: %.4f\n", agreement);
  std::printf("max_start_diff_s: %lld\n", static_cast<long long>(max_diff));
  std::fflush(stdout);
  int rc = live.ok ? 0 : 1;
  if (o.require_all && (both != static_cast<int>(jobs.size()))) {
    std::fprintf(stderr, "not every job started in both runs (%d of %zu)\n", both, jobs.size());
    rc = 1;
  }
  if (o.min_agreement >= 0 && agreement < o.min_agreement) {
    std::fprintf(stderr, "order_agreement %.4f is below %.4f\n", agreement, o.min_agreement);
    rc = 1;
  }
  return rc;
}
