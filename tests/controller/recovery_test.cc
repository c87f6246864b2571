// Recovery and node loss, driven by a fake agent that speaks the agent
// protocol over HTTP: reconciliation after a controller restart, nodes that
// never come back, stale tasks killed.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "daemons.h"

namespace kojo::testing {
namespace {

using namespace std::chrono_literals;

class FakeAgent {
 public:
  FakeAgent(const Kojod& d, std::string name, int gpus) : d_(d), name_(std::move(name)) {
    node_ = Json{{"name", name_}, {"cpu_milli", 8000}, {"mem_mib", 64000}, {"gpus", Json::array()},
                 {"agent_url", "http://127.0.0.1:1"}};
    for (int i = 0; i < gpus; ++i)
      node_["gpus"].push_back(Json{{"index", i}, {"model", "H100"}, {"uuid", fmt::format("EMU-{}-{}", name_, i)}});
  }
  // tasks: (job, attempt, running)
  Json Send(bool reg, const std::vector<std::tuple<JobId, int, bool>>& tasks, int wait_ms = 0) {
    Json hb{{"node", node_}, {"tasks", Json::array()}, {"wait_ms", wait_ms}};
    for (const auto& [job, attempt, running] : tasks) {
      Json t{{"job", job}, {"attempt", attempt}, {"running", running}};
      if (!running) {
        t["exit_code"] = 0;
        t["reason"] = "exited";
      }
      hb["tasks"].push_back(t);
    }
    auto c = d_.Client();
    auto r = c.Post(reg ? "/api/v1/agents/register" : fmt::format("/api/v1/agents/{}/heartbeat", name_).c_str(),
                    hb.dump(), "application/json");
    if (!r) return Json{{"http", 0}};
    Json j = Json::parse(r->body, nullptr, false);
    j["http"] = r->status;
    return j;
  }

 private:
  const Kojod& d_;
  std::string name_;
  Json node_;
};

TEST(Recovery, ReconcilesAfterRestartAndRequeuesLostTasks) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  JobId kept = 0, lost = 0;
  {
    Kojod d(data, {"--node-timeout", "30"});
    ASSERT_TRUE(d.ok()) << d.log();
    FakeAgent a(d, "n1", 2);
    ASSERT_EQ(a.Send(true, {})["http"], 200);
    kept = d.Submit({{"command", {"true"}}, {"gpus", 1}});
    lost = d.Submit({{"command", {"true"}}, {"gpus", 1}});
    // The agent hears of both starts (long poll), then reports them running.
    Json reply;
    ASSERT_TRUE(WaitFor([&] { reply = a.Send(false, {}, 200); return reply["start"].size() == 2; }, 10s)) << reply.dump();
    EXPECT_EQ(reply["start"][0]["placement"]["node"], "n1");
    EXPECT_NE(reply["start"][0]["placement"]["gpus"], reply["start"][1]["placement"]["gpus"]);
    reply = a.Send(false, {{kept, 1, true}, {lost, 1, true}});
    EXPECT_TRUE(reply["start"].empty()) << reply.dump();
    EXPECT_EQ(d.Job(kept)["state"], "RUNNING");
    EXPECT_EQ(d.Job(lost)["state"], "RUNNING");
    d.process().Kill();  // kill -9
  }
  Kojod d(data, {"--node-timeout", "30"});
  ASSERT_TRUE(d.ok()) << d.log();
  EXPECT_EQ(d.Job(kept)["state"], "RUNNING");  // still assigned
  auto c = d.Client();
  EXPECT_EQ(Body(c.Get("/api/v1/nodes/n1"))["state"], "UNKNOWN");
  FakeAgent a(d, "n1", 2);
  // A heartbeat before registering is refused: the agent must register.
  EXPECT_EQ(a.Send(false, {{kept, 1, true}})["http"], 404);
  // The agent comes back with one task and a stale one the controller never gave.
  Json reply = a.Send(true, {{kept, 1, true}, {999, 1, true}});
  ASSERT_EQ(reply["http"], 200) << reply.dump();
  ASSERT_EQ(reply["kill"].size(), 1u) << reply.dump();
  EXPECT_EQ(reply["kill"][0]["job"], 999);
  EXPECT_EQ(reply["kill"][0]["reason"], "stale");
  EXPECT_EQ(d.Job(kept)["state"], "RUNNING");
  // The task it lost is requeued and placed again (attempt 2).
  ASSERT_TRUE(WaitFor([&] { return d.Job(lost)["attempt"] == 2; }, 10s)) << d.Job(lost).dump();
  EXPECT_EQ(d.Job(lost)["state"], "STARTING");
  // The kept task ends: recorded, then acknowledged.
  reply = a.Send(false, {{kept, 1, false}});
  ASSERT_EQ(reply["acknowledged"].size(), 1u) << reply.dump();
  EXPECT_EQ(reply["acknowledged"][0]["job"], kept);
  EXPECT_EQ(d.Job(kept)["state"], "COMPLETED");
  EXPECT_EQ(d.Job(kept)["exit_code"], 0);
}

TEST(Recovery, NodeThatNeverComesBackGoesDown) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  JobId requeue = 0, fail = 0;
  {
    Kojod d(data);
    ASSERT_TRUE(d.ok()) << d.log();
    FakeAgent a(d, "n1", 2);
    ASSERT_EQ(a.Send(true, {})["http"], 200);
    requeue = d.Submit({{"command", {"true"}}, {"gpus", 1}, {"requeue", true}});
    fail = d.Submit({{"command", {"true"}}, {"gpus", 1}, {"requeue", false}});
    ASSERT_TRUE(WaitFor([&] { return d.Job(fail)["state"] == "STARTING"; }, 10s));
    ASSERT_TRUE(WaitFor([&] { return d.Job(requeue)["state"] == "STARTING"; }, 10s));
    // STARTING is shown before it is durable; a heartbeat is answered only
    // once what it shows is, and this one shows both starts.
    ASSERT_EQ(a.Send(false, {})["start"].size(), 2u);
    d.process().Kill();
  }
  Kojod d(data, {"--node-timeout", "1", "--lease", "0"});  // no lease: a lost node's jobs go at once
  ASSERT_TRUE(d.ok()) << d.log();
  auto c = d.Client();
  ASSERT_TRUE(WaitFor([&] { return Body(c.Get("/api/v1/nodes/n1"))["state"] == "DOWN"; }, 10s));
  EXPECT_TRUE(WaitFor([&] { return d.Job(fail)["state"] == "FAILED"; }, 5s)) << d.Job(fail).dump();
  EXPECT_EQ(d.Job(fail)["reason"], "NodeLost");
  EXPECT_TRUE(WaitFor([&] { return d.Job(requeue)["state"] == "PENDING"; }, 5s)) << d.Job(requeue).dump();
  // "Requeued" until the next scheduling pass says why it waits: its only node is down.
  EXPECT_TRUE(WaitFor([&] { return d.Job(requeue)["reason"] == "NodeDown"; }, 5s)) << d.Job(requeue).dump();
  // Back again: the node is UP, its old task is stale, the requeued job runs as attempt 2.
  FakeAgent a(d, "n1", 2);
  Json reply = a.Send(true, {{fail, 1, true}});
  EXPECT_EQ(reply["kill"].size(), 1u) << reply.dump();
  EXPECT_EQ(Body(c.Get("/api/v1/nodes/n1"))["state"], "UP");
  EXPECT_TRUE(WaitFor([&] { return d.Job(requeue)["attempt"] == 2; }, 10s)) << d.Job(requeue).dump();
}

