// The controller's grant rules, in process: a Controller on a MemoryStore
// driven by a fake agent. "Crashes" destroy the controller and open a new
// one on the same store, which keeps only what was made durable.
#include <gtest/gtest.h>

#include <random>

#include "org_fake_agent.h"

namespace kojo::controller {
namespace {

using api::Json;
using testing::FakeAgent;
using testing::WallNow;

std::string Iso(Seconds t) { return api::IsoTime(t); }

// Programme p, organisation o; project "a" with two grants (the sooner
// one small), project "b" with one small grant and a big expired one,
// project "c" with no grant. H100 weighs 2.
Json OrgDoc(Seconds now) {
  return Json{{"gpu_weights", {{"H100", 2.0}}},
              {"programmes", Json::array({{{"name", "p"}}})},
              {"organisations", Json::array({{{"name", "o"}, {"programme", "p"}}})},
              {"projects", Json::array({{{"name", "a"}, {"organisation", "o"}},
                                        {{"name", "b"}, {"organisation", "o"}},
                                        {{"name", "c"}, {"organisation", "o"}}})},
              {"grants", Json::array({{{"id", "a-soon"}, {"project", "a"}, {"gpu_hours", 3}, {"start", Iso(now - 3600)}, {"end", Iso(now + 86400)}},
                                      {{"id", "a-late"}, {"project", "a"}, {"gpu_hours", 4}, {"start", Iso(now - 3600)}, {"end", Iso(now + 2 * 86400)}},
                                      {{"id", "b-now"}, {"project", "b"}, {"gpu_hours", 2.5}, {"start", Iso(now - 3600)}, {"end", Iso(now + 86400)}},
                                      {{"id", "b-old"}, {"project", "b"}, {"gpu_hours", 1000}, {"start", Iso(now - 10 * 86400)}, {"end", Iso(now - 86400)}}})},
              {"members", Json::array({{{"project", "a"}, {"user", "ada"}, {"role", "lead"}}})}};
}

class OrgControllerTest : public ::testing::Test {
 protected:
  void Open() {
    ControllerConfig cfg;
    cfg.node_timeout = std::chrono::milliseconds(60000);
    cfg.default_time_limit_s = 1800;
    auto c = Controller::Open(store_, cfg);
    ASSERT_TRUE(c.ok()) << c.error().message;
    c_ = std::move(*c);
    agent_.Register(*c_);
  }
  void Crash() {
    c_->Shutdown();
    c_.reset();
    Open();
  }
  void ApplyOrg() {
    auto out = c_->ApplyOrg(OrgDoc(WallNow()).dump());
    ASSERT_TRUE(out.ok()) << out.error().message;
  }
  Outcome<std::vector<JobId>> Submit(const std::string& project, int gpus, std::optional<Seconds> limit) {
    Json spec{{"command", {"true"}}, {"project", project}, {"user", "ada"}, {"gpus", gpus}};
    if (limit) spec["time_limit_s"] = *limit;
    return c_->Submit(spec.dump(), "");
  }
  bool BeatUntil(const std::function<bool()>& pred, int rounds = 400) { return agent_.BeatUntil(*c_, pred, rounds); }
  api::JobView Show(JobId id) { return c_->ShowJob(id).value(); }
  // Every grant: used + reserved within the award.
  void CheckGrants() {
    for (const GrantView& v : c_->Grants("")) {
      EXPECT_LE(v.used + v.reserved, v.grant.amount) << v.grant.id;
      if (v.grant.id == "b-old") EXPECT_EQ(v.used + v.reserved, 0);
    }
  }

