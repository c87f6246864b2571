#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/org_config.h"

namespace kojo::api {
namespace {

const char* const kDoc = R"({
  "gpu_weights": {"H100": 2.0, "T4": 0.25, "default": 1.0},
  "programmes": [{"name": "research", "share": 2}, {"name": "startups"}],
  "organisations": [{"name": "uni-a", "programme": "research"}, {"name": "acme", "programme": "startups"}],
  "projects": [{"name": "vision", "organisation": "uni-a", "share": 3, "guaranteed_gpus": 16, "borrow_limit": 8},
               {"name": "robots", "organisation": "acme"}],
  "grants": [{"id": "g1", "project": "vision", "gpu_hours": 100, "start": "2026-01-01", "end": "2027-01-01"},
             {"id": "g2", "project": "vision", "programme": "startups", "gpu_hours": 0.5,
              "start": "2026-06-01T12:00:00Z", "end": "2026-07-01T00:00:00Z"}],
  "members": [{"project": "vision", "user": "ada", "role": "lead"}, {"project": "robots", "user": "bo"}],
  "partitions": [{"name": "gpu", "nodes": "gpu[01-03]", "max_time_s": 86400, "default_time_s": 3600, "default": true},
                 {"name": "hopper", "features": "h100&ib", "projects": ["vision"]}]
})";

Result<OrgConfig> Parse(const std::string& text) {
  auto j = ParseJson(text);
  if (!j.ok()) return j.error();
  return OrgConfigFromJson(*j);
}

TEST(OrgConfig, ParsesEverySection) {
  auto c = Parse(kDoc);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->weights.Of("H100-80GB"), 2000);
  EXPECT_EQ(c->weights.Of("t4"), 250);
  ASSERT_EQ(c->programmes.size(), 2u);
  EXPECT_EQ(c->programmes[1].share, 1);
  EXPECT_EQ(c->ProgrammeOf("vision"), "research");
  EXPECT_EQ(c->ProgrammeOf("nope"), "");
  const Project* v = c->FindProject("vision");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->guaranteed_gpus, 16);
  EXPECT_EQ(v->borrow_limit, 8);
  EXPECT_FALSE(c->FindProject("robots")->borrow_limit);
  ASSERT_EQ(c->grants.size(), 2u);
  EXPECT_EQ(c->grants[0].programme, "research");  // defaults to the project's
  EXPECT_EQ(c->grants[1].programme, "startups");
  EXPECT_EQ(c->grants[0].amount, 100 * kNormPerGpuHour);
  EXPECT_EQ(c->grants[1].amount, kNormPerGpuHour / 2);
  EXPECT_EQ(c->grants[0].start, 1767225600);  // 2026-01-01T00:00:00Z
  EXPECT_EQ(c->grants[1].start, 1780315200);  // 2026-06-01T12:00:00Z
  EXPECT_EQ(c->members[0].role, ProjectRole::kLead);
  EXPECT_EQ(c->members[1].role, ProjectRole::kMember);
  ASSERT_EQ(c->partitions.size(), 2u);
  EXPECT_EQ(c->partitions[0].nodes, (std::vector<std::string>{"gpu01", "gpu02", "gpu03"}));
  EXPECT_EQ(c->partitions[0].max_time, 86400);
  EXPECT_EQ(c->partitions[0].default_time, 3600);
  EXPECT_TRUE(c->partitions[0].is_default);
  EXPECT_EQ(c->partitions[1].features, "h100&ib");
  EXPECT_EQ(c->partitions[1].projects, (std::vector<std::string>{"vision"}));
  EXPECT_FALSE(c->partitions[1].is_default);
}

TEST(OrgConfig, RoundTripsThroughJson) {
  auto c = Parse(kDoc);
  ASSERT_TRUE(c.ok());
  auto again = OrgConfigFromJson(ToJson(*c));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(ToJson(*again), ToJson(*c));
  auto empty = Parse("{}");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->projects.empty());
}

