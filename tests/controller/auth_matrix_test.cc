// Who may do what, over real HTTP: a kojod with users, project members and
// a real agent on 127.0.0.1; every route of RouteTable() against every kind
// of caller, from one table. Plus: a project's token never reveals another
// project's jobs or logs, the submitter is the token's owner, and secrets
// are stored only as hashes.
#include <gtest/gtest.h>

#include <map>

#include <fmt/format.h>

#include "controller/routes.h"
#include "daemons.h"

#ifdef KOJO_AGENT_BINARY

namespace kojo::testing {
namespace {

using namespace std::chrono_literals;
using controller::RouteId;
using controller::RouteTable;

// The callers, in the order of the table's columns.
enum Caller { kAdmin, kOperator, kViewer, kLeadA, kMemberA, kMember2A, kMemberB, kNoRole, kAgent, kNoToken, kBadToken, kCallers };
constexpr const char* kCallerNames[] = {"admin", "operator", "viewer", "lead of A", "member of A", "2nd member of A",
                                        "member of B", "no role", "agent token", "no token", "bad token"};

// y: let through (any status but 401/403/404: 2xx, or 409 for a change an
// ended job refuses); u: 401; f: 403; n: 404 (a job it may not see).
// The job routes act on job A (submitted by the member of A, ended); node
// and agent routes on node n9 (registered by the agent token's node).
const std::map<RouteId, std::string> kExpected = {
    //                                admin op  view leadA memA mem2A memB norole agent none bad
    {RouteId::kHealth,         "yyyyyyyyyyy"},
    {RouteId::kSubmit,         "yyfyyyfffuu"},
    {RouteId::kListJobs,       "yyyyyyyffuu"},
    {RouteId::kShowJob,        "yyyyyynffuu"},
    {RouteId::kJobWhy,         "yyyyyynffuu"},
    {RouteId::kCancelJob,      "yyfyyfnffuu"},
    {RouteId::kHoldJob,        "yyfyyfnffuu"},
    {RouteId::kReleaseJob,     "yyfyyfnffuu"},
    {RouteId::kExtendJob,      "yyfyyfnffuu"},  // as cancel (the project's allowance is the controller's)
    {RouteId::kJobLogs,        "yyyyyynffuu"},
    {RouteId::kJobTty,         "yyfyyfnffuu"},  // the terminal acts as the job's user: as cancel
    {RouteId::kJobTtyInput,    "yyfyyfnffuu"},
    {RouteId::kJobTtyResize,   "yyfyyfnffuu"},
    {RouteId::kListNodes,      "yyyyyyyffuu"},  // members too: they pick GPU models from it
    {RouteId::kShowNode,       "yyyyyyyffuu"},
    {RouteId::kDrainNode,      "yyfffffffuu"},
    {RouteId::kResumeNode,     "yyfffffffuu"},
    {RouteId::kAgentRegister,  "ffffffffyuu"},
    {RouteId::kAgentHeartbeat, "ffffffffyuu"},
    {RouteId::kWhoami,         "yyyyyyyyyuu"},
    {RouteId::kListUsers,      "yyyffffffuu"},
    {RouteId::kAddUser,        "yffffffffuu"},
    {RouteId::kSetUserRole,    "yffffffffuu"},
    {RouteId::kListTokens,     "yyyyyyyyfuu"},  // everyone its own; readers all
    {RouteId::kCreateToken,    "yfyffffffuu"},  // for vic: vic (the viewer) may, for itself
    {RouteId::kRevokeToken,    "ynynnnnnfuu"},  // vic's token: others' answer like missing ones
    {RouteId::kGetOrg,         "yyyffffffuu"},
    {RouteId::kPutOrg,         "yffffffffuu"},
    {RouteId::kListProjects,   "yyyffffffuu"},
    {RouteId::kListGrants,     "yyyyyyyyfuu"},  // each user sees the grants of the projects it may see; nodes none
    {RouteId::kAddGrant,       "yffffffffuu"},
    {RouteId::kUsage,          "yyyyyyyyfuu"},  // likewise for usage
    {RouteId::kMetrics,        "yyyffffffuu"},
    {RouteId::kOverview,       "yyyyyyyffuu"},  // as the node list: each job then filtered
    {RouteId::kListReservations,  "yyfffffffuu"},
    {RouteId::kAddReservation,    "yyfffffffuu"},
    {RouteId::kDeleteReservation, "yyfffffffuu"},
    {RouteId::kImportRoster,      "yffffffffuu"},  // B's roster as it is: nothing changes; A's lead: below
};

class AuthMatrixTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string members = dir_.path() + "/org.json";
    {
      std::ofstream out(members);
      out << R"({"programmes": [{"name": "research"}],
                 "organisations": [{"name": "uni", "programme": "research"}],
                 "projects": [{"name": "A", "organisation": "uni"}, {"name": "B", "organisation": "uni"}],
                 "grants": [{"id": "ga", "project": "A", "gpu_hours": 1000, "start": "2020-01-01", "end": "2099-01-01"},
                            {"id": "gb", "project": "B", "gpu_hours": 1000, "start": "2020-01-01", "end": "2099-01-01"}],
                 "members": [{"project": "A", "user": "lea", "role": "lead"},
                             {"project": "A", "user": "mia", "role": "member"},
                             {"project": "A", "user": "moe", "role": "member"},
                             {"project": "B", "user": "bob", "role": "member"}]})";
    }
    admin_file_ = dir_.path() + "/admin.token";
    kojod_ = std::make_unique<Kojod>(dir_.path() + "/kojod", std::vector<std::string>{"--admin-token-file", admin_file_,
                                                                                       "--org", members});
    ASSERT_TRUE(kojod_->ok()) << kojod_->log();
    secret_[kAdmin] = ReadFile(admin_file_);
    while (!secret_[kAdmin].empty() && secret_[kAdmin].back() == '\n') secret_[kAdmin].pop_back();
    ASSERT_FALSE(secret_[kAdmin].empty());
    for (auto [who, name, role] : {std::tuple{kOperator, "otto", "operator"}, {kViewer, "vic", "viewer"},
                                   {kLeadA, "lea", ""}, {kMemberA, "mia", ""}, {kMember2A, "moe", ""},
                                   {kMemberB, "bob", ""}, {kNoRole, "nora", ""}}) {
      Json user{{"name", name}};
      if (*role) user["role"] = role;
      auto r = Call(kAdmin, "POST", "/api/v1/users", user.dump());
      ASSERT_EQ(r.first, 201) << r.second;
      secret_[who] = MakeToken(Json{{"user", name}});
    }
    secret_[kAgent] = MakeToken(Json{{"node", "n9"}});
    secret_[kBadToken] = "kojo_0123456789abcdef0123456789abcdef01234567";
    // The real agent, with its own node token.
    n1_token_ = MakeToken(Json{{"node", "n1"}});
    const std::string& n1_token = n1_token_;
    agent_ = Process({KOJO_AGENT_BINARY, "--server", kojod_->url(), "--name", "n1", "--state-dir", dir_.path() + "/n1",
                      "--listen", "127.0.0.1:0", "--emulate-gpus", "2xH100-80GB", "--token", n1_token,
                      "--heartbeat-wait-ms", "200"},
                     dir_.path() + "/n1.log");
    ASSERT_TRUE(WaitFor([&] { return NodeState("n1") == "UP"; }, 15s)) << ReadFile(dir_.path() + "/n1.log") << kojod_->log();
    job_a_ = SubmitAndWait(kMemberA, "A", "secret-of-A");
    job_b_ = SubmitAndWait(kMemberB, "B", "secret-of-B");
    // n9 exists (a node with no GPU and no agent behind it) for the node routes.
    auto reg = Call(kAgent, "POST", "/api/v1/agents/register", RegisterBody("n9"));
    ASSERT_EQ(reg.first, 200) << reg.second;
  }

  std::pair<int, std::string> Call(int who, const std::string& method, const std::string& path,
                                   const std::string& body = "") {
    auto c = kojod_->Client();
    httplib::Headers h;
    if (who != kNoToken) h.emplace("Authorization", "Bearer " + secret_[who]);
    httplib::Result r = method == "GET"      ? c.Get(path.c_str(), h)
                        : method == "DELETE" ? c.Delete(path.c_str(), h)
                        : method == "PUT"    ? c.Put(path.c_str(), h, body, "application/json")
                                             : c.Post(path.c_str(), h, body, "application/json");
    if (!r) return {0, "no answer"};
    return {r->status, r->body};
  }
  std::string MakeToken(const Json& body) {
    auto r = Call(kAdmin, "POST", "/api/v1/tokens", body.dump());
    EXPECT_EQ(r.first, 201) << r.second;
    return r.first == 201 ? Json::parse(r.second)["secret"].get<std::string>() : "";
  }
  std::string NodeState(const std::string& name) {
    auto r = Call(kAdmin, "GET", "/api/v1/nodes/" + name);
    return r.first == 200 ? Json::parse(r.second)["state"].get<std::string>() : "";
  }
  static std::string RegisterBody(const std::string& node) {
    return Json{{"node", {{"name", node}, {"cpu_milli", 1000}, {"mem_mib", 1024}, {"agent_url", "http://127.0.0.1:9"}}},
                {"tasks", Json::array()}}
        .dump();
  }
  JobId SubmitAndWait(int who, const std::string& project, const std::string& text) {
    Json spec{{"command", {"/bin/sh", "-c", "echo " + text}}, {"project", project}, {"user", "mallory"}};
    auto r = Call(who, "POST", "/api/v1/jobs", spec.dump());
    EXPECT_EQ(r.first, 201) << r.second;
    if (r.first != 201) return 0;
    const JobId id = Json::parse(r.second)["ids"][0].get<JobId>();
    EXPECT_TRUE(WaitFor([&] {
      auto s = Call(kAdmin, "GET", fmt::format("/api/v1/jobs/{}", id));
      return s.first == 200 && Json::parse(s.second)["state"] == "COMPLETED";
    }, 20s)) << kojod_->log();
    return id;
  }
  // The request of `route` as a caller would send it.
  std::pair<std::string, std::string> Request(RouteId route, std::string path, int who) {
    auto fill = [&](const std::string& var, const std::string& value) {
      const size_t at = path.find(var);
      if (at != std::string::npos) path.replace(at, var.size(), value);
    };
    fill("{id}", std::to_string(job_a_));
    fill("{name}", route == RouteId::kRevokeToken        ? "throwaway"
                   : route == RouteId::kSetUserRole      ? "vic"
                   : route == RouteId::kDeleteReservation ? fmt::format("r-{}", who)
                   : route == RouteId::kImportRoster      ? "B"
                                                          : "n9");
    switch (route) {
      case RouteId::kSubmit:
        return {path, Json{{"command", {"true"}}, {"project", "A"}, {"hold", true}}.dump()};
      case RouteId::kAgentRegister: return {path, RegisterBody("n9")};
      case RouteId::kAgentHeartbeat: return {path, Json{{"node", {{"name", "n9"}}}, {"tasks", Json::array()}}.dump()};
      case RouteId::kAddUser: return {path, Json{{"name", fmt::format("new-{}", who)}}.dump()};
      case RouteId::kSetUserRole: return {path, Json{{"role", "viewer"}}.dump()};
      case RouteId::kCreateToken: return {path, Json{{"user", "vic"}}.dump()};
      case RouteId::kPutOrg: return {path, Call(kAdmin, "GET", "/api/v1/org").second};  // the same model again
      case RouteId::kAddGrant:
        return {path, Json{{"id", fmt::format("g-new-{}", who)}, {"project", "A"}, {"gpu_hours", 1},
                           {"start", "2020-01-01"}, {"end", "2099-01-01"}}.dump()};
      case RouteId::kAddReservation:
        return {path, Json{{"name", fmt::format("r-{}", who)}, {"project", "A"}, {"gpus", 1},
                           {"start", "2099-01-01T00:00:00Z"}, {"duration_s", 3600}}.dump()};
      case RouteId::kImportRoster: return {path, Json{{"members", Json::array({{{"login", "bob"}}})}}.dump()};
      case RouteId::kExtendJob: return {path, Json{{"minutes", 5}}.dump()};
      default: return {path, ""};
    }
  }

  TempDir dir_;
  std::string admin_file_;
  std::unique_ptr<Kojod> kojod_;
  Process agent_;
  std::string secret_[kCallers];
  std::string n1_token_;  // the real agent's
  JobId job_a_ = 0, job_b_ = 0;
};

