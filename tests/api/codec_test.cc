#include "api/codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kojo::api {
namespace {

using ::testing::HasSubstr;

Result<JobSpec> Spec(std::string_view text) {
  auto j = ParseJson(text);
  if (!j.ok()) return j.error();
  return JobSpecFromJson(*j);
}

TEST(JobSpecCodec, RoundTrip) {
  auto s = Spec(R"({"name":"train","command":["python","t.py"],"gpus":2,"gpu_models":["H100"],
                    "cpu_milli":8000,"mem_mib":65536,"time_limit_s":3600,"env":{"A":"1"},
                    "project":"p1","array":"0-3","requeue":false})");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->demand.gpus, 2);
  EXPECT_EQ(s->demand.gpu_models, std::vector<std::string>{"H100"});
  EXPECT_EQ(s->time_limit_s, std::optional<Seconds>(3600));
  EXPECT_FALSE(s->requeue);
  auto again = JobSpecFromJson(ToJson(*s));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(ToJson(*again), ToJson(*s));
}

TEST(JobSpecCodec, ErrorsNameTheField) {
  struct Case { const char* body; const char* want; };
  for (const Case& c : std::vector<Case>{
           {R"({"command":["x"],"gpus":-1})", "gpus: expected an integer 0..100000, got -1"},
           {R"({"command":["x"],"gpus":"two"})", "gpus: expected an integer 0..100000, got \"two\""},
           {R"({"command":["x"],"gpus":1e9})", "gpus: expected an integer"},
           {R"({"command":["x"],"gpuz":1})", "gpuz: unknown field"},
           {R"({"gpus":1})", "command: give exactly one of"},
           {R"({"command":["x"],"script":"y"})", "command: give exactly one of"},
           {R"({"command":["x"],"gpus":2,"gpu_milli":500})", "gpu_milli"},
           {R"({"command":["x"],"workdir":"rel"})", "workdir: expected an absolute path"},
           {R"({"command":["x"],"array":"5-1"})", "array: expected ranges"},
           {R"({"command":["x"],"time_limit_s":0})", "time_limit_s: expected an integer 1.."},
           {R"([1,2])", "body: expected a JSON object"},
           {R"({"command":"x"})", "command: expected a list"},
       }) {
    auto s = Spec(c.body);
    ASSERT_FALSE(s.ok()) << c.body;
    EXPECT_THAT(s.error().message, HasSubstr(c.want)) << c.body;
  }
  EXPECT_FALSE(ParseJson("{\"command\":").ok());
}

TEST(ArraySpec, Forms) {
  auto a = ParseArraySpec("0-3,7,10-14:2%2");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->indices, (std::vector<int>{0, 1, 2, 3, 7, 10, 12, 14}));
  EXPECT_EQ(a->max_running, 2);
  EXPECT_FALSE(ParseArraySpec("").ok());
  EXPECT_FALSE(ParseArraySpec("1-").ok());
  EXPECT_FALSE(ParseArraySpec("0-200000").ok());
  EXPECT_FALSE(ParseArraySpec("0-9%0").ok());
}

// Regression: the message quoted what was left of the text once parsing
// had consumed it (often nothing: "bad range '5-1' in ''").
TEST(ArraySpec, ErrorsQuoteTheWholeSpec) {
  auto bad = ParseArraySpec("0-3,5-1");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("bad range '5-1' in '0-3,5-1'"), std::string::npos) << bad.error().message;
  auto many = ParseArraySpec("0-200000%4");
  ASSERT_FALSE(many.ok());
  EXPECT_NE(many.error().message.find("in '0-200000%4'"), std::string::npos) << many.error().message;
}

TEST(ArraySpec, OverlapsCountOnceAndTheLimitIsOnDistinctTasks) {
  auto a = ParseArraySpec("8,0-5,3-8,5");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->indices, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  auto full = ParseArraySpec("0-99999,0-99999,50000-99999:7");
  ASSERT_TRUE(full.ok()) << full.error().message;
  EXPECT_EQ(full->indices.size(), 100000u);
  EXPECT_EQ(full->indices.back(), 99999);
  auto over = ParseArraySpec("0-99999,100000");
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.error().message.find("more than 100000 tasks"), std::string::npos) << over.error().message;
  EXPECT_FALSE(ParseArraySpec("0-50000,50001-99999,100001-100002").ok());
}

