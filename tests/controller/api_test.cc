// The REST API of a real kojod over real HTTP: jobs, idempotency, arrays,
// batches, and every kind of bad request (4xx, clear message, daemon up).
#include <gtest/gtest.h>

#include <fstream>
#include <optional>

#include <fmt/format.h>

#include "daemons.h"

namespace kojo::testing {
namespace {

using namespace std::chrono_literals;

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    d_ = std::make_unique<Kojod>(dir_.path() + "/data");
    ASSERT_TRUE(d_->ok()) << d_->log();
  }
  httplib::Result Post(const std::string& path, const std::string& body, httplib::Headers h = {}) {
    auto c = d_->Client();
    return c.Post(path.c_str(), h, body, "application/json");
  }
  httplib::Result Get(const std::string& path) {
    auto c = d_->Client();
    return c.Get(path.c_str());
  }
  void ExpectError(const httplib::Result& r, int status, const std::string& in_message) {
    ASSERT_TRUE(r) << "no answer";
    EXPECT_EQ(r->status, status) << r->body;
    Json j = Body(r);
    ASSERT_TRUE(j.is_object() && j.contains("error")) << r->body;
    EXPECT_TRUE(j["error"]["code"].is_string());
    const std::string msg = j["error"]["message"].get<std::string>();
    EXPECT_NE(msg.find(in_message), std::string::npos) << "message: " << msg;
    auto health = Get("/api/v1/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
  }
  TempDir dir_;
  std::unique_ptr<Kojod> d_;
};

TEST_F(ApiTest, Health) {
  auto r = Get("/api/v1/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Body(r)["status"], "ok");
}

TEST_F(ApiTest, SubmitShowListCancelHoldRelease) {
  auto r = Post("/api/v1/jobs", R"({"name":"a","command":["true"],"gpus":1})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  const JobId id = Body(r)["ids"][0].get<JobId>();

  auto show = Body(Get(fmt::format("/api/v1/jobs/{}", id)));
  EXPECT_EQ(show["id"], id);
  EXPECT_EQ(show["state"], "PENDING");  // no node: it waits
  EXPECT_EQ(show["spec"]["name"], "a");
  EXPECT_EQ(show["spec"]["project"], "default");

  auto held = Post(fmt::format("/api/v1/jobs/{}/hold", id), "");
  ASSERT_TRUE(held);
  EXPECT_EQ(held->status, 200) << held->body;
  EXPECT_EQ(Body(held)["state"], "HELD");
  ExpectError(Post(fmt::format("/api/v1/jobs/{}/release", id + 1000), ""), 404, "not found");

  auto list = Body(Get("/api/v1/jobs?state=HELD"));
  ASSERT_EQ(list["jobs"].size(), 1u);
  EXPECT_TRUE(list["next_after"].is_null());

  auto released = Post(fmt::format("/api/v1/jobs/{}/release", id), "");
  EXPECT_EQ(Body(released)["state"], "PENDING");
  ExpectError(Post(fmt::format("/api/v1/jobs/{}/release", id), ""), 409, "only a HELD job");

  auto cancelled = Post(fmt::format("/api/v1/jobs/{}/cancel", id), "");
  EXPECT_EQ(Body(cancelled)["state"], "CANCELLED");
  ExpectError(Post(fmt::format("/api/v1/jobs/{}/cancel", id), ""), 409, "already ended");
  ExpectError(Post(fmt::format("/api/v1/jobs/{}/hold", id), ""), 409, "only a PENDING job");
  ExpectError(Get("/api/v1/jobs/999999"), 404, "job 999999 not found");
}

TEST_F(ApiTest, ListPaginatesAndFilters) {
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(Post("/api/v1/jobs", fmt::format(R"({{"command":["true"],"project":"p{}"}})", i % 2))->status, 201);
  auto page = Body(Get("/api/v1/jobs?limit=2"));
  ASSERT_EQ(page["jobs"].size(), 2u);
  EXPECT_EQ(page["next_after"], 2);
  auto rest = Body(Get("/api/v1/jobs?limit=10&after=2"));
  ASSERT_EQ(rest["jobs"].size(), 3u);
  EXPECT_EQ(rest["jobs"][0]["id"], 3);
  EXPECT_TRUE(rest["next_after"].is_null());
  auto p1 = Body(Get("/api/v1/jobs?project=p1&state=pending,RUNNING"));
  EXPECT_EQ(p1["jobs"].size(), 2u);
  ExpectError(Get("/api/v1/jobs?state=SLEEPING"), 400, "state: expected");
  ExpectError(Get("/api/v1/jobs?limit=0"), 400, "limit: expected an integer 1..10000");
  ExpectError(Get("/api/v1/jobs?limit=abc"), 400, "limit");
  ExpectError(Get("/api/v1/jobs?colour=red"), 400, "colour: unknown query parameter");
}

TEST_F(ApiTest, IdempotencyKeyReturnsTheFirstAnswer) {
  httplib::Headers h = {{"Idempotency-Key", "abc-1"}};
  auto a = Post("/api/v1/jobs", R"({"command":["true"]})", h);
  auto b = Post("/api/v1/jobs", R"({"command":["true"]})", h);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->status, 201);
  EXPECT_EQ(b->status, 201);
  EXPECT_EQ(Body(a)["ids"], Body(b)["ids"]);
  EXPECT_EQ(Body(Get("/api/v1/jobs"))["jobs"].size(), 1u);
  auto c = Post("/api/v1/jobs", R"({"command":["true"]})", {{"Idempotency-Key", "abc-2"}});
  EXPECT_NE(Body(c)["ids"], Body(a)["ids"]);
  ExpectError(Post("/api/v1/jobs", R"({"command":["true"]})", {{"Idempotency-Key", std::string(300, 'k')}}), 400,
              "Idempotency-Key");
}

TEST_F(ApiTest, ArrayOfFiveThousandIsOneRequest) {
  const auto start = std::chrono::steady_clock::now();
  auto r = Post("/api/v1/jobs", R"({"name":"arr","command":["true"],"gpus":1,"array":"0-4999"})");
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  auto ids = Body(r)["ids"];
  ASSERT_EQ(ids.size(), 5000u);
  EXPECT_EQ(ids[4999].get<JobId>() - ids[0].get<JobId>(), 4999);
  auto last = Body(Get(fmt::format("/api/v1/jobs/{}", ids[4999].get<JobId>())));
  EXPECT_EQ(last["array_id"], ids[0]);
  EXPECT_EQ(last["array_index"], 4999);
  std::printf("array of 5000: %.1f ms\n", std::chrono::duration<double, std::milli>(took).count());
}

TEST_F(ApiTest, BatchOfJobsIsOneRequest) {
  Json batch{{"jobs", Json::array()}};
  for (int i = 0; i < 100; ++i) batch["jobs"].push_back(Json{{"name", fmt::format("b{}", i)}, {"command", {"true"}}});
  auto r = Post("/api/v1/jobs", batch.dump());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  EXPECT_EQ(Body(r)["ids"].size(), 100u);
  batch["jobs"][7]["gpus"] = -1;
  ExpectError(Post("/api/v1/jobs", batch.dump()), 400, "jobs[7].gpus");
  ExpectError(Post("/api/v1/jobs", R"({"jobs":[],"x":1})"), 400, "x: unknown field");
  ExpectError(Post("/api/v1/jobs", R"({"jobs":[]})"), 400, "jobs: expected a list");
  EXPECT_EQ(Body(Get("/api/v1/jobs?limit=1000"))["jobs"].size(), 100u);  // nothing of the bad batches
}

TEST_F(ApiTest, BadRequestsGetClearErrors) {
  ExpectError(Post("/api/v1/jobs", "{not json"), 400, "malformed JSON");
  ExpectError(Post("/api/v1/jobs", "[1,2]"), 400, "expected a JSON object");
  ExpectError(Post("/api/v1/jobs", R"({"command":["true"],"gpuz":1})"), 400, "gpuz: unknown field");
  ExpectError(Post("/api/v1/jobs", R"({"command":["true"],"gpus":-1})"), 400, "gpus");
  ExpectError(Post("/api/v1/jobs", R"({"command":["true"],"gpus":1e12})"), 400, "gpus");
  ExpectError(Post("/api/v1/jobs", R"({"command":["true"],"gpus":99999999999999999999})"), 400, "gpus");
  ExpectError(Post("/api/v1/jobs", R"({"command":["true"],"gpus":"two"})"), 400, "gpus");
  ExpectError(Post("/api/v1/jobs", R"({"gpus":1})"), 400, "command");
  ExpectError(Post("/api/v1/jobs", R"({"command":["true"],"time_limit_s":0})"), 400, "time_limit_s");
  ExpectError(Post("/api/v1/jobs", R"({"command":["true"],"array":"5-1"})"), 400, "array");
  ExpectError(Post("/api/v1/jobs", R"({"command":["true"],"workdir":"relative"})"), 400, "workdir");
  ExpectError(Post("/api/v1/jobs", std::string(5 << 20, ' ')), 413, "larger than");
  ExpectError(Get("/api/v1/jobs/..%2F..%2Fetc%2Fpasswd/logs"), 404, "no route");
  ExpectError(Get("/api/v1/jobs/..%2F..%2Fetc%2Fpasswd"), 404, "no route");
  ExpectError(Get("/api/v1/jobs/%2e%2e/logs"), 400, "job id: expected a positive integer");
  ExpectError(Get("/api/v1/jobs/1abc/logs"), 400, "job id");
  ExpectError(Get("/api/v1/jobs/-1"), 400, "job id");
  ExpectError(Get("/api/v1/jobs/1/logs?stream=../../etc/passwd"), 400, "stream: expected stdout or stderr");
  ExpectError(Get("/api/v1/jobs/1/logs?offset=-5"), 400, "offset");
  ExpectError(Get("/api/v1/jobs/1/logs?path=/etc/passwd"), 400, "path: unknown query parameter");
  ExpectError(Get("/api/v1/nope"), 404, "no route");
  ExpectError(Get("/api/v1/nodes/ghost"), 404, "node ghost not found");
  ExpectError(Post("/api/v1/nodes/ghost/drain", R"({"reason":"x"})"), 404, "not found");
  ExpectError(Post("/api/v1/agents/register", R"({"node":{}})"), 400, "node.name");
  ExpectError(Post("/api/v1/agents/x/heartbeat", R"({"node":{"name":"x"}})"), 404, "not registered");
  ExpectError(Post("/api/v1/agents/x/heartbeat", R"({"node":{"name":"y"}})"), 400, "node.name");
}

// Regression: a 100,000-deep body killed kojod (a recursive dump of the
// value for the error message overflowed the stack), through a job, the
// organisation document and an agent's heartbeat alike.
TEST_F(ApiTest, DeeplyNestedBodiesAreRefusedAndKojodStaysUp) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string limit = "body: nested deeper than 64 levels";
  ExpectError(Post("/api/v1/jobs", deep), 400, limit);
  ExpectError(Post("/api/v1/jobs", R"({"command":["true"],"name":)" + deep + "}"), 400, limit);
  ExpectError(Post("/api/v1/jobs", R"({"command":["true"],"env":{"A":)" + deep + "}}"), 400, limit);
  ExpectError(Post("/api/v1/agents/register", R"({"node":{"name":"n1","cpu_milli":)" + deep + "}}"), 400, limit);
  ExpectError(Post("/api/v1/agents/n1/heartbeat", R"({"node":{"name":"n1","cpu_milli":)" + deep + "}}"), 400, limit);
  auto c = d_->Client();
  ExpectError(c.Put("/api/v1/org", R"({"programmes":[{"name":)" + deep + "}]}", "application/json"), 400, limit);
  // Shallow but wrong values are quoted briefly.
  ExpectError(Post("/api/v1/jobs", R"({"command":["true"],"name":[[[1]]]})"), 400,
              "name: expected a string, got a list of 1 item");
  EXPECT_TRUE(d_->process().alive());
}

// Regression: "ar\u0000g" ran as "ar", "A=B" was an env key, "gpus": null
// was taken for no value.
TEST_F(ApiTest, NulCharactersEnvKeysAndNullsAreRefused) {
  ExpectError(Post("/api/v1/jobs", R"({"command":["ar\u0000g"]})"), 400, "command[0]: must not contain a NUL character");
  ExpectError(Post("/api/v1/jobs", R"({"command":["true"],"workdir":"/tmp\u0000/x"})"), 400,
              "workdir: must not contain a NUL character");
  ExpectError(Post("/api/v1/jobs", R"({"command":["true"],"env":{"A=B":"1"}})"), 400, "env: expected variable names");
  ExpectError(Post("/api/v1/jobs", R"({"command":["true"],"gpus":null})"), 400, "gpus: expected an integer 0..100000, got null");
  ExpectError(Post("/api/v1/jobs", R"({"jobs":[{"command":["true"]},{"command":["x\u0000"]}]})"), 400,
              "jobs[1].command[0]: must not contain a NUL character");
  EXPECT_EQ(Body(Get("/api/v1/jobs"))["jobs"].size(), 0u);
}

// The logs route's limit is the agent's own cap (8 MiB); above it kojod
// answers 400 itself instead of passing on what the agent refuses.
TEST_F(ApiTest, LogsLimitIsTheAgentsCap) {
  ExpectError(Get("/api/v1/jobs/1/logs?limit=8388609"), 400, "limit: expected an integer 1..8388608");
  ExpectError(Get("/api/v1/jobs/1/logs?limit=16777216"), 400, "limit");
  ExpectError(Get("/api/v1/jobs/1/logs?limit=8388608"), 404, "job 1 not found");
}

// Regression: extreme from/to were taken as given and printed as dates
// like "...T39:...".
TEST_F(ApiTest, UsageTimesAreBoundedToYears1970To9999) {
  ExpectError(Get("/api/v1/usage?from=-9223372036854775808"), 400, "from: expected a time from 1970-01-01T00:00:00Z");
  ExpectError(Get("/api/v1/usage?to=9223372036854775807"), 400, "to: expected a time from 1970-01-01T00:00:00Z");
  ExpectError(Get("/api/v1/usage?from=-1"), 400, "from:");
  ExpectError(Get("/api/v1/usage?to=253402300800"), 400, "to:");
  auto r = Get("/api/v1/usage?from=0&to=253402300799");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Body(r)["from"], "1970-01-01T00:00:00Z");
  EXPECT_EQ(Body(r)["to"], "9999-12-31T23:59:59Z");
  auto iso = Get("/api/v1/usage?from=2026-01-01&to=9999-12-31T23:59:59Z");
  ASSERT_TRUE(iso);
  EXPECT_EQ(iso->status, 200) << iso->body;
}

