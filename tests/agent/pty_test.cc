// Interactive tasks: the terminal (PtySession) on its own, then a task
// started with a terminal by the ProcessLauncher.
#include "agent/pty.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "agent/gpu_discovery.h"
#include "agent/launcher.h"
#include "agent/log.h"
#include "test_util.h"

namespace kojo::agent {
namespace {

using namespace std::chrono_literals;
using testing::CommandTask;
using testing::ReadFile;
using testing::TempDir;
using testing::WaitFor;

// Reads the terminal's output until it holds `want` (or 5 s pass).
std::string ReadUntil(PtySession& p, std::int64_t& offset, const std::string& want) {
  std::string all;
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (all.find(want) == std::string::npos && std::chrono::steady_clock::now() < until) {
    auto c = p.Read(offset, 1 << 20, 200);
    all += c.data;
    offset = c.next;
    if (c.eof) break;
  }
  return all;
}

// A raw slave side, as a program would have it (no echo, no line editing).
int OpenSlave(const PtySession& p) {
  const int fd = open(p.slave_path().c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  termios t{};
  if (fd >= 0 && tcgetattr(fd, &t) == 0) {
    cfmakeraw(&t);
    tcsetattr(fd, TCSANOW, &t);
  }
  return fd;
}

TEST(PtySessionTest, OutputInputAndResizeGoThrough) {
  auto p = PtySession::Open(30, 100);
  ASSERT_TRUE(p.ok()) << p.error().message;
  PtySession& pty = **p;
  const int slave = OpenSlave(pty);
  ASSERT_GE(slave, 0);
  TempDir dir;
  pty.Start(dir.path() + "/out.log");
  winsize ws{};
  ASSERT_EQ(ioctl(slave, TIOCGWINSZ, &ws), 0);
  EXPECT_EQ(ws.ws_row, 30);
  EXPECT_EQ(ws.ws_col, 100);

  ASSERT_EQ(write(slave, "hello\n", 6), 6);
  std::int64_t offset = 0;
  EXPECT_NE(ReadUntil(pty, offset, "hello").find("hello"), std::string::npos);
  EXPECT_EQ(offset, 6);
  // A reader that comes back at an offset gets only what follows.
  ASSERT_EQ(write(slave, "world", 5), 5);
  auto again = pty.Read(3, 100, 1000);
  EXPECT_EQ(again.start, 3);
  WaitFor([&] { return pty.Read(0, 100, 0).next == 11; }, 2000);
  EXPECT_EQ(pty.Read(3, 100, 0).data, "lo\nworld");

  ASSERT_TRUE(pty.Write("typed\x03\x04"));
  char buf[16] = {};
  ssize_t n = 0;
  for (int i = 0; i < 50 && n < 7; ++i) {
    const ssize_t r = read(slave, buf + n, sizeof buf - static_cast<size_t>(n));
    if (r > 0) n += r;
  }
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "typed\x03\x04");  // Ctrl-C and Ctrl-D are bytes

  ASSERT_TRUE(pty.Resize(40, 120));
  ASSERT_EQ(ioctl(slave, TIOCGWINSZ, &ws), 0);
  EXPECT_EQ(ws.ws_row, 40);
  EXPECT_EQ(ws.ws_col, 120);

  // The end: every slave closed.
  close(slave);
  EXPECT_TRUE(WaitFor([&] { return pty.ended(); }, 3000));
  auto last = pty.Read(offset, 100, 0);
  EXPECT_TRUE(last.eof);
  EXPECT_EQ(last.data, "world");
  EXPECT_FALSE(pty.Write("late"));
  EXPECT_EQ(ReadFile(dir.path() + "/out.log"), "hello\nworld");
}

TEST(PtySessionTest, TheRingKeepsTheLatestBytesAndSaysWhatWasDropped) {
  auto p = PtySession::Open(24, 80, 4096);
  ASSERT_TRUE(p.ok());
  PtySession& pty = **p;
  const int slave = OpenSlave(pty);
  ASSERT_GE(slave, 0);
  pty.Start("");
  const std::string block(1000, 'x');
  for (int i = 0; i < 20; ++i) ASSERT_EQ(write(slave, block.data(), block.size()), 1000);
  ASSERT_TRUE(WaitFor([&] { return pty.Read(1 << 20, 1, 0).next == 20000; }, 3000));
  auto c = pty.Read(0, 1 << 20, 0);
  EXPECT_GT(c.start, 0);                       // older bytes were dropped
  EXPECT_LE(c.data.size(), 2 * 4096u);         // at most twice the ring between trims
  EXPECT_EQ(c.next, 20000);
  close(slave);
}

TEST(PtySessionTest, ANoticeGoesIntoTheOutputAndTheLogAndInputIsTimed) {
  TempDir dir;
  auto p = PtySession::Open();
  ASSERT_TRUE(p.ok());
  PtySession& pty = **p;
  const int slave = OpenSlave(pty);
  pty.Start(dir.path() + "/out.log");
  const auto before = PtySession::Clock::now();
  EXPECT_FALSE(pty.last_input().has_value());
  pty.Notice("\r\n[kojo] time\r\n");
  std::int64_t offset = 0;
  EXPECT_NE(ReadUntil(pty, offset, "[kojo] time").find("[kojo] time"), std::string::npos);
  EXPECT_NE(ReadFile(dir.path() + "/out.log").find("[kojo] time"), std::string::npos);
  ASSERT_TRUE(pty.Write("x"));
  ASSERT_TRUE(pty.last_input().has_value());
  EXPECT_GE(*pty.last_input(), before);
  close(slave);
}

TEST(PtySessionTest, ATaskEndedWithItsTerminalStillOpenEndsIt) {
  auto p = PtySession::Open();
  ASSERT_TRUE(p.ok());
  PtySession& pty = **p;
  const int slave = OpenSlave(pty);  // as a background process that outlives the task would hold it
  pty.Start("");
  pty.TaskEnded();
  EXPECT_TRUE(WaitFor([&] { return pty.ended(); }, 4000));
  close(slave);
}

class PtyTaskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetVerboseLogging(false);
    NewLauncher();
  }
  // A launcher on the state folder (again: an agent restart).
  void NewLauncher() {
    launcher_.reset();
    auto gpus = EmulatedDiscovery::Create("4xH100", "node-a");
    ASSERT_TRUE(gpus.ok());
    LauncherOptions o;
    o.state_dir = dir_.path() + "/state";
    o.node_name = "node-a";
    o.gpus = *(*gpus)->Discover();
    o.default_grace_s = 1;
    auto l = ProcessLauncher::Create(std::move(o));
    ASSERT_TRUE(l.ok());
    launcher_ = std::move(*l);
  }
  void TearDown() override {
    for (const auto& t : launcher_->Tasks())
      if (t.running) launcher_->Kill(t.job, t.attempt, 0);
    WaitFor([&] {
      for (const auto& t : launcher_->Tasks())
        if (t.running) return false;
      return true;
    }, 5000);
  }
  std::optional<api::TaskReport> Ended(JobId job) {
    std::optional<api::TaskReport> r;
    WaitFor([&] {
      for (const auto& t : launcher_->Tasks())
        if (t.job == job && !t.running) r = t;
      return r.has_value();
    }, 10000);
    return r;
  }
  TempDir dir_;
  std::unique_ptr<ProcessLauncher> launcher_;
};

