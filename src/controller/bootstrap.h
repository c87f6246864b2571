// The first tokens of a kojod: `--admin-token-file` (an admin token written
// to a file on first start) and `--dev` (a token for the local user, written
// to the CLI's dev config, and a node token for the dev agent).
#pragma once

#include <string>

#include "common/result.h"
#include "controller/auth.h"

namespace kojo::controller {

// Keeps PATH when it holds a token that still authenticates; otherwise
// creates the user "admin" (role admin) if missing, replaces the token
// "admin-bootstrap" and writes its secret to PATH with mode 0600. Returns a
// line saying what was done (never the secret).
Result<std::string> EnsureAdminTokenFile(TokenStore& tokens, const std::string& path);

struct DevTokens {
  std::string user_secret;  // for `user` (made an admin)
  std::string node_secret;  // for the dev agent of node `host`
};
// Replaces the tokens "dev-<user>" and "agent-<host>" (their secrets live
// only in files rewritten at each start).
Result<DevTokens> MakeDevTokens(TokenStore& tokens, const std::string& user, const std::string& host);

// The whole file, or "" when it cannot be read.
std::string ReadWholeFile(const std::string& path);

}  // namespace kojo::controller
