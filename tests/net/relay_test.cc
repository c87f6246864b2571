// net::Relay between socket pairs: bytes both ways, a half-close passed on
// while the other direction goes on, the end of either side when asked,
// the idle time-out, and a transfer far larger than its buffers.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <string>

#include "net/relay.h"

namespace kojo::net {
namespace {

using namespace std::chrono_literals;

// Two connected sockets: `outer` for the test, `inner` for the relay (non-blocking).
struct Pair {
  int outer = -1, inner = -1;
  Pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    outer = fds[0];
    inner = fds[1];
    ::fcntl(inner, F_SETFL, ::fcntl(inner, F_GETFL, 0) | O_NONBLOCK);
    timeval tv{5, 0};
    ::setsockopt(outer, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Pair() {
    if (outer >= 0) ::close(outer);
    if (inner >= 0) ::close(inner);
  }
  void CloseOuter() {
    ::close(outer);
    outer = -1;
  }
};

void Write(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    ASSERT_GT(n, 0);
    s.remove_prefix(static_cast<size_t>(n));
  }
}

// Exactly `n` bytes (fewer at the end or after 5 s).
std::string Read(int fd, size_t n) {
  std::string out;
  char buf[65536];
  while (out.size() < n) {
    const ssize_t r = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
    if (r <= 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  return out;
}

// True when the peer has ended its output (recv gives 0).
bool AtEnd(int fd) {
  char c;
  return ::recv(fd, &c, 1, 0) == 0;
}

TEST(Relay, CopiesBothWaysAndPassesAHalfCloseOn) {
  Pair a, b;
  auto done = std::async(std::launch::async, [&] {
    SocketConn ca(a.inner), cb(b.inner);
    return Relay(ca, cb, RelayOptions{});
  });
  Write(a.outer, "hello");
  EXPECT_EQ(Read(b.outer, 5), "hello");
  Write(b.outer, "world");
  EXPECT_EQ(Read(a.outer, 5), "world");
  // a ends its output: b reads the end, and may still answer.
  ::shutdown(a.outer, SHUT_WR);
  EXPECT_TRUE(AtEnd(b.outer));
  Write(b.outer, "late");
  EXPECT_EQ(Read(a.outer, 4), "late");
  ::shutdown(b.outer, SHUT_WR);
  EXPECT_TRUE(AtEnd(a.outer));
  ASSERT_EQ(done.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(done.get(), RelayEnd::kClosed);
}

TEST(Relay, SaysWhenTheFirstSideSendsAndOnlyThen) {
  Pair a, b;
  std::atomic<int> from_a{0};
  auto done = std::async(std::launch::async, [&] {
    SocketConn ca(a.inner), cb(b.inner);
    RelayOptions o;
    o.from_a = [&] { ++from_a; };
    return Relay(ca, cb, o);
  });
  Write(b.outer, "server speaks");
  EXPECT_EQ(Read(a.outer, 13), "server speaks");
  EXPECT_EQ(from_a.load(), 0) << "output to the user is not its use";
  Write(a.outer, "typed");
  EXPECT_EQ(Read(b.outer, 5), "typed");
  EXPECT_GE(from_a.load(), 1);
  ::shutdown(a.outer, SHUT_WR);
  ::shutdown(b.outer, SHUT_WR);
  ASSERT_EQ(done.wait_for(5s), std::future_status::ready);
}

TEST(Relay, WithoutHalfCloseEndsWhenEitherSideEnds) {
  Pair a, b;
  auto done = std::async(std::launch::async, [&] {
    SocketConn ca(a.inner), cb(b.inner);
    RelayOptions o;
    o.until = RelayUntil::kEitherEnds;
    return Relay(ca, cb, o);
  });
  Write(b.outer, "reply");
  b.CloseOuter();  // what it sent is passed on first
  EXPECT_EQ(Read(a.outer, 5), "reply");
  ASSERT_EQ(done.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(done.get(), RelayEnd::kClosed);
  EXPECT_TRUE(AtEnd(a.outer));
}

TEST(Relay, UntilTheSecondEndsOutlivesTheFirstsEnd) {
  Pair a, b;
  auto done = std::async(std::launch::async, [&] {
    SocketConn ca(a.inner), cb(b.inner);
    RelayOptions o;
    o.until = RelayUntil::kSecondEnds;
    return Relay(ca, cb, o);
  });
  Write(a.outer, "request");
  ::shutdown(a.outer, SHUT_WR);  // a client that half-closes after its request
  EXPECT_EQ(Read(b.outer, 7), "request");
  EXPECT_TRUE(AtEnd(b.outer));
  EXPECT_NE(done.wait_for(100ms), std::future_status::ready);
  Write(b.outer, "reply");
  b.CloseOuter();
  EXPECT_EQ(Read(a.outer, 5), "reply");
  ASSERT_EQ(done.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(done.get(), RelayEnd::kClosed);
  EXPECT_TRUE(AtEnd(a.outer));
}

TEST(Relay, EndsAfterItsIdleTime) {
  Pair a, b;
  auto done = std::async(std::launch::async, [&] {
    SocketConn ca(a.inner), cb(b.inner);
    RelayOptions o;
    o.idle = 200ms;
    return Relay(ca, cb, o);
  });
  ASSERT_EQ(done.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(done.get(), RelayEnd::kIdle);
}

TEST(Relay, EndsWhenAskedToStop) {
  Pair a, b;
  std::atomic<bool> stop{false};
  auto done = std::async(std::launch::async, [&] {
    SocketConn ca(a.inner), cb(b.inner);
    RelayOptions o;
    o.stop = [&] { return stop.load(); };
    return Relay(ca, cb, o);
  });
  stop = true;
  ASSERT_EQ(done.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(done.get(), RelayEnd::kStopped);
}

TEST(Relay, MovesMoreThanItsBuffersBothWaysAtOnce) {
  Pair a, b;
  auto done = std::async(std::launch::async, [&] {
    SocketConn ca(a.inner), cb(b.inner);
    RelayOptions o;
    o.buffer = 1000;
    return Relay(ca, cb, o);
  });
  std::string up(3 << 20, '\0'), down(2 << 20, '\0');
  for (size_t i = 0; i < up.size(); ++i) up[i] = static_cast<char>(i * 7 + i / 4096);
  for (size_t i = 0; i < down.size(); ++i) down[i] = static_cast<char>(i * 13 + 1);
  auto w1 = std::async(std::launch::async, [&] { Write(a.outer, up); ::shutdown(a.outer, SHUT_WR); });
  auto w2 = std::async(std::launch::async, [&] { Write(b.outer, down); ::shutdown(b.outer, SHUT_WR); });
  auto r1 = std::async(std::launch::async, [&] { return Read(b.outer, up.size()); });
  EXPECT_TRUE(Read(a.outer, down.size()) == down);
  EXPECT_TRUE(r1.get() == up);
  w1.get();
  w2.get();
  ASSERT_EQ(done.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(done.get(), RelayEnd::kClosed);
}

TEST(Relay, ReadHeadKeepsTheBytesAfterTheHead) {
  Pair a;
  Write(a.outer, "HTTP/1.1 200 OK\r\nX: 1\r\n\r\nbody");
  SocketConn c(a.inner);
  std::string got;
  const size_t end = ReadHead(c, got, 4096, std::chrono::steady_clock::now() + 2s);
  ASSERT_GT(end, 0u);
  EXPECT_EQ(got.substr(0, end), "HTTP/1.1 200 OK\r\nX: 1\r\n\r\n");
  EXPECT_EQ(got.substr(end), "body");
  std::string big;
  Write(a.outer, std::string(5000, 'x'));
  EXPECT_EQ(ReadHead(c, big, 4096, std::chrono::steady_clock::now() + 2s), 0u);  // too large
}

}  // namespace
}  // namespace kojo::net