TEST_F(AuthMatrixTest, EveryRouteForEveryCaller) {
  for (const auto& route : RouteTable()) {
    auto want = kExpected.find(route.id);
    ASSERT_NE(want, kExpected.end()) << route.method << " " << route.path << " has no row in the access table";
    for (int who = 0; who < kCallers; ++who) {
      if (route.id == RouteId::kRevokeToken)  // something to revoke
        Call(kAdmin, "POST", "/api/v1/tokens", Json{{"user", "vic"}, {"name", "throwaway"}}.dump());
      if (route.id == RouteId::kDeleteReservation)  // its own to delete (one at a time holds the node)
        Call(kAdmin, "POST", "/api/v1/reservations", Request(RouteId::kAddReservation, "/api/v1/reservations", who).second);
      auto [path, body] = Request(route.id, std::string(route.path), who);
      auto [status, reply] = Call(who, std::string(route.method), path, body);
      const char expect = want->second[who];
      const std::string what = fmt::format("{} {} as {}: HTTP {} {}", route.method, path, kCallerNames[who], status, reply);
      switch (expect) {
        case 'y': EXPECT_TRUE((status >= 200 && status < 300) || status == 409) << what; break;
        case 'u': EXPECT_EQ(status, 401) << what; break;
        case 'f':
          EXPECT_EQ(status, 403) << what;
          EXPECT_NE(reply.find("\"forbidden\""), std::string::npos) << what;
          break;
        case 'n': EXPECT_EQ(status, 404) << what; break;
        default: FAIL() << "bad table entry " << expect;
      }
    }
    if (route.id == RouteId::kDrainNode) Call(kAdmin, "POST", "/api/v1/nodes/n9/resume");
  }
}

