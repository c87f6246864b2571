// The CLI's side of the REST API (docs/api.md): where the controller is,
// which token to send, and an HTTP client with bounded timeouts whose
// failures become one clear line and an exit code.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/codec.h"

namespace kojo::cli {

class HttpConnection;

// Exit codes beyond common.h's 0 (ok), 1 (runtime or server failure) and 2
// (usage or a request the controller rejected as invalid).
inline constexpr int kExitNotFound = 3;  // no such job or node
inline constexpr int kExitAuth = 4;      // the controller refused the token

inline constexpr const char* kDefaultServer = "http://127.0.0.1:7100";

struct ServerConfig {
  std::string url;     // "http://host:port"
  std::string token;   // empty = none
  std::string source;  // where the address came from, for messages
  std::string ca_cert; // https: PEM file of the CA that signed the controller's certificate; empty = the system's
};

using GetEnv = std::function<std::optional<std::string>(const std::string&)>;
GetEnv ProcessEnv();

// The user's config file: $XDG_CONFIG_HOME/kojo/config.json, else
// ~/.config/kojo/config.json. DevConfigFile(): the dev.json that
// `kojod --dev` writes next to it.
std::string UserConfigFile(const GetEnv& env);
std::string DevConfigFile(const GetEnv& env);

// Resolution, highest first: --server/--token; KOJO_SERVER/KOJO_TOKEN;
// config.json {"server","token"}; dev.json; http://127.0.0.1:7100. A file's
// token is used only with that file's server (or when it names none).
// ca_cert: KOJO_CA_CERT (which `kojo --ca-cert FILE` sets), else the
// config files' "ca_cert".
ServerConfig ResolveServer(const std::string& flag_server, const std::string& flag_token, const GetEnv& env);

struct HttpReply {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string Header(const std::string& name) const;
};

class ApiClient {
 public:
  explicit ApiClient(ServerConfig config);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // The raw exchange; throws CliError (exit 1) with one clear line when the
  // controller cannot be reached or does not answer in time.
  HttpReply Get(const std::string& path);
  HttpReply Get(const std::string& path, const std::vector<std::pair<std::string, std::string>>& headers);
  HttpReply Post(const std::string& path, const std::string& body,
                 const std::vector<std::pair<std::string, std::string>>& headers = {});
  HttpReply Delete(const std::string& path);

  HttpReply Put(const std::string& path, const std::string& body);

  // 2xx replies parsed as JSON; anything else throws CliError with the
  // controller's message and the exit code for its status.
  api::Json GetJson(const std::string& path);
  api::Json PostJson(const std::string& path, const std::string& body,
                     const std::vector<std::pair<std::string, std::string>>& headers = {});
  api::Json DeleteJson(const std::string& path);
  api::Json PutJson(const std::string& path, const std::string& body);

  // The exit code for a non-2xx status; the message of a kojo error
  // document ({"error": {"code", "message"}}), if the body is one.
  static int ExitCodeFor(int status);
  static std::optional<std::string> ErrorMessageOf(const HttpReply& r);
  // Throws CliError for a non-2xx reply: the controller's message and the
  // code for its status; exit 1 when whatever answered is not a kojo
  // controller (no kojo error document).
  [[noreturn]] void Fail(const HttpReply& r) const;

  const ServerConfig& config() const { return config_; }

 private:
  [[noreturn]] void Unreachable(const std::string& what, double seconds) const;
  api::Json ParseOk(const HttpReply& r, const std::string& what) const;
  HttpReply Send(const std::string& method, const std::string& path, const std::string& body,
                 const std::vector<std::pair<std::string, std::string>>& headers);

  ServerConfig config_;
  std::unique_ptr<HttpConnection> http_;
};

// "a%2Fb" style escaping of one query value or path segment.
std::string UrlEscape(const std::string& s);

}  // namespace kojo::cli
