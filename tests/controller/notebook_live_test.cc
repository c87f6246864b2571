// `kojo notebook` end to end: a real kojod, a real agent (emulated GPUs)
// and a real Jupyter server (Debian's jupyter-notebook) as the job. Through
// kojod only: Jupyter's API with the session's secret (cookie, ?token=,
// Authorization: token) and with a kojo token of the job's submitter; 401
// with nothing, 403 with a wrong secret or another user's token; a kernel
// started and its WebSocket opened through the proxy, a kernel_info_request
// answered; the same over HTTPS, with a Secure cookie; a server that cannot
// start reported with its log. Skipped where jupyter-notebook is not installed
// (scripts/deps.sh --test installs it).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include <fmt/format.h>

#include "daemons.h"

#if defined(KOJO_AGENT_BINARY) && defined(KOJOD_BINARY)

namespace kojo::testing {
namespace {

using namespace std::chrono_literals;

bool HaveJupyter() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && ::access((dir + "/jupyter-notebook").c_str(), X_OK) == 0) return true;
  return false;
}

// A blocking connection to 127.0.0.1:port that speaks just enough
// WebSocket for the test (client frames masked, as RFC 6455 wants).
class Socket {
 public:
  explicit Socket(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    timeval tv{2, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Socket() { ::close(fd_); }
  bool ok() const { return ok_; }
  void Send(std::string_view s) {
    while (!s.empty()) {
      const ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      s.remove_prefix(static_cast<size_t>(n));
    }
  }
  // The reply's head (up to the empty line), "" if none within 20 s.
  std::string Head() {
    const auto end = std::chrono::steady_clock::now() + 20s;
    while (buf_.find("\r\n\r\n") == std::string::npos && std::chrono::steady_clock::now() < end)
      if (!Fill()) break;
    const size_t at = buf_.find("\r\n\r\n");
    if (at == std::string::npos) return "";
    std::string head = buf_.substr(0, at + 4);
    buf_.erase(0, at + 4);
    return head;
  }
  void SendText(std::string_view payload) {
    std::string f(1, static_cast<char>(0x81));  // FIN, text
    const size_t n = payload.size();
    if (n < 126) {
      f += static_cast<char>(0x80 | n);
    } else {
      f += static_cast<char>(0x80 | 126);
      f += static_cast<char>(n >> 8);
      f += static_cast<char>(n & 0xff);
    }
    const char mask[4] = {0x12, 0x34, 0x56, 0x78};
    f.append(mask, 4);
    for (size_t i = 0; i < n; ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
    Send(f);
  }
  // The next frame's payload (server frames are not masked); nullopt at
  // the end or after `wait`.
  std::optional<std::string> Frame(std::chrono::milliseconds wait) {
    const auto end = std::chrono::steady_clock::now() + wait;
    auto need = [&](size_t n) {
      while (buf_.size() < n && std::chrono::steady_clock::now() < end)
        if (!Fill()) return false;
      return buf_.size() >= n;
    };
    if (!need(2)) return std::nullopt;
    size_t len = static_cast<unsigned char>(buf_[1]) & 0x7f, at = 2;
    if (len == 126) {
      if (!need(4)) return std::nullopt;
      len = (static_cast<size_t>(static_cast<unsigned char>(buf_[2])) << 8) | static_cast<unsigned char>(buf_[3]);
      at = 4;
    } else if (len == 127) {
      if (!need(10)) return std::nullopt;
      len = 0;
      for (int i = 2; i < 10; ++i) len = (len << 8) | static_cast<unsigned char>(buf_[static_cast<size_t>(i)]);
      at = 10;
    }
    if (!need(at + len)) return std::nullopt;
    std::string payload = buf_.substr(at, len);
    buf_.erase(0, at + len);
    return payload;
  }

 private:
  bool Fill() {
    char b[65536];
    const ssize_t n = ::recv(fd_, b, sizeof b, 0);
    if (n > 0) buf_.append(b, static_cast<size_t>(n));
    return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
  }
  int fd_ = -1;
  bool ok_ = false;
  std::string buf_;
};

class NotebookLive : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveJupyter()) GTEST_SKIP() << "jupyter-notebook is not installed (scripts/deps.sh --test installs it)";
    const std::string org = dir_.path() + "/org.json";
    {
      std::ofstream out(org);
      out << R"({"programmes": [{"name": "research"}],
                 "organisations": [{"name": "uni", "programme": "research"}],
                 "projects": [{"name": "A", "organisation": "uni"}, {"name": "B", "organisation": "uni"}],
                 "grants": [{"id": "ga", "project": "A", "gpu_hours": 1000, "start": "2020-01-01", "end": "2099-01-01"}],
                 "members": [{"project": "A", "user": "mia", "role": "member"},
                             {"project": "B", "user": "bob", "role": "member"}]})";
    }
    const std::string admin_file = dir_.path() + "/admin.token";
    std::vector<std::string> flags{"--admin-token-file", admin_file, "--org", org};
    std::vector<std::string> agent_flags;
    if (tls_) {  // HTTPS: a self-signed certificate made here
      cert_ = dir_.path() + "/cert.pem";
      const std::string key = dir_.path() + "/key.pem";
      auto made = Shell("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext "
                        "subjectAltName=IP:127.0.0.1 -keyout " + key + " -out " + cert_);
      if (made.first != 0) GTEST_SKIP() << "no openssl CLI to make a certificate: " << made.second;
      flags.insert(flags.end(), {"--tls-cert", cert_, "--tls-key", key});
      agent_flags = {"--ca-cert", cert_};
    }
    kojod_ = std::make_unique<Kojod>(dir_.path() + "/kojod", flags);
    ASSERT_TRUE(kojod_->ok()) << kojod_->log();
    admin_ = ReadFile(admin_file);
    while (!admin_.empty() && admin_.back() == '\n') admin_.pop_back();
    for (const char* user : {"mia", "bob"}) {
      auto r = Call(admin_, "POST", "/api/v1/users", Json{{"name", user}}.dump());
      ASSERT_EQ(r.first, 201) << r.second;
    }
    mia_ = MakeToken(Json{{"user", "mia"}});
    bob_ = MakeToken(Json{{"user", "bob"}});
    std::vector<std::string> argv = {KOJO_AGENT_BINARY, "--server", kojod_->url(), "--name", "n1", "--state-dir",
                                     dir_.path() + "/n1", "--listen", "127.0.0.1:0", "--emulate-gpus", "1xH100-80GB",
                                     "--token", MakeToken(Json{{"node", "n1"}}), "--heartbeat-wait-ms", "200"};
    argv.insert(argv.end(), agent_flags.begin(), agent_flags.end());
    agent_ = Process(argv, dir_.path() + "/n1.log");
    ASSERT_TRUE(WaitFor([&] {
      auto r = Call(admin_, "GET", "/api/v1/nodes/n1");
      return r.first == 200 && Json::parse(r.second)["state"] == "UP";
    }, 15s)) << ReadFile(dir_.path() + "/n1.log");
  }
  void TearDown() override {
    if (job_ > 0 && kojod_) {
      Call(admin_, "POST", fmt::format("/api/v1/jobs/{}/cancel", job_));
      WaitFor([&] {
        auto r = Call(admin_, "GET", fmt::format("/api/v1/jobs/{}", job_));
        const std::string state = r.first == 200 ? Json::parse(r.second)["state"].get<std::string>() : "";
        return state == "CANCELLED" || state == "COMPLETED" || state == "FAILED";
      }, 30s);
    }
  }

  std::pair<int, std::string> Call(const std::string& token, const std::string& method, const std::string& path,
                                   const std::string& body = "") {
    auto c = kojod_->Client();
    if (tls_) c.set_ca_cert_path(cert_.c_str());
    httplib::Headers h{{"Authorization", "Bearer " + token}};
    httplib::Result r = method == "GET" ? c.Get(path.c_str(), h) : c.Post(path.c_str(), h, body, "application/json");
    return r ? std::pair{r->status, r->body} : std::pair{0, std::string()};
  }
  std::string MakeToken(const Json& body) {
    auto r = Call(admin_, "POST", "/api/v1/tokens", body.dump());
    EXPECT_EQ(r.first, 201) << r.second;
    return r.first == 201 ? Json::parse(r.second)["secret"].get<std::string>() : "";
  }
  // A request to the session through kojod, with exactly `headers`.
  httplib::Result Session(const std::string& method, const std::string& path, httplib::Headers headers,
                          const std::string& body = "") {
    httplib::Client c(kojod_->url());
    if (tls_) c.set_ca_cert_path(cert_.c_str());
    c.set_connection_timeout(5, 0);
    c.set_read_timeout(60, 0);
    const std::string full = fmt::format("/sessions/{}/{}", job_, path);
    return method == "GET" ? c.Get(full.c_str(), headers) : c.Post(full.c_str(), headers, body, "application/json");
  }

  bool tls_ = false;  // kojod serves HTTPS
  std::string cert_;
  TempDir dir_;
  std::unique_ptr<Kojod> kojod_;
  Process agent_;
  std::string admin_, mia_, bob_;
  JobId job_ = 0;
};

