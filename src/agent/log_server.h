// The agent's small HTTP server: task logs for the controller (and tools),
// and a health check.
//
//   GET /logs/{job}?attempt=A&rank=R&stream=stdout|stderr&offset=N&limit=M
//     -> the bytes from offset N (at most M, default 1 MiB, at most 8 MiB),
//        headers X-Kojo-Log-Offset (the next offset) and X-Kojo-Log-Eof: 1
//        once the task has ended and every byte was read. Files are looked
//        up from the launcher's own task records, never from a path in the
//        request. 400 for malformed parameters, 404 for unknown tasks.
//   GET /health -> {"status":"ok"}
//
// Thread safety: Start/Stop from one thread; requests run on the server's
// threads.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "agent/launcher.h"
#include "common/result.h"

namespace httplib {
class Server;
}

namespace kojo::agent {

class LogServer {
 public:
  explicit LogServer(const Launcher& launcher);
  ~LogServer();
  LogServer(const LogServer&) = delete;
  LogServer& operator=(const LogServer&) = delete;

  // Binds host:port (port 0 = any free port) and serves on a thread.
  // Returns the port.
  Result<int> Start(const std::string& host, int port);
  void Stop();

 private:
  const Launcher& launcher_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

// "127.0.0.1:0" -> host and port.
Result<std::pair<std::string, int>> ParseListenAddress(const std::string& text);

}  // namespace kojo::agent
