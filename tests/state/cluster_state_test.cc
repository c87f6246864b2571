// The cluster state machine on its own: events in, passes, what changed.
// No clock, no threads: each test gives the time.
#include "state/cluster_state.h"

#include <algorithm>
#include <deque>

#include <gtest/gtest.h>

#include "model/cluster.h"
#include "sched/fixtures.h"
#include "state_fixture.h"

namespace kojo {
namespace {

class ClusterStateTest : public testing::StateTest {
 protected:
  void SetUp() override { Use("fifo", "2x4xA100"); }
  const Job& NewJob(JobId id, int gpus, std::optional<Seconds> limit = std::nullopt,
                    const std::string& project = "p") {
    return MakeJob(id, gpus, limit, project);
  }
};

TEST_F(ClusterStateTest, StartsWhatFitsAndFreesItAtTheEnd) {
  Submit(NewJob(1, 4), 0);
  Submit(NewJob(2, 4), 0);
  Submit(NewJob(3, 4), 0);
  Changes c = Pass(10);
  EXPECT_TRUE(c.decided);
  EXPECT_EQ(StartedIds(c), (std::vector<JobId>{1, 2}));
  ASSERT_NE(WaitOf(c, 3), nullptr);
  EXPECT_EQ(WaitOf(c, 3)->reason, WaitReason::kResources);
  EXPECT_TRUE(state_->Running(1));
  EXPECT_TRUE(state_->Waiting(3));
  EXPECT_EQ(state_->busy_milli(), 8 * kWholeGpu);

  // Nothing is free: the pass is skipped, unless forced.
  EXPECT_FALSE(Pass(11).decided);
  PassOptions forced;
  forced.force = true;
  EXPECT_TRUE(state_->Pass(11, rng_, forced).decided);

  const Settled s = state_->Finish(1, 110, /*requeue=*/false);
  EXPECT_EQ(s.started, 10);
  EXPECT_EQ(s.ran, 100);
  EXPECT_EQ(s.attained_gpu_s, 400);
  EXPECT_FALSE(state_->Running(1));
  EXPECT_EQ(StartedIds(Pass(110)), (std::vector<JobId>{3}));
  // Fair share saw the run: 400 GPU-seconds (decayed by nothing yet).
  EXPECT_NEAR(state_->fair().Project("p", 110), 400, 1e-6);
}

TEST_F(ClusterStateTest, ARequeuedJobKeepsItsAttainedServiceAndQueuesAgain) {
  Submit(NewJob(1, 2), 0);
  ASSERT_EQ(StartedIds(Pass(0)), (std::vector<JobId>{1}));
  state_->Finish(1, 50, /*requeue=*/true);
  EXPECT_TRUE(state_->Waiting(1));
  ASSERT_EQ(state_->snapshot().pending.size(), 1u);
  const JobEntry& e = state_->snapshot().pending[0];
  EXPECT_EQ(e.attained_gpu_s, 100);
  EXPECT_EQ(e.queued_since, 50);
  EXPECT_EQ(e.last_run_s, 50);
}

TEST_F(ClusterStateTest, EachMemberHasOneIdThroughRunsAndRequeues) {
  Submit(NewJob(1, 4, std::nullopt, "p"), 0);
  Submit(NewJob(2, 4, std::nullopt, "q"), 0);
  Job& other_user = MakeJob(3, 4, std::nullopt, "p");
  other_user.user = "v";
  Submit(other_user, 0);
  Submit(NewJob(4, 4, std::nullopt, "p"), 0);
  auto id_of = [&](JobId id) {
    for (const auto* v : {&state_->snapshot().pending, &state_->snapshot().running})
      for (const JobEntry& e : *v)
        if (e.job->id == id) return e.member_id;
    return -2;
  };
  const int p_u = id_of(1);
  EXPECT_GE(p_u, 0);
  EXPECT_EQ(id_of(4), p_u);
  EXPECT_NE(id_of(2), p_u);
  EXPECT_NE(id_of(3), p_u);
  EXPECT_NE(id_of(3), id_of(2));
  ASSERT_EQ(StartedIds(Pass(0)), (std::vector<JobId>{1, 2}));
  EXPECT_EQ(id_of(1), p_u);  // running
  state_->Finish(1, 50, /*requeue=*/true);
  EXPECT_EQ(id_of(1), p_u);  // queued again
}

TEST_F(ClusterStateTest, HeldAndCancelledJobsLeaveTheQueue) {
  Submit(NewJob(1, 1), 0);
  Submit(NewJob(2, 1), 0);
  state_->Dequeue(1);
  EXPECT_FALSE(state_->Waiting(1));
  EXPECT_EQ(StartedIds(Pass(1)), (std::vector<JobId>{2}));
}

TEST_F(ClusterStateTest, AnArrayRunsAtMostItsLimitAtOnce) {
  for (JobId id = 1; id <= 4; ++id) Submit(NewJob(id, 1), 0, /*array=*/1, /*max_running=*/2);
  Changes c = Pass(0);
  EXPECT_EQ(StartedIds(c), (std::vector<JobId>{1, 2}));
  for (JobId id : {3, 4}) {
    const Wait* w = WaitOf(c, id);
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w->reason, WaitReason::kArrayLimit);
    EXPECT_EQ(w->message, "array 1 runs at most 2 tasks at once");
  }
  state_->Finish(1, 5, false);
  EXPECT_EQ(StartedIds(Pass(5)), (std::vector<JobId>{3}));
  // A stopping task still counts against the limit until it ends.
  state_->Stop(2);
  EXPECT_TRUE(StartedIds(Pass(6)).empty());
}

TEST_F(ClusterStateTest, JobsThatCanNeverRunAreKnownAtOnce) {
  EXPECT_TRUE(state_->Infeasible(NewJob(1, 9)));  // 2x4 holds 8 GPUs in all
  EXPECT_FALSE(state_->Infeasible(NewJob(2, 4)));
  // A node with 8 GPUs joins: the answer changes.
  NodeSpec big;
  big.name = "big";
  big.gpu_model = "A100";
  big.gpus = 8;
  big.cpu_milli = 64000;
  big.mem_mib = 512 * 1024;
  state_->AddNode(big);
  EXPECT_FALSE(state_->Infeasible(NewJob(3, 9)));
}

TEST_F(ClusterStateTest, WaitsNameNodesOutOfService) {
  Use("fifo", "1x8xH100+1x4xA100");
  Changes c;
  NodeSpec big = state_->snapshot().specs[0];
  state_->SetNode(0, big, NodeService::kDraining);
  Submit(NewJob(4, 8), 0);
  PassOptions o;
  o.explain = o.force = true;
  c = state_->Pass(2, rng_, o);
  const Wait* w = WaitOf(c, 4);
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->reason, WaitReason::kNodeDrain);
  EXPECT_NE(w->message.find(big.name), std::string::npos) << w->message;
  EXPECT_FALSE(w->estimated_start);
  state_->SetNode(0, big, NodeService::kDown);
  c = state_->Pass(3, rng_, o);
  ASSERT_NE(WaitOf(c, 4), nullptr);
  EXPECT_EQ(WaitOf(c, 4)->reason, WaitReason::kNodeDown);
  state_->SetNode(0, big, NodeService::kUp);
  EXPECT_EQ(StartedIds(Pass(4)), (std::vector<JobId>{4}));
}

