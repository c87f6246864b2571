// The CLI's HTTP/1.1 transport: one connection to the controller, kept
// alive between requests, with bounded connect and I/O timeouts. Plain
// http:// needs nothing beyond the C library; https:// loads OpenSSL's
// libssl at its first use (dlopen), so that a command against a plain-HTTP
// controller -- every `kojo submit` of a shell loop -- does not pay for
// loading and initialising a TLS library it does not use.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace kojo::cli {

enum class HttpError {
  kNone,
  kConnection,             // resolution failed, or the connection was refused or reset
  kConnectionTimeout,      // no connection within the connect timeout
  kRead,                   // closed or timed out while reading the reply, or a malformed reply
  kWrite,                  // closed while sending the request
  kSslConnection,          // TLS handshake failed (or no libssl to make one)
  kSslServerVerification,  // the server's certificate is not trusted or not for this host
};

struct HttpResult {
  HttpError error = HttpError::kNone;
  std::string detail;  // more words on an error (e.g. OpenSSL's), may be empty
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct HttpTarget {
  bool tls = false;
  std::string host;  // a name or an address (IPv6 without brackets)
  int port = 0;
  std::string ca_cert;  // tls: PEM file of the CA to trust; empty = the system's CAs
  int connect_timeout_s = 3;
  int io_timeout_s = 60;
};

class HttpConnection {
 public:
  explicit HttpConnection(HttpTarget target);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // One request and its reply. `headers` are sent as given (plus Host,
  // Content-Length and, with a body, Content-Type). A kept-alive
  // connection that the server closed in the meantime is replaced before
  // the request is sent.
  HttpResult Exchange(const std::string& method, const std::string& path,
                      const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body,
                      const std::string& content_type = "application/json");

 private:
  struct Conn;
  HttpTarget target_;
  std::unique_ptr<Conn> conn_;
};

}  // namespace kojo::cli