// With nodes known, jobs no node can ever run are refused at submit.
TEST_F(ApiTest, InfeasibleJobsAre422) {
  Json hb{{"node", {{"name", "n1"}, {"cpu_milli", 64000}, {"mem_mib", 512000},
                    {"gpus", {{{"index", 0}, {"model", "H100"}}, {{"index", 1}, {"model", "H100"}}}}}}};
  auto reg = Post("/api/v1/agents/register", hb.dump());
  ASSERT_TRUE(reg);
  ASSERT_EQ(reg->status, 200) << reg->body;
  ExpectError(Post("/api/v1/jobs", R"({"command":["true"],"gpus":3})"), 422, "needs 3 GPUs; the cluster has 2");
  ExpectError(Post("/api/v1/jobs", R"({"command":["true"],"gpus":1,"gpu_models":["B200"]})"), 422, "B200");
  ExpectError(Post("/api/v1/jobs", R"({"command":["true"],"gpus":100000})"), 422, "needs 100000 GPUs");
  ExpectError(Post("/api/v1/jobs", R"({"jobs":[{"command":["true"]},{"command":["true"],"gpus":4}]})"), 422, "jobs[1]");
  auto ok = Post("/api/v1/jobs", R"({"command":["true"],"gpus":2,"gpu_models":["H100"]})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 201) << ok->body;
  auto nodes = Body(Get("/api/v1/nodes"));
  ASSERT_EQ(nodes["nodes"].size(), 1u);
  EXPECT_EQ(nodes["nodes"][0]["state"], "UP");
  auto drained = Post("/api/v1/nodes/n1/drain", R"({"reason":"maintenance"})");
  EXPECT_EQ(Body(drained)["reason"], "maintenance");
  ExpectError(Post("/api/v1/nodes/n1/drain", R"({"why":"x"})"), 400, "why: unknown field");
  auto resumed = Post("/api/v1/nodes/n1/resume", "");
  EXPECT_EQ(Body(resumed)["state"], "UP");
}

TEST(ApiAuth, TokenIsRequiredExceptForHealth) {
  TempDir dir;
  Kojod d(dir.path(), {"--token", "s3cret"});
  ASSERT_TRUE(d.ok()) << d.log();
  auto c = d.Client();
  auto health = c.Get("/api/v1/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto denied = c.Get("/api/v1/jobs");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401);
  EXPECT_NE(denied->body.find("token"), std::string::npos);
  auto allowed = c.Get("/api/v1/jobs", {{"Authorization", "Bearer s3cret"}});
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->status, 200);
}


// The value of one series ("name" or "name{labels}") in Prometheus text.
std::optional<double> SampleOf(const std::string& text, const std::string& series) {
  const std::string at = "\n" + series + " ";
  const size_t pos = ("\n" + text).find(at);
  if (pos == std::string::npos) return std::nullopt;
  return std::stod(text.substr(pos + at.size() - 1));
}

// GET /metrics of a kojod with one node, a metered project and jobs in
// every waiting state: the counts, GPUs, grant amounts and histograms.
TEST(ApiMetrics, CountJobsGpusGrantsAndDurations) {
  TempDir dir;
  const std::string org = dir.path() + "/org.json";
  {
    std::ofstream out(org);
    out << R"({"programmes": [{"name": "research"}],
               "organisations": [{"name": "uni", "programme": "research"}],
               "projects": [{"name": "A", "organisation": "uni"}],
               "grants": [{"id": "ga", "project": "A", "gpu_hours": 1000, "start": "2020-01-01", "end": "2099-01-01"}]})";
  }
  Kojod d(dir.path() + "/data", {"--org", org});
  ASSERT_TRUE(d.ok()) << d.log();
  auto c = d.Client();
  Json hb{{"node", {{"name", "n1"}, {"cpu_milli", 64000}, {"mem_mib", 512000},
                    {"gpus", {{{"index", 0}, {"model", "H100"}}, {{"index", 1}, {"model", "H100"}}}}}}};
  auto reg = c.Post("/api/v1/agents/register", hb.dump(), "application/json");
  ASSERT_TRUE(reg);
  ASSERT_EQ(reg->status, 200) << reg->body;
  for (const char* spec : {R"({"command":["true"],"gpus":1,"project":"A","time_limit_s":3600})",
                           R"({"command":["true"],"gpus":2,"project":"A","time_limit_s":3600})",
                           R"({"command":["true"],"project":"A","hold":true,"array":"0-2"})"}) {
    auto r = c.Post("/api/v1/jobs", spec, "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
  }

  // The first job starts (its agent never confirms: STARTING); the second
  // waits for the GPU the first holds; the array's three tasks are held.
  std::string text;
  std::string pending_reason;
  const bool settled = WaitFor([&] {
    auto job = c.Get("/api/v1/jobs/2");
    if (!job || job->status != 200) return false;
    pending_reason = Body(job)["reason"].get<std::string>();
    auto r = c.Get("/metrics");
    if (!r || r->status != 200) return false;
    text = r->body;
    return SampleOf(text, "kojo_jobs_started_total") == 1.0 &&
           SampleOf(text, fmt::format("kojo_pending_jobs{{reason=\"{}\"}}", pending_reason)) == 1.0 &&
           pending_reason != "Submitted";
  }, 10s);
  ASSERT_TRUE(settled) << pending_reason << "\n" << text;
  auto r = c.Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  text = r->body;

  EXPECT_EQ(SampleOf(text, "kojo_jobs_submitted_total"), 5.0) << text;
  EXPECT_EQ(SampleOf(text, "kojo_jobs_preempted_total"), 0.0);
  EXPECT_EQ(SampleOf(text, "kojo_jobs_requeued_total"), 0.0);
  EXPECT_EQ(SampleOf(text, R"(kojo_jobs{state="STARTING"})"), 1.0);
  EXPECT_EQ(SampleOf(text, R"(kojo_jobs{state="PENDING"})"), 1.0);
  EXPECT_EQ(SampleOf(text, R"(kojo_jobs{state="HELD"})"), 3.0);
  EXPECT_EQ(SampleOf(text, R"(kojo_jobs{state="COMPLETED"})"), 0.0);
  EXPECT_EQ(SampleOf(text, R"(kojo_pending_jobs{reason="Held"})"), std::nullopt);  // held jobs apart
  EXPECT_EQ(SampleOf(text, R"(kojo_gpus{model="H100"})"), 2.0);
  EXPECT_EQ(SampleOf(text, R"(kojo_gpus_allocated{model="H100"})"), 1.0);
  EXPECT_EQ(SampleOf(text, R"(kojo_gpus_idle{model="H100"})"), 1.0);
  const auto age = SampleOf(text, R"(kojo_agent_heartbeat_age_seconds{node="n1"})");
  ASSERT_TRUE(age);
  EXPECT_GE(*age, 0);
  EXPECT_LT(*age, 60);

  // 1,000 GPU-hours awarded; the running job reserves part of what is left.
  const std::string grant = R"({programme="research",project="A"})";
  EXPECT_EQ(SampleOf(text, "kojo_grant_awarded_gpu_seconds" + grant), 3'600'000.0);
  const auto used = SampleOf(text, "kojo_grant_used_gpu_seconds" + grant);
  const auto left = SampleOf(text, "kojo_grant_left_gpu_seconds" + grant);
  ASSERT_TRUE(used && left) << text;
  EXPECT_GE(*used, 0);
  EXPECT_LT(*left, 3'600'000.0 - *used);

  EXPECT_GE(SampleOf(text, "kojo_schedule_pass_duration_seconds_count").value_or(0), 1.0);
  EXPECT_EQ(SampleOf(text, R"(kojo_schedule_pass_duration_seconds_bucket{le="+Inf"})"),
            SampleOf(text, "kojo_schedule_pass_duration_seconds_count"));
  EXPECT_GE(SampleOf(text, "kojo_store_commit_duration_seconds_count").value_or(0), 4.0);  // node, 3 submissions
  EXPECT_EQ(SampleOf(text, R"(kojo_api_request_duration_seconds_count{method="POST",route="/api/v1/jobs"})"), 3.0);
  EXPECT_EQ(SampleOf(text, R"(kojo_api_request_duration_seconds_count{method="POST",route="/api/v1/agents/register"})"), 1.0);
  EXPECT_EQ(text.find("user="), std::string::npos);  // no per-user or per-job labels
  EXPECT_EQ(text.find("job="), std::string::npos);
}

// With authentication on, a Prometheus scraper needs a token, as for the
// other cluster-wide reads.
TEST(ApiMetrics, NeedsAToken) {
  TempDir dir;
  Kojod d(dir.path(), {"--token", "s3cret"});
  ASSERT_TRUE(d.ok()) << d.log();
  auto c = d.Client();
  auto denied = c.Get("/metrics");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401);
  auto allowed = c.Get("/metrics", {{"Authorization", "Bearer s3cret"}});
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->status, 200);
  EXPECT_NE(allowed->body.find("# TYPE kojo_jobs gauge\n"), std::string::npos);
}

}  // namespace
}  // namespace kojo::testing