TEST_F(ClusterStateTest, ANodeThatChangesShapeKeepsWhatRunsOnIt) {
  Submit(NewJob(1, 3), 0);
  ASSERT_EQ(StartedIds(Pass(0)).size(), 1u);
  const NodeIndex n = state_->snapshot().running[0].allocation.shares[0].node;
  NodeSpec spec = state_->snapshot().specs[n];
  spec.gpus = 8;  // its agent registered again with more GPUs
  state_->SetNode(n, spec, NodeService::kUp);
  EXPECT_EQ(state_->snapshot().nodes[n].GpuMilliFree(), 5 * kWholeGpu);
}

TEST_F(ClusterStateTest, NothingStartsOnGpusAPreemptedJobStillHolds) {
  Use("tiresias", "1x4xA100");
  // A long-running job in a low-priority queue holds the whole node.
  const Job& old = NewJob(1, 4);
  QueuedJob q;
  q.job = &old;
  q.attained_gpu_s = 10'000'000;
  Allocation all;
  all.shares.push_back(NodeShare{0, {0, 1, 2, 3}, kWholeGpu, 0, 0});
  state_->Restore(1, q, all, 0, "", 0);
  Submit(NewJob(2, 2), 100);
  Submit(NewJob(3, 2), 100);
  Changes c = Pass(100);
  ASSERT_EQ(c.preempted.size(), 1u);
  EXPECT_EQ(c.preempted[0].job, 1);
  // Job 1 is stopping and still holds its four GPUs: nothing starts on them
  // (job 3, which the scheduler placed on the two left over, waits).
  EXPECT_FALSE(c.violation) << *c.violation;
  EXPECT_TRUE(c.started.empty());
  state_->Stop(1);
  EXPECT_TRUE(Pass(101).preempted.empty());  // a stopping job is not preempted twice
  state_->Finish(1, 102, /*requeue=*/true);
  EXPECT_EQ(StartedIds(Pass(102)), (std::vector<JobId>{2, 3}));
  EXPECT_TRUE(state_->Waiting(1));
}

