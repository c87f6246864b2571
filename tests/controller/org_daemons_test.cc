// Grants and accounting end to end: a real kojod (with --org) and a real
// kojo-agent with emulated GPUs on 127.0.0.1, running real commands, and a
// kill -9 of kojod in the middle.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "daemons.h"

#ifdef KOJO_AGENT_BINARY

namespace kojo::testing {
namespace {

using namespace std::chrono_literals;

std::string IsoUtc(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::int64_t Now() { return static_cast<std::int64_t>(std::time(nullptr)); }

// Project "p" holds grant "g" of `gpu_hours`, ends sessions idle for 3 s and
// lets its members extend a job by 10 min; project "q" has none; H100 weighs 2.
Json OrgDoc(double gpu_hours) {
  const std::int64_t now = Now();
  return Json{{"gpu_weights", {{"H100", 2.0}}},
              {"programmes", Json::array({{{"name", "prog"}}})},
              {"organisations", Json::array({{{"name", "org"}, {"programme", "prog"}}})},
              {"projects", Json::array({{{"name", "p"}, {"organisation", "org"}, {"idle_timeout_s", 3}, {"max_extend_s", 600}},
                                        {{"name", "q"}, {"organisation", "org"}}})},
              {"grants", Json::array({{{"id", "g"}, {"project", "p"}, {"gpu_hours", gpu_hours},
                                       {"start", IsoUtc(now - 3600)}, {"end", IsoUtc(now + 86400)}}})},
              {"members", Json::array({{{"project", "p"}, {"user", "ada"}, {"role", "lead"}}})}};
}

class OrgDaemons : public ::testing::Test {
 protected:
  void StartKojod(const std::string& listen = "127.0.0.1:0") {
    const std::string org = dir_.path() + "/org.json";
    if (ReadFile(org).empty()) std::ofstream(org) << OrgDoc(grant_hours_).dump();
    kojod_ = std::make_unique<Kojod>(dir_.path() + "/kojod",
                                     std::vector<std::string>{"--node-timeout", "2", "--kill-grace", "1", "--org", org},
                                     listen);
    ASSERT_TRUE(kojod_->ok()) << kojod_->log();
  }
  void StartAgent(int gpus) {
    agent_ = Process({KOJO_AGENT_BINARY, "--server", kojod_->url(), "--name", "n1", "--state-dir", dir_.path() + "/n1",
                      "--listen", "127.0.0.1:0", "--emulate-gpus", fmt::format("{}xH100-80GB", gpus), "--kill-grace",
                      "1", "--heartbeat-wait-ms", "300"},
                     dir_.path() + "/n1.log");
    ASSERT_TRUE(WaitFor([&] { return Get("/api/v1/nodes/n1").value("state", "") == "UP"; }, 15s)) << kojod_->log();
  }
  Json Get(const std::string& path) { return Body(kojod_->Client().Get(path.c_str())); }
  httplib::Result Post(const std::string& path, const Json& body) {
    return kojod_->Client().Post(path.c_str(), body.dump(), "application/json");
  }
  JobId Submit(const std::string& project, int gpus, std::int64_t limit, const std::string& script) {
    auto r = Post("/api/v1/jobs", Json{{"command", {"/bin/sh", "-c", script}}, {"project", project}, {"user", "ada"},
                                       {"gpus", gpus}, {"time_limit_s", limit}});
    EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
    return r && r->status == 201 ? Body(r)["ids"][0].get<JobId>() : 0;
  }
  Json Job(JobId id) { return Get(fmt::format("/api/v1/jobs/{}", id)); }
  Json Grant() { return Get("/api/v1/grants?project=p")["grants"][0]; }
  void CheckGrant() {
    const Json g = Grant();
    ASSERT_TRUE(g.is_object());
    EXPECT_LE(g["used_units"].get<std::int64_t>() + g["reserved_units"].get<std::int64_t>(),
              g["awarded_units"].get<std::int64_t>())
        << g.dump();
  }

  TempDir dir_;
  double grant_hours_ = 1;
  std::unique_ptr<Kojod> kojod_;
  Process agent_;
};

TEST_F(OrgDaemons, SubmissionWithoutAnActiveGrantIsRefused) {
  StartKojod();
  auto r = Post("/api/v1/jobs", Json{{"command", {"true"}}, {"project", "q"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409) << r->body;
  EXPECT_NE(Body(r)["error"]["message"].get<std::string>().find("no active grant"), std::string::npos) << r->body;
  r = Post("/api/v1/jobs", Json{{"command", {"true"}}, {"project", "nope"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  r = Post("/api/v1/jobs", Json{{"command", {"true"}}});  // "default" is not a project here
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
}

TEST_F(OrgDaemons, OrgDocumentRoundTripsAndBadOnesGetFieldErrors) {
  StartKojod();
  const Json shown = Get("/api/v1/org");
  EXPECT_EQ(shown["projects"].size(), 2u);
  auto c = kojod_->Client();
  auto r = c.Put("/api/v1/org", shown.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Body(r), shown);
  Json bad = shown;
  bad["members"][0]["role"] = "boss";
  r = c.Put("/api/v1/org", bad.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("members[0].role"), std::string::npos) << r->body;
  EXPECT_EQ(Get("/api/v1/org"), shown);  // unchanged
  r = c.Get("/api/v1/usage?by=colour");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("by: expected"), std::string::npos) << r->body;
}

// Seeded random jobs against a grant that cannot hold them all, with
// cancellations and a kill -9 of kojod in the middle: the grant is never
// overspent and every run is charged exactly once.
TEST_F(OrgDaemons, GrantNeverOverspentAcrossCancelsAndAControllerKill) {
  grant_hours_ = 0.05;  // 180,000 units: e.g. one 1-GPU job of 45 s (weight 2)
  StartKojod();
  StartAgent(4);
  std::mt19937_64 rng(7);
  std::vector<JobId> ids;
  for (int i = 0; i < 10; ++i) {
    const int gpus = 1 + static_cast<int>(rng() % 2);
    const std::int64_t limit = 5 + static_cast<std::int64_t>(rng() % 20);
    ids.push_back(Submit("p", gpus, limit, fmt::format("sleep {}", 0.2 * static_cast<double>(rng() % 10))));
  }
  ASSERT_TRUE(WaitFor([&] {
    CheckGrant();
    return Job(ids[0])["state"] != "PENDING";
  }, 20s));
  (void)Post(fmt::format("/api/v1/jobs/{}/cancel", ids[rng() % ids.size()]), Json::object());
  (void)Post(fmt::format("/api/v1/jobs/{}/cancel", ids[rng() % ids.size()]), Json::object());
  CheckGrant();
  // kill -9 while jobs run; the same port, so the agent finds it again.
  const int port = kojod_->port();
  kojod_->process().Kill();
  StartKojod(fmt::format("127.0.0.1:{}", port));
  CheckGrant();
  ASSERT_TRUE(WaitFor([&] {
    CheckGrant();
    for (JobId id : ids) {
      const std::string st = Job(id).value("state", "");
      if (st != "COMPLETED" && st != "CANCELLED" && st != "FAILED" && st != "TIMEOUT" && st != "PENDING") return false;
    }
    return true;
  }, 90s)) << kojod_->log();
  // Whatever still waits does so for the grant (once a pass after the last
  // end has explained it: ends are gathered for --gather-ms first).
  (void)WaitFor([&] {
    for (JobId id : ids)
      if (Job(id)["state"] == "PENDING" && Job(id)["reason"] != "GrantExhausted") return false;
    return true;
  }, 5s);
  for (JobId id : ids)
    if (Job(id)["state"] == "PENDING") {
      EXPECT_EQ(Job(id)["reason"], "GrantExhausted") << Job(id).dump();
    }
  // One usage run per attempt started, and the report adds up to the grant's use.
  int attempts = 0;
  for (JobId id : ids) attempts += Job(id).value("attempt", 0);
  const Json by_user = Get("/api/v1/usage?by=user");
  const Json by_project = Get("/api/v1/usage?by=project");
  int runs = 0;
  for (const Json& row : by_project["rows"]) runs += row["runs"].get<int>();
  EXPECT_EQ(runs, attempts);
  EXPECT_NEAR(by_user["total"]["norm_gpu_hours"].get<double>(), by_project["total"]["norm_gpu_hours"].get<double>(), 1e-9);
  const Json g = Grant();
  EXPECT_NEAR(by_project["total"]["norm_gpu_hours"].get<double>(), g["used_gpu_hours"].get<double>() , 1e-6) << g.dump();
  EXPECT_LE(g["used_units"].get<std::int64_t>(), g["awarded_units"].get<std::int64_t>());
  EXPECT_GT(attempts, 0);
}

// `kojo extend` and idle sessions end to end: the agent enforces the new
// limit, and ends a session whose GPU went idle (emulated utilisation).
TEST_F(OrgDaemons, ExtendReachesTheAgentAndIdleSessionsEnd) {
  grant_hours_ = 100;
  StartKojod();
  StartAgent(2);
  const JobId job = Submit("p", 1, 2, "sleep 5; echo finished");
  ASSERT_TRUE(WaitFor([&] { return Job(job)["state"] == "RUNNING"; }, 10s)) << Job(job).dump();
  auto [rc, out] = Shell(std::string(KOJO_BINARY) + " extend --server " + kojod_->url() + " " + std::to_string(job) + " 1");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("time limit now 1:02 (extended by 1:00 in all)"), std::string::npos) << out;
  ASSERT_TRUE(WaitFor([&] { return Job(job)["state"] == "COMPLETED"; }, 20s)) << Job(job).dump();
  auto logs = kojod_->Client().Get(fmt::format("/api/v1/jobs/{}/logs", job).c_str());
  EXPECT_TRUE(logs && logs->body == "finished\n") << (logs ? logs->body : "no answer");
  auto [rc2, out2] = Shell(std::string(KOJO_BINARY) + " extend --server " + kojod_->url() + " " + std::to_string(job) + " 1");
  EXPECT_EQ(rc2, 1) << out2;
  EXPECT_NE(out2.find("only a pending or running job can be extended"), std::string::npos) << out2;

  // A session on a busy GPU stays; once the GPUs are idle it ends after 3 s.
  std::ofstream(dir_.path() + "/n1/emulated-gpu-util") << "90 90\n";
  auto r = Post("/api/v1/jobs", Json{{"command", {"sleep", "60"}}, {"project", "p"}, {"user", "ada"}, {"gpus", 1},
                                     {"time_limit_s", 60}, {"pty", true}});
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
  const JobId session = Body(r)["ids"][0].get<JobId>();
  ASSERT_TRUE(WaitFor([&] { return Job(session)["state"] == "RUNNING"; }, 10s)) << Job(session).dump();
  EXPECT_EQ(Job(session)["spec"]["idle_timeout_s"], 3);
  std::this_thread::sleep_for(5s);
  EXPECT_EQ(Job(session)["state"], "RUNNING") << "ended while its GPU was busy: " << Job(session).dump();
  std::ofstream(dir_.path() + "/n1/emulated-gpu-util") << "0 0\n";
  ASSERT_TRUE(WaitFor([&] { return Job(session)["state"] == "CANCELLED"; }, 15s)) << Job(session).dump();
  EXPECT_EQ(Job(session)["reason"], "Idle") << Job(session).dump();
  CheckGrant();
}

}  // namespace
}  // namespace kojo::testing

#endif  // KOJO_AGENT_BINARY
