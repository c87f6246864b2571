// kojod's HTTP layer against clients that do not play by the rules, over
// raw sockets: bodies bounded and read only after authentication, chunked
// or not; slow clients cut off at the header deadline and unable to starve
// the others; a listen backlog that takes a burst; control characters in
// headers refused.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <sstream>

#include <fmt/format.h>

#include "daemons.h"

namespace kojo::testing {
namespace {

using namespace std::chrono_literals;

// A raw TCP connection to 127.0.0.1:port.
class Raw {
 public:
  explicit Raw(int port, bool blocking = true) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | (blocking ? 0 : SOCK_NONBLOCK), 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int r = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    connected_ = r == 0;
  }
  ~Raw() {
    if (fd_ >= 0) ::close(fd_);
  }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;
  bool connected() const { return connected_; }
  // A non-blocking connect that completed within `wait`.
  bool Established(std::chrono::milliseconds wait) {
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) != 1) return false;
    int err = 0;
    socklen_t len = sizeof err;
    return ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
  }
  // False once the peer has closed (or reset) the connection.
  bool Send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // What arrives within `wait`, up to the peer's close or the end of one
  // response's headers and `min_bytes`.
  std::string Read(std::chrono::milliseconds wait, bool until_close = false) {
    std::string got;
    const auto end = std::chrono::steady_clock::now() + wait;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) != 1) break;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      got.append(buf, static_cast<size_t>(n));
      if (!until_close && Complete(got)) break;
    }
    return got;
  }
  bool closed() const { return closed_; }

 private:
  // A whole response: headers and Content-Length bytes of body.
  static bool Complete(const std::string& s) {
    const size_t end = s.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    const size_t cl = s.find("Content-Length: ");
    if (cl == std::string::npos || cl > end) return true;
    return s.size() >= end + 4 + std::stoul(s.substr(cl + 16));
  }
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
};

int Status(const std::string& response) {
  if (response.rfind("HTTP/1.1 ", 0) != 0) return 0;
  return std::stoi(response.substr(9, 3));
}

class HttpLimitsTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> extra = {}) {
    extra.insert(extra.end(), {"--token", "s3cret"});
    d_ = std::make_unique<Kojod>(dir_.path() + "/data", extra);
    ASSERT_TRUE(d_->ok()) << d_->log();
  }
  bool HealthAnswers() {
    auto c = d_->Client();
    c.set_connection_timeout(5, 0);
    c.set_read_timeout(5, 0);
    auto r = c.Get("/api/v1/health");
    return r && r->status == 200;
  }
  TempDir dir_;
  std::unique_ptr<Kojod> d_;
};

