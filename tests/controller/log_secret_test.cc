// The key of an agent's log server, in the controller: learnt from every
// register and heartbeat, handed to the logs proxy (FindLogs), and kept in
// memory only: never stored, never shown. A controller on a MemoryStore
// driven by a fake agent; "crashes" open a new one on the same store.
#include <gtest/gtest.h>

#include "org_fake_agent.h"

namespace kojo::controller {
namespace {

using api::Json;
using testing::FakeAgent;

const std::string kKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

class LogSecretTest : public ::testing::Test {
 protected:
  void Open() {
    ControllerConfig cfg;
    cfg.node_timeout = std::chrono::milliseconds(60000);
    auto c = Controller::Open(store_, cfg);
    ASSERT_TRUE(c.ok()) << c.error().message;
    c_ = std::move(*c);
  }
  void Crash() {
    c_->Shutdown();
    c_.reset();
    Open();
  }
  // A job that ran (and ended) on the fake agent.
  JobId RunOne() {
    auto ids = c_->Submit(R"({"command":["true"],"gpus":1})", "");
    EXPECT_TRUE(ids.ok()) << ids.error().message;
    if (!ids.ok()) return 0;
    const JobId id = ids.value()[0];
    EXPECT_TRUE(agent_.BeatUntil(*c_, [&] { return c_->ShowJob(id).value().state == api::JobState::kRunning; }));
    agent_.End(id, 1);
    EXPECT_TRUE(agent_.BeatUntil(*c_, [&] { return c_->ShowJob(id).value().state == api::JobState::kCompleted; }));
    return id;
  }
  // Everything the controller shows of its nodes and has stored.
  std::string ShownAndStored() {
    std::string all;
    for (const auto& n : c_->ListNodes()) all += api::ToJson(n).dump();
    all += api::ToJson(c_->ShowNode("n1").value()).dump();
    auto state = store_.Load();
    EXPECT_TRUE(state.ok());
    if (state.ok()) {
      for (const auto& n : state->nodes) all += n.json;
      for (const auto& j : state->jobs) all += j.json;
      for (const auto& d : state->docs) all += d.json;
    }
    return all;
  }

  store::MemoryStore store_;
  FakeAgent agent_{"n1", 2, "H100-80GB"};
  std::unique_ptr<Controller> c_;
};

TEST_F(LogSecretTest, FindLogsCarriesTheKeyOfTheAgentsLatestHeartbeat) {
  agent_.log_secret = kKey;
  Open();
  agent_.Register(*c_);
  const JobId id = RunOne();
  auto src = c_->FindLogs(id, 0);
  ASSERT_TRUE(src.ok()) << src.error().message;
  EXPECT_EQ(src.value().agent_url, "http://127.0.0.1:1");
  EXPECT_EQ(src.value().agent_secret, kKey);
  // A restarted agent makes a new key: the next heartbeat replaces the old one.
  agent_.log_secret = std::string(64, 'e');
  agent_.Beat(*c_);
  EXPECT_EQ(c_->FindLogs(id, 0).value().agent_secret, std::string(64, 'e'));
}

TEST_F(LogSecretTest, NeverStoredNorShown) {
  agent_.log_secret = kKey;
  Open();
  agent_.Register(*c_);
  RunOne();
  const std::string all = ShownAndStored();
  EXPECT_NE(all.find("agent_url"), std::string::npos) << all;  // it did look at the nodes
  EXPECT_EQ(all.find(kKey), std::string::npos) << all;
  EXPECT_EQ(all.find("log_secret"), std::string::npos) << all;
}

TEST_F(LogSecretTest, NoKeyMeansNoLogsNeverAnOpenRequest) {
  agent_.log_secret = kKey;
  Open();
  agent_.Register(*c_);
  const JobId id = RunOne();
  // A restarted controller has the node's address from its store but not
  // the key: it refuses until the agent reports again.
  Crash();
  auto before = c_->FindLogs(id, 0);
  ASSERT_FALSE(before.ok());
  EXPECT_EQ(before.error().code, ApiCode::kBadGateway);
  EXPECT_NE(before.error().message.find("key of its log server"), std::string::npos) << before.error().message;
  agent_.Register(*c_);
  ASSERT_TRUE(c_->FindLogs(id, 0).ok());
  EXPECT_EQ(c_->FindLogs(id, 0).value().agent_secret, kKey);
  // A heartbeat without a key clears the old one: refused again.
  agent_.log_secret.clear();
  agent_.Beat(*c_);
  auto without = c_->FindLogs(id, 0);
  ASSERT_FALSE(without.ok());
  EXPECT_EQ(without.error().code, ApiCode::kBadGateway);
  // Likewise an agent that registers without one.
  agent_.Register(*c_);
  EXPECT_FALSE(c_->FindLogs(id, 0).ok());
}

}  // namespace
}  // namespace kojo::controller
