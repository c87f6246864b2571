// Whole decisions pinned: seeded random clusters, running jobs and queues
// go through Decide under every policy, several placers, with and without
// backfill, explained waits and an organisation (guarantees, caps, grants),
// and everything a pass answers is written out in full (placements with
// their GPUs, preemptions, waits with reason, message, estimate, jobs and
// GPU-hours ahead and confidence, rejections) together with the next number
// the random generator gives (so that the generator's use is pinned too).
// A digest of that text per configuration lives in
// tests/testdata/decisions/sched-decisions.json, with counts that show which
// paths the scenarios reach. To re-pin after an intended change, run the
// test with KOJO_UPDATE_GOLDEN=1 and review the counts; to find what
// changed, run it with KOJO_DUMP_DECISIONS=FILE on both builds and diff the
// files.
#include <cstdlib>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "fixtures.h"

namespace kojo {
namespace {

using testing::World;

struct Config {
  std::string policy;
  std::string placer;
  bool backfill;
  bool explain;
  bool org;
  std::string Name() const {
    return policy + "/" + placer + (backfill ? "+backfill" : "") + (explain ? "+explain" : "") +
           (org ? "+org" : "");
  }
};

struct Counts {
  std::map<std::string, int> n;
  void Add(const Decisions& d) {
    n["placed"] += static_cast<int>(d.placed.size());
    n["preempted"] += static_cast<int>(d.preempted.size());
    n["rejected"] += static_cast<int>(d.rejected.size());
    for (const auto& p : d.placed) n["backfilled"] += p.backfilled;
    for (const auto& w : d.waiting) {
      n["wait " + std::string(ToString(w.reason))]++;
      n["estimate"] += w.estimated_start.has_value();
      n["confidence " + std::string(ToString(w.confidence))]++;
    }
  }
};

// One scenario: a cluster with a drained node, jobs already running (placed
// by a first pass), and a fresh queue of mixed jobs.
struct Scenario {
  World w{"3x8xA100+4x4xT4:cpu=16:mem=128+2x2xV100"};
  UsageLedger ledger;
  OrgPolicy org;
  Seconds now = 5000;