TEST_F(PtyTaskTest, ATaskWithATerminalHasItAsItsControllingTerminal) {
  api::StartCommand c = CommandTask(
      5, {"/bin/sh", "-c", "echo held=$(test -e /proc/$$/fd/1000 && echo yes || echo no); "
                           "echo tty=$(tty) gpus=$CUDA_VISIBLE_DEVICES term=$TERM size=$(stty size); read line; "
                           "echo got=$line; exit 7"});
  c.spec.pty = true;
  c.spec.pty_rows = 33;
  c.spec.pty_cols = 99;
  c.placement.gpus = {2};
  launcher_->Start(c);
  auto pty = launcher_->FindPty(5);
  ASSERT_TRUE(pty);
  std::int64_t offset = 0;
  const std::string first = ReadUntil(*pty, offset, "size=");
  EXPECT_NE(first.find("tty=/dev/pts/"), std::string::npos) << first;
  EXPECT_NE(first.find("gpus=2 term=xterm-256color"), std::string::npos) << first;
  EXPECT_NE(first.find("held=no"), std::string::npos) << first;  // the supervisor's copy of the master, not the job's
  ASSERT_TRUE(pty->Write("hi there\r"));
  const std::string rest = ReadUntil(*pty, offset, "got=hi there");
  EXPECT_NE(rest.find("got=hi there"), std::string::npos) << rest;
  auto r = Ended(5);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exit_code, 7);
  EXPECT_TRUE(WaitFor([&] { return pty->ended(); }, 3000));
  EXPECT_NE((first + rest).find("size=33 99"), std::string::npos) << first;
  // Its output is the task's log too, and the terminal outlives Forget for a late reader.
  launcher_->Forget(5, 1);
  EXPECT_EQ(launcher_->FindPty(5), pty);
  auto logs = launcher_->FindLogs(5, 1, 0);
  ASSERT_TRUE(logs);
  EXPECT_NE(ReadFile(logs->stdout_path).find("got=hi there"), std::string::npos);
}

