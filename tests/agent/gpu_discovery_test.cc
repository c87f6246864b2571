#include "agent/gpu_discovery.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <unistd.h>

namespace kojo::agent {
namespace {

TEST(EmulatedDiscovery, SizeInTheSpecGivesModelAndMemory) {
  auto d = EmulatedDiscovery::Create("8xH100-80GB", "node-a");
  ASSERT_TRUE(d.ok()) << d.error().message;
  auto gpus = (*d)->Discover();
  ASSERT_TRUE(gpus.ok());
  ASSERT_EQ(gpus->size(), 8u);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ((*gpus)[i].index, i);
    EXPECT_EQ((*gpus)[i].model, "H100");
    EXPECT_EQ((*gpus)[i].mem_mib, 80 * 1024);
    EXPECT_EQ((*gpus)[i].uuid, "EMU-node-a-" + std::to_string(i));
  }
  EXPECT_TRUE((*d)->emulated());
}

TEST(EmulatedDiscovery, MixedGroupsIndexOnAndUseTheTable) {
  auto d = EmulatedDiscovery::Create("2xA100,2xT4,1xMYSTERY-9", "n");
  ASSERT_TRUE(d.ok()) << d.error().message;
  auto gpus = *(*d)->Discover();
  ASSERT_EQ(gpus.size(), 5u);
  EXPECT_EQ(gpus[0].model, "A100");
  EXPECT_EQ(gpus[0].mem_mib, 81920);
  EXPECT_EQ(gpus[2].model, "T4");
  EXPECT_EQ(gpus[2].mem_mib, 15360);
  EXPECT_EQ(gpus[3].index, 3);
  EXPECT_EQ(gpus[4].model, "MYSTERY-9");  // unknown model: memory 0
  EXPECT_EQ(gpus[4].mem_mib, 0);
  EXPECT_EQ(gpus[4].uuid, "EMU-n-4");
}

TEST(EmulatedDiscovery, UtilisationComesFromItsFile) {
  auto d = EmulatedDiscovery::Create("3xH100", "n1");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ((*d)->Utilisation(), (std::vector<int>{0, 0, 0}));  // no file: idle
  const std::string path = "/tmp/kojo-util-" + std::to_string(getpid());
  (*d)->set_util_file(path);
  EXPECT_EQ((*d)->Utilisation(), (std::vector<int>{0, 0, 0}));  // file absent
  std::ofstream(path) << "87 140\n";
  EXPECT_EQ((*d)->Utilisation(), (std::vector<int>{87, 100, 0}));  // clamped; missing ones 0
  std::remove(path.c_str());
}

TEST(NvmlDiscovery, NoUtilisationWithoutNvml) {
  NvmlDiscovery d("libkojo-no-such-nvml.so");
  EXPECT_FALSE(d.Discover().ok());
  EXPECT_TRUE(d.Utilisation().empty());
}

TEST(EmulatedDiscovery, BadSpecsAreClearErrors) {
  for (const char* spec : {"", "H100", "0xH100", "17xH100", "ax100", "8x", "8xH 100", "2xA100,,2xT4",
                           "9xH100,9xH100", "2xH100-0GB", "-1xT4"}) {
    auto d = EmulatedDiscovery::Create(spec, "n");
    ASSERT_FALSE(d.ok()) << spec;
    EXPECT_NE(d.error().message.find("--emulate-gpus"), std::string::npos) << d.error().message;
    EXPECT_NE(d.error().message.find("8xH100-80GB"), std::string::npos) << d.error().message;
  }
}

TEST(EmulatedDiscovery, MigSlicesAreGpusOfTheirOwnModel) {
  auto d = EmulatedDiscovery::Create("1xH100-80GB:mig=1g.10gb*7,2xA100:mig=3g.40gb*1+4g.40gb", "n");
  ASSERT_TRUE(d.ok()) << d.error().message;
  auto gpus = *(*d)->Discover();
  ASSERT_EQ(gpus.size(), 11u);
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(gpus[i].index, i);
    EXPECT_EQ(gpus[i].model, "H100-1g.10gb");
    EXPECT_EQ(gpus[i].mem_mib, 10 * 1024);
    EXPECT_EQ(gpus[i].uuid, "MIG-EMU-n-0-" + std::to_string(i));
  }
  EXPECT_EQ(gpus[7].model, "A100-3g.40gb");
  EXPECT_EQ(gpus[8].model, "A100-4g.40gb");
  EXPECT_EQ(gpus[9].uuid, "MIG-EMU-n-1-0");  // the group's second GPU
  EXPECT_EQ(gpus[10].mem_mib, 40 * 1024);
  for (const char* spec : {"1xH100:mig=1g.10gb*8", "1xH100:mig=", "1xH100:slices=2", "1xH100:mig=big*2",
                           "1xA30:mig=2g.12gb*3", "3xH100:mig=1g.10gb*7"}) {
    auto bad = EmulatedDiscovery::Create(spec, "n");
    EXPECT_FALSE(bad.ok()) << spec;
  }
}

