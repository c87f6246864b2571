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

// Retention: an ended job is forgotten --keep-ended after its end, in
// memory and in the store, with its idempotency key; a running job, a
// recently ended one and an array's tasks are kept.
TEST(ControllerClock, EndedJobsAreForgottenAfterTheRetentionWithTheirKeys) {
  store::MemoryStore store;
  auto clock = std::make_shared<ManualClock>(kStart);
  ControllerConfig cfg;
  cfg.clock = clock;
  cfg.node_timeout = 3600s;  // the agent stays up while the clock jumps
  cfg.keep_ended_s = 600;
  auto c = Controller::Open(store, cfg);
  ASSERT_TRUE(c.ok()) << c.error().message;
  FakeAgent agent("n1", 4, "H100-80GB");
  agent.Register(**c);
  auto submit = [&](const std::string& body, const std::string& key) {
    auto ids = (*c)->Submit(body, key);
    EXPECT_TRUE(ids.ok()) << ids.error().message;
    return ids.ok() ? ids.value() : std::vector<JobId>{};
  };
  const JobId old = submit(R"({"command":["true"],"gpus":1})", "k-old")[0];
  const std::vector<JobId> array = submit(R"({"command":["true"],"gpus":1,"array":"0-1"})", "");
  const JobId runs = submit(R"({"command":["sleep","1000"],"gpus":1})", "k-runs")[0];
  auto state = [&](JobId id) { return (*c)->ShowJob(id).value().state; };
  ASSERT_TRUE(agent.BeatUntil(**c, [&] { return agent.Running().size() == 4; }));
  for (JobId id : {old, array[0], array[1]}) agent.End(id, 1);
  ASSERT_TRUE(agent.BeatUntil(**c, [&] { return state(old) == api::JobState::kCompleted && state(array[1]) == api::JobState::kCompleted; }));
  clock->Advance(400s);
  const JobId recent = submit(R"({"command":["true"],"gpus":1})", "k-recent")[0];
  ASSERT_TRUE(agent.BeatUntil(**c, [&] { return agent.End(recent, 1); }));
  ASSERT_TRUE(agent.BeatUntil(**c, [&] { return state(recent) == api::JobState::kCompleted; }));

  auto usage = [&](Controller& ctl) {
    int runs = 0;
    double hours = 0;
    for (const UsageRow& r : ctl.Usage(UsageBy::kUser, 0, kStart + 100000)) {
      runs += r.runs;
      hours += r.raw_gpu_hours;
    }
    return std::make_pair(runs, hours);
  };
  const auto used = usage(**c);
  EXPECT_EQ(used.first, 4 + 1);  // 4 ended runs and the running one to date
  clock->Advance(300s);  // `old` ended 700 s ago, `recent` 300 s ago
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::this_thread::sleep_for(50ms);
    gone = !(*c)->ShowJob(old).ok();
  }
  ASSERT_TRUE(gone) << "not forgotten";
  EXPECT_EQ((*c)->ShowJob(old).error().code, ApiCode::kNotFound);
  for (JobId id : {recent, runs, array[0], array[1]}) EXPECT_TRUE((*c)->ShowJob(id).ok()) << id;
  // Its key went with it: a retry with the key is a new submission.
  const JobId again = submit(R"({"command":["true"],"gpus":1})", "k-old")[0];
  EXPECT_GT(again, old);
  EXPECT_EQ(submit(R"({"command":["true"],"gpus":1})", "k-runs")[0], runs);  // a kept job's key answers as before

  // Nothing of it comes back after a restart; the rest does.
  ASSERT_TRUE(agent.BeatUntil(**c, [&] { return state(again) == api::JobState::kRunning; }));
  (*c)->Shutdown();
  c->reset();
  auto reopened = Controller::Open(store, cfg);
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  EXPECT_FALSE((*reopened)->ShowJob(old).ok());
  // The usage of the runs past the retention was merged, not lost: the
  // three that ended at the start are one stored record now.
  const auto runs_now = usage(**reopened);
  EXPECT_EQ(runs_now.first, used.first + 1);  // `again` ran since
  auto stored = store.Load();
  ASSERT_TRUE(stored.ok());
  int usage_docs = 0;
  for (const auto& d : stored->docs) usage_docs += d.kind == "usage";
  EXPECT_EQ(usage_docs, 2) << "the merged day and `recent` (the others have not ended)";
  for (JobId id : {recent, runs, array[0], array[1], again}) EXPECT_TRUE((*reopened)->ShowJob(id).ok()) << id;
  auto retry = (*reopened)->Submit(R"({"command":["true"],"gpus":1})", "k-old");
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry.value()[0], again) << "the new key's row survived the old one's deletion";
  (*reopened)->Shutdown();
}

}  // namespace
}  // namespace kojo::controller