// The agent's log server answers kojod only: users read logs through
// kojod, which checks who may see the job; nobody's token opens the agent.
TEST_F(AuthMatrixTest, TheAgentsLogServerAnswersKojodOnly) {
  auto log_a = Call(kMemberA, "GET", fmt::format("/api/v1/jobs/{}/logs", job_a_));
  EXPECT_EQ(log_a.first, 200);
  EXPECT_EQ(log_a.second, "secret-of-A\n");
  auto cli = Shell(fmt::format("env -i HOME={0} XDG_CONFIG_HOME={0}/config KOJO_TOKEN={1} {2} logs --server {3} {4}",
                               dir_.path(), secret_[kMemberA], KOJO_BINARY, kojod_->url(), job_a_));
  EXPECT_EQ(cli.first, 0) << cli.second;
  EXPECT_EQ(cli.second, "secret-of-A\n");
  EXPECT_EQ(Call(kMemberB, "GET", fmt::format("/api/v1/jobs/{}/logs", job_a_)).first, 404);

  auto node = Call(kAdmin, "GET", "/api/v1/nodes/n1");
  ASSERT_EQ(node.first, 200) << node.second;
  const std::string agent_url = Json::parse(node.second)["agent_url"];
  ASSERT_FALSE(agent_url.empty()) << node.second;
  EXPECT_EQ(node.second.find("log_secret"), std::string::npos) << node.second;
  EXPECT_EQ(Call(kAdmin, "GET", "/api/v1/nodes").second.find("log_secret"), std::string::npos);
  httplib::Client agent(agent_url);
  agent.set_connection_timeout(5, 0);
  std::vector<std::pair<std::string, httplib::Headers>> tries = {{"no token", {}}};
  for (int who : {kAdmin, kMemberA, kMemberB, kAgent})
    tries.push_back({kCallerNames[who], {{"Authorization", "Bearer " + secret_[who]}}});
  tries.push_back({"the agent's own node token", {{"Authorization", "Bearer " + n1_token_}}});
  for (const auto& [who, headers] : tries)
    for (const std::string& path : {fmt::format("/logs/{}", job_a_), fmt::format("/logs/{}?attempt=1&rank=0", job_a_),
                                   fmt::format("/logs/{}?stream=stderr", job_b_)}) {
      auto r = agent.Get(path.c_str(), headers);
      ASSERT_TRUE(r) << who << " " << path;
      EXPECT_EQ(r->status, 401) << who << " " << path << ": " << r->body;
      EXPECT_EQ(r->body.find("secret-of-"), std::string::npos) << who << " " << path;
    }
  auto health = agent.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  // The key never reaches the logs either (the agent's own, or kojod's).
  const std::string agent_log = ReadFile(dir_.path() + "/n1.log");
  EXPECT_EQ(agent_log.find("log_secret"), std::string::npos) << agent_log;
  EXPECT_EQ(kojod_->log().find("log_secret"), std::string::npos);
}

