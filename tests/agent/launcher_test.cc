#include "agent/launcher.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "agent/gpu_discovery.h"
#include "agent/log.h"
#include "agent/spawn.h"
#include "api/codec.h"
#include "test_util.h"

namespace kojo::agent {
namespace {

using testing::CommandTask;
using namespace std::chrono_literals;
using testing::ReadFile;
using testing::ScriptTask;
using testing::TempDir;
using testing::WaitFor;

class LauncherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetVerboseLogging(false);
    auto gpus = EmulatedDiscovery::Create("4xH100", "node-a");
    ASSERT_TRUE(gpus.ok());
    gpus_ = *(*gpus)->Discover();
    launcher_ = MakeLauncher();
  }
  void TearDown() override {
    // Leave no process behind.
    if (launcher_) {
      for (const auto& t : launcher_->Tasks())
        if (t.running) launcher_->Kill(t.job, t.attempt, 0);
      WaitFor([&] { return AllEnded(); }, 5000);
    }
    launcher_.reset();
  }
  std::unique_ptr<ProcessLauncher> MakeLauncher(Seconds grace = 10) {
    LauncherOptions o;
    o.state_dir = dir_.path() + "/state";
    o.node_name = "node-a";
    o.gpus = gpus_;
    o.default_grace_s = grace;
    auto l = ProcessLauncher::Create(std::move(o));
    EXPECT_TRUE(l.ok());
    (*l)->SetListener([this] { ++events_; });
    return std::move(*l);
  }
  std::optional<api::TaskReport> Find(JobId job, int attempt = 1) {
    for (const auto& t : launcher_->Tasks())
      if (t.job == job && t.attempt == attempt) return t;
    return std::nullopt;
  }
  // Waits until the task ended and returns its report.
  api::TaskReport WaitEnded(JobId job, int attempt = 1, int timeout_ms = 10000) {
    std::optional<api::TaskReport> r;
    WaitFor([&] { r = Find(job, attempt); return r && !r->running; }, timeout_ms);
    EXPECT_TRUE(r && !r->running) << "task " << job << "." << attempt << " did not end";
    return r.value_or(api::TaskReport{});
  }
  bool AllEnded() {
    for (const auto& t : launcher_->Tasks())
      if (t.running) return false;
    return true;
  }
  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }

  TempDir dir_;
  std::vector<api::GpuInfo> gpus_;
  std::unique_ptr<ProcessLauncher> launcher_;
  std::atomic<int> events_{0};
};

// Running, not a zombie.
bool ProcessAlive(pid_t pid) { return pid > 0 && ProcessStartTime(pid) != 0; }

TEST_F(LauncherTest, ChildSeesTheDocumentedEnvironment) {
  api::StartCommand c = CommandTask(7, {"/bin/sh", "-c", "env > \"$OUT\"; pwd >> \"$OUT\""}, 2);
  c.spec.env = {{"OUT", Path("env.txt")}, {"FOO", "bar baz"}, {"KOJO_ARRAY_JOB_ID", "5"}};
  c.spec.workdir = dir_.path();
  c.placement.node = "node-a";
  c.placement.gpus = {1, 3};
  c.placement.rank = 1;
  c.peers = {"node-b", "node-a"};
  c.world_size = 2;
  launcher_->Start(c);
  auto r = WaitEnded(7, 2);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.reason, "exited");
  const std::string env = ReadFile(Path("env.txt"));
  for (const char* line : {"CUDA_VISIBLE_DEVICES=1,3\n", "NVIDIA_VISIBLE_DEVICES=1,3\n", "KOJO_JOB_ID=7\n",
                           "KOJO_ATTEMPT=2\n", "KOJO_NODE=node-a\n", "KOJO_GPUS=1,3\n",
                           "KOJO_GPU_UUIDS=EMU-node-a-1,EMU-node-a-3\n", "KOJO_RANK=1\n", "KOJO_WORLD_SIZE=2\n",
                           "KOJO_PEERS=node-b,node-a\n", "KOJO_MASTER_ADDR=node-b\n", "FOO=bar baz\n",
                           "KOJO_ARRAY_JOB_ID=5\n"})
    EXPECT_NE(env.find(line), std::string::npos) << "missing " << line << " in\n" << env;
  EXPECT_NE(env.find("\n" + dir_.path() + "\n"), std::string::npos) << "working directory\n" << env;
}

