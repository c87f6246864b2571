// Job arrays in the controller, in process: a Controller on a MemoryStore
// driven by a fake agent. An array is one template until its tasks change
// (array_tasks.h); every task must still look, list, change and survive a
// crash exactly as a job of its own. "Crashes" destroy the controller and
// open a new one on the same store, which keeps only what was made durable.
#include <gtest/gtest.h>

#include "org_fake_agent.h"

namespace kojo::controller {
namespace {

using api::JobState;
using api::Json;
using testing::FakeAgent;

class ArrayControllerTest : public ::testing::Test {
 protected:
  void Open(bool with_agent = true) {
    ControllerConfig cfg;
    cfg.node_timeout = std::chrono::milliseconds(60000);
    auto c = Controller::Open(store_, cfg);
    ASSERT_TRUE(c.ok()) << c.error().message;
    c_ = std::move(*c);
    if (with_agent) agent_.Register(*c_);
  }
  void Crash() {
    c_->Shutdown();
    c_.reset();
    Open();
  }
  std::vector<JobId> Submit(const Json& spec) {
    auto ids = c_->Submit(spec.dump(), "");
    EXPECT_TRUE(ids.ok()) << ids.error().message;
    return ids.ok() ? ids.value() : std::vector<JobId>{};
  }
  bool BeatUntil(const std::function<bool()>& pred, int rounds = 400) { return agent_.BeatUntil(*c_, pred, rounds); }
  api::JobView Show(JobId id) { return c_->ShowJob(id).value(); }
  // Every job the query matches, page by page (`page` per request).
  std::vector<api::JobView> ListAll(ListQuery q, int page) {
    std::vector<api::JobView> out;
    q.limit = page;
    for (int guard = 0; guard < 10000; ++guard) {
      auto l = c_->ListJobs(q);
      EXPECT_TRUE(l.ok());
      for (auto& v : l.value().jobs) out.push_back(std::move(v));
      if (!l.value().next_after) break;
      q.after = *l.value().next_after;
    }
    return out;
  }

  store::MemoryStore store_;
  FakeAgent agent_{"n1", 8, "H100-80GB"};
  std::unique_ptr<Controller> c_;
};

TEST_F(ArrayControllerTest, EachTaskOfAHeldArrayShowsListsAndChangesAsAJobOfItsOwn) {
  Open();
  const auto ids = Submit(Json{{"name", "sweep"}, {"command", {"true"}}, {"gpus", 1}, {"hold", true}, {"array", "0-18:2"}});
  ASSERT_EQ(ids.size(), 10u);
  const JobId single = Submit(Json{{"command", {"true"}}, {"gpus", 1}, {"hold", true}}).at(0);
  EXPECT_EQ(single, ids.back() + 1);
  EXPECT_EQ(c_->JobCount(), 11u);
  for (size_t k = 0; k < ids.size(); ++k) {
    const api::JobView v = Show(ids[k]);
    EXPECT_EQ(v.id, ids[k]);
    EXPECT_EQ(v.array_id, ids[0]);
    EXPECT_EQ(v.array_index, static_cast<int>(2 * k));
    EXPECT_EQ(v.state, JobState::kHeld);
    EXPECT_EQ(v.spec.name, "sweep");
  }
  EXPECT_EQ(c_->Why(ids[3]).value().reason, "Held");
  EXPECT_FALSE(c_->FindLogs(ids[3], 0).ok());  // never ran: no log

  // Change three tasks: release one (it runs), cancel one, hold one (no-op).
  ASSERT_TRUE(c_->Release(ids[2]).ok());
  ASSERT_TRUE(c_->Cancel(ids[5]).ok());
  ASSERT_TRUE(c_->Hold(ids[7]).ok());
  EXPECT_EQ(c_->Release(ids[2]).error().code, ApiCode::kConflict);  // not HELD any more
  ASSERT_TRUE(BeatUntil([&] { return Show(ids[2]).state == JobState::kRunning; }));
  EXPECT_EQ(Show(ids[2]).array_index, 4);
  EXPECT_EQ(Show(ids[5]).state, JobState::kCancelled);
  EXPECT_EQ(Show(ids[4]).state, JobState::kHeld);  // the others did not move
  EXPECT_EQ(c_->JobCount(), 11u);

  // Listing merges changed tasks, untouched ones and the single job in id
  // order, once each, whatever the page size.
  for (int page : {1, 3, 4, 100}) {
    const auto all = ListAll(ListQuery{}, page);
    ASSERT_EQ(all.size(), 11u) << page;
    for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].id, ids[0] + static_cast<JobId>(i)) << page;
    EXPECT_EQ(all[2].state, JobState::kRunning);
    EXPECT_EQ(all[5].state, JobState::kCancelled);
  }
  ListQuery held;
  held.states = {JobState::kHeld};
  const auto h = ListAll(held, 2);
  ASSERT_EQ(h.size(), 9u);  // 8 of the array and the single job
  EXPECT_EQ(h.back().id, single);
  ListQuery other;
  other.project = "nobody";
  EXPECT_TRUE(ListAll(other, 5).empty());
  ListQuery hidden;
  hidden.visible = [&](const api::JobView& v) { return !v.array_id; };
  const auto only_single = ListAll(hidden, 5);
  ASSERT_EQ(only_single.size(), 1u);
  EXPECT_EQ(only_single[0].id, single);

