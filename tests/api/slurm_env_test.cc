#include "api/slurm_env.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kojo::api {
namespace {

using ::testing::HasSubstr;

TEST(CompressHostlist, SlurmsDocumentedForms) {
  EXPECT_EQ(CompressHostlist({}), "");
  EXPECT_EQ(CompressHostlist({"gpu07"}), "gpu07");
  EXPECT_EQ(CompressHostlist({"login"}), "login");
  EXPECT_EQ(CompressHostlist({"gpu01", "gpu02", "gpu03", "gpu07"}), "gpu[01-03,07]");
  EXPECT_EQ(CompressHostlist({"tux1", "tux2", "tux3"}), "tux[1-3]");
  EXPECT_EQ(CompressHostlist({"linux0", "linux1", "linux2", "linux5", "linux6", "linux7", "linux8"}),
            "linux[0-2,5-8]");
  EXPECT_EQ(CompressHostlist({"n1", "n3", "n5"}), "n[1,3,5]");
}

TEST(CompressHostlist, KeepsZeroPaddingAndWidths) {
  EXPECT_EQ(CompressHostlist({"n09", "n10", "n11"}), "n[09-11]");
  EXPECT_EQ(CompressHostlist({"n9", "n10"}), "n[9-10]");
  EXPECT_EQ(CompressHostlist({"n001", "n002", "n099", "n100"}), "n[001-002,099-100]");
  // "1" and "02" are not one range: expanding "n[1-2]" would give n2.
  EXPECT_EQ(CompressHostlist({"n1", "n02"}), "n[1,02]");
}

TEST(CompressHostlist, SeveralPrefixesAndOrderKept) {
  EXPECT_EQ(CompressHostlist({"gpu01", "gpu02", "cpu1", "cpu2", "login"}), "gpu[01-02],cpu[1-2],login");
  EXPECT_EQ(CompressHostlist({"rack1-node3", "rack1-node4", "rack2-node3"}), "rack1-node[3-4],rack2-node3");
  // Rank order, not sorted: the first name stays rank 0's node.
  EXPECT_EQ(CompressHostlist({"n2", "n1"}), "n[2,1]");
  EXPECT_EQ(CompressHostlist({"a1", "b1", "a2"}), "a1,b1,a2");
  EXPECT_EQ(CompressHostlist({"node", "node1"}), "node,node1");
}

TEST(ExpandHostlist, SlurmsForms) {
  auto h = ExpandHostlist("gpu[01-03,07],cpu1,n[9-10]-ib");
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(*h, (std::vector<std::string>{"gpu01", "gpu02", "gpu03", "gpu07", "cpu1", "n9-ib", "n10-ib"}));
  EXPECT_EQ(CompressHostlist(*ExpandHostlist("gpu[01-03,07]")), "gpu[01-03,07]");
  for (const char* bad : {"gpu[01-", "gpu[3-1]", "gpu[a-b]", "n]1[", "a[1-2]b[1-2]"})
    EXPECT_FALSE(ExpandHostlist(bad).ok()) << bad;
  EXPECT_THAT(ExpandHostlist("n[1-100000]", 1000).error().message, HasSubstr("more than 1000 names"));
}

TEST(TasksPerNode, SlurmsRepetitionForm) {
  EXPECT_EQ(TasksPerNode({1}), "1");
  EXPECT_EQ(TasksPerNode({1, 1, 1}), "1(x3)");
  EXPECT_EQ(TasksPerNode({2, 2, 2, 1}), "2(x3),1");
}

Placement At(std::string node, std::vector<int> gpus, int rank) {
  Placement p;
  p.node = std::move(node);
  p.gpus = std::move(gpus);
  p.rank = rank;
  return p;
}

TEST(SlurmEnv, TwoNodeJob) {
  JobView v;
  v.id = 42;
  v.attempt = 1;
  v.spec.name = "train";
  v.spec.user = "alice";
  v.spec.project = "vision";
  v.spec.workdir = "/home/alice/run";
  v.spec.demand.gpus = 8;
  v.spec.demand.tasks = 2;
  v.spec.demand.cpu_milli = 16000;
  v.placement = {At("gpu03", {0, 1, 2, 3}, 0), At("gpu04", {4, 5, 6, 7}, 1)};
  const auto env = SlurmEnv(v, 1);
  const std::map<std::string, std::string> want = {
      {"SLURM_JOB_ID", "42"},
      {"SLURM_JOBID", "42"},
      {"SLURM_JOB_NAME", "train"},
      {"SLURM_JOB_USER", "alice"},
      {"SLURM_JOB_ACCOUNT", "vision"},
      {"SLURM_CLUSTER_NAME", "kojo"},
      {"SLURM_SUBMIT_DIR", "/home/alice/run"},
      {"SLURM_JOB_NODELIST", "gpu[03-04]"},
      {"SLURM_NODELIST", "gpu[03-04]"},
      {"SLURM_JOB_NUM_NODES", "2"},
      {"SLURM_NNODES", "2"},
      {"SLURM_NTASKS", "2"},
      {"SLURM_NPROCS", "2"},
      {"SLURM_TASKS_PER_NODE", "1(x2)"},
      {"SLURM_PROCID", "1"},
      {"SLURM_NODEID", "1"},
      {"SLURM_LOCALID", "0"},
      {"SLURM_CPUS_PER_TASK", "8"},
      {"SLURM_JOB_GPUS", "4,5,6,7"},
      {"SLURM_GPUS_ON_NODE", "4"},
  };
  EXPECT_EQ(env, want);
  const auto env0 = SlurmEnv(v, 0);
  EXPECT_EQ(env0.at("SLURM_PROCID"), "0");
  EXPECT_EQ(env0.at("SLURM_NODEID"), "0");
  EXPECT_EQ(env0.at("SLURM_JOB_GPUS"), "0,1,2,3");
}

TEST(SlurmEnv, CpuOnlyJobWithoutCpusOrWorkdirLeavesThoseUnset) {
  JobView v;
  v.id = 7;
  v.attempt = 3;
  v.placement = {At("n1", {}, 0)};
  const auto env = SlurmEnv(v, 0);
  EXPECT_EQ(env.at("SLURM_JOB_ACCOUNT"), "default");
  EXPECT_EQ(env.at("SLURM_JOB_NODELIST"), "n1");
  EXPECT_EQ(env.at("SLURM_TASKS_PER_NODE"), "1");
  EXPECT_EQ(env.at("SLURM_RESTART_COUNT"), "2");
  for (const char* unset : {"SLURM_CPUS_PER_TASK", "SLURM_JOB_GPUS", "SLURM_GPUS_ON_NODE", "SLURM_SUBMIT_DIR",
                            "SLURM_JOB_PARTITION", "SLURM_JOB_USER", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID"})
    EXPECT_FALSE(env.count(unset)) << unset;
}

TEST(SlurmEnv, ArrayTask) {
  JobView v;
  v.id = 105;
  v.array_id = 100;
  v.array_index = 10;
  v.spec.name = "sweep";
  v.spec.array = "0-20:2%4";
  v.placement = {At("gpu1", {3}, 0)};
  const auto env = SlurmEnv(v, 0);
  EXPECT_EQ(env.at("SLURM_JOB_ID"), "105");
  EXPECT_EQ(env.at("SLURM_ARRAY_JOB_ID"), "100");
  EXPECT_EQ(env.at("SLURM_ARRAY_TASK_ID"), "10");
  EXPECT_EQ(env.at("SLURM_ARRAY_TASK_COUNT"), "11");
  EXPECT_EQ(env.at("SLURM_ARRAY_TASK_MIN"), "0");
  EXPECT_EQ(env.at("SLURM_ARRAY_TASK_MAX"), "20");
  EXPECT_EQ(env.at("SLURM_ARRAY_TASK_STEP"), "2");
  EXPECT_EQ(env.at("SLURM_JOB_GPUS"), "3");
  EXPECT_EQ(env.at("SLURM_GPUS_ON_NODE"), "1");
}

TEST(SlurmEnv, ArrayStatsOfListsAndOverlaps) {
  auto stats = [](const std::string& array) {
    JobView v;
    v.id = 1;
    v.array_id = 1;
    v.array_index = 0;
    v.spec.array = array;
    v.placement = {At("n1", {}, 0)};
    const auto env = SlurmEnv(v, 0);
    return env.at("SLURM_ARRAY_TASK_COUNT") + " " + env.at("SLURM_ARRAY_TASK_MIN") + " " +
           env.at("SLURM_ARRAY_TASK_MAX") + " " + env.at("SLURM_ARRAY_TASK_STEP");
  };
  EXPECT_EQ(stats("0-99999"), "100000 0 99999 1");
  EXPECT_EQ(stats("1,3,5"), "3 1 5 2");
  EXPECT_EQ(stats("1,2,7"), "3 1 7 1");
  EXPECT_EQ(stats("0-15:4,16-20:4"), "6 0 20 4");  // 0 4 8 12 16 20
  EXPECT_EQ(stats("0-15:5"), "4 0 15 5");
  EXPECT_EQ(stats("7"), "1 7 7 1");
  EXPECT_EQ(stats("0-9,5-14"), "15 0 14 1");  // overlapping: expanded
  EXPECT_EQ(stats("10,2,6"), "3 2 10 4");
}

}  // namespace
}  // namespace kojo::api