TEST_F(LauncherTest, MigInstancesAreVisibleByUuid) {
  api::StartCommand c = CommandTask(9, {"/bin/sh", "-c", "env > \"$OUT\""}, 1);
  c.spec.env = {{"OUT", Path("env.txt")}};
  c.placement.gpus = {2};
  c.placement.gpu_uuids = {"MIG-EMU-node-a-0-2"};
  launcher_->Start(c);
  EXPECT_EQ(WaitEnded(9).exit_code, 0);
  const std::string env = ReadFile(Path("env.txt"));
  EXPECT_NE(env.find("\nCUDA_VISIBLE_DEVICES=MIG-EMU-node-a-0-2\n"), std::string::npos) << env;
  EXPECT_NE(env.find("\nKOJO_GPUS=2\n"), std::string::npos) << env;
}

TEST_F(LauncherTest, CpuOnlyTaskSeesNoGpusAndDefaultsToTheWorkFolder) {
  api::StartCommand c = ScriptTask(8, "env > \"$OUT\"; pwd >> \"$OUT\"\n");
  c.spec.env = {{"OUT", Path("env.txt")}};
  launcher_->Start(c);
  EXPECT_EQ(WaitEnded(8).exit_code, 0);
  const std::string env = ReadFile(Path("env.txt"));
  EXPECT_NE(env.find("\nCUDA_VISIBLE_DEVICES=\n"), std::string::npos) << env;
  EXPECT_NE(env.find("KOJO_WORLD_SIZE=1\n"), std::string::npos) << env;
  EXPECT_NE(env.find("KOJO_PEERS=node-a\n"), std::string::npos) << env;
  EXPECT_NE(env.find(dir_.path() + "/state/work\n"), std::string::npos) << env;
}

TEST_F(LauncherTest, ExitCodesAndSignalsAreReportedExactly) {
  launcher_->Start(ScriptTask(1, "exit 3\n"));
  launcher_->Start(ScriptTask(2, "kill -SEGV $$\n"));
  launcher_->Start(CommandTask(3, {"true"}));
  launcher_->Start(ScriptTask(4, "#!/bin/bash\n[ -n \"$BASH_VERSION\" ] && exit 42\nexit 1\n"));
  auto r1 = WaitEnded(1), r2 = WaitEnded(2), r3 = WaitEnded(3), r4 = WaitEnded(4);
  EXPECT_EQ(r1.exit_code, 3);
  EXPECT_FALSE(r1.signal);
  EXPECT_EQ(r1.reason, "exited");
  EXPECT_EQ(r2.signal, SIGSEGV);
  EXPECT_FALSE(r2.exit_code);
  EXPECT_EQ(r3.exit_code, 0);
  EXPECT_EQ(r4.exit_code, 42);  // the script's own "#!" line is kept
  EXPECT_TRUE(r1.end_time.has_value());
  EXPECT_GT(r1.start_time, 0);
}

TEST_F(LauncherTest, StdoutAndStderrGoToFiles) {
  launcher_->Start(ScriptTask(5, "echo out; echo err >&2\n"));
  WaitEnded(5);
  auto logs = launcher_->FindLogs(5, 1, 0);
  ASSERT_TRUE(logs);
  EXPECT_EQ(logs->stdout_path, dir_.path() + "/state/logs/5.1.0.out");
  EXPECT_EQ(ReadFile(logs->stdout_path), "out\n");
  EXPECT_EQ(ReadFile(logs->stderr_path), "err\n");
  EXPECT_TRUE(logs->ended);
  // Only the agent's user reads the default logs and the task records.
  for (const char* d : {"/state/logs", "/state/tasks"}) {
    struct stat st {};
    ASSERT_EQ(::stat((dir_.path() + d).c_str(), &st), 0) << d;
    EXPECT_EQ(st.st_mode & 0777, 0700u) << d;
  }

  api::StartCommand c = ScriptTask(6, "echo out; echo err >&2\n");
  c.spec.stdout_path = Path("job-%j.log");  // stderr empty: the same file
  launcher_->Start(c);
  WaitEnded(6);
  EXPECT_EQ(ReadFile(Path("job-6.log")), "out\nerr\n");
}