TEST_F(AuthMatrixTest, ProjectBNeverSeesProjectA) {
  // The list holds only B's jobs.
  auto list = Call(kMemberB, "GET", "/api/v1/jobs?limit=10000");
  ASSERT_EQ(list.first, 200);
  const Json jobs = Json::parse(list.second)["jobs"];
  for (const auto& j : jobs) EXPECT_EQ(j["spec"]["project"], "B") << j.dump();
  EXPECT_EQ(list.second.find("secret-of-A"), std::string::npos);
  auto filtered = Call(kMemberB, "GET", "/api/v1/jobs?project=A");
  ASSERT_EQ(filtered.first, 200);
  EXPECT_TRUE(Json::parse(filtered.second)["jobs"].empty());
  // A's job answers exactly like a job that does not exist.
  const JobId missing = job_b_ + 1000;
  for (const char* suffix : {"", "/logs", "/why", "/cancel", "/hold", "/release"}) {
    const std::string method =
        std::string(suffix) == "/logs" || std::string(suffix) == "/why" || !*suffix ? "GET" : "POST";
    auto hidden = Call(kMemberB, method, fmt::format("/api/v1/jobs/{}{}", job_a_, suffix));
    auto absent = Call(kMemberB, method, fmt::format("/api/v1/jobs/{}{}", missing, suffix));
    EXPECT_EQ(hidden.first, 404) << suffix << hidden.second;
    EXPECT_EQ(absent.first, 404) << suffix << absent.second;
    EXPECT_EQ(Json::parse(hidden.second)["error"]["message"].get<std::string>().find("secret"), std::string::npos);
  }
  EXPECT_EQ(Call(kAdmin, "GET", fmt::format("/api/v1/jobs/{}", job_a_)).first, 200) << "the job is there";
  // Nodes: B's member sees n1 and what B runs there, not A's running job.
  auto sleeper = Call(kMemberA, "POST", "/api/v1/jobs",
                      Json{{"command", {"sleep", "30"}}, {"project", "A"}, {"gpus", 1}}.dump());
  ASSERT_EQ(sleeper.first, 201) << sleeper.second;
  const JobId running_a = Json::parse(sleeper.second)["ids"][0].get<JobId>();
  auto jobs_on_n1 = [&](int who) {
    auto r = Call(who, "GET", "/api/v1/nodes/n1");
    return r.first == 200 ? Json::parse(r.second)["jobs"] : Json();
  };
  ASSERT_TRUE(WaitFor([&] { return jobs_on_n1(kAdmin) == Json::array({running_a}); }, 15s)) << jobs_on_n1(kAdmin);
  EXPECT_EQ(jobs_on_n1(kMember2A), Json::array({running_a})) << "a member sees the project's jobs";
  EXPECT_EQ(jobs_on_n1(kMemberB), Json::array()) << "B's member does not see A's job on the node";
  auto listed = Call(kMemberB, "GET", "/api/v1/nodes");
  ASSERT_EQ(listed.first, 200) << listed.second;
  const Json listed_nodes = Json::parse(listed.second)["nodes"];
  for (const auto& n : listed_nodes) EXPECT_TRUE(n["jobs"].empty()) << n.dump();
  EXPECT_EQ(Call(kAdmin, "POST", fmt::format("/api/v1/jobs/{}/cancel", running_a)).first, 200);
  // B sees its own log; A's member sees A's.
  auto log_b = Call(kMemberB, "GET", fmt::format("/api/v1/jobs/{}/logs", job_b_));
  EXPECT_EQ(log_b.first, 200);
  EXPECT_EQ(log_b.second, "secret-of-B\n");
  auto log_a = Call(kMember2A, "GET", fmt::format("/api/v1/jobs/{}/logs", job_a_));
  EXPECT_EQ(log_a.second, "secret-of-A\n");
  // Usage and grants: B's member sees B's only; A asked for by name is not found.
  for (const char* by : {"project", "user", "programme"}) {
    auto usage = Call(kMemberB, "GET", fmt::format("/api/v1/usage?by={}", by));
    ASSERT_EQ(usage.first, 200) << usage.second;
    const Json rows = Json::parse(usage.second)["rows"];
    EXPECT_EQ(rows.size(), 1u) << by << ": " << usage.second;
    for (const auto& row : rows) EXPECT_NE(row["key"], by == std::string("user") ? "mia" : "A") << usage.second;
  }
  auto mine = Call(kMemberB, "GET", "/api/v1/usage?by=project");
  EXPECT_EQ(Json::parse(mine.second)["rows"][0]["key"], "B") << mine.second;
  auto all = Call(kAdmin, "GET", "/api/v1/usage?by=project");
  EXPECT_EQ(Json::parse(all.second)["rows"].size(), 2u) << all.second;
  auto grants = Call(kMemberB, "GET", "/api/v1/grants");
  ASSERT_EQ(grants.first, 200);
  const Json grant_list = Json::parse(grants.second)["grants"];
  EXPECT_FALSE(grant_list.empty());
  for (const auto& g : grant_list) EXPECT_EQ(g["project"], "B") << grants.second;
  EXPECT_EQ(Call(kMemberB, "GET", "/api/v1/grants?project=A").first, 404);
  EXPECT_EQ(Call(kMember2A, "GET", "/api/v1/grants?project=A").first, 200);
}