TEST_F(PtyTaskTest, ASessionOutlivesAnAgentRestartAndIsTakenBack) {
  api::StartCommand c = CommandTask(8, {"/bin/sh", "-c", "echo first; read a; echo got=$a; exit 5"});
  c.spec.pty = true;
  launcher_->Start(c);
  {
    auto pty = launcher_->FindPty(8);
    ASSERT_TRUE(pty);
    std::int64_t offset = 0;
    ReadUntil(*pty, offset, "first");
  }
  NewLauncher();  // the old one's master is closed; the supervisor's copy keeps the terminal up
  EXPECT_EQ(launcher_->adopted(), 1);
  auto pty = launcher_->FindPty(8);
  ASSERT_TRUE(pty) << "the terminal was not taken back";
  std::int64_t offset = 0;
  {
    auto before = launcher_->FindPty(8);
    auto c = before->Read(0, 100, 0);
    EXPECT_EQ(c.start, 7);  // "first\r\n": the offsets go on where the old agent's ended
    offset = c.next;
  }
  ASSERT_TRUE(pty->Write("again\r"));
  EXPECT_NE(ReadUntil(*pty, offset, "got=again").find("got=again"), std::string::npos);
  auto r = Ended(8);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exit_code, 5);
}

TEST_F(PtyTaskTest, CtrlCInTheTerminalInterruptsTheForegroundProgram) {
  api::StartCommand c = CommandTask(6, {"/bin/sh", "-c", "echo ready; sleep 30; echo not-interrupted"});
  c.spec.pty = true;
  launcher_->Start(c);
  auto pty = launcher_->FindPty(6);
  ASSERT_TRUE(pty);
  std::int64_t offset = 0;
  ReadUntil(*pty, offset, "ready");
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(pty->Write("\x03"));
  auto r = Ended(6);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->signal == SIGINT || r->exit_code == 130) << r->reason;  // the shell dies of it, or says so
}

TEST_F(PtyTaskTest, AKillEndsAnInteractiveShellThatIgnoresSigterm) {
  api::StartCommand c = CommandTask(7, {"/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done"});
  c.spec.pty = true;
  launcher_->Start(c);
  auto pty = launcher_->FindPty(7);
  ASSERT_TRUE(pty);
  std::int64_t offset = 0;
  ReadUntil(*pty, offset, "ready");
  const auto t0 = std::chrono::steady_clock::now();
  launcher_->Kill(7, 1, 30);  // a long grace: the hang-up ends it, not the SIGKILL
  auto r = Ended(7);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->signal, SIGHUP);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST_F(PtyTaskTest, AnIdleSessionIsWarnedThenEndedAndInputPostponesIt) {
  api::StartCommand c = CommandTask(11, {"/bin/sh", "-c", "echo ready; while read line; do echo got=$line; done"});
  c.spec.pty = true;
  c.spec.idle_timeout_s = 3;  // warned a second before
  const auto t0 = std::chrono::steady_clock::now();
  launcher_->Start(c);
  auto pty = launcher_->FindPty(11);
  ASSERT_TRUE(pty);
  std::int64_t offset = 0;
  ReadUntil(*pty, offset, "ready");
  std::this_thread::sleep_for(1500ms);
  ASSERT_TRUE(pty->Write("still here\r"));
  const auto typed = std::chrono::steady_clock::now();
  const std::string out = ReadUntil(*pty, offset, "ends in 1 s unless used");
  EXPECT_NE(out.find("[kojo] job 11: this session has been idle (no input, no GPU use) for 2 s"), std::string::npos)
      << out;
  auto r = Ended(11);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "idle");
  // Ended 3 s after the input, not 3 s after the start.
  EXPECT_GE(std::chrono::steady_clock::now() - typed, 2900ms);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 4400ms);
}

TEST_F(PtyTaskTest, ANewTimeLimitIsAnnouncedInTheTerminalAndEnforced) {
  api::StartCommand c = CommandTask(12, {"/bin/sh", "-c", "echo ready; sleep 4; echo survived; exit 0"});
  c.spec.pty = true;
  c.spec.time_limit_s = 2;
  launcher_->Start(c);
  auto pty = launcher_->FindPty(12);
  ASSERT_TRUE(pty);
  std::int64_t offset = 0;
  ReadUntil(*pty, offset, "ready");
  launcher_->SetTimeLimit(12, 1, 62);
  const std::string out = ReadUntil(*pty, offset, "survived");
  EXPECT_NE(out.find("[kojo] job 12: time limit extended by 1 min; this session ends at "), std::string::npos) << out;
  EXPECT_NE(out.find("survived"), std::string::npos) << out;
  auto r = Ended(12);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->reason, "exited");
}

}  // namespace
}  // namespace kojo::agent