TEST(Recovery, CancelOfARunningJobKillsItsTask) {
  TempDir dir;
  Kojod d(dir.path());
  ASSERT_TRUE(d.ok()) << d.log();
  FakeAgent a(d, "n1", 1);
  ASSERT_EQ(a.Send(true, {})["http"], 200);
  const JobId id = d.Submit({{"command", {"sleep", "100"}}, {"gpus", 1}});
  ASSERT_TRUE(WaitFor([&] { return a.Send(false, {}, 200)["start"].size() == 1; }, 10s));
  a.Send(false, {{id, 1, true}});
  auto c = d.Client();
  auto r = c.Post(fmt::format("/api/v1/jobs/{}/cancel", id).c_str(), "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(Body(r)["state"], "STOPPING");
  Json reply = a.Send(false, {{id, 1, true}}, 1000);
  ASSERT_EQ(reply["kill"].size(), 1u) << reply.dump();
  EXPECT_EQ(reply["kill"][0]["reason"], "cancelled");
  // While the agent is still stopping it, a long poll does not spin on the same kill.
  const auto t0 = std::chrono::steady_clock::now();
  reply = a.Send(false, {{id, 1, true}}, 300);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms);
  Json ended = a.Send(false, {{id, 1, false}});
  EXPECT_EQ(ended["acknowledged"].size(), 1u);
  EXPECT_EQ(d.Job(id)["state"], "CANCELLED");
  // A queued job is unaffected by a drained node until resumed.
  c.Post("/api/v1/nodes/n1/drain", "", "application/json");
  const JobId next = d.Submit({{"command", {"true"}}, {"gpus", 1}});
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(d.Job(next)["state"], "PENDING");
  EXPECT_EQ(Body(c.Get("/api/v1/nodes/n1"))["state"], "DRAINED");
  c.Post("/api/v1/nodes/n1/resume", "", "application/json");
  EXPECT_TRUE(WaitFor([&] { return d.Job(next)["state"] == "STARTING"; }, 5s));
}

}  // namespace
}  // namespace kojo::testing
