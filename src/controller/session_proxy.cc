// Notebook sessions (JobSpec.notebook, `kojo notebook`): kojod proxies
// /sessions/{job}/... to the Jupyter server of the job, through the agent
// that runs it, WebSockets included, so that a browser reaches the server
// through the controller only (docs/api.md, "Notebook sessions").
//
// A raw route (net/http_conn.h): the connection is handed over whole.
// Who may pass:
// - the session's secret (JobSpec.session_secret, 64 hex digits): as
//   ?token=SECRET (a GET is then answered 302 to the same URL without it,
//   with the cookie below set), as the cookie kojo_session_{job}, or as
//   "Authorization: token SECRET" (Jupyter's own clients);
// - a kojo token ("Authorization: Bearer") of a user who may act on the
//   job: its submitter, its project's leads, operators, admins (as its
//   terminal, tty_http.cc).
// No credential: 401; a wrong secret, or another user's token: 403.
//
// The request goes to the agent (the address and key of the job's logs,
// Controller::FindLogs) with the caller's kojo cookie and Authorization
// left out, the agent's key (X-Kojo-Agent-Key) and Jupyter's token
// ("Authorization: token SECRET") added. A request other than a WebSocket
// upgrade is sent with "Connection: close", and the client's connection is
// closed after its reply, so that a kept-alive connection never carries a
// later request past these checks; an upgraded connection is relayed until
// either side closes it.
#include <unistd.h>

#include <charconv>

#include <fmt/format.h>
#include <openssl/crypto.h>

#include "controller/http_server.h"
#include "controller/http_util.h"
#include "net/http_conn.h"
#include "net/relay.h"

namespace kojo::controller {

namespace {

constexpr std::string_view kPrefix = "/sessions/";

bool SameSecret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && !a.empty() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i]))) return false;
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The target's query without its "token" parameter, and that parameter.
std::string QueryWithoutToken(std::string_view query, std::string& token) {
  std::string kept;
  while (!query.empty()) {
    std::string_view item = query.substr(0, query.find('&'));
    query.remove_prefix(std::min(query.size(), item.size() + 1));
    if (item.substr(0, 6) == "token=") {
      token = std::string(item.substr(6));
      continue;
    }
    if (!kept.empty()) kept += '&';
    kept += item;
  }
  return kept;
}

// The Cookie headers' pairs other than `name`, and the value of `name`.
std::string CookiesWithout(const net::RawRequest& req, std::string_view name, std::string& value) {
  std::string kept;
  for (const auto& [n, v] : req.headers) {
    if (n.size() != 6 || !StartsWithNoCase(n, "cookie")) continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      std::string_view item = rest.substr(0, rest.find(';'));
      rest.remove_prefix(std::min(rest.size(), item.size() + 1));
      item = Trim(item);
      if (item.empty()) continue;
      const size_t eq = item.find('=');
      if (eq != std::string_view::npos && item.substr(0, eq) == name) {
        value = std::string(item.substr(eq + 1));
        continue;
      }
      if (!kept.empty()) kept += "; ";
      kept += item;
    }
  }
  return kept;
}

// "http://127.0.0.1:7101", "http://[::1]:7101" -> host and port.
bool HostPort(std::string_view url, std::string& host, int& port) {
  constexpr std::string_view kHttp = "http://";
  if (url.substr(0, kHttp.size()) != kHttp) return false;
  url.remove_prefix(kHttp.size());
  url = url.substr(0, url.find('/'));
  const size_t colon = url.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view h = url.substr(0, colon);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  const std::string_view p = url.substr(colon + 1);
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
  host = std::string(h);
  return ec == std::errc() && end == p.data() + p.size() && !host.empty() && port > 0 && port < 65536;
}

bool Upgrading(const net::RawRequest& req) {
  const std::string* upgrade = req.Header("Upgrade");
  const std::string* connection = req.Header("Connection");
  if (!upgrade || !connection || !StartsWithNoCase(Trim(*upgrade), "websocket")) return false;
  std::string c = *connection;
  for (char& ch : c) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return c.find("upgrade") != std::string::npos;
}

}  // namespace

void HttpServer::SessionRoute() {
  net::AddRawRoute(*server_, std::string(kPrefix), [this](const net::RawRequest& req, net::RawConn& conn) {
    ServeSession(req, conn);
  });
}