struct Case {
  std::string doc, message;
};

TEST(OrgConfig, ErrorsNameTheField) {
  const Case cases[] = {
      {R"({"projects": [{"name": "p", "organisation": "uni-z"}]})",
       "projects[0].organisation: no organisation named \"uni-z\""},
      {R"({"programmes": [{"name": "a"}, {"name": "a"}]})", "programmes[1]: \"a\" appears twice"},
      {R"({"programmes": [{"name": "a", "share": -1}]})", "programmes[0].share: expected a number"},
      {R"({"programmes": [{"name": "a", "share": 0}]})", "programmes[0].share: expected a number above 0"},
      {R"({"programmes": [{"name": "a b"}]})", "programmes[0].name: expected letters"},
      {R"({"programmes": [{"name": "a", "colour": "red"}]})", "programmes[0].colour: unknown field"},
      {R"({"gpu_weights": {"H100": "two"}})", "gpu_weights.H100: expected a weight"},
      {R"({"gpu_weights": {"H100": 0}})", "gpu_weights.H100: expected a weight"},
      {R"({"grants": [{"id": "g", "project": "p", "gpu_hours": 1, "start": "2026-01-01", "end": "2027-01-01"}]})",
       "grants[0].project: no project named \"p\""},
      {R"({"programmes": [{"name": "r"}], "organisations": [{"name": "o", "programme": "r"}],
          "projects": [{"name": "p", "organisation": "o"}],
          "grants": [{"id": "g", "project": "p", "gpu_hours": 1, "start": "2026-02-01", "end": "2026-01-01"}]})",
       "grants[0].end: expected a time after start"},
      {R"({"programmes": [{"name": "r"}], "organisations": [{"name": "o", "programme": "r"}],
          "projects": [{"name": "p", "organisation": "o"}],
          "grants": [{"id": "g", "project": "p", "gpu_hours": 1, "start": "2026-02-30", "end": "2027-01-01"}]})",
       "grants[0].start: expected a date that exists"},
      {R"({"programmes": [{"name": "r"}], "organisations": [{"name": "o", "programme": "r"}],
          "projects": [{"name": "p", "organisation": "o"}],
          "grants": [{"id": "g", "project": "p", "gpu_hours": 1, "start": "yesterday", "end": "2027-01-01"}]})",
       "grants[0].start: expected an ISO 8601 UTC time"},
      {R"({"programmes": [{"name": "r"}], "organisations": [{"name": "o", "programme": "r"}],
          "projects": [{"name": "p", "organisation": "o"}],
          "members": [{"project": "p", "user": "u", "role": "owner"}]})",
       "members[0].role: expected \"lead\" or \"member\""},
      {R"({"members": [{"project": "p", "user": "u"}]})", "members[0].project: no project named \"p\""},
      {R"({"projects": [{"name": "p", "organisation": "o", "guaranteed_gpus": -2}]})",
       "projects[0].guaranteed_gpus: expected an integer 0..1000000"},
      {R"([1, 2])", "body: expected a JSON object"},
      {R"({"partitions": [{"name": "a"}, {"name": "a"}]})", "partitions[1]: \"a\" appears twice"},
      {R"({"partitions": [{"name": "a", "nodes": "n[2-1]"}]})", "partitions[0].nodes: hostlist 'n[2-1]'"},
      {R"({"partitions": [{"name": "a", "features": "a100&"}]})", "partitions[0].features: constraint 'a100&'"},
      {R"({"partitions": [{"name": "a", "max_time_s": 60, "default_time_s": 120}]})",
       "partitions[0].default_time_s: expected at most max_time_s (60), got 120"},
      {R"({"programmes": [{"name": "r"}], "organisations": [{"name": "o", "programme": "r"}],
          "projects": [{"name": "p", "organisation": "o"}], "partitions": [{"name": "a", "projects": ["q"]}]})",
       "partitions[0].projects[0]: no project named \"q\""},
  };
  for (const auto& c : cases) {
    auto r = Parse(c.doc);
    ASSERT_FALSE(r.ok()) << c.doc;
    EXPECT_NE(r.error().message.find(c.message), std::string::npos)
        << "got: " << r.error().message << "\nexpected: " << c.message;
  }
}

