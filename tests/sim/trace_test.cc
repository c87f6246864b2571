#include "sim/trace.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kojo {
namespace {

using ::testing::HasSubstr;

std::string Fixture(const std::string& name) { return std::string(KOJO_TESTDATA_DIR) + "/traces/" + name; }

// Reads a fixture that must fail; returns the message.
std::string ErrorOf(const std::string& name, std::optional<TraceFormat> format = std::nullopt) {
  auto r = ReadTrace(Fixture(name), format);
  EXPECT_FALSE(r.ok()) << name << " should not parse";
  return r.ok() ? "" : r.error().message;
}

TEST(UtcTimestamp, CivilDatesAreExact) {
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1), 11017);
  EXPECT_EQ(*ParseUtcTimestamp("1970-01-01 00:00:00"), 0);
  EXPECT_EQ(*ParseUtcTimestamp("2017-10-03 10:00:00"), 1507024800);
  EXPECT_EQ(*ParseUtcTimestamp("2016-02-29T23:59:59"), 1456790399);
  // Across a daylight-saving change nothing shifts: UTC has none.
  EXPECT_EQ(*ParseUtcTimestamp("2017-11-05 02:00:00") - *ParseUtcTimestamp("2017-11-05 00:00:00"), 7200);
  EXPECT_EQ(*ParseUtcTimestamp("2017-10-03 10:00:00.250"), 1507024800);
}

TEST(UtcTimestamp, RejectsMalformed) {
  for (const char* s : {"", "2017-10-03", "2017-13-01 00:00:00", "2017-02-29 00:00:00", "2017-10-03 24:00:00",
                        "2017-10-03 10:60:00", "2017/10/03 10:00:00", "2017-10-03 10:00:0x", "2017-10-03 10:00:00."})
    EXPECT_FALSE(ParseUtcTimestamp(s)) << s;
}

TEST(PhillyReader, ReadsJobsRelativeToTheFirstSubmit) {
  auto r = ReadTrace(Fixture("philly-good.csv"), std::nullopt);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& jobs = *r;
  ASSERT_EQ(jobs.size(), 3u);
  // Sorted by submit: the second line came first (09:59).
  EXPECT_EQ(jobs[0].submit_time, 0);
  EXPECT_EQ(jobs[0].project, "vcB");
  EXPECT_EQ(*jobs[0].true_duration, 1);  // 0.2 s rounds up to at least 1
  EXPECT_EQ(jobs[1].submit_time, 60);
  EXPECT_EQ(jobs[1].demand.gpus, 2);
  EXPECT_EQ(*jobs[1].true_duration, 101);  // 100.4 rounds up
  EXPECT_EQ(*jobs[1].time_limit, 101);     // perfect estimate by default
  EXPECT_EQ(jobs[2].submit_time, 120);
  EXPECT_EQ(jobs[2].demand.gpus, 4);
  EXPECT_NE(jobs[0].id, jobs[1].id);
}

TEST(PhillyReader, EstimateFactorSetsTimeLimits) {
  TraceOptions opt;
  opt.estimate_factor = 2.0;
  auto r = ReadTrace(Fixture("philly-good.csv"), TraceFormat::kPhilly, opt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*(*r)[1].time_limit, 202);
  opt.estimate_factor = 0;
  r = ReadTrace(Fixture("philly-good.csv"), TraceFormat::kPhilly, opt);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE((*r)[1].time_limit.has_value());
}

TEST(PhillyReader, LimitJobsKeepsTheEarliest) {
  TraceOptions opt;
  opt.limit_jobs = 2;
  auto r = ReadTrace(Fixture("philly-good.csv"), std::nullopt, opt);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1].submit_time, 60);
}

