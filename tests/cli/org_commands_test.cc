// `kojo usage`, `kojo grants` and `kojo admin`: rendering, and the real
// `kojo` binary against a real kojod (--org) and kojo-agent on 127.0.0.1.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

#include <fmt/format.h>

#include "cli/org_commands.h"
#include "controller/daemons.h"

namespace kojo::cli {
namespace {

using ::testing::HasSubstr;
using Json = api::Json;

TEST(OrgRendering, UsageTableAndCsv) {
  const Json report = Json::parse(R"({"by": "user", "rows": [
      {"key": "ada", "raw_gpu_hours": 1.5, "norm_gpu_hours": 3, "runs": 2},
      {"key": "b,\"c\"", "raw_gpu_hours": 0.25, "norm_gpu_hours": 0.5, "runs": 1}],
      "total": {"raw_gpu_hours": 1.75, "norm_gpu_hours": 3.5}})");
  EXPECT_EQ(UsageCsv(report),
            "user,raw_gpu_hours,norm_gpu_hours,runs\n"
            "ada,1.500,3.000,2\n"
            "\"b,\"\"c\"\"\",0.250,0.500,1\n");
  const std::string table = UsageTable(report);
  EXPECT_THAT(table, HasSubstr("user"));
  EXPECT_THAT(table, HasSubstr("TOTAL"));
  EXPECT_THAT(table, HasSubstr("3.500"));
}

TEST(OrgRendering, Durations) {
  EXPECT_EQ(ParseSpan("7200").value(), 7200);
  EXPECT_EQ(ParseSpan("120m").value(), 7200);
  EXPECT_EQ(ParseSpan("2h").value(), 7200);
  EXPECT_EQ(ParseSpan("1h30m").value(), 5400);
  EXPECT_EQ(ParseSpan("1d").value(), 86400);
  for (const char* bad : {"", "0", "2x", "h", "1h30", "-5", "2 h", "400d"})
    EXPECT_FALSE(ParseSpan(bad).ok()) << bad;
  EXPECT_EQ(ParseSpan("2x").error().message, "expected a duration such as 2h, 120m, 1h30m or 7200 (seconds), got \"2x\"");
}

TEST(OrgRendering, GrantsCsvHasOneLinePerGrant) {
  const Json grants = Json::parse(R"({"grants": [
      {"id": "g1", "project": "p", "programme": "prog", "start": "2026-01-01T00:00:00Z", "end": "2027-01-01T00:00:00Z",
       "active": true, "awarded_gpu_hours": 10, "used_gpu_hours": 2, "reserved_gpu_hours": 1, "left_gpu_hours": 7,
       "runs_out": "2026-05-01T00:00:00Z"},
      {"id": "g0", "project": "p", "programme": "prog", "start": "2025-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z",
       "active": false, "awarded_gpu_hours": 1, "used_gpu_hours": 1, "reserved_gpu_hours": 0, "left_gpu_hours": 0,
       "runs_out": null}]})");
  EXPECT_EQ(GrantsCsv(grants),
            "grant,project,programme,start,end,active,awarded,used,reserved,left,runs_out\n"
            "g1,p,prog,2026-01-01T00:00:00Z,2027-01-01T00:00:00Z,yes,10.000,2.000,1.000,7.000,2026-05-01T00:00:00Z\n"
            "g0,p,prog,2025-01-01T00:00:00Z,2026-01-01T00:00:00Z,no,1.000,1.000,0.000,0.000,-\n");
}

#if defined(KOJOD_BINARY) && defined(KOJO_AGENT_BINARY)

using kojo::testing::Body;
using kojo::testing::Kojod;
using kojo::testing::Process;
using kojo::testing::ReadFile;
using kojo::testing::TempDir;
using kojo::testing::WaitFor;
using namespace std::chrono_literals;

