// Reservations in kojod, in process: a Controller on a MemoryStore with a
// ManualClock, driven by fake agents. A course's reservation holds a whole
// node: before its window other projects' jobs use it only if they end
// before the window starts, during it only the course's jobs do, and it
// survives a restart. "Restarts" destroy the controller and open a new one
// on the same store.
#include <gtest/gtest.h>

#include <thread>

#include "org_fake_agent.h"

namespace kojo::controller {
namespace {

using api::Json;
using testing::FakeAgent;
using namespace std::chrono_literals;

constexpr Seconds kStart = 1'800'000'000;  // 2027-01-15
constexpr Seconds kWindow = kStart + 3600;  // the lab's window: 2 h from here

Json OrgDoc() {
  auto grant = [](const char* project) {
    return Json{{"id", std::string(project) + "-g"}, {"project", project}, {"gpu_hours", 100000},
                {"start", api::IsoTime(kStart - 86400)}, {"end", api::IsoTime(kStart + 30 * 86400)}};
  };
  return Json{{"programmes", Json::array({{{"name", "p"}}})},
              {"organisations", Json::array({{{"name", "o"}, {"programme", "p"}}})},
              {"projects", Json::array({{{"name", "course"}, {"organisation", "o"}},
                                        {{"name", "other"}, {"organisation", "o"}}})},
              {"grants", Json::array({grant("course"), grant("other")})}};
}

Json Lab(int gpus = 4) {
  return Json{{"name", "lab"}, {"project", "course"}, {"gpus", gpus}, {"gpu_model", "H100"},
              {"start", api::IsoTime(kWindow)}, {"duration_s", 7200}};
}

class ReservationControllerTest : public ::testing::Test {
 protected:
  void Open(bool register_agents = true) {
    ControllerConfig cfg;
    cfg.clock = clock_;
    cfg.node_timeout = std::chrono::hours(24);  // the manual clock jumps hours; the nodes stay up
    auto c = Controller::Open(store_, cfg);
    ASSERT_TRUE(c.ok()) << c.error().message;
    c_ = std::move(*c);
    if (register_agents) {
      n1_.Register(*c_);
      n2_.Register(*c_);
    }
  }
  void Restart(bool register_agents = true) {
    c_->Shutdown();
    c_.reset();
    Open(register_agents);
  }
  JobId Submit(const std::string& project, int gpus, Seconds limit) {
    Json spec{{"command", {"true"}}, {"project", project}, {"user", "ada"}, {"gpus", gpus}, {"time_limit_s", limit}};
    auto ids = c_->Submit(spec.dump(), "");
    EXPECT_TRUE(ids.ok()) << ids.error().message;
    return ids.ok() ? ids.value().at(0) : 0;
  }
  api::JobView Show(JobId id) { return c_->ShowJob(id).value(); }
  // Both agents beat until `pred` holds (passes come from changes and from
  // the controller's tick, at most a second of real time).
  bool BeatUntil(const std::function<bool()>& pred) {
    for (int i = 0; i < 600; ++i) {
      n1_.Beat(*c_);
      n2_.Beat(*c_);
      if (pred()) return true;
      std::this_thread::sleep_for(5ms);
    }
    return pred();
  }
  bool Running(JobId id) { return Show(id).state == api::JobState::kRunning; }
  std::string NodeOf(JobId id) {
    const auto v = Show(id);
    return v.placement.empty() ? "" : v.placement[0].node;
  }
  bool WaitsFor(JobId id, const std::string& reason) {
    auto w = c_->Why(id);
    return w.ok() && w.value().reason == reason;
  }

