#include "controller/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>

#include <fmt/format.h>

#include "common/files.h"

namespace kojo::controller {

using api::Json;

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1 || len != 32) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// ---- memberships ----

StaticMemberships::StaticMemberships(std::vector<Member> members) {
  for (auto& m : members) roles_[{m.project, m.user}] = m.role;
}

std::optional<ProjectRole> StaticMemberships::RoleIn(std::string_view project, std::string_view user) const {
  auto it = roles_.find(std::make_pair(std::string(project), std::string(user)));
  if (it == roles_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> StaticMemberships::ProjectsOf(std::string_view user) const {
  std::vector<std::string> out;
  for (const auto& [key, role] : roles_)
    if (key.second == user) out.push_back(key.first);
  return out;
}

// ---- documents ----

namespace {

constexpr size_t kMaxName = 128;

// Names of users, nodes and tokens: 1..128 of [A-Za-z0-9._@-].
std::optional<ApiError> CheckName(std::string_view field, std::string_view s) {
  const bool ok = !s.empty() && s.size() <= kMaxName && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-' || c == '@';
  });
  if (ok) return std::nullopt;
  return ApiError{ApiCode::kInvalidArgument,
                  fmt::format("{}: expected 1..{} letters, digits or . _ - @", field, kMaxName)};
}

store::DocRow UserDoc(const UserRec& u) {
  Json j{{"name", u.name}, {"created", u.created}};
  if (u.role) j["role"] = std::string(ToString(*u.role));
  return {"user", u.name, j.dump(), false};
}

store::DocRow TokenDoc(const TokenRec& t) {
  Json j{{"name", t.name}, {"sha256", t.hash}, {"created", t.created}};
  if (!t.user.empty()) j["user"] = t.user;
  if (!t.node.empty()) j["node"] = t.node;
  if (t.expires) j["expires"] = *t.expires;
  return {"token", t.name, j.dump(), false};
}

// A user or token write that could not be made durable: 503, as for jobs.
ApiError StoreFailed(const Error& e) { return NotDurable(e, "the change"); }

}  // namespace

Json ToJson(const UserRec& u) {
  return Json{{"name", u.name}, {"role", u.role ? Json(std::string(ToString(*u.role))) : Json(nullptr)},
              {"created", u.created}};
}

Json ToJson(const TokenRec& t) {
  Json j{{"name", t.name}, {"created", t.created}};
  j["user"] = t.user.empty() ? Json(nullptr) : Json(t.user);
  j["node"] = t.node.empty() ? Json(nullptr) : Json(t.node);
  j["expires"] = t.expires ? Json(*t.expires) : Json(nullptr);
  return j;
}

// ---- token store ----

TokenStore::TokenStore(Write write, Clock now) : write_(std::move(write)), now_(std::move(now)) {}

Status TokenStore::Load(const std::vector<store::DocRow>& docs) {
  std::lock_guard lock(mu_);
  for (const auto& d : docs) {
    if (d.kind != "user" && d.kind != "token") continue;
    auto j = api::ParseJson(d.json);
    if (!j.ok() || !j->is_object())
      return InvalidArgument(fmt::format("stored {} {}: not a JSON object", d.kind, d.key));
    try {
      if (d.kind == "user") {
        UserRec u;
        u.name = d.key;
        u.created = j->value("created", Seconds{0});
        if (j->contains("role")) {
          auto r = ParseRole(j->at("role").get<std::string>());
          if (!r) return InvalidArgument(fmt::format("stored user {}: unknown role", d.key));
          u.role = *r;
        }
        users_[u.name] = std::move(u);
      } else {
        TokenRec t;
        t.name = d.key;
        t.hash = j->value("sha256", "");
        t.user = j->value("user", "");
        t.node = j->value("node", "");
        t.created = j->value("created", Seconds{0});
        if (j->contains("expires")) t.expires = j->at("expires").get<Seconds>();
        if (t.hash.size() != 64 || t.user.empty() == t.node.empty())
          return InvalidArgument(fmt::format("stored token {}: expected a sha256 and one owner", d.key));
        by_hash_[t.hash] = t.name;
        tokens_[t.name] = std::move(t);
      }
    } catch (const std::exception& e) {
      return InvalidArgument(fmt::format("stored {} {}: {}", d.kind, d.key, e.what()));
    }
  }
  return Ok{};
}

