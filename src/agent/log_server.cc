#include "agent/log_server.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>
#include <httplib.h>
#include <openssl/crypto.h>

#include "api/codec.h"
#include "common/files.h"
#include "net/http_conn.h"

namespace kojo::agent {

namespace {

constexpr std::int64_t kDefaultLimit = 1 << 20;
constexpr std::string_view kAgentKeyHeader = "X-Kojo-Agent-Key";
constexpr std::int64_t kMaxLimit = 8 << 20;

std::optional<std::int64_t> ParseInt(std::string_view s, std::int64_t min, std::int64_t max) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < min || v > max) return std::nullopt;
  return v;
}

void ErrorReply(httplib::Response& res, int status, const std::string& code, const std::string& message) {
  res.status = status;
  res.set_content(api::Json{{"error", {{"code", code}, {"message", message}}}}.dump(), "application/json");
}

// Equal without a timing that depends on where the first difference is
// (the length is no secret: always 64).
bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && !a.empty() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool Authorized(const std::string& secret, const httplib::Request& req) {
  if (secret.empty()) return false;
  const std::string& header = req.get_header_value("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() < kBearer.size() || std::string_view(header).substr(0, kBearer.size()) != kBearer) return false;
  return ConstantTimeEqual(std::string_view(header).substr(kBearer.size()), secret);
}

void ServeLog(const Launcher& launcher, const httplib::Request& req, httplib::Response& res) {
  auto job = ParseInt(req.matches[1].str(), 1, INT64_MAX);
  if (!job) return ErrorReply(res, 400, "invalid_argument", "job: expected a positive integer job id");
  std::optional<int> attempt;
  std::int64_t rank = 0, offset = 0, limit = kDefaultLimit;
  std::string stream = "stdout";
  for (const auto& [name, value] : req.params) {
    if (name == "attempt") {
      auto a = ParseInt(value, 0, 1000000);
      if (!a) return ErrorReply(res, 400, "invalid_argument", "attempt: expected an integer 0..1000000");
      attempt = static_cast<int>(*a);
    } else if (name == "rank") {
      auto r = ParseInt(value, 0, 100000);
      if (!r) return ErrorReply(res, 400, "invalid_argument", "rank: expected an integer 0..100000");
      rank = *r;
    } else if (name == "offset") {
      auto o = ParseInt(value, 0, INT64_MAX / 2);
      if (!o) return ErrorReply(res, 400, "invalid_argument", "offset: expected a non-negative integer");
      offset = *o;
    } else if (name == "limit") {
      auto l = ParseInt(value, 1, kMaxLimit);
      if (!l) return ErrorReply(res, 400, "invalid_argument", fmt::format("limit: expected an integer 1..{}", kMaxLimit));
      limit = *l;
    } else if (name == "stream") {
      if (value != "stdout" && value != "stderr")
        return ErrorReply(res, 400, "invalid_argument", "stream: expected stdout or stderr");
      stream = value;
    } else {
      return ErrorReply(res, 400, "invalid_argument", fmt::format("unknown parameter '{}'", name));
    }
  }
  auto logs = launcher.FindLogs(*job, attempt, static_cast<int>(rank));
  if (!logs) return ErrorReply(res, 404, "not_found", fmt::format("no task of job {} on this node", *job));
  const std::string& path = stream == "stdout" ? logs->stdout_path : logs->stderr_path;
  std::string data;
  std::int64_t size = 0;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    struct stat st {};
    if (fstat(fd, &st) == 0) size = st.st_size;
    if (offset < size) {
      data.resize(static_cast<size_t>(std::min(limit, size - offset)));
      ssize_t n = pread(fd, data.data(), data.size(), offset);
      data.resize(n > 0 ? static_cast<size_t>(n) : 0);
    }
    close(fd);
  }
  const std::int64_t next = offset + static_cast<std::int64_t>(data.size());
  res.set_header("X-Kojo-Log-Offset", std::to_string(next));
  if (logs->ended && next >= size) res.set_header("X-Kojo-Log-Eof", "1");
  res.set_content(std::move(data), "text/plain");
}

constexpr std::int64_t kMaxTtyWaitMs = 30000;
constexpr std::int64_t kTtyChunk = 1 << 20;

