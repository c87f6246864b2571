// kojo sim with reservations: the cluster state's holds on a simulated clock.
#include <gtest/gtest.h>

#include "model/cluster.h"
#include "sim/simulator.h"

namespace kojo {
namespace {

Job MakeJob(JobId id, Seconds submit, int gpus, Seconds duration, std::string project) {
  Job j;
  j.id = id;
  j.submit_time = submit;
  j.demand.gpus = gpus;
  j.true_duration = duration;
  j.time_limit = duration;
  j.project = std::move(project);
  return j;
}

SimResult Replay(const std::vector<Job>& jobs, std::vector<Reservation> reservations) {
  auto pol = MakePolicy("fifo");
  auto pl = MakePlacer("bestfit");
  SchedulerConfig sc;
  sc.backfill = true;
  Scheduler s(std::move(*pol), std::move(*pl), sc);
  SimConfig cfg;
  cfg.reservations = std::move(reservations);
  auto nodes = ParseClusterSpec("2x4xA100");
  auto r = Simulate(*nodes, jobs, s, cfg);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? std::move(*r) : SimResult{};
}

TEST(SimReservation, TheCoursesJobsStartAtTheWindowAndOthersBackfillBeforeIt) {
  Reservation course;
  course.name = "tuesday";
  course.project = "course";
  course.gpus = 4;
  course.start = 1000;
  course.duration = 2000;
  const std::vector<Job> jobs = {
      MakeJob(1, 0, 4, 5000, "lab"),     // the node no one reserved
      MakeJob(2, 0, 4, 800, "lab"),      // ends before the window: backfills on the reserved node
      MakeJob(3, 10, 4, 3000, "lab"),    // would run into the window: waits until it closes
      MakeJob(4, 990, 4, 600, "course"),  // the course's job: starts at 990 on the freed node
      MakeJob(5, 1700, 4, 600, "course"),  // and the next one after it
  };
  const SimResult r = Replay(jobs, {course});
  ASSERT_EQ(r.jobs.size(), 5u);
  EXPECT_EQ(r.jobs[0].start, 0);
  EXPECT_EQ(r.jobs[1].start, 0);
  EXPECT_EQ(r.jobs[3].start, 990);
  EXPECT_EQ(r.jobs[4].start, 1700);
  EXPECT_EQ(r.jobs[2].start, 3000);  // the window's end (node 1 is busy until 5000)
  // Without the reservation job 3 starts at 800, and the course waits.
  const SimResult free = Replay(jobs, {});
  EXPECT_EQ(free.jobs[2].start, 800);
  EXPECT_GT(*free.jobs[3].start, 990);
}

TEST(SimReservation, OneThatCannotBeHeldFailsTheRun) {
  Reservation r;
  r.name = "too-big";
  r.project = "course";
  r.gpus = 16;
  r.start = 0;
  r.duration = 10;
  auto pol = MakePolicy("fifo");
  auto pl = MakePlacer("bestfit");
  Scheduler s(std::move(*pol), std::move(*pl), SchedulerConfig{});
  SimConfig cfg;
  cfg.reservations = {r};
  auto res = Simulate(*ParseClusterSpec("2x4xA100"), {MakeJob(1, 0, 1, 10, "x")}, s, cfg);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().message,
            "reservation too-big: 16 GPUs asked, only 8 can be held (whole nodes no other reservation holds)");
}

}  // namespace
}  // namespace kojo
