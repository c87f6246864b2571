// kojo sim with partner providers: the renting decision of the cluster
// state, replayed on a simulated clock.
#include <gtest/gtest.h>

#include "model/cluster.h"
#include "sim/report.h"
#include "sim/simulator.h"

namespace kojo {
namespace {

constexpr Seconds H = 3600;

// Eight jobs of one node's GPUs for two hours each, all at once, on a
// cluster of one such node: without renting the last starts after 14 h.
std::vector<Job> Burst() {
  std::vector<Job> jobs;
  for (JobId id = 1; id <= 8; ++id) {
    Job j;
    j.id = id;
    j.submit_time = 0;
    j.demand.gpus = 8;
    j.true_duration = 2 * H;
    j.time_limit = 2 * H;
    j.project = "p";
    jobs.push_back(j);
  }
  return jobs;
}

RentPolicy Rent(Money value, Money budget = 1'000'000 * kMoneyUnit) {
  RentPolicy r;
  Provider p;
  p.name = "cloud";
  p.node.gpu_model = "A100";
  p.node.gpus = 8;
  p.node.cpu_milli = 64000;
  p.node.mem_mib = 512 * 1024;
  p.price_per_gpu_hour = 2 * kMoneyUnit;
  p.max_nodes = 3;
  p.startup_s = 600;
  p.idle_timeout_s = 600;
  r.providers.push_back(p);
  r.accounts["pool"] = RentTerms{budget, value};
  r.default_account = "pool";
  return r;
}

SimResult Replay(const RentPolicy* rent) {
  auto pol = MakePolicy("fifo");
  auto pl = MakePlacer("packing");
  Scheduler s(std::move(*pol), std::move(*pl), SchedulerConfig{});
  SimConfig cfg;
  cfg.rent = rent;
  cfg.rent_interval_s = 60;
  auto nodes = ParseClusterSpec("1x8xA100");
  auto r = Simulate(*nodes, Burst(), s, cfg);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? std::move(*r) : SimResult{};
}

TEST(SimRent, RentingWhenWaitingIsWorthItShortensWaitsAndCostsMoney) {
  const SimResult owned = Replay(nullptr);
  EXPECT_EQ(owned.metrics.completed, 8);
  EXPECT_EQ(owned.metrics.avg_wait_s, 7 * H);  // 0, 2, ..., 14 h
  EXPECT_EQ(owned.metrics.rent_cost, 0);

  const RentPolicy rent = Rent(10 * kMoneyUnit);
  const SimResult rented = Replay(&rent);
  EXPECT_EQ(rented.metrics.completed, 8);
  EXPECT_EQ(rented.metrics.rented_nodes, 3);  // its most nodes
  EXPECT_LT(rented.metrics.avg_wait_s, owned.metrics.avg_wait_s / 2);
  EXPECT_GT(rented.metrics.rent_cost, 0);
  // Each node is paid from its start to its release: at least 2 h of 8 GPUs.
  EXPECT_GE(rented.metrics.rented_gpu_hours, 3 * 8 * 2);
  EXPECT_NEAR(rented.metrics.rent_cost, rented.metrics.rented_gpu_hours * 2, 0.5);
  // The JSON keys kojo sim prints.
  const auto j = MetricsToJson(rented.metrics);
  EXPECT_EQ(j.at("rent_cost").get<double>(), rented.metrics.rent_cost);
  EXPECT_EQ(j.at("rented_gpu_hours").get<double>(), rented.metrics.rented_gpu_hours);
}

TEST(SimRent, NoValueOfWaitingRentsNothingAndChangesNothing) {
  const SimResult owned = Replay(nullptr);
  const RentPolicy rent = Rent(0);
  const SimResult r = Replay(&rent);
  EXPECT_EQ(r.metrics.rented_nodes, 0);
  EXPECT_EQ(r.metrics.avg_wait_s, owned.metrics.avg_wait_s);
  EXPECT_EQ(r.metrics.rent_cost, 0);
}

TEST(SimRent, TheBudgetIsNeverOverspent) {
  const RentPolicy rent = Rent(10 * kMoneyUnit, 50 * kMoneyUnit);  // about 3 GPU-hours of 8 GPUs at 2
  const SimResult r = Replay(&rent);
  EXPECT_LE(r.metrics.rent_cost, 50.0);
  EXPECT_EQ(r.metrics.completed, 8);  // evicted jobs are requeued and finish on owned GPUs
}

TEST(SimRent, TheAlwaysBaselineRentsForAnyWait) {
  RentPolicy rent = Rent(0);
  rent.always = true;
  const SimResult r = Replay(&rent);
  EXPECT_EQ(r.metrics.rented_nodes, 3);
  EXPECT_GT(r.metrics.rent_cost, 0);
}

}  // namespace
}  // namespace kojo
