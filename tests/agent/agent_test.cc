// The agent's protocol loop against FakeController, end to end: register,
// start via reply, report running then ended, acknowledged, kills.
#include "agent/agent.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "agent/gpu_discovery.h"
#include "agent/log.h"
#include "agent/log_server.h"
#include "fake_controller.h"
#include "test_util.h"

extern char** environ;

namespace kojo::agent {
namespace {

using testing::CommandTask;
using testing::FakeController;
using testing::ReadFile;
using testing::ScriptTask;
using testing::TempDir;
using testing::WaitFor;

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override { SetVerboseLogging(false); }
  void TearDown() override {
    StopAgent();
    fake_.reset();
  }
  FakeController& Fake(const std::string& token = "") {
    fake_ = std::make_unique<FakeController>(token);
    return *fake_;
  }

  void StartAgent(const std::string& server, const std::string& token = "", int wait_ms = 10000) {
    LauncherOptions lo;
    lo.state_dir = dir_.path() + "/state";
    lo.node_name = "node-a";
    auto gpus = EmulatedDiscovery::Create("2xH100-80GB", "node-a");
    node_.gpus = *(*gpus)->Discover();
    lo.gpus = node_.gpus;
    lo.default_grace_s = 2;
    auto l = ProcessLauncher::Create(std::move(lo));
    ASSERT_TRUE(l.ok());
    launcher_ = std::move(*l);
    auto key = NewLogSecret();
    ASSERT_TRUE(key.ok()) << key.error().message;
    log_secret_ = *key;
    logs_ = std::make_unique<LogServer>(*launcher_, log_secret_);
    auto port = logs_->Start("127.0.0.1", 0);
    ASSERT_TRUE(port.ok());
    node_.name = "node-a";
    node_.cpu_milli = HostCpuMilli();
    node_.mem_mib = HostMemMib();
    node_.emulated_gpus = true;
    node_.agent_url = "http://127.0.0.1:" + std::to_string(*port);
    node_.version = "0.1.0";
    AgentOptions o;
    o.server = server;
    o.token = token;
    o.heartbeat_wait_ms = wait_ms;
    o.log_secret = log_secret_;
    agent_ = std::make_unique<Agent>(o, node_, *launcher_);
    agent_->Start();
  }
  void StopAgent() {
    if (launcher_)
      for (const auto& t : launcher_->Tasks())
        if (t.running) launcher_->Kill(t.job, t.attempt, 0);
    if (launcher_)
      WaitFor([&] {
        for (const auto& t : launcher_->Tasks())
          if (t.running) return false;
        return true;
      }, 5000);
    agent_.reset();
    logs_.reset();
    launcher_.reset();
  }
  bool LauncherHas(JobId job, int attempt) {
    for (const auto& t : launcher_->Tasks())
      if (t.job == job && t.attempt == attempt) return true;
    return false;
  }

