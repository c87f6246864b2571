#include "agent/log_server.h"

#include <fstream>

#include <gtest/gtest.h>
#include <httplib.h>

#include "agent/log.h"
#include "test_util.h"

namespace kojo::agent {
namespace {

using testing::ScriptTask;
using testing::TempDir;
using testing::WaitFor;

class LogServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetVerboseLogging(false);
    LauncherOptions o;
    o.state_dir = dir_.path();
    o.node_name = "node-a";
    auto l = ProcessLauncher::Create(std::move(o));
    ASSERT_TRUE(l.ok());
    launcher_ = std::move(*l);
    server_ = std::make_unique<LogServer>(*launcher_);
    auto port = server_->Start("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.error().message;
    client_ = std::make_unique<httplib::Client>("127.0.0.1", *port);
  }
  void TearDown() override {
    for (const auto& t : launcher_->Tasks())
      if (t.running) launcher_->Kill(t.job, t.attempt, 0);
    WaitFor([&] {
      for (const auto& t : launcher_->Tasks())
        if (t.running) return false;
      return true;
    });
    server_.reset();
    launcher_.reset();
  }
  bool Ended(JobId job) {
    for (const auto& t : launcher_->Tasks())
      if (t.job == job) return !t.running;
    return false;
  }

  TempDir dir_;
  std::unique_ptr<ProcessLauncher> launcher_;
  std::unique_ptr<LogServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(LogServerTest, ReadsByOffsetAndSaysEof) {
  launcher_->Start(ScriptTask(1, "printf 'hello world\\n'; printf oops >&2\n"));
  ASSERT_TRUE(WaitFor([&] { return Ended(1); }));
  auto r = client_->Get("/logs/1?attempt=1&offset=0&limit=5");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(r->get_header_value("X-Kojo-Log-Offset"), "5");
  EXPECT_FALSE(r->has_header("X-Kojo-Log-Eof"));
  r = client_->Get("/logs/1?attempt=1&offset=5");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, " world\n");
  EXPECT_EQ(r->get_header_value("X-Kojo-Log-Offset"), "12");
  EXPECT_EQ(r->get_header_value("X-Kojo-Log-Eof"), "1");
  r = client_->Get("/logs/1?stream=stderr&rank=0");  // attempt: the newest
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "oops");
  EXPECT_EQ(r->get_header_value("X-Kojo-Log-Eof"), "1");
  r = client_->Get("/logs/1?attempt=1&offset=100");  // past the end: nothing, and the end
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "");
  EXPECT_EQ(r->get_header_value("X-Kojo-Log-Offset"), "100");
  EXPECT_EQ(r->get_header_value("X-Kojo-Log-Eof"), "1");

  launcher_->Forget(1, 1);  // acknowledged: logs stay readable
  r = client_->Get("/logs/1?attempt=1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello world\n");
  EXPECT_EQ(r->get_header_value("X-Kojo-Log-Eof"), "1");
}

TEST_F(LogServerTest, NoEofWhileTheTaskRuns) {
  const std::string go = dir_.path() + "/go";
  launcher_->Start(ScriptTask(2, "echo first\nwhile [ ! -e " + go + " ]; do sleep 0.01; done\necho second\n"));
  ASSERT_TRUE(WaitFor([&] {
    auto r = client_->Get("/logs/2?attempt=1");
    return r && r->body == "first\n";
  }));
  auto r = client_->Get("/logs/2?attempt=1");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_header("X-Kojo-Log-Eof"));
  { std::ofstream(go) << ""; }
  ASSERT_TRUE(WaitFor([&] { return Ended(2); }));
  r = client_->Get("/logs/2?attempt=1&offset=6");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "second\n");
  EXPECT_EQ(r->get_header_value("X-Kojo-Log-Eof"), "1");
}

TEST_F(LogServerTest, UnknownTasksAre404) {
  launcher_->Start(ScriptTask(3, "echo x\n"));
  ASSERT_TRUE(WaitFor([&] { return Ended(3); }));
  for (const char* path : {"/logs/999", "/logs/999?attempt=1", "/logs/3?attempt=2", "/logs/3?rank=1"}) {
    auto r = client_->Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path;
    EXPECT_NE(r->body.find("not_found"), std::string::npos) << r->body;
  }
}

TEST_F(LogServerTest, MalformedParametersAndPathTricksAre400) {
  for (const char* path :
       {"/logs/abc", "/logs/-1", "/logs/0", "/logs/1.5", "/logs/..%2F..%2Fetc%2Fpasswd", "/logs/%2Fetc%2Fpasswd",
        "/logs/1?attempt=x", "/logs/1?attempt=-1", "/logs/1?rank=../../x", "/logs/1?stream=/etc/passwd",
        "/logs/1?offset=-5", "/logs/1?limit=0", "/logs/1?limit=999999999999", "/logs/1?path=/etc/passwd",
        "/logs/99999999999999999999999"}) {
    auto r = client_->Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 400) << path;
    EXPECT_NE(r->body.find("invalid_argument"), std::string::npos) << path << ": " << r->body;
  }
  // Paths that leave /logs/ altogether match no route.
  for (const char* path : {"/logs/../etc/passwd", "/logs/1/../../etc/passwd", "/etc/passwd"}) {
    auto r = client_->Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_GE(r->status, 400) << path;
    EXPECT_LT(r->status, 500) << path;
    EXPECT_EQ(r->body.find("root:"), std::string::npos) << path;
  }
}

TEST_F(LogServerTest, Health) {
  auto r = client_->Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"status":"ok"})");
}

TEST(ParseListenAddress, HostAndPort) {
  auto a = ParseListenAddress("127.0.0.1:0");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->first, "127.0.0.1");
  EXPECT_EQ(a->second, 0);
  auto b = ParseListenAddress("[::1]:7101");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->first, "::1");
  EXPECT_EQ(b->second, 7101);
  for (const char* bad : {"", "127.0.0.1", ":80", "host:99999", "host:x"}) EXPECT_FALSE(ParseListenAddress(bad).ok()) << bad;
}

}  // namespace
}  // namespace kojo::agent
