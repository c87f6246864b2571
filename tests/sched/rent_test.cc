// PlanRent, the pure renting decision: what it rents, and what it says to
// the jobs it does not rent for. Money in whole units here (x kMoneyUnit).
#include "sched/rent.h"

#include <deque>

#include <gtest/gtest.h>

namespace kojo {
namespace {

constexpr Money U = kMoneyUnit;
constexpr Seconds H = 3600;

class PlanRentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Provider p;
    p.name = "cloud";
    p.node.gpu_model = "H100";
    p.node.gpus = 8;
    p.node.cpu_milli = 64000;
    p.node.mem_mib = 512 * 1024;
    p.price_per_gpu_hour = 2 * U;
    p.max_nodes = 4;
    p.startup_s = 600;
    policy_.providers.push_back(p);
    policy_.accounts["project p"] = RentTerms{1000 * U, 4 * U};
    in_.policy = &policy_;
    in_.now = 100 * H;
    in_.providers.resize(1);
    in_.left["project p"] = 1000 * U;
  }
  // A waiting job of `gpus` GPUs, time limit `limit`, estimated to start `wait` from now.
  void Wait(JobId id, int gpus, Seconds limit, std::optional<Seconds> wait, std::string account = "project p") {
    Job j;
    j.id = id;
    j.project = "p";
    j.demand.gpus = gpus;
    j.demand.nodes.account = std::move(account);
    j.time_limit = limit;
    jobs_.push_back(j);
    in_.waiting.push_back(RentCandidate{&jobs_.back(), wait ? std::optional<Seconds>(in_.now + *wait) : std::nullopt});
  }
  std::string NoteOf(const RentPlan& plan, JobId id) const {
    for (const RentNote& n : plan.notes)
      if (n.job == id) return n.text;
    return "";
  }

  RentPolicy policy_;
  RentInput in_;
  std::deque<Job> jobs_;
};

TEST_F(PlanRentTest, RentsWhenTheWaitingSavedIsWorthMoreThanTheRent) {
  // 8 GPUs x (10 h - 10 min) x 4 = 314.67 of waiting saved; the rent is
  // 2 x 8 x (1 h + 10 min) = 18.67.
  Wait(1, 8, H, 10 * H);
  RentPlan plan = PlanRent(in_);
  ASSERT_EQ(plan.orders.size(), 1u);
  EXPECT_EQ(plan.orders[0].provider, 0);
  EXPECT_EQ(plan.orders[0].account, "project p");
  EXPECT_EQ(plan.orders[0].jobs, std::vector<JobId>{1});
  EXPECT_EQ(plan.orders[0].planned_s, H + 600);
  EXPECT_EQ(plan.orders[0].cost, RentFor(2 * U, 8, H + 600));
  EXPECT_NEAR(static_cast<double>(plan.orders[0].value), 8.0 * (10.0 - 1.0 / 6) * 4 * U, U / 100.0);
  EXPECT_NE(NoteOf(plan, 1).find("being rented"), std::string::npos) << NoteOf(plan, 1);
}

TEST_F(PlanRentTest, ShortWaitsAreNotWorthTheRent) {
  // 20 minutes of waiting, 10 of them spent starting the node: 8 x 1/6 h x 4
  // = 5.33 saved for a rent of 18.67.
  Wait(1, 8, H, 20 * 60);
  RentPlan plan = PlanRent(in_);
  EXPECT_TRUE(plan.orders.empty());
  EXPECT_EQ(NoteOf(plan, 1), "not renting: renting a node of cloud would cost 18.67 for 5.33 of waiting saved");
  // A wait shorter than the start-up saves nothing at all.
  in_.waiting.clear();
  Wait(2, 8, H, 300);
  EXPECT_TRUE(PlanRent(in_).orders.empty());
}

TEST_F(PlanRentTest, NeverSpendsMoreThanTheAccountHasLeft) {
  in_.left["project p"] = 10 * U;  // the node would cost 18.67
  Wait(1, 8, H, 10 * H);
  RentPlan plan = PlanRent(in_);
  EXPECT_TRUE(plan.orders.empty());
  EXPECT_EQ(NoteOf(plan, 1),
            "not renting: project p has 10.00 left for rented capacity; a node of cloud would cost 18.67");
  // Two nodes' worth of jobs with money for one: the first is rented.
  in_.waiting.clear();
  in_.left["project p"] = 20 * U;
  Wait(2, 8, H, 10 * H);
  Wait(3, 8, H, 10 * H);
  plan = PlanRent(in_);
  ASSERT_EQ(plan.orders.size(), 1u);
  EXPECT_EQ(plan.orders[0].jobs, std::vector<JobId>{2});
  EXPECT_NE(NoteOf(plan, 3).find("has 1.33 left"), std::string::npos) << NoteOf(plan, 3);
}

TEST_F(PlanRentTest, JobsThatOptedOutOrHaveNoAccountAreNotCandidates) {
  Wait(1, 8, H, 10 * H, "");
  Wait(2, 8, H, 10 * H);
  jobs_.back().demand.nodes.no_rent = true;
  RentPlan plan = PlanRent(in_);
  EXPECT_TRUE(plan.orders.empty());
  EXPECT_EQ(NoteOf(plan, 1), "project p has no budget for rented capacity");
  EXPECT_EQ(NoteOf(plan, 2), "it opted out of rented capacity (--no-rent)");
}

