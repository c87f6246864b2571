#include "net/http_conn.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include <strings.h>

#include <algorithm>
#include <cstring>

namespace kojo::net {

namespace {

using Clock = std::chrono::steady_clock;

thread_local bool t_close_after_reply = false;
thread_local bool t_headers_timed_out = false;

// The bytes of one connection: plain or TLS, on a non-blocking socket. A
// call that cannot go on now says which event it waits for.
class Transport {
 public:
  explicit Transport(int fd, SSL* ssl = nullptr) : fd_(fd), ssl_(ssl) {}
  int fd() const { return fd_; }
  bool tls() const { return ssl_ != nullptr; }
  // Bytes already decrypted but not read yet.
  bool Pending() const { return ssl_ && SSL_pending(ssl_) > 0; }
  // > 0 bytes, 0 at the end, -1 on error; `want` is the event to wait for
  // (0: a real error).
  ssize_t Recv(char* buf, size_t n, short& want) {
    want = 0;
    if (ssl_) return Tls(SSL_read(ssl_, buf, static_cast<int>(n)), want);
    ssize_t r;
    do r = ::recv(fd_, buf, n, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) want = POLLIN;
    return r;
  }
  ssize_t Send(const char* buf, size_t n, short& want) {
    want = 0;
    if (ssl_) return Tls(SSL_write(ssl_, buf, static_cast<int>(n)), want);
    ssize_t r;
    do r = ::send(fd_, buf, n, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) want = POLLOUT;
    return r;
  }
  // Nothing more will be sent (TLS: a close_notify, best effort).
  void ShutdownWrite() {
    if (ssl_) SSL_shutdown(ssl_);
    else ::shutdown(fd_, SHUT_WR);
  }

 private:
  ssize_t Tls(int r, short& want) {
    if (r > 0) return r;
    switch (SSL_get_error(ssl_, r)) {
      case SSL_ERROR_WANT_READ: want = POLLIN; return -1;
      case SSL_ERROR_WANT_WRITE: want = POLLOUT; return -1;
      case SSL_ERROR_ZERO_RETURN: return 0;
      default: return -1;
    }
  }
  const int fd_;
  SSL* const ssl_;
};

// Waits for `events` on `fd` until `deadline`, in slices, so that a
// stopping server (`listening` closed) is noticed.
bool Wait(int fd, short events, Clock::time_point deadline, const std::atomic<socket_t>& listening) {
  for (;;) {
    if (listening == INVALID_SOCKET) return false;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 100)));
    if (r > 0) return (p.revents & (events | POLLHUP | POLLERR)) != 0;
    if (r < 0 && errno != EINTR) return false;
  }
}

