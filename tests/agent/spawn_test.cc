#include "agent/spawn.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "test_util.h"

namespace kojo::agent {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WaitFor;

SpawnRequest Request(const TempDir& dir, std::vector<std::string> argv) {
  SpawnRequest r;
  r.path = argv[0];
  r.argv = std::move(argv);
  r.env = {"PATH=/usr/bin:/bin"};
  r.workdir = dir.path();
  r.stdout_path = dir.path() + "/out";
  r.stderr_path = dir.path() + "/out";
  r.status_file = dir.path() + "/status";
  return r;
}

TEST(SpawnHelper, RunsTheJobAfterTheRecordAndNotesItsEnd) {
  TempDir dir;
  auto helper = SpawnHelper::Start();
  ASSERT_TRUE(helper.ok());
  pid_t recorded = 0;
  SpawnResult r = (*helper)->Spawn(Request(dir, {"/bin/sh", "-c", "echo hi; exit 3"}), [&](pid_t sup) {
    recorded = sup;
    return true;
  });
  EXPECT_EQ(r.error, "");
  EXPECT_GT(r.supervisor, 0);
  EXPECT_EQ(r.supervisor, recorded);
  EXPECT_GT(r.job, 0);
  SupervisorStatus st;
  ASSERT_TRUE(WaitFor([&] { return (st = ParseSupervisorStatus(ReadFile(dir.path() + "/status"))).ended; }));
  EXPECT_EQ(st.job, r.job);
  EXPECT_TRUE(WIFEXITED(st.wait_status));
  EXPECT_EQ(WEXITSTATUS(st.wait_status), 3);
  EXPECT_EQ(ReadFile(dir.path() + "/out"), "hi\n");
}

TEST(SpawnHelper, NothingRunsWhenTheRecordFails) {
  TempDir dir;
  auto helper = SpawnHelper::Start();
  ASSERT_TRUE(helper.ok());
  const std::string mark = dir.path() + "/ran";
  pid_t sup = 0;
  SpawnResult r = (*helper)->Spawn(Request(dir, {"/bin/sh", "-c", "touch " + mark}), [&](pid_t s) {
    sup = s;
    return false;
  });
  EXPECT_EQ(r.supervisor, -1);
  EXPECT_NE(r.error, "");
  ASSERT_GT(sup, 0);
  EXPECT_TRUE(WaitFor([&] { return ProcessStartTime(sup) == 0; }, 3000)) << "the supervisor stays";
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(std::filesystem::exists(mark));
  // The helper still serves.
  r = (*helper)->Spawn(Request(dir, {"/bin/true"}), [](pid_t) { return true; });
  EXPECT_EQ(r.error, "");
  EXPECT_GT(r.job, 0);
}

TEST(SpawnHelper, ADeadHelperIsReplacedAndTheRequestRetried) {
  TempDir dir;
  auto helper = SpawnHelper::Start();
  ASSERT_TRUE(helper.ok());
  const pid_t first = (*helper)->helper_pid();
  kill(first, SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return ProcessStartTime(first) == 0; }, 3000));
  SpawnResult r = (*helper)->Spawn(Request(dir, {"/bin/true"}), [](pid_t) { return true; });
  EXPECT_EQ(r.error, "");
  EXPECT_GT(r.job, 0);
  EXPECT_NE((*helper)->helper_pid(), first);
}

TEST(SpawnHelper, ExecFailuresSayWhy) {
  TempDir dir;
  auto helper = SpawnHelper::Start();
  ASSERT_TRUE(helper.ok());
  SpawnRequest req = Request(dir, {dir.path() + "/missing"});
  SpawnResult r = (*helper)->Spawn(req, [](pid_t) { return true; });
  EXPECT_NE(r.error.find("No such file"), std::string::npos) << r.error;
  SupervisorStatus st;
  ASSERT_TRUE(WaitFor([&] { return (st = ParseSupervisorStatus(ReadFile(dir.path() + "/status"))).ended; }));
  EXPECT_EQ(WEXITSTATUS(st.wait_status), 127);
  req = Request(dir, {"/bin/true"});
  req.workdir = dir.path() + "/no/such/dir";
  r = (*helper)->Spawn(req, [](pid_t) { return true; });
  EXPECT_NE(r.error.find("working directory"), std::string::npos) << r.error;
}

TEST(SupervisorStatus, OnlyCompleteLinesCount) {
  EXPECT_EQ(ParseSupervisorStatus("").job, 0);
  EXPECT_EQ(ParseSupervisorStatus("pid 12").job, 0);  // still being written
  SupervisorStatus st = ParseSupervisorStatus("pid 12\nexit 256 1700000000\n");
  EXPECT_EQ(st.job, 12);
  EXPECT_TRUE(st.ended);
  EXPECT_EQ(st.wait_status, 256);
  EXPECT_EQ(st.end_unix, 1700000000);
  EXPECT_FALSE(ParseSupervisorStatus("pid 12\nexit 256 17").ended);
  EXPECT_TRUE(ParseSupervisorStatus("exit 32512 5\n").ended);  // never ran
}

TEST(SupervisorStatus, TheBlankTailOfAReusedFileIsIgnored) {
  // A reused status file is blanked with spaces, then written over from
  // offset 0 (spare_files.h): what follows the lines is whitespace.
  const std::string blank(40, ' ');
  EXPECT_EQ(ParseSupervisorStatus(blank).job, 0);
  EXPECT_FALSE(ParseSupervisorStatus(blank).ended);
  SupervisorStatus started = ParseSupervisorStatus("pid 12\n" + blank.substr(7));
  EXPECT_EQ(started.job, 12);
  EXPECT_FALSE(started.ended);
  EXPECT_FALSE(ParseSupervisorStatus("pid 12\nexit 25" + blank.substr(15)).ended);  // still being written
  SupervisorStatus ended = ParseSupervisorStatus("pid 12\nexit 256 1700000000\n" + blank.substr(26));
  EXPECT_EQ(ended.job, 12);
  EXPECT_TRUE(ended.ended);
  EXPECT_EQ(ended.wait_status, 256);
  EXPECT_EQ(ended.end_unix, 1700000000);
}

}  // namespace
}  // namespace kojo::agent
