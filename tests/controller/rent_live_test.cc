// Renting partner capacity end to end: a real kojod on 127.0.0.1 with an
// owned kojo-agent and a provider whose start and stop programs are
// scripts/providers/local-agent (each rented node a local kojo-agent with
// emulated GPUs). Short time-outs in the organisation document keep each
// case to seconds; every wait is a poll with a deadline; every agent the
// provider started is stopped at the end (local-agent stop-all).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <regex>
#include <set>

#include "daemons.h"

#if defined(KOJO_AGENT_BINARY) && defined(KOJOD_BINARY)

namespace kojo::testing {
namespace {

using namespace std::chrono_literals;

const std::string kLocalAgent = std::string(KOJO_TESTDATA_DIR) + "/../../scripts/providers/local-agent";

std::string IsoUtc(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

struct ProviderOptions {
  int max_nodes = 2;
  int startup_s = 1;
  int timeout_s = 20;
  int idle_timeout_s = 3;
  std::string start_env;  // assignments before the start program (local-agent's KOJO_LOCAL_AGENT_*)
  std::string stop_env;   // and before the stop program
  bool budget = true;     // the project has rent terms
};

class RentLive : public ::testing::Test {
 protected:
  void TearDown() override {
    // kojod first (it starts nothing more), then whatever it rented.
    if (kojod_) kojod_->process().Kill();
    owned_.Kill();
    auto [rc, out] = Shell(fmt::format("KOJO_RENT_DIR={} {} stop-all", RentDir(), kLocalAgent));
    EXPECT_EQ(rc, 0) << out;
    // The owned agent leaves its jobs running when killed: local-agent's
    // stop finds them in its state folder the same way.
    auto [orc, oout] = Shell(fmt::format("KOJO_RENT_DIR={}/owned {} stop-all", dir_.path(), kLocalAgent));
    EXPECT_EQ(orc, 0) << oout;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir_.path() + "/owned/owned-1/state/tasks", ec)) {
      if (e.path().extension() != ".status") continue;
      std::istringstream in(ReadFile(e.path().string()));
      std::string word;
      pid_t pid = 0;
      if (!(in >> word >> pid) || word != "pid" || pid <= 0) continue;
      EXPECT_TRUE(WaitFor([&] {
        const std::string stat = ReadFile(fmt::format("/proc/{}/stat", pid));
        return stat.empty() || stat.find(") Z ") != std::string::npos;
      }, 5s)) << "job process " << pid << " left behind";
    }
    // No agent of a rented node is left.
    auto [prc, ps] = Shell(fmt::format("ps -eo args | grep -F -- '{}/' | grep -v grep || true", RentDir()));
    EXPECT_EQ(ps, "") << "left behind:\n" << ps;
  }

  std::string RentDir() const { return dir_.path() + "/rented"; }

  Json OrgDoc(const ProviderOptions& p) const {
    const std::int64_t now = std::time(nullptr);
    const std::string env = fmt::format("KOJO_RENT_DIR={} KOJO_AGENT_BIN={} KOJO_LOCAL_AGENT_WAIT_MS=300", RentDir(),
                                        KOJO_AGENT_BINARY);
    return Json{
        {"programmes", Json::array({{{"name", "research"}}})},
        {"organisations", Json::array({{{"name", "lab"}, {"programme", "research"}}})},
        {"projects", Json::array({p.budget ? Json{{"name", "vision"},
                                                  {"organisation", "lab"},
                                                  {"rent", {{"budget", 50}, {"value_per_gpu_hour", 3600}}}}
                                            : Json{{"name", "vision"}, {"organisation", "lab"}}})},
        {"grants", Json::array({{{"id", "g"}, {"project", "vision"}, {"gpu_hours", 1000},
                                 {"start", IsoUtc(now - 3600)}, {"end", IsoUtc(now + 86400)}}})},
        {"providers", Json::array({{{"name", "local"},
                                    {"gpu_model", "H100"},
                                    {"gpus_per_node", 1},
                                    {"price_per_gpu_hour", 2.0},
                                    {"max_nodes", p.max_nodes},
                                    {"startup_s", p.startup_s},
                                    {"timeout_s", p.timeout_s},
                                    {"idle_timeout_s", p.idle_timeout_s},
                                    {"start_program", fmt::format("{} {} {} start", env, p.start_env, kLocalAgent)},
                                    {"stop_program", fmt::format("{} {} {} stop", env, p.stop_env, kLocalAgent)}}})}};
  }