  store::MemoryStore store_;
  FakeAgent agent_{"n1", 8, "H100-80GB"};
  std::unique_ptr<Controller> c_;
};

TEST_F(OrgControllerTest, AFlatPoolAcceptsAnyProject) {
  Open();
  EXPECT_TRUE(Submit("whatever", 1, 60).ok());
}

TEST_F(OrgControllerTest, SubmissionNeedsAKnownProjectWithAnActiveGrant) {
  Open();
  ApplyOrg();
  auto unknown = Submit("zzz", 1, 60);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ApiCode::kInvalidArgument);
  EXPECT_NE(unknown.error().message.find("no project named \"zzz\""), std::string::npos) << unknown.error().message;
  auto none = Submit("c", 1, 60);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ApiCode::kConflict);
  EXPECT_NE(none.error().message.find("project \"c\" has no active grant"), std::string::npos) << none.error().message;
  EXPECT_TRUE(Submit("a", 1, 60).ok());
  EXPECT_TRUE(Submit("b", 1, 60).ok());  // b-now is active; b-old is not
}

TEST_F(OrgControllerTest, AJobWithoutTimeLimitGetsTheDefaultAndReservesIt) {
  Open();
  ApplyOrg();
  auto ids = Submit("a", 1, std::nullopt);
  ASSERT_TRUE(ids.ok());
  const JobId id = ids.value()[0];
  ASSERT_TRUE(BeatUntil([&] { return Show(id).state == api::JobState::kRunning; }));
  EXPECT_EQ(Show(id).spec.time_limit_s, 1800);
  EXPECT_EQ(agent_.LimitOf(id), 1800);  // the agent enforces it
  // 1 H100 (weight 2) for 1800 s = 1 normalised GPU-hour, against the grant ending soonest.
  bool found = false;
  for (const GrantView& v : c_->Grants("a"))
    if (v.grant.id == "a-soon") {
      found = true;
      EXPECT_EQ(v.used + v.reserved, kNormPerGpuHour);
      EXPECT_GT(v.burn_gpu_hours_per_hour, 1.99);
      ASSERT_TRUE(v.runs_out.has_value());
    }
  EXPECT_TRUE(found);
}

TEST_F(OrgControllerTest, ExhaustedGrantMakesJobsWaitAndExpiredGrantsDoNotCount) {
  Open();
  ApplyOrg();
  // b-now has 2.5 GPU-hours; each job reserves 1 (1 H100 x 1800 s x 2).
  std::vector<JobId> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(Submit("b", 1, 1800).value()[0]);
  ASSERT_TRUE(BeatUntil([&] { return agent_.Running().size() == 2; }));
  ASSERT_TRUE(BeatUntil([&] { return Show(ids[2]).reason == "GrantExhausted"; })) << Show(ids[2]).reason;
  EXPECT_EQ(Show(ids[2]).state, api::JobState::kPending);
  CheckGrants();
  // One ends: its reservation is released, the third starts.
  const auto first = agent_.Running()[0];
  agent_.End(first.first, first.second);
  ASSERT_TRUE(BeatUntil([&] { return Show(ids[2]).state == api::JobState::kRunning; }));
  CheckGrants();
}

TEST_F(OrgControllerTest, EachRunIsChargedOnceAcrossACrash) {
  Open();
  ApplyOrg();
  const JobId id = Submit("a", 2, 600).value()[0];
  ASSERT_TRUE(BeatUntil([&] { return Show(id).state == api::JobState::kRunning; }));
  Crash();  // the reservation comes back from the job record
  NormUnits reserved = 0;
  for (const GrantView& v : c_->Grants("a")) reserved += v.reserved + v.used;
  EXPECT_EQ(reserved, 2 * 2 * 1000 * 600);
  agent_.End(id, 1);
  ASSERT_TRUE(BeatUntil([&] { return Show(id).state == api::JobState::kCompleted; }));
  Crash();
  // The agent reports the ended task again (as if the ack had been lost).
  agent_.Beat(*c_);
  std::map<std::string, int> runs;
  for (const UsageRecord& r : c_->UsageRecords()) ++runs[fmt::format("{}.{}", r.job, r.attempt)];
  EXPECT_EQ(runs, (std::map<std::string, int>{{fmt::format("{}.1", id), 1}}));
  for (const GrantView& v : c_->Grants("a")) EXPECT_EQ(v.reserved, 0) << v.grant.id;
}

