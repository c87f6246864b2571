// The CLI's HTTP client against a scripted server: replies framed by
// Content-Length, chunked or by the end of the stream; kept-alive
// connections reused, and replaced when the server closed them.
#include "cli/http.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace kojo::cli {
namespace {

// Accepts connections on 127.0.0.1 and answers each request (read up to
// its empty line; these tests send no bodies) with the next scripted
// reply; an empty reply closes the connection instead, and a reply with
// "X-Then: close" closes it after the reply.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<std::string> replies) : replies_(std::move(replies)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 8);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  void Serve() {
    size_t next = 0;
    while (next < replies_.size()) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      ++accepted_;
      std::string in;
      while (next < replies_.size()) {
        char buf[4096];
        while (in.find("\r\n\r\n") == std::string::npos) {
          const long n = ::recv(c, buf, sizeof buf, 0);
          if (n <= 0) break;
          in.append(buf, static_cast<size_t>(n));
        }
        if (in.find("\r\n\r\n") == std::string::npos) break;
        in.erase(0, in.find("\r\n\r\n") + 4);
        const std::string& reply = replies_[next++];
        if (reply.empty()) break;
        ::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
        if (reply.find("Connection: close") != std::string::npos || reply.find("X-Then: close") != std::string::npos) break;
      }
      ::close(c);
    }
  }

  std::vector<std::string> replies_;
  int fd_ = -1, port_ = 0;
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

HttpTarget Local(int port) {
  HttpTarget t;
  t.host = "127.0.0.1";
  t.port = port;
  t.io_timeout_s = 5;
  return t;
}

TEST(CliHttp, KeepsTheConnectionBetweenRequests) {
  ScriptedServer s({"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                    "HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX-Thing: a b \r\n\r\nhello"});
  HttpConnection c(Local(s.port()));
  HttpResult a = c.Exchange("GET", "/a", {}, "");
  ASSERT_EQ(a.error, HttpError::kNone) << a.detail;
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "ok");
  HttpResult b = c.Exchange("POST", "/b", {{"Idempotency-Key", "k"}}, "{}");
  ASSERT_EQ(b.error, HttpError::kNone) << b.detail;
  EXPECT_EQ(b.status, 201);
  EXPECT_EQ(b.body, "hello");
  ASSERT_EQ(b.headers.size(), 2u);
  EXPECT_EQ(b.headers[1].first, "X-Thing");
  EXPECT_EQ(b.headers[1].second, "a b");
  EXPECT_EQ(s.accepted(), 1);
}

TEST(CliHttp, DecodesAChunkedReply) {
  ScriptedServer s({"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nkojo\r\nA\r\n submitted\r\n0\r\n\r\n"});
  HttpConnection c(Local(s.port()));
  HttpResult r = c.Exchange("GET", "/", {}, "");
  ASSERT_EQ(r.error, HttpError::kNone) << r.detail;
  EXPECT_EQ(r.body, "kojo submitted");
}

TEST(CliHttp, ReadsABodyWithoutLengthToTheEndOfTheStream) {
  ScriptedServer s({"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it", "HTTP/1.1 204 No Content\r\n\r\n"});
  HttpConnection c(Local(s.port()));
  HttpResult r = c.Exchange("GET", "/", {}, "");
  ASSERT_EQ(r.error, HttpError::kNone) << r.detail;
  EXPECT_EQ(r.body, "all of it");
  HttpResult again = c.Exchange("GET", "/", {}, "");  // on a new connection
  ASSERT_EQ(again.error, HttpError::kNone) << again.detail;
  EXPECT_EQ(again.status, 204);
  EXPECT_EQ(s.accepted(), 2);
}

TEST(CliHttp, ReplacesAKeptConnectionTheServerClosed) {
  ScriptedServer s({"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nX-Then: close\r\n\r\n1",
                    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2"});
  HttpConnection c(Local(s.port()));
  ASSERT_EQ(c.Exchange("GET", "/", {}, "").body, "1");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the server's FIN arrives
  HttpResult r = c.Exchange("POST", "/", {}, "{}");
  ASSERT_EQ(r.error, HttpError::kNone) << r.detail;
  EXPECT_EQ(r.body, "2");
  EXPECT_EQ(s.accepted(), 2);
}

TEST(CliHttp, AConnectionClosedWithoutAReplyIsAReadError) {
  ScriptedServer s({""});
  HttpConnection c(Local(s.port()));
  EXPECT_EQ(c.Exchange("GET", "/", {}, "").error, HttpError::kRead);
}

TEST(CliHttp, NothingListeningIsAConnectionError) {
  int port;
  {
    ScriptedServer s({});
    port = s.port();
  }
  HttpConnection c(Local(port));
  HttpResult r = c.Exchange("GET", "/", {}, "");
  EXPECT_EQ(r.error, HttpError::kConnection);
  EXPECT_NE(r.detail.find("refused"), std::string::npos) << r.detail;
}

}  // namespace
}  // namespace kojo::cli
