// kojo queue's rows: waiting tasks of an array fold into one row.
#include "cli/queue_rows.h"

#include <gtest/gtest.h>

namespace kojo::cli {
namespace {

using api::JobState;

api::JobView Task(JobId id, JobId array, int index, JobState state, std::string reason = "Held") {
  api::JobView v;
  v.id = id;
  v.array_id = array;
  v.array_index = index;
  v.state = state;
  v.reason = std::move(reason);
  return v;
}

api::JobView Single(JobId id, JobState state) {
  api::JobView v;
  v.id = id;
  v.state = state;
  return v;
}

std::string Reason(const api::JobView& v) { return v.reason; }

std::vector<std::pair<size_t, size_t>> Groups(const std::vector<api::JobView>& jobs) {
  std::vector<std::pair<size_t, size_t>> out;
  for (const QueueGroup& g : FoldArrayTasks(jobs, Reason)) out.emplace_back(g.first, g.count);
  return out;
}

TEST(QueueRows, IndexRangesUseRangesAndStepsForRunsOfThree) {
  EXPECT_EQ(IndexRanges({0, 1, 2, 3, 7, 10, 12, 14, 16, 18, 20}), "0-3,7,10-20:2");
  EXPECT_EQ(IndexRanges({0, 1}), "0,1");
  EXPECT_EQ(IndexRanges({5}), "5");
  EXPECT_EQ(IndexRanges({0, 5, 10}), "0-10:5");
  EXPECT_EQ(IndexRanges({}), "");
}

TEST(QueueRows, AdjacentTasksThatWaitAlikeShareARow) {
  const std::vector<api::JobView> jobs = {
      Single(1, JobState::kRunning),
      Task(2, 2, 0, JobState::kHeld), Task(3, 2, 1, JobState::kHeld), Task(4, 2, 2, JobState::kHeld),
      Task(5, 2, 3, JobState::kRunning, ""),                 // ran: a row of its own
      Task(6, 2, 4, JobState::kHeld), Task(7, 2, 5, JobState::kPending, "Resources"),  // held, then pending
      Task(8, 2, 6, JobState::kPending, "Resources"), Task(9, 2, 7, JobState::kPending, "Priority"),
      Task(10, 10, 0, JobState::kPending, "Priority"),       // another array
      Single(11, JobState::kPending)};
  EXPECT_EQ(Groups(jobs), (std::vector<std::pair<size_t, size_t>>{
                              {0, 1}, {1, 3}, {4, 1}, {5, 1}, {6, 2}, {8, 1}, {9, 1}, {10, 1}}));
}

TEST(QueueRows, NothingFoldsOutsideArraysOrOnceEnded) {
  const std::vector<api::JobView> jobs = {Single(1, JobState::kPending), Single(2, JobState::kPending),
                                          Task(3, 3, 0, JobState::kCompleted, "Completed"),
                                          Task(4, 3, 1, JobState::kCompleted, "Completed")};
  EXPECT_EQ(Groups(jobs), (std::vector<std::pair<size_t, size_t>>{{0, 1}, {1, 1}, {2, 1}, {3, 1}}));
  EXPECT_TRUE(Groups({}).empty());
}

}  // namespace
}  // namespace kojo::cli