  store::MemoryStore store_;
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>(kStart);
  FakeAgent n1_{"n1", 4, "H100"};
  FakeAgent n2_{"n2", 4, "H100"};
  std::unique_ptr<Controller> c_;
};

TEST_F(ReservationControllerTest, OthersBackfillBeforeTheWindowWaitDuringItAndTheCourseStartsAtItsStart) {
  Open();
  ASSERT_TRUE(c_->ApplyOrg(OrgDoc().dump()).ok());
  auto lab = c_->AddReservation(Lab().dump());
  ASSERT_TRUE(lab.ok()) << lab.error().message;
  EXPECT_EQ(lab.value().nodes, std::vector<std::string>{"n1"});  // whole nodes, in node order
  ASSERT_TRUE(lab.value().window.has_value());
  EXPECT_EQ(lab.value().window->start, kWindow);
  EXPECT_EQ(lab.value().window->end, kWindow + 7200);

  // Another project's long job takes the node nobody holds; a second one
  // would run into the window: it waits, and says why.
  const JobId long1 = Submit("other", 4, 7200);
  ASSERT_TRUE(BeatUntil([&] { return Running(long1); }));
  EXPECT_EQ(NodeOf(long1), "n2");
  const JobId long2 = Submit("other", 4, 7200);
  ASSERT_TRUE(BeatUntil([&] { return WaitsFor(long2, "Reservation"); })) << Show(long2).reason;
  EXPECT_EQ(c_->Why(long2).value().message,
            "node n1 is reserved for project course (reservation lab) from in 60 min for 2.0 h, and its time limit "
            "would run into it");
  // One whose time limit ends when the window starts backfills on the held node.
  const JobId before = Submit("other", 4, 3600);
  ASSERT_TRUE(BeatUntil([&] { return Running(before); })) << Show(before).reason;
  EXPECT_EQ(NodeOf(before), "n1");
  ASSERT_TRUE(c_->Cancel(long2).ok());

  // The course's job, submitted before the window, starts at its start.
  clock_->Advance(60s);
  const JobId course = Submit("course", 4, 1800);
  ASSERT_TRUE(BeatUntil([&] { return !WaitsFor(course, ""); }));
  EXPECT_EQ(Show(course).state, api::JobState::kPending);
  clock_->Advance(std::chrono::seconds(kWindow - kStart - 60));
  ASSERT_TRUE(n1_.End(before, 1));  // its time limit
  ASSERT_TRUE(BeatUntil([&] { return Running(course); })) << Show(course).reason;
  EXPECT_EQ(NodeOf(course), "n1");
  EXPECT_EQ(Show(course).start_time, kWindow);

  // During the window another project's job waits, even on a free held node.
  clock_->Advance(600s);
  ASSERT_TRUE(n1_.End(course, 1));
  ASSERT_TRUE(BeatUntil([&] { return Show(course).state == api::JobState::kCompleted; }));
  const JobId during = Submit("other", 4, 600);
  ASSERT_TRUE(BeatUntil([&] { return WaitsFor(during, "Reservation"); })) << Show(during).reason;
  EXPECT_EQ(c_->Why(during).value().message,
            "node n1 is reserved for project course (reservation lab) for another 1.8 h");
  EXPECT_NE(Show(during).message.find("reserved for project course"), std::string::npos) << Show(during).message;

  // After the window, anyone.
  clock_->Advance(std::chrono::seconds(kWindow + 7200 - (kWindow + 600)));
  ASSERT_TRUE(BeatUntil([&] { return Running(during); })) << Show(during).reason;
  EXPECT_EQ(NodeOf(during), "n1");
  c_->Shutdown();
}

TEST_F(ReservationControllerTest, SurvivesARestartAndIsListedWithItsWindowAndNodes) {
  Open();
  ASSERT_TRUE(c_->ApplyOrg(OrgDoc().dump()).ok());
  Json weekly = Lab();
  weekly["name"] = "weekly-lab";
  weekly["weekly"] = true;
  ASSERT_TRUE(c_->AddReservation(weekly.dump()).ok());
  ASSERT_TRUE(c_->AddReservation(Lab().dump()).ok());
  Restart();
  auto list = c_->Reservations();
  ASSERT_EQ(list.size(), 2u);
  // In creation order, holding the same nodes as before.
  EXPECT_EQ(list[0].reservation.name, "weekly-lab");
  EXPECT_TRUE(list[0].reservation.weekly);
  EXPECT_EQ(list[0].nodes, std::vector<std::string>{"n1"});
  EXPECT_EQ(list[1].reservation.name, "lab");
  EXPECT_EQ(list[1].nodes, std::vector<std::string>{"n2"});
  EXPECT_TRUE(list[1].held);
  // Its rule holds after the restart.
  const JobId job = Submit("other", 4, 7200);
  ASSERT_TRUE(BeatUntil([&] { return WaitsFor(job, "Reservation"); })) << Show(job).reason;

  // A weekly one's next window, once this week's has passed.
  clock_->Advance(std::chrono::seconds(3600 + 7200 + 60));
  list = c_->Reservations();
  ASSERT_TRUE(list[0].window.has_value());
  EXPECT_EQ(list[0].window->start, kWindow + kWeek);
  EXPECT_FALSE(list[1].window.has_value());  // a one-off that has ended
  EXPECT_FALSE(list[1].held);

  // Deleted: gone for good, and its node free for anyone.
  ASSERT_TRUE(c_->DeleteReservation("weekly-lab").ok());
  Restart();
  list = c_->Reservations();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].reservation.name, "lab");
  auto missing = c_->DeleteReservation("weekly-lab");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ApiCode::kNotFound);
  c_->Shutdown();
}