// One connection's requests, for cpp-httplib's parser. Reads are buffered
// (the parser reads headers a byte at a time) and end at the current
// phase's deadline; writes wait at most the write time-out.
class ConnStream final : public httplib::Stream {
 public:
  ConnStream(Transport io, const ConnLimits& limits, std::chrono::milliseconds read_timeout,
             std::chrono::milliseconds write_timeout, const std::atomic<socket_t>& listening)
      : io_(io), limits_(limits), read_timeout_(read_timeout), write_timeout_(write_timeout), listening_(listening) {}

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
    return pos_ < len_ || io_.Pending() || Wait(io_.fd(), POLLIN, Clock::now() + keep_alive, listening_);
  }

  // The request's first line, looked at without reading it (it stays
  // for the parser): false when it did not come, whole and within the
  // buffer, before the header deadline.
  bool PeekLine(std::string_view& line) {
    for (;;) {
      if (const void* nl = std::memchr(buf_ + pos_, '\n', len_ - pos_)) {
        line = std::string_view(buf_ + pos_, static_cast<const char*>(nl) - (buf_ + pos_));
        return true;
      }
      if (pos_ > 0) {
        std::memmove(buf_, buf_ + pos_, len_ - pos_);
        len_ -= pos_;
        pos_ = 0;
      }
      if (len_ == sizeof buf_) return false;
      short want = 0;
      const ssize_t n = io_.Recv(buf_ + len_, sizeof buf_ - len_, want);
      if (n > 0) {
        len_ += static_cast<size_t>(n);
        continue;
      }
      if (n == 0 || !want || !WaitRead(want)) return false;
    }
  }
  // Bytes read from the connection and not handed out yet.
  bool HasBuffered() const { return pos_ < len_; }
  size_t TakeBuffered(char* ptr, size_t size) {
    const size_t n = std::min(size, len_ - pos_);
    std::memcpy(ptr, buf_ + pos_, n);
    pos_ += n;
    return n;
  }
  bool HeaderCapReached() const { return headers_ && header_bytes_ >= limits_.max_header_bytes; }

  bool is_readable() const override { return pos_ < len_ || io_.Pending() || WaitRead(POLLIN); }
  bool is_writable() const override { return Wait(io_.fd(), POLLOUT, Clock::now() + write_timeout_, listening_); }

  ssize_t read(char* ptr, size_t size) override {
    if (pos_ == len_) {
      if (headers_ && header_bytes_ >= limits_.max_header_bytes) return -1;  // headers too large
      for (;;) {
        short want = 0;
        const ssize_t n = io_.Recv(buf_, sizeof buf_, want);
        if (n >= 0) {
          if (n == 0) return 0;
          pos_ = 0;
          len_ = static_cast<size_t>(n);
          break;
        }
        if (!want || !WaitRead(want)) return -1;
      }
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
    const auto deadline = Clock::now() + write_timeout_;
    for (;;) {
      short want = 0;
      const ssize_t n = io_.Send(ptr, size, want);
      if (n >= 0) return n;
      if (!want || !Wait(io_.fd(), want, deadline, listening_)) return -1;
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { Address(true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { Address(false, ip, port); }
  socket_t socket() const override { return io_.fd(); }

 private:
  // Waits until the connection can be read (`want`: TLS may need to write),
  // until the phase's deadline or the read time-out.
  bool WaitRead(short want) const {
    if (Wait(io_.fd(), want, std::min(deadline_, Clock::now() + read_timeout_), listening_)) return true;
    if (headers_ && Clock::now() >= deadline_) t_headers_timed_out = true;
    return false;
  }

  void Address(bool remote, std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    const int r = remote ? ::getpeername(io_.fd(), reinterpret_cast<sockaddr*>(&addr), &len)
                         : ::getsockname(io_.fd(), reinterpret_cast<sockaddr*>(&addr), &len);
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

  Transport io_;
  const ConnLimits& limits_;
  const std::chrono::milliseconds read_timeout_, write_timeout_;
  const std::atomic<socket_t>& listening_;
  Clock::time_point deadline_ = Clock::now();
  bool headers_ = true;
  size_t header_bytes_ = 0;
  char buf_[16384];
  size_t pos_ = 0, len_ = 0;
};

// After a reply sent with the request's body unread: stop writing, then
// read and drop what the client is still sending (at most 2 s and 64 MiB),
// so that it reads the reply instead of a reset.
void LingeringClose(Transport& io, const std::atomic<socket_t>& listening) {
  ::shutdown(io.fd(), SHUT_WR);
  const auto end = Clock::now() + std::chrono::seconds(2);
  char buf[16384];
  for (size_t dropped = 0; dropped < (64u << 20);) {
    short want = 0;
    const ssize_t n = io.Recv(buf, sizeof buf, want);
    if (n == 0 || (n < 0 && (!want || !Wait(io.fd(), want, end, listening)))) return;
    if (n > 0) dropped += static_cast<size_t>(n);
  }
}

// The connection of a raw route, after its head.
class RawConnImpl final : public RawConn {
 public:
  RawConnImpl(Transport io, ConnStream& strm, std::chrono::milliseconds write_timeout,
              const std::atomic<socket_t>& listening)
      : io_(io), strm_(strm), write_timeout_(write_timeout), listening_(listening) {}
  int fd() const override { return io_.fd(); }
  bool Pending() const override { return strm_.HasBuffered() || io_.Pending(); }
  ssize_t Recv(char* buf, size_t n, short& want) override {
    want = 0;
    if (strm_.HasBuffered()) return static_cast<ssize_t>(strm_.TakeBuffered(buf, n));
    return io_.Recv(buf, n, want);
  }
  ssize_t Send(const char* buf, size_t n, short& want) override { return io_.Send(buf, n, want); }
  void ShutdownWrite() override { io_.ShutdownWrite(); }
  bool WriteAll(std::string_view data) override { return SendAll(*this, data, Clock::now() + write_timeout_); }
  bool Stopping() const override { return listening_ == INVALID_SOCKET; }
  bool Secure() const override { return io_.tls(); }

 private:
  Transport io_;
  ConnStream& strm_;
  const std::chrono::milliseconds write_timeout_;
  const std::atomic<socket_t>& listening_;
};

// The path of a request line ("GET /a/b?c HTTP/1.1" -> "/a/b").
std::string_view LinePath(std::string_view line) {
  const size_t sp = line.find(' ');
  if (sp == std::string_view::npos) return {};
  std::string_view target = line.substr(sp + 1);
  target = target.substr(0, target.find(' '));
  return target.substr(0, target.find('?'));
}

void PlainReply(RawConnImpl& conn, int status, std::string_view, std::string_view message) {
  RawError(conn, status, status == 408 ? "timeout" : "invalid_argument", message);
}

// Reads the head of a raw route's request (its line was peeked at) and
// hands the connection to `handler`.
void ServeRaw(const RawHandler& handler, Transport io, ConnStream& strm, std::chrono::milliseconds write_timeout,
              const std::atomic<socket_t>& listening) {
  RawConnImpl conn(io, strm, write_timeout, listening);
  RawRequest req;
  std::string line;
  for (bool first = true;; first = false) {
    line.clear();
    for (;;) {
      char c = 0;
      if (strm.read(&c, 1) != 1) {
        if (t_headers_timed_out) PlainReply(conn, 408, "Request Timeout", "request: its headers did not arrive in time");
        else if (strm.HeaderCapReached()) PlainReply(conn, 431, "Request Header Fields Too Large", "request: headers too large");
        return;
      }
      if (c == '\n') break;
      line += c;
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (first) {
      const size_t a = line.find(' '), b = a == std::string::npos ? a : line.find(' ', a + 1);
      if (b == std::string::npos || line.find(' ', b + 1) != std::string::npos || a == 0 || b == a + 1)
        return PlainReply(conn, 400, "Bad Request", "malformed HTTP request");
      req.method = line.substr(0, a);
      req.target = line.substr(a + 1, b - a - 1);
      req.version = line.substr(b + 1);
      if (req.version != "HTTP/1.1" && req.version != "HTTP/1.0") return PlainReply(conn, 400, "Bad Request", "malformed HTTP request");
      continue;
    }
    if (line.empty()) break;
    const size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0 || line.find_first_of(" \t", 0) < colon)
      return PlainReply(conn, 400, "Bad Request", "malformed HTTP header");
    std::string value = line.substr(colon + 1);
    const size_t from = value.find_first_not_of(" \t");
    value = from == std::string::npos ? std::string() : value.substr(from, value.find_last_not_of(" \t") - from + 1);
    for (const unsigned char ch : line)
      if ((ch < 0x20 && ch != '\t') || ch == 0x7f) return PlainReply(conn, 400, "Bad Request", "a header contains a control character");
    req.headers.emplace_back(line.substr(0, colon), std::move(value));
  }
  strm.HeadersRead();
  handler(req, conn);
}

// Serves the requests of one connection until it ends, is closed after a
// reply, or breaks a limit; a raw route's request takes the connection.
bool Serve(httplib::Server& server, Transport io, const ConnLimits& limits, const RawRoutes& raw, const std::atomic<socket_t>& listening,
           std::size_t keep_alive_max, std::chrono::milliseconds keep_alive, std::chrono::milliseconds read_timeout,
           std::chrono::milliseconds write_timeout,
           const std::function<bool(httplib::Server&, httplib::Stream&, bool, bool&, const std::function<void(httplib::Request&)>&)>& process) {
  ConnStream strm(io, limits, read_timeout, write_timeout, listening);
  bool ok = true;
  for (size_t left = keep_alive_max; left > 0 && strm.WaitNextRequest(keep_alive); --left) {
    strm.BeginRequest();
    t_close_after_reply = t_headers_timed_out = false;
    if (std::string_view line; !raw.routes.empty() && strm.PeekLine(line))
      if (const RawHandler* h = raw.Find(LinePath(line))) {
        ServeRaw(*h, io, strm, write_timeout, listening);
        break;
      }
    bool closed = false;
    ok = process(server, strm, left == 1 || listening == INVALID_SOCKET, closed,
                 [&strm](httplib::Request&) { strm.HeadersRead(); });
    if (!ok || closed || t_close_after_reply || t_headers_timed_out) break;
  }
  if (t_close_after_reply) LingeringClose(io, listening);
  t_close_after_reply = t_headers_timed_out = false;
  return ok;
}

void SetNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL, 0) | O_NONBLOCK); }

std::chrono::milliseconds Ms(time_t sec, time_t usec) {
  return std::chrono::milliseconds(static_cast<long long>(sec) * 1000 + usec / 1000);
}

}  // namespace

void CloseAfterReply(httplib::Response& res) {
  t_close_after_reply = true;
  res.set_header("Connection", "close");
}
bool HeadersTimedOut() { return t_headers_timed_out; }

bool AnnouncesBody(const httplib::Request& req) {
  return req.has_header("Transfer-Encoding") ||
         (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0");
}

static std::string_view StatusText(int status) {
  switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 204: return "No Content";
    case 302: return "Found";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
  }
}

bool RawReply(RawConn& conn, int status, std::string_view body, std::string_view content_type,
              std::string_view extra_headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(StatusText(status)) + "\r\n";
  if (!body.empty()) out += "Content-Type: " + std::string(content_type) + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n";
  out += extra_headers;
  out += "\r\n";
  out += body;
  return conn.WriteAll(out);
}

bool RawError(RawConn& conn, int status, std::string_view code, std::string_view message,
              std::string_view extra_headers) {
  std::string body = "{\"error\":{\"code\":\"" + std::string(code) + "\",\"message\":\"";
  for (const char c : message) {
    if (c == '"' || c == '\\') body += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) body += c;
  }
  body += "\"}}";
  return RawReply(conn, status, body, "application/json", extra_headers);
}