std::string Day(std::int64_t offset_days) {
  std::time_t t = std::time(nullptr) + offset_days * 86400;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

struct Ran {
  int code = -1;
  std::string out, err;
};

class OrgCli : public ::testing::Test {
 protected:
  void SetUp() override {
    const Json org{{"programmes", Json::array({{{"name", "prog"}}})},
                   {"organisations", Json::array({{{"name", "org"}, {"programme", "prog"}}})},
                   {"projects", Json::array({{{"name", "p"}, {"organisation", "org"}}, {{"name", "q"}, {"organisation", "org"}}})},
                   {"grants", Json::array({{{"id", "g"}, {"project", "p"}, {"gpu_hours", 10}, {"start", Day(-1)}, {"end", Day(365)}}})},
                   {"members", Json::array({{{"project", "p"}, {"user", "ada"}, {"role", "lead"}}})}};
    org_ = dir_.path() + "/org.json";
    std::ofstream(org_) << org.dump(2);
    kojod_ = std::make_unique<Kojod>(dir_.path() + "/kojod", std::vector<std::string>{"--org", org_});
    ASSERT_TRUE(kojod_->ok()) << kojod_->log();
    agent_ = Process({KOJO_AGENT_BINARY, "--server", kojod_->url(), "--name", "n1", "--state-dir", dir_.path() + "/n1",
                      "--listen", "127.0.0.1:0", "--emulate-gpus", "2xH100-80GB", "--heartbeat-wait-ms", "300"},
                     dir_.path() + "/n1.log");
    ASSERT_TRUE(WaitFor([&] { return Body(kojod_->Client().Get("/api/v1/nodes/n1")).value("state", "") == "UP"; }, 15s));
  }
  Ran Kojo(const std::string& args) {
    static int n = 0;
    const std::string out = fmt::format("{}/out.{}", dir_.path(), ++n), err = out + ".err";
    const std::string cmd = fmt::format("env -u KOJO_SERVER -u KOJO_TOKEN HOME={0} XDG_CONFIG_HOME={0}/config {1} {2} "
                                        "--server {3} >{4} 2>{5}",
                                        dir_.path(), KOJO_BINARY, args, kojod_->url(), out, err);
    const int status = std::system(cmd.c_str());
    return Ran{WIFEXITED(status) ? WEXITSTATUS(status) : -1, ReadFile(out), ReadFile(err)};
  }

  TempDir dir_;
  std::string org_;
  std::unique_ptr<Kojod> kojod_;
  Process agent_;
};

TEST_F(OrgCli, AdminGrantsAndUsage) {
  Ran r = Kojo("admin show --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Json::parse(r.out)["projects"].size(), 2u);
  r = Kojo("admin show");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("ada*"));

  // q gets a grant; then a job of p runs and shows in the reports.
  r = Kojo(fmt::format("admin grant add --project q --gpu-hours 5 --start {} --end {}", Day(-1), Day(30)));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("q-" + Day(-1)));
  r = Kojo(fmt::format("admin grant add --project q --gpu-hours 5 --start {} --end {}", Day(-1), Day(30)));
  EXPECT_EQ(r.code, 1) << r.err;  // the same id again: a conflict
  EXPECT_THAT(r.err, HasSubstr("exists already"));
  r = Kojo("admin grant add --project zz --gpu-hours 5 --start 2026-01-01 --end 2027-01-01");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("project"));

  auto sub = kojod_->Client().Post("/api/v1/jobs", R"({"command": ["sleep", "0.2"], "project": "p", "user": "ada", "gpus": 1, "time_limit_s": 60})",
                                   "application/json");
  ASSERT_TRUE(sub && sub->status == 201);
  const auto id = Body(sub)["ids"][0].get<std::int64_t>();
  ASSERT_TRUE(WaitFor([&] { return Body(kojod_->Client().Get(fmt::format("/api/v1/jobs/{}", id).c_str()))["state"] == "COMPLETED"; }, 20s));

  r = Kojo("grants --csv");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("grant,project,programme"));
  EXPECT_THAT(r.out, HasSubstr("\ng,p,prog,"));
  r = Kojo("grants --project q --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Json::parse(r.out)["grants"].size(), 1u);
  r = Kojo("usage --by user --csv");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("user,raw_gpu_hours,norm_gpu_hours,runs\nada,"));
  r = Kojo(fmt::format("usage --by gpu_model --from {} --to {} --json", Day(-1), Day(1)));
  ASSERT_EQ(r.code, 0) << r.err;
  const Json usage = Json::parse(r.out);
  ASSERT_EQ(usage["rows"].size(), 1u);
  EXPECT_EQ(usage["rows"][0]["key"], "H100");
  EXPECT_EQ(usage["rows"][0]["runs"], 1);
  r = Kojo("usage --by colour");
  EXPECT_EQ(r.code, 2);

  // apply: a bad document is refused with its field, a good one replaces the model.
  std::ofstream(dir_.path() + "/bad.json") << R"({"projects": [{"name": "x", "organisation": "nowhere"}]})";
  r = Kojo("admin apply -f " + dir_.path() + "/bad.json");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("projects[0].organisation"));
  r = Kojo("admin apply -f " + org_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("applied: 1 programmes, 1 organisations, 2 projects, 1 grants, 1 members"));
}

