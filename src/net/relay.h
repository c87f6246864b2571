// Relay: bytes copied both ways between two connections, for the routes
// that hand a whole connection on (kojod's and the agent's notebook
// sessions, WebSockets included: docs/api.md, "Notebook sessions").
//
// A Conn is one side: a non-blocking socket (SocketConn), or a client's
// connection taken from an HTTP server, TLS included (http_conn.h,
// RawConn). Relay() polls both, keeps at most one bounded buffer per
// direction, passes a half-close on (one side's end of input becomes a
// shutdown of the other side's output) and ends when both directions have
// ended, on an error, after `idle` without a byte either way, or when
// `stop` says so.
//
// Thread safety: a Conn is used by one thread at a time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace kojo::net {

class Conn {
 public:
  virtual ~Conn() = default;
  virtual int fd() const = 0;
  // Bytes that can be read without waiting for the socket (buffered here,
  // or decrypted and not read yet).
  virtual bool Pending() const = 0;
  // > 0 bytes, 0 at the end, -1 on error; `want` is the poll event to wait
  // for before trying again (0: a real error).
  virtual ssize_t Recv(char* buf, size_t n, short& want) = 0;
  virtual ssize_t Send(const char* buf, size_t n, short& want) = 0;
  // No more bytes will be sent (the peer reads its end).
  virtual void ShutdownWrite() = 0;
};

// A non-blocking socket that someone else owns.
class SocketConn final : public Conn {
 public:
  explicit SocketConn(int fd) : fd_(fd) {}
  int fd() const override { return fd_; }
  bool Pending() const override { return false; }
  ssize_t Recv(char* buf, size_t n, short& want) override;
  ssize_t Send(const char* buf, size_t n, short& want) override;
  void ShutdownWrite() override;

 private:
  const int fd_;
};

enum class RelayUntil { kBothEnd, kEitherEnds, kSecondEnds };

struct RelayOptions {
  std::chrono::milliseconds idle{std::chrono::minutes(10)};  // no byte either way for this long: end
  std::size_t buffer = 64 << 10;                            // bytes held per direction, at most
  // When the relay ends (a side ends once its end was passed on, after the
  // bytes it sent before): when both have (half-closes passed on), when
  // either has, or when the second (b) has, for a side that would
  // otherwise keep waiting (a kept-alive client after a reply).
  RelayUntil until = RelayUntil::kBothEnd;
  std::function<bool()> stop;  // asked every 100 ms or so; true ends the relay
  std::function<void()> from_a;  // called after each read of bytes from `a` (a session's use)
};

enum class RelayEnd { kClosed, kIdle, kError, kStopped };

RelayEnd Relay(Conn& a, Conn& b, const RelayOptions& options);

// Writes all of `data` before `deadline`.
bool SendAll(Conn& c, std::string_view data, std::chrono::steady_clock::time_point deadline);

// Reads into `out` (appending) until it holds "\r\n\r\n" (the end of an
// HTTP head), at most `max` bytes, before `deadline`. Returns the offset
// just past the head's end, or 0 (the connection ended, broke, was too
// slow, or the head was too large). Bytes after the head stay in `out`.
std::size_t ReadHead(Conn& c, std::string& out, std::size_t max, std::chrono::steady_clock::time_point deadline);

// A non-blocking TCP connection to host:port (a numeric address or a
// name), made within `timeout`. -1 and `error` set on failure.
int Dial(const std::string& host, int port, std::chrono::milliseconds timeout, std::string& error);

}  // namespace kojo::net