// Regression: null was taken for a field left out. No field of the
// document is nullable (api/openapi.yaml), and ToJson writes none.
TEST(OrgConfig, NullIsRefused) {
  const Case cases[] = {
      {R"({"programmes": null})", "programmes: expected a list of at most 100000 items, got null"},
      {R"({"programmes": [{"name": "a", "share": null}]})", "programmes[0].share: expected a number"},
      {R"({"programmes": [{"name": null}]})", "programmes[0].name: expected a string, got null"},
      {R"({"programmes": [{"name": "r"}], "organisations": [{"name": "o", "programme": "r"}],
          "projects": [{"name": "p", "organisation": "o", "borrow_limit": null}]})",
       "projects[0].borrow_limit: expected an integer 0..1000000, got null"},
      {R"({"programmes": [{"name": "r"}], "organisations": [{"name": "o", "programme": "r"}],
          "projects": [{"name": "p", "organisation": "o"}],
          "grants": [{"id": "g", "project": "p", "programme": null, "gpu_hours": 1, "start": "2026-01-01",
                      "end": "2027-01-01"}]})",
       "grants[0].programme: expected a string, got null"},
      {R"({"gpu_weights": null})", "gpu_weights: expected an object of GPU model -> weight, got null"},
  };
  for (const auto& c : cases) {
    auto r = Parse(c.doc);
    ASSERT_FALSE(r.ok()) << c.doc;
    EXPECT_NE(r.error().message.find(c.message), std::string::npos)
        << "got: " << r.error().message << "\nexpected: " << c.message;
  }
}

// Lengths are in characters; a deep value in the document is described in
// the message, not dumped (that overflowed the stack).
TEST(OrgConfig, LimitsCountCharactersAndDeepValuesAreNotDumped) {
  std::string desc;
  for (int i = 0; i < 1000; ++i) desc += "\xc3\xa9";  // 1000 characters, 2000 bytes
  Json doc = Json::parse(kDoc);
  doc["programmes"][0]["description"] = desc;
  auto ok = OrgConfigFromJson(doc);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  doc["programmes"][0]["description"] = desc + "x";
  auto over = OrgConfigFromJson(doc);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().message, "programmes[0].description: expected at most 1000 characters, got 1001");
  auto name = Parse(R"({"programmes": [{"name": ")" + std::string(65, 'a') + R"("}]})");
  ASSERT_FALSE(name.ok());
  EXPECT_EQ(name.error().message, "programmes[0].name: expected at most 64 characters, got 65");
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto weight = OrgConfigFromJson(Json::parse(R"({"gpu_weights": {"H100": )" + deep + "}}"));
  ASSERT_FALSE(weight.ok());
  EXPECT_EQ(weight.error().message, "gpu_weights.H100: expected a weight above 0 and at most 1000, got a list of 1 item");
  auto parsed = ParseJson(R"({"gpu_weights": {"H100": )" + deep + "}}");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().message, "body: nested deeper than 64 levels");
}

