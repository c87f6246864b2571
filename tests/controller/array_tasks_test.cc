// ArrayTasks: untouched array tasks kept as one template per array.
#include "controller/array_tasks.h"

#include <gtest/gtest.h>

namespace kojo::controller {
namespace {

JobRec Template(JobId first, api::JobState state, std::string project = "p") {
  JobRec t;
  t.view.id = first;
  t.view.array_id = first;
  t.view.state = state;
  t.view.spec.project = std::move(project);
  t.view.spec.command = {"true"};
  t.job.id = first;
  t.job.demand.gpus = 1;
  return t;
}

TEST(ArrayTasks, TasksAreBuiltFromTheTemplateWithTheirIdAndIndex) {
  ArrayTasks a;
  a.Add(Template(10, api::JobState::kHeld), {0, 2, 4});  // ids 10, 11, 12
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(a.EndId(), 13);
  EXPECT_FALSE(a.Contains(9));
  EXPECT_FALSE(a.Contains(13));
  auto t = a.Peek(11);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->view.id, 11);
  EXPECT_EQ(t->job.id, 11);
  EXPECT_EQ(t->view.array_id, 10);
  EXPECT_EQ(t->view.array_index, 2);
  EXPECT_EQ(t->view.state, api::JobState::kHeld);
  EXPECT_EQ(t->view.spec.command, std::vector<std::string>{"true"});
  EXPECT_EQ(a.size(), 3u);  // peeking takes nothing
}

TEST(ArrayTasks, ATakenTaskIsGoneAndTheLastTakeEndsTheArray) {
  ArrayTasks a;
  a.Add(Template(1, api::JobState::kHeld), {7, 8});
  auto t = a.Take(2);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->view.array_index, 8);
  EXPECT_FALSE(a.Contains(2));
  EXPECT_FALSE(a.Take(2).has_value());  // never twice
  EXPECT_FALSE(a.Peek(2).has_value());
  EXPECT_EQ(a.size(), 1u);
  a.Drop(1);
  EXPECT_EQ(a.size(), 0u);
  EXPECT_FALSE(a.Next(0).has_value());
  EXPECT_EQ(a.EndId(), 3);  // ids are never given again
  a.Drop(1);                // no-op
  EXPECT_EQ(a.size(), 0u);
}

TEST(ArrayTasks, NextWalksUntouchedTasksInIdOrderSkippingArraysThatDoNotMatch) {
  ArrayTasks a;
  a.Add(Template(1, api::JobState::kHeld, "p"), {0, 1, 2});     // 1..3
  a.Add(Template(10, api::JobState::kHeld, "q"), {0, 1});       // 10..11
  a.Add(Template(20, api::JobState::kHeld, "p"), {5, 6, 7, 8});  // 20..23
  a.Drop(2);
  a.Drop(21);
  std::vector<JobId> all, only_p;
  for (auto id = a.Next(0); id; id = a.Next(*id)) all.push_back(*id);
  EXPECT_EQ(all, (std::vector<JobId>{1, 3, 10, 11, 20, 22, 23}));
  auto is_p = [](const api::JobView& v) { return v.spec.project == "p"; };
  for (auto id = a.Next(0, is_p); id; id = a.Next(*id, is_p)) only_p.push_back(*id);
  EXPECT_EQ(only_p, (std::vector<JobId>{1, 3, 20, 22, 23}));
  EXPECT_EQ(a.Next(2), 3);    // from inside an array
  EXPECT_EQ(a.Next(5), 10);   // from a gap
  EXPECT_EQ(a.Next(20), 22);  // past a dropped task
  EXPECT_FALSE(a.Next(23).has_value());
}

TEST(ArrayTasks, TakePendingSplitsOnlyPendingArraysInIdOrder) {
  ArrayTasks a;
  a.Add(Template(1, api::JobState::kPending), {0, 1, 2});
  a.Add(Template(4, api::JobState::kHeld), {0, 1});
  a.Add(Template(6, api::JobState::kPending), {3});
  a.Drop(2);
  EXPECT_TRUE(a.HasPending());
  auto split = a.TakePending();
  std::vector<JobId> ids;
  for (const auto& r : split) ids.push_back(r.view.id);
  EXPECT_EQ(ids, (std::vector<JobId>{1, 3, 6}));
  EXPECT_EQ(split[1].view.array_index, 2);
  EXPECT_FALSE(a.HasPending());
  EXPECT_EQ(a.size(), 2u);  // the held array stays
  EXPECT_TRUE(a.Contains(4));
  EXPECT_TRUE(a.TakePending().empty());
}

TEST(ArrayTasks, APendingArrayEmptiedByTakesIsNoLongerPending) {
  ArrayTasks a;
  a.Add(Template(1, api::JobState::kPending), {0});
  ASSERT_TRUE(a.Take(1).has_value());
  EXPECT_FALSE(a.HasPending());
  EXPECT_TRUE(a.TakePending().empty());
}

}  // namespace
}  // namespace kojo::controller
