// Reservations in the cluster state: the nodes they hold, who may use them
// before and during the window, and the Reservation wait.
#include <deque>

#include <gtest/gtest.h>

#include "model/cluster.h"
#include "sched/fixtures.h"
#include "state/cluster_state.h"
#include "state_fixture.h"

namespace kojo {
namespace {

class ReservationStateTest : public testing::StateTest {
 protected:
  void SetUp() override { Use("fifo", "2x4xA100"); }
  Reservation Course(Seconds start = 1000, Seconds duration = 500) {
    Reservation r;
    r.name = "course";
    r.project = "c";
    r.gpus = 4;
    r.gpu_model = "A100";
    r.start = start;
    r.duration = duration;
    return r;
  }
  const Job& NewJob(JobId id, int gpus, std::optional<Seconds> limit, const std::string& project) {
    return MakeJob(id, gpus, limit, project);
  }
  Changes Pass(Seconds now) { return StateTest::Pass(now, /*explain=*/true, /*force=*/true); }
  static std::optional<NodeIndex> NodeOf(const Changes& c, JobId id) {
    for (const Started& s : c.started)
      if (s.job == id) return s.allocation.shares.at(0).node;
    return std::nullopt;
  }
};

TEST_F(ReservationStateTest, HoldsWholeNodesOfItsModelOrSaysWhyNot) {
  ASSERT_TRUE(state_->SetReservations({Course()}).ok());
  EXPECT_EQ(state_->ReservedNodes(0), std::vector<NodeIndex>{0});
  Reservation big = Course();
  big.gpus = 6;  // two nodes
  ASSERT_TRUE(state_->SetReservations({big}).ok());
  EXPECT_EQ(state_->ReservedNodes(0), (std::vector<NodeIndex>{0, 1}));
  Reservation other = Course();
  other.name = "other";
  auto st = state_->SetReservations({big, other});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message,
            "reservation other: 4 GPUs of model A100 asked, only 0 can be held (whole nodes no other reservation holds)");
  Reservation h100 = Course();
  h100.gpu_model = "H100";
  EXPECT_FALSE(state_->SetReservations({h100}).ok());
  EXPECT_EQ(state_->reservations().size(), 1u);  // the last that held stays
}

TEST_F(ReservationStateTest, BeforeTheWindowOthersBackfillOnlyIfTheyEndBeforeIt) {
  ASSERT_TRUE(state_->SetReservations({Course()}).ok());
  Submit(NewJob(1, 4, 2000, "p"), 0);  // runs past 1000: not on the reserved node
  Submit(NewJob(2, 4, 900, "p"), 0);   // ends at 900: may use it
  Changes c = Pass(0);
  EXPECT_EQ(NodeOf(c, 1), NodeIndex{1});
  EXPECT_EQ(NodeOf(c, 2), NodeIndex{0});
  state_->Finish(2, 100, false);
  // A job without a time limit, or one that would run into the window, waits.
  Submit(NewJob(3, 4, std::nullopt, "p"), 100);
  c = Pass(100);
  ASSERT_NE(WaitOf(c, 3), nullptr);
  EXPECT_EQ(WaitOf(c, 3)->reason, WaitReason::kReservation);
  EXPECT_EQ(WaitOf(c, 3)->message,
            "node a100-0 is reserved for project c (reservation course) from in 15 min for 8 min, and a job without "
            "a time limit would run into it");
}

TEST_F(ReservationStateTest, DuringTheWindowOnlyTheProjectsJobsUseTheNodeAndTheyStartAtItsStart) {
  ASSERT_TRUE(state_->SetReservations({Course()}).ok());
  Submit(NewJob(1, 4, 5000, "p"), 0);  // takes the other node
  EXPECT_EQ(NodeOf(Pass(0), 1), NodeIndex{1});
  Submit(NewJob(2, 4, 400, "c"), 990);  // the course's job, before its window: fits, ends by 1390
  Submit(NewJob(3, 4, 100, "p"), 990);
  Changes c = Pass(990);
  // The course's own jobs may use the node at any time.
  EXPECT_EQ(NodeOf(c, 2), NodeIndex{0});
  state_->Finish(2, 1000, false);
  c = Pass(1000);
  ASSERT_NE(WaitOf(c, 3), nullptr);
  EXPECT_EQ(WaitOf(c, 3)->reason, WaitReason::kReservation);
  EXPECT_EQ(WaitOf(c, 3)->message, "node a100-0 is reserved for project c (reservation course) for another 8 min");
  Submit(NewJob(4, 2, 300, "c"), 1100);
  c = Pass(1100);
  EXPECT_EQ(NodeOf(c, 4), NodeIndex{0});
  // After the window, anyone.
  state_->Finish(4, 1400, false);
  EXPECT_EQ(NodeOf(Pass(1500), 3), NodeIndex{0});
}

TEST_F(ReservationStateTest, AWeeklyReservationHoldsEveryWeek) {
  Reservation r = Course(1000, 500);
  r.weekly = true;
  EXPECT_EQ(r.WindowAt(0)->start, 1000);
  EXPECT_EQ(r.WindowAt(1499)->start, 1000);
  EXPECT_EQ(r.WindowAt(1500)->start, 1000 + kWeek);
  EXPECT_EQ(r.WindowAt(1000 + kWeek + 10)->end, 1500 + kWeek);
  EXPECT_EQ(r.WindowAt(3 * kWeek + 2000)->start, 1000 + 4 * kWeek);
  r.weekly = false;
  EXPECT_FALSE(r.WindowAt(1500));
  ASSERT_TRUE(state_->SetReservations({Course(1000, 500)}).ok());
  // Past a one-off window the node is free for all.
  Submit(NewJob(1, 4, std::nullopt, "p"), 2000);
  Submit(NewJob(2, 4, std::nullopt, "p"), 2000);
  EXPECT_EQ(Pass(2000).started.size(), 2u);
}

}  // namespace
}  // namespace kojo