TEST(ArraySpec, MaxRunningIsReadWithoutExpandingTheRanges) {
  EXPECT_EQ(ArrayMaxRunning("0-99999%4"), 4);
  EXPECT_EQ(ArrayMaxRunning("0-3,7"), 0);
  EXPECT_EQ(ArrayMaxRunning(""), 0);
}

TEST(ArraySpec, ASpecIsCheckedEachTimeItIsDecodedAfterAValidOne) {
  // Decoding remembers the last valid range; an invalid one after it is
  // still refused, and the valid one still accepted.
  auto spec = [](std::string_view array) {
    return JobSpecFromJson(Json{{"command", {"true"}}, {"array", array}});
  };
  EXPECT_TRUE(spec("0-9").ok());
  auto bad = spec("9-0");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("array"), std::string::npos) << bad.error().message;
  EXPECT_TRUE(spec("0-9").ok());
  EXPECT_FALSE(spec("0-9%0").ok());
}

TEST(Heartbeat, RoundTrip) {
  Heartbeat h;
  h.node.name = "n1";
  h.node.gpus.push_back({0, "H100", 81559, "GPU-abc"});
  h.tasks.push_back({7, 1, false, 0, std::nullopt, "exited", 100, 120});
  h.wait_ms = 500;
  auto back = HeartbeatFromJson(ToJson(h));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->node.gpus[0].uuid, "GPU-abc");
  EXPECT_EQ(back->tasks[0].exit_code, std::optional<int>(0));
  EXPECT_EQ(back->tasks[0].end_time, std::optional<Seconds>(120));
  HeartbeatReply r;
  StartCommand c;
  c.job = 7;
  c.attempt = 2;
  c.spec.command = {"true"};
  c.placement = {"n1", {0, 1}, {"a", "b"}, 1000, 0};
  r.start.push_back(c);
  r.kill.push_back({8, 1, "cancelled", 5});
  r.acknowledged.emplace_back(6, 1);
  auto rb = HeartbeatReplyFromJson(ToJson(r));
  ASSERT_TRUE(rb.ok()) << rb.error().message;
  EXPECT_EQ(rb->start[0].placement.gpus, (std::vector<int>{0, 1}));
  EXPECT_EQ(rb->kill[0].grace_s, 5);
  EXPECT_EQ(rb->acknowledged[0], (std::pair<JobId, int>{6, 1}));
}

TEST(Heartbeat, LogSecretIsHexAndNeverQuoted) {
  Heartbeat h;
  h.node.name = "n1";
  EXPECT_FALSE(ToJson(h).contains("log_secret")) << "none: not sent";
  h.log_secret = std::string(64, 'a');
  auto back = HeartbeatFromJson(ToJson(h));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->log_secret, h.log_secret);
  EXPECT_FALSE(ToJson(h.node).contains("log_secret")) << "not part of what a node shows";
  // It becomes a header of the controller's request to the agent: nothing
  // but hex, long enough to guess at no better than chance.
  for (const std::string& bad : {std::string(31, 'a'), std::string(129, 'a'), std::string(64, 'A'),
                                std::string(40, 'a') + "\r\nX-Evil: 1", std::string(40, 'a') + " b"}) {
    Json j = ToJson(h);
    j["log_secret"] = bad;
    auto r = HeartbeatFromJson(j);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("log_secret"), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find("aaaa"), std::string::npos) << "never quoted: " << r.error().message;
  }
  Json j = ToJson(h);
  j["log_secret"] = 5;
  EXPECT_FALSE(HeartbeatFromJson(j).ok());
}

TEST(JobView, RoundTripAndIsoTime) {
  JobView v;
  v.id = 3;
  v.spec.command = {"sleep", "1"};
  v.state = JobState::kRunning;
  v.submit_time = 1764077076;
  v.start_time = 1764077077;
  v.placement.push_back({"n1", {3}, {"u"}, 1000, 0});
  Json j = ToJson(v);
  EXPECT_EQ(j["submit_time"], "2025-11-25T13:24:36Z");
  auto back = JobViewFromJson(j);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->state, JobState::kRunning);
  EXPECT_EQ(back->start_time, v.start_time);
  EXPECT_EQ(IsoTime(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(IsoTime(951782400), "2000-02-29T00:00:00Z");
}

}  // namespace
}  // namespace kojo::api