// Seeded random mixes of submissions, ends, cancellations and crashes:
// every grant stays within its award at every step, and in the store each
// started run has exactly one usage record and reservations + charges stay
// within the award.
TEST_F(OrgControllerTest, GrantsAreNeverOverspentUnderRandomMixes) {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE(seed);
    store_ = store::MemoryStore{};
    Open();
    ApplyOrg();
    std::mt19937_64 rng(seed);
    std::vector<JobId> jobs;
    for (int step = 0; step < 60; ++step) {
      const int action = static_cast<int>(rng() % 10);
      if (action < 4) {
        const std::string project = rng() % 2 ? "a" : "b";
        const int gpus = 1 + static_cast<int>(rng() % 3);
        const Seconds limits[] = {300, 900, 1800, 0};
        const Seconds limit = limits[rng() % 4];
        auto ids = Submit(project, gpus, limit ? std::optional<Seconds>(limit) : std::nullopt);
        ASSERT_TRUE(ids.ok()) << ids.error().message;
        jobs.push_back(ids.value()[0]);
      } else if (action < 7) {
        auto running = agent_.Running();
        if (!running.empty()) {
          const auto k = running[rng() % running.size()];
          agent_.End(k.first, k.second);
        }
      } else if (action < 9) {
        if (!jobs.empty()) (void)c_->Cancel(jobs[rng() % jobs.size()]);
      } else {
        Crash();
      }
      for (int i = 0; i < 3; ++i) {
        agent_.Beat(*c_);
        std::this_thread::sleep_for(std::chrono::milliseconds(3));
      }
      CheckGrants();
    }
    // Drain: end everything, then look at the store itself.
    for (JobId id : jobs) (void)c_->Cancel(id);
    ASSERT_TRUE(BeatUntil([&] {
      for (JobId id : jobs)
        if (!api::IsTerminal(Show(id).state)) return false;
      return true;
    }));
    CheckGrants();
    c_->Shutdown();
    c_.reset();
    auto st = store_.Load();
    ASSERT_TRUE(st.ok());
    std::map<std::string, NormUnits> spent;
    std::set<std::string> usage_keys;
    for (const auto& d : st->docs) {
      if (d.kind != "usage") continue;
      usage_keys.insert(d.key);
      auto j = Json::parse(d.json);
      spent[j["grant"].get<std::string>()] += j["norm_units"].get<NormUnits>();
      EXPECT_LE(j["norm_units"].get<NormUnits>(), 2 * 3 * 1000 * 1800) << d.key;
    }
    int started = 0;
    for (const auto& row : st->jobs) {
      auto j = Json::parse(row.json);
      const int attempts = j["view"].value("attempt", 0);
      for (int a = 1; a <= attempts; ++a) {
        ++started;
        EXPECT_TRUE(usage_keys.count(fmt::format("{}.{}", row.id, a))) << row.id << "." << a << " not charged";
      }
    }
    EXPECT_EQ(static_cast<int>(usage_keys.size()), started);
    const Json org = OrgDoc(WallNow());
    for (const auto& g : org["grants"]) {
      const NormUnits amount = std::llround(g["gpu_hours"].get<double>() * kNormPerGpuHour);
      EXPECT_LE(spent[g["id"].get<std::string>()], amount) << g["id"];
    }
    EXPECT_EQ(spent["b-old"], 0);
    EXPECT_GT(started, 0);
    agent_ = FakeAgent{"n1", 8, "H100-80GB"};
  }
}