const std::string* RawRequest::Header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (n.size() == name.size() && ::strncasecmp(n.data(), name.data(), n.size()) == 0) return &v;
  return nullptr;
}

const RawHandler* RawRoutes::Find(std::string_view path) const {
  if (path.empty()) return nullptr;
  for (const auto& [prefix, handler] : routes)
    if (path.substr(0, prefix.size()) == prefix) return &handler;
  return nullptr;
}

bool AddRawRoute(httplib::Server& server, std::string prefix, RawHandler handler) {
  if (auto* plain = dynamic_cast<GuardedServer*>(&server)) plain->AddRawRoute(std::move(prefix), std::move(handler));
  else if (auto* tls = dynamic_cast<TlsServer*>(&server)) tls->AddRawRoute(std::move(prefix), std::move(handler));
  else return false;
  return true;
}

bool GuardedServer::Relisten(int backlog) {
  const socket_t s = svr_sock_;
  return s != INVALID_SOCKET && ::listen(s, backlog) == 0;
}

bool TlsServer::Relisten(int backlog) {
  const socket_t s = svr_sock_;
  return s != INVALID_SOCKET && ::listen(s, backlog) == 0;
}

bool GuardedServer::process_and_close_socket(socket_t sock) {
  SetNonBlocking(sock);
  const bool ok = Serve(*this, Transport(sock), limits_, raw_, svr_sock_, keep_alive_max_count_,
                        std::chrono::seconds(keep_alive_timeout_sec_), Ms(read_timeout_sec_, read_timeout_usec_),
                        Ms(write_timeout_sec_, write_timeout_usec_), &GuardedServer::Process);
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

bool GuardedServer::Process(httplib::Server& self, httplib::Stream& strm, bool close, bool& closed,
                            const std::function<void(httplib::Request&)>& setup) {
  return static_cast<GuardedServer&>(self).process_request(strm, close, closed, setup);
}

// The TLS handshake is part of the first request's header time.
bool TlsServer::process_and_close_socket(socket_t sock) {
  SetNonBlocking(sock);
  bool ok = false;
  if (SSL* ssl = SSL_new(ssl_context())) {
    SSL_set_mode(ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    const auto deadline = Clock::now() + limits_.header_time;
    bool shook = SSL_set_fd(ssl, sock) == 1;
    while (shook) {
      const int r = SSL_accept(ssl);
      if (r == 1) break;
      const int e = SSL_get_error(ssl, r);
      const short want = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
      shook = want && Wait(sock, want, deadline, svr_sock_);
    }
    if (shook) {
      ok = Serve(*this, Transport(sock, ssl), limits_, raw_, svr_sock_, keep_alive_max_count_,
                 std::chrono::seconds(keep_alive_timeout_sec_), Ms(read_timeout_sec_, read_timeout_usec_),
                 Ms(write_timeout_sec_, write_timeout_usec_), &TlsServer::Process);
      SSL_shutdown(ssl);  // best effort: the socket does not block
    }
    SSL_free(ssl);
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

bool TlsServer::Process(httplib::Server& self, httplib::Stream& strm, bool close, bool& closed,
                        const std::function<void(httplib::Request&)>& setup) {
  return static_cast<TlsServer&>(self).process_request(strm, close, closed, setup);
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

}  // namespace kojo::net