void HttpServer::ServeSession(const net::RawRequest& req, net::RawConn& conn) {
  auto error = [&conn](ApiCode code, const std::string& message, std::string_view extra = {}) {
    net::RawError(conn, HttpStatus(code), CodeName(code), message, extra);
  };
  const std::string_view rest = req.path().substr(kPrefix.size());
  const std::string_view id_text = rest.substr(0, rest.find('/'));
  JobId id = 0;
  auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
  if (ec != std::errc() || end != id_text.data() + id_text.size() || id <= 0)
    return error(ApiCode::kNotFound, fmt::format("no session {}: expected /sessions/JOB_ID/", Shown(std::string(id_text))));
  const size_t query_at = req.target.find('?');
  const std::string_view query = query_at == std::string::npos ? std::string_view() : std::string_view(req.target).substr(query_at + 1);
  if (rest.size() == id_text.size()) {  // "/sessions/7": the server's pages are under "/sessions/7/"
    const std::string location = fmt::format("{}{}/{}{}", kPrefix, id, query.empty() ? "" : "?", query);
    return void(net::RawReply(conn, 302, "", "", fmt::format("Location: {}\r\n", location)));
  }
  // Who is asking.
  std::string query_token, cookie;
  const std::string kept_query = QueryWithoutToken(query, query_token);
  const std::string cookie_name = fmt::format("kojo_session_{}", id);
  const std::string kept_cookies = CookiesWithout(req, cookie_name, cookie);
  const std::string* authz = req.Header("Authorization");
  if (query_token.empty() && cookie.empty() && authz == nullptr)  // before a word about the job
    return error(ApiCode::kUnauthorized,
                 fmt::format("session {}: open the URL that `kojo notebook` printed (it carries the session's "
                             "token), or send a kojo token (Authorization: Bearer)", id),
                 "WWW-Authenticate: Bearer\r\n");
  auto job = c_.ShowJob(id);
  if (!job.ok()) return error(ApiCode::kNotFound, fmt::format("job {} not found", id));
  const api::JobView& v = job.value();
  const std::string& secret = v.spec.session_secret;
  bool allowed = false;
  auto check = [&](std::string_view s) { allowed = allowed || SameSecret(s, secret); };
  if (!query_token.empty()) check(query_token);
  if (!cookie.empty()) check(cookie);
  if (authz != nullptr) {
    if (StartsWithNoCase(*authz, "token ")) {
      check(Trim(std::string_view(*authz).substr(6)));
    } else {
      auto who = auth_.Authenticate(*authz);
      if (!who.ok()) return error(who.error().code, who.error().message, "WWW-Authenticate: Bearer\r\n");
      allowed = allowed || auth_.Reach(who.value(), v.spec.project, v.spec.user) == JobReach::kActs;
    }
  }
  if (!allowed)
    return error(ApiCode::kForbidden, fmt::format("session {}: wrong session token, or a user who may not act on "
                                                  "job {} (its submitter, a lead of its project, an operator or an admin may)",
                                                  id, id));

  if (!v.spec.notebook)
    return error(ApiCode::kConflict, fmt::format("job {} is not a notebook session (it was not submitted with "
                                                 "\"notebook\": true; see kojo notebook --help)", id));
  if (v.state != api::JobState::kRunning)
    return error(api::IsTerminal(v.state) ? ApiCode::kNotFound : ApiCode::kConflict,
                 api::IsTerminal(v.state)
                     ? fmt::format("job {} has ended ({}): its notebook session is gone", id, api::ToString(v.state))
                     : fmt::format("job {} is {}: its notebook server is not running yet", id, api::ToString(v.state)));

  // First visit with ?token=: keep the secret in a cookie, out of the URL.
  if (!query_token.empty() && (req.method == "GET" || req.method == "HEAD")) {
    const std::string location = std::string(req.path()) + (kept_query.empty() ? "" : "?" + kept_query);
    return void(net::RawReply(conn, 302, "", "",
                              fmt::format("Location: {}\r\nSet-Cookie: {}={}; Path={}{}/; HttpOnly; SameSite=Lax{}\r\n",
                                          location, cookie_name, secret, kPrefix, id, conn.Secure() ? "; Secure" : "")));
  }

  auto src = c_.FindLogs(id, 0);
  if (!src.ok()) return error(src.error().code, src.error().message);
  if (src.value().agent_secret.empty())
    return error(ApiCode::kBadGateway, fmt::format("job {}: its agent at {} has sent no key yet (it may have just "
                                                   "restarted): try again in a moment", id, src.value().agent_url));
  std::string host;
  int port = 0;
  if (!HostPort(src.value().agent_url, host, port))
    return error(ApiCode::kBadGateway, fmt::format("job {}: its agent's address {} is not http://HOST:PORT", id,
                                                   Shown(src.value().agent_url)));
  std::string dial_error;
  const int fd = net::Dial(host, port, std::chrono::seconds(2), dial_error);
  if (fd < 0)
    return error(ApiCode::kBadGateway, fmt::format("the agent at {} did not answer: {}", src.value().agent_url, dial_error));

  const bool upgrade = Upgrading(req);
  std::string head = fmt::format("{} {} {}\r\n", req.method, req.target, req.version);
  for (const auto& [name, value] : req.headers) {
    const auto is = [&n = name](std::string_view other) { return n.size() == other.size() && StartsWithNoCase(n, other); };
    if (is("Authorization") || is("Cookie") || is("X-Kojo-Agent-Key")) continue;
    if (!upgrade && (is("Connection") || is("Keep-Alive") || is("Proxy-Connection"))) continue;
    head += fmt::format("{}: {}\r\n", name, value);
  }
  if (!kept_cookies.empty()) head += fmt::format("Cookie: {}\r\n", kept_cookies);
  if (!upgrade) head += "Connection: close\r\n";
  head += fmt::format("X-Kojo-Agent-Key: {}\r\nAuthorization: token {}\r\n\r\n", src.value().agent_secret, secret);

  net::SocketConn upstream(fd);
  if (net::SendAll(upstream, head, std::chrono::steady_clock::now() + std::chrono::seconds(10))) {
    net::RelayOptions options;
    options.idle = upgrade ? std::chrono::milliseconds(std::chrono::hours(1)) : std::chrono::milliseconds(std::chrono::minutes(10));
    options.until = upgrade ? net::RelayUntil::kBothEnd : net::RelayUntil::kSecondEnds;  // a plain request: its reply
    options.stop = [&conn] { return conn.Stopping(); };
    net::Relay(conn, upstream, options);
  }
  ::close(fd);
}

}  // namespace kojo::controller
