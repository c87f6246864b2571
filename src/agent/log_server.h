// The agent's small HTTP server: task logs for the controller, and a
// health check.
//
// Logs are for the controller only, which checks who may see a job before
// it asks (GET /api/v1/jobs/{id}/logs). The server has a secret key, made
// at each start (NewLogSecret) and sent to the controller in every
// register and heartbeat; /logs/ answers only requests with
// "Authorization: Bearer <key>" (compared in constant time), and 401 to
// every other, before it looks at the rest of the request. A server
// without a key refuses every log request.
//
//   GET /logs/{job}?attempt=A&rank=R&stream=stdout|stderr&offset=N&limit=M
//     -> the bytes from offset N (at most M, default 1 MiB, at most 8 MiB),
//        headers X-Kojo-Log-Offset (the next offset) and X-Kojo-Log-Eof: 1
//        once the task has ended and every byte was read. Files are looked
//        up from the launcher's own task records, never from a path in the
//        request. 400 for malformed parameters, 404 for unknown tasks.
//   GET /tty/{job}?offset=N&wait_ms=W&limit=M
//     -> an interactive task's terminal output from offset N (agent/pty.h),
//        waiting up to W ms (at most 30000) for a byte; headers
//        X-Kojo-Tty-Start (the offset of the first byte given: above N when
//        older bytes were dropped from the ring), X-Kojo-Tty-Offset (the
//        next) and X-Kojo-Tty-Eof: 1 once the terminal ended and all was read.
//   POST /tty/{job}/input (body: the bytes, at most 64 KiB) -> 204
//   POST /tty/{job}/resize?rows=R&cols=C -> 204
//     (409 once the terminal has ended; the same key as /logs/; only
//     these POSTs carry a body, read after the key was checked)
//   ANY /sessions/{job}/... (X-Kojo-Agent-Key: the same key)
//     -> the connection relayed, WebSockets included, to the loopback port
//        of the job's running notebook task (JobSpec.notebook; the port
//        from the launcher's own records), the key header left out. 401
//        without the key, 404 with no such session here, 502 while its
//        server does not answer (net/relay.h; kojod's side:
//        controller/session_proxy.cc).
//   GET /health -> {"status":"ok"} (open: it tells nothing of the tasks)
//
// Thread safety: Start/Stop from one thread; requests run on the server's
// threads.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "agent/launcher.h"
#include "common/result.h"

namespace kojo::net {
class GuardedServer;
}

namespace kojo::agent {

class LogServer {
 public:
  // `secret`: the key requests for logs must carry; empty refuses them all.
  LogServer(const Launcher& launcher, std::string secret);
  ~LogServer();
  LogServer(const LogServer&) = delete;
  LogServer& operator=(const LogServer&) = delete;

  // Called with a notebook session's job when its user sends something
  // through the controller (Launcher::NoteActivity). Set before Start.
  void OnSessionActivity(std::function<void(JobId)> f) { activity_ = std::move(f); }
  // Binds host:port (port 0 = any free port) and serves on a thread.
  // Returns the port.
  Result<int> Start(const std::string& host, int port);
  void Stop();

 private:
  const Launcher& launcher_;
  const std::string secret_;
  std::function<void(JobId)> activity_;
  std::unique_ptr<net::GuardedServer> server_;
  std::thread thread_;
};

// A new key for the log server: 32 random bytes from the kernel, as 64
// lower-case hex digits. An error where the kernel gives none (never a
// guessable key).
Result<std::string> NewLogSecret();

// "127.0.0.1:0" -> host and port.
Result<std::pair<std::string, int>> ParseListenAddress(const std::string& text);

}  // namespace kojo::agent
