// RentRunner: providers' start and stop programs run in their own process
// groups, with their environment, killed whole at their time-out, one after
// another per node, a stop cancelling a start in flight.
#include "controller/rent_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

namespace kojo::controller {
namespace {

using namespace std::chrono_literals;
using kojo::testing::ReadFile;
using kojo::testing::TempDir;
using kojo::testing::WaitFor;

class Ends {
 public:
  RentRunner::Done Callback() {
    return [this](const RentProgramEnd& e) {
      std::lock_guard lock(mu_);
      ends_.push_back(e);
      cv_.notify_all();
    };
  }
  // The first `n` ends, waiting up to `timeout` for them.
  std::vector<RentProgramEnd> Wait(size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return ends_.size() >= n; });
    return ends_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<RentProgramEnd> ends_;
};

RentProgram Program(const std::string& node, bool start, const std::string& command, Seconds timeout_s = 10) {
  RentProgram p;
  p.node = node;
  p.start = start;
  p.command = command;
  p.timeout_s = timeout_s;
  return p;
}

TEST(RentRunner, ReportsSuccessAndTheLastLineOfStderrOnFailure) {
  Ends ends;
  RentRunner runner(ends.Callback());
  runner.Run(Program("a-1", true, "exit 0"));
  runner.Run(Program("a-2", true, "echo starting >&2; echo 'no capacity in zone-a' >&2; exit 3"));
  auto got = ends.Wait(2);
  ASSERT_EQ(got.size(), 2u);
  for (const auto& e : got) {
    if (e.node == "a-1") {
      EXPECT_TRUE(e.ok) << e.reason;
    } else {
      EXPECT_FALSE(e.ok);
      EXPECT_TRUE(e.start);
      EXPECT_EQ(e.reason, "start program exited with status 3: no capacity in zone-a");
    }
  }
}

TEST(RentRunner, GivesItsEnvironmentAndWhatPrepareAddsButNotKojodsToken) {
  setenv("KOJO_TOKEN", "secret-of-kojod", 1);
  Ends ends;
  RentRunner runner(ends.Callback());
  RentProgram p = Program("a-1", true,
                          "test \"$KOJO_NODE_NAME\" = a-1 || { echo node >&2; exit 1; }; "
                          "test \"$KOJO_AGENT_TOKEN\" = made || { echo token >&2; exit 1; }; "
                          "test -z \"$KOJO_TOKEN\" || { echo kojod token >&2; exit 1; }");
  p.env["KOJO_NODE_NAME"] = "a-1";
  p.prepare = []() -> Result<std::map<std::string, std::string>> {
    return std::map<std::string, std::string>{{"KOJO_AGENT_TOKEN", "made"}};
  };
  runner.Run(std::move(p));
  RentProgram q = Program("a-2", true, "exit 0");
  q.prepare = []() -> Result<std::map<std::string, std::string>> { return InvalidArgument("cannot make its token"); };
  runner.Run(std::move(q));
  auto got = ends.Wait(2);
  unsetenv("KOJO_TOKEN");
  ASSERT_EQ(got.size(), 2u);
  for (const auto& e : got) {
    if (e.node == "a-1") EXPECT_TRUE(e.ok) << e.reason;
    else EXPECT_EQ(e.reason, "cannot make its token");
  }
}

TEST(RentRunner, KojodsDescriptorsDoNotReachThePrograms) {
  const int fd = ::open("/dev/null", O_RDONLY);  // no close-on-exec
  ASSERT_GE(fd, 3);
  Ends ends;
  RentRunner runner(ends.Callback());
  runner.Run(Program("a-1", false, "if [ -e /proc/$$/fd/" + std::to_string(fd) + " ]; then echo leaked >&2; exit 1; fi"));
  auto got = ends.Wait(1);
  ::close(fd);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].ok) << got[0].reason;
}

TEST(RentRunner, KillsTheWholeProcessGroupAtTheTimeOut) {
  TempDir dir;
  Ends ends;
  RentRunner runner(ends.Callback());
  const std::string pid_file = dir.path() + "/child";
  runner.Run(Program("a-1", true, "sleep 100 & echo $! > " + pid_file + "; echo waiting >&2; wait", /*timeout_s=*/1));
  auto got = ends.Wait(1, 10s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(got[0].ok);
  EXPECT_EQ(got[0].reason, "start program killed at its time-out of 1 s; its last words: waiting");
  const pid_t child = std::stoi(ReadFile(pid_file));
  // Its background child went with it (reaped by init: gone, or a zombie for a moment).
  EXPECT_TRUE(WaitFor([&] {
    const std::string stat = ReadFile("/proc/" + std::to_string(child) + "/stat");
    return stat.empty() || stat.find(") Z ") != std::string::npos;
  }, 5s));
}

TEST(RentRunner, AStopCancelsTheStartInFlightAndRunsAfterIt) {
  Ends ends;
  RentRunner runner(ends.Callback());
  runner.Run(Program("a-1", true, "sleep 100", /*timeout_s=*/100));
  ASSERT_TRUE(WaitFor([&] { return runner.Busy("a-1"); }, 1s));
  std::this_thread::sleep_for(200ms);  // the start is running, not queued
  runner.Run(Program("a-1", false, "exit 0"));
  auto got = ends.Wait(2, 10s);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].start);
  EXPECT_FALSE(got[0].ok);
  EXPECT_EQ(got[0].reason, "start program cancelled: a stop was ordered");
  EXPECT_FALSE(got[1].start);
  EXPECT_TRUE(got[1].ok) << got[1].reason;
  EXPECT_TRUE(WaitFor([&] { return !runner.Busy("a-1"); }, 2s));
}

TEST(RentRunner, StopKillsWhatRunsAndReportsNothingMore) {
  Ends ends;
  auto runner = std::make_unique<RentRunner>(ends.Callback());
  runner->Run(Program("a-1", true, "sleep 100", 100));
  runner->Run(Program("a-1", false, "exit 0"));  // queued behind it... and cancels it
  runner->Run(Program("b-1", true, "sleep 100", 100));
  std::this_thread::sleep_for(200ms);
  const auto before = std::chrono::steady_clock::now();
  runner->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 5s);
  runner.reset();
  for (const auto& e : ends.Wait(0)) EXPECT_NE(e.node, "b-1");
}

}  // namespace
}  // namespace kojo::controller