TEST_F(OrgControllerTest, DevDefaultsAreCreatedOnceAndMakeTheUserLead) {
  Open();
  ASSERT_TRUE(c_->EnsureDevDefaults("ada", WallNow()).ok());
  ASSERT_TRUE(c_->EnsureDevDefaults("ada", WallNow()).ok());
  auto cfg = c_->org().Config();
  EXPECT_EQ(cfg->projects.size(), 1u);
  EXPECT_EQ(cfg->grants.size(), 1u);
  EXPECT_EQ(cfg->members.size(), 1u);
  EXPECT_EQ(c_->org().RoleIn("default", "ada"), ProjectRole::kLead);
  EXPECT_EQ(cfg->grants[0].amount, 1'000'000 * kNormPerGpuHour);
  auto ids = c_->Submit(R"({"command": ["true"], "gpus": 1})", "");  // project defaults to "default"
  EXPECT_TRUE(ids.ok());
  Crash();  // persisted
  EXPECT_TRUE(c_->org().HasProject("default"));
}

TEST_F(OrgControllerTest, BadDocumentsAndGrantsGetFieldErrors) {
  Open();
  Json doc = OrgDoc(WallNow());
  doc["projects"][1]["organisation"] = "uni-z";
  auto bad = c_->ApplyOrg(doc.dump());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("projects[1].organisation"), std::string::npos) << bad.error().message;
  EXPECT_TRUE(c_->org().Empty());  // nothing applied
  ApplyOrg();
  auto g = c_->AddGrant(R"({"id": "c-1", "project": "c", "gpu_hours": -1, "start": "2026-01-01", "end": "2027-01-01"})");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().message.rfind("gpu_hours:", 0), 0u) << g.error().message;
  auto dup = c_->AddGrant(R"({"id": "a-soon", "project": "c", "gpu_hours": 1, "start": "2026-01-01", "end": "2027-01-01"})");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ApiCode::kConflict);
  const Seconds now = WallNow();
  auto ok = c_->AddGrant(Json{{"id", "c-1"}, {"project", "c"}, {"gpu_hours", 5}, {"start", Iso(now - 10)}, {"end", Iso(now + 3600)}}.dump());
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok.value().grant.amount, 5 * kNormPerGpuHour);
  EXPECT_TRUE(ok.value().active);
  EXPECT_TRUE(Submit("c", 1, 60).ok());
}

