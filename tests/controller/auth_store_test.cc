// Tokens, users and the authoriser without HTTP: hashing (FIPS 180-4
// vectors), the token store over an in-memory store with a manual clock,
// and the rules job by job.
#include <gtest/gtest.h>

#include <filesystem>

#include "controller/auth.h"
#include "controller/bootstrap.h"

namespace kojo::controller {
namespace {

TEST(Sha256, Fips180Vectors) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(ConstantTimeEqual, ComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEqual("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEqual("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEqual("abc", "abcd"));
  EXPECT_TRUE(ConstantTimeEqual("", ""));
}

// A token store over a list of written documents and a manual clock.
TokenRequest ForUser(const std::string& user) {
  TokenRequest r;
  r.user = user;
  return r;
}

struct Fixture {
  std::vector<store::DocRow> written;
  Seconds now = 1000;
  bool fail = false;
  TokenStore tokens{[this](std::vector<store::DocRow> docs) -> Status {
                      if (fail) return Error{ErrorCode::kIo, "disk full"};
                      for (auto& d : docs) written.push_back(std::move(d));
                      return Ok{};
                    },
                    [this] { return now; }};
};

TEST(TokenStore, CreateFindExpireRevoke) {
  Fixture f;
  ASSERT_TRUE(f.tokens.AddUser("ada", Role::kViewer).ok());
  TokenRequest req;
  req.user = "ada";
  req.name = "laptop";
  req.expires = 2000;
  auto t = f.tokens.CreateToken(req);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t.value().secret.rfind("kojo_", 0), 0u);
  EXPECT_EQ(t.value().token.hash, Sha256Hex(t.value().secret));
  for (const auto& d : f.written) EXPECT_EQ(d.json.find(t.value().secret), std::string::npos) << d.json;

  auto p = f.tokens.Find(t.value().secret);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->name, "ada");
  EXPECT_EQ(p->role, Role::kViewer);
  EXPECT_EQ(p->token, "laptop");
  EXPECT_FALSE(f.tokens.Find(t.value().secret + "x"));

  EXPECT_EQ(f.tokens.CreateToken(req).error().code, ApiCode::kConflict);  // same name
  f.now = 2000;
  EXPECT_FALSE(f.tokens.Find(t.value().secret)) << "expired";
  f.now = 1500;
  ASSERT_TRUE(f.tokens.Revoke("laptop").ok());
  EXPECT_FALSE(f.tokens.Find(t.value().secret)) << "revoked";
  EXPECT_TRUE(f.written.back().deleted);
  EXPECT_EQ(f.tokens.Revoke("laptop").error().code, ApiCode::kNotFound);
}

TEST(TokenStore, ReloadsFromDocumentsAndRefusesBadInput) {
  Fixture f;
  ASSERT_TRUE(f.tokens.AddUser("ada", std::nullopt).ok());
  auto t = f.tokens.CreateToken(ForUser("ada"));
  ASSERT_TRUE(t.ok());
  TokenRequest nr;
  nr.name = "agent-n1";
  nr.node = "n1";
  auto n = f.tokens.CreateToken(nr);
  ASSERT_TRUE(n.ok());

  Fixture g;
  ASSERT_TRUE(g.tokens.Load(f.written).ok());
  auto p = g.tokens.Find(t.value().secret);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->name, "ada");
  EXPECT_FALSE(p->role);
  auto node = g.tokens.Find(n.value().secret);
  ASSERT_TRUE(node);
  EXPECT_EQ(node->kind, Principal::Kind::kNode);
  EXPECT_EQ(node->name, "n1");

  EXPECT_EQ(f.tokens.CreateToken(ForUser("bob")).error().code, ApiCode::kNotFound);
  TokenRequest both = ForUser("ada");
  both.node = "n1";
  EXPECT_EQ(f.tokens.CreateToken(both).error().code, ApiCode::kInvalidArgument);
  EXPECT_EQ(f.tokens.AddUser("a b", std::nullopt).error().code, ApiCode::kInvalidArgument);
  EXPECT_EQ(f.tokens.AddUser("ada", std::nullopt).error().code, ApiCode::kConflict);
  f.fail = true;
  EXPECT_EQ(f.tokens.AddUser("eve", std::nullopt).error().code, ApiCode::kUnavailable);
  EXPECT_FALSE(f.tokens.FindUser("eve")) << "a failed write changes nothing";
}

struct Rules {
  Fixture f;
  StaticMemberships members{{{"A", "lea", ProjectRole::kLead, "", ""},
                             {"A", "mia", ProjectRole::kMember, "", ""},
                             {"A", "moe", ProjectRole::kMember, "", ""},
                             {"B", "bob", ProjectRole::kMember, "", ""}}};
  Authoriser auth{f.tokens, members, ""};
  Principal User(const std::string& name, std::optional<Role> role = std::nullopt) {
    Principal p;
    p.name = name;
    p.role = role;
    return p;
  }
};

TEST(Authoriser, OpenUntilTheFirstUserOrToken) {
  Rules r;
  EXPECT_TRUE(r.auth.open());
  EXPECT_TRUE(r.auth.Authenticate("").value().open);
  ASSERT_TRUE(r.f.tokens.AddUser("admin", Role::kAdmin).ok());
  EXPECT_FALSE(r.auth.open());
  EXPECT_EQ(r.auth.Authenticate("").error().code, ApiCode::kUnauthorized);
  EXPECT_EQ(r.auth.Authenticate("Bearer nope").error().code, ApiCode::kUnauthorized);
}