class MeteredStateTest : public ClusterStateTest {
 protected:
  void SetUp() override {
    Use("fifo", "1x8xA100");
    ClusterOrg org;
    org.policy.projects["vision"].programme = "research";
    org.policy.default_time_limit = 3600;
    // One GPU-hour each; the sooner grant is chosen first.
    org.grants.push_back(Grant{"late", "vision", "research", kNormPerGpuHour, 0, 2000});
    org.grants.push_back(Grant{"soon", "vision", "research", kNormPerGpuHour, 0, 1000});
    state_->SetOrg(org);
  }
};

TEST_F(MeteredStateTest, AStartReservesFromTheGrantEndingSoonestAndSettlesWhatItRan) {
  Submit(NewJob(1, 1, 3600, "vision"), 0);  // reserves one GPU-hour
  Changes c = Pass(0);
  ASSERT_EQ(c.started.size(), 1u);
  EXPECT_EQ(c.started[0].grant, "soon");
  EXPECT_EQ(c.started[0].reserved, kNormPerGpuHour);
  EXPECT_EQ(state_->GrantReserved("soon"), kNormPerGpuHour);

  // No single grant has two GPU-hours left: that job waits.
  Submit(NewJob(2, 2, 3600, "vision"), 0);
  c = Pass(1);
  EXPECT_TRUE(c.started.empty());
  ASSERT_NE(WaitOf(c, 2), nullptr);
  EXPECT_EQ(WaitOf(c, 2)->reason, WaitReason::kGrant);
  // One GPU-hour fits the later grant.
  Submit(NewJob(3, 1, 3600, "vision"), 0);
  state_->Dequeue(2);
  c = Pass(2);
  ASSERT_EQ(c.started.size(), 1u);
  EXPECT_EQ(c.started[0].grant, "late");

  // Job 1 ran 900 s: it is charged a quarter hour, its reservation freed.
  const Settled s = state_->Finish(1, 900, false);
  EXPECT_EQ(s.grant, "soon");
  EXPECT_EQ(s.charged, kNormPerGpuHour / 4);
  EXPECT_EQ(state_->GrantUsed("soon"), kNormPerGpuHour / 4);
  EXPECT_EQ(state_->GrantReserved("soon"), 0);
  // A run past its reservation is charged the reservation, never more.
  const Settled t = state_->Finish(3, 2 + 7200, false);
  EXPECT_EQ(t.charged, kNormPerGpuHour);
  EXPECT_EQ(state_->GrantUsed("late") + state_->GrantReserved("late"), kNormPerGpuHour);
}