TEST(OrgConfig, PolicyMetersActiveGrantsOnly) {
  auto c = Parse(kDoc);
  ASSERT_TRUE(c.ok());
  const Seconds june = 1780315200 + 3600;  // both grants active
  const Seconds july = 1782864000 + 10;    // 2026-07-01T00:00:10Z: g2 has expired
  auto spent = [](const Grant& g) -> NormUnits { return g.id == "g1" ? 40 * kNormPerGpuHour : kNormPerGpuHour; };
  OrgPolicy p = PolicyOf(*c, june, true, spent);
  EXPECT_EQ(p.programme_shares.at("research"), 2);
  const ProjectLimits& v = p.projects.at("vision");
  EXPECT_EQ(v.programme, "research");
  EXPECT_EQ(v.share, 3);
  EXPECT_EQ(v.guaranteed_gpus, 16);
  EXPECT_EQ(v.max_gpus, 24);
  // g1: 100 - 40; g2 is overspent by its callback (1 > 0.5) and adds nothing, not less.
  EXPECT_EQ(v.grant_left, 60 * kNormPerGpuHour);
  EXPECT_EQ(p.projects.at("robots").grant_left, 0);  // no grant at all
  EXPECT_FALSE(p.projects.at("robots").max_gpus);
  EXPECT_EQ(PolicyOf(*c, july, true, spent).projects.at("vision").grant_left, 60 * kNormPerGpuHour);
  EXPECT_EQ(PolicyOf(*c, 1767225600 - 1, true, spent).projects.at("vision").grant_left, 0);  // before any
  EXPECT_FALSE(PolicyOf(*c, june, false).projects.at("vision").grant_left);
  // Unspent, both are active: a reservation comes from one grant, so the
  // larger remainder is what one job can use (not 100.5).
  EXPECT_EQ(PolicyOf(*c, june, true).projects.at("vision").grant_left, 100 * kNormPerGpuHour);
  auto g1_spent = [](const Grant& g) -> NormUnits { return g.id == "g1" ? 100 * kNormPerGpuHour : 0; };
  EXPECT_EQ(PolicyOf(*c, june, true, g1_spent).projects.at("vision").grant_left, kNormPerGpuHour / 2);
}

// Found by fuzzing (fuzz/regressions/api_codec_fuzz/): {"dEfault": 1.0}
// set the weight of a GPU model named "default", which the document then
// wrote back as the default weight, so applying it twice changed it. Names
// match without regard to case, "default" included, and two spellings of
// one name are refused.
TEST(OrgConfig, GpuWeightNamesIgnoreCaseDefaultIncluded) {
  auto c = Parse(R"({"gpu_weights": {"Default": 0.5, "H100": 2}})");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->weights.default_milli, 500);
  EXPECT_EQ(c->weights.Of("A100"), 500);
  EXPECT_EQ(c->weights.milli.count("default"), 0u);
  auto again = OrgConfigFromJson(ToJson(*c));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(ToJson(*again), ToJson(*c));

  for (const char* doc : {R"({"gpu_weights": {"H100": 2, "h100": 3}})", R"({"gpu_weights": {"default": 1, "DEFAULT": 2}})"}) {
    auto bad = Parse(doc);
    ASSERT_FALSE(bad.ok()) << doc;
    EXPECT_THAT(bad.error().message, ::testing::HasSubstr("appears twice (GPU model names match without regard to case)"));
  }
}

// Found by fuzzing (fuzz/regressions/org_config_fuzz/): sscanf's %d read
// signs and spaces, so "2026-01-01T00:00:-0Z" and "2026- 1- 1" were taken
// for real times. Digits must stand exactly where the format shows them,
// and every accepted time is the one IsoTime writes back.
TEST(IsoTime, OnlyDigitsWhereTheFormatShowsThem) {
  for (const char* bad : {"2026-01-01T00:00:-0Z", "2026-01-01T-1:-1:-1Z", "2026-01-01T 1: 1: 1Z", "2026- 1- 1",
                          "2026-+1-01", "+026-01-01", " 2026-01-01", "2026-01-0x", "2026-01-01T00:00:00z",
                          "2026-01-01 00:00:00Z", "2026-01-01T00:00:0Z", "1969-12-31", "2026-00-10", "2026-02-30"}) {
    auto t = ParseIsoTime(bad);
    EXPECT_FALSE(t.ok()) << bad << " read as " << (t.ok() ? IsoTime(*t) : "");
    if (!t.ok()) EXPECT_THAT(t.error().message, ::testing::HasSubstr(bad));
  }
  for (const char* good : {"1970-01-01T00:00:00Z", "2024-02-29T23:59:59Z", "9999-12-31T23:59:59Z"}) {
    auto t = ParseIsoTime(good);
    ASSERT_TRUE(t.ok()) << good << ": " << t.error().message;
    EXPECT_EQ(IsoTime(*t), good);
  }
  auto d = ParseIsoTime("2026-03-01");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(IsoTime(*d), "2026-03-01T00:00:00Z");
}

}  // namespace
}  // namespace kojo::api

