#include "cli/http.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <type_traits>
#include <string_view>

namespace kojo::cli {

namespace {

constexpr size_t kMaxHeaderBytes = 64 * 1024;

// The part of OpenSSL (1.1 or 3) the client uses, resolved from libssl at
// run time. Opaque pointers stand for SSL_CTX, SSL, SSL_METHOD and
// X509_VERIFY_PARAM.
struct TlsApi {
  const void* (*TLS_client_method)();
  void* (*SSL_CTX_new)(const void*);
  void (*SSL_CTX_free)(void*);
  void (*SSL_CTX_set_verify)(void*, int, void*);
  int (*SSL_CTX_load_verify_locations)(void*, const char*, const char*);
  int (*SSL_CTX_set_default_verify_paths)(void*);
  void* (*SSL_new)(void*);
  void (*SSL_free)(void*);
  int (*SSL_set_fd)(void*, int);
  long (*SSL_ctrl)(void*, int, long, void*);
  int (*SSL_set1_host)(void*, const char*);
  void* (*SSL_get0_param)(void*);
  int (*X509_VERIFY_PARAM_set1_ip_asc)(void*, const char*);
  int (*SSL_connect)(void*);
  int (*SSL_read)(void*, void*, int);
  int (*SSL_write)(void*, const void*, int);
  int (*SSL_get_error)(const void*, int);
  int (*SSL_shutdown)(void*);
  long (*SSL_get_verify_result)(const void*);
  const char* (*X509_verify_cert_error_string)(long);
  unsigned long (*ERR_get_error)();
  void (*ERR_error_string_n)(unsigned long, char*, size_t);
};

constexpr int kSslVerifyPeer = 1;
constexpr int kSslCtrlSetTlsextHostname = 55;
constexpr int kTlsextNametypeHostName = 0;
constexpr int kSslErrorZeroReturn = 6;

// nullptr when no usable libssl is found; `why` says what is missing.
const TlsApi* LoadTls(std::string& why) {
  static TlsApi api;
  static std::string error;
  static bool loaded = false;
  static std::once_flag once;
  std::call_once(once, [] {
    void* h = nullptr;
    for (const char* name : {"libssl.so.3", "libssl.so.1.1", "libssl.so"})
      if ((h = dlopen(name, RTLD_NOW | RTLD_LOCAL))) break;
    if (!h) {
      error = "no TLS library (libssl) found";
      return;
    }
    bool ok = true;
    auto get = [&](auto& fn, const char* name) {
      void* sym = dlsym(h, name);
      if (!sym) {
        ok = false;
        error = std::string("libssl lacks ") + name;
      }
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(sym);
    };
#define KOJO_TLS_SYM(name) get(api.name, #name)
    KOJO_TLS_SYM(TLS_client_method);
    KOJO_TLS_SYM(SSL_CTX_new);
    KOJO_TLS_SYM(SSL_CTX_free);
    KOJO_TLS_SYM(SSL_CTX_set_verify);
    KOJO_TLS_SYM(SSL_CTX_load_verify_locations);
    KOJO_TLS_SYM(SSL_CTX_set_default_verify_paths);
    KOJO_TLS_SYM(SSL_new);
    KOJO_TLS_SYM(SSL_free);
    KOJO_TLS_SYM(SSL_set_fd);
    KOJO_TLS_SYM(SSL_ctrl);
    KOJO_TLS_SYM(SSL_set1_host);
    KOJO_TLS_SYM(SSL_get0_param);
    KOJO_TLS_SYM(X509_VERIFY_PARAM_set1_ip_asc);
    KOJO_TLS_SYM(SSL_connect);
    KOJO_TLS_SYM(SSL_read);
    KOJO_TLS_SYM(SSL_write);
    KOJO_TLS_SYM(SSL_get_error);
    KOJO_TLS_SYM(SSL_shutdown);
    KOJO_TLS_SYM(SSL_get_verify_result);
    KOJO_TLS_SYM(X509_verify_cert_error_string);
    KOJO_TLS_SYM(ERR_get_error);
    KOJO_TLS_SYM(ERR_error_string_n);
#undef KOJO_TLS_SYM
    loaded = ok;
  });
  if (!loaded) why = error;
  return loaded ? &api : nullptr;
}

std::string TlsErrors(const TlsApi& t) {
  std::string out;
  while (unsigned long e = t.ERR_get_error()) {
    char buf[256];
    t.ERR_error_string_n(e, buf, sizeof buf);
    out += (out.empty() ? "" : "; ") + std::string(buf);
  }
  return out;
}

bool IsAddress(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

struct HttpConnection::Conn {
  int fd = -1;
  const TlsApi* tls = nullptr;
  void* ctx = nullptr;
  void* ssl = nullptr;
  std::string in;  // received, not yet consumed

  ~Conn() {
    if (ssl) {
      tls->SSL_shutdown(ssl);
      tls->SSL_free(ssl);
    }
    if (ctx) tls->SSL_CTX_free(ctx);
    if (fd >= 0) ::close(fd);
  }

  // Whole buffer sent; false on a closed connection or a timeout.
  bool SendAll(std::string_view data) {
    while (!data.empty()) {
      long n;
      if (ssl) {
        n = tls->SSL_write(ssl, data.data(), static_cast<int>(std::min<size_t>(data.size(), 1 << 30)));
      } else {
        n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
      }
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Appends what arrives to `in`: > 0 bytes, 0 at the end of the stream,
  // < 0 on an error or a timeout.
  long Fill() {
    char buf[16384];
    long n;
    if (ssl) {
      n = tls->SSL_read(ssl, buf, sizeof buf);
      if (n <= 0) return tls->SSL_get_error(ssl, static_cast<int>(n)) == kSslErrorZeroReturn ? 0 : -1;
    } else {
      do n = ::recv(fd, buf, sizeof buf, 0);
      while (n < 0 && errno == EINTR);
    }
    if (n > 0) in.append(buf, static_cast<size_t>(n));
    return n;
  }

  // An idle kept-alive connection has nothing to read; anything (the end of
  // the stream, a TLS close_notify) means the server is done with it.
  bool StillOpen() const {
    if (!in.empty()) return false;
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }
};

HttpConnection::HttpConnection(HttpTarget target) : target_(std::move(target)) {}
HttpConnection::~HttpConnection() = default;

namespace {

void SetTimeouts(int fd, int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// A connected, blocking socket with I/O timeouts, or -1 and the error.
int Connect(const HttpTarget& t, HttpError& error, std::string& detail) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (IsAddress(t.host) ? AI_NUMERICHOST : 0);
  addrinfo* res = nullptr;
  const std::string port = std::to_string(t.port);
  if (int rc = getaddrinfo(t.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    error = HttpError::kConnection;
    detail = std::string("cannot resolve ") + t.host + ": " + gai_strerror(rc);
    return -1;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(t.connect_timeout_s);
  bool timed_out = false;
  int fd = -1;
  for (addrinfo* a = res; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int err = 0;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        pollfd p{fd, POLLOUT, 0};
        int n;
        do n = ::poll(&p, 1, static_cast<int>(std::max<long>(0, left.count())));
        while (n < 0 && errno == EINTR);
        if (n == 0) {
          err = ETIMEDOUT;
          timed_out = true;
        } else {
          socklen_t len = sizeof err;
          getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        }
      }
    }
    if (err != 0) {
      detail = std::strerror(err);
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0) {
    error = timed_out ? HttpError::kConnectionTimeout : HttpError::kConnection;
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // small requests: no wait for delayed ACKs
  SetTimeouts(fd, t.io_timeout_s);
  return fd;
}

// Reads one reply (from `in`, then `fill`) into `r`; false (and r.error) on a failure.
// `close_after`: the server ends the connection after this reply.
bool ReadReply(const std::string& method, std::string& in, const auto& fill, HttpResult& r,
               bool& close_after) {
  size_t end;
  for (;;) {
    while ((end = in.find("\r\n\r\n")) == std::string::npos) {
      if (in.size() > kMaxHeaderBytes || fill() <= 0) {
        r.error = HttpError::kRead;
        return false;
      }
    }
    const std::string_view head(in.data(), end);
    const size_t eol = head.find("\r\n");
    const std::string_view status_line = head.substr(0, eol);
    if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1.") {
      r.error = HttpError::kRead;
      r.detail = "not an HTTP reply";
      return false;
    }
    const bool http10 = status_line[7] == '0';
    r.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
    r.headers.clear();
    close_after = http10;
    if (eol != std::string_view::npos) {
      std::string_view rest = head.substr(eol + 2);
      while (!rest.empty()) {
        const size_t n = rest.find("\r\n");
        const std::string_view line = rest.substr(0, n);
        rest = n == std::string_view::npos ? std::string_view() : rest.substr(n + 2);
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        r.headers.emplace_back(std::string(Trim(line.substr(0, colon))), std::string(Trim(line.substr(colon + 1))));
      }
    }
    in.erase(0, end + 4);
    if (r.status >= 100 && r.status < 200) continue;  // an interim reply: the real one follows
    break;
  }
  bool chunked = false;
  long long length = -1;
  for (const auto& [k, v] : r.headers) {
    if (EqualsIgnoreCase(k, "Transfer-Encoding") && v.find("chunked") != std::string::npos) chunked = true;
    if (EqualsIgnoreCase(k, "Content-Length")) length = std::atoll(v.c_str());
    if (EqualsIgnoreCase(k, "Connection")) {
      if (EqualsIgnoreCase(v, "close")) close_after = true;
      if (EqualsIgnoreCase(v, "keep-alive")) close_after = false;
    }
  }
  r.body.clear();
  if (method == "HEAD" || r.status == 204 || r.status == 304) return true;
  if (chunked) {
    for (;;) {
      size_t eol;
      while ((eol = in.find("\r\n")) == std::string::npos)
        if (in.size() > kMaxHeaderBytes || fill() <= 0) return r.error = HttpError::kRead, false;
      const unsigned long long size = std::strtoull(in.c_str(), nullptr, 16);
      in.erase(0, eol + 2);
      if (size == 0) {
        // Trailers, then the empty line.
        for (;;) {
          while ((eol = in.find("\r\n")) == std::string::npos)
            if (in.size() > kMaxHeaderBytes || fill() <= 0) return r.error = HttpError::kRead, false;
          const bool last = eol == 0;
          in.erase(0, eol + 2);
          if (last) return true;
        }
      }
      while (in.size() < size + 2)
        if (fill() <= 0) return r.error = HttpError::kRead, false;
      r.body.append(in, 0, size);
      in.erase(0, size + 2);
    }
  }
  if (length >= 0) {
    while (in.size() < static_cast<size_t>(length))
      if (fill() <= 0) return r.error = HttpError::kRead, false;
    r.body.assign(in, 0, static_cast<size_t>(length));
    in.erase(0, static_cast<size_t>(length));
    return true;
  }
  // Neither: the body runs to the end of the stream.
  long n;
  while ((n = fill()) > 0) {}
  if (n < 0) return r.error = HttpError::kRead, false;
  r.body = std::move(in);
  in.clear();
  close_after = true;
  return true;
}

}  // namespace

HttpResult HttpConnection::Exchange(const std::string& method, const std::string& path,
                                    const std::vector<std::pair<std::string, std::string>>& headers,
                                    const std::string& body, const std::string& content_type) {
  HttpResult r;
  if (conn_ && !conn_->StillOpen()) conn_.reset();
  if (!conn_) {
    auto c = std::make_unique<Conn>();
    c->fd = Connect(target_, r.error, r.detail);
    if (c->fd < 0) return r;
    if (target_.tls) {
      c->tls = LoadTls(r.detail);
      if (!c->tls) return r.error = HttpError::kSslConnection, r;
      const TlsApi& t = *c->tls;
      c->ctx = t.SSL_CTX_new(t.TLS_client_method());
      if (!c->ctx) return r.error = HttpError::kSslConnection, r.detail = TlsErrors(t), r;
      t.SSL_CTX_set_verify(c->ctx, kSslVerifyPeer, nullptr);
      if (!target_.ca_cert.empty()) {
        if (t.SSL_CTX_load_verify_locations(c->ctx, target_.ca_cert.c_str(), nullptr) != 1)
          return r.error = HttpError::kSslConnection, r.detail = "cannot load " + target_.ca_cert + ": " + TlsErrors(t), r;
      } else {
        t.SSL_CTX_set_default_verify_paths(c->ctx);
      }
      c->ssl = t.SSL_new(c->ctx);
      if (!c->ssl) return r.error = HttpError::kSslConnection, r.detail = TlsErrors(t), r;
      t.SSL_set_fd(c->ssl, c->fd);
      if (IsAddress(target_.host)) {
        t.X509_VERIFY_PARAM_set1_ip_asc(t.SSL_get0_param(c->ssl), target_.host.c_str());
      } else {
        t.SSL_ctrl(c->ssl, kSslCtrlSetTlsextHostname, kTlsextNametypeHostName, const_cast<char*>(target_.host.c_str()));
        t.SSL_set1_host(c->ssl, target_.host.c_str());
      }
      if (t.SSL_connect(c->ssl) != 1) {
        const long verify = t.SSL_get_verify_result(c->ssl);
        r.error = verify != 0 ? HttpError::kSslServerVerification : HttpError::kSslConnection;
        r.detail = verify != 0 ? t.X509_verify_cert_error_string(verify) : TlsErrors(t);
        t.SSL_free(c->ssl);  // no shutdown after a failed handshake
        c->ssl = nullptr;
        return r;
      }
    }
    conn_ = std::move(c);
  }
  const bool ipv6 = target_.host.find(':') != std::string::npos;
  std::string req;
  req.reserve(256 + body.size());
  req += method;
  req += ' ';
  req += path;
  req += " HTTP/1.1\r\nHost: ";
  req += ipv6 ? "[" + target_.host + "]" : target_.host;
  req += ':';
  req += std::to_string(target_.port);
  req += "\r\nAccept: */*\r\nUser-Agent: kojo-cli\r\n";
  for (const auto& [k, v] : headers) {
    req += k;
    req += ": ";
    req += v;
    req += "\r\n";
  }
  if (!body.empty() || (method != "GET" && method != "DELETE" && method != "HEAD")) {
    if (!body.empty() && !content_type.empty()) req += "Content-Type: " + content_type + "\r\n";
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n";
  req += body;
  Conn& c = *conn_;
  auto fill = [&c] { return c.Fill(); };
  bool close_after = false;
  if (!c.SendAll(req)) {
    // A server that refuses the body may have answered before closing:
    // its answer says more than "the connection closed".
    HttpResult early;
    if (!c.in.empty() || c.Fill() > 0) {
      if (ReadReply(method, c.in, fill, early, close_after)) {
        conn_.reset();
        return early;
      }
    }
    conn_.reset();
    r.error = HttpError::kWrite;
    return r;
  }
  if (!ReadReply(method, c.in, fill, r, close_after)) {
    conn_.reset();
    return r;
  }
  if (close_after) conn_.reset();
  return r;
}

}  // namespace kojo::cli
