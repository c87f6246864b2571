#include "controller/bootstrap.h"
#include "common/identity.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "common/files.h"

namespace kojo::controller {

namespace {

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

Error Failed(const ApiError& e) { return Error{ErrorCode::kIo, e.message}; }

// A name CheckName accepts: other characters become '-'.
std::string Sanitised(std::string s) {
  for (char& c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
          c == '-' || c == '@'))
      c = '-';
  if (s.empty()) s = "local";
  return s.substr(0, 100);
}

}  // namespace

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::string> EnsureAdminTokenFile(TokenStore& tokens, const std::string& path) {
  const std::string existing = Trimmed(ReadWholeFile(path));
  if (!existing.empty()) {
    auto p = tokens.Find(existing);
    if (p && p->role == Role::kAdmin) return fmt::format("admin token in {} is valid; kept", path);
  }
  if (!tokens.FindUser("admin")) {
    auto u = tokens.AddUser("admin", Role::kAdmin);
    if (!u.ok()) return Failed(u.error());
  } else if (tokens.FindUser("admin")->role != Role::kAdmin) {
    auto u = tokens.SetRole("admin", Role::kAdmin);
    if (!u.ok()) return Failed(u.error());
  }
  TokenRequest req;
  req.name = "admin-bootstrap";
  req.user = "admin";
  req.replace = true;
  auto t = tokens.CreateToken(req);
  if (!t.ok()) return Failed(t.error());
  if (auto s = WriteFileAtomic(path, t.value().secret + "\n", {.mode = 0600}); !s.ok()) return s.error();
  return fmt::format("created the admin token admin-bootstrap for user admin; its secret is in {} (mode 0600)", path);
}

Result<DevTokens> MakeDevTokens(TokenStore& tokens, const std::string& user_name, const std::string& host) {
  const std::string user = Sanitised(user_name);
  if (!tokens.FindUser(user)) {
    auto u = tokens.AddUser(user, Role::kAdmin);
    if (!u.ok()) return Failed(u.error());
  }
  DevTokens out;
  TokenRequest ur;
  ur.name = "dev-" + user;
  ur.user = user;
  ur.replace = true;
  auto ut = tokens.CreateToken(ur);
  if (!ut.ok()) return Failed(ut.error());
  out.user_secret = ut.value().secret;
  TokenRequest nr;
  nr.name = "agent-" + Sanitised(host);
  nr.node = host;
  nr.replace = true;
  auto nt = tokens.CreateToken(nr);
  if (!nt.ok()) return Failed(nt.error());
  out.node_secret = nt.value().secret;
  return out;
}

}  // namespace kojo::controller