// A course's instructor (its project's lead) keeps its roster: lea leads
// A and imports A's class list; a member of A may not, nor may lea for B.
TEST_F(AuthMatrixTest, AProjectsLeadImportsItsRosterAndNoOtherOne) {
  const std::string body = Json{{"members", Json::array({{{"login", "mia"}}, {{"login", "moe"}}, {{"login", "sam"}}})}}.dump();
  auto lead = Call(kLeadA, "POST", "/api/v1/projects/A/roster", body);
  EXPECT_EQ(lead.first, 200) << lead.second;
  EXPECT_EQ(Json::parse(lead.second)["added"], 1) << lead.second;  // sam
  auto member = Call(kMemberA, "POST", "/api/v1/projects/A/roster", body);
  EXPECT_EQ(member.first, 403) << member.second;
  EXPECT_NE(member.second.find("by its lead or an admin"), std::string::npos) << member.second;
  EXPECT_EQ(Call(kLeadA, "POST", "/api/v1/projects/B/roster", body).first, 403);
  EXPECT_EQ(Call(kOperator, "POST", "/api/v1/projects/A/roster", body).first, 403);
  // The lead stays lead: a roster lists members.
  auto whoami = Call(kLeadA, "GET", "/api/v1/whoami");
  EXPECT_NE(whoami.second.find("\"lead\""), std::string::npos) << whoami.second;
}