Outcome<UserRec> TokenStore::AddUser(const std::string& name, std::optional<Role> role) {
  if (auto e = CheckName("name", name)) return *e;
  std::lock_guard lock(mu_);
  if (users_.count(name)) return ApiError{ApiCode::kConflict, fmt::format("user {} already exists", name)};
  UserRec u{name, role, now_()};
  if (auto s = write_({UserDoc(u)}); !s.ok()) return StoreFailed(s.error());
  users_[name] = u;
  return u;
}

Outcome<UserRec> TokenStore::SetRole(const std::string& name, std::optional<Role> role) {
  std::lock_guard lock(mu_);
  auto it = users_.find(name);
  if (it == users_.end()) return ApiError{ApiCode::kNotFound, fmt::format("user {} not found", name)};
  UserRec u = it->second;
  if (u.role == Role::kAdmin && role != Role::kAdmin &&
      std::none_of(users_.begin(), users_.end(), [&](const auto& kv) { return kv.first != name && kv.second.role == Role::kAdmin; }))
    return ApiError{ApiCode::kConflict, fmt::format("user {} is the last admin: make another user admin first", name)};
  u.role = role;
  if (auto s = write_({UserDoc(u)}); !s.ok()) return StoreFailed(s.error());
  it->second = u;
  return u;
}

std::optional<UserRec> TokenStore::FindUser(std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = users_.find(name);
  if (it == users_.end()) return std::nullopt;
  return it->second;
}

std::vector<UserRec> TokenStore::Users() const {
  std::lock_guard lock(mu_);
  std::vector<UserRec> out;
  for (const auto& [n, u] : users_) out.push_back(u);
  return out;
}

Outcome<CreatedToken> TokenStore::CreateToken(const TokenRequest& req) {
  if (req.user.empty() == req.node.empty())
    return ApiError{ApiCode::kInvalidArgument, "user, node: expected exactly one owner (a user or a node)"};
  if (!req.user.empty())
    if (auto e = CheckName("user", req.user)) return *e;
  if (!req.node.empty())
    if (auto e = CheckName("node", req.node)) return *e;
  CreatedToken out;
  TokenRec& t = out.token;
  t.user = req.user;
  t.node = req.node;
  t.created = now_();
  t.expires = req.expires;
  if (t.expires && *t.expires <= t.created)
    return ApiError{ApiCode::kInvalidArgument, "expires: expected a time in the future (Unix seconds)"};
  auto suffix = RandomHex(4), secret = RandomHex(20);
  if (!suffix.ok() || !secret.ok()) return ApiError{ApiCode::kInternal, (suffix.ok() ? secret : suffix).error().message};
  t.name = req.name.empty() ? (req.user.empty() ? req.node : req.user) + "-" + *suffix : req.name;
  if (auto e = CheckName("name", t.name)) return *e;
  out.secret = "kojo_" + *secret;
  t.hash = Sha256Hex(out.secret);
  if (t.hash.empty()) return ApiError{ApiCode::kInternal, "SHA-256 failed"};
  std::lock_guard lock(mu_);
  if (!req.user.empty() && !users_.count(req.user))
    return ApiError{ApiCode::kNotFound, fmt::format("user {} not found (add it first)", req.user)};
  auto old = tokens_.find(t.name);
  if (old != tokens_.end() && !req.replace)
    return ApiError{ApiCode::kConflict, fmt::format("token {} already exists; revoke it or pick another name", t.name)};
  if (auto s = write_({TokenDoc(t)}); !s.ok()) return StoreFailed(s.error());
  if (old != tokens_.end()) by_hash_.erase(old->second.hash);
  by_hash_[t.hash] = t.name;
  tokens_[t.name] = t;
  return out;
}