namespace kojo::api {
namespace {

TEST(OrgConfigMembers, PerMemberCapsReachThePolicy) {
  auto c = OrgConfigFromJson(Json::parse(R"({
      "programmes": [{"name": "edu"}], "organisations": [{"name": "academy", "programme": "edu"}],
      "projects": [{"name": "course", "organisation": "academy", "member_max_gpus": 1, "member_max_jobs": 2,
                    "member_gpu_hours": 10.5}]})"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  const OrgPolicy p = PolicyOf(*c, 0, false);
  const ProjectLimits& l = p.projects.at("course");
  EXPECT_EQ(l.member_max_milli, 1000);
  EXPECT_EQ(l.member_max_jobs, 2);
  EXPECT_EQ(l.member_max_units, static_cast<NormUnits>(10.5 * kNormPerGpuHour));
  EXPECT_EQ(ToJson(*c)["projects"][0]["member_gpu_hours"], 10.5);
  auto bad = OrgConfigFromJson(Json::parse(R"({"projects": [{"name": "c", "organisation": "o",
      "member_max_jobs": -1}]})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("projects[0].member_max_jobs"), std::string::npos) << bad.error().message;
}

TEST(ReservationsDoc, ReadsIsoOrRelativeStartsAndNamesTheFieldThatIsWrong) {
  auto doc = ReservationsFromJson(Json::parse(R"({"reservations": [
      {"name": "tue", "project": "course", "gpus": 16, "gpu_model": "H100", "start": "2026-12-08T14:00:00Z",
       "duration_s": 7200, "weekly": true},
      {"name": "demo", "project": "lab", "gpus": 1, "start_s": 600, "duration_s": 60}]})"));
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  ASSERT_EQ(doc->reservations.size(), 2u);
  EXPECT_EQ(doc->reservations[0].start, *ParseIsoTime("2026-12-08T14:00:00Z"));
  EXPECT_TRUE(doc->reservations[0].weekly);
  EXPECT_FALSE(doc->relative[0]);
  EXPECT_EQ(doc->reservations[1].start, 600);
  EXPECT_TRUE(doc->relative[1]);
  EXPECT_EQ(ToJson(doc->reservations[0])["start"], "2026-12-08T14:00:00Z");

  auto bad = [](const char* text) {
    auto r = ReservationsFromJson(Json::parse(text));
    return r.ok() ? std::string("ok") : r.error().message;
  };
  EXPECT_EQ(bad(R"([{"name": "a", "project": "p", "gpus": 0, "start_s": 0, "duration_s": 1}])"),
            "reservations[0].gpus: expected an integer 1..1000000, got 0");
  EXPECT_EQ(bad(R"([{"name": "a", "project": "p", "gpus": 1, "duration_s": 1}])"),
            "reservations[0].start: expected one of start (an ISO 8601 UTC time) or start_s (seconds)");
  EXPECT_EQ(bad(R"([{"name": "a", "project": "p", "gpus": 1, "start_s": 0, "duration_s": 700000, "weekly": true}])"),
            "reservations[0].duration_s: expected at most a week (604800 s) for a weekly reservation, got 700000");
  EXPECT_EQ(bad(R"([{"name": "a", "project": "p", "gpus": 1, "start_s": 0, "duration_s": 1},
                    {"name": "a", "project": "p", "gpus": 1, "start_s": 0, "duration_s": 1}])"),
            "reservations[1].name: a second reservation named \"a\"");
}

}  // namespace
}  // namespace kojo::api
