// The controller reads the time only through its Clock: with a ManualClock
// a test sets when jobs are submitted and started, and makes a node go
// silent past the node time-out without waiting for it.
#include <gtest/gtest.h>

#include <thread>

#include "org_fake_agent.h"

namespace kojo::controller {
namespace {

using testing::FakeAgent;
using namespace std::chrono_literals;

constexpr Seconds kStart = 1'800'000'000;  // 2027-01-15

TEST(ControllerClock, TimesComeFromTheInjectedClock) {
  store::MemoryStore store;
  auto clock = std::make_shared<ManualClock>(kStart);
  ControllerConfig cfg;
  cfg.clock = clock;
  cfg.node_timeout = 30s;
  auto c = Controller::Open(store, cfg);
  ASSERT_TRUE(c.ok()) << c.error().message;
  FakeAgent agent("n1", 2, "H100-80GB");
  agent.Register(**c);

  clock->Advance(90s);
  auto ids = (*c)->Submit(R"({"command":["true"],"gpus":1,"time_limit_s":600})", "");
  ASSERT_TRUE(ids.ok()) << ids.error().message;
  const JobId id = ids.value()[0];
  ASSERT_TRUE(agent.BeatUntil(**c, [&] { return (*c)->ShowJob(id).value().state == api::JobState::kRunning; }));
  EXPECT_EQ((*c)->ShowJob(id).value().submit_time, kStart + 90);
  EXPECT_EQ((*c)->ShowJob(id).value().start_time, kStart + 90);

  // The agent falls silent and the clock passes the 30 s time-out: the node
  // goes DOWN at the controller's next check (a tick of real time, at most
  // 1 s), not 30 s later.
  clock->Advance(31s);
  bool down = false;
  for (int i = 0; i < 100 && !down; ++i) {
    std::this_thread::sleep_for(50ms);
    down = (*c)->ShowNode("n1").value().state == api::NodeState::kDown;
  }
  EXPECT_TRUE(down) << "the node is still " << api::ToString((*c)->ShowNode("n1").value().state);
  (*c)->Shutdown();
}

}  // namespace
}  // namespace kojo::controller