Outcome<TokenRec> TokenStore::Revoke(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = tokens_.find(name);
  if (it == tokens_.end()) return ApiError{ApiCode::kNotFound, fmt::format("token {} not found", name)};
  // Revoked in memory even when the write fails: the token stops working
  // now (the write is retried; a restart before it lands would bring the
  // token back, which the 503 tells the caller).
  const Status written = write_({store::DocRow{"token", name, "", true}});
  TokenRec t = std::move(it->second);
  by_hash_.erase(t.hash);
  tokens_.erase(it);
  if (!written.ok()) return StoreFailed(written.error());
  return t;
}

std::vector<TokenRec> TokenStore::Tokens() const {
  std::lock_guard lock(mu_);
  std::vector<TokenRec> out;
  for (const auto& [n, t] : tokens_) out.push_back(t);
  return out;
}

bool TokenStore::HasTokens() const {
  std::lock_guard lock(mu_);
  return !tokens_.empty() || !users_.empty();
}

std::optional<Principal> TokenStore::Find(std::string_view secret) const {
  const std::string hash = Sha256Hex(secret);
  std::lock_guard lock(mu_);
  auto h = by_hash_.find(hash);
  if (h == by_hash_.end()) return std::nullopt;
  const TokenRec& t = tokens_.at(h->second);
  if (!ConstantTimeEqual(t.hash, hash)) return std::nullopt;
  if (t.expires && now_() >= *t.expires) return std::nullopt;
  Principal p;
  p.token = t.name;
  if (!t.node.empty()) {
    p.kind = Principal::Kind::kNode;
    p.name = t.node;
    return p;
  }
  p.name = t.user;
  auto u = users_.find(t.user);
  if (u != users_.end()) p.role = u->second.role;
  return p;
}

// ---- authoriser ----

Authoriser::Authoriser(TokenStore& tokens, const Memberships& members, std::string shared_token)
    : tokens_(tokens), members_(members), shared_hash_(shared_token.empty() ? "" : Sha256Hex(shared_token)) {}

bool Authoriser::open() const { return shared_hash_.empty() && !tokens_.HasTokens(); }

Outcome<Principal> Authoriser::Authenticate(std::string_view authorization) const {
  if (open()) {
    Principal p;
    p.name = "anonymous";
    p.role = Role::kAdmin;
    p.open = true;
    return p;
  }
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.substr(0, kBearer.size()) != kBearer || authorization.size() == kBearer.size())
    return ApiError{ApiCode::kUnauthorized, "missing token: send the header 'Authorization: Bearer <token>'"};
  const std::string_view secret = authorization.substr(kBearer.size());
  if (!shared_hash_.empty() && ConstantTimeEqual(Sha256Hex(secret), shared_hash_)) {
    Principal p;
    p.name = "admin";
    p.role = Role::kAdmin;
    p.shared = true;
    return p;
  }
  if (auto p = tokens_.Find(secret)) return *p;
  return ApiError{ApiCode::kUnauthorized, "unknown, revoked or expired token"};
}

namespace {

bool AtLeast(const Principal& p, Role r) {
  if (!p.role) return false;
  auto rank = [](Role x) { return x == Role::kAdmin ? 3 : x == Role::kOperator ? 2 : 1; };
  return rank(*p.role) >= rank(r);
}

ApiError Forbidden(std::string message) { return {ApiCode::kForbidden, std::move(message)}; }

std::string Who(const Principal& p) {
  return p.kind == Principal::Kind::kNode ? fmt::format("node token {}", p.token) : fmt::format("user {}", p.name);
}

}  // namespace

