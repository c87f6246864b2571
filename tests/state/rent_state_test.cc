// The cluster state's renting: slots, the life of a rented node (starting,
// up, idle, given back), paid time and budgets, back-off after failed
// starts, and jobs that must stay on owned nodes. No clock: each step gives
// the time.
#include <deque>

#include <gtest/gtest.h>

#include "model/cluster.h"
#include "sched/fixtures.h"
#include "state/cluster_state.h"
#include "state_fixture.h"

namespace kojo {
namespace {

constexpr Money U = kMoneyUnit;
constexpr Seconds H = 3600;

class RentStateTest : public testing::StateTest {
 protected:
  void SetUp() override {
    Use("fifo", "1x8xA100");
    Provider p;
    p.name = "cloud";
    p.node.gpu_model = "A100";
    p.node.gpus = 8;
    p.node.cpu_milli = 64000;
    p.node.mem_mib = 512 * 1024;
    p.price_per_gpu_hour = 2 * U;
    p.max_nodes = 2;
    p.startup_s = 300;
    p.timeout_s = 900;
    p.idle_timeout_s = 600;
    policy_.providers.push_back(p);
    policy_.accounts["project p"] = RentTerms{1000 * U, 10 * U};
    policy_.account_of["p"] = "project p";
    state_->SetRent(policy_);
  }

  const Job& NewJob(JobId id, int gpus, Seconds limit, const std::string& project = "p") {
    Job& j = MakeJob(id, gpus, limit, project);
    j.demand.nodes.account = state_->RentAccountOf(project);
    return j;
  }
  // An explaining pass and a rent step, as kojod and kojo sim take them.
  RentChanges Step(Seconds now, Changes* changes = nullptr) {
    Changes c = Pass(now, /*explain=*/true, /*force=*/true);
    RentChanges r = state_->PlanRent(now, c.waiting);
    if (changes) *changes = std::move(c);
    return r;
  }
  const RentedNode& Slot(int i) const { return state_->rented().at(i); }

