// Raw routes of net::GuardedServer: a request under the prefix takes its
// connection (head parsed, the body's bytes left to read), other paths
// stay with cpp-httplib, on the same connection too; the header cap and
// deadline hold for raw requests as for the others.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "net/http_conn.h"

namespace kojo::net {
namespace {

using namespace std::chrono_literals;

// A blocking client connection to 127.0.0.1:port.
class Client {
 public:
  explicit Client(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Client() { ::close(fd_); }
  void Send(std::string_view s) {
    while (!s.empty()) {
      const ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      s.remove_prefix(static_cast<size_t>(n));
    }
  }
  // Everything up to the server's close (or 5 s).
  std::string ReadAll() {
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd_, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<size_t>(n));
    return out;
  }
  // Up to and including `marker` (or what came before the close).
  std::string ReadUntil(std::string_view marker) {
    std::string out;
    char c;
    while (out.find(marker) == std::string::npos && ::recv(fd_, &c, 1, 0) == 1) out += c;
    return out;
  }

 private:
  int fd_ = -1;
};

// Echoes the head it was given, then the body's bytes (Content-Length).
void Echo(const RawRequest& req, RawConn& conn) {
  std::string echo = req.method + " " + req.target + " " + req.version + "\n";
  for (const auto& [n, v] : req.headers) echo += n + "=" + v + "\n";
  size_t want = 0;
  if (const std::string* cl = req.Header("content-length")) want = std::stoul(*cl);
  std::string body;
  char buf[256];
  while (body.size() < want) {
    short ev = 0;
    const ssize_t n = conn.Recv(buf, std::min(sizeof buf, want - body.size()), ev);
    if (n > 0) body.append(buf, static_cast<size_t>(n));
    else if (n == 0 || !ev) break;
    else std::this_thread::sleep_for(1ms);
  }
  echo += "body=" + body;
  conn.WriteAll("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: " + std::to_string(echo.size()) +
                "\r\n\r\n" + echo);
}

class RawRoute : public ::testing::Test {
 protected:
  void Start(ConnLimits limits = {}) {
    server_ = std::make_unique<GuardedServer>(limits);
    server_->Get("/plain", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("plain", "text/plain");
    });
    server_->AddRawRoute("/raw/", Echo);
    port_ = server_->bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    for (int i = 0; i < 5000 && !server_->is_running(); ++i) std::this_thread::sleep_for(1ms);
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  std::unique_ptr<GuardedServer> server_;
  std::thread thread_;
  int port_ = 0;
};

TEST_F(RawRoute, TakesTheConnectionWithItsHeadParsedAndItsBodyUnread) {
  Start();
  Client c(port_);
  c.Send("POST /raw/a/b?x=1 HTTP/1.1\r\nHost: here\r\nX-Two:  spaced value \r\nContent-Length: 5\r\n\r\nhello");
  const std::string got = c.ReadAll();
  EXPECT_NE(got.find("POST /raw/a/b?x=1 HTTP/1.1\nHost=here\nX-Two=spaced value\nContent-Length=5\nbody=hello"),
            std::string::npos)
      << got;
}

TEST_F(RawRoute, OtherPathsStayWithHttplibOnTheSameConnection) {
  Start();
  Client c(port_);
  c.Send("GET /plain HTTP/1.1\r\nHost: here\r\n\r\n");
  EXPECT_NE(c.ReadUntil("plain").find("200 OK"), std::string::npos);
  c.Send("GET /raw/next HTTP/1.1\r\nHost: here\r\n\r\n");
  EXPECT_NE(c.ReadAll().find("GET /raw/next HTTP/1.1"), std::string::npos);
  Client d(port_);
  d.Send("GET /rawish HTTP/1.1\r\nHost: here\r\nConnection: close\r\n\r\n");
  EXPECT_NE(d.ReadAll().find("404"), std::string::npos);
}

TEST_F(RawRoute, HeadersAboveTheCapAreRefused) {
  ConnLimits limits;
  limits.max_header_bytes = 1024;
  Start(limits);
  Client c(port_);
  c.Send("GET /raw/x HTTP/1.1\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n");
  EXPECT_EQ(c.ReadAll().rfind("HTTP/1.1 431", 0), 0u);
}

TEST_F(RawRoute, HeadersThatDoNotComeInTimeAreCutOff) {
  ConnLimits limits;
  limits.header_time = 300ms;
  Start(limits);
  Client c(port_);
  c.Send("GET /raw/x HTTP/1.1\r\nHost: slow\r\n");  // never the empty line
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(c.ReadAll().rfind("HTTP/1.1 408", 0), 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
}

TEST_F(RawRoute, MalformedHeadsAreRefused) {
  Start();
  for (const char* bad : {"GET /raw/x\r\n\r\n", "GET /raw/x HTTP/1.1\r\nNoColon\r\n\r\n",
                          "GET /raw/x HTTP/1.1\r\nX: a\x01z\r\n\r\n"}) {
    Client c(port_);
    c.Send(bad);
    EXPECT_EQ(c.ReadAll().rfind("HTTP/1.1 400", 0), 0u) << bad;
  }
}

// Over TLS the handler reads and writes the same bytes (the decrypted
// ones already buffered first).
TEST(RawRouteTls, TakesTheConnectionOverTls) {
  char tmpl[] = "/tmp/kojo-tls-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl, cert = dir + "/cert.pem", key = dir + "/key.pem";
  const std::string made = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -keyout " + key +
                           " -out " + cert + " >/dev/null 2>&1";
  if (std::system(made.c_str()) != 0) {
    std::filesystem::remove_all(dir);
    GTEST_SKIP() << "no openssl CLI to make a certificate";
  }
  TlsServer server(cert.c_str(), key.c_str(), ConnLimits{});
  ASSERT_TRUE(server.is_valid());
  server.AddRawRoute("/raw/", Echo);
  const int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread t([&] { server.listen_after_bind(); });
  for (int i = 0; i < 5000 && !server.is_running(); ++i) std::this_thread::sleep_for(1ms);
  httplib::SSLClient client("127.0.0.1", port);
  client.enable_server_certificate_verification(false);
  client.set_read_timeout(5, 0);
  auto r = client.Post("/raw/tls?x=2", std::string(3000, 'z'), "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.rfind("POST /raw/tls?x=2 HTTP/1.1\n", 0), 0u) << r->body;
  EXPECT_NE(r->body.find("body=" + std::string(3000, 'z')), std::string::npos);
  server.stop();
  t.join();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kojo::net
