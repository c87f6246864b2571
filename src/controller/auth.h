// Authentication and authorisation of kojod's REST API.
//
// Who may do what (docs/api.md, "Authentication and roles"):
//   - health is public;
//   - agent endpoints take node tokens only, each for its own node (and the
//     shared --token, kept for compatibility);
//   - admin: everything; operator: every job and node (drain, resume,
//     cancel/hold/release any job), reads everything; viewer: reads
//     everything, changes nothing;
//   - project lead: submits to and acts on every job of the project;
//     member: submits to the project, acts on their own jobs, sees the
//     project's jobs;
//   - a user with no role and no project sees nothing.
// Jobs a caller may not see answer 404, exactly like jobs that do not exist.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/codec.h"
#include "common/result.h"
#include "controller/api_error.h"
#include "model/org.h"
#include "store/store.h"

namespace kojo::controller {

// SHA-256 of `data` as 64 lower-case hex digits (OpenSSL's libcrypto).
std::string Sha256Hex(std::string_view data);
// Equal strings, in time that depends only on their lengths.
bool ConstantTimeEqual(std::string_view a, std::string_view b);

// Project memberships: the two lookups the authoriser needs from the
// organisation model (OrgRegistry implements the same two methods).
//
// Thread safety: implementations must allow concurrent const calls.
class Memberships {
 public:
  virtual ~Memberships() = default;
  virtual std::optional<ProjectRole> RoleIn(std::string_view project, std::string_view user) const = 0;
  virtual std::vector<std::string> ProjectsOf(std::string_view user) const = 0;
};

// Memberships from a fixed list (OrgConfig::members, tests). Immutable.
class StaticMemberships : public Memberships {
 public:
  StaticMemberships() = default;
  explicit StaticMemberships(std::vector<Member> members);
  std::optional<ProjectRole> RoleIn(std::string_view project, std::string_view user) const override;
  std::vector<std::string> ProjectsOf(std::string_view user) const override;

 private:
  std::map<std::pair<std::string, std::string>, ProjectRole, std::less<>> roles_;  // (project, user)
};

// Who sent a request: a user (with an optional global role) or a node.
struct Principal {
  enum class Kind { kUser, kNode };
  Kind kind = Kind::kUser;
  std::string name;            // the user's or the node's name
  std::optional<Role> role;    // a user's global role
  std::string token;           // the token's name ("" for the shared token)
  bool shared = false;         // kojod --token: an admin that agents may also send
  bool open = false;           // no authentication configured: allowed everything
};

struct UserRec {
  std::string name;
  std::optional<Role> role;
  Seconds created = 0;
};

// A token as stored: never its secret, only the secret's SHA-256.
struct TokenRec {
  std::string name;
  std::string user;   // the owner: a user ...
  std::string node;   // ... or a node (agent token); exactly one is set
  std::string hash;   // hex SHA-256 of the secret
  Seconds created = 0;
  std::optional<Seconds> expires;
};

struct TokenRequest {
  std::string name;   // empty = generated
  std::string user;
  std::string node;
  std::optional<Seconds> expires;
  bool replace = false;  // bootstrap: an existing token of that name is replaced
};

struct CreatedToken {
  TokenRec token;
  std::string secret;  // shown once
};

// Users and tokens, in memory and as store documents (kinds "user" and
// "token", key = name). Every change is made durable through `write`
// before the call returns; a failed write changes nothing.
//
// Thread safety: every method may be called from any thread.
class TokenStore {
 public:
  using Write = std::function<Status(std::vector<store::DocRow>)>;
  using Clock = std::function<Seconds()>;
  TokenStore(Write write, Clock now);

  // The documents loaded at start (other kinds are ignored).
  Status Load(const std::vector<store::DocRow>& docs);

  Outcome<UserRec> AddUser(const std::string& name, std::optional<Role> role);
  // Sets (or clears) an existing user's global role.
  Outcome<UserRec> SetRole(const std::string& name, std::optional<Role> role);
  std::optional<UserRec> FindUser(std::string_view name) const;
  std::vector<UserRec> Users() const;

  Outcome<CreatedToken> CreateToken(const TokenRequest& req);
  Outcome<TokenRec> Revoke(const std::string& name);
  std::vector<TokenRec> Tokens() const;
  bool HasTokens() const;

  // The principal a secret stands for; nullopt if unknown or expired.
  std::optional<Principal> Find(std::string_view secret) const;

 private:
  Write write_;
  Clock now_;
  mutable std::mutex mu_;
  std::map<std::string, UserRec, std::less<>> users_;
  std::map<std::string, TokenRec, std::less<>> tokens_;      // by name
  std::unordered_map<std::string, std::string> by_hash_;      // hash -> name
};

api::Json ToJson(const UserRec& u);
api::Json ToJson(const TokenRec& t);  // without the hash

// What a route requires (routes.h gives every route one).
enum class Access {
  kPublic,     // no token
  kAgent,      // a node token for the node named in the request
  kAnyone,     // any valid token
  kUser,       // any user's token, not a node's (the route limits it to what is the caller's own)
  kJobs,       // a global role or a project; each job is then filtered
  kSubmit,     // admin, operator, or a project member (checked per job)
  kJobAction,  // admin, operator, or per job: its project's lead or its own member
  kRead,       // viewer, operator or admin
  kOperate,    // operator or admin
  kAdmin,      // admin
};

// How far a caller reaches into one job.
enum class JobReach { kHidden, kVisible, kActs };

// Decides, for a principal, route by route and job by job. Holds
// references: the token store and memberships outlive it.
//
// Thread safety: const methods may be called from any thread.
class Authoriser {
 public:
  // `shared_token`: kojod --token (empty = none). With no shared token and
  // no stored token the API is open (everyone is an admin), as before
  // authentication existed; creating the first token closes it for good.
  Authoriser(TokenStore& tokens, const Memberships& members, std::string shared_token);

  // From the Authorization header: 401 when missing, malformed or unknown.
  Outcome<Principal> Authenticate(std::string_view authorization) const;
  // The route-level rule; `node` is the node the agent request names.
  std::optional<ApiError> Allow(const Principal& p, Access access, std::string_view node = {}) const;
  JobReach Reach(const Principal& p, std::string_view project, std::string_view user) const;
  // A project as a whole (its usage, grants): kActs for an operator, an
  // admin or its lead; kVisible for a viewer or its member; else kHidden
  // (answer 404, like a project that does not exist).
  JobReach ProjectReach(const Principal& p, std::string_view project) const;
  // Whether `p` may change who belongs to `project` (its roster): an
  // admin, or the project's lead (a course's instructor), as Slurm lets an
  // account's coordinators add and remove its users.
  bool MayManageMembers(const Principal& p, std::string_view project) const;
  // Submitting to `project`: 403 naming what is needed. An empty project
  // becomes the caller's only project when they have exactly one.
  std::optional<ApiError> MaySubmit(const Principal& p, std::string& project) const;
  bool open() const;
  const Memberships& members() const { return members_; }

 private:
  TokenStore& tokens_;
  const Memberships& members_;
  std::string shared_hash_;
};

}  // namespace kojo::controller