TEST_F(LauncherTest, LaunchFailuresAreReportedNotFatal) {
  launcher_->Start(CommandTask(1, {"kojo-no-such-command-xyz"}));
  api::StartCommand bad_dir = CommandTask(2, {"true"});
  bad_dir.spec.workdir = "/nonexistent/kojo/dir";
  launcher_->Start(bad_dir);
  api::StartCommand bad_out = CommandTask(3, {"true"});
  bad_out.spec.stdout_path = "/nonexistent/kojo/out.log";
  launcher_->Start(bad_out);
  launcher_->Start(CommandTask(4, {Path("not-there")}));
  launcher_->Start(CommandTask(5, {}));
  for (JobId j = 1; j <= 5; ++j) {
    auto r = WaitEnded(j);
    EXPECT_EQ(r.exit_code, 127) << j;
    EXPECT_EQ(r.reason.rfind("launch-failed: ", 0), 0u) << j << ": " << r.reason;
  }
  EXPECT_NE(Find(1)->reason.find("command not found"), std::string::npos) << Find(1)->reason;
  EXPECT_NE(Find(2)->reason.find("/nonexistent/kojo/dir"), std::string::npos) << Find(2)->reason;
  EXPECT_NE(Find(4)->reason.find("No such file"), std::string::npos) << Find(4)->reason;
  // The launcher still works.
  launcher_->Start(CommandTask(6, {"true"}));
  EXPECT_EQ(WaitEnded(6).exit_code, 0);
}

TEST_F(LauncherTest, StartIsIdempotentPerJobAndAttempt) {
  const std::string count = Path("count");
  api::StartCommand c = ScriptTask(9, "echo x >> " + count + "\n");
  launcher_->Start(c);
  launcher_->Start(c);
  WaitEnded(9);
  launcher_->Start(c);
  launcher_->Forget(9, 1);
  launcher_->Start(c);  // a late start for a forgotten task
  EXPECT_EQ(ReadFile(count), "x\n");
  launcher_->Start(ScriptTask(9, "echo y >> " + count + "\n", 2));  // a new attempt runs
  WaitEnded(9, 2);
  EXPECT_EQ(ReadFile(count), "x\ny\n");
}

TEST_F(LauncherTest, TimeLimitSendsTermThenKillAfterGrace) {
  launcher_ = MakeLauncher(/*grace=*/1);
  api::StartCommand stubborn = ScriptTask(1, "trap '' TERM\nsleep 30\n");
  stubborn.spec.time_limit_s = 1;
  api::StartCommand polite = CommandTask(2, {"sleep", "30"});
  polite.spec.time_limit_s = 1;
  const auto start = std::chrono::steady_clock::now();
  launcher_->Start(stubborn);
  launcher_->Start(polite);
  auto r2 = WaitEnded(2);
  EXPECT_EQ(r2.signal, SIGTERM);
  EXPECT_EQ(r2.reason, "timeout");
  auto r1 = WaitEnded(1);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r1.signal, SIGKILL);
  EXPECT_EQ(r1.reason, "timeout");
  EXPECT_GE(took, std::chrono::milliseconds(1900));
  EXPECT_LT(took, std::chrono::seconds(6));
}

