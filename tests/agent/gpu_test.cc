// Runs a job on a real NVIDIA GPU found through NVML. Skipped where NVML
// is absent (machines without an NVIDIA driver); ctest label: gpu.
#include <filesystem>

#include <gtest/gtest.h>

#include "agent/gpu_discovery.h"
#include "agent/launcher.h"
#include "agent/log.h"
#include "test_util.h"

namespace kojo::agent {
namespace {

using testing::ReadFile;
using testing::ScriptTask;
using testing::TempDir;
using testing::WaitFor;

TEST(GpuNvml, JobSeesTheGpuNvmlReports) {
  SetVerboseLogging(false);
  NvmlDiscovery nvml;
  auto gpus = nvml.Discover();
  if (!gpus.ok()) GTEST_SKIP() << gpus.error().message;
  if (gpus->empty()) GTEST_SKIP() << "NVML found no GPU";
  const api::GpuInfo& gpu = gpus->back();  // the last one: indices must be passed on, not assumed 0
  std::printf("NVML (%s): %zu GPUs; using %d: %s (%s), %lld MiB, %s\n", nvml.Describe().c_str(), gpus->size(),
              gpu.index, gpu.model.c_str(), nvml.full_names().back().c_str(), static_cast<long long>(gpu.mem_mib),
              gpu.uuid.c_str());
  EXPECT_FALSE(gpu.model.empty());
  EXPECT_GT(gpu.mem_mib, 0);
  EXPECT_EQ(gpu.uuid.rfind("GPU-", 0), 0u) << gpu.uuid;

  TempDir dir;
  LauncherOptions o;
  o.state_dir = dir.path();
  o.node_name = "gpu-node";
  o.gpus = *gpus;
  auto launcher = ProcessLauncher::Create(std::move(o));
  ASSERT_TRUE(launcher.ok());
  api::StartCommand c = ScriptTask(
      1,
      "echo CVD=$CUDA_VISIBLE_DEVICES\necho UUIDS=$KOJO_GPU_UUIDS\n"
      "if command -v nvidia-smi >/dev/null; then\n"
      "  nvidia-smi -L\n"
      "  nvidia-smi --query-gpu=uuid --format=csv,noheader -i \"$CUDA_VISIBLE_DEVICES\"\n"
      "else echo no-nvidia-smi; fi\n");
  c.placement.gpus = {gpu.index};
  (*launcher)->Start(c);
  ASSERT_TRUE(WaitFor([&] {
    auto t = (*launcher)->Tasks();
    return t.size() == 1 && !t[0].running;
  }, 60000));
  auto t = (*launcher)->Tasks()[0];
  const std::string out = ReadFile(dir.path() + "/logs/1.1.0.out");
  std::printf("job output:\n%s", out.c_str());
  EXPECT_EQ(t.exit_code, 0) << t.reason << "\n" << ReadFile(dir.path() + "/logs/1.1.0.err");
  EXPECT_NE(out.find("CVD=" + std::to_string(gpu.index) + "\n"), std::string::npos);
  EXPECT_NE(out.find("UUIDS=" + gpu.uuid + "\n"), std::string::npos);
  if (out.find("no-nvidia-smi") == std::string::npos) {
    EXPECT_NE(out.find(gpu.uuid), out.rfind(gpu.uuid)) << "nvidia-smi -L and -i should both name " << gpu.uuid;
  }
}

}  // namespace
}  // namespace kojo::agent