TEST_F(PlanRentTest, FillsNodesStartingForTheAccountBeforeRentingMore) {
  StartingNode s;
  s.node = 7;
  s.provider = 0;
  s.account = "project p";
  s.name = "cloud-1";
  s.ready_at = in_.now + 240;
  NodeSpec spec = policy_.providers[0].node;
  s.free = NodeState::Empty(spec);
  in_.starting.push_back(s);
  in_.providers[0].rented = 1;
  Wait(1, 4, H, 10 * H);
  Wait(2, 4, H, 10 * H);
  Wait(3, 4, H, 10 * H);  // no room left on cloud-1: a node is rented for it
  RentPlan plan = PlanRent(in_);
  EXPECT_EQ(NoteOf(plan, 1), "waits for rented node cloud-1 to come up (in about 4 min)");
  EXPECT_EQ(NoteOf(plan, 2), "waits for rented node cloud-1 to come up (in about 4 min)");
  ASSERT_EQ(plan.orders.size(), 1u);
  EXPECT_EQ(plan.orders[0].jobs, std::vector<JobId>{3});
  // Another account's starting node is not theirs to fill.
  in_.starting[0].account = "project q";
  in_.waiting.resize(1);
  plan = PlanRent(in_);
  ASSERT_EQ(plan.orders.size(), 1u);
}

TEST_F(PlanRentTest, PacksWaitingJobsOntoOneNodeAndAddsUpTheirValue) {
  // Each 2-GPU job alone saves 2 x (50 min) x 4 = 6.67 < the node's rent of
  // 18.67; four of them on one node save 26.67 > 18.67.
  for (JobId id = 1; id <= 4; ++id) Wait(id, 2, H, H);
  RentPlan plan = PlanRent(in_);
  ASSERT_EQ(plan.orders.size(), 1u);
  EXPECT_EQ(plan.orders[0].jobs, (std::vector<JobId>{1, 2, 3, 4}));
  in_.waiting.resize(2);  // two save 13.33: not worth it
  EXPECT_TRUE(PlanRent(in_).orders.empty());
}

TEST_F(PlanRentTest, ChoosesTheCheapestProviderThatIsAvailableAndBelowItsMostNodes) {
  Provider cheap = policy_.providers[0];
  cheap.name = "cheap";
  cheap.price_per_gpu_hour = U;
  cheap.max_nodes = 1;
  policy_.providers.push_back(cheap);
  in_.providers.resize(2);
  Wait(1, 8, H, 10 * H);
  Wait(2, 8, H, 10 * H);
  RentPlan plan = PlanRent(in_);
  ASSERT_EQ(plan.orders.size(), 2u);
  EXPECT_EQ(plan.orders[0].provider, 1);  // cheap, then its one node is taken
  EXPECT_EQ(plan.orders[1].provider, 0);
  // Backing off after failures: the other one.
  in_.providers[1].available_at = in_.now + 120;
  in_.providers[1].unavailable_reason = "start program exited with status 1";
  in_.providers[0].rented = 4;  // and cloud is full
  plan = PlanRent(in_);
  EXPECT_TRUE(plan.orders.empty());
  EXPECT_EQ(NoteOf(plan, 1), "not renting: provider cheap is unavailable for 2 min (start program exited with status 1)");
}

TEST_F(PlanRentTest, UnknownWaitsAreTheLongestAheadAtLeastTheFloor) {
  policy_.unknown_wait_s = 2 * H;
  Wait(1, 8, H, std::nullopt);  // 2 h assumed: 8 x 1h50 x 4 = 58.67 > 18.67
  RentPlan plan = PlanRent(in_);
  ASSERT_EQ(plan.orders.size(), 1u);
  EXPECT_NEAR(static_cast<double>(plan.orders[0].value), 8 * (2 - 1.0 / 6) * 4.0 * U, U / 100.0);
  policy_.unknown_wait_s = 0;  // and with no floor and nothing ahead, no reason to rent
  EXPECT_TRUE(PlanRent(in_).orders.empty());
}

TEST_F(PlanRentTest, TheAlwaysBaselineRentsForEveryWaitingJob) {
  policy_.always = true;
  in_.left["project p"] = 0;
  Wait(1, 8, H, 300);
  RentPlan plan = PlanRent(in_);
  ASSERT_EQ(plan.orders.size(), 1u);
  EXPECT_EQ(plan.orders[0].jobs, std::vector<JobId>{1});
}

TEST_F(PlanRentTest, JobsNoProviderCanHoldAreLeftAlone) {
  Wait(1, 16, H, 10 * H);  // more GPUs than a rented node has
  Wait(2, 8, H, 10 * H);
  jobs_.back().demand.gpu_models = {"A100"};
  RentPlan plan = PlanRent(in_);
  EXPECT_TRUE(plan.orders.empty());
  EXPECT_TRUE(plan.notes.empty());
}

}  // namespace
}  // namespace kojo