// The controller's lease: renewed, tasks run on; once it runs out they are
// ended with reason "fenced"; a lease of 0 is none.
TEST_F(LauncherTest, TasksEndFencedWhenTheLeaseRunsOut) {
  launcher_ = MakeLauncher(/*grace=*/1);
  launcher_->RenewLease(std::chrono::steady_clock::now(), 0ms, 1);  // none
  launcher_->Start(CommandTask(1, {"sleep", "30"}));
  ASSERT_TRUE(WaitFor([&] { auto t = Find(1); return t && t->running; }, 5000));
  launcher_->RenewLease(std::chrono::steady_clock::now(), 800ms, 1);
  std::this_thread::sleep_for(500ms);
  launcher_->RenewLease(std::chrono::steady_clock::now(), 800ms, 1);  // renewed: past the first deadline
  std::this_thread::sleep_for(500ms);
  ASSERT_TRUE(Find(1) && Find(1)->running);
  const auto start = std::chrono::steady_clock::now();
  auto r = WaitEnded(1);
  EXPECT_EQ(r.reason, "fenced");
  EXPECT_EQ(r.signal, SIGTERM);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_NE(ReadFile(dir_.path() + "/state/lease").find(' '), std::string::npos);
}

TEST_F(LauncherTest, AnIdleTimeoutEndsATaskOnlyOnceItsGpusAreIdle) {
  api::StartCommand c = CommandTask(1, {"sleep", "30"});
  c.spec.idle_timeout_s = 2;
  c.placement.gpus = {1};
  api::StartCommand other = CommandTask(2, {"sleep", "30"});  // no idle timeout: never ended for it
  launcher_->Start(c);
  launcher_->Start(other);
  // GPU 1 busy (GPU 0 idle, another's) for 4 s: kept.
  const auto until = std::chrono::steady_clock::now() + 4s;
  while (std::chrono::steady_clock::now() < until) {
    launcher_->NoteGpuUtil({0, 35, 0, 0});
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_TRUE(Find(1) && Find(1)->running) << "ended while its GPU was in use";
  EXPECT_EQ(Find(1)->time_limit_s, std::nullopt);
  // A reading that does not cover GPU 1 counts as use too.
  launcher_->NoteGpuUtil({0});
  const auto idle_from = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    launcher_->NoteGpuUtil({0, 0, 0, 0});
    if (!Find(1)->running) break;
    std::this_thread::sleep_for(200ms);
  }
  auto r = WaitEnded(1);
  EXPECT_EQ(r.reason, "idle");
  EXPECT_EQ(r.signal, SIGTERM);
  EXPECT_GE(std::chrono::steady_clock::now() - idle_from, 1900ms);
  EXPECT_TRUE(Find(2)->running);
}

TEST_F(LauncherTest, ANewTimeLimitIsReportedKeptOverARestartAndEnforced) {
  api::StartCommand c = CommandTask(3, {"sleep", "30"});
  c.spec.time_limit_s = 1;
  launcher_->Start(c);
  launcher_->SetTimeLimit(3, 1, 3);
  EXPECT_EQ(Find(3)->time_limit_s, 3);
  launcher_.reset();
  launcher_ = MakeLauncher();  // an agent restart adopts it with its new limit
  ASSERT_TRUE(Find(3));
  EXPECT_EQ(Find(3)->time_limit_s, 3);
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(Find(3)->running) << "ended at its first limit";
  launcher_->SetTimeLimit(3, 1, 2);  // shortened: ends at once
  auto r = WaitEnded(3);
  EXPECT_EQ(r.reason, "timeout");
  EXPECT_EQ(r.time_limit_s, std::nullopt);  // ended: nothing to change
}

// Found by the soak: a log asked for while its task was being started
// could be taken for a forgotten task's, and answered ended and empty.
TEST_F(LauncherTest, ALogIsNeverEndedBeforeItsTaskEnded) {
  for (JobId job = 100; job < 300; ++job) {
    std::atomic<bool> started{false};
    std::optional<TaskLogs> seen;
    std::thread reader([&] {
      while (!started) std::this_thread::yield();
      for (int i = 0; i < 100000 && !seen; ++i) seen = launcher_->FindLogs(job, 1, 0);
    });
    started = true;
    launcher_->Start(CommandTask(job, {"/bin/echo", "x"}));
    reader.join();
    if (seen && seen->ended) EXPECT_EQ(ReadFile(seen->stdout_path), "x\n") << "job " << job;
    WaitEnded(job);
    launcher_->Forget(job, 1);
  }
}