  TempDir dir_;
  std::unique_ptr<FakeController> fake_;
  api::NodeInfo node_;
  std::string log_secret_;
  std::unique_ptr<ProcessLauncher> launcher_;
  std::unique_ptr<LogServer> logs_;
  std::unique_ptr<Agent> agent_;
};

TEST_F(AgentTest, RegistersWithItsNodeAndToken) {
  FakeController& fake = Fake("s3cret");
  StartAgent(fake.url(), "s3cret");
  ASSERT_TRUE(WaitFor([&] { return fake.registrations() >= 1; }));
  auto reg = fake.last_register();
  ASSERT_TRUE(reg);
  EXPECT_EQ(reg->node.name, "node-a");
  ASSERT_EQ(reg->node.gpus.size(), 2u);
  EXPECT_EQ(reg->node.gpus[1].uuid, "EMU-node-a-1");
  EXPECT_EQ(reg->node.gpus[1].model, "H100");
  EXPECT_TRUE(reg->node.emulated_gpus);
  EXPECT_FALSE(reg->node.cgroups);
  EXPECT_EQ(reg->node.agent_url, node_.agent_url);
  EXPECT_TRUE(WaitFor([&] { return fake.heartbeats() >= 1; }));  // then the long poll
  EXPECT_EQ(fake.unauthorized(), 0);
  EXPECT_TRUE(agent_->registered());
}

TEST_F(AgentTest, SendsItsLogKeyInRegisterAndEveryHeartbeatAndItsLogServerWantsIt) {
  FakeController& fake = Fake();
  StartAgent(fake.url(), "", 200);
  ASSERT_EQ(log_secret_.size(), 64u);
  ASSERT_TRUE(WaitFor([&] { return fake.heartbeats() >= 2; }));
  auto reg = fake.last_register();
  ASSERT_TRUE(reg);
  EXPECT_EQ(reg->log_secret, log_secret_);
  auto beat = fake.last_heartbeat();
  ASSERT_TRUE(beat);
  EXPECT_EQ(beat->log_secret, log_secret_) << "a restarted controller learns it from the next heartbeat";
  EXPECT_EQ(api::ToJson(reg->node).dump().find(log_secret_), std::string::npos) << "not in the node's own part";
  // What the controller was sent opens the agent's logs; nothing else does.
  api::StartCommand c = ScriptTask(1, "echo only-for-the-controller\n");
  c.placement.node = "node-a";
  fake.Place(c);
  ASSERT_TRUE(WaitFor([&] { return fake.acknowledged(1, 1); }));
  httplib::Client logs(node_.agent_url);
  auto open = logs.Get("/logs/1?attempt=1", httplib::Headers{{"Authorization", "Bearer " + reg->log_secret}});
  ASSERT_TRUE(open);
  EXPECT_EQ(open->status, 200);
  EXPECT_EQ(open->body, "only-for-the-controller\n");
  auto shut = logs.Get("/logs/1?attempt=1");
  ASSERT_TRUE(shut);
  EXPECT_EQ(shut->status, 401);
  EXPECT_EQ(shut->body.find("only-for"), std::string::npos);
  // Every start makes a new key.
  auto other = NewLogSecret();
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*other, log_secret_);
}

TEST_F(AgentTest, WrongTokenIsRefusedAndRetried) {
  FakeController& fake = Fake("s3cret");
  StartAgent(fake.url(), "wrong");
  EXPECT_TRUE(WaitFor([&] { return fake.unauthorized() >= 2; }, 5000));
  EXPECT_EQ(fake.registrations(), 0);
  EXPECT_FALSE(agent_->registered());
}

TEST_F(AgentTest, RunsAPlacedJobReportsItsEndAndForgetsItOnceAcknowledged) {
  FakeController& fake = Fake();
  StartAgent(fake.url());
  ASSERT_TRUE(WaitFor([&] { return fake.heartbeats() >= 1; }));
  api::StartCommand c = ScriptTask(1, "echo hello from $KOJO_NODE on GPU $CUDA_VISIBLE_DEVICES\n");
  c.placement.node = "node-a";
  c.placement.gpus = {1};
  const auto placed = std::chrono::steady_clock::now();
  fake.Place(c);
  ASSERT_TRUE(WaitFor([&] { return fake.report(1, 1).has_value(); }));
  const auto heard = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return fake.acknowledged(1, 1); }));
  auto r = fake.report(1, 1);
  EXPECT_FALSE(r->running);
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->reason, "exited");
  // Forgotten once acknowledged; logs stay.
  EXPECT_TRUE(WaitFor([&] { return !LauncherHas(1, 1); }));
  auto logs = launcher_->FindLogs(1, 1, 0);
  ASSERT_TRUE(logs);
  EXPECT_EQ(ReadFile(logs->stdout_path), "hello from node-a on GPU 1\n");
  // Event-driven: the controller hears of the task in well under a second
  // (milliseconds on an idle machine).
  EXPECT_LT(heard - placed, std::chrono::seconds(1));
  std::printf("placed -> first report: %.2f ms\n",
              std::chrono::duration<double, std::milli>(heard - placed).count());
}

