#include "cli/client.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include "cli/common.h"
#include "cli/http.h"

namespace kojo::cli {

namespace {

constexpr int kConnectTimeoutS = 3;
constexpr int kReadTimeoutS = 60;  // a submit answers once its jobs are durable

std::string Home(const GetEnv& env) {
  auto h = env("HOME");
  return h && !h->empty() ? *h : "/tmp";
}

std::string ConfigDir(const GetEnv& env) {
  auto x = env("XDG_CONFIG_HOME");
  return (x && !x->empty() ? *x : Home(env) + "/.config") + "/kojo";
}

struct FileConfig {
  std::string server, token, ca_cert;
  bool present = false;
};

FileConfig ReadConfig(const std::string& path) {
  FileConfig c;
  std::ifstream f(path, std::ios::binary);
  if (!f) return c;
  std::stringstream ss;
  ss << f.rdbuf();
  auto j = api::ParseJson(ss.str());
  if (!j.ok() || !j->is_object())
    throw CliError(kExitUsage, fmt::format("{}: expected a JSON object like {{\"server\": \"http://host:7100\", "
                                           "\"token\": \"...\"}}",
                                           path));
  for (const char* key : {"server", "token", "ca_cert"}) {
    if (!j->contains(key)) continue;
    if (!(*j)[key].is_string()) throw CliError(kExitUsage, fmt::format("{}: \"{}\" must be a string", path, key));
  }
  c.server = j->value("server", "");
  c.token = j->value("token", "");
  c.ca_cert = j->value("ca_cert", "");
  c.present = true;
  return c;
}

// "host:port" -> "http://host:port"; trailing slashes dropped.
std::string NormalizeUrl(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.find("://") == std::string::npos) url = "http://" + url;
  return url;
}

struct HostPort {
  std::string scheme, host;
  int port = 0;
  std::string rest;  // anything after host:port
};

std::optional<HostPort> SplitUrl(const std::string& url) {
  HostPort hp;
  const size_t sep = url.find("://");
  if (sep == std::string::npos) return std::nullopt;
  hp.scheme = url.substr(0, sep);
  std::string rest = url.substr(sep + 3);
  const size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    hp.rest = rest.substr(slash);
    rest = rest.substr(0, slash);
  }
  std::string port;
  if (!rest.empty() && rest[0] == '[') {
    const size_t close = rest.find(']');
    if (close == std::string::npos) return std::nullopt;
    hp.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port = rest.substr(close + 2);
  } else {
    const size_t colon = rest.rfind(':');
    hp.host = rest.substr(0, colon);
    if (colon != std::string::npos) port = rest.substr(colon + 1);
  }
  if (hp.host.empty()) return std::nullopt;
  if (port.empty()) {
    hp.port = hp.scheme == "https" ? 443 : 80;
  } else {
    char* end = nullptr;
    const long p = std::strtol(port.c_str(), &end, 10);
    if (*end != '\0' || p < 1 || p > 65535) return std::nullopt;
    hp.port = static_cast<int>(p);
  }
  return hp;
}

// Why a TCP connection to host:port fails, in words ("connection refused"),
// found with one more bounded attempt after the HTTP client gave up.
std::string ConnectError(const HostPort& hp) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(hp.port);
  if (int rc = getaddrinfo(hp.host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return fmt::format("cannot resolve {}: {}", hp.host, gai_strerror(rc));
  std::string why = "no address";
  for (addrinfo* a = res; a; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      why = std::strerror(errno);
      continue;
    }
    int err = 0;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        const int n = ::poll(&p, 1, kConnectTimeoutS * 1000);
        if (n == 0) {
          err = ETIMEDOUT;
        } else {
          socklen_t len = sizeof err;
          getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        }
      }
    }
    ::close(fd);
    if (err == 0) {
      why.clear();
      break;
    }
    why = err == ETIMEDOUT ? fmt::format("no answer within {} s", kConnectTimeoutS) : std::string(std::strerror(err));
  }
  freeaddrinfo(res);
  if (!why.empty() && why != "no address") why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
  return why;
}

}  // namespace

GetEnv ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

std::string UserConfigFile(const GetEnv& env) { return ConfigDir(env) + "/config.json"; }
std::string DevConfigFile(const GetEnv& env) { return ConfigDir(env) + "/dev.json"; }