TEST(Authoriser, JobReachByRoleAndProject) {
  Rules r;
  EXPECT_EQ(r.auth.Reach(r.User("root", Role::kAdmin), "A", "mia"), JobReach::kActs);
  EXPECT_EQ(r.auth.Reach(r.User("op", Role::kOperator), "A", "mia"), JobReach::kActs);
  EXPECT_EQ(r.auth.Reach(r.User("vic", Role::kViewer), "A", "mia"), JobReach::kVisible);
  EXPECT_EQ(r.auth.Reach(r.User("lea"), "A", "mia"), JobReach::kActs);
  EXPECT_EQ(r.auth.Reach(r.User("mia"), "A", "mia"), JobReach::kActs);
  EXPECT_EQ(r.auth.Reach(r.User("moe"), "A", "mia"), JobReach::kVisible);
  EXPECT_EQ(r.auth.Reach(r.User("bob"), "A", "mia"), JobReach::kHidden);
  EXPECT_EQ(r.auth.Reach(r.User("nobody"), "A", "mia"), JobReach::kHidden);
  Principal node;
  node.kind = Principal::Kind::kNode;
  node.name = "n1";
  EXPECT_EQ(r.auth.Reach(node, "A", "mia"), JobReach::kHidden);
}

TEST(Authoriser, ProjectReachForUsageAndGrants) {
  Rules r;
  EXPECT_EQ(r.auth.ProjectReach(r.User("op", Role::kOperator), "A"), JobReach::kActs);
  EXPECT_EQ(r.auth.ProjectReach(r.User("lea"), "A"), JobReach::kActs);
  EXPECT_EQ(r.auth.ProjectReach(r.User("mia"), "A"), JobReach::kVisible);
  EXPECT_EQ(r.auth.ProjectReach(r.User("vic", Role::kViewer), "A"), JobReach::kVisible);
  EXPECT_EQ(r.auth.ProjectReach(r.User("bob"), "A"), JobReach::kHidden);
  EXPECT_EQ(r.auth.ProjectReach(r.User("lea"), "B"), JobReach::kHidden);
}

TEST(Authoriser, SubmitNeedsMembershipAndFillsTheOnlyProject) {
  Rules r;
  std::string project = "A";
  EXPECT_FALSE(r.auth.MaySubmit(r.User("mia"), project));
  project = "B";
  auto e = r.auth.MaySubmit(r.User("mia"), project);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, ApiCode::kForbidden);
  EXPECT_NE(e->message.find("project B"), std::string::npos) << e->message;
  project = "";
  EXPECT_FALSE(r.auth.MaySubmit(r.User("bob"), project));
  EXPECT_EQ(project, "B");
  project = "A";
  EXPECT_TRUE(r.auth.MaySubmit(r.User("vic", Role::kViewer), project));
  EXPECT_FALSE(r.auth.MaySubmit(r.User("op", Role::kOperator), project));
}

TEST(Authoriser, RouteRulesNameWhatIsNeeded) {
  Rules r;
  auto viewer = r.User("vic", Role::kViewer);
  EXPECT_FALSE(r.auth.Allow(viewer, Access::kRead));
  auto e = r.auth.Allow(viewer, Access::kOperate);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("operator"), std::string::npos);
  EXPECT_TRUE(r.auth.Allow(r.User("nobody"), Access::kJobs));
  EXPECT_FALSE(r.auth.Allow(r.User("bob"), Access::kJobs));
  EXPECT_TRUE(r.auth.Allow(r.User("root", Role::kAdmin), Access::kAgent)) << "agent endpoints: node tokens only";
  Principal node;
  node.kind = Principal::Kind::kNode;
  node.name = "n1";
  EXPECT_FALSE(r.auth.Allow(node, Access::kAgent, "n1"));
  EXPECT_TRUE(r.auth.Allow(node, Access::kAgent, "n2"));
  EXPECT_TRUE(r.auth.Allow(node, Access::kJobs));
  EXPECT_FALSE(r.auth.Allow(node, Access::kAnyone));
  EXPECT_TRUE(r.auth.Allow(node, Access::kUser)) << "a user's own things: not for a node token";
  EXPECT_FALSE(r.auth.Allow(r.User("nobody"), Access::kUser));
}

TEST(Bootstrap, AdminTokenFileIsWrittenOnceAndKept) {
  Fixture f;
  char tmpl[] = "/tmp/kojo-auth-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string path = dir + "/admin.token";
  auto first = EnsureAdminTokenFile(f.tokens, path);
  ASSERT_TRUE(first.ok()) << first.error().message;
  const std::string secret = ReadWholeFile(path);
  auto p = f.tokens.Find(secret.substr(0, secret.size() - 1));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->role, Role::kAdmin);
  auto second = EnsureAdminTokenFile(f.tokens, path);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(ReadWholeFile(path), secret) << "a valid file is kept";
  EXPECT_EQ(first.value().find(secret.substr(0, 20)), std::string::npos) << "the message never holds the secret";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kojo::controller
