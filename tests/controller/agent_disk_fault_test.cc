// Fault injection under the agent: a real kojo-agent whose state directory
// (task records, supervisors' status files, default logs) is on the fake
// faulty disk (tests/tools/fake_faulty_disk.cc, LD_PRELOAD), next to a real
// kojod on a healthy disk. While the disk is full or tears writes, the
// agent stays up; tasks already running keep running and their ends reach
// kojod with their exit states; a start it cannot record is not started but
// reported as "node-fault: ...": kojod requeues the job (even one with
// requeue: false: it never ran) with reason NodeFault and drains the node;
// once the disk is healthy and an operator resumes the node, the job runs.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>

#include "daemons.h"

#if defined(KOJO_FAKE_DISK_LIB) && defined(KOJO_AGENT_BINARY)

namespace kojo::testing {
namespace {

using namespace std::chrono_literals;

class AgentDiskFault : public ::testing::TestWithParam<std::string> {
 protected:
  std::string state() const { return dir_.path() + "/n1"; }
  std::string control() const { return dir_.path() + "/disk"; }
  std::string agent_log() const { return ReadFile(dir_.path() + "/n1.log"); }

  void StartKojod() {
    kojod_ = std::make_unique<Kojod>(dir_.path() + "/kojod", std::vector<std::string>{"--kill-grace", "1"});
    ASSERT_TRUE(kojod_->ok()) << kojod_->log();
  }
  // kojo-agent n1 with its state directory on the fake disk; the fake lets
  // writes within a file's size pass (KOJO_FAKE_DISK_IN_PLACE), as ext4 and
  // xfs do on a full disk. The child inherits the environment at its fork;
  // the test process never loads the library.
  void StartAgent() {
    SetDisk("ok");
    const char* asan = std::getenv("ASAN_OPTIONS");
    const std::string asan_before = asan ? asan : "";
    setenv("LD_PRELOAD", KOJO_FAKE_DISK_LIB, 1);
    setenv("KOJO_FAKE_DISK_PATH", (state() + "/").c_str(), 1);
    setenv("KOJO_FAKE_DISK_CONTROL", control().c_str(), 1);
    setenv("KOJO_FAKE_DISK_IN_PLACE", "1", 1);
    // ASan wants its runtime first among the libraries; the fake disk is.
    setenv("ASAN_OPTIONS", (asan_before + (asan_before.empty() ? "" : ":") + "verify_asan_link_order=0").c_str(), 1);
    agent_ = Process({KOJO_AGENT_BINARY, "--server", kojod_->url(), "--name", "n1", "--state-dir", state(), "--listen",
                      "127.0.0.1:0", "--emulate-gpus", "1xH100-80GB", "--kill-grace", "1", "--heartbeat-wait-ms", "200"},
                     dir_.path() + "/n1.log");
    unsetenv("LD_PRELOAD");
    unsetenv("KOJO_FAKE_DISK_PATH");
    unsetenv("KOJO_FAKE_DISK_CONTROL");
    unsetenv("KOJO_FAKE_DISK_IN_PLACE");
    if (asan) setenv("ASAN_OPTIONS", asan_before.c_str(), 1);
    else unsetenv("ASAN_OPTIONS");
    ASSERT_TRUE(WaitFor([&] { return Node()["state"] == "UP"; }, 20s)) << agent_log() << kojod_->log();
  }
  void SetDisk(const std::string& mode) { std::ofstream(control()) << mode << "\n"; }
  int Faults() {
    std::istringstream in(ReadFile(control() + ".log"));
    int n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
  }

  httplib::Client Client() { return kojod_->Client(); }
  Json Node() {
    auto r = Client().Get("/api/v1/nodes/n1");
    return r && r->status == 200 ? Body(r) : Json::object();
  }
  JobId Submit(const Json& spec) {
    std::string refusal;
    const JobId id = kojod_->Submit(spec, &refusal);
    EXPECT_NE(id, 0) << refusal;
    return id;
  }
  Json Job(JobId id) { return kojod_->Job(id); }
  bool WaitState(JobId id, const std::string& state, std::chrono::milliseconds timeout = 20s) {
    return WaitFor([&] { return Job(id)["state"] == state; }, timeout);
  }
  // A job that waits for the test's go (a file outside the fake disk), then exits `code`.
  Json Gated(int code) {
    return Json{{"command", Json{"/bin/sh", "-c",
                                 fmt::format("while [ ! -e {}/go ]; do sleep 0.05; done; exit {}", dir_.path(), code)}}};
  }

