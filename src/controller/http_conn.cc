#include "controller/http_conn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace kojo::controller {

namespace {

using Clock = std::chrono::steady_clock;

thread_local bool t_close_after_reply = false;
thread_local bool t_headers_timed_out = false;

// One connection's reads and writes, for cpp-httplib's request parser.
// Reads are buffered (the parser reads headers a byte at a time) and end at
// the current phase's deadline; writes wait at most the write time-out.
class ConnStream final : public httplib::Stream {
 public:
  ConnStream(int fd, const ConnLimits& limits, std::chrono::milliseconds read_timeout,
             std::chrono::milliseconds write_timeout, const std::atomic<socket_t>& listening)
      : fd_(fd), limits_(limits), read_timeout_(read_timeout), write_timeout_(write_timeout), listening_(listening) {}

  // A new request: its line and headers must come within the header time.
  void BeginRequest() {
    headers_ = true;
    header_bytes_ = 0;
    deadline_ = Clock::now() + limits_.header_time;
  }
  // The headers are in: the body has its own time.
  void HeadersRead() {
    headers_ = false;
    deadline_ = Clock::now() + limits_.body_time;
  }
  // Waits for the next request on a kept-alive connection.
  bool WaitNextRequest(std::chrono::milliseconds keep_alive) {
    return pos_ < len_ || Wait(POLLIN, Clock::now() + keep_alive);
  }

  bool is_readable() const override { return pos_ < len_ || WaitRead(); }
  bool is_writable() const override { return Wait(POLLOUT, Clock::now() + write_timeout_); }

  ssize_t read(char* ptr, size_t size) override {
    if (pos_ == len_) {
      if (headers_ && header_bytes_ >= limits_.max_header_bytes) return -1;  // headers too large
      if (!WaitRead()) return -1;
      ssize_t n;
      do n = ::recv(fd_, buf_, sizeof buf_, 0);
      while (n < 0 && errno == EINTR);
      if (n <= 0) return n;
      pos_ = 0;
      len_ = static_cast<size_t>(n);
    }
    size_t n = std::min(size, len_ - pos_);
    if (headers_) n = std::min(n, limits_.max_header_bytes - std::min(header_bytes_, limits_.max_header_bytes));
    if (n == 0) return -1;
    std::memcpy(ptr, buf_ + pos_, n);
    pos_ += n;
    if (headers_) header_bytes_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!Wait(POLLOUT, Clock::now() + write_timeout_)) return -1;
    ssize_t n;
    do n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { Address(true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { Address(false, ip, port); }
  socket_t socket() const override { return fd_; }

 private:
  // Waits for bytes to read, until the phase's deadline or the read time-out.
  bool WaitRead() const {
    if (Wait(POLLIN, std::min(deadline_, Clock::now() + read_timeout_))) return true;
    if (headers_ && Clock::now() >= deadline_) t_headers_timed_out = true;
    return false;
  }

  // Waits for `events` until `deadline`, in slices, so that a stopping
  // server is noticed.
  bool Wait(short events, Clock::time_point deadline) const {
    for (;;) {
      if (listening_ == INVALID_SOCKET) return false;
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd_, events, 0};
      const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 100)));
      if (r > 0) return (p.revents & (events | POLLHUP | POLLERR)) != 0;
      if (r < 0 && errno != EINTR) return false;
    }
  }

  void Address(bool remote, std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    const int r = remote ? ::getpeername(fd_, reinterpret_cast<sockaddr*>(&addr), &len)
                         : ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    if (r != 0) return;
    char text[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
      const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
      ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
      port = ntohs(a->sin_port);
    } else if (addr.ss_family == AF_INET6) {
      const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
      ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
      port = ntohs(a->sin6_port);
    }
    ip = text;
  }

  const int fd_;
  const ConnLimits& limits_;
  const std::chrono::milliseconds read_timeout_, write_timeout_;
  const std::atomic<socket_t>& listening_;
  Clock::time_point deadline_ = Clock::now();
  bool headers_ = true;
  size_t header_bytes_ = 0;
  char buf_[8192];
  size_t pos_ = 0, len_ = 0;
};

