#include "model/cluster.h"

#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/job.h"

namespace kojo {
namespace {

using ::testing::HasSubstr;

TEST(ClusterSpec, ParsesGroups) {
  auto nodes = ParseClusterSpec("2x8xA100+4x4xT4");
  ASSERT_TRUE(nodes.ok()) << nodes.error().message;
  ASSERT_EQ(nodes->size(), 6u);
  EXPECT_EQ((*nodes)[0].gpu_model, "A100");
  EXPECT_EQ((*nodes)[0].gpus, 8);
  EXPECT_EQ((*nodes)[0].cpu_milli, 96000);
  EXPECT_EQ((*nodes)[5].gpu_model, "T4");
  EXPECT_EQ((*nodes)[5].name, "t4-5");
  EXPECT_EQ(TotalGpus(*nodes), 32);
}

TEST(ClusterSpec, Options) {
  auto nodes = ParseClusterSpec("1x8xH100:cpu=96:mem=1024");
  ASSERT_TRUE(nodes.ok());
  EXPECT_EQ((*nodes)[0].cpu_milli, 96000);
  EXPECT_EQ((*nodes)[0].mem_mib, 1024 * 1024);
}

TEST(ClusterSpec, ErrorsNameTheGroupAndTheRule) {
  for (const char* bad : {"", "16x4", "0x4xT4", "2x99xT4", "2x4x", "2xAx4", "2x4xT4:cpu=-1", "2x4xT 4",
                          "2x4xT4:gpu=3", "999999999x1xT4"}) {
    auto r = ParseClusterSpec(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_THAT(r.error().message, HasSubstr("cluster spec")) << bad;
    }
  }
}

TEST(NodeCsv, ReadsAndReportsFileLine) {
  std::string path = ::testing::TempDir() + "/nodes.csv";
  {
    std::ofstream f(path);
    f << "sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,P100\nn1,96000,786432,8,abc,x\n";
  }
  auto r = ReadNodeCsv(path);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("nodes.csv:3: expected 5 fields"));
  {
    std::ofstream f(path);
    f << "sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,P100\nn1,96000,786432,eight,V100\n";
  }
  r = ReadNodeCsv(path);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("nodes.csv:3: column 'gpu': expected an integer, got 'eight'"));
  {
    std::ofstream f(path);
    f << "sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,P100\n";
  }
  r = ReadNodeCsv(path);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].gpus, 2);
  EXPECT_EQ((*r)[0].gpu_model, "P100");
}

TEST(Demand, ValidationNamesTheField) {
  Demand d;
  d.gpus = -1;
  EXPECT_THAT(*ValidateDemand(d), HasSubstr("gpus"));
  d.gpus = 2;
  d.gpu_milli = 500;
  EXPECT_THAT(*ValidateDemand(d), HasSubstr("gpu_milli"));
  d.gpu_milli = 1000;
  d.tasks = 3;
  EXPECT_THAT(*ValidateDemand(d), HasSubstr("tasks"));
  d.tasks = 2;
  EXPECT_FALSE(ValidateDemand(d).has_value());
}

}  // namespace
}  // namespace kojo

namespace kojo {
namespace {

TEST(GpuModel, MatchesWithoutRegardToCase) {
  EXPECT_TRUE(GpuModelAllowed({}, "H100"));
  EXPECT_TRUE(GpuModelAllowed({"a100", "h100"}, "H100"));
  EXPECT_FALSE(GpuModelAllowed({"A100"}, "A10"));
  EXPECT_FALSE(GpuModelAllowed({"A100"}, "A100-80GB"));
}

}  // namespace
}  // namespace kojo