std::optional<ApiError> Authoriser::Allow(const Principal& p, Access access, std::string_view node) const {
  if (p.open || access == Access::kPublic) return std::nullopt;
  const bool is_node = p.kind == Principal::Kind::kNode;
  if (access == Access::kAgent) {
    if (p.shared) return std::nullopt;
    if (!is_node) return Forbidden(fmt::format("{}: agent endpoints need a node token", Who(p)));
    if (!node.empty() && node != p.name)
      return Forbidden(fmt::format("{}: it is for node {}, not {}", Who(p), p.name, node));
    return std::nullopt;
  }
  if (access == Access::kAnyone) return std::nullopt;
  if (is_node) return Forbidden(fmt::format("{}: a node token opens only the agent endpoints", Who(p)));
  switch (access) {
    case Access::kUser:
      return std::nullopt;
    case Access::kJobs:
    case Access::kSubmit:
    case Access::kJobAction:
      if (p.role || !members_.ProjectsOf(p.name).empty()) {
        if (access == Access::kJobs || AtLeast(p, Role::kOperator) || !members_.ProjectsOf(p.name).empty())
          return std::nullopt;
        return Forbidden(fmt::format("{} is a viewer: this needs the role operator or admin, or membership of "
                                     "the job's project", Who(p)));
      }
      return Forbidden(fmt::format("{} has no role and no project: this needs a role (viewer, operator, admin) "
                                   "or membership of a project", Who(p)));
    case Access::kRead:
      if (AtLeast(p, Role::kViewer)) return std::nullopt;
      return Forbidden(fmt::format("{}: this needs the role viewer, operator or admin", Who(p)));
    case Access::kOperate:
      if (AtLeast(p, Role::kOperator)) return std::nullopt;
      return Forbidden(fmt::format("{}: this needs the role operator or admin", Who(p)));
    case Access::kAdmin:
      if (AtLeast(p, Role::kAdmin)) return std::nullopt;
      return Forbidden(fmt::format("{}: this needs the role admin", Who(p)));
    default:
      return Forbidden("no access rule");
  }
}

JobReach Authoriser::Reach(const Principal& p, std::string_view project, std::string_view user) const {
  if (p.open || AtLeast(p, Role::kOperator)) return JobReach::kActs;
  if (p.kind == Principal::Kind::kNode) return JobReach::kHidden;
  const auto in = members_.RoleIn(project, p.name);
  if (in == ProjectRole::kLead) return JobReach::kActs;
  if (in == ProjectRole::kMember) return user == p.name ? JobReach::kActs : JobReach::kVisible;
  if (p.role) return JobReach::kVisible;  // a viewer
  return JobReach::kHidden;
}

bool Authoriser::MayManageMembers(const Principal& p, std::string_view project) const {
  if (p.open || AtLeast(p, Role::kAdmin)) return true;
  return p.kind == Principal::Kind::kUser && members_.RoleIn(project, p.name) == ProjectRole::kLead;
}

JobReach Authoriser::ProjectReach(const Principal& p, std::string_view project) const {
  if (p.open || AtLeast(p, Role::kOperator)) return JobReach::kActs;
  if (p.kind == Principal::Kind::kNode) return JobReach::kHidden;
  const auto in = members_.RoleIn(project, p.name);
  if (in == ProjectRole::kLead) return JobReach::kActs;
  if (in || p.role) return JobReach::kVisible;
  return JobReach::kHidden;
}

std::optional<ApiError> Authoriser::MaySubmit(const Principal& p, std::string& project) const {
  if (p.open || AtLeast(p, Role::kOperator)) return std::nullopt;
  if (p.kind == Principal::Kind::kNode)
    return Forbidden(fmt::format("{}: a node token opens only the agent endpoints", Who(p)));
  const auto mine = members_.ProjectsOf(p.name);
  if (project.empty() && mine.size() == 1) project = mine.front();
  const std::string wanted = project.empty() ? "default" : project;
  if (members_.RoleIn(wanted, p.name)) return std::nullopt;
  return Forbidden(fmt::format("project {}: {} is not a member (member of: {}); submitting needs membership of "
                               "the project or the role operator or admin",
                               wanted, Who(p), mine.empty() ? "no project" : fmt::format("{}", fmt::join(mine, ", "))));
}

}  // namespace kojo::controller