// After a reply sent with the request's body unread: stop writing, then
// read and drop what the client is still sending (at most 2 s and 4 MiB),
// so that it reads the reply instead of a reset.
void LingeringClose(int fd) {
  ::shutdown(fd, SHUT_WR);
  const auto end = Clock::now() + std::chrono::seconds(2);
  char buf[16384];
  for (size_t dropped = 0; dropped < (4u << 20);) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) != 1) return;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    dropped += static_cast<size_t>(n);
  }
}

std::chrono::milliseconds Ms(time_t sec, time_t usec) {
  return std::chrono::milliseconds(static_cast<long long>(sec) * 1000 + usec / 1000);
}

}  // namespace

void CloseAfterReply(httplib::Response& res) {
  t_close_after_reply = true;
  res.set_header("Connection", "close");
}
bool HeadersTimedOut() { return t_headers_timed_out; }

bool GuardedServer::Relisten(int backlog) {
  const socket_t s = svr_sock_;
  return s != INVALID_SOCKET && ::listen(s, backlog) == 0;
}

bool TlsServer::Relisten(int backlog) {
  const socket_t s = svr_sock_;
  return s != INVALID_SOCKET && ::listen(s, backlog) == 0;
}

bool GuardedServer::process_and_close_socket(socket_t sock) {
  ConnStream strm(sock, limits_, Ms(read_timeout_sec_, read_timeout_usec_), Ms(write_timeout_sec_, write_timeout_usec_),
                  svr_sock_);
  const auto keep_alive = std::chrono::seconds(keep_alive_timeout_sec_);
  bool ok = true;
  for (size_t left = keep_alive_max_count_; left > 0 && strm.WaitNextRequest(keep_alive); --left) {
    strm.BeginRequest();
    t_close_after_reply = t_headers_timed_out = false;
    bool closed = false;
    ok = process_request(strm, left == 1 || svr_sock_ == INVALID_SOCKET, closed,
                         [&strm](httplib::Request&) { strm.HeadersRead(); });
    if (!ok || closed || t_close_after_reply || t_headers_timed_out) break;
  }
  if (t_close_after_reply) LingeringClose(sock);
  t_close_after_reply = t_headers_timed_out = false;
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

// ---- ElasticPool ----

ElasticPool::ElasticPool(std::size_t max, std::chrono::milliseconds idle) : max_(std::max<std::size_t>(max, 1)), idle_(idle) {}

ElasticPool::~ElasticPool() { shutdown(); }

void ElasticPool::enqueue(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  ReapLocked();
  jobs_.push_back(std::move(fn));
  if (waiting_ < jobs_.size() && threads_.size() < max_) threads_.emplace_back([this] { Work(); });
  cv_.notify_one();
}

void ElasticPool::shutdown() {
  std::list<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    threads.swap(threads_);
    ended_.clear();
  }
  cv_.notify_all();
  for (auto& t : threads)
    if (t.joinable()) t.join();
}

void ElasticPool::Work() {
  std::unique_lock lock(mu_);
  for (;;) {
    ++waiting_;
    const bool work = cv_.wait_for(lock, idle_, [this] { return stop_ || !jobs_.empty(); });
    --waiting_;
    if (jobs_.empty()) {
      if (!work) ended_.push_back(std::this_thread::get_id());  // idle: end, joined by the next enqueue
      return;
    }
    auto fn = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    fn();
    lock.lock();
  }
}

void ElasticPool::ReapLocked() {
  for (auto id : ended_) {
    auto it = std::find_if(threads_.begin(), threads_.end(), [id](const std::thread& t) { return t.get_id() == id; });
    if (it != threads_.end()) {
      it->join();
      threads_.erase(it);
    }
  }
  ended_.clear();
}

}  // namespace kojo::controller
