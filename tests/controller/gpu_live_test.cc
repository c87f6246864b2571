// On a machine with an NVIDIA GPU: `kojod --dev` finds the GPUs through
// NVML, and a real CUDA job submitted with the `kojo` CLI runs a kernel on
// exactly the GPU kojo gave it. ctest label: gpu (`ctest -L gpu`); skipped
// where NVML is absent.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "controller/daemon.h"
#include "daemons.h"

#if defined(KOJO_AGENT_BINARY) && defined(KOJO_CUDA_PROBE)

namespace kojo::testing {
namespace {

using namespace std::chrono_literals;

TEST(GpuLive, DevModeRunsACudaKernelOnTheGpuItPlaced) {
  if (!controller::NvmlPresent()) GTEST_SKIP() << "NVML (libnvidia-ml.so.1) is absent";
  TempDir dir;
  const std::string config_home = dir.path() + "/config";
  setenv("XDG_CONFIG_HOME", config_home.c_str(), 1);
  Kojod d(dir.path() + "/data", {"--dev"});
  ASSERT_TRUE(d.ok()) << d.log();
  const std::string dev_json = config_home + "/kojo/dev.json";
  ASSERT_TRUE(WaitFor([&] { return !ReadFile(dev_json).empty(); }, 10s));
  auto c = d.Client();
  c.set_bearer_token_auth(Json::parse(ReadFile(dev_json))["token"].get<std::string>());

  // The node carries NVML's GPUs, not emulated ones.
  Json node;
  ASSERT_TRUE(WaitFor([&] {
    Json nodes = Body(c.Get("/api/v1/nodes"));
    if (!nodes.is_object() || nodes["nodes"].size() != 1 || nodes["nodes"][0]["state"] != "UP") return false;
    node = nodes["nodes"][0];
    return true;
  }, 30s)) << d.log();
  std::printf("node: %s\n", node.dump().c_str());
  EXPECT_FALSE(node["emulated_gpus"].get<bool>());
  ASSERT_FALSE(node["gpus"].empty());
  for (const Json& g : node["gpus"]) {
    EXPECT_EQ(g["uuid"].get<std::string>().rfind("GPU-", 0), 0u) << g.dump();
    EXPECT_FALSE(g["model"].get<std::string>().empty());
    EXPECT_GT(g["mem_mib"].get<long long>(), 0);
  }
  const std::string model = node["gpus"][0]["model"];

  // Submitted the README's way: the CLI finds kojod through dev.json.
  auto submit = [&](const std::string& args) -> JobId {
    auto [rc, out] = Shell("XDG_CONFIG_HOME=" + config_home + " " + KOJO_BINARY + " submit --json " + args);
    EXPECT_EQ(rc, 0) << out;
    Json j = Json::parse(out, nullptr, false);
    if (!j.is_object() || !j.contains("ids")) return 0;
    return j["ids"][0].get<JobId>();
  };
  auto finish = [&](JobId id) {
    Json job;
    EXPECT_TRUE(WaitFor([&] {
      job = Body(c.Get(("/api/v1/jobs/" + std::to_string(id)).c_str()));
      const std::string s = job.value("state", "");
      return s == "COMPLETED" || s == "FAILED" || s == "CANCELLED" || s == "TIMEOUT";
    }, 120s)) << job.dump();
    auto logs = c.Get(("/api/v1/jobs/" + std::to_string(id) + "/logs").c_str());
    std::string out = logs ? logs->body : "";
    std::printf("job %lld (%s):\n%s", static_cast<long long>(id), job.value("state", "").c_str(), out.c_str());
    return std::make_pair(job, out);
  };

  const JobId one = submit("--gpus 1 --gpu-model " + model + " -- " + KOJO_CUDA_PROBE);
  ASSERT_GT(one, 0);
  auto [job, out] = finish(one);
  ASSERT_EQ(job["state"], "COMPLETED") << out << d.log();
  ASSERT_EQ(job["placement"].size(), 1u);
  const int index = job["placement"][0]["gpus"][0];
  const std::string uuid = node["gpus"][index]["uuid"];
  EXPECT_NE(out.find("cuda-devices=1\n"), std::string::npos) << "the job must see its one GPU only";
  EXPECT_NE(out.find("device0=" + uuid + "\n"), std::string::npos) << "CUDA's device 0 must be the GPU kojo placed";
  EXPECT_NE(out.find("kernel=ok"), std::string::npos);

  // NVML's utilisation reaches the controller with the agent's heartbeats
  // (idle sessions are culled by it): a job keeping its GPU busy for 25 s
  // shows on its node's GPU, and the GPUs it was not given stay near idle.
  const JobId busy = submit("--gpus 1 -- " + std::string(KOJO_CUDA_PROBE) + " 1048576 25");
  ASSERT_GT(busy, 0);
  int busy_index = -1, seen = 0;
  EXPECT_TRUE(WaitFor([&] {
    Json job = Body(c.Get(("/api/v1/jobs/" + std::to_string(busy)).c_str()));
    if (busy_index < 0 && job.value("state", "") == "RUNNING") busy_index = job["placement"][0]["gpus"][0];
    if (busy_index < 0) return false;
    Json nodes = Body(c.Get("/api/v1/nodes"));
    const Json util = nodes["nodes"][0].value("gpu_util", Json::array());
    if (static_cast<size_t>(busy_index) < util.size()) seen = std::max(seen, util[busy_index].get<int>());
    return seen > 0;
  }, 60s)) << "no utilisation reported for GPU " << busy_index << d.log();
  std::printf("utilisation seen on GPU %d: %d%%\n", busy_index, seen);
  auto [jobb, outb] = finish(busy);
  EXPECT_EQ(jobb["state"], "COMPLETED") << outb;
  EXPECT_NE(outb.find("busy=ok"), std::string::npos) << outb;

  // The same reading ends idle jobs: one with a 15 s idle timeout keeps its
  // GPU busy for 20 s, then sleeps. It runs on past 15 s while the GPU is
  // busy (the heartbeats' samples, every few seconds, see it) and ends as
  // idle once it has not been for 15 s.
  auto idle = c.Post("/api/v1/jobs",
                     Json{{"command", {"/bin/sh", "-c", std::string(KOJO_CUDA_PROBE) + " 1048576 20; sleep 90"}},
                          {"gpus", 1}, {"idle_timeout_s", 15}, {"time_limit_s", 300}}
                         .dump(),
                     "application/json");
  ASSERT_TRUE(idle && idle->status == 201) << (idle ? idle->body : "no answer");
  const JobId idle_job = Body(idle)["ids"][0].get<JobId>();
  auto [jobi, outi] = finish(idle_job);
  EXPECT_EQ(jobi["state"], "CANCELLED") << jobi.dump();
  EXPECT_EQ(jobi["reason"], "Idle") << jobi.dump();
  EXPECT_NE(outi.find("busy=ok"), std::string::npos) << outi;
  const auto ran = jobi.value("end_unix", 0LL) - jobi.value("start_unix", 0LL);
  std::printf("idle job ran %lld s (busy 20 s, idle timeout 15 s)\n", static_cast<long long>(ran));
  EXPECT_GE(ran, 25) << "ended before its busy GPU had been idle for 15 s";
  EXPECT_LT(ran, 90) << "not ended for idleness";

  // A job given no GPU sees none, though the machine has some.
  const JobId none = submit("--gpus 0 -- " + std::string(KOJO_CUDA_PROBE));
  ASSERT_GT(none, 0);
  auto [job0, out0] = finish(none);
  EXPECT_EQ(job0["state"], "COMPLETED") << out0;
  EXPECT_NE(out0.find("cuda-devices=0\n"), std::string::npos);

  // Every GPU at once, as one job: the job sees them all, in NVML's order.
  const size_t all = node["gpus"].size();
  const JobId every = submit("--gpus " + std::to_string(all) + " -- " + std::string(KOJO_CUDA_PROBE));
  ASSERT_GT(every, 0);
  auto [jobn, outn] = finish(every);
  EXPECT_EQ(jobn["state"], "COMPLETED") << outn;
  EXPECT_NE(outn.find("cuda-devices=" + std::to_string(all) + "\n"), std::string::npos);
  for (size_t i = 0; i < all; ++i) {
    const int g = jobn["placement"][0]["gpus"][i];
    EXPECT_NE(outn.find("device" + std::to_string(i) + "=" + node["gpus"][g]["uuid"].get<std::string>()),
              std::string::npos);
  }
  unsetenv("XDG_CONFIG_HOME");
  EXPECT_TRUE(d.process().Terminate(15s).has_value());
}

}  // namespace
}  // namespace kojo::testing

#endif