TEST_F(AuthMatrixTest, SubmitterIsTheTokensOwner) {
  auto show = Call(kAdmin, "GET", fmt::format("/api/v1/jobs/{}", job_a_));
  ASSERT_EQ(show.first, 200);
  EXPECT_EQ(Json::parse(show.second)["spec"]["user"], "mia") << "not the \"mallory\" the client claimed";
  // A member of A without a project in the spec gets its only project.
  auto r = Call(kMemberB, "POST", "/api/v1/jobs", R"({"command":["true"],"hold":true})");
  ASSERT_EQ(r.first, 201) << r.second;
  auto job = Call(kMemberB, "GET", fmt::format("/api/v1/jobs/{}", Json::parse(r.second)["ids"][0].get<JobId>()));
  EXPECT_EQ(Json::parse(job.second)["spec"]["project"], "B");
  // Submitting to a project one is not in names it.
  auto denied = Call(kMemberB, "POST", "/api/v1/jobs", R"({"jobs":[{"command":["true"],"project":"A"}]})");
  EXPECT_EQ(denied.first, 403);
  EXPECT_NE(denied.second.find("jobs[0]: project A"), std::string::npos) << denied.second;
}

TEST_F(AuthMatrixTest, NodeTokensSpeakOnlyForTheirNode) {
  auto other = Call(kAgent, "POST", "/api/v1/agents/n1/heartbeat",
                    Json{{"node", {{"name", "n1"}}}, {"tasks", Json::array()}}.dump());
  EXPECT_EQ(other.first, 403) << other.second;
  EXPECT_NE(other.second.find("node n9"), std::string::npos) << other.second;
  auto reg = Call(kAgent, "POST", "/api/v1/agents/register", RegisterBody("n1"));
  EXPECT_EQ(reg.first, 403) << reg.second;
  EXPECT_EQ(NodeState("n1"), "UP");
}