TEST(MigProfile, FromTheInstancesNameElseItsMemory) {
  EXPECT_EQ(MigProfile("NVIDIA H100 80GB HBM3 MIG 1g.10gb", 9984), "1g.10gb");
  EXPECT_EQ(MigProfile("NVIDIA A100-SXM4-40GB MIG 3g.20gb", 19968), "3g.20gb");
  EXPECT_EQ(MigProfile("NVIDIA H100 80GB HBM3", 9984), "mig.10gb");
}

TEST(NvmlDiscovery, AbsentLibraryFailsCleanly) {
  NvmlDiscovery d("libnvidia-ml-kojo-test-absent.so.1");
  auto gpus = d.Discover();
  ASSERT_FALSE(gpus.ok());
  EXPECT_EQ(gpus.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(gpus.error().message.find("NVML not available"), std::string::npos) << gpus.error().message;
  EXPECT_FALSE(d.emulated());
  // Asking again is just as clean.
  EXPECT_FALSE(d.Discover().ok());
}

TEST(NvmlDiscovery, LibraryWithoutNvmlFunctionsFailsCleanly) {
  NvmlDiscovery d("libm.so.6");
  auto gpus = d.Discover();
  ASSERT_FALSE(gpus.ok());
  EXPECT_EQ(gpus.error().code, ErrorCode::kUnsupported);
}

TEST(NormaliseGpuModel, ShortModelsFromMarketingNames) {
  EXPECT_EQ(NormaliseGpuModel("NVIDIA H100 80GB HBM3"), "H100");
  EXPECT_EQ(NormaliseGpuModel("NVIDIA H100 PCIe"), "H100");
  EXPECT_EQ(NormaliseGpuModel("NVIDIA H200"), "H200");
  EXPECT_EQ(NormaliseGpuModel("NVIDIA A100-SXM4-80GB"), "A100");
  EXPECT_EQ(NormaliseGpuModel("NVIDIA A100 80GB PCIe"), "A100");
  EXPECT_EQ(NormaliseGpuModel("Tesla T4"), "T4");
  EXPECT_EQ(NormaliseGpuModel("Tesla V100-SXM2-32GB"), "V100");
  EXPECT_EQ(NormaliseGpuModel("NVIDIA L40S"), "L40S");
  EXPECT_EQ(NormaliseGpuModel("NVIDIA A10G"), "A10G");
  EXPECT_EQ(NormaliseGpuModel("NVIDIA GeForce RTX 4090"), "RTX4090");
  EXPECT_EQ(NormaliseGpuModel("  "), "GPU");
}

TEST(Host, ReportsCpusAndMemory) {
  EXPECT_GE(HostCpuMilli(), 1000);
  EXPECT_GT(HostMemMib(), 0);
}

}  // namespace
}  // namespace kojo::agent