TEST(TraceReaders, BadInputNamesFileLineAndExpectation) {
  EXPECT_THAT(ErrorOf("philly-missing-column.csv", TraceFormat::kPhilly),
              HasSubstr("philly-missing-column.csv:1: missing column 'num_gpus'"));
  EXPECT_THAT(ErrorOf("philly-non-numeric.csv"), HasSubstr("philly-non-numeric.csv:3: column 'duration': expected a number, got 'abc'"));
  EXPECT_THAT(ErrorOf("philly-negative-duration.csv"), HasSubstr("philly-negative-duration.csv:4: column 'duration'"));
  EXPECT_THAT(ErrorOf("philly-bad-timestamp.csv"),
              HasSubstr("philly-bad-timestamp.csv:2: column 'timestamp': expected 'YYYY-MM-DD HH:MM:SS'"));
  EXPECT_THAT(ErrorOf("philly-absurd-gpus.csv"), HasSubstr("philly-absurd-gpus.csv:2: column 'num_gpus': expected 0..100000"));
  EXPECT_THAT(ErrorOf("philly-absurd-duration.csv"), HasSubstr("philly-absurd-duration.csv:2: column 'duration': expected 0..315360000"));
  EXPECT_THAT(ErrorOf("philly-ragged.csv"), HasSubstr("philly-ragged.csv:2: expected 5 fields"));
  EXPECT_THAT(ErrorOf("empty.csv"), HasSubstr("empty.csv:1: empty file"));
  EXPECT_THAT(ErrorOf("philly-header-only.csv"), HasSubstr("philly-header-only.csv:2: no jobs"));
  EXPECT_THAT(ErrorOf("unknown-header.csv"), HasSubstr("unknown-header.csv:1: unknown trace header"));
  EXPECT_THAT(ErrorOf("tiresias-duplicate-id.csv"), HasSubstr("tiresias-duplicate-id.csv:3: duplicate job id 0"));
  EXPECT_THAT(ErrorOf("kojo-bad-fraction.csv"), HasSubstr("kojo-bad-fraction.csv:2: gpu_milli: a fraction"));
  EXPECT_THAT(ErrorOf("kojo-zero-duration.csv"), HasSubstr("kojo-zero-duration.csv:2: column 'duration_s': expected 1.."));
  EXPECT_THAT(ErrorOf("no-such-file.csv"), HasSubstr("no-such-file.csv: cannot open file"));
}

TEST(TraceReaders, DetectsFormatFromHeader) {
  auto detect = [](const std::string& text) {
    auto t = CsvTable::Parse(text, "mem");
    EXPECT_TRUE(t.ok());
    return DetectTraceFormat(*t);
  };
  EXPECT_EQ(*detect("timestamp,duration,num_gpus,gpu_time,cluster\n"), TraceFormat::kPhilly);
  EXPECT_EQ(*detect("job_id,num_gpu,submit_time,iterations,model_name,duration,interval\n"), TraceFormat::kTiresias);
  EXPECT_EQ(*detect("name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
                    "deletion_time,scheduled_time\n"),
            TraceFormat::kOpenb);
  EXPECT_EQ(*detect("id,submit_s,duration_s,gpus\n"), TraceFormat::kKojo);
  EXPECT_FALSE(detect("a,b\n").ok());
  EXPECT_EQ(*ParseTraceFormat("tiresias"), TraceFormat::kTiresias);
  auto bad = ParseTraceFormat("slurm");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("philly, tiresias, openb, kojo"));
}

TEST(KojoReader, ReadsEveryColumn) {
  auto r = ReadTrace(Fixture("kojo-good.csv"), std::nullopt);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 3u);
  const Job& a = (*r)[0];
  EXPECT_EQ(a.id, 1);
  EXPECT_EQ(a.demand.cpu_milli, 4000);
  EXPECT_EQ(a.demand.mem_mib, 1024);
  EXPECT_EQ(a.project, "teamA");
  EXPECT_EQ(a.user, "alice");
  EXPECT_EQ(*a.time_limit, 100);
  const Job& c = (*r)[1];  // submitted at 5
  EXPECT_EQ(c.id, 3);
  EXPECT_EQ(c.demand.gpus, 4);
  EXPECT_EQ(c.demand.tasks, 2);
  EXPECT_EQ(c.demand.gpu_milli, kWholeGpu);
  const Job& b = (*r)[2];
  EXPECT_EQ(b.demand.gpu_milli, 500);
  EXPECT_EQ(b.demand.gpu_models, (std::vector<std::string>{"T4", "A100"}));
  EXPECT_EQ(*b.time_limit, 40);
  EXPECT_EQ(*b.true_duration, 50);
}

