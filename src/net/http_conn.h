// Connections of kojo's HTTP servers (kojod's API, the agent's logs).
// cpp-httplib parses and routes the requests; this file decides how long a
// client may take and how many are served at once:
//
// - GuardedServer (and TlsServer, for HTTPS) reads every connection through
//   a non-blocking stream that gives each request a deadline for its
//   headers (and a byte cap on them), then one for its body, so a client
//   that trickles its request ("slowloris") is cut off instead of holding a
//   worker; idle keep-alive connections are closed after the keep-alive
//   time-out.
// - ElasticPool serves connections on threads that are started when all
//   are busy, up to a cap, and end when idle, so a few hundred slow or
//   long-polling clients never keep a health check or a submission waiting
//   behind them.
// - Relisten() raises the listen backlog (cpp-httplib's is 5).
//
// A handler that answers before reading a request's body (a refusal, a
// body too large) calls CloseAfterReply(res), so that the unread body is
// never taken for the next request.
//
// Raw routes: a server may hand every request whose path starts with a
// prefix (AddRawRoute) to a RawHandler instead of cpp-httplib, with the
// connection itself, for what httplib cannot do (a WebSocket, a reverse
// proxy: relay.h). The request's line and headers are read here, under the
// same header deadline and byte cap as any other request; the handler gets
// them parsed, and the connection (the bytes after the head, TLS included)
// as a Conn. The connection is closed when the handler returns.
#pragma once

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "net/relay.h"

namespace kojo::net {

struct ConnLimits {
  std::chrono::milliseconds header_time{10000};  // from the first wait for a request to its last header line
  std::chrono::milliseconds body_time{60000};    // to read a body, once the headers are in
  std::size_t max_header_bytes = 64 << 10;       // request line and headers together
};

// The line and headers of a request taken by a raw route.
struct RawRequest {
  std::string method, target, version;  // "GET", "/sessions/7/api?x=1", "HTTP/1.1"
  std::vector<std::pair<std::string, std::string>> headers;  // in order, as sent (values trimmed)
  // The target's path (up to '?').
  std::string_view path() const { return std::string_view(target).substr(0, target.find('?')); }
  // The first value of header `name` (any case), or nullptr.
  const std::string* Header(std::string_view name) const;
};

// A connection taken by a raw route: reads start with the bytes that came
// after the request's head.
class RawConn : public Conn {
 public:
  // All of `data`, within the server's write time-out.
  virtual bool WriteAll(std::string_view data) = 0;
  // The server is stopping: end soon.
  virtual bool Stopping() const = 0;
  // The connection is TLS (a cookie set on it may be marked Secure).
  virtual bool Secure() const = 0;
};

using RawHandler = std::function<void(const RawRequest&, RawConn&)>;

// A whole reply on a raw route's connection, which then closes
// ("Connection: close"). `extra_headers`: lines each ending in "\r\n".
bool RawReply(RawConn& conn, int status, std::string_view body, std::string_view content_type = "application/json",
              std::string_view extra_headers = {});
// {"error":{"code":C,"message":M}}, as kojo's other errors.
bool RawError(RawConn& conn, int status, std::string_view code, std::string_view message,
              std::string_view extra_headers = {});

struct RawRoutes {
  std::vector<std::pair<std::string, RawHandler>> routes;  // path prefix, handler
  const RawHandler* Find(std::string_view path) const;
};

class GuardedServer : public httplib::Server {
 public:
  explicit GuardedServer(ConnLimits limits) : limits_(limits) {}
  // After bind_to_port: listen again with a backlog of `backlog`
  // connections. False if the socket is not bound.
  bool Relisten(int backlog);
  // Before listening: requests whose path starts with `prefix` go to
  // `handler` (see the top of this file).
  void AddRawRoute(std::string prefix, RawHandler handler) { raw_.routes.emplace_back(std::move(prefix), std::move(handler)); }

 private:
  bool process_and_close_socket(socket_t sock) override;
  static bool Process(httplib::Server& self, httplib::Stream& strm, bool close, bool& closed,
                      const std::function<void(httplib::Request&)>& setup);
  ConnLimits limits_;
  RawRoutes raw_;
};

// The same over TLS (cpp-httplib's certificate loading, our connections);
// the handshake counts in the first request's header time.
class TlsServer : public httplib::SSLServer {
 public:
  TlsServer(const char* cert, const char* key, ConnLimits limits) : httplib::SSLServer(cert, key), limits_(limits) {}
  bool Relisten(int backlog);
  void AddRawRoute(std::string prefix, RawHandler handler) { raw_.routes.emplace_back(std::move(prefix), std::move(handler)); }

 private:
  bool process_and_close_socket(socket_t sock) override;
  static bool Process(httplib::Server& self, httplib::Stream& strm, bool close, bool& closed,
                      const std::function<void(httplib::Request&)>& setup);
  ConnLimits limits_;
  RawRoutes raw_;
};

// AddRawRoute on whichever of the two `server` is; false for another kind.
bool AddRawRoute(httplib::Server& server, std::string prefix, RawHandler handler);

// The connection being served on this thread is closed after `res` (which
// says so: "Connection: close").
void CloseAfterReply(httplib::Response& res);
// Whether `req` announces a body (Transfer-Encoding, or a Content-Length
// other than 0): for servers or methods that take none, to refuse it unread.
bool AnnouncesBody(const httplib::Request& req);

// Whether this thread's request was cut off at its header deadline (for
// the error handler: 408 rather than 400).
bool HeadersTimedOut();


// cpp-httplib's TaskQueue, as threads started on demand: `max` at most,
// each ending after `idle` without work.
class ElasticPool : public httplib::TaskQueue {
 public:
  ElasticPool(std::size_t max, std::chrono::milliseconds idle);
  ~ElasticPool() override;
  void enqueue(std::function<void()> fn) override;
  void shutdown() override;  // runs what is queued, then joins every thread

 private:
  void Work();
  void ReapLocked();  // joins threads that have ended
  const std::size_t max_;
  const std::chrono::milliseconds idle_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::list<std::function<void()>> jobs_;
  std::list<std::thread> threads_;
  std::list<std::thread::id> ended_;
  std::size_t waiting_ = 0;  // threads waiting for work
  bool stop_ = false;
};

}  // namespace kojo::net