TEST_F(OrgControllerTest, ExtendGrowsALimitWithinTheProjectsAllowanceReservesTheGrantAndTellsTheAgent) {
  Open();
  Json doc = OrgDoc(WallNow());
  doc["projects"][0]["max_extend_s"] = 1800;  // a: 30 min per job; b: none
  ASSERT_TRUE(c_->ApplyOrg(doc.dump()).ok());
  auto ids = Submit("a", 1, 3600);
  ASSERT_TRUE(ids.ok());
  const JobId id = ids.value()[0];
  ASSERT_TRUE(BeatUntil([&] { return Show(id).state == api::JobState::kRunning; }));
  auto reserved = [&] {
    NormUnits r = 0;
    for (const GrantView& v : c_->Grants("a")) r += v.reserved;
    return r;
  };
  const NormUnits before = reserved();
  EXPECT_EQ(before, 2 * kNormPerGpuHour);  // an H100 weighs 2

  auto longer = c_->Extend(id, 1200, /*privileged=*/false);
  ASSERT_TRUE(longer.ok()) << longer.error().message;
  EXPECT_EQ(longer.value().spec.time_limit_s, 4800);
  EXPECT_EQ(longer.value().spec.extended_s, 1200);
  EXPECT_EQ(reserved(), before + 2 * kNormPerGpuHour / 3);
  ASSERT_TRUE(BeatUntil([&] { return agent_.LimitOf(id) == 4800; }, 20)) << "the agent was not told";
  const int told = agent_.limit_commands;
  for (int i = 0; i < 3; ++i) agent_.Beat(*c_);
  EXPECT_EQ(agent_.limit_commands, told) << "a limit the agent reports is not sent again";

  // Beyond the project's 30 min: refused for a member, allowed to an operator.
  auto refused = c_->Extend(id, 1200, false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ApiCode::kForbidden);
  EXPECT_NE(refused.error().message.find("by 30 min in all"), std::string::npos) << refused.error().message;
  // The run's grant (a-soon, 3 GPU-hours) has a third of one left: 20 more
  // minutes of an H100 need two thirds.
  auto grant = c_->Extend(id, 1200, /*privileged=*/true);
  ASSERT_FALSE(grant.ok());
  EXPECT_EQ(grant.error().code, ApiCode::kConflict);
  EXPECT_NE(grant.error().message.find("grant a-soon has 0.333 GPU-hours left"), std::string::npos)
      << grant.error().message;
  ASSERT_TRUE(c_->Extend(id, 300, /*privileged=*/true).ok());
  EXPECT_EQ(Show(id).spec.extended_s, 1500);
  CheckGrants();

  // What was extended and reserved survives a crash.
  const NormUnits reserved_now = reserved();
  Crash();
  EXPECT_EQ(Show(id).spec.time_limit_s, 5100);
  EXPECT_EQ(reserved(), reserved_now);

  // A project that allows none; a job that ended.
  auto other = Submit("b", 0, 600);
  ASSERT_TRUE(other.ok());
  auto none = c_->Extend(other.value()[0], 60, false);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("project b lets its members extend no job"), std::string::npos)
      << none.error().message;
  ASSERT_TRUE(BeatUntil([&] { return agent_.End(id, 1); }));
  ASSERT_TRUE(BeatUntil([&] { return Show(id).state == api::JobState::kCompleted; }));
  auto ended = c_->Extend(id, 60, true);
  ASSERT_FALSE(ended.ok());
  EXPECT_EQ(ended.error().code, ApiCode::kConflict);
  EXPECT_EQ(reserved(), 0);
  CheckGrants();
}

TEST_F(OrgControllerTest, ASessionGetsItsProjectsIdleTimeoutAndAnIdleEndIsACancel) {
  Open();
  Json doc = OrgDoc(WallNow());
  doc["projects"][0]["idle_timeout_s"] = 900;
  ASSERT_TRUE(c_->ApplyOrg(doc.dump()).ok());
  auto submit = [&](Json spec) {
    spec["project"] = "a";
    spec["user"] = "ada";
    spec["time_limit_s"] = 3600;
    auto r = c_->Submit(spec.dump(), "");
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? r.value()[0] : JobId{0};
  };
  const JobId session = submit({{"command", {"bash"}}, {"pty", true}});
  const JobId shorter = submit({{"command", {"bash"}}, {"pty", true}, {"idle_timeout_s", 60}});
  const JobId longer = submit({{"command", {"bash"}}, {"pty", true}, {"idle_timeout_s", 5000}});
  const JobId batch = submit({{"command", {"true"}}});
  EXPECT_EQ(Show(session).spec.idle_timeout_s, 900);
  EXPECT_EQ(Show(shorter).spec.idle_timeout_s, 60);
  EXPECT_EQ(Show(longer).spec.idle_timeout_s, 900);
  EXPECT_EQ(Show(batch).spec.idle_timeout_s, std::nullopt);
  ASSERT_TRUE(BeatUntil([&] { return Show(session).state == api::JobState::kRunning; }));
  ASSERT_TRUE(agent_.EndIdle(session, 1));
  ASSERT_TRUE(BeatUntil([&] { return api::IsTerminal(Show(session).state); }));
  const api::JobView v = Show(session);
  EXPECT_EQ(v.state, api::JobState::kCancelled);
  EXPECT_EQ(v.reason, "Idle");
  EXPECT_NE(v.message.find("900 s without terminal input or use of its GPUs"), std::string::npos) << v.message;
}

}  // namespace
}  // namespace kojo::controller