  // A crash keeps each task as it was made durable.
  Crash();
  EXPECT_EQ(c_->JobCount(), 11u);
  EXPECT_EQ(Show(ids[5]).state, JobState::kCancelled);
  EXPECT_EQ(Show(ids[2]).state, JobState::kRunning);  // the agent still reports it
  for (size_t k : {0u, 1u, 3u, 4u, 6u, 7u, 8u, 9u}) {
    EXPECT_EQ(Show(ids[k]).state, JobState::kHeld) << k;
    EXPECT_EQ(Show(ids[k]).array_index, static_cast<int>(2 * k)) << k;
  }
  // Ids go on after the array and the single job.
  EXPECT_EQ(Submit(Json{{"command", {"true"}}, {"hold", true}}).at(0), single + 1);
}

TEST_F(ArrayControllerTest, APendingArrayIsSplitAndEveryTaskRunsOnce) {
  Open();
  const auto ids = Submit(Json{{"command", {"true"}}, {"gpus", 2}, {"array", "1,3,5,7,9"}});
  ASSERT_EQ(ids.size(), 5u);
  // 8 GPUs: four tasks of 2 run, the fifth waits; end them as they start.
  std::set<JobId> done;
  ASSERT_TRUE(BeatUntil([&] {
    for (const auto& [job, attempt] : agent_.Running()) {
      EXPECT_EQ(attempt, 1);
      EXPECT_TRUE(done.insert(job).second) << "job " << job << " started twice";
      agent_.End(job, attempt);
    }
    for (JobId id : ids)
      if (Show(id).state != JobState::kCompleted) return false;
    return true;
  }));
  EXPECT_EQ(done, std::set<JobId>(ids.begin(), ids.end()));
  for (size_t k = 0; k < ids.size(); ++k) EXPECT_EQ(Show(ids[k]).array_index, static_cast<int>(2 * k + 1));
  Crash();
  for (JobId id : ids) EXPECT_EQ(Show(id).state, JobState::kCompleted);
}

TEST_F(ArrayControllerTest, APendingArraySubmittedBeforeAnyNodeWaitsWholeAndRunsOnceOneRegisters) {
  Open(/*with_agent=*/false);
  const auto ids = Submit(Json{{"command", {"true"}}, {"gpus", 1}, {"array", "0-2"}});
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(Show(ids[1]).state, JobState::kPending);
  EXPECT_EQ(c_->Why(ids[1]).value().reason, "Submitted");
  Crash();  // registers the agent
  ASSERT_TRUE(BeatUntil([&] { return agent_.Running().size() == 3; }));
}

// Regression: recovery built every task of a stored array and parsed the
// array's range once per task, so a 100,000-task array took minutes to
// load. Now it loads as one template.
TEST_F(ArrayControllerTest, AHundredThousandTaskArrayRecoversWholeAfterACrash) {
  Open();
  const auto ids = Submit(Json{{"command", {"true"}}, {"hold", true}, {"array", "0-99999"}});
  ASSERT_EQ(ids.size(), 100000u);
  ASSERT_TRUE(c_->Release(ids[99998]).ok());
  Crash();
  EXPECT_EQ(c_->JobCount(), 100000u);
  EXPECT_EQ(Show(ids[99999]).array_index, 99999);
  EXPECT_EQ(Show(ids[99999]).state, JobState::kHeld);
  EXPECT_NE(Show(ids[99998]).state, JobState::kHeld);
  ListQuery held;
  held.states = {JobState::kHeld};
  held.after = ids[99990];
  auto l = c_->ListJobs(held);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l.value().jobs.size(), 8u);  // 99991..99999 but 99998
}

// Regression: recovery decoded each task's row by checking, and
// expanding, its array's whole range again (twice), so the cost grew with
// the square of the array's size (an ended 100,000-task array: 31 s
// instead of 3 s in a release build).
TEST_F(ArrayControllerTest, AStoredArrayWhoseEveryTaskHasARowRecovers) {
  constexpr int kTasks = 20000;  // indices 0, 5, ..., 99995
  // The rows kojod writes: the array as submitted, then a row per task.
  JobRec tmpl;
  tmpl.view.id = 1;
  tmpl.view.array_id = 1;
  tmpl.view.spec.command = {"true"};
  tmpl.view.spec.array = "0-99999:5%50";
  SyncSchedJob(tmpl);
  std::vector<int> indices(kTasks);
  for (int k = 0; k < kTasks; ++k) indices[k] = 5 * k;
  store::Batch b;
  b.arrays.push_back(ArrayRowOf(tmpl, indices));
  for (int k = 0; k < kTasks; ++k) {
    JobRec t = tmpl;
    t.view.id = 1 + k;
    t.view.array_index = 5 * k;
    t.view.state = k % 2 ? JobState::kCompleted : JobState::kCancelled;
    b.jobs.push_back(JobRow(t));
  }
  b.next_job_id = 1 + kTasks;
  ASSERT_TRUE(store_.Apply(b).ok());
  Open();
  EXPECT_EQ(c_->JobCount(), static_cast<size_t>(kTasks));
  EXPECT_EQ(Show(kTasks).state, JobState::kCompleted);
  EXPECT_EQ(Show(kTasks).array_index, 99995);
  EXPECT_EQ(Show(kTasks - 1).state, JobState::kCancelled);
  ListQuery pending;
  pending.states = {JobState::kPending};
  EXPECT_TRUE(c_->ListJobs(pending).value().jobs.empty());  // no task came back from the array row
}

}  // namespace
}  // namespace kojo::controller