// The probe's 300 MB chunked POST with no token was read whole before its
// 401; now the 401 comes after the headers, with most of the body unsent.
TEST_F(HttpLimitsTest, RefusedRequestsAreAnsweredBeforeTheirBodyIsRead) {
  Start();
  Raw chunked(d_->port());
  ASSERT_TRUE(chunked.Send("POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "100000\r\n" + std::string(4096, ' ')));
  const std::string r1 = chunked.Read(10s);
  EXPECT_EQ(Status(r1), 401) << r1;
  EXPECT_NE(r1.find("token"), std::string::npos) << r1;

  Raw sized(d_->port());
  ASSERT_TRUE(sized.Send("POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 300000000\r\n\r\n{"));
  const std::string r2 = sized.Read(10s);
  EXPECT_EQ(Status(r2), 401) << r2;
  // The unread rest is never taken for a next request: the connection ends.
  sized.Read(5s, true);
  EXPECT_TRUE(sized.closed());

  // With a token, a Content-Length over --max-body is 413 at once.
  Raw big(d_->port());
  ASSERT_TRUE(big.Send("POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
                       "Content-Length: 300000000\r\n\r\n{"));
  const std::string r3 = big.Read(10s);
  EXPECT_EQ(Status(r3), 413) << r3;
  EXPECT_NE(r3.find("larger than the limit"), std::string::npos) << r3;
  EXPECT_TRUE(HealthAnswers());
}

// A chunked body is held to --max-body like one with a Content-Length (it
// was read whole: a 6 MB job got 201).
TEST_F(HttpLimitsTest, ChunkedBodiesAreBoundedToo) {
  Start({"--max-body", "1048576"});
  auto c = d_->Client();
  const std::string spec = R"({"command":["true"],"hold":true,"name":")" + std::string(2 << 20, 'x') + R"("})";
  size_t sent = 0;
  auto r = c.Post("/api/v1/jobs", {{"Authorization", "Bearer s3cret"}},
                  [&](size_t offset, httplib::DataSink& sink) {
                    const size_t n = std::min<size_t>(64 << 10, spec.size() - offset);
                    sink.write(spec.data() + offset, n);
                    sent += n;
                    if (offset + n == spec.size()) sink.done();
                    return true;
                  },
                  "application/json");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 413) << r->body;
  EXPECT_NE(r->body.find("larger than the limit of 1048576 bytes"), std::string::npos) << r->body;
  // A small chunked submission is read and accepted.
  const std::string small = R"({"command":["true"],"hold":true})";
  auto ok = c.Post("/api/v1/jobs", {{"Authorization", "Bearer s3cret"}},
                   [&](size_t, httplib::DataSink& sink) {
                     sink.write(small.data(), small.size());
                     sink.done();
                     return true;
                   },
                   "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 201) << ok->body;
}

// A POST without a Content-Length has no body: it is answered at once (it
// waited 5 s); a negative or malformed one is refused at once.
TEST_F(HttpLimitsTest, MissingOrBadContentLengthIsAnsweredAtOnce) {
  Start();
  Raw none(d_->port());
  ASSERT_TRUE(none.Send("POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n\r\n"));
  const std::string r1 = none.Read(3s);
  EXPECT_EQ(Status(r1), 400) << r1;
  EXPECT_NE(r1.find("body"), std::string::npos) << r1;

  Raw negative(d_->port());
  ASSERT_TRUE(negative.Send("POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
                            "Content-Length: -1\r\n\r\n"));
  const std::string r2 = negative.Read(3s);
  EXPECT_EQ(Status(r2), 400) << r2;
  EXPECT_NE(r2.find("Content-Length: expected a number of bytes"), std::string::npos) << r2;

  // An empty-bodied action needs no Content-Length either.
  Raw release(d_->port());
  ASSERT_TRUE(release.Send("POST /api/v1/jobs/99/release HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n\r\n"));
  const std::string r3 = release.Read(3s);
  EXPECT_EQ(Status(r3), 404) << r3;
}

// "Bearer <token>\0junk" was accepted as the token: a header value with a
// control character is refused.
TEST_F(HttpLimitsTest, ControlCharactersInHeadersAreRefused) {
  Start();
  Raw nul(d_->port());
  using namespace std::string_literals;
  ASSERT_TRUE(nul.Send("GET /api/v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\0junk\r\n\r\n"s));
  const std::string r = nul.Read(5s);
  EXPECT_EQ(Status(r), 400) << r;
  EXPECT_NE(r.find("header Authorization: contains a control character"), std::string::npos) << r;
  Raw good(d_->port());
  ASSERT_TRUE(good.Send("GET /api/v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n\r\n"));
  EXPECT_EQ(Status(good.Read(5s)), 200);
}

// A client that sends a header line a second is cut off at the header
// deadline with 408, instead of holding a worker for as long as it likes.
TEST_F(HttpLimitsTest, SlowHeadersAreCutOffAtTheDeadline) {
  Start({"--header-timeout", "1"});
  Raw slow(d_->port());
  ASSERT_TRUE(slow.Send("GET /api/v1/health HTTP/1.1\r\n"));
  bool cut = false;
  std::string got;
  for (int i = 0; i < 40 && !cut; ++i) {  // at most 40 lines, 10 s
    if (!slow.Send(fmt::format("X-Line-{}: {}\r\n", i, i))) {
      cut = true;
      break;
    }
    got += slow.Read(250ms, true);
    cut = slow.closed();
  }
  got += slow.Read(1s, true);
  EXPECT_TRUE(cut) << "still connected after 10 s of trickled headers";
  EXPECT_EQ(Status(got), 408) << got;
  EXPECT_TRUE(HealthAnswers());
}

// 300 clients that never finish their headers (the probe's slowloris) do
// not keep a health check or a submission waiting.
TEST_F(HttpLimitsTest, SlowClientsDoNotStarveOthers) {
  Start();
  std::vector<std::unique_ptr<Raw>> slow;
  for (int i = 0; i < 300; ++i) {
    slow.push_back(std::make_unique<Raw>(d_->port()));
    ASSERT_TRUE(slow.back()->connected());
    ASSERT_TRUE(slow.back()->Send("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n"));
  }
  std::this_thread::sleep_for(500ms);  // every slow client has a worker
  EXPECT_TRUE(HealthAnswers());
  auto c = d_->Client();
  c.set_read_timeout(5, 0);
  auto r = c.Post("/api/v1/jobs", {{"Authorization", "Bearer s3cret"}}, R"({"command":["true"],"hold":true})",
                  "application/json");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 201) << r->body;
}

// The kernel's count of connections dropped because a listen queue was
// full (TcpExt ListenOverflows), or -1.
long ListenOverflows() {
  std::istringstream in(ReadFile("/proc/net/netstat"));
  std::string names, values;
  while (std::getline(in, names) && std::getline(in, values)) {
    if (names.rfind("TcpExt:", 0) != 0) continue;
    std::istringstream n(names), v(values);
    std::string name, value;
    while (n >> name && v >> value)
      if (name == "ListenOverflows") return std::stol(value);
  }
  return -1;
}

// A burst of connections while kojod is not accepting (stopped here) waits
// in the listen backlog, and each is then served; with the library's
// backlog of 5 the kernel dropped the rest of the burst.
TEST_F(HttpLimitsTest, ListenBacklogTakesABurst) {
  Start();
  const long overflows = ListenOverflows();
  ASSERT_EQ(::kill(d_->process().pid(), SIGSTOP), 0);
  std::vector<std::unique_ptr<Raw>> burst;
  for (int i = 0; i < 200; ++i) burst.push_back(std::make_unique<Raw>(d_->port(), false));
  const auto end = std::chrono::steady_clock::now() + 3s;
  for (auto& r : burst) r->Established(std::chrono::milliseconds(100));
  std::this_thread::sleep_for(200ms);
  const long dropped = ListenOverflows() - overflows;
  ASSERT_EQ(::kill(d_->process().pid(), SIGCONT), 0);
  if (overflows >= 0) EXPECT_EQ(dropped, 0) << "connections dropped by a full listen queue";
  int answered = 0;
  for (auto& r : burst) {
    if (!r->Send("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")) continue;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    answered += Status(r->Read(std::max(left, std::chrono::milliseconds(100)))) == 200 ? 1 : 0;
  }
  EXPECT_EQ(answered, 200);
}

// Over TLS, the handshake counts in the header time: a client that starts
// one and stalls is cut off (it held a worker for the 30 s read time-out).
TEST_F(HttpLimitsTest, StalledTlsHandshakesAreCutOffToo) {
  if (Shell("command -v openssl").first != 0) GTEST_SKIP() << "no openssl CLI";
  const std::string cert = dir_.path() + "/cert.pem", key = dir_.path() + "/key.pem";
  auto made = Shell("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext "
                    "subjectAltName=IP:127.0.0.1 -keyout " + key + " -out " + cert);
  ASSERT_EQ(made.first, 0) << made.second;
  Start({"--tls-cert", cert, "--tls-key", key, "--header-timeout", "1"});
  Raw stalled(d_->port());
  ASSERT_TRUE(stalled.Send(std::string("\x16\x03\x01\x02\x00", 5)));  // a ClientHello's record header, then nothing
  stalled.Read(5s, true);
  EXPECT_TRUE(stalled.closed()) << "a stalled handshake still holds its connection after 5 s";
  httplib::Client trusting(d_->url());
  trusting.set_ca_cert_path(cert.c_str());
  trusting.enable_server_certificate_verification(true);
  auto health = trusting.Get("/api/v1/health");
  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);
  auto jobs = trusting.Get("/api/v1/jobs", {{"Authorization", "Bearer s3cret"}});
  ASSERT_TRUE(jobs);
  EXPECT_EQ(jobs->status, 200) << jobs->body;
}

}  // namespace
}  // namespace kojo::testing