TEST_F(LauncherTest, KillStopsTheWholeProcessGroup) {
  const std::string pids = Path("pids");
  launcher_->Start(ScriptTask(1, "sleep 300 & echo $! >> " + pids + "\n(sleep 300 & echo $! >> " + pids +
                                     "; wait) &\nwait\n"));
  ASSERT_TRUE(WaitFor([&] {
    const std::string text = ReadFile(pids);
    return std::count(text.begin(), text.end(), '\n') == 2;
  }));
  std::istringstream in(ReadFile(pids));
  pid_t a = 0, b = 0;
  in >> a >> b;
  ASSERT_TRUE(ProcessAlive(a) && ProcessAlive(b));
  EXPECT_GT(launcher_->ProcessGroup(1, 1), 0);
  launcher_->Kill(1, 1, 5);
  auto r = WaitEnded(1);
  EXPECT_EQ(r.reason, "killed");
  EXPECT_EQ(r.signal, SIGTERM);
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(a) && !ProcessAlive(b); }, 3000)) << "grandchildren survived";
  launcher_->Kill(1, 1, 0);  // killing an ended task does nothing
  EXPECT_EQ(Find(1)->reason, "killed");
}

TEST_F(LauncherTest, GraceZeroKillsAtOnce) {
  const std::string ready = Path("ready");
  launcher_->Start(ScriptTask(1, "trap '' TERM\ntouch " + ready + "\nsleep 30\n"));
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(ready); }));
  launcher_->Kill(1, 1, 0);
  auto r = WaitEnded(1, 1, 3000);
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_EQ(r.reason, "killed");
}

TEST_F(LauncherTest, ListenerHearsStartsAndEnds) {
  events_ = 0;
  launcher_->Start(CommandTask(1, {"true"}));
  WaitEnded(1);
  EXPECT_TRUE(WaitFor([&] { return events_ >= 2; }, 2000)) << events_;
}

TEST_F(LauncherTest, ForgetDeletesTheRecordAndKeepsTheLogs) {
  launcher_->Start(ScriptTask(3, "echo kept\nsleep 0.3\n"));
  launcher_->Forget(3, 1);  // still running: only ended tasks are forgotten
  WaitEnded(3);
  const std::string record = dir_.path() + "/state/tasks/3.1.json";
  EXPECT_TRUE(std::filesystem::exists(record));
  launcher_->Forget(3, 1);
  EXPECT_FALSE(Find(3));
  EXPECT_FALSE(std::filesystem::exists(record));
  auto logs = launcher_->FindLogs(3, 1, 0);
  ASSERT_TRUE(logs);
  EXPECT_TRUE(logs->ended);
  EXPECT_EQ(ReadFile(logs->stdout_path), "kept\n");
  EXPECT_FALSE(launcher_->FindLogs(3, 2, 0));
  EXPECT_FALSE(launcher_->FindLogs(4, 1, 0));
}

