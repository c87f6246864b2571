// Usage records, usage reports and the organisation registry's stored
// form, without a controller.
#include <gtest/gtest.h>

#include <map>

#include "controller/ledger.h"
#include "controller/org_registry.h"

namespace kojo::controller {
namespace {

using api::Json;

api::OrgConfig Parse(const char* text) {
  auto c = api::OrgConfigFromJson(Json::parse(text));
  EXPECT_TRUE(c.ok()) << c.error().message;
  return c.ok() ? *c : api::OrgConfig{};
}

constexpr const char* kOrg = R"({
  "gpu_weights": {"H100": 2.0, "T4": 0.25},
  "programmes": [{"name": "research"}, {"name": "industry", "share": 2}],
  "organisations": [{"name": "uni-a", "programme": "research"}, {"name": "acme", "programme": "industry"}],
  "projects": [{"name": "vision", "organisation": "uni-a", "guaranteed_gpus": 4, "borrow_limit": 8},
               {"name": "robots", "organisation": "acme"}],
  "grants": [{"id": "v-late", "project": "vision", "gpu_hours": 10, "start": "2026-01-01", "end": "2027-01-01"},
             {"id": "v-soon", "project": "vision", "gpu_hours": 1, "start": "2026-01-01", "end": "2026-06-01"},
             {"id": "v-old", "project": "vision", "gpu_hours": 100, "start": "2025-01-01", "end": "2026-01-01"}],
  "members": [{"project": "vision", "user": "ada", "role": "lead"}, {"project": "vision", "user": "bob"},
              {"project": "robots", "user": "bob", "role": "lead"}]
})";


TEST(GrantLedger, KeepsEachRunOnce) {
  GrantLedger l;
  UsageRecord r;
  r.job = 7;
  r.attempt = 1;
  r.project = "vision";
  r.grant = "v-late";
  r.norm = 1000;
  EXPECT_TRUE(l.Record(r));
  EXPECT_FALSE(l.Record(r));  // replayed: ignored
  EXPECT_EQ(l.records().size(), 1u);
  r.attempt = 2;
  EXPECT_TRUE(l.Record(r));
  EXPECT_EQ(l.records().size(), 2u);
}

// Old runs merge into one record per day and (project, user, grant, GPU
// model): grant totals, per-day reports and run counts stay exact, and a
// second compaction merges what became old since into the same records.
TEST(GrantLedger, CompactMergesOldRunsPerDayAndKeepsTotals) {
  constexpr Seconds kDay = 86400, kD0 = 20000 * kDay;  // a UTC midnight
  GrantLedger l;
  JobId next = 1;
  auto run = [&](const std::string& user, const std::string& grant, Seconds start, Seconds end, NormUnits norm) {
    UsageRecord r;
    r.job = next++;
    r.attempt = 1;
    r.user = user;
    r.project = "vision";
    r.organisation = "uni-a";
    r.programme = "research";
    r.grant = grant;
    r.gpu_model = "H100";
    r.gpus = 1;
    r.start = start;
    r.end = end;
    r.raw_milli_gpu_s = (end - start) * 1000;
    r.norm = norm;
    ASSERT_TRUE(l.Record(r));
  };
  run("ada", "g", kD0 + 100, kD0 + 200, 10);
  run("ada", "g", kD0 + 300, kD0 + 400, 20);
  run("bob", "g", kD0 + 500, kD0 + 600, 40);
  run("ada", "g", kD0 + kDay + 10, kD0 + kDay + 20, 80);    // the next day
  run("ada", "g", kD0 + 2 * kDay, kD0 + 2 * kDay + 5, 160);  // not old yet
  auto totals = [&] {
    std::map<std::string, NormUnits> by_grant;
    int runs = 0;
    for (const auto& r : l.records()) {
      by_grant[r.grant] += r.norm;
      runs += r.runs;
    }
    return std::make_pair(by_grant["g"], runs);
  };
  const auto day0 = Summarise(l.records(), UsageBy::kUser, kD0, kD0 + kDay);
  ASSERT_EQ(totals(), std::make_pair(NormUnits{310}, 5));

  auto rows = l.Compact(kD0 + 2 * kDay);
  // Three merged records written (day 0: ada, bob; day 1: ada); the four old runs deleted.
  int written = 0, deleted = 0;
  for (const auto& row : rows) (row.deleted ? deleted : written) += 1;
  EXPECT_EQ(written, 3);
  EXPECT_EQ(deleted, 4);
  EXPECT_EQ(l.records().size(), 4u);
  EXPECT_EQ(totals(), std::make_pair(NormUnits{310}, 5));
  const auto after = Summarise(l.records(), UsageBy::kUser, kD0, kD0 + kDay);
  ASSERT_EQ(after.size(), day0.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].key, day0[i].key);
    EXPECT_DOUBLE_EQ(after[i].norm_gpu_hours, day0[i].norm_gpu_hours);
    EXPECT_DOUBLE_EQ(after[i].raw_gpu_hours, day0[i].raw_gpu_hours);
    EXPECT_EQ(after[i].runs, day0[i].runs);
  }
  // The merged record round-trips through its document, and is charged once.
  for (const auto& row : rows) {
    if (row.deleted) continue;
    auto back = UsageFromJson(Json::parse(row.json));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(UsageKey(*back), row.key);
    EXPECT_FALSE(l.Record(*back));
  }
  EXPECT_TRUE(l.Compact(kD0 + 2 * kDay).empty()) << "nothing new to merge";
  // A late run of day 1 (ended then, settled now) joins day 1's record.
  run("ada", "g", kD0 + kDay + 30, kD0 + kDay + 40, 1);
  rows = l.Compact(kD0 + 2 * kDay);
  ASSERT_EQ(rows.size(), 2u);  // its own record deleted, day 1's rewritten
  EXPECT_EQ(totals(), std::make_pair(NormUnits{311}, 6));
  EXPECT_EQ(l.records().size(), 4u);
}