// Files written before the column was renamed call it `tenant`; they read
// as before.
TEST(KojoReader, ReadsTheOldTenantColumnAsTheProject) {
  auto old = ReadTrace(Fixture("kojo-old-tenant.csv"), std::nullopt);
  ASSERT_TRUE(old.ok()) << old.error().message;
  auto now = ReadTrace(Fixture("kojo-good.csv"), std::nullopt);
  ASSERT_TRUE(now.ok()) << now.error().message;
  ASSERT_EQ(old->size(), now->size());
  for (size_t i = 0; i < old->size(); ++i) {
    EXPECT_EQ((*old)[i].id, (*now)[i].id);
    EXPECT_EQ((*old)[i].project, (*now)[i].project);
    EXPECT_EQ((*old)[i].user, (*now)[i].user);
  }
  EXPECT_EQ((*old)[0].project, "teamA");
  EXPECT_EQ((*old)[2].project, "teamB");
}

TEST(KojoReader, RejectsBothProjectAndTenant) {
  EXPECT_THAT(ErrorOf("kojo-project-and-tenant.csv"),
              HasSubstr("kojo-project-and-tenant.csv:1: columns 'project' and 'tenant' are both present"));
}

TEST(TiresiasReader, ReadsTheShippedSample) {
  auto r = ReadTrace(std::string(KOJO_SAMPLES_DIR) + "/tiresias-60job.csv", std::nullopt);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 60u);
  EXPECT_EQ((*r)[0].id, 0);
  EXPECT_EQ(*(*r)[0].true_duration, 164);
  EXPECT_EQ((*r)[1].demand.gpus, 8);
  EXPECT_EQ((*r)[1].submit_time, 30);
  EXPECT_EQ((*r)[0].name, "vgg19");
}

TEST(OpenbReader, ReadsPodsAsJobs) {
  auto r = ReadTrace(std::string(KOJO_SAMPLES_DIR) + "/openb-pods-sample.csv", std::nullopt);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->size(), 816u);
  const Job& j = (*r)[0];
  EXPECT_EQ(j.submit_time, 0);
  EXPECT_EQ(j.demand.cpu_milli, 12000);
  for (const Job& x : *r) {
    EXPECT_GE(*x.true_duration, 1);
    EXPECT_FALSE(ValidateDemand(x.demand).has_value());
  }
}

TEST(PhillyReader, ReadsTheShippedSample) {
  auto r = ReadTrace(std::string(KOJO_SAMPLES_DIR) + "/philly-sample.csv", std::nullopt);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 1500u);
  EXPECT_EQ((*r)[0].submit_time, 0);
  EXPECT_EQ((*r)[1].submit_time, 597);  // 16:41:58 -> 16:51:55
  EXPECT_EQ((*r)[0].project, "11cb48");
}

TEST(TraceReaders, NeverCrashOnGarbage) {
  const std::string cases[] = {
      "timestamp,duration,num_gpus\n9999-99-99 99:99:99,1,1\n",
      "timestamp,duration,num_gpus\n2017-01-01 00:00:00,1e308,1\n",
      "timestamp,duration,num_gpus\n2017-01-01 00:00:00,nan,1\n",
      "timestamp,duration,num_gpus\n2017-01-01 00:00:00,1,-1\n",
      "job_id,num_gpu,submit_time,duration\n99999999999999999999,1,0,1\n",
      "id,submit_s,duration_s,gpus,tasks\n1,0,10,3,2\n",
      "id,submit_s,duration_s,gpus\n1,-5,10,1\n",
      "name,cpu_milli,memory_mib,num_gpu,gpu_milli,creation_time,deletion_time\np,1,1,1,500,100,50\n",
      "\"unterminated\n",
  };
  for (const auto& text : cases) {
    auto t = CsvTable::Parse(text, "mem");
    if (!t.ok()) continue;
    auto r = ParseTrace(*t, std::nullopt);
    EXPECT_FALSE(r.ok()) << text;
    if (!r.ok()) {
      EXPECT_THAT(r.error().message, HasSubstr("mem:")) << text;
    }
  }
}

}  // namespace
}  // namespace kojo