TEST_F(AgentTest, ManyJobsAllRunOnceAndAreAcknowledged) {
  FakeController& fake = Fake();
  StartAgent(fake.url());
  const std::string count = dir_.path() + "/count";
  constexpr int kJobs = 200;
  const auto start = std::chrono::steady_clock::now();
  for (int j = 1; j <= kJobs; ++j) fake.Place(ScriptTask(j, "echo $KOJO_JOB_ID >> " + count + "\n"));
  ASSERT_TRUE(WaitFor([&] {
    for (int j = 1; j <= kJobs; ++j)
      if (!fake.acknowledged(j, 1)) return false;
    return true;
  }, 30000));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%d trivial tasks through one agent in %.3f s (%.0f/s)\n", kJobs, secs, kJobs / secs);
  const std::string text = ReadFile(count);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), kJobs);  // each ran exactly once
  EXPECT_TRUE(WaitFor([&] { return launcher_->Tasks().empty(); }));
}

TEST_F(AgentTest, KillFromTheControllerStopsTheTask) {
  FakeController& fake = Fake();
  StartAgent(fake.url());
  fake.Place(CommandTask(3, {"sleep", "300"}));
  ASSERT_TRUE(WaitFor([&] { auto r = fake.report(3, 1); return r && r->running; }));
  fake.Kill(3, 1, 5);
  ASSERT_TRUE(WaitFor([&] { return fake.acknowledged(3, 1); }));
  auto r = fake.report(3, 1);
  EXPECT_EQ(r->reason, "killed");
  EXPECT_EQ(r->signal, SIGTERM);
}

TEST_F(AgentTest, StaleAttemptIsKilled) {
  FakeController& fake = Fake();
  StartAgent(fake.url());
  fake.Place(CommandTask(2, {"sleep", "300"}));
  ASSERT_TRUE(WaitFor([&] { auto r = fake.report(2, 1); return r && r->running; }));
  fake.Requeue(2);  // attempt 2 runs elsewhere: attempt 1 here is stale
  ASSERT_TRUE(WaitFor([&] { return fake.acknowledged(2, 1); }));
  auto r = fake.report(2, 1);
  EXPECT_FALSE(r->running);
  EXPECT_EQ(r->reason, "killed");
  EXPECT_EQ(r->signal, SIGTERM);
  EXPECT_FALSE(LauncherHas(2, 2));
}