ServerConfig ResolveServer(const std::string& flag_server, const std::string& flag_token, const GetEnv& env) {
  ServerConfig c;
  const FileConfig user = ReadConfig(UserConfigFile(env));
  const FileConfig dev = ReadConfig(DevConfigFile(env));
  auto env_server = env("KOJO_SERVER");
  if (!flag_server.empty()) {
    c.url = flag_server;
    c.source = "--server";
  } else if (env_server && !env_server->empty()) {
    c.url = *env_server;
    c.source = "KOJO_SERVER";
  } else if (!user.server.empty()) {
    c.url = user.server;
    c.source = UserConfigFile(env);
  } else if (!dev.server.empty()) {
    c.url = dev.server;
    c.source = DevConfigFile(env);
  } else {
    c.url = kDefaultServer;
    c.source = "the default";
  }
  c.url = NormalizeUrl(c.url);
  auto env_token = env("KOJO_TOKEN");
  if (!flag_token.empty()) {
    c.token = flag_token;
  } else if (env_token && !env_token->empty()) {
    c.token = *env_token;
  } else {
    for (const FileConfig* f : {&user, &dev})
      if (f->present && !f->token.empty() && (f->server.empty() || NormalizeUrl(f->server) == c.url)) {
        c.token = f->token;
        break;
      }
  }
  auto env_ca = env("KOJO_CA_CERT");
  if (env_ca && !env_ca->empty()) c.ca_cert = *env_ca;
  else c.ca_cert = !user.ca_cert.empty() ? user.ca_cert : dev.ca_cert;
  return c;
}

