#include "agent/log_server.h"

#include <unistd.h>

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

const std::string kKey = "5ec4e75ec4e75ec4e75ec4e75ec4e75ec4e75ec4e75ec4e75ec4e75ec4e75ec4";

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
    server_ = std::make_unique<LogServer>(*launcher_, kKey);
    auto port = server_->Start("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.error().message;
    port_ = *port;
    client_ = std::make_unique<httplib::Client>("127.0.0.1", *port);
    client_->set_bearer_token_auth(kKey);  // the controller's requests
    bare_ = std::make_unique<httplib::Client>("127.0.0.1", *port);
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
  int port_ = 0;
  std::unique_ptr<httplib::Client> client_;  // with the key
  std::unique_ptr<httplib::Client> bare_;    // with whatever headers a test gives
};

void ExpectRefused(const httplib::Result& r, const std::string& what) {
  ASSERT_TRUE(r) << what;
  EXPECT_EQ(r->status, 401) << what;
  EXPECT_NE(r->body.find("unauthorized"), std::string::npos) << what << ": " << r->body;
  EXPECT_EQ(r->body.find("secret"), std::string::npos) << what << ": " << r->body;
  EXPECT_FALSE(r->has_header("X-Kojo-Log-Offset")) << what;
}

TEST_F(LogServerTest, LogsNeedTheKey) {
  launcher_->Start(ScriptTask(3, "echo secret-output\n"));
  ASSERT_TRUE(WaitFor([&] { return Ended(3); }));
  ExpectRefused(bare_->Get("/logs/3"), "no header");
  for (const std::string& auth : std::vector<std::string>{"Bearer ", "Bearer wrong", "Bearer " + kKey.substr(0, 63), "Bearer " + kKey + "0",
                                 "Bearer " + kKey.substr(0, 63) + "5", "bearer " + kKey, "Basic " + kKey, kKey,
                                 "Bearer  " + kKey})
    ExpectRefused(bare_->Get("/logs/3", httplib::Headers{{"Authorization", auth}}), auth);
  // Refused before the request is looked at: unknown jobs and bad
  // parameters say nothing either.
  for (const char* path : {"/logs/999", "/logs/abc", "/logs/3?path=/etc/passwd", "/logs/3?stream=stderr"})
    ExpectRefused(bare_->Get(path), path);
  // Not in the query string either.
  ExpectRefused(bare_->Get(("/logs/3?token=" + kKey).c_str()), "key in the query");
  auto ok = bare_->Get("/logs/3", httplib::Headers{{"Authorization", "Bearer " + kKey}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "secret-output\n");
  // The health check stays open and tells nothing of the tasks.
  auto health = bare_->Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, R"({"status":"ok"})");
}

TEST_F(LogServerTest, AServerWithoutAKeyRefusesEveryone) {
  launcher_->Start(ScriptTask(4, "echo x\n"));
  ASSERT_TRUE(WaitFor([&] { return Ended(4); }));
  LogServer keyless(*launcher_, "");
  auto port = keyless.Start("127.0.0.1", 0);
  ASSERT_TRUE(port.ok()) << port.error().message;
  httplib::Client c("127.0.0.1", *port);
  ExpectRefused(c.Get("/logs/4"), "no header");
  ExpectRefused(c.Get("/logs/4", httplib::Headers{{"Authorization", "Bearer "}}), "empty key");
  ExpectRefused(c.Get("/logs/4", httplib::Headers{{"Authorization", "Bearer " + kKey}}), "another server's key");
  keyless.Stop();
}

TEST(NewLogSecret, SixtyFourHexDigitsNewEachTime) {
  auto a = NewLogSecret(), b = NewLogSecret();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 64u);
  EXPECT_EQ(a->find_first_not_of("0123456789abcdef"), std::string::npos) << *a;
  EXPECT_NE(*a, *b);
}

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

// The agent's requests carry no body: one that announces one (a chunked
// upload, say) is refused before it is read, and the server stays up.
TEST_F(LogServerTest, RequestsWithABodyAreRefusedUnread) {
  const std::string big(1 << 20, 'x');
  size_t sent = 0;
  auto r = client_->Post("/logs/1", httplib::Headers{},
                         [&](size_t offset, httplib::DataSink& sink) {
                           const size_t n = std::min<size_t>(64 << 10, big.size() - offset);
                           sink.write(big.data() + offset, n);
                           sent += n;
                           if (offset + n == big.size()) sink.done();
                           return true;
                         },
                         "text/plain");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("carry none"), std::string::npos) << r->body;
  auto health = bare_->Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

// A notebook task (JobSpec.notebook): its server listens on the loopback
// port the launcher picked, and /sessions/{job}/ relays to it for the key
// alone, the key header left out. The server here is a few lines of
// Python's standard library that tell what they received.
TEST_F(LogServerTest, SessionsRelayToTheTasksPortForTheKeyOnly) {
  if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3 for the fake server";
  api::StartCommand c = ScriptTask(7, R"py(#!/usr/bin/python3
import os, http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("path=%s key=%s token=%s base=%s host=%s" % (self.path, self.headers.get("X-Kojo-Agent-Key"),
                os.environ.get("JUPYTER_TOKEN"), os.environ.get("KOJO_SESSION_BASE"), self.headers.get("Host"))).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["KOJO_SESSION_PORT"])), H).serve_forever()
)py");
  c.spec.notebook = true;
  c.spec.session_secret = std::string(64, 'c');
  launcher_->Start(c);
  ASSERT_TRUE(launcher_->SessionPort(7).has_value());
  const httplib::Headers key{{"X-Kojo-Agent-Key", kKey}};
  int status = 0;
  std::string body;
  ASSERT_TRUE(WaitFor([&] {
    auto r = bare_->Get("/sessions/7/api/status?x=1", key);
    status = r ? r->status : 0;
    body = r ? r->body : "";
    return r && r->status != 502;
  })) << body;
  ASSERT_EQ(status, 200) << body;
  EXPECT_EQ(body, "path=/sessions/7/api/status?x=1 key=None token=" + std::string(64, 'c') +
                         " base=/sessions/7/ host=127.0.0.1:" + std::to_string(port_));
  // Without the key, or with another: 401. No session of that job: 404.
  for (const httplib::Headers& h : {httplib::Headers{}, httplib::Headers{{"X-Kojo-Agent-Key", kKey.substr(0, 63) + "5"}},
                                    httplib::Headers{{"Authorization", "Bearer " + kKey}}}) {
    auto refused = bare_->Get("/sessions/7/api/status", h);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 401);
  }
  auto none = bare_->Get("/sessions/8/api/status", key);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 404);
  EXPECT_FALSE(launcher_->SessionPort(8).has_value());
  // Once the task has ended, its session is gone.
  launcher_->Kill(7, 1, 0);
  ASSERT_TRUE(WaitFor([&] { return Ended(7); }));
  auto gone = bare_->Get("/sessions/7/api/status", key);
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->status, 404);
}

}  // namespace
}  // namespace kojo::agent