TEST_F(AuthMatrixTest, RoleChangesTakeEffectAtOnceAndTheLastAdminStays) {
  auto set_role = [&](int who, const std::string& user, const std::string& body) {
    return Call(who, "PUT", "/api/v1/users/" + user, body);
  };
  EXPECT_EQ(Call(kNoRole, "GET", "/api/v1/users").first, 403);
  auto up = set_role(kAdmin, "nora", R"({"role": "operator"})");
  ASSERT_EQ(up.first, 200) << up.second;
  EXPECT_EQ(Json::parse(up.second)["role"], "operator");
  EXPECT_EQ(Call(kNoRole, "GET", "/api/v1/users").first, 200) << "the same token, the new role";
  EXPECT_EQ(Call(kNoRole, "POST", "/api/v1/nodes/n9/drain").first, 200);
  EXPECT_EQ(Call(kNoRole, "POST", "/api/v1/nodes/n9/resume").first, 200);
  auto down = set_role(kAdmin, "nora", R"({"role": null})");
  ASSERT_EQ(down.first, 200) << down.second;
  EXPECT_EQ(Call(kNoRole, "GET", "/api/v1/users").first, 403);
  // Bad requests name what is wrong.
  auto missing = set_role(kAdmin, "nobody", R"({"role": "viewer"})");
  EXPECT_EQ(missing.first, 404);
  EXPECT_NE(missing.second.find("nobody"), std::string::npos) << missing.second;
  auto bad = set_role(kAdmin, "nora", R"({"role": "king"})");
  EXPECT_EQ(bad.first, 400);
  EXPECT_NE(bad.second.find("role: expected viewer, operator, admin"), std::string::npos) << bad.second;
  EXPECT_EQ(set_role(kAdmin, "nora", "{}").first, 400);
  EXPECT_EQ(set_role(kAdmin, "nora", R"({"role": "viewer", "x": 1})").first, 400);
  EXPECT_EQ(set_role(kOperator, "nora", R"({"role": "admin"})").first, 403) << "only an admin changes roles";
  // The last admin cannot lose the role; with a second admin it can.
  const std::string admin = Json::parse(Call(kAdmin, "GET", "/api/v1/whoami").second)["name"];
  auto last = set_role(kAdmin, admin, R"({"role": "viewer"})");
  EXPECT_EQ(last.first, 409) << last.second;
  EXPECT_NE(last.second.find("last admin"), std::string::npos) << last.second;
  ASSERT_EQ(set_role(kAdmin, "otto", R"({"role": "admin"})").first, 200);
  EXPECT_EQ(set_role(kAdmin, admin, R"({"role": "viewer"})").first, 200);
  EXPECT_EQ(set_role(kAdmin, "nora", R"({"role": "viewer"})").first, 403) << "no longer an admin";
  EXPECT_EQ(set_role(kOperator, admin, R"({"role": "admin"})").first, 200) << "otto is an admin now";
}

TEST_F(AuthMatrixTest, UsersManageTheirOwnTokensOnly) {
  // A member makes a token for itself (for CI, say): it stands for the member.
  auto made = Call(kMemberA, "POST", "/api/v1/tokens", R"({"name": "mia-ci", "expires": 4102444800})");
  ASSERT_EQ(made.first, 201) << made.second;
  const Json created = Json::parse(made.second);
  EXPECT_EQ(created["token"]["user"], "mia");
  const std::string secret = created["secret"];
  const auto as_new = [&](const std::string& path) {
    auto c = kojod_->Client();
    auto r = c.Get(path.c_str(), httplib::Headers{{"Authorization", "Bearer " + secret}});
    return r ? std::make_pair(r->status, r->body) : std::make_pair(0, std::string());
  };
  EXPECT_EQ(Json::parse(as_new("/api/v1/whoami").second)["name"], "mia");
  // Not for another user, not for a node.
  auto other = Call(kMemberA, "POST", "/api/v1/tokens", R"({"user": "bob"})");
  EXPECT_EQ(other.first, 403);
  EXPECT_NE(other.second.find("only an admin creates tokens for another user"), std::string::npos) << other.second;
  auto node = Call(kMemberA, "POST", "/api/v1/tokens", R"({"node": "n1"})");
  EXPECT_EQ(node.first, 403);
  EXPECT_NE(node.second.find("only an admin creates node tokens"), std::string::npos) << node.second;
  // The list holds its own tokens only; a reader sees them all.
  const Json mine = Json::parse(Call(kMemberA, "GET", "/api/v1/tokens").second)["tokens"];
  ASSERT_EQ(mine.size(), 2u) << mine.dump();  // the test's token and mia-ci
  for (const auto& t : mine) EXPECT_EQ(t["user"], "mia") << t.dump();
  const Json everyone = Json::parse(Call(kViewer, "GET", "/api/v1/tokens").second)["tokens"];
  EXPECT_GT(everyone.size(), mine.size());
  // Another user's token answers like a missing one; its own goes.
  std::string bobs;
  for (const auto& t : everyone)
    if (t["user"] == "bob") bobs = t["name"];
  ASSERT_FALSE(bobs.empty());
  EXPECT_EQ(Call(kMemberA, "DELETE", "/api/v1/tokens/" + bobs).first, 404);
  EXPECT_EQ(Call(kMemberB, "GET", "/api/v1/whoami").first, 200) << "bob's token still works";
  EXPECT_EQ(Call(kMemberA, "DELETE", "/api/v1/tokens/mia-ci").first, 200);
  EXPECT_EQ(as_new("/api/v1/whoami").first, 401);
  EXPECT_EQ(Call(kAgent, "GET", "/api/v1/tokens").first, 403) << "node tokens have no tokens to manage";
}