  TempDir dir_;
  std::unique_ptr<Kojod> kojod_;
  Process agent_;
};

TEST_P(AgentDiskFault, RunningTasksEndAndAStartItCannotRecordIsRequeuedAndTheNodeDrained) {
  const bool fails = GetParam() != "fsync";  // task records are not fsynced: a failing fsync changes nothing
  StartKojod();
  StartAgent();
  const pid_t pid = agent_.pid();
  const JobId ok = Submit(Gated(0));
  const JobId bad = Submit(Gated(7));
  ASSERT_TRUE(WaitState(ok, "RUNNING")) << Job(ok).dump() << agent_log();
  ASSERT_TRUE(WaitState(bad, "RUNNING")) << Job(bad).dump() << agent_log();

  SetDisk(GetParam());
  // Submitted while the disk fails; it does not requeue itself, but it never runs.
  Json spec{{"command", Json{"/bin/sh", "-c", "echo late"}}, {"requeue", false}};
  const JobId late = Submit(spec);
  std::set<std::string> reasons;  // of `late`, as seen
  if (fails) {
    ASSERT_TRUE(WaitFor([&] {
      const Json j = Job(late);
      reasons.insert(j["reason"].get<std::string>());
      return Node()["state"] != "UP" && j["state"] == "PENDING" && j["reason"] != "Submitted";
    }, 20s)) << Job(late).dump() << Node().dump() << agent_log();
    const Json node = Node();
    EXPECT_EQ(node["state"], "DRAINING") << node.dump();  // its running jobs go on
    const std::string why = node["reason"];
    EXPECT_EQ(why.rfind("agent: task ", 0), 0u) << why;
    EXPECT_NE(why.find(state() + "/tasks/"), std::string::npos) << why;
    EXPECT_NE(why.find("No space left on device"), std::string::npos) << why;
    // NodeFault until the next scheduling pass says why it waits: its node is drained.
    const Json j = Job(late);
    EXPECT_TRUE(j["reason"] == "NodeFault" || j["reason"] == "NodeDrain") << j.dump();
    EXPECT_TRUE(reasons.count("NodeFault") || reasons.count("NodeDrain")) << j.dump();
    if (j["reason"] == "NodeFault") {
      EXPECT_NE(j["message"].get<std::string>().find("node n1 could not start it: task "), std::string::npos) << j.dump();
    }
    auto metrics = Client().Get("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_NE(metrics->body.find("kojo_jobs_requeued_total 1"), std::string::npos);
    EXPECT_NE(agent_log().find("not started: node-fault: task "), std::string::npos) << agent_log();
    EXPECT_GT(Faults(), 0);
  } else {
    ASSERT_TRUE(WaitState(late, "COMPLETED")) << Job(late).dump() << agent_log();
  }

  // The running tasks end while the disk still fails: their ends reach kojod.
  std::ofstream(dir_.path() + "/go") << "go\n";
  ASSERT_TRUE(WaitState(ok, "COMPLETED")) << Job(ok).dump() << agent_log();
  EXPECT_EQ(Job(ok)["exit_code"], 0) << Job(ok).dump();
  ASSERT_TRUE(WaitState(bad, "FAILED")) << Job(bad).dump() << agent_log();
  EXPECT_EQ(Job(bad)["reason"], "NonZeroExit") << Job(bad).dump();
  EXPECT_EQ(Job(bad)["exit_code"], 7) << Job(bad).dump();
  EXPECT_TRUE(agent_.alive());
  EXPECT_EQ(agent_.pid(), pid);

  if (fails) {
    // Healed, but drained until an operator says otherwise.
    SetDisk("ok");
    std::this_thread::sleep_for(1s);
    EXPECT_EQ(Node()["state"], "DRAINED") << Node().dump();
    EXPECT_EQ(Job(late)["state"], "PENDING") << Job(late).dump();
    auto resumed = Client().Post("/api/v1/nodes/n1/resume", "", "application/json");
    ASSERT_TRUE(resumed);
    ASSERT_EQ(resumed->status, 200) << resumed->body;
    ASSERT_TRUE(WaitState(late, "COMPLETED")) << Job(late).dump() << agent_log();
    EXPECT_EQ(Job(late)["attempt"], 2) << Job(late).dump();
    EXPECT_EQ(Node()["state"], "UP");
  }
  auto logs = Client().Get(fmt::format("/api/v1/jobs/{}/logs", late).c_str());
  ASSERT_TRUE(logs);
  EXPECT_EQ(logs->body, "late\n");
  // Never crashed, aborted or restarted.
  EXPECT_TRUE(agent_.alive()) << agent_log();
  EXPECT_EQ(agent_.pid(), pid);
  EXPECT_EQ(agent_log().find("AddressSanitizer"), std::string::npos) << agent_log();
}

INSTANTIATE_TEST_SUITE_P(Modes, AgentDiskFault, ::testing::Values("full", "torn", "fsync"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace kojo::testing

#endif  // KOJO_FAKE_DISK_LIB && KOJO_AGENT_BINARY