TEST_F(NotebookLive, JupyterAnswersThroughKojodWithTheSecretOnly) {
  // kojo notebook: submits, waits for Jupyter to answer through kojod, prints the URL.
  const std::string work = dir_.path() + "/work";
  std::filesystem::create_directories(work);
  const auto started = std::chrono::steady_clock::now();
  auto [rc, out] = Shell(fmt::format(
      "cd {} && KOJO_SERVER={} KOJO_TOKEN={} JUPYTER_RUNTIME_DIR={}/rt JUPYTER_DATA_DIR={}/data IPYTHONDIR={}/ipy "
      "{} notebook --gpus 0 --time 10 -p A --wait 90",
      work, kojod_->url(), mia_, work, work, work, KOJO_BINARY));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::smatch m;
  const std::regex url_re(R"((http://127\.0\.0\.1:\d+)/sessions/(\d+)/\?token=([0-9a-f]{64}))");
  ASSERT_TRUE(std::regex_search(out, m, url_re)) << "rc " << rc << "\n" << out << ReadFile(dir_.path() + "/n1.log");
  job_ = std::stoll(m[2]);
  const std::string secret = m[3];
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(m[1].str(), kojod_->url());
  std::printf("kojo notebook: URL after %.2f s\n", took);

  // The secret is never in a job's view, nor in listings.
  auto shown = Call(bob_, "GET", fmt::format("/api/v1/jobs/{}", job_));
  EXPECT_EQ(shown.second.find(secret), std::string::npos);
  auto listed = Call(mia_, "GET", "/api/v1/jobs");
  EXPECT_EQ(listed.second.find(secret), std::string::npos);
  auto own = Call(mia_, "GET", fmt::format("/api/v1/jobs/{}", job_));
  EXPECT_NE(own.second.find(secret), std::string::npos);  // its submitter gets it apart, under "session"
  EXPECT_EQ(Json::parse(own.second)["spec"].count("session_secret"), 0u);

  const std::string cookie = fmt::format("kojo_session_{}={}", job_, secret);
  // With the secret as the cookie: Jupyter's API.
  auto r = Session("GET", "api/status", {{"Cookie", "other=1; " + cookie}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(Json::parse(r->body, nullptr, false).contains("started")) << r->body;
  // Its pages, under the session's base path (their links and assets too).
  r = Session("GET", "tree", {{"Cookie", cookie}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_NE(r->body.find(fmt::format("/sessions/{}/static/", job_)), std::string::npos);
  auto asset = Session("GET", "static/base/images/favicon.ico", {{"Cookie", cookie}});
  ASSERT_TRUE(asset);
  EXPECT_EQ(asset->status, 200);
  // As Jupyter's own header, and a kojo token of the submitter.
  r = Session("GET", "api/status", {{"Authorization", "token " + secret}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  r = Session("GET", "api/status", {{"Authorization", "Bearer " + mia_}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  // The first visit's ?token=: a redirect that keeps it in a cookie.
  r = Session("GET", "api/status?token=" + secret, {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 302);
  EXPECT_EQ(r->get_header_value("Location"), fmt::format("/sessions/{}/api/status", job_));
  EXPECT_NE(r->get_header_value("Set-Cookie").find(cookie + "; Path=/sessions/" + std::to_string(job_) + "/; HttpOnly"),
            std::string::npos);

  // Nothing: 401. A wrong secret, or another user's token: 403.
  r = Session("GET", "api/status", {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401) << r->body;
  const std::string wrong(64, 'a');
  for (const httplib::Headers& h : {httplib::Headers{{"Cookie", fmt::format("kojo_session_{}={}", job_, wrong)}},
                                    httplib::Headers{{"Authorization", "token " + wrong}},
                                    httplib::Headers{{"Authorization", "Bearer " + bob_}}}) {
    r = Session("GET", "api/status", h);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403) << h.begin()->second << ": " << r->body;
  }
  r = Session("GET", "api/status?token=" + wrong, {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  // A kojo token kojod does not know: 401.
  r = Session("GET", "api/status", {{"Authorization", "Bearer kojo_0123456789abcdef0123456789abcdef01234567"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  // The agent's side is closed to anyone but kojod.
  auto node = Json::parse(Call(admin_, "GET", "/api/v1/nodes/n1").second);
  const std::string agent_url = node["agent_url"].get<std::string>();
  {
    httplib::Client c(agent_url);
    c.set_connection_timeout(5, 0);
    auto direct = c.Get(fmt::format("/sessions/{}/api/status", job_).c_str(),
                        httplib::Headers{{"Authorization", "token " + secret}});
    ASSERT_TRUE(direct);
    EXPECT_EQ(direct->status, 401);
  }

  // A kernel, and its WebSocket through kojod.
  r = Session("POST", "api/kernels", {{"Cookie", cookie}}, R"({"name": "python3"})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  const std::string kernel = Json::parse(r->body)["id"].get<std::string>();
  Socket ws(kojod_->port());
  ASSERT_TRUE(ws.ok());
  ws.Send(fmt::format("GET /sessions/{}/api/kernels/{}/channels?session_id=s1 HTTP/1.1\r\n"
                      "Host: 127.0.0.1:{}\r\nOrigin: {}\r\nCookie: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                      job_, kernel, kojod_->port(), kojod_->url(), cookie));
  const std::string head = ws.Head();
  ASSERT_EQ(head.rfind("HTTP/1.1 101", 0), 0u) << head;
  EXPECT_NE(head.find("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), std::string::npos) << head;  // RFC 6455's example key
  const Json request = {{"header",
                         {{"msg_id", "m1"}, {"username", "mia"}, {"session", "s1"}, {"msg_type", "kernel_info_request"},
                          {"version", "5.3"}, {"date", ""}}},
                        {"parent_header", Json::object()},
                        {"metadata", Json::object()},
                        {"content", Json::object()},
                        {"channel", "shell"},
                        {"buffers", Json::array()}};
  ws.SendText(request.dump());
  bool replied = false;
  for (const auto end = std::chrono::steady_clock::now() + 60s; !replied && std::chrono::steady_clock::now() < end;) {
    auto frame = ws.Frame(5s);
    if (!frame) continue;
    auto msg = Json::parse(*frame, nullptr, false);
    replied = msg.is_object() && msg["msg_type"] == "kernel_info_reply" && msg["parent_header"]["msg_id"] == "m1";
  }
  EXPECT_TRUE(replied) << ReadFile(dir_.path() + "/n1.log");

  // Once cancelled, the session is gone.
  ASSERT_EQ(Call(mia_, "POST", fmt::format("/api/v1/jobs/{}/cancel", job_)).first, 200);
  ASSERT_TRUE(WaitFor([&] {
    auto s = Call(mia_, "GET", fmt::format("/api/v1/jobs/{}", job_));
    return s.first == 200 && Json::parse(s.second)["state"] == "CANCELLED";
  }, 30s));
  r = Session("GET", "api/status", {{"Cookie", cookie}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << r->body;
}

// A server that cannot start: kojo notebook says so, with the job's state
// and the end of its log, and exits 1.
TEST_F(NotebookLive, AServerThatEndsIsReportedWithTheEndOfItsLog) {
  const std::string work = dir_.path() + "/work";
  std::filesystem::create_directories(work);
  auto [rc, out] = Shell(fmt::format("cd {} && KOJO_SERVER={} KOJO_TOKEN={} {} notebook --gpus 0 --time 10 -p A -- "
                                     "--no-such-option",
                                     work, kojod_->url(), mia_, KOJO_BINARY));
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("ended before its notebook server answered (FAILED"), std::string::npos) << out;
  EXPECT_NE(out.find("unrecognized arguments: --no-such-option"), std::string::npos) << out;  // Jupyter's own words
  EXPECT_EQ(out.find("/sessions/"), std::string::npos) << out;
}

TEST_F(NotebookLive, AJobThatIsNotANotebookHasNoSession) {
  auto r = Call(mia_, "POST", "/api/v1/jobs",
                Json{{"command", {"/bin/sleep", "30"}}, {"project", "A"}, {"time_limit_s", 60}}.dump());
  ASSERT_EQ(r.first, 201) << r.second;
  job_ = Json::parse(r.second)["ids"][0].get<JobId>();
  auto s = Session("GET", "api/status", {{"Authorization", "Bearer " + mia_}});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->status, 409) << s->body;
  // The secret cannot be chosen by a submitter.
  r = Call(mia_, "POST", "/api/v1/jobs",
           Json{{"command", {"/bin/true"}}, {"project", "A"}, {"notebook", true}, {"session_secret", "x"}}.dump());
  EXPECT_EQ(r.first, 400) << r.second;
}

// Over HTTPS: kojod's TLS connections are handed to the proxy as they are
// (TLS kept), and the session's cookie is marked Secure.
class NotebookLiveTls : public NotebookLive {
 protected:
  void SetUp() override {
    tls_ = true;
    NotebookLive::SetUp();
  }
};

TEST_F(NotebookLiveTls, TheProxyWorksOverHttpsAndItsCookieIsSecure) {
  const std::string work = dir_.path() + "/work";
  std::filesystem::create_directories(work);
  auto [rc, out] = Shell(fmt::format(
      "cd {} && KOJO_SERVER={} KOJO_TOKEN={} KOJO_CA_CERT={} JUPYTER_RUNTIME_DIR={}/rt JUPYTER_DATA_DIR={}/data "
      "IPYTHONDIR={}/ipy {} notebook --gpus 0 --time 10 -p A --wait 90",
      work, kojod_->url(), mia_, cert_, work, work, work, KOJO_BINARY));
  std::smatch m;
  ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(https://127\.0\.0\.1:\d+/sessions/(\d+)/\?token=([0-9a-f]{64}))")))
      << "rc " << rc << "\n" << out;
  job_ = std::stoll(m[1]);
  const std::string secret = m[2], cookie = fmt::format("kojo_session_{}={}", job_, secret);
  auto r = Session("GET", "api/status?token=" + secret, {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 302);
  EXPECT_NE(r->get_header_value("Set-Cookie").find("; Secure"), std::string::npos) << r->get_header_value("Set-Cookie");
  r = Session("GET", "api/status", {{"Cookie", cookie}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  r = Session("POST", "api/kernels", {{"Cookie", cookie}}, R"({"name": "python3"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;
  r = Session("GET", "api/status", {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
}

}  // namespace
}  // namespace kojo::testing

#endif