TEST_F(AuthMatrixTest, RevokedTokensStopWorkingAndSecretsAreStoredHashed) {
  ASSERT_EQ(Call(kViewer, "GET", "/api/v1/whoami").first, 200);
  auto tokens = Json::parse(Call(kAdmin, "GET", "/api/v1/tokens").second)["tokens"];
  std::string vic_token;
  for (const auto& t : tokens)
    if (t["user"] == "vic") vic_token = t["name"];
  ASSERT_FALSE(vic_token.empty());
  EXPECT_EQ(Call(kAdmin, "DELETE", "/api/v1/tokens/" + vic_token).first, 200);
  EXPECT_EQ(Call(kViewer, "GET", "/api/v1/whoami").first, 401);

  std::string stored = ReadFile(dir_.path() + "/kojod/kojo.db") + ReadFile(dir_.path() + "/kojod/kojo.db-wal");
  ASSERT_NE(stored.find("\"sha256\""), std::string::npos) << "the token documents are in the file";
  for (int who = 0; who < kNoToken; ++who) EXPECT_EQ(stored.find(secret_[who]), std::string::npos) << kCallerNames[who];
  for (int who = 0; who < kNoToken; ++who)
    EXPECT_EQ(kojod_->log().find(secret_[who]), std::string::npos) << "logged: " << kCallerNames[who];
  // After a restart the tokens still work.
  auto status = kojod_->process().Terminate(15s);
  ASSERT_TRUE(status.has_value());
  kojod_ = std::make_unique<Kojod>(dir_.path() + "/kojod", std::vector<std::string>{"--admin-token-file", admin_file_});
  ASSERT_TRUE(kojod_->ok()) << kojod_->log();
  EXPECT_EQ(ReadFile(admin_file_), secret_[kAdmin] + "\n") << "a valid admin token file is kept";
  EXPECT_EQ(Call(kMemberA, "GET", "/api/v1/whoami").first, 200);
  EXPECT_EQ(Call(kViewer, "GET", "/api/v1/whoami").first, 401);
}

// An idempotency key belongs to the user who sent it: another user's
// submission with the same key is a submission of its own, and learns
// nothing of the first.
TEST_F(AuthMatrixTest, IdempotencyKeysAreEachUsersOwn) {
  auto submit = [&](int who, const std::string& name) {
    auto c = kojod_->Client();
    auto r = c.Post("/api/v1/jobs", {{"Authorization", "Bearer " + secret_[who]}, {"Idempotency-Key", "build-42"}},
                    Json{{"name", name}, {"command", {"true"}}, {"project", "A"}, {"hold", true}}.dump(),
                    "application/json");
    EXPECT_TRUE(r);
    EXPECT_EQ(r ? r->status : 0, 201) << (r ? r->body : "no answer");
    return r && r->status == 201 ? Json::parse(r->body)["ids"][0].get<JobId>() : JobId{0};
  };
  const JobId mias = submit(kMemberA, "mias");
  const JobId moes = submit(kMember2A, "moes");
  ASSERT_NE(mias, 0);
  ASSERT_NE(moes, 0);
  EXPECT_NE(mias, moes);
  EXPECT_EQ(submit(kMemberA, "mias again"), mias);  // a retry still answers the first
  EXPECT_EQ(submit(kMember2A, "moes again"), moes);
  auto shown = Call(kMember2A, "GET", fmt::format("/api/v1/jobs/{}", moes));
  ASSERT_EQ(shown.first, 200) << shown.second;
  EXPECT_EQ(Json::parse(shown.second)["spec"]["name"], "moes");
  EXPECT_EQ(Json::parse(shown.second)["spec"]["user"], "moe");
}

}  // namespace
}  // namespace kojo::testing

#endif  // KOJO_AGENT_BINARY