TEST_F(LauncherTest, RestartAdoptsRunningTasksAndNeverStartsThemTwice) {
  const std::string count = Path("count");
  api::StartCommand runs_on = ScriptTask(1, "echo started >> " + count + "\nsleep 1.5\nexit 4\n");
  api::StartCommand ends_meanwhile = ScriptTask(2, "exit 5\n");
  api::StartCommand ended_before = ScriptTask(3, "exit 6\n");
  launcher_->Start(ended_before);
  WaitEnded(3);
  launcher_->Start(runs_on);
  launcher_->Start(ends_meanwhile);
  ASSERT_TRUE(WaitFor([&] { return ReadFile(count) == "started\n"; }));
  const pid_t pgid = launcher_->ProcessGroup(1, 1);
  ASSERT_GT(pgid, 0);

  launcher_.reset();  // the agent goes away; its tasks do not
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(ProcessAlive(pgid));
  launcher_ = MakeLauncher();
  EXPECT_EQ(launcher_->adopted(), 1);
  auto r1 = Find(1);
  ASSERT_TRUE(r1);
  EXPECT_TRUE(r1->running);
  EXPECT_EQ(launcher_->ProcessGroup(1, 1), pgid);
  launcher_->Start(runs_on);  // the controller asks again: ignored
  EXPECT_EQ(WaitEnded(2).exit_code, 5);
  EXPECT_EQ(WaitEnded(3).exit_code, 6);
  auto end1 = WaitEnded(1);
  EXPECT_EQ(end1.exit_code, 4);
  EXPECT_EQ(end1.reason, "exited");
  EXPECT_EQ(ReadFile(count), "started\n");
}

TEST_F(LauncherTest, RestartKeepsAKillGoingAndItsReason) {
  launcher_ = MakeLauncher(/*grace=*/1);
  const std::string ready = Path("ready");
  launcher_->Start(ScriptTask(1, "trap '' TERM\ntouch " + ready + "\nsleep 30\n"));
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(ready); }));
  launcher_->Kill(1, 1, 1);
  launcher_.reset();
  launcher_ = MakeLauncher(/*grace=*/1);
  auto r = WaitEnded(1, 1, 5000);
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_EQ(r.reason, "killed");
}

TEST_F(LauncherTest, LostSupervisorIsReportedAndItsJobStopped) {
  launcher_->Start(CommandTask(1, {"sleep", "300"}));
  const pid_t job = launcher_->ProcessGroup(1, 1);
  ASSERT_GT(job, 0);
  auto record = api::Json::parse(ReadFile(dir_.path() + "/state/tasks/1.1.json"));
  const pid_t supervisor = record["supervisor_pid"].get<pid_t>();
  ASSERT_GT(supervisor, 0);
  kill(supervisor, SIGKILL);
  auto r = WaitEnded(1);
  EXPECT_EQ(r.reason, "lost");
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(job); }, 3000));
}

TEST_F(LauncherTest, TrivialTasksStartFast) {
  constexpr int kTasks = 200;
  const auto start = std::chrono::steady_clock::now();
  for (int j = 1; j <= kTasks; ++j) launcher_->Start(CommandTask(j, {"true"}));
  const auto started = std::chrono::steady_clock::now();
  for (int j = 1; j <= kTasks; ++j) EXPECT_EQ(WaitEnded(j).exit_code, 0);
  const auto ended = std::chrono::steady_clock::now();
  std::printf("%d trivial tasks: started in %.1f ms, all ended after %.1f ms\n", kTasks,
              std::chrono::duration<double, std::milli>(started - start).count(),
              std::chrono::duration<double, std::milli>(ended - start).count());
}

}  // namespace
}  // namespace kojo::agent

namespace kojo::agent {
namespace {

TEST_F(LauncherTest, LaunchHelperDeathStopsNoTaskAndNoLaunch) {
  const std::string ready = Path("ready");
  launcher_->Start(ScriptTask(1, "touch " + ready + "\nsleep 1\nexit 3\n"));
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(ready); }));
  const pid_t helper = launcher_->HelperPid();
  ASSERT_GT(helper, 0);
  kill(helper, SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return !ProcessAlive(helper); }, 3000));
  // The running task is not the helper's to lose: it ends as it would have.
  auto r1 = WaitEnded(1);
  EXPECT_EQ(r1.exit_code, 3);
  EXPECT_EQ(r1.reason, "exited");
  // The next launch finds the helper gone and forks a new one.
  launcher_->Start(CommandTask(2, {"true"}));
  auto r2 = WaitEnded(2);
  EXPECT_EQ(r2.exit_code, 0);
  EXPECT_EQ(r2.reason, "exited");
  EXPECT_GT(launcher_->HelperPid(), 0);
  EXPECT_NE(launcher_->HelperPid(), helper);
}