TEST_F(MeteredStateTest, AnExpiredGrantNeverCounts) {
  Submit(NewJob(1, 1, 60, "vision"), 0);
  Changes c = Pass(5000);  // both grants have ended
  EXPECT_TRUE(c.started.empty());
  ASSERT_NE(WaitOf(c, 1), nullptr);
  EXPECT_EQ(WaitOf(c, 1)->reason, WaitReason::kGrant);
}

TEST_F(ClusterStateTest, DistinctNodesGiveEachTaskANodeOfItsOwn) {
  // 2 tasks of 2 GPUs fit one 4-GPU node: they share it unless each must
  // have its own (sbatch -N 2).
  Job& shared = const_cast<Job&>(NewJob(1, 4));
  shared.demand.tasks = 2;
  Submit(shared, 0);
  Changes c = Pass(1);
  ASSERT_EQ(c.started.size(), 1u);
  EXPECT_EQ(c.started[0].allocation.shares.size(), 1u);
  state_->Finish(1, 2, /*requeue=*/false);
  Job& spread = const_cast<Job&>(NewJob(2, 4));
  spread.demand.tasks = 2;
  spread.demand.distinct_nodes = true;
  Submit(spread, 2);
  c = Pass(3);
  ASSERT_EQ(c.started.size(), 1u);
  ASSERT_EQ(c.started[0].allocation.shares.size(), 2u);
  EXPECT_NE(c.started[0].allocation.shares[0].node, c.started[0].allocation.shares[1].node);
  // Three tasks on a two-node cluster can never run.
  Job& three = const_cast<Job&>(NewJob(3, 3));
  three.demand.tasks = 3;
  three.demand.distinct_nodes = true;
  EXPECT_TRUE(state_->Infeasible(three));
}

// ---- node features, partitions and node lists ----

NodeSpec FeatureNode(const std::string& name, const std::string& model, std::vector<std::string> features) {
  NodeSpec s;
  s.name = name;
  s.gpu_model = model;
  s.gpus = 4;
  s.cpu_milli = 32000;
  s.mem_mib = 256 * 1024;
  s.features = std::move(features);
  return s;
}

class NodeRuleStateTest : public ClusterStateTest {
 protected:
  void SetUp() override {
    sched_ = std::make_unique<Scheduler>(testing::MakeScheduler("fifo", "bestfit", /*backfill=*/true));
    state_ = std::make_unique<ClusterState>(*sched_, 3600);
    state_->AddNode(FeatureNode("a1", "A100", {"rack1"}));
    state_->AddNode(FeatureNode("a2", "A100", {"rack2", "nvlink"}));
    state_->AddNode(FeatureNode("h1", "H100", {"rack1", "ib"}));
  }
  Job& Fresh(JobId id, int gpus, std::optional<Seconds> limit = std::nullopt) {
    NewJob(id, gpus, limit);
    return jobs_.back();
  }
  Job& Constrained(JobId id, int gpus, const std::string& constraint) {
    Job& j = Fresh(id, gpus);
    EXPECT_TRUE(j.demand.nodes.SetConstraint(constraint).ok());
    return j;
  }
  std::string NodeOf(const Changes& c, JobId id) {
    for (const Started& s : c.started)
      if (s.job == id) return state_->snapshot().specs[s.allocation.shares[0].node].name;
    return "";
  }
};

TEST_F(NodeRuleStateTest, AConstraintPicksTheNodesWithItsFeatures) {
  Submit(Constrained(1, 2, "nvlink"), 0);
  Submit(Constrained(2, 2, "h100|rack9"), 0);  // the GPU model is a feature
  Submit(Constrained(3, 1, "rack1&a100"), 0);
  Changes c = Pass(1);
  EXPECT_EQ(NodeOf(c, 1), "a2");
  EXPECT_EQ(NodeOf(c, 2), "h1");
  EXPECT_EQ(NodeOf(c, 3), "a1");
}