TEST_F(ReservationControllerTest, HeldOnceItsNodesAreKnownAndRefusedWhenItCannotBeHeld) {
  // A store whose reservation was made when the nodes were known, but whose
  // nodes are not (a new database given the old documents): the reservation
  // holds nothing until agents register, then holds their nodes.
  Open(/*register_agents=*/false);
  ASSERT_TRUE(c_->ApplyOrg(OrgDoc().dump()).ok());
  store::Batch b;
  b.docs.push_back({"reservation", "lab", Json{{"reservation", Lab(8)}, {"seq", 1}}.dump(), false});
  ASSERT_TRUE(store_.Apply(b).ok());
  Restart(/*register_agents=*/false);
  auto list = c_->Reservations();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_FALSE(list[0].held);
  EXPECT_EQ(list[0].not_held, "reservation lab: 8 GPUs of model H100 asked, only 0 can be held (whole nodes no other "
                              "reservation holds)");
  n1_.Register(*c_);
  n2_.Register(*c_);
  ASSERT_TRUE(BeatUntil([&] { return c_->Reservations()[0].held; }));
  EXPECT_EQ(c_->Reservations()[0].nodes, (std::vector<std::string>{"n1", "n2"}));

  // One more cannot be held: refused with the state's reason, nothing changes.
  Json more = Lab(1);
  more["name"] = "more";
  auto refused = c_->AddReservation(more.dump());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ApiCode::kConflict);
  EXPECT_EQ(refused.error().message, "reservation more: 1 GPUs of model H100 asked, only 0 can be held (whole nodes "
                                     "no other reservation holds)");
  ASSERT_EQ(c_->Reservations().size(), 1u);
  EXPECT_TRUE(c_->Reservations()[0].held);
  Restart();
  EXPECT_EQ(c_->Reservations().size(), 1u);
  c_->Shutdown();
}

TEST_F(ReservationControllerTest, BadInputNamesTheField) {
  Open();
  ASSERT_TRUE(c_->ApplyOrg(OrgDoc().dump()).ok());
  auto error = [&](const Json& body) {
    auto r = c_->AddReservation(body.dump());
    EXPECT_FALSE(r.ok()) << body.dump();
    return r.ok() ? std::string() : r.error().message;
  };
  Json j = Lab();
  j["project"] = "nope";
  EXPECT_EQ(error(j), "project: no project named \"nope\" in the organisation (kojo admin apply creates it)");
  j = Lab();
  j["gpus"] = 0;
  EXPECT_EQ(error(j).rfind("gpus: ", 0), 0u) << error(j);
  j = Lab();
  j["start_s"] = 60;
  EXPECT_EQ(error(j).rfind("start_s: not accepted by kojod", 0), 0u) << error(j);
  j = Lab();
  j.erase("start");
  EXPECT_EQ(error(j), "start: expected one of start (an ISO 8601 UTC time) or start_s (seconds)");
  j = Lab();
  j["start"] = "next tuesday";
  EXPECT_EQ(error(j).rfind("start: ", 0), 0u) << error(j);
  j = Lab();
  j["duration_s"] = -5;
  EXPECT_EQ(error(j).rfind("duration_s: ", 0), 0u) << error(j);
  j = Lab();
  j["start"] = api::IsoTime(kStart - 86400);
  EXPECT_EQ(error(j).rfind("start: the window ", 0), 0u) << error(j);
  j = Lab();
  j["colour"] = "red";
  EXPECT_NE(error(j).find("colour"), std::string::npos) << error(j);
  EXPECT_EQ(c_->AddReservation("[1, 2]").error().message, "expected one reservation object");
  EXPECT_EQ(c_->AddReservation("{").error().code, ApiCode::kInvalidArgument);
  ASSERT_TRUE(c_->AddReservation(Lab().dump()).ok());
  auto twice = c_->AddReservation(Lab().dump());
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, ApiCode::kConflict);
  EXPECT_EQ(twice.error().message.rfind("name: a reservation named \"lab\" exists", 0), 0u) << twice.error().message;
  EXPECT_EQ(c_->Reservations().size(), 1u);
  c_->Shutdown();
}

}  // namespace
}  // namespace kojo::controller