TEST_F(LauncherTest, RestartAfterTheHelperDiedAdoptsTheTasks) {
  const std::string count = Path("count");
  launcher_->Start(ScriptTask(1, "echo started >> " + count + "\nsleep 1\nexit 4\n"));
  ASSERT_TRUE(WaitFor([&] { return ReadFile(count) == "started\n"; }));
  kill(launcher_->HelperPid(), SIGKILL);
  launcher_.reset();
  launcher_ = MakeLauncher();
  EXPECT_EQ(launcher_->adopted(), 1);
  launcher_->Start(ScriptTask(1, "echo started >> " + count + "\n"));  // asked again: ignored
  auto r = WaitEnded(1);
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(ReadFile(count), "started\n");
}

TEST_F(LauncherTest, ForgottenTasksFilesAreReusedNotDeleted) {
  namespace fs = std::filesystem;
  const std::string tasks = dir_.path() + "/state/tasks", spare = dir_.path() + "/state/spare";
  auto count = [](const std::string& d) {
    return std::distance(fs::directory_iterator(d), fs::directory_iterator{});
  };
  launcher_->Start(CommandTask(1, {"true"}));
  WaitEnded(1);
  std::set<ino_t> inodes;
  for (const char* ext : {".json", ".status"}) {
    struct stat st {};
    ASSERT_EQ(stat((tasks + "/1.1" + ext).c_str(), &st), 0) << ext;
    inodes.insert(st.st_ino);
  }
  launcher_->Forget(1, 1);
  EXPECT_EQ(count(tasks), 0);
  EXPECT_EQ(count(spare), 2);
  launcher_->Start(CommandTask(2, {"sh", "-c", "exit 7"}));
  EXPECT_EQ(WaitEnded(2).exit_code, 7);  // a reused status file holds no trace of the last task
  EXPECT_EQ(count(spare), 0);
  for (const char* ext : {".json", ".status"}) {
    struct stat st {};
    ASSERT_EQ(stat((tasks + "/2.1" + ext).c_str(), &st), 0) << ext;
    EXPECT_TRUE(inodes.count(st.st_ino)) << ext << " is a new file";
  }
  // A new launcher on the same state dir finds the spare files.
  launcher_->Forget(2, 1);
  launcher_ = MakeLauncher();
  launcher_->Start(CommandTask(3, {"true"}));
  EXPECT_EQ(WaitEnded(3).exit_code, 0);
  EXPECT_EQ(count(spare), 0);
}

TEST_F(LauncherTest, RecordsOfTheOlderFolderLayoutAreAdopted) {
  launcher_.reset();
  const std::string dir = dir_.path() + "/state/tasks/5.1";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/task.json") << R"({"job":5,"attempt":1,"supervisor_pid":0,"supervisor_start":0,"pid":0})";
  std::ofstream(dir + "/exit") << (2 << 8) << "\n1700000000\n";
  launcher_ = MakeLauncher();
  auto r = Find(5);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->running);
  EXPECT_EQ(r->exit_code, 2);
  launcher_->Forget(5, 1);
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST_F(LauncherTest, StrayAndUnreadableFilesAreCleanedUpAtStart) {
  launcher_.reset();
  const std::string tasks = dir_.path() + "/state/tasks";
  std::ofstream(tasks + "/8.1.json") << "";            // cut short before its supervisor started
  std::ofstream(tasks + "/8.1.status") << "";
  std::ofstream(tasks + "/9.1.status") << "pid 1\n";   // no record
  std::ofstream(tasks + "/9.1.json.tmp") << "{";
  launcher_ = MakeLauncher();
  EXPECT_TRUE(launcher_->Tasks().empty());
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(tasks), std::filesystem::directory_iterator{}), 0);
}

}  // namespace
}  // namespace kojo::agent