// GET /tty/{job}: the terminal's output from an offset, waiting for some.
void ServeTty(const Launcher& launcher, const httplib::Request& req, httplib::Response& res) {
  auto job = ParseInt(req.matches[1].str(), 1, INT64_MAX);
  if (!job) return ErrorReply(res, 400, "invalid_argument", "job: expected a positive integer job id");
  std::int64_t offset = 0, wait_ms = 0, limit = kTtyChunk;
  for (const auto& [name, value] : req.params) {
    std::int64_t* into = name == "offset" ? &offset : name == "wait_ms" ? &wait_ms : name == "limit" ? &limit : nullptr;
    if (!into) return ErrorReply(res, 400, "invalid_argument", fmt::format("unknown parameter '{}'", name));
    const std::int64_t max = name == "offset" ? INT64_MAX / 2 : name == "wait_ms" ? kMaxTtyWaitMs : kTtyChunk;
    auto v = ParseInt(value, name == "limit" ? 1 : 0, max);
    if (!v) return ErrorReply(res, 400, "invalid_argument", fmt::format("{}: expected an integer up to {}", name, max));
    *into = *v;
  }
  auto pty = launcher.FindPty(*job);
  if (!pty) return ErrorReply(res, 404, "not_found", fmt::format("no terminal of job {} on this node", *job));
  auto chunk = pty->Read(offset, static_cast<std::size_t>(limit), static_cast<int>(wait_ms));
  res.set_header("X-Kojo-Tty-Start", std::to_string(chunk.start));
  res.set_header("X-Kojo-Tty-Offset", std::to_string(chunk.next));
  if (chunk.eof) res.set_header("X-Kojo-Tty-Eof", "1");
  res.set_content(std::move(chunk.data), "application/octet-stream");
}

// POST /tty/{job}/input (the bytes) and /tty/{job}/resize?rows=R&cols=C.
void ServeTtyPost(const Launcher& launcher, const httplib::Request& req, httplib::Response& res, bool input) {
  auto job = ParseInt(req.matches[1].str(), 1, INT64_MAX);
  if (!job) return ErrorReply(res, 400, "invalid_argument", "job: expected a positive integer job id");
  std::optional<std::int64_t> rows, cols;
  if (!input) {
    rows = ParseInt(req.get_param_value("rows"), 1, 10000);
    cols = ParseInt(req.get_param_value("cols"), 1, 10000);
    if (!rows || !cols) return ErrorReply(res, 400, "invalid_argument", "rows, cols: expected integers 1..10000");
  }
  auto pty = launcher.FindPty(*job);
  if (!pty) return ErrorReply(res, 404, "not_found", fmt::format("no terminal of job {} on this node", *job));
  const bool ok = input ? pty->Write(req.body) : pty->Resize(static_cast<int>(*rows), static_cast<int>(*cols));
  if (!ok)
    return ErrorReply(res, 409, "conflict",
                      pty->ended() ? fmt::format("job {}: its terminal has ended", *job)
                                   : fmt::format("job {}: its terminal takes no input (the program reads none)", *job));
  res.status = 204;
}

// /sessions/{job}/...: a notebook's server, for the controller only (its
// key in X-Kojo-Agent-Key), relayed to the task's loopback port.
void ServeSession(const Launcher& launcher, const std::string& secret, const std::function<void(JobId)>& activity,
                  const net::RawRequest& req, net::RawConn& conn) {
  const std::string* key = req.Header(kAgentKeyHeader);
  if (secret.empty() || key == nullptr || !ConstantTimeEqual(*key, secret))
    return void(net::RawError(conn, 401, "unauthorized", "sessions are reached through the controller: /sessions/{job}/"));
  std::string_view rest = req.path().substr(std::string_view("/sessions/").size());
  auto job = ParseInt(rest.substr(0, rest.find('/')), 1, INT64_MAX);
  if (!job) return void(net::RawError(conn, 400, "invalid_argument", "job: expected a positive integer job id"));
  auto port = launcher.SessionPort(*job);
  if (!port)
    return void(net::RawError(conn, 404, "not_found", fmt::format("no running notebook session of job {} on this node", *job)));
  std::string error;
  const int fd = net::Dial("127.0.0.1", *port, std::chrono::seconds(2), error);
  if (fd < 0)
    return void(net::RawError(conn, 502, "bad_gateway",
                              fmt::format("job {}: its server does not answer on 127.0.0.1:{} yet ({})", *job, *port, error)));
  std::string head = req.method + " " + req.target + " " + req.version + "\r\n";
  for (const auto& [name, value] : req.headers)
    if (value.data() != key->data()) head += name + ": " + value + "\r\n";  // all but the key
  head += "\r\n";
  net::SocketConn upstream(fd);
  // What the user sends is the session's use (its idle timeout): each
  // request, and the bytes of a WebSocket, at most once a second.
  if (activity) activity(*job);
  auto noted = std::chrono::steady_clock::now();
  if (net::SendAll(upstream, head, std::chrono::steady_clock::now() + std::chrono::seconds(10))) {
    net::RelayOptions options;
    options.idle = std::chrono::hours(1);
    options.stop = [&conn] { return conn.Stopping(); };
    options.from_a = [&] {
      const auto now = std::chrono::steady_clock::now();
      if (activity && now - noted >= std::chrono::seconds(1)) {
        activity(*job);
        noted = now;
      }
    };
    net::Relay(conn, upstream, options);
  }
  ::close(fd);
}

}  // namespace