  explicit Scenario(std::uint64_t seed) {
    Rng gen(seed);
    auto pick = [&](int lo, int hi) { return lo + static_cast<int>(gen() % static_cast<std::uint64_t>(hi - lo + 1)); };
    const std::vector<std::string> projects = {"p0", "p1", "p2", "p3", "free"};
    JobId id = 1;
    auto new_job = [&](bool pending) -> Job& {
      const int kind = pick(0, 19);
      int gpus = kind == 0 ? 0 : kind < 8 ? 1 : (1 << pick(1, 4));
      if (pending && kind == 19) gpus = 64;  // never fits
      const Seconds submit = pick(0, 4000);
      std::optional<Seconds> limit;
      if (pick(0, 4) != 0) limit = pick(1, 40) * 300;
      Job& j = w.NewJob(id++, gpus, submit, limit);
      if (j.demand.gpus == 1 && pick(0, 2) == 0) j.demand.gpu_milli = pick(1, 9) * 100;
      if (j.demand.gpus >= 4 && pick(0, 3) == 0) j.demand.tasks = 2;
      j.demand.cpu_milli = pick(0, 12) * 1000;
      j.demand.mem_mib = pick(0, 96) * 1024;
      if (pick(0, 6) == 0) j.demand.gpu_models = {pick(0, 2) == 0 ? "V100" : pick(0, 1) ? "A100" : "T4"};
      if (pending && pick(0, 30) == 0) j.demand.gpu_models = {"H100"};  // no such node
      j.project = projects[pick(0, 4)];
      j.user = "u" + std::to_string(pick(0, 2));
      return j;
    };
    // Running jobs: what a fifo pass places from a first queue.
    {
      ClusterSnapshot first = w.snap;
      std::vector<const Job*> queue;
      for (int i = 0; i < 30; ++i) queue.push_back(&new_job(false));
      for (const Job* j : queue) {
        JobEntry e;
        e.job = j;
        first.pending.push_back(e);
      }
      Scheduler s(MakePolicy("fifo").value(), MakePlacer("bestfit").value(), SchedulerConfig{true, false});
      Rng rng(seed);
      Decisions d = s.Decide(first, 0, rng);
      for (const auto& p : d.placed) {
        const Job* job = nullptr;
        for (const Job* j : queue)
          if (j->id == p.job) job = j;
        JobEntry e;
        e.job = job;
        e.started = pick(0, 4000);
        e.attained_gpu_s = pick(0, 3) == 0 ? 40000 : pick(0, 5000);
        e.allocation = p.allocation;
        Apply(w.snap.nodes, e.allocation);
        w.snap.running.push_back(e);
      }
    }
    for (int i = 0; i < 60; ++i) {
      const Job& j = new_job(true);
      const Seconds attained = pick(0, 3) == 0 ? 50000 : pick(0, 4000);
      const Seconds queued_since = pick(0, 4) == 0 ? 0 : pick(1000, 5000);
      w.Pend(j, attained, queued_since);
    }
    if (pick(0, 1)) w.snap.nodes[pick(0, 8)].schedulable = false;
    if (pick(0, 1)) {
      for (int i = 0; i < static_cast<int>(w.snap.specs.size()); ++i)
        w.snap.tie_rank.push_back(static_cast<int>(w.snap.specs.size()) - i);
    }
    for (size_t t = 0; t < projects.size(); ++t)
      for (int u = 0; u < 3; ++u) {
        const double used = 1000.0 * pick(0, 50);
        ledger.Charge(projects[t], "u" + std::to_string(u), used, pick(0, 4000));
      }
    w.snap.usage = &ledger;

    org.programme_shares = {{"a", 3}, {"b", 1}};
    org.weights.Set("A100", 2000);
    org.weights.Set("T4", 500);
    org.default_time_limit = pick(1, 10) * 3600;
    for (int p = 0; p < 4; ++p) {
      ProjectLimits& l = org.projects["p" + std::to_string(p)];
      l.programme = p < 2 ? "a" : "b";
      l.share = 1 + p;
      l.guaranteed_gpus = pick(0, 12);
      if (pick(0, 2)) l.max_gpus = l.guaranteed_gpus + pick(0, 16);
      if (pick(0, 2) == 0) l.grant_left = static_cast<NormUnits>(pick(0, 40)) * kNormPerGpuHour;
    }
  }
};

std::string Dump(const Decisions& d, std::uint64_t next_random) {
  std::string s;
  for (const auto& p : d.placed) {
    s += fmt::format("place {}{}:", p.job, p.backfilled ? " backfilled" : "");
    for (const auto& sh : p.allocation.shares)
      s += fmt::format(" n{}[{}]x{} cpu {} mem {}", sh.node, fmt::join(sh.gpu_indices, ","), sh.gpu_milli,
                       sh.cpu_milli, sh.mem_mib);
    s += "\n";
  }
  for (const auto& p : d.preempted) s += fmt::format("preempt {}: {}\n", p.job, p.reason);
  for (const auto& w : d.waiting)
    s += fmt::format("wait {} {}: {} | start {} | ahead {} {} | {} {}\n", w.job, ToString(w.reason), WaitMessage(w),
                     w.estimated_start ? fmt::format("{}", *w.estimated_start) : "-", w.jobs_ahead,
                     w.gpu_hours_ahead, ToString(w.confidence), w.confidence_text);
  for (const auto& r : d.rejected) s += fmt::format("reject {}: {}\n", r.job, r.reason);
  s += fmt::format("rng {}\n", next_random);
  return s;
}

std::string Hex(std::uint64_t v) { return fmt::format("{:016x}", v); }

std::uint64_t Fnv1a(std::uint64_t h, const std::string& s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

TEST(DecisionsGolden, EveryAnswerOfAPassMatchesThePinnedDigest) {
  constexpr int kScenarios = 12;
  std::vector<Config> configs;
  for (const std::string policy : {"fifo", "sjf", "tiresias", "fairshare"})
    for (const std::string placer : {"bestfit", "random", "packing", "fgd"})
      for (bool backfill : {false, true})
        for (bool explain : {false, true})
          for (bool org : {false, true}) configs.push_back({policy, placer, backfill, explain, org});

  nlohmann::json got;
  Counts total;
  std::string dump;
  for (const Config& c : configs) {
    std::uint64_t h = 14695981039346656037ull;
    for (int seed = 1; seed <= kScenarios; ++seed) {
      Scenario sc(seed);
      if (c.org) sc.w.snap.org = &sc.org;
      Scheduler s(MakePolicy(c.policy).value(), MakePlacer(c.placer).value(), SchedulerConfig{c.backfill, c.explain});
      for (const auto& e : sc.w.snap.pending) s.Observe(*e.job);
      Rng rng(seed * 7919);
      Decisions d = s.Decide(sc.w.snap, sc.now, rng);
      total.Add(d);
      const std::string text = Dump(d, rng());
      h = Fnv1a(h, text);
      dump += fmt::format("== {} seed {}\n{}", c.Name(), seed, text);
    }
    got["digests"][c.Name()] = Hex(h);
  }
  for (const auto& [k, v] : total.n) got["counts"][k] = v;

  if (const char* path = std::getenv("KOJO_DUMP_DECISIONS")) std::ofstream(path) << dump;
  const std::string path = std::string(KOJO_TESTDATA_DIR) + "/decisions/sched-decisions.json";
  const char* update = std::getenv("KOJO_UPDATE_GOLDEN");
  if (update && std::string(update) == "1") {
    std::ofstream(path) << got.dump(2) << "\n";
    GTEST_SKIP() << "wrote " << path;
  }
  std::ifstream f(path);
  ASSERT_TRUE(f) << "missing " << path << " (run with KOJO_UPDATE_GOLDEN=1 to create it)";
  nlohmann::json want = nlohmann::json::parse(f, nullptr, false);
  ASSERT_FALSE(want.is_discarded()) << path;
  EXPECT_EQ(want["counts"], got["counts"]);
  for (const Config& c : configs) EXPECT_EQ(want["digests"][c.Name()], got["digests"][c.Name()]) << c.Name();
}

}  // namespace
}  // namespace kojo