TEST_F(NodeRuleStateTest, AJobWaitsForItsNodesEvenWhenOthersAreFree) {
  Submit(Constrained(1, 4, "ib"), 0);
  Submit(Constrained(2, 1, "ib"), 0);
  Changes c = Pass(1);
  EXPECT_EQ(StartedIds(c), (std::vector<JobId>{1}));
  const Wait* w = WaitOf(c, 2);
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->reason, WaitReason::kResources);
  EXPECT_NE(w->message.find("constraint ib"), std::string::npos) << w->message;
}

TEST_F(NodeRuleStateTest, NoMatchingNodeIsInfeasibleAndSaysWhy) {
  const Job& j = Constrained(1, 1, "v100");
  auto why = state_->Infeasible(j);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("no node matches its constraint v100"), std::string::npos) << *why;
  // Features that exist but never together.
  EXPECT_TRUE(state_->Infeasible(Constrained(2, 1, "nvlink&ib")));
  // A node with both joins: the cached answer is dropped.
  state_->AddNode(FeatureNode("x1", "A100", {"nvlink", "ib"}));
  EXPECT_FALSE(state_->Infeasible(Constrained(3, 1, "nvlink&ib")));
}

TEST_F(NodeRuleStateTest, NodeListAndExclude) {
  Job& a = Fresh(1, 1);
  a.demand.nodes.nodelist = {"h1"};
  Job& b = Fresh(2, 1);
  b.demand.nodes.exclude = {"a1", "a2"};
  Submit(a, 0);
  Submit(b, 0);
  Changes c = Pass(1);
  EXPECT_EQ(NodeOf(c, 1), "h1");
  EXPECT_EQ(NodeOf(c, 2), "h1");
}

TEST_F(NodeRuleStateTest, AMatchingOrKeepsAGangOnOneAlternative) {
  // 2 tasks of 4 GPUs: rack1 has a1 and h1, rack2 only a2. With a plain OR
  // the gang could straddle racks; with [rack1|rack2] it is all rack1.
  Job& j = Constrained(1, 8, "[rack2|rack1]");
  j.demand.tasks = 2;
  Submit(j, 0);
  Changes c = Pass(1);
  ASSERT_EQ(c.started.size(), 1u);
  std::vector<std::string> nodes;
  for (const NodeShare& s : c.started[0].allocation.shares) nodes.push_back(state_->snapshot().specs[s.node].name);
  std::sort(nodes.begin(), nodes.end());
  EXPECT_EQ(nodes, (std::vector<std::string>{"a1", "h1"}));
}

TEST_F(NodeRuleStateTest, PartitionsHoldNodesAndAdmitJobs) {
  Partition debug;
  debug.name = "debug";
  debug.nodes = {"a1"};
  debug.max_time = 600;
  debug.is_default = true;
  Partition hopper;
  hopper.name = "hopper";
  hopper.features = "h100";
  state_->SetPartitions({debug, hopper});
  EXPECT_EQ(state_->snapshot().specs[0].partitions, (std::vector<std::string>{"debug"}));
  EXPECT_EQ(state_->snapshot().specs[2].partitions, (std::vector<std::string>{"hopper"}));
  Job& j = Fresh(1, 1);
  auto admitted = state_->Admit(j);
  ASSERT_TRUE(admitted.ok());
  EXPECT_EQ(admitted->partitions, (std::vector<std::string>{"debug"}));
  EXPECT_EQ(admitted->time_limit, 600);
  j.demand.nodes.partitions = admitted->partitions;
  j.time_limit = admitted->time_limit;
  Job& k = Fresh(2, 1);
  k.demand.nodes.partitions = {"hopper"};
  Submit(j, 0);
  Submit(k, 0);
  Changes c = Pass(1);
  EXPECT_EQ(NodeOf(c, 1), "a1");
  EXPECT_EQ(NodeOf(c, 2), "h1");
  // Over a partition's limit: refused with the field named.
  Job& long_job = Fresh(3, 1, 3600);
  auto refused = state_->Admit(long_job);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("time_limit_s"), std::string::npos);
}

}  // namespace
}  // namespace kojo