  RentPolicy policy_;
};

TEST_F(RentStateTest, ProvidersAddSlotsThatAreOffUntilRented) {
  ASSERT_EQ(state_->rented().size(), 2u);
  EXPECT_EQ(state_->node_count(), 3);
  EXPECT_EQ(state_->snapshot().specs[Slot(0).node].name, "cloud-1");
  EXPECT_EQ(state_->snapshot().specs[Slot(1).node].name, "cloud-2");
  EXPECT_EQ(state_->snapshot().specs[Slot(0).node].provider, "cloud");
  EXPECT_EQ(Slot(0).phase, RentPhase::kOff);
  EXPECT_FALSE(state_->snapshot().nodes[Slot(0).node].schedulable);
  // Setting the same policy again adds nothing.
  state_->SetRent(policy_);
  EXPECT_EQ(state_->node_count(), 3);
  // A job only a rented node could hold is not "never".
  Job big = NewJob(99, 8, H);
  big.demand.gpu_models = {"A100"};
  EXPECT_FALSE(state_->Infeasible(big));
}

TEST_F(RentStateTest, RentsForAQueueThatOutgrowsTheOwnedNodeAndGivesTheNodeBackWhenIdle) {
  Submit(NewJob(1, 8, 10 * H), 0);
  Submit(NewJob(2, 8, H), 0);
  Changes c;
  RentChanges r = Step(0, &c);
  EXPECT_EQ(StartedIds(c), std::vector<JobId>{1});
  ASSERT_EQ(r.start.size(), 1u);  // job 2 would wait 10 h: worth a node
  const NodeIndex n = r.start[0];
  EXPECT_EQ(n, Slot(0).node);
  EXPECT_EQ(Slot(0).phase, RentPhase::kStarting);
  EXPECT_EQ(Slot(0).account, "project p");
  EXPECT_EQ(Slot(0).paid_until, H + 300);
  EXPECT_EQ(state_->RentReserved("project p"), RentFor(2 * U, 8, H + 300));
  // While it starts, job 2 waits for it and nothing more is rented.
  r = Step(60);
  EXPECT_TRUE(r.start.empty());
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_EQ(r.notes[0].text, "waits for rented node cloud-1 to come up (in about 4 min)");

  state_->RentUp(n, 300);
  EXPECT_EQ(Slot(0).phase, RentPhase::kUp);
  r = Step(300, &c);
  EXPECT_EQ(StartedIds(c), std::vector<JobId>{2});
  EXPECT_EQ(c.started[0].allocation.shares[0].node, n);
  state_->Finish(2, 300 + 1800, /*requeue=*/false);
  // Idle less than its time-out: kept; then given back.
  EXPECT_TRUE(Step(2100).stop.empty());
  r = Step(2100 + 600);
  ASSERT_EQ(r.stop, std::vector<NodeIndex>{n});
  EXPECT_EQ(Slot(0).phase, RentPhase::kStopping);
  EXPECT_EQ(Slot(0).reason, "idle for 10 min");
  state_->RentStopped(n, 2700);
  EXPECT_EQ(Slot(0).phase, RentPhase::kOff);
  // Charged from the start program to the release: 2700 s of 8 GPUs at 2.
  EXPECT_EQ(state_->RentSpent("project p"), RentFor(2 * U, 8, 2700));
  EXPECT_EQ(state_->RentReserved("project p"), 0);
  EXPECT_EQ(state_->ProviderGpuSeconds(0), 8 * 2700);
}

TEST_F(RentStateTest, PaidTimeIsExtendedByTheHourWhileTheBudgetLastsThenTheNodeIsGivenBack) {
  // Money for the first 1h05 and one more hour, not two.
  policy_.accounts["project p"].budget = RentFor(2 * U, 8, H + 300) + RentFor(2 * U, 8, H) + U;
  state_->SetRent(policy_);
  Submit(NewJob(1, 8, 100 * H), 0);
  Submit(NewJob(2, 8, H), 0);  // asks for an hour, will run for longer (kojod would stop it)
  RentChanges r = Step(0);
  ASSERT_EQ(r.start.size(), 1u);
  const NodeIndex n = r.start[0];
  state_->RentUp(n, 300);
  Changes c;
  Step(300, &c);
  ASSERT_EQ(StartedIds(c), std::vector<JobId>{2});
  // 15 minutes before the paid time ends it is extended by an hour.
  Step(H + 300 - 15 * 60);
  EXPECT_EQ(Slot(0).paid_until, 2 * H + 300);
  EXPECT_FALSE(Slot(0).draining);
  // The next hour is beyond the budget: the node drains and, at the end of
  // its paid time, its job is evicted (to be requeued) and the node stopped.
  Step(2 * H + 300 - 15 * 60);
  EXPECT_TRUE(Slot(0).draining);
  EXPECT_FALSE(state_->snapshot().nodes[n].schedulable);
  r = Step(2 * H + 300);
  EXPECT_EQ(r.evict, std::vector<JobId>{2});
  EXPECT_EQ(r.stop, std::vector<NodeIndex>{n});
  EXPECT_LE(state_->RentSpent("project p") + state_->RentReserved("project p"),
            policy_.accounts["project p"].budget);
  EXPECT_EQ(state_->RentSpent("project p"), RentFor(2 * U, 8, 2 * H + 300));
}

TEST_F(RentStateTest, FailedStartsBackOffThenTheProviderIsUnavailable) {
  Submit(NewJob(1, 8, 10 * H), 0);
  Submit(NewJob(2, 8, H), 0);
  Seconds t = 0;
  for (int failure = 1; failure <= 3; ++failure) {
    RentChanges r = Step(t);
    ASSERT_EQ(r.start.size(), 1u) << "failure " << failure;
    state_->RentFailed(r.start[0], t + 10, "start program exited with status 1");
    EXPECT_EQ(Slot(0).phase, RentPhase::kStopping);
    state_->RentStopped(r.start[0], t + 11);
    // Backing off: 30 s, then 60 s; after the third, 15 minutes.
    r = Step(t + 12);
    EXPECT_TRUE(r.start.empty());
    ASSERT_EQ(r.notes.size(), 1u);
    EXPECT_NE(r.notes[0].text.find("provider cloud is unavailable"), std::string::npos) << r.notes[0].text;
    t += 10 + (failure < 3 ? (30 << (failure - 1)) : 15 * 60);
  }
  EXPECT_NE(Step(t - 1).notes[0].text.find("3 starts failed in a row"), std::string::npos);
  EXPECT_EQ(Step(t).start.size(), 1u);
}

TEST_F(RentStateTest, ANodeThatNeverRegistersIsStoppedAtTheTimeOut) {
  Submit(NewJob(1, 8, 10 * H), 0);
  Submit(NewJob(2, 8, H), 0);
  RentChanges r = Step(0);
  ASSERT_EQ(r.start.size(), 1u);
  EXPECT_TRUE(Step(900).stop.empty());
  r = Step(901);
  EXPECT_EQ(r.stop, std::vector<NodeIndex>{Slot(0).node});
  EXPECT_EQ(Slot(0).reason, "start failed: not registered within 15 min");
}

TEST_F(RentStateTest, JobsThatOptedOutAndOtherAccountsNeverRunOnARentedNode) {
  policy_.accounts["project q"] = RentTerms{1000 * U, 10 * U};
  policy_.account_of["q"] = "project q";
  state_->SetRent(policy_);
  Submit(NewJob(1, 8, 10 * H), 0);
  Submit(NewJob(2, 8, H), 0);
  RentChanges r = Step(0);
  ASSERT_EQ(r.start.size(), 1u);
  state_->RentUp(r.start[0], 300);
  // A job of p that opted out, and a job of q: neither may use p's node.
  Job& out = const_cast<Job&>(NewJob(3, 1, H));
  out.demand.nodes.no_rent = true;
  Submit(out, 300);
  Submit(NewJob(4, 1, H, "q"), 300);
  Changes c;
  Step(300, &c);
  EXPECT_EQ(StartedIds(c), std::vector<JobId>{2});
  EXPECT_TRUE(state_->Waiting(3));
}

TEST_F(RentStateTest, AnAbandonedStartIsSettledWithoutCountingAFailure) {
  Submit(NewJob(1, 8, 10 * H), 0);
  Submit(NewJob(2, 8, H), 0);
  RentChanges r = Step(0);
  ASSERT_EQ(r.start.size(), 1u);
  state_->RentAbandon(r.start[0], 120, "kojod restarted while it was starting: giving it back");
  EXPECT_EQ(Slot(0).phase, RentPhase::kStopping);
  EXPECT_EQ(state_->RentReserved("project p"), 0);
  EXPECT_EQ(state_->RentSpent("project p"), RentFor(2 * U, 8, 120));
  // Past the registration time-out nothing fails, and the provider is not
  // backing off: the job still waiting gets the other slot.
  RentChanges later = Step(2000);
  EXPECT_TRUE(later.stop.empty());
  ASSERT_EQ(later.start.size(), 1u);
  EXPECT_EQ(later.start[0], Slot(1).node);
  state_->RentStopped(r.start[0], 2001);
  EXPECT_EQ(Slot(0).phase, RentPhase::kOff);
}

TEST_F(RentStateTest, RecoveryRestoresASlotAndItsReservation) {
  RentedNode r;
  r.node = Slot(1).node;
  r.phase = RentPhase::kUp;
  r.account = "project p";
  r.started = 100;
  r.paid_until = 100 + H;
  r.reserved = RentFor(2 * U, 8, H);
  state_->RestoreRented(r);
  state_->ChargeRentSpent("project p", 5 * U);
  EXPECT_EQ(Slot(1).phase, RentPhase::kUp);
  EXPECT_EQ(state_->RentReserved("project p"), RentFor(2 * U, 8, H));
  EXPECT_EQ(state_->RentSpent("project p"), 5 * U);
  EXPECT_EQ(state_->RentSpent("project p", 100 + 1800), 5 * U + RentFor(2 * U, 8, 1800));
  EXPECT_TRUE(state_->snapshot().nodes[r.node].schedulable);
  EXPECT_EQ(state_->snapshot().specs[r.node].rent_account, "project p");
}

}  // namespace
}  // namespace kojo