TEST(UsageReport, ProRatesRecordsThatOverlapTheRange) {
  UsageRecord r;
  r.project = "vision";
  r.user = "ada";
  r.start = 0;
  r.end = 3600;
  r.raw_milli_gpu_s = 1000LL * 3600;  // 1 GPU-hour
  r.norm = 2 * kNormPerGpuHour;
  auto rows = Summarise({r}, UsageBy::kProject, 1800, 7200);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_DOUBLE_EQ(rows[0].raw_gpu_hours, 0.5);
  EXPECT_DOUBLE_EQ(rows[0].norm_gpu_hours, 1.0);
  EXPECT_TRUE(Summarise({r}, UsageBy::kProject, 3600, 7200).empty());
}

TEST(UsageReport, EveryDimensionAddsUpToTheSameTotal) {
  std::vector<UsageRecord> recs;
  const char* users[] = {"ada", "bob", "cy"};
  const char* projects[] = {"vision", "robots"};
  for (int i = 0; i < 30; ++i) {
    UsageRecord r;
    r.job = i;
    r.user = users[i % 3];
    r.project = projects[i % 2];
    r.organisation = i % 2 ? "acme" : "uni-a";
    r.programme = i % 2 ? "industry" : "research";
    r.gpu_model = i % 5 ? "H100" : "T4";
    r.start = i * 100;
    r.end = i * 100 + 50 + i;
    r.raw_milli_gpu_s = 1000LL * (50 + i);
    r.norm = 1700LL * (50 + i);
    recs.push_back(r);
  }
  auto total = [&](UsageBy by) {
    double raw = 0, norm = 0;
    for (const auto& row : Summarise(recs, by, 250, 2500)) {
      raw += row.raw_gpu_hours;
      norm += row.norm_gpu_hours;
    }
    return std::make_pair(raw, norm);
  };
  const auto p = total(UsageBy::kProject);
  for (UsageBy by : {UsageBy::kUser, UsageBy::kOrganisation, UsageBy::kProgramme, UsageBy::kGpuModel}) {
    EXPECT_NEAR(total(by).first, p.first, 1e-9) << ToString(by);
    EXPECT_NEAR(total(by).second, p.second, 1e-9) << ToString(by);
  }
}

TEST(UsageRecordDoc, RoundTrips) {
  UsageRecord r;
  r.job = 12;
  r.attempt = 3;
  r.user = "ada";
  r.project = "vision";
  r.grant = "v-late";
  r.gpu_model = "H100-80GB";
  r.gpus = 4;
  r.gpu_milli = 500;
  r.start = 10;
  r.end = 20;
  r.raw_milli_gpu_s = 20000;
  r.norm = 40000;
  const store::DocRow row = UsageDoc(r);
  EXPECT_EQ(row.kind, "usage");
  EXPECT_EQ(row.key, "12.3");
  auto back = UsageFromJson(Json::parse(row.json));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(ToJson(*back), ToJson(r));
  EXPECT_FALSE(UsageFromJson(Json::parse(R"({"job": "x"})")).ok());
}