TEST_F(AgentTest, KeepsTasksWhileTheControllerIsAwayAndReportsThemWhenBack) {
  auto fake = std::make_unique<FakeController>();
  const int port = fake->port();
  StartAgent(fake->url(), "", 500);
  const std::string go = dir_.path() + "/go";
  fake->Place(ScriptTask(4, "while [ ! -e " + go + " ]; do sleep 0.01; done\nexit 9\n"));
  ASSERT_TRUE(WaitFor([&] { auto r = fake->report(4, 1); return r && r->running; }));
  fake.reset();  // the controller goes away
  { std::ofstream(go) << ""; }  // the task ends meanwhile
  ASSERT_TRUE(WaitFor([&] { auto t = launcher_->Tasks(); return t.size() == 1 && !t[0].running; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  FakeController back("", port);
  ASSERT_EQ(back.port(), port);
  ASSERT_TRUE(WaitFor([&] { return back.registrations() >= 1; }, 5000));  // backoff is bounded (2 s)
  auto reg = back.last_register();
  ASSERT_EQ(reg->tasks.size(), 1u);
  EXPECT_FALSE(reg->tasks[0].running);
  EXPECT_EQ(reg->tasks[0].exit_code, 9);
  EXPECT_TRUE(WaitFor([&] { return launcher_->Tasks().empty(); }));
}

#ifdef KOJO_AGENT_BINARY
// Spawns kojo-agent; returns its pid.
pid_t SpawnAgent(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  std::string bin = KOJO_AGENT_BINARY;
  argv.push_back(bin.data());
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  posix_spawn(&pid, bin.c_str(), nullptr, nullptr, argv.data(), environ);
  return pid;
}

int StopProcess(pid_t pid, int sig) {
  kill(pid, sig);
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

TEST(AgentBinary, RestartAdoptsTheRunningTaskAndNeverStartsItTwice) {
  SetVerboseLogging(false);
  TempDir dir;
  FakeController fake;
  const std::vector<std::string> args = {"--server", fake.url(), "--name", "node-b", "--state-dir",
                                         dir.path() + "/state", "--listen", "127.0.0.1:0",
                                         "--emulate-gpus", "2xA100", "--quiet"};
  pid_t agent = SpawnAgent(args);
  ASSERT_GT(agent, 0);
  const std::string count = dir.path() + "/count", go = dir.path() + "/go";
  fake.Place(ScriptTask(5, "echo started >> " + count + "\nwhile [ ! -e " + go + " ]; do sleep 0.01; done\n"));
  ASSERT_TRUE(WaitFor([&] { auto r = fake.report(5, 1); return r && r->running; }));
  auto reg = fake.last_register();
  ASSERT_TRUE(reg);
  EXPECT_EQ(reg->node.name, "node-b");
  EXPECT_EQ(reg->node.gpus.size(), 2u);
  EXPECT_EQ(reg->node.gpus[0].uuid, "EMU-node-b-0");

  int status = StopProcess(agent, SIGTERM);  // a clean stop leaves the task running
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  const int before = fake.registrations();
  agent = SpawnAgent(args);
  ASSERT_GT(agent, 0);
  ASSERT_TRUE(WaitFor([&] { return fake.registrations() > before; }));
  reg = fake.last_register();
  ASSERT_EQ(reg->tasks.size(), 1u);
  EXPECT_TRUE(reg->tasks[0].running);
  { std::ofstream(go) << ""; }
  ASSERT_TRUE(WaitFor([&] { return fake.acknowledged(5, 1); }));
  EXPECT_EQ(fake.report(5, 1)->exit_code, 0);
  EXPECT_EQ(ReadFile(count), "started\n");

  // kill -9 of the agent: the task lives on, and is adopted again.
  fake.Place(CommandTask(6, {"sleep", "300"}));
  ASSERT_TRUE(WaitFor([&] { auto r = fake.report(6, 1); return r && r->running; }));
  StopProcess(agent, SIGKILL);
  agent = SpawnAgent(args);
  ASSERT_TRUE(WaitFor([&] { auto r = fake.last_register(); return r && r->tasks.size() == 1 && r->tasks[0].job == 6; }));
  EXPECT_TRUE(fake.last_register()->tasks[0].running);
  fake.Kill(6, 1, 0);
  ASSERT_TRUE(WaitFor([&] { return fake.acknowledged(6, 1); }));
  auto killed = fake.report(6, 1);
  EXPECT_EQ(killed->reason, "killed");
  EXPECT_TRUE(killed->signal == SIGKILL || killed->signal == SIGTERM)
      << killed->reason << " exit " << killed->exit_code.value_or(-1);
  EXPECT_EQ(StopProcess(agent, SIGINT), 0);
}

TEST(AgentBinary, HelpAndBadFlags) {
  auto run = [](const std::vector<std::string>& args) {
    pid_t pid = SpawnAgent(args);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  EXPECT_EQ(run({"--help"}), 0);
  EXPECT_NE(run({"--server", "http://127.0.0.1:1"}), 0);  // --state-dir is required
  EXPECT_NE(run({"--server", "http://127.0.0.1:1", "--state-dir", "/tmp/x", "--emulate-gpus", "lots", "--quiet"}), 0);
  EXPECT_NE(run({"--server", "127.0.0.1:1", "--state-dir", "/tmp/x", "--quiet"}), 0);
}
#endif

}  // namespace
}  // namespace kojo::agent
