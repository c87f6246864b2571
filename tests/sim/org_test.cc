// Replays with an organisation: fair share across programmes converges to
// the configured shares; quotas and grants hold over a whole replay.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/cluster.h"
#include "sim/simulator.h"
#include "sim/synthetic.h"

namespace kojo {
namespace {

Scheduler FairShare() {
  auto pol = MakePolicy("fairshare");
  auto pl = MakePlacer("packing");
  EXPECT_TRUE(pol.ok() && pl.ok());
  return Scheduler(std::move(*pol), std::move(*pl), SchedulerConfig{});
}

// Three programmes, shares 50/30/20, two projects each; every project
// alone asks for half the cluster, so that each programme asks for the
// whole cluster: 2 to 5 times its share.
SimOrg ThreeProgrammes() {
  SimOrg org;
  org.policy.programme_shares = {{"alpha", 5}, {"beta", 3}, {"gamma", 2}};
  for (const char* prog : {"alpha", "beta", "gamma"})
    for (int k = 0; k < 2; ++k) org.policy.projects[std::string(prog) + std::to_string(k)].programme = prog;
  return org;
}

SyntheticSpec Workload() {
  SyntheticSpec spec;
  spec.projects = {"alpha0", "alpha1", "beta0", "beta1", "gamma0", "gamma1"};
  spec.cluster_gpus = 32;
  spec.load = 0.5;
  spec.horizon_s = 3 * 86400;
  spec.seed = 7;
  return spec;
}

// Share of busy GPU-time per programme over buckets [from, to).
std::map<std::string, double> MeanShare(const ProgrammeSeries& s, Seconds from, Seconds to) {
  std::map<std::string, double> out;
  int n = 0;
  for (size_t i = 0; i < s.t.size(); ++i) {
    if (s.t[i] < from || s.t[i] >= to) continue;
    ++n;
    for (size_t p = 0; p < s.programmes.size(); ++p) out[s.programmes[p]] += s.share[p][i];
  }
  for (auto& [name, v] : out) v /= std::max(1, n);
  return out;
}

TEST(OrgSim, FairShareConvergesToTheProgrammeShares) {
  const std::vector<Job> jobs = SyntheticWorkload(Workload());
  SimOrg org = ThreeProgrammes();
  SimConfig cfg;
  cfg.org = &org;
  cfg.series_points = 400;  // about an hour a point (the backlog drains for days)
  cfg.usage_half_life_s = 86400;
  Scheduler s = FairShare();
  auto r = Simulate(*ParseClusterSpec("4x8xH100"), jobs, s, cfg);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->programme_series.programmes, (std::vector<std::string>{"", "alpha", "beta", "gamma"}));
  // After a one-day warm-up, over the rest of the submit window (while
  // every programme still has work waiting), each programme's share of the
  // busy GPUs is within 3 points of its configured share.
  auto mean = MeanShare(r->programme_series, 86400, 3 * 86400);
  EXPECT_NEAR(mean["alpha"], 0.5, 0.03);
  EXPECT_NEAR(mean["beta"], 0.3, 0.03);
  EXPECT_NEAR(mean["gamma"], 0.2, 0.03);
  // And over every 12-hour window of it within 8 points.
  for (Seconds from = 86400; from < 3 * 86400; from += 43200) {
    auto w = MeanShare(r->programme_series, from, from + 43200);
    EXPECT_NEAR(w["alpha"], 0.5, 0.08) << "from t=" << from;
    EXPECT_NEAR(w["beta"], 0.3, 0.08) << "from t=" << from;
    EXPECT_NEAR(w["gamma"], 0.2, 0.08) << "from t=" << from;
  }
}

TEST(OrgSim, WithoutProgrammeSharesEachGetsAThird) {
  const std::vector<Job> jobs = SyntheticWorkload(Workload());
  SimOrg org = ThreeProgrammes();
  org.policy.programme_shares.clear();
  SimConfig cfg;
  cfg.org = &org;
  cfg.series_points = 72;
  cfg.usage_half_life_s = 86400;
  Scheduler s = FairShare();
  auto r = Simulate(*ParseClusterSpec("4x8xH100"), jobs, s, cfg);
  ASSERT_TRUE(r.ok());
  auto mean = MeanShare(r->programme_series, 86400, 3 * 86400);
  for (const char* p : {"alpha", "beta", "gamma"}) EXPECT_NEAR(mean[p], 1.0 / 3, 0.03) << p;
}

TEST(OrgSim, QuotaCapsAProjectThroughoutTheReplay) {
  SyntheticSpec spec = Workload();
  spec.horizon_s = 86400;
  const std::vector<Job> jobs = SyntheticWorkload(spec);
  SimOrg org = ThreeProgrammes();
  org.policy.projects["alpha0"].max_gpus = 8;
  SimConfig cfg;
  cfg.org = &org;
  cfg.record_runs = true;
  Scheduler s = FairShare();
  auto r = Simulate(*ParseClusterSpec("4x8xH100"), jobs, s, cfg);
  ASSERT_TRUE(r.ok());
  std::map<JobId, const Job*> by_id;
  for (const auto& j : jobs) by_id[j.id] = &j;
  // Sweep the runs of alpha0: never more than 8 GPUs at once.
  std::vector<std::pair<Seconds, int>> deltas;
  for (const auto& run : r->runs) {
    const Job& j = *by_id[run.job];
    if (j.project != "alpha0") continue;
    deltas.emplace_back(run.start, j.demand.gpus);
    deltas.emplace_back(run.end, -j.demand.gpus);
  }
  std::sort(deltas.begin(), deltas.end(), [](auto& a, auto& b) { return a.first != b.first ? a.first < b.first : a.second < b.second; });
  int now = 0, peak = 0;
  for (auto& [t, d] : deltas) peak = std::max(peak, now += d);
  EXPECT_EQ(peak, 8);
}

TEST(OrgSim, GrantsStopStartsWhenSpentAndChargeTrueRunTime) {
  // One project, one grant of 10 normalised GPU-hours; jobs of 1 GPU that
  // reserve 2 h each (time limit) but run 1 h: the grant pays for 10 runs.
  std::vector<Job> jobs;
  for (int i = 0; i < 30; ++i) {
    Job j;
    j.id = i + 1;
    j.project = "p";
    j.demand.gpus = 1;
    j.submit_time = i;
    j.true_duration = 3600;
    j.time_limit = 7200;
    jobs.push_back(j);
  }
  SimOrg org;
  org.policy.projects["p"].programme = "x";
  org.grants.push_back(Grant{"g", "p", "x", 10 * kNormPerGpuHour, 0, 1'000'000});
  SimConfig cfg;
  cfg.org = &org;
  Scheduler s = FairShare();
  auto r = Simulate(*ParseClusterSpec("1x4xA100"), jobs, s, cfg);
  ASSERT_TRUE(r.ok());
  int done = 0;
  for (const auto& j : r->jobs) done += j.outcome == JobOutcome::kCompleted;
  // 4 start (8 h reserved of 10), end after 1 h each: 6 h left, 3 start;
  // then 3 h left: 1; then 2 h: 1; then 1 h cannot cover a 2-hour
  // reservation. Charged by the reservation instead, only 5 would have run.
  EXPECT_EQ(done, 9);
  EXPECT_EQ(r->metrics.unfinished, 21);
}

}  // namespace
}  // namespace kojo