TEST(OrgRegistry, StoresOneDocumentPerObjectAndLoadsThemBack) {
  const api::OrgConfig c = Parse(kOrg);
  const auto docs = OrgDocs(c);
  std::map<std::string, int> kinds;
  for (const auto& d : docs) ++kinds[d.kind];
  EXPECT_EQ(kinds["programme"], 2);
  EXPECT_EQ(kinds["organisation"], 2);
  EXPECT_EQ(kinds["project"], 2);
  EXPECT_EQ(kinds["grant"], 3);
  EXPECT_EQ(kinds["member"], 3);
  EXPECT_EQ(kinds["gpu_weights"], 1);
  auto back = OrgFromDocs(docs);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(api::ToJson(*back), api::ToJson(Canonical(c)));
}

// Regression: partitions were not stored, so a restarted kojod lost those
// applied with `kojo admin apply`; their order is kept (the first kept
// partition gives a job its default time).
TEST(OrgRegistry, StoresThePartitionsInTheirOrder) {
  const api::OrgConfig c = Parse(R"({"partitions": [
      {"name": "zeta", "default": true, "default_time_s": 60},
      {"name": "alpha", "max_time_s": 600}]})");
  const auto docs = OrgDocs(c);
  EXPECT_EQ(std::count_if(docs.begin(), docs.end(), [](const store::DocRow& d) { return d.kind == "partitions"; }), 1);
  auto back = OrgFromDocs(docs);
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->partitions.size(), 2u);
  EXPECT_EQ(back->partitions[0].name, "zeta");
  EXPECT_EQ(back->partitions[1].name, "alpha");
  OrgRegistry reg;
  reg.Replace(c);
  EXPECT_TRUE(reg.Replace(c).empty());  // unchanged: nothing to write
  const auto dropped = reg.Replace(api::OrgConfig{});
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0].kind, "partitions");
  EXPECT_TRUE(dropped[0].deleted);
}

TEST(OrgRegistry, ReplaceWritesOnlyTheDifference) {
  OrgRegistry reg;
  EXPECT_TRUE(reg.Empty());
  const auto first = reg.Replace(Parse(kOrg));
  EXPECT_EQ(first.size(), OrgDocs(Parse(kOrg)).size());
  Json j = Json::parse(kOrg);
  j["members"].erase(1);                  // bob leaves vision
  j["grants"][0]["gpu_hours"] = 20;       // v-late grows
  const auto rows = reg.Replace(*api::OrgConfigFromJson(j));
  ASSERT_EQ(rows.size(), 2u);
  int deleted = 0, written = 0;
  for (const auto& r : rows) {
    if (r.deleted) {
      ++deleted;
      EXPECT_EQ(r.kind, "member");
      EXPECT_EQ(r.key, "vision/bob");
    } else {
      ++written;
      EXPECT_EQ(r.key, "v-late");
    }
  }
  EXPECT_EQ(deleted, 1);
  EXPECT_EQ(written, 1);
}

TEST(OrgRegistry, AnswersRolesAndMemberships) {
  OrgRegistry reg;
  reg.Replace(Parse(kOrg));
  EXPECT_FALSE(reg.Empty());
  EXPECT_EQ(reg.RoleIn("vision", "ada"), ProjectRole::kLead);
  EXPECT_EQ(reg.RoleIn("vision", "bob"), ProjectRole::kMember);
  EXPECT_EQ(reg.RoleIn("robots", "ada"), std::nullopt);
  EXPECT_EQ(reg.ProjectsOf("bob"), (std::vector<std::string>{"robots", "vision"}));
  EXPECT_TRUE(reg.ProjectsOf("zed").empty());
  EXPECT_TRUE(reg.HasProject("robots"));
  EXPECT_FALSE(reg.HasProject("nope"));
}

TEST(OrgRegistry, LoadRefusesABrokenStoredDocument) {
  std::vector<store::DocRow> docs = OrgDocs(Parse(kOrg));
  docs.push_back({"grant", "bad", R"({"id": "bad", "project": "ghost", "gpu_hours": 1, "start": "2026-01-01", "end": "2026-02-01"})", false});
  OrgRegistry reg;
  auto s = reg.Load(docs);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("ghost"), std::string::npos) << s.error().message;
}

}  // namespace
}  // namespace kojo::controller