std::string IsoIn(std::int64_t seconds) {
  std::time_t t = std::time(nullptr) + seconds;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

TEST_F(OrgCli, AdminReservationsAndWhyShowsTheHold) {
  const std::string start = IsoIn(3600);
  Ran r = Kojo(fmt::format("admin reservation create --name lab --project q --gpus 2 --gpu-model H100 --start {} "
                           "--duration 2h --weekly", start));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("lab"));
  EXPECT_THAT(r.out, HasSubstr("n1"));
  r = Kojo("admin reservation list --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const Json list = Json::parse(r.out);
  ASSERT_EQ(list["reservations"].size(), 1u);
  EXPECT_EQ(list["reservations"][0]["nodes"], Json::array({"n1"}));
  EXPECT_EQ(list["reservations"][0]["duration_s"], 7200);
  EXPECT_EQ(list["reservations"][0]["next_window"]["start"], start);
  r = Kojo("admin reservation list");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("next window"));
  EXPECT_THAT(r.out, HasSubstr("2:00:00"));

  // A job of p that would run into the window waits, and kojo why says so.
  auto sub = kojod_->Client().Post("/api/v1/jobs", R"({"command": ["true"], "project": "p", "user": "ada", "gpus": 1, "time_limit_s": 7200})",
                                   "application/json");
  ASSERT_TRUE(sub && sub->status == 201);
  const auto id = Body(sub)["ids"][0].get<std::int64_t>();
  const std::string job = fmt::format("/api/v1/jobs/{}", id);
  ASSERT_TRUE(WaitFor([&] { return Body(kojod_->Client().Get(job.c_str())).value("reason", "") == "Reservation"; }, 10s));
  r = Kojo(fmt::format("why {}", id));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Reservation"));
  EXPECT_THAT(r.out, HasSubstr("node n1 is reserved for project q (reservation lab) from in 60 min for 2.0 h"));

  // Bad input is refused with the field; one that cannot be held with why.
  r = Kojo(fmt::format("admin reservation create --name x --project zz --gpus 1 --start {} --duration 1h", start));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("project: no project named \"zz\""));
  r = Kojo(fmt::format("admin reservation create --name x --project q --gpus 1 --start {} --duration 2x", start));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--duration: expected a duration"));
  r = Kojo(fmt::format("admin reservation create --name x --project q --gpus 1 --start tuesday --duration 1h"));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("start:"));
  r = Kojo(fmt::format("admin reservation create --name x --project q --gpus 1 --start {} --duration 90m", start));
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("reservation x: 1 GPUs asked, only 0 can be held"));

  // Deleted: the job starts.
  r = Kojo("admin reservation delete lab");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("deleted reservation lab"));
  ASSERT_TRUE(WaitFor([&] { return Body(kojod_->Client().Get(job.c_str())).value("state", "") == "COMPLETED"; }, 20s));
  r = Kojo("admin reservation delete lab");
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err, HasSubstr("not found"));
  r = Kojo("admin reservation list");
  EXPECT_EQ(r.out, "no reservations\n");
}

TEST_F(OrgCli, RosterImportIsIdempotentAndUsageByUserOfOneProject) {
  std::string csv = "login,name,email\n";
  for (int i = 1; i <= 300; ++i) csv += fmt::format("s{:03},Student {},s{:03}@uni.example\n", i, i, i);
  const std::string file = dir_.path() + "/roster.csv";
  std::ofstream(file) << csv;
  Ran r = Kojo("admin roster import p " + file);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("300 added, 0 removed, 0 updated; project p has 301 members"));
  r = Kojo("admin roster import p " + file);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("0 added, 0 removed, 0 updated"));
  r = Kojo("admin show --json");
  ASSERT_EQ(r.code, 0) << r.err;
  int members = 0;
  const Json org = Json::parse(r.out);
  for (const Json& m : org["members"])
    if (m["project"] == "p") ++members;
  EXPECT_EQ(members, 301);  // the lead stays

  // A bad row: the line and the field; nothing changes.
  std::ofstream(dir_.path() + "/bad.csv") << "login,name\ns001,A\ns 2,B\n";
  r = Kojo("admin roster import p " + dir_.path() + "/bad.csv");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("bad.csv:3: login: expected letters, digits"));
  std::ofstream(dir_.path() + "/dup.csv") << "login,name\ns001,A\ns001,B\n";
  r = Kojo("admin roster import p " + dir_.path() + "/dup.csv");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("dup.csv:3: login: \"s001\" is also on line 2"));
  r = Kojo("admin roster import zz " + file);
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err, HasSubstr("project \"zz\" not found"));

  // The instructor's view: one project's usage by user.
  auto sub = kojod_->Client().Post("/api/v1/jobs", R"({"command": ["true"], "project": "p", "user": "s007", "gpus": 1, "time_limit_s": 60})",
                                   "application/json");
  ASSERT_TRUE(sub && sub->status == 201);
  const auto id = Body(sub)["ids"][0].get<std::int64_t>();
  ASSERT_TRUE(WaitFor([&] { return Body(kojod_->Client().Get(fmt::format("/api/v1/jobs/{}", id).c_str()))["state"] == "COMPLETED"; }, 20s));
  r = Kojo("usage --project p --by user --json");
  ASSERT_EQ(r.code, 0) << r.err;
  Json usage = Json::parse(r.out);
  ASSERT_EQ(usage["rows"].size(), 1u) << r.out;
  EXPECT_EQ(usage["rows"][0]["key"], "s007");
  r = Kojo("usage --project q --by user --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Json::parse(r.out)["rows"].size(), 0u) << r.out;
  r = Kojo("usage --project p --by user");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("s007"));
  r = Kojo("usage --project zz --by user");
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err, HasSubstr("project \"zz\" not found"));
}

#endif

}  // namespace
}  // namespace kojo::cli
