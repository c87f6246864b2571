// HttpServer: kojod's REST API over cpp-httplib, one handler per entry of
// RouteTable(). Bodies and errors are JSON ({"error":{"code","message"}});
// bad input never reaches the controller unchecked.
//
// Thread safety: Bind() then Run() on one thread; Stop() from any thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/histogram.h"
#include "common/result.h"
#include "controller/auth.h"
#include "controller/controller.h"
#include "controller/routes.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}
namespace kojo::net {
struct RawRequest;
class RawConn;
}

namespace kojo::controller {

struct HttpConfig {
  std::string host = "127.0.0.1";
  int port = 7100;                     // 0 = any free port
  std::string tls_cert;                // PEM files: both set = HTTPS only
  std::string tls_key;
  std::size_t max_body = 4 << 20;      // 413 beyond this, with a Content-Length or chunked
  int threads = 1024;                  // connections served at once (each keep-alive connection or
                                       // long poll holds one); started on demand, ended when idle
  int backlog = 4096;                  // connections waiting to be accepted
  int header_timeout_ms = 10000;       // to send a request's line and headers
  int body_timeout_ms = 60000;         // to send its body, once the headers are in
};

class HttpServer {
 public:
  // Requests are authenticated and authorised by `auth` (auth.h); users
  // and tokens are managed through `tokens`. Both outlive the server.
  HttpServer(Controller& controller, HttpConfig config, TokenStore& tokens, const Authoriser& auth);
  ~HttpServer();
  // False when TLS was asked for and the certificate or key cannot be used.
  bool valid() const;
  // Binds the socket; returns the port (the chosen one when config.port = 0).
  Result<int> Bind();
  // Serves until Stop().
  void Run();
  void Stop();

 private:
  using AuthedHandler = std::function<void(const httplib::Request&, httplib::Response&, const Principal&)>;
  void Routes();
  // Listens again with config_.backlog; returns `port`.
  Result<int> Backlog(int port);
  // The dashboard's files (web_assets.h), served to anyone: GET /,
  // /assets/..., and index.html for any other path outside /api/ and
  // /metrics (the dashboard's own links).
  void DashboardRoutes();
  // Handlers of the user and token routes (whoami, users, tokens).
  AuthedHandler AuthRoute(RouteId id);
  // Handlers of an interactive job's terminal (tty_http.cc).
  AuthedHandler TtyRoute(RouteId id);
  // /sessions/{job}/...: a notebook's server, proxied (session_proxy.cc).
  void SessionRoute();
  void ServeSession(const net::RawRequest& req, net::RawConn& conn);
  // The job of the request's path as `who` may reach it: 404 when invisible.
  Outcome<api::JobView> ReachJob(const httplib::Request& req, const Principal& who, bool act);
  // A node as `who` may see it: only the running jobs it may see are listed.
  api::NodeView VisibleJobsOnly(api::NodeView n, const Principal& who) const;
  Controller& c_;
  HttpConfig config_;
  TokenStore& tokens_;
  const Authoriser& auth_;
  std::unique_ptr<httplib::Server> server_;
  // How long each route took to answer, in seconds (GET /metrics); one per
  // route, made before serving starts.
  std::map<RouteId, std::unique_ptr<Histogram>> request_durations_;
};

}  // namespace kojo::controller