  // `secured`: with an admin token (the API is not open), which the
  // test's requests then send.
  void StartKojod(const ProviderOptions& p, const std::string& listen = "127.0.0.1:0", bool secured = false) {
    const std::string org = dir_.path() + "/org.json";
    std::ofstream(org) << OrgDoc(p).dump();
    std::vector<std::string> args{"--node-timeout", "2", "--kill-grace", "1", "--org", org};
    const std::string admin_file = dir_.path() + "/admin.token";
    if (secured) {
      args.push_back("--admin-token-file");
      args.push_back(admin_file);
    }
    kojod_ = std::make_unique<Kojod>(dir_.path() + "/kojod", args, listen);
    ASSERT_TRUE(kojod_->ok()) << kojod_->log();
    if (secured) {
      admin_ = ReadFile(admin_file);
      while (!admin_.empty() && admin_.back() == '\n') admin_.pop_back();
    }
  }
  httplib::Client Client() {
    httplib::Client c = kojod_->Client();
    if (!admin_.empty()) c.set_bearer_token_auth(admin_);
    return c;
  }
  void StartOwned(int gpus) {
    std::vector<std::string> argv{KOJO_AGENT_BINARY, "--server", kojod_->url(), "--name", "owned-1", "--state-dir",
                                  dir_.path() + "/owned/owned-1/state", "--listen", "127.0.0.1:0", "--emulate-gpus",
                                  fmt::format("{}xH100", gpus), "--kill-grace", "1", "--heartbeat-wait-ms", "300"};
    if (!admin_.empty()) {
      auto r = Client().Post("/api/v1/tokens", Json{{"node", "owned-1"}}.dump(), "application/json");
      ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
      argv.push_back("--token");
      argv.push_back(Body(r)["secret"].get<std::string>());
    }
    owned_ = Process(argv, dir_.path() + "/owned-1.log");
    ASSERT_TRUE(WaitFor([&] { return Get("/api/v1/nodes/owned-1").value("state", "") == "UP"; }, 15s)) << kojod_->log();
  }
  Json Get(const std::string& path) { return Body(Client().Get(path.c_str())); }
  // Submits jobs in one request (so that one pass sees them all).
  std::vector<JobId> Submit(const std::vector<Json>& specs) {
    Json jobs = Json::array();
    for (Json s : specs) {
      s["project"] = "vision";
      s["gpus"] = s.value("gpus", 1);
      s["time_limit_s"] = 60;
      jobs.push_back(std::move(s));
    }
    auto r = Client().Post("/api/v1/jobs", Json{{"jobs", jobs}}.dump(), "application/json");
    EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
    std::vector<JobId> ids;
    const Json reply = Body(r);
    if (r && r->status == 201)
      for (const auto& id : reply["ids"]) ids.push_back(id.get<JobId>());
    return ids;
  }
  static Json Sleep(int seconds, bool no_rent = false) {
    Json j{{"command", {"sleep", std::to_string(seconds)}}};
    if (no_rent) j["no_rent"] = true;
    return j;
  }
  std::string State(JobId id) { return Get(fmt::format("/api/v1/jobs/{}", id)).value("state", ""); }
  std::string NodeOf(JobId id) {
    const Json j = Get(fmt::format("/api/v1/jobs/{}", id));
    return j.contains("placement") && !j["placement"].empty() ? j["placement"][0].value("node", "") : "";
  }
  bool AllCompleted(const std::vector<JobId>& ids) {
    for (JobId id : ids)
      if (State(id) != "COMPLETED") return false;
    return true;
  }
  // Rented nodes by rent state.
  std::map<std::string, std::string> RentStates() {
    std::map<std::string, std::string> out;
    for (const Json& n : Get("/api/v1/nodes").value("nodes", Json::array()))
      if (!n.value("provider", "").empty()) out[n.value("name", "")] = n.value("rent_state", "");
    return out;
  }
  bool AllOff() {
    const auto states = RentStates();
    if (states.empty()) return false;
    for (const auto& [name, state] : states)
      if (state != "off") return false;
    return true;
  }
  // local-agent's actions.log, a line each: "TIME start|stop NODE: what".
  std::vector<std::string> Actions(const std::string& what) {
    std::vector<std::string> out;
    std::istringstream in(ReadFile(RentDir() + "/actions.log"));
    for (std::string line; std::getline(in, line);)
      if (line.find(what) != std::string::npos) out.push_back(line.substr(line.find(' ') + 1));
    return out;
  }
  std::string Why(JobId id) { return Get(fmt::format("/api/v1/jobs/{}/why", id)).value("message", ""); }

