#include "net/relay.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

namespace kojo::net {

namespace {

using Clock = std::chrono::steady_clock;

bool WaitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}

// One direction of a relay: bytes read from `src`, not yet written to `dst`.
struct Direction {
  Conn& src;
  Conn& dst;
  std::unique_ptr<char[]> buf;
  size_t cap, off = 0, len = 0;
  bool eof = false;   // src has ended
  bool got = false;   // bytes were read from src in this round
  bool shut = false;  // ...and dst was told so
  short src_want = POLLIN, dst_want = POLLOUT;

  enum Step { kIdle, kProgress, kBroken };
  Step Run() {
    if (off < len) {
      short want = 0;
      const ssize_t n = dst.Send(buf.get() + off, len - off, want);
      if (n > 0) {
        off += static_cast<size_t>(n);
        if (off == len) off = len = 0;
        return kProgress;
      }
      if (n < 0 && want) {
        dst_want = want;
        return kIdle;
      }
      return kBroken;
    }
    if (eof) {
      if (shut) return kIdle;
      dst.ShutdownWrite();
      shut = true;
      return kProgress;
    }
    short want = 0;
    const ssize_t n = src.Recv(buf.get(), cap, want);
    if (n > 0) {
      len = static_cast<size_t>(n);
      got = true;
      return kProgress;
    }
    if (n == 0) {
      eof = true;
      return kProgress;
    }
    if (want) {
      src_want = want;
      return kIdle;
    }
    return kBroken;
  }
  // The event each side waits for, as this direction stands.
  void Events(const Conn& a, short& on_a, short& on_b) const {
    if (off < len) (&dst == &a ? on_a : on_b) |= dst_want;
    else if (!eof) (&src == &a ? on_a : on_b) |= src_want;
  }
  bool Reading() const { return off == len && !eof; }
};

}  // namespace

ssize_t SocketConn::Recv(char* buf, size_t n, short& want) {
  want = 0;
  ssize_t r;
  do r = ::recv(fd_, buf, n, 0);
  while (r < 0 && errno == EINTR);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) want = POLLIN;
  return r;
}

ssize_t SocketConn::Send(const char* buf, size_t n, short& want) {
  want = 0;
  ssize_t r;
  do r = ::send(fd_, buf, n, MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) want = POLLOUT;
  return r;
}

void SocketConn::ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

RelayEnd Relay(Conn& a, Conn& b, const RelayOptions& options) {
  const size_t cap = std::max<size_t>(options.buffer, 1);
  Direction dirs[2] = {{a, b, std::make_unique<char[]>(cap), cap}, {b, a, std::make_unique<char[]>(cap), cap}};
  auto last = Clock::now();
  for (;;) {
    bool progress = false;
    for (auto& d : dirs) {
      d.got = false;
      const auto step = d.Run();
      if (step == Direction::kBroken) return RelayEnd::kError;
      progress = progress || step == Direction::kProgress;
    }
    if (dirs[0].got && options.from_a) options.from_a();
    if (dirs[0].shut && dirs[1].shut) return RelayEnd::kClosed;
    if (options.until == RelayUntil::kEitherEnds && (dirs[0].shut || dirs[1].shut)) return RelayEnd::kClosed;
    if (options.until == RelayUntil::kSecondEnds && dirs[1].shut) return RelayEnd::kClosed;
    const auto now = Clock::now();
    if (progress) {
      last = now;
      continue;
    }
    if (options.stop && options.stop()) return RelayEnd::kStopped;
    const auto idle_left = std::chrono::ceil<std::chrono::milliseconds>(last + options.idle - now).count();
    if (idle_left <= 0) return RelayEnd::kIdle;
    pollfd p[2] = {{a.fd(), 0, 0}, {b.fd(), 0, 0}};
    for (const auto& d : dirs) d.Events(a, p[0].events, p[1].events);
    // Bytes already decrypted or buffered do not wake poll.
    const bool ready = (dirs[0].Reading() && a.Pending()) || (dirs[1].Reading() && b.Pending());
    const int r = ::poll(p, 2, ready ? 0 : static_cast<int>(std::min<long long>(idle_left, 100)));
    if (r < 0 && errno != EINTR) return RelayEnd::kError;
    for (auto& d : dirs) d.src_want = POLLIN, d.dst_want = POLLOUT;
  }
}

bool SendAll(Conn& c, std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
    short want = 0;
    const ssize_t n = c.Send(data.data(), data.size(), want);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n == 0 || !want || !WaitFor(c.fd(), want, deadline)) return false;
  }
  return true;
}

size_t ReadHead(Conn& c, std::string& out, size_t max, Clock::time_point deadline) {
  char buf[4096];
  size_t searched = 0;
  for (;;) {
    const size_t end = out.find("\r\n\r\n", searched);
    if (end != std::string::npos) return end + 4;
    if (out.size() >= max) return 0;
    searched = out.size() >= 3 ? out.size() - 3 : 0;
    short want = 0;
    const ssize_t n = c.Recv(buf, std::min(sizeof buf, max - out.size()), want);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0 || !want) return 0;
    if (!c.Pending() && !WaitFor(c.fd(), want, deadline)) return 0;
  }
}

int Dial(const std::string& host, int port, std::chrono::milliseconds timeout, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (const int e = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); e != 0) {
    error = ::gai_strerror(e);
    return -1;
  }
  const auto deadline = Clock::now() + timeout;
  int fd = -1;
  error = "no address";
  for (addrinfo* ai = res; ai && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      error = std::strerror(errno);
      continue;
    }
    int r = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (r != 0 && errno == EINPROGRESS) {
      int err = ETIMEDOUT;
      if (WaitFor(fd, POLLOUT, deadline)) {
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      }
      r = err == 0 ? 0 : -1;
      errno = err;
    }
    if (r != 0) {
      error = std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(res);
  if (fd >= 0) {
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

}  // namespace kojo::net
