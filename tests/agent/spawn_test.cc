#include "agent/spawn.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "common/files.h"
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

// The lease (agent/spawn.h): past its deadline the supervisor ends the job
// itself, SIGTERM then SIGKILL after the grace, and notes it fenced; a lease
// renewed in time, or none, lets it run.
TEST(SpawnHelper, TheSupervisorEndsItsJobWhenTheLeaseRunsOut) {
  TempDir dir;
  auto helper = SpawnHelper::Start();
  ASSERT_TRUE(helper.ok());
  const std::string lease = dir.path() + "/lease";
  ASSERT_TRUE(WriteFileInPlace(lease, FormatLease(MonotonicMs() + 1500, 1)));
  EXPECT_EQ(FormatLease(1, 2).size(), FormatLease(MonotonicMs() + 86400000, 3600).size());  // fixed width
  SpawnRequest req = Request(dir, {"/bin/sh", "-c", "trap '' TERM; sleep 60"});
  req.lease_file = lease;
  const auto start = std::chrono::steady_clock::now();
  SpawnResult r = (*helper)->Spawn(req, [](pid_t) { return true; });
  ASSERT_GT(r.job, 0) << r.error;
  // Renewed once: it runs past the first deadline.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_TRUE(WriteFileInPlace(lease, FormatLease(MonotonicMs() + 2000, 1)));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_FALSE(ParseSupervisorStatus(ReadFile(dir.path() + "/status")).ended);
  SupervisorStatus st;
  ASSERT_TRUE(WaitFor([&] { return (st = ParseSupervisorStatus(ReadFile(dir.path() + "/status"))).ended; }, 10000));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(st.fenced);
  EXPECT_TRUE(WIFSIGNALED(st.wait_status));
  EXPECT_EQ(WTERMSIG(st.wait_status), SIGKILL);  // it ignored the SIGTERM
  EXPECT_GE(took, std::chrono::milliseconds(3400));  // 2.5 s of lease, then a second of grace
  // No lease (a deadline of 0): the job runs to its end.
  TempDir dir2;
  ASSERT_TRUE(WriteFileInPlace(lease, FormatLease(0, 0)));
  SpawnRequest plain = Request(dir2, {"/bin/sh", "-c", "sleep 1.5; exit 4"});
  plain.lease_file = lease;
  ASSERT_GT((*helper)->Spawn(plain, [](pid_t) { return true; }).job, 0);
  ASSERT_TRUE(WaitFor([&] { return (st = ParseSupervisorStatus(ReadFile(dir2.path() + "/status"))).ended; }, 10000));
  EXPECT_FALSE(st.fenced);
  EXPECT_EQ(WEXITSTATUS(st.wait_status), 4);
}

TEST(SupervisorStatus, AFencedEndIsNoted) {
  EXPECT_TRUE(ParseSupervisorStatus("pid 12\nexit 9 1700000000 fenced\n").fenced);
  EXPECT_FALSE(ParseSupervisorStatus("pid 12\nexit 9 1700000000\n").fenced);
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