Result<std::string> NewLogSecret() {
  auto key = RandomHex(32);
  if (!key.ok()) return Error{ErrorCode::kIo, fmt::format("cannot make the log server's key: {}", key.error().message)};
  return key;
}

Result<std::pair<std::string, int>> ParseListenAddress(const std::string& text) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return InvalidArgument(fmt::format("--listen '{}': expected HOST:PORT, e.g. 127.0.0.1:0", text));
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  auto port = ParseInt(std::string_view(text).substr(colon + 1), 0, 65535);
  if (!port) return InvalidArgument(fmt::format("--listen '{}': port must be 0..65535", text));
  return std::make_pair(host, static_cast<int>(*port));
}

LogServer::LogServer(const Launcher& launcher, std::string secret)
    : launcher_(launcher), secret_(std::move(secret)), server_(std::make_unique<net::GuardedServer>(net::ConnLimits{})) {
  // Connections as kojod's: a header deadline, threads on demand, a larger
  // backlog (net/http_conn.h); requests carry no body.
  // A notebook's open WebSockets each hold a thread (ServeSession).
  server_->new_task_queue = [] { return new net::ElasticPool(256, std::chrono::seconds(30)); };
  server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!net::AnnouncesBody(req)) return httplib::Server::HandlerResponse::Unhandled;
    // A terminal's input: read only from the controller (the key first).
    if (req.method == "POST" && req.path.rfind("/tty/", 0) == 0) {
      if (Authorized(secret_, req)) return httplib::Server::HandlerResponse::Unhandled;
      net::CloseAfterReply(res);  // its body is left unread
      res.set_header("WWW-Authenticate", "Bearer");
      ErrorReply(res, 401, "unauthorized", "terminals are reached through the controller: /api/v1/jobs/{id}/tty");
      return httplib::Server::HandlerResponse::Handled;
    }
    net::CloseAfterReply(res);
    ErrorReply(res, 400, "invalid_argument", "body: requests to the agent carry none");
    return httplib::Server::HandlerResponse::Handled;
  });
  server_->Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"status":"ok"})", "application/json");
  });
  server_->Get(R"(/logs/(.*))", [this](const httplib::Request& req, httplib::Response& res) {
    if (!Authorized(secret_, req)) {
      res.set_header("WWW-Authenticate", "Bearer");
      return ErrorReply(res, 401, "unauthorized", "logs are read through the controller: GET /api/v1/jobs/{id}/logs");
    }
    ServeLog(launcher_, req, res);
  });
  server_->Get(R"(/tty/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    if (!Authorized(secret_, req)) {
      res.set_header("WWW-Authenticate", "Bearer");
      return ErrorReply(res, 401, "unauthorized", "terminals are reached through the controller: /api/v1/jobs/{id}/tty");
    }
    ServeTty(launcher_, req, res);
  });
  for (const bool input : {true, false})
    server_->Post(input ? R"(/tty/([^/]+)/input)" : R"(/tty/([^/]+)/resize)",
                  [this, input](const httplib::Request& req, httplib::Response& res) {
                    if (!Authorized(secret_, req)) {
                      res.set_header("WWW-Authenticate", "Bearer");
                      return ErrorReply(res, 401, "unauthorized",
                                        "terminals are reached through the controller: /api/v1/jobs/{id}/tty");
                    }
                    ServeTtyPost(launcher_, req, res, input);
                  });
  server_->AddRawRoute("/sessions/", [this](const net::RawRequest& req, net::RawConn& conn) {
    ServeSession(launcher_, secret_, activity_, req, conn);
  });
  server_->set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty())
      ErrorReply(res, res.status, res.status == 404 ? "not_found" : "invalid_argument",
                 res.status == 404 ? "no such route" : fmt::format("HTTP {}", res.status));
  });
  server_->set_payload_max_length(1 << 16);
  server_->set_tcp_nodelay(true);
}

LogServer::~LogServer() { Stop(); }

Result<int> LogServer::Start(const std::string& host, int port) {
  int bound = port == 0 ? server_->bind_to_any_port(host) : (server_->bind_to_port(host, port) ? port : -1);
  if (bound <= 0 || !server_->Relisten(1024)) return Error{ErrorCode::kIo, fmt::format("cannot listen on {}:{}", host, port)};
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return bound;
}

void LogServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace kojo::agent
