// HttpServer: kojod's REST API over cpp-httplib, one handler per entry of
// RouteTable(). Bodies and errors are JSON ({"error":{"code","message"}});
// bad input never reaches the controller unchecked.
//
// Thread safety: Bind() then Run() on one thread; Stop() from any thread.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "controller/controller.h"

namespace httplib {
class Server;
}

namespace kojo::controller {

struct HttpConfig {
  std::string host = "127.0.0.1";
  int port = 7100;                     // 0 = any free port
  std::string token;                   // empty = no authentication
  std::size_t max_body = 4 << 20;      // 413 beyond this
  int threads = 256;                   // keep-alive connections and long polls each hold one
};

class HttpServer {
 public:
  HttpServer(Controller& controller, HttpConfig config);
  ~HttpServer();
  // Binds the socket; returns the port (the chosen one when config.port = 0).
  Result<int> Bind();
  // Serves until Stop().
  void Run();
  void Stop();

 private:
  void Routes();
  Controller& c_;
  HttpConfig config_;
  std::unique_ptr<httplib::Server> server_;
};

}  // namespace kojo::controller