  TempDir dir_{"kojo-rent"};
  std::string admin_;
  std::unique_ptr<Kojod> kojod_;
  Process owned_;
};

TEST_F(RentLive, QueueOutgrowingTheOwnedNodeRentsWhatItNeedsAndGivesItBackWhenIdle) {
  ProviderOptions p;
  p.max_nodes = 3;
  StartKojod(p);
  StartOwned(1);
  // Three 1-GPU jobs on one owned GPU: two more nodes are needed, not three.
  const auto ids = Submit({Sleep(4), Sleep(4), Sleep(4)});
  ASSERT_EQ(ids.size(), 3u);
  ASSERT_TRUE(WaitFor([&] { return AllCompleted(ids); }, 60s)) << kojod_->log();
  std::set<std::string> nodes;
  for (JobId id : ids) nodes.insert(NodeOf(id));
  EXPECT_EQ(nodes, (std::set<std::string>{"owned-1", "local-1", "local-2"}));
  EXPECT_EQ(Actions(": agent pid").size(), 2u) << ReadFile(RentDir() + "/actions.log");
  EXPECT_TRUE(Actions("start local-3").empty());
  // Given back after the idle time-out (3 s), their agents stopped.
  ASSERT_TRUE(WaitFor([&] { return AllOff(); }, 30s)) << Get("/api/v1/nodes").dump();
  EXPECT_EQ(Actions(": stopped").size(), 2u) << ReadFile(RentDir() + "/actions.log");
  const Json local1 = Get("/api/v1/nodes/local-1");
  EXPECT_EQ(local1.value("provider", ""), "local");
  EXPECT_NE(local1.value("rent_reason", "").find("given back"), std::string::npos) << local1.dump();
  // Their rent is accounted: by provider and by the project that paid.
  const Json usage = Get("/api/v1/usage");
  ASSERT_TRUE(usage.contains("rent")) << usage.dump();
  double provider_spent = -1, project_spent = -1;
  for (const Json& r : usage["rent"]) {
    if (r["kind"] == "provider" && r["name"] == "local") provider_spent = r["spent"].get<double>();
    if (r["kind"] == "project" && r["name"] == "vision") {
      project_spent = r["spent"].get<double>();
      EXPECT_LE(r["spent"].get<double>() + r["reserved"].get<double>(), r["budget"].get<double>()) << r.dump();
    }
  }
  EXPECT_GT(project_spent, 0) << usage.dump();
  // Their GPU-hours count in the grant's usage like owned ones.
  ASSERT_EQ(usage["rows"].size(), 1u) << usage.dump();
  EXPECT_EQ(usage["rows"][0].value("runs", 0), 3) << usage.dump();
  EXPECT_DOUBLE_EQ(provider_spent, project_spent) << usage.dump();
#ifdef KOJO_BINARY
  // kojo nodes: ORIGIN; the slots that are off counted on one line, listed with --all.
  const std::string kojo = fmt::format("env -i HOME={} KOJO_SERVER={} {} ", dir_.path(), kojod_->url(), KOJO_BINARY);
  auto [rc, table] = Shell(kojo + "nodes");
  EXPECT_EQ(rc, 0) << table;
  EXPECT_NE(table.find("ORIGIN"), std::string::npos) << table;
  EXPECT_TRUE(std::regex_search(table, std::regex("owned-1 +owned +UP"))) << table;
  EXPECT_NE(table.find("local: 3 more nodes that may be rented, off now"), std::string::npos) << table;
  EXPECT_EQ(table.find("local-1"), std::string::npos) << table;
  auto [rc_all, all] = Shell(kojo + "nodes --all");
  EXPECT_EQ(rc_all, 0) << all;
  EXPECT_TRUE(std::regex_search(all, std::regex("local-1 +local +OFF .*given back"))) << all;
  auto [rc_rent, rent] = Shell(kojo + "usage --rent");
  EXPECT_EQ(rc_rent, 0) << rent;
  EXPECT_TRUE(std::regex_search(rent, std::regex("provider +local +0\\.0[0-9]"))) << rent;
  EXPECT_TRUE(std::regex_search(rent, std::regex("project +vision +0\\.0[0-9] +0\\.00 +50\\.00"))) << rent;
#endif
  // The money spent outlives kojod (budgets hold across restarts).
  kojod_->process().Kill();
  StartKojod(p);
  const Json after = Get("/api/v1/usage");
  ASSERT_TRUE(after.contains("rent")) << after.dump();
  EXPECT_EQ(after["rent"], usage["rent"]);
}

TEST_F(RentLive, TheRentedAgentRegistersWithATokenForItsNodeAloneRevokedWhenItIsGivenBack) {
  StartKojod(ProviderOptions{}, "127.0.0.1:0", /*secured=*/true);
  StartOwned(1);
  const auto ids = Submit({Sleep(4), Sleep(4)});
  ASSERT_EQ(ids.size(), 2u);
  auto rent_tokens = [&] {
    std::vector<std::string> out;
    for (const Json& t : Get("/api/v1/tokens").value("tokens", Json::array()))
      if (t.value("name", "").rfind("rent-", 0) == 0) out.push_back(t.value("name", "") + "@" + t.value("node", ""));
    return out;
  };
  ASSERT_TRUE(WaitFor([&] { return RentStates()["local-1"] == "up"; }, 20s)) << kojod_->log();
  EXPECT_EQ(rent_tokens(), std::vector<std::string>{"rent-local-1@local-1"});
  ASSERT_TRUE(WaitFor([&] { return AllCompleted(ids); }, 30s)) << kojod_->log();
  EXPECT_EQ(NodeOf(ids[1]), "local-1");
  ASSERT_TRUE(WaitFor([&] { return AllOff(); }, 30s)) << Get("/api/v1/nodes").dump();
  EXPECT_TRUE(WaitFor([&] { return rent_tokens().empty(); }, 5s)) << Get("/api/v1/tokens").dump();
}

TEST_F(RentLive, AWaitingJobRentsOnceItsProjectGetsABudget) {
  ProviderOptions p;
  p.budget = false;
  StartKojod(p);
  StartOwned(1);
  const auto ids = Submit({Sleep(20), Sleep(1)});
  ASSERT_EQ(ids.size(), 2u);
  ASSERT_TRUE(WaitFor([&] { return Why(ids[1]).find("project vision has no budget for rented capacity") != std::string::npos; },
                      10s))
      << Why(ids[1]);
  EXPECT_TRUE(Actions("start").empty());
  // The organisation gives the project a budget: the waiting job's account
  // follows, and a node is rented for it.
  p.budget = true;
  auto r = Client().Put("/api/v1/org", OrgDoc(p).dump(), "application/json");
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
  ASSERT_TRUE(WaitFor([&] { return State(ids[1]) == "COMPLETED"; }, 30s)) << Why(ids[1]) << "\n" << kojod_->log();
  EXPECT_EQ(NodeOf(ids[1]), "local-1");
}

TEST_F(RentLive, ANodeOfAProviderTakenOutOfTheOrganisationIsStillGivenBack) {
  ProviderOptions p;
  p.idle_timeout_s = 600;
  StartKojod(p);
  StartOwned(1);
  const auto ids = Submit({Sleep(3), Sleep(1)});
  ASSERT_EQ(ids.size(), 2u);
  ASSERT_TRUE(WaitFor([&] { return AllCompleted(ids); }, 30s)) << kojod_->log();
  EXPECT_EQ(NodeOf(ids[1]), "local-1");
  EXPECT_EQ(RentStates()["local-1"], "up");  // idle, kept for 10 minutes
  Json doc = OrgDoc(p);
  doc.erase("providers");
  auto r = Client().Put("/api/v1/org", doc.dump(), "application/json");
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
  // Its provider's stop program, as last known, gives it back at once.
  ASSERT_TRUE(WaitFor([&] { return !Actions("stop local-1: stopped").empty(); }, 15s)) << kojod_->log();
  ASSERT_TRUE(WaitFor([&] { return RentStates()["local-1"] == "off"; }, 5s)) << Get("/api/v1/nodes").dump();
}

TEST_F(RentLive, FailingStartBacksOffAndTheJobSaysWhy) {
  ProviderOptions p;
  p.start_env = "KOJO_LOCAL_AGENT_FAIL='no capacity in zone-a'";
  StartKojod(p);
  StartOwned(1);
  const auto ids = Submit({Sleep(30), Sleep(1)});
  ASSERT_EQ(ids.size(), 2u);
  // The start fails; its stop program runs; the provider backs off and the
  // waiting job says so.
  ASSERT_TRUE(WaitFor([&] { return Why(ids[1]).find("no capacity in zone-a") != std::string::npos; }, 20s))
      << Why(ids[1]) << "\n" << kojod_->log();
  EXPECT_NE(Why(ids[1]).find("unavailable"), std::string::npos) << Why(ids[1]);
  ASSERT_TRUE(WaitFor([&] { return AllOff() && !Actions("stop local-1: stopped").empty(); }, 20s))
      << Get("/api/v1/nodes").dump();
  EXPECT_EQ(State(ids[1]), "PENDING");
  EXPECT_EQ(Actions("failing on purpose").size(), 1u) << "backed off: one try, not one per pass";
  EXPECT_TRUE(Actions(": agent pid").empty());
  // An agent may not register as a slot that is not being rented.
  auto r = Client().Post("/api/v1/agents/register", Json{{"node", {{"name", "local-1"}}}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409) << r->body;
  EXPECT_NE(r->body.find("not being rented now"), std::string::npos) << r->body;
  EXPECT_EQ(RentStates()["local-1"], "off");
}

TEST_F(RentLive, HangingStartIsKilledAtTheTimeOutAndTheProviderBacksOff) {
  ProviderOptions p;
  p.timeout_s = 3;
  p.start_env = "KOJO_LOCAL_AGENT_HANG=1";
  StartKojod(p);
  StartOwned(1);
  const auto ids = Submit({Sleep(30), Sleep(1)});
  ASSERT_EQ(ids.size(), 2u);
  ASSERT_TRUE(WaitFor([&] { return !Actions("hanging on purpose").empty(); }, 10s)) << kojod_->log();
  ASSERT_TRUE(WaitFor([&] { return Why(ids[1]).find("backing off") != std::string::npos; }, 20s))
      << Why(ids[1]) << "\n" << kojod_->log();
  const std::string why = Why(ids[1]);
  EXPECT_TRUE(why.find("time-out of 3 s") != std::string::npos || why.find("not registered within 3 s") != std::string::npos)
      << why;
  ASSERT_TRUE(WaitFor([&] { return AllOff() && !Actions("stop local-1: stopped").empty(); }, 20s))
      << Get("/api/v1/nodes").dump();
  // The hanging program's whole process group was killed.
  ASSERT_TRUE(WaitFor([&] { return Shell(fmt::format("ps -eo args | grep -F -- '{}' | grep -F 'KOJO_LOCAL_AGENT_HANG' "
                                                     "| grep -v grep", RentDir())).second.empty(); }, 10s));
  EXPECT_EQ(State(ids[1]), "PENDING");
}

TEST_F(RentLive, AFailingStopIsRetriedUntilTheNodeIsGivenBack) {
  ProviderOptions p;
  p.idle_timeout_s = 1;
  p.stop_env = "KOJO_LOCAL_AGENT_STOP_FAILURES=1";
  StartKojod(p);
  StartOwned(1);
  const auto ids = Submit({Sleep(3), Sleep(1)});
  ASSERT_EQ(ids.size(), 2u);
  ASSERT_TRUE(WaitFor([&] { return AllCompleted(ids); }, 30s)) << kojod_->log();
  EXPECT_EQ(NodeOf(ids[1]), "local-1");
  // Its first stop fails: still stopping (not rentable, not forgotten), and says why.
  ASSERT_TRUE(WaitFor([&] { return !Actions("stop local-1: failing on purpose").empty(); }, 20s)) << kojod_->log();
  ASSERT_TRUE(WaitFor([&] {
    return Get("/api/v1/nodes/local-1").value("rent_reason", "").find("the partner's API timed out") != std::string::npos;
  }, 5s)) << Get("/api/v1/nodes/local-1").dump();
  EXPECT_EQ(RentStates()["local-1"], "stopping");
  // Retried (10 s later): given back.
  ASSERT_TRUE(WaitFor([&] { return AllOff(); }, 30s)) << Get("/api/v1/nodes").dump();
  EXPECT_EQ(Actions("stop local-1: stopped").size(), 1u) << ReadFile(RentDir() + "/actions.log");
  EXPECT_EQ(Get("/api/v1/nodes/local-1").value("rent_reason", "").find("failed"), std::string::npos);
}

TEST_F(RentLive, NoRentJobNeverRunsOnARentedNode) {
  ProviderOptions p;
  p.idle_timeout_s = 6;
  StartKojod(p);
  StartOwned(1);
  // a holds the owned GPU; b rents a node; c (no_rent) must wait for the
  // owned GPU even while the rented node sits idle after b.
  const auto ids = Submit({Sleep(8), Sleep(1), Sleep(1, /*no_rent=*/true)});
  ASSERT_EQ(ids.size(), 3u);
  ASSERT_TRUE(WaitFor([&] { return State(ids[1]) == "COMPLETED"; }, 30s)) << kojod_->log();
  EXPECT_EQ(NodeOf(ids[1]), "local-1");
  EXPECT_EQ(State(ids[2]), "PENDING");
  EXPECT_NE(Why(ids[2]).find("opted out of rented capacity"), std::string::npos) << Why(ids[2]);
  EXPECT_EQ(Get(fmt::format("/api/v1/jobs/{}", ids[2]))["spec"].value("no_rent", false), true);
  ASSERT_TRUE(WaitFor([&] { return AllCompleted(ids); }, 30s)) << kojod_->log();
  EXPECT_EQ(NodeOf(ids[0]), "owned-1");
  EXPECT_EQ(NodeOf(ids[2]), "owned-1");
  EXPECT_EQ(Actions(": agent pid").size(), 1u) << ReadFile(RentDir() + "/actions.log");
}

TEST_F(RentLive, KojodKilledWhileANodeStartsNeitherRentsItTwiceNorForgetsIt) {
  ProviderOptions p;
  p.start_env = "KOJO_LOCAL_AGENT_DELAY=4";  // the slot stays starting for 4 s
  StartKojod(p);
  StartOwned(1);
  const int port = kojod_->port();
  const auto ids = Submit({Sleep(10), Sleep(1)});
  ASSERT_EQ(ids.size(), 2u);
  ASSERT_TRUE(WaitFor([&] { return RentStates()["local-1"] == "starting"; }, 15s)) << kojod_->log();
  ASSERT_TRUE(WaitFor([&] { return !Actions("start local-1: for").empty(); }, 10s));
  kojod_->process().Kill();  // SIGKILL, its start program with it
  kojod_.reset();
  // Same address: the owned agent comes back to it.
  StartKojod(p, fmt::format("127.0.0.1:{}", port));
  // The slot is given back (its stop program runs), then rented again for
  // the job still waiting, which runs there.
  ASSERT_TRUE(WaitFor([&] { return State(ids[1]) == "COMPLETED"; }, 60s)) << kojod_->log();
  ASSERT_TRUE(WaitFor([&] { return AllOff(); }, 30s)) << Get("/api/v1/nodes").dump();
  // In order: the start cut short, the stop that reconciled it, one start
  // that brought an agent up, its stop. Never two agents for local-1.
  std::vector<std::string> local1 = Actions(" local-1: ");
  std::vector<std::string> kinds;
  for (const std::string& a : local1) {
    if (a.find(": for ") != std::string::npos) kinds.push_back("start");
    else if (a.find(": agent pid") != std::string::npos) kinds.push_back("up");
    else if (a.find(": stopped") != std::string::npos) kinds.push_back("stop");
  }
  const std::vector<std::string> want = {"start", "stop", "start", "up", "stop"};
  EXPECT_EQ(kinds, want) << ReadFile(RentDir() + "/actions.log");
  EXPECT_NE(kojod_->log().find("running its stop program"), std::string::npos) << kojod_->log();
  // The rent of both tries is accounted after the restart.
  const Json usage = Get("/api/v1/usage");
  ASSERT_TRUE(usage.contains("rent")) << usage.dump();
  for (const Json& r : usage["rent"])
    if (r["kind"] == "project") {
      EXPECT_GT(r["spent"].get<double>(), 0) << usage.dump();
    }
}

}  // namespace
}  // namespace kojo::testing

#endif