std::string HttpReply::Header(const std::string& name) const {
  for (const auto& [k, v] : headers)
    if (k.size() == name.size() &&
        std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
      return v;
  return "";
}

ApiClient::ApiClient(ServerConfig config) : config_(std::move(config)) {
  auto hp = SplitUrl(config_.url);
  if (!hp || (hp->scheme != "http" && hp->scheme != "https"))
    throw CliError(kExitUsage, fmt::format("server address {} (from {}): expected http://HOST:PORT or https://HOST:PORT", config_.url,
                                           config_.source));
  if (!hp->rest.empty())
    throw CliError(kExitUsage, fmt::format("server address {} (from {}): expected no path after HOST:PORT", config_.url,
                                           config_.source));
  HttpTarget target;
  target.tls = hp->scheme == "https";
  target.host = hp->host;
  target.port = hp->port;
  target.connect_timeout_s = kConnectTimeoutS;
  target.io_timeout_s = kReadTimeoutS;
  if (target.tls && !config_.ca_cert.empty()) {
    if (!std::ifstream(config_.ca_cert))
      throw CliError(kExitUsage, fmt::format("CA certificate {} (--ca-cert or KOJO_CA_CERT): cannot read it", config_.ca_cert));
    target.ca_cert = config_.ca_cert;
  }
  http_ = std::make_unique<HttpConnection>(std::move(target));
}

ApiClient::~ApiClient() = default;

void ApiClient::Unreachable(const std::string& what, double seconds) const {
  std::string why = what;
  // A quick failure (refused, unresolvable) is worth one more look for its
  // reason; a slow one was the connect timeout, and waiting again would
  // only double it.
  if (seconds >= kConnectTimeoutS - 0.2) why = fmt::format("no answer within {} s", kConnectTimeoutS);
  else if (auto hp = SplitUrl(config_.url)) {
    const std::string probe = ConnectError(*hp);
    if (!probe.empty()) why = probe;
  }
  throw CliError(kExitRuntime, fmt::format("cannot reach the kojo controller at {}: {}; is kojod running? "
                                           "start one with `kojod --dev` (address from {})",
                                           config_.url, why, config_.source));
}

static std::string Describe(const HttpResult& r) {
  switch (r.error) {
    case HttpError::kConnection: return r.detail.empty() ? "connection failed" : r.detail;
    case HttpError::kConnectionTimeout: return fmt::format("no answer within {} s", kConnectTimeoutS);
    case HttpError::kRead: return "the connection closed or timed out while reading the reply";
    case HttpError::kWrite: return "the connection closed while sending the request";
    case HttpError::kSslConnection: return "TLS connection failed" + (r.detail.empty() ? "" : " (" + r.detail + ")");
    case HttpError::kSslServerVerification:
      return "TLS server verification failed" + (r.detail.empty() ? "" : " (" + r.detail + ")") +
             " (pass the CA certificate with --ca-cert or KOJO_CA_CERT)";
    case HttpError::kNone: break;
  }
  return "no error";
}

static double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

static HttpReply ToReply(HttpResult&& r) {
  HttpReply out;
  out.status = r.status;
  out.body = std::move(r.body);
  out.headers = std::move(r.headers);
  return out;
}

HttpReply ApiClient::Send(const std::string& method, const std::string& path, const std::string& body,
                          const std::vector<std::pair<std::string, std::string>>& headers) {
  std::vector<std::pair<std::string, std::string>> h = headers;
  if (!config_.token.empty()) h.emplace_back("Authorization", "Bearer " + config_.token);
  bool idempotent = false;
  for (const auto& [k, v] : headers) idempotent = idempotent || k == "Idempotency-Key";
  auto start = std::chrono::steady_clock::now();
  HttpResult r = http_->Exchange(method, path, h, body);
  if (idempotent && (r.error == HttpError::kRead || r.error == HttpError::kWrite)) {
    // The request may or may not have been taken: with its key, asking
    // again returns the first answer and never makes a second job.
    start = std::chrono::steady_clock::now();
    r = http_->Exchange(method, path, h, body);
  }
  if (r.error != HttpError::kNone) {
    if (r.error == HttpError::kConnection || r.error == HttpError::kConnectionTimeout)
      Unreachable(Describe(r), Since(start));
    throw CliError(kExitRuntime, fmt::format("{} {}{}: {}", method, config_.url, path, Describe(r)));
  }
  return ToReply(std::move(r));
}

HttpReply ApiClient::Get(const std::string& path) { return Send("GET", path, "", {}); }
HttpReply ApiClient::Get(const std::string& path, const std::vector<std::pair<std::string, std::string>>& headers) {
  return Send("GET", path, "", headers);
}
HttpReply ApiClient::Delete(const std::string& path) { return Send("DELETE", path, "", {}); }
HttpReply ApiClient::Put(const std::string& path, const std::string& body) { return Send("PUT", path, body, {}); }
HttpReply ApiClient::Post(const std::string& path, const std::string& body,
                          const std::vector<std::pair<std::string, std::string>>& headers) {
  return Send("POST", path, body, headers);
}

int ApiClient::ExitCodeFor(int status) {
  switch (status) {
    case 400:
    case 413:
    case 422: return kExitUsage;
    case 401:
    case 403: return kExitAuth;
    case 404: return kExitNotFound;
    default: return kExitRuntime;
  }
}

std::optional<std::string> ApiClient::ErrorMessageOf(const HttpReply& r) {
  auto j = api::ParseJson(r.body);
  if (j.ok() && j->is_object() && j->contains("error") && (*j)["error"].is_object()) {
    const auto& e = (*j)["error"];
    if (e.contains("message") && e["message"].is_string()) return e["message"].get<std::string>();
  }
  return std::nullopt;
}

void ApiClient::Fail(const HttpReply& r) const {
  auto msg = ErrorMessageOf(r);
  if (!msg) {
    // Not a kojo error document: whatever answered is not (this version of) kojod.
    std::string body = r.body.substr(0, 200);
    for (char& c : body)
      if (c == '\n' || c == '\r') c = ' ';
    throw CliError(kExitRuntime, fmt::format("{} answered HTTP {}{}{}; is it a kojo controller? (address from {})",
                                             config_.url, r.status, body.empty() ? "" : ": ", body, config_.source));
  }
  if (r.status == 401) *msg += " (pass --token, set KOJO_TOKEN, or put \"token\" in the config file)";
  throw CliError(ExitCodeFor(r.status), *msg);
}

api::Json ApiClient::ParseOk(const HttpReply& r, const std::string& what) const {
  if (r.status < 200 || r.status >= 300) Fail(r);
  auto j = api::ParseJson(r.body);
  if (!j.ok()) throw CliError(kExitRuntime, fmt::format("{} {}: the reply is not JSON; is it a kojo controller?", what, config_.url));
  return std::move(*j);
}

api::Json ApiClient::GetJson(const std::string& path) { return ParseOk(Get(path), "GET " + path); }
api::Json ApiClient::DeleteJson(const std::string& path) { return ParseOk(Delete(path), "DELETE " + path); }

api::Json ApiClient::PostJson(const std::string& path, const std::string& body,
                              const std::vector<std::pair<std::string, std::string>>& headers) {
  return ParseOk(Post(path, body, headers), "POST " + path);
}

api::Json ApiClient::PutJson(const std::string& path, const std::string& body) {
  return ParseOk(Put(path, body), "PUT " + path);
}

std::string UrlEscape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

}  // namespace kojo::cli
