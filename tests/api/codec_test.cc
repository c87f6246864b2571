#include "api/codec.h"

#include <functional>
#include <regex>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/fields.h"

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

TEST(JobSpecCodec, AnInteractiveJobKeepsItsTerminalAndSize) {
  auto s = Spec(R"({"command":["bash"],"gpus":1,"pty":true,"pty_rows":40,"pty_cols":120})");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE(s->pty);
  EXPECT_EQ(s->pty_rows, 40);
  EXPECT_EQ(s->pty_cols, 120);
  EXPECT_EQ(ToJson(*s)["pty"], true);
  auto again = JobSpecFromJson(ToJson(*s));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(ToJson(*again), ToJson(*s));
  EXPECT_FALSE(ToJson(*Spec(R"({"command":["x"]})")).contains("pty"));  // batch jobs: as before
}

// A notebook's secret is made by kojod: stored and sent to agents (a
// start command carries it), never taken from a submission.
TEST(JobSpecCodec, ANotebooksSecretTravelsToAgentsButIsNeverSubmitted) {
  auto s = Spec(R"({"command":["jupyter-notebook"],"notebook":true})");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE(s->notebook);
  EXPECT_TRUE(s->session_secret.empty());
  EXPECT_FALSE(ToJson(*s).contains("session_secret"));
  s->session_secret = std::string(64, 'f');
  api::StartCommand c;
  c.job = 4;
  c.attempt = 1;
  c.spec = *s;
  auto back = StartCommandFromJson(ToJson(c));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_TRUE(back->spec.notebook);
  EXPECT_EQ(back->spec.session_secret, std::string(64, 'f'));
  EXPECT_FALSE(JobSpecFromJson(ToJson(*s)).ok());  // as a submission: refused
  EXPECT_FALSE(ToJson(*Spec(R"({"command":["x"]})")).contains("notebook"));
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
           {R"({"command":["bash"],"pty":true,"tasks":2})", "pty: a terminal session runs one task"},
           {R"({"command":["bash"],"pty":true,"array":"0-3"})", "pty: a terminal session cannot be an array job"},
           {R"({"command":["bash"],"pty":"yes"})", "pty: expected"},
           {R"({"command":["bash"],"pty":true,"pty_rows":-1})", "pty_rows: expected an integer 0..10000"},
           {R"({"command":["x"],"notebook":true,"tasks":2})", "notebook: a notebook session runs one task"},
           {R"({"command":["x"],"notebook":true,"array":"0-3"})", "notebook: a notebook session cannot be an array job"},
           {R"({"command":["x"],"notebook":true,"pty":true})", "notebook: a notebook session has no terminal"},
           {R"({"command":["x"],"notebook":true,"session_secret":"s"})", "session_secret: unknown field"},
       }) {
    auto s = Spec(c.body);
    ASSERT_FALSE(s.ok()) << c.body;
    EXPECT_THAT(s.error().message, HasSubstr(c.want)) << c.body;
  }
  EXPECT_FALSE(ParseJson("{\"command\":").ok());
}

TEST(JobSpecCodec, NoRentRoundTripsAndIsABoolean) {
  auto s = Spec(R"({"command":["x"],"no_rent":true})");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE(s->demand.nodes.no_rent);
  EXPECT_EQ(ToJson(*s)["no_rent"], true);
  EXPECT_FALSE(ToJson(*Spec(R"({"command":["x"]})")).contains("no_rent"));
  auto bad = Spec(R"({"command":["x"],"no_rent":"yes"})");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("no_rent"));
}

TEST(NodeViewCodec, RentedNodesCarryTheirProviderAndPhase) {
  NodeView v;
  v.info.name = "partner-a-1";
  v.state = NodeState::kUp;
  v.provider = "partner-a";
  v.rent_state = "up";
  v.rent_reason = "up after 40 s (paid by project vision)";
  const Json j = ToJson(v);
  EXPECT_EQ(j["provider"], "partner-a");
  EXPECT_EQ(j["rent_state"], "up");
  auto back = NodeViewFromJson(j);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->provider, "partner-a");
  EXPECT_EQ(back->rent_state, "up");
  EXPECT_EQ(back->rent_reason, v.rent_reason);
  NodeView owned;
  owned.info.name = "n1";
  const Json o = ToJson(owned);
  EXPECT_EQ(o["provider"], "");
  EXPECT_FALSE(o.contains("rent_state"));
}

TEST(JobSpecCodec, WhereItMayRun) {
  auto s = Spec(R"({"command":["x"],"gpus":2,"tasks":2,"distinct_nodes":true,"constraint":"a100&[rack1|rack2]","partitions":["gpu","debug"],
                    "nodelist":["gpu[01-02]","cpu7"],"exclude":["gpu03"]})");
  ASSERT_TRUE(s.ok()) << s.error().message;
  const NodeRule& r = s->demand.nodes;
  EXPECT_EQ(r.constraint, "a100&[rack1|rack2]");
  EXPECT_TRUE(r.parsed.matching);
  EXPECT_EQ(r.partitions, (std::vector<std::string>{"gpu", "debug"}));
  EXPECT_EQ(r.nodelist, (std::vector<std::string>{"gpu01", "gpu02", "cpu7"}));
  EXPECT_EQ(r.exclude, (std::vector<std::string>{"gpu03"}));
  auto again = JobSpecFromJson(ToJson(*s));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(ToJson(*again), ToJson(*s));
  EXPECT_EQ(again->demand.nodes.parsed.any_of, r.parsed.any_of);
  EXPECT_TRUE(again->demand.distinct_nodes);
  auto lone = Spec(R"({"command":["x"],"distinct_nodes":true})");
  ASSERT_FALSE(lone.ok());
  EXPECT_THAT(lone.error().message, HasSubstr("distinct_nodes: needs tasks of 2 or more"));
  for (const auto& [body, want] : std::vector<std::pair<std::string, std::string>>{
           {R"({"command":["x"],"constraint":"a100&"})", "constraint: constraint 'a100&': expected a feature name"},
           {R"({"command":["x"],"nodelist":["n[3-1]"]})", "nodelist: hostlist 'n[3-1]'"},
           {R"({"command":["x"],"partitions":"gpu"})", "partitions: expected a list"},
       }) {
    auto bad = Spec(body);
    ASSERT_FALSE(bad.ok()) << body;
    EXPECT_THAT(bad.error().message, HasSubstr(want)) << body;
  }
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
  h.tasks.push_back({7, 1, false, 0, std::nullopt, "exited", 100, 120, std::nullopt});
  h.tasks.push_back({8, 2, true, std::nullopt, std::nullopt, "", 110, std::nullopt, 3600});
  h.wait_ms = 500;
  auto back = HeartbeatFromJson(ToJson(h));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->node.gpus[0].uuid, "GPU-abc");
  EXPECT_EQ(back->tasks[0].exit_code, std::optional<int>(0));
  EXPECT_EQ(back->tasks[0].end_time, std::optional<Seconds>(120));
  EXPECT_EQ(back->tasks[0].time_limit_s, std::nullopt);
  EXPECT_EQ(back->tasks[1].time_limit_s, std::optional<Seconds>(3600));
  HeartbeatReply r;
  StartCommand c;
  c.job = 7;
  c.attempt = 2;
  c.spec.command = {"true"};
  c.placement = {"n1", {0, 1}, {"a", "b"}, 1000, 0};
  r.start.push_back(c);
  r.kill.push_back({8, 1, "cancelled", 5});
  r.acknowledged.emplace_back(6, 1);
  EXPECT_FALSE(ToJson(r).contains("limit"));  // older agents never see it
  r.limit.push_back({9, 1, 5400});
  auto rb = HeartbeatReplyFromJson(ToJson(r));
  ASSERT_TRUE(rb.ok()) << rb.error().message;
  EXPECT_EQ(rb->start[0].placement.gpus, (std::vector<int>{0, 1}));
  EXPECT_EQ(rb->kill[0].grace_s, 5);
  ASSERT_EQ(rb->limit.size(), 1u);
  EXPECT_EQ(rb->limit[0].job, 9);
  EXPECT_EQ(rb->limit[0].time_limit_s, 5400);
  EXPECT_EQ(rb->acknowledged[0], (std::pair<JobId, int>{6, 1}));
  EXPECT_FALSE(ToJson(r).contains("lease_ms"));  // none
  EXPECT_EQ(rb->lease_ms, 0);
  r.lease_ms = 300000;
  r.lease_grace_s = 10;
  rb = HeartbeatReplyFromJson(ToJson(r));
  ASSERT_TRUE(rb.ok()) << rb.error().message;
  EXPECT_EQ(rb->lease_ms, 300000);
  EXPECT_EQ(rb->lease_grace_s, 10);
}

// Found by fuzzing (fuzz/regressions/heartbeat_fuzz/): a register or
// heartbeat body for the node "" was accepted; such a node has no path, and
// the controller checks a node token's node only when a name is given.
TEST(Heartbeat, RefusesANodeWithoutAName) {
  for (const char* body : {R"({"node":{"name":""}})", R"({"node":{"name":"","cpu_milli":1000},"tasks":[]})"}) {
    auto j = ParseJson(body);
    ASSERT_TRUE(j.ok());
    auto hb = HeartbeatFromJson(*j);
    ASSERT_FALSE(hb.ok()) << body;
    EXPECT_EQ(hb.error().message, "node.name: expected a node name, got \"\"");
  }
  auto j = ParseJson(R"({"node":{"name":"gpu-01"}})");
  ASSERT_TRUE(j.ok());
  EXPECT_TRUE(HeartbeatFromJson(*j).ok());
  // A stored record is not held to it: one written before still loads.
  EXPECT_TRUE(NodeInfoFromJson(Json{{"name", ""}}).ok());
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

// Regression: a 100,000-deep list in a body (alone, or as a job's name or
// env, an org document's field, a heartbeat's node) crashed kojod, whose
// error message dumped the value recursively. ParseJson, which every
// route's body goes through, refuses it first, naming the limit.
std::string Deep(int levels) { return std::string(levels, '[') + std::string(levels, ']'); }

TEST(ParseJson, RefusesDocumentsNestedDeeperThanTheLimit) {
  const std::string deep = Deep(100000);
  for (const std::string& body : {deep, R"({"command":["x"],"name":)" + deep + "}",
                                  R"({"command":["x"],"env":{"A":)" + deep + "}}",
                                  R"({"programmes":[{"name":)" + deep + "}]}",
                                  R"({"node":{"name":"n1","gpus":)" + deep + "}}"}) {
    auto j = ParseJson(body);
    ASSERT_FALSE(j.ok()) << body.substr(0, 40);
    EXPECT_EQ(j.error().message, "body: nested deeper than 64 levels");
  }
  EXPECT_TRUE(ParseJson(Deep(kMaxJsonDepth)).ok());
  EXPECT_FALSE(ParseJson(Deep(kMaxJsonDepth + 1)).ok());
  // Brackets inside strings (escaped quotes included) are text, not nesting.
  auto text = ParseJson(R"({"script":"\"[[[)" + std::string(1000, '[') + R"("})");
  ASSERT_TRUE(text.ok()) << text.error().message;
  EXPECT_TRUE(JobSpecFromJson(*text).ok());
  // Unbalanced closers do not hide an opening run.
  EXPECT_FALSE(ParseJson("]]]]" + Deep(65)).ok());
}

// The decoders quote a bad value in their message: never all of it. A
// value as deep as the parser alone can build (it does not recurse) must
// not crash them.
TEST(ParseJson, DecodersQuoteADeepValueWithoutDumpingIt) {
  const std::string deep = Deep(100000);
  auto spec = JobSpecFromJson(Json::parse(R"({"command":["x"],"name":)" + deep + "}"));
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.error().message, "name: expected a string, got a list of 1 item");
  auto env = JobSpecFromJson(Json::parse(R"({"command":["x"],"env":{"A":)" + deep + "}}"));
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.error().message, "env.A: expected a string, got a list of 1 item");
  auto hb = HeartbeatFromJson(Json::parse(R"({"node":{"name":"n1","cpu_milli":)" + deep + "}}"));
  ASSERT_FALSE(hb.ok());
  EXPECT_THAT(hb.error().message, HasSubstr("node.cpu_milli: expected an integer"));
  EXPECT_LT(hb.error().message.size(), 100u);
}

TEST(Short, IsBoundedAndValidUtf8) {
  EXPECT_EQ(Short(Json::parse(Deep(100000))), "a list of 1 item");
  EXPECT_EQ(Short(Json::parse("[1,2,3]")), "a list of 3 items");
  EXPECT_EQ(Short(Json::parse(R"({"a":1})")), "an object of 1 field");
  EXPECT_EQ(Short(Json::array()), "an empty list");
  EXPECT_EQ(Short(Json("two")), "\"two\"");
  EXPECT_EQ(Short(Json(nullptr)), "null");
  EXPECT_EQ(Short(Json(12)), "12");
  const std::string huge = Short(Json(std::string(1 << 20, 'x')));
  EXPECT_EQ(huge, "\"" + std::string(36, 'x') + "...");
  // Control characters escape to 6 bytes each: still at most 40 in all.
  EXPECT_LE(Short(Json(std::string(1000, '\x01'))).size(), 40u);
  // A cut never splits a character: 100 "é" (2 bytes each).
  std::string e;
  for (int i = 0; i < 100; ++i) e += "\xc3\xa9";
  const std::string cut = Short(Json(e));
  EXPECT_LE(cut.size(), 40u);
  EXPECT_NO_THROW((void)Json(cut).dump());  // dump throws on invalid UTF-8
  EXPECT_EQ(cut.substr(cut.size() - 3), "...");
}

Result<JobSpec> SpecWith(const std::string& fields) { return Spec(R"({"command":["x"],)" + fields + "}"); }

// Regression: "ar\u0000g" ran as "ar"; an env key "A=B" was accepted.
TEST(JobSpecCodec, RefusesNulCharactersAndBadEnvKeys) {
  struct Case { std::string body; std::string want; };
  for (const Case& c : std::vector<Case>{
           {R"({"command":["ar\u0000g"]})", "command[0]: must not contain a NUL character"},
           {R"({"command":["x","a\u0000"]})", "command[1]: must not contain a NUL character"},
           {R"({"script":"echo\u0000"})", "script: must not contain a NUL character"},
           {R"({"command":["x"],"workdir":"/tmp/\u0000x"})", "workdir: must not contain a NUL character"},
           {R"({"command":["x"],"name":"a\u0000"})", "name: must not contain a NUL character"},
           {R"({"command":["x"],"stdout":"/o\u0000"})", "stdout: must not contain a NUL character"},
           {R"({"command":["x"],"stderr":"/e\u0000"})", "stderr: must not contain a NUL character"},
           {R"({"command":["x"],"project":"p\u0000"})", "project: must not contain a NUL character"},
           {R"({"command":["x"],"env":{"A":"1\u0000"}})", "env.A: must not contain a NUL character"},
           {R"({"command":["x"],"env":{"A\u0000B":"1"}})", "env: a key must not contain a NUL character"},
           {R"({"command":["x"],"env":{"A=B":"1"}})",
            "env: expected variable names that are not empty and hold no '=' or NUL character, got \"A=B\""},
           {R"({"command":["x"],"env":{"":"1"}})", "env: expected variable names that are not empty"},
       }) {
    auto s = Spec(c.body);
    ASSERT_FALSE(s.ok()) << c.body;
    EXPECT_THAT(s.error().message, HasSubstr(c.want)) << c.body;
  }
  EXPECT_TRUE(SpecWith(R"("env":{"A_1":"x=y"})").ok());
}

// Found by fuzzing (fuzz/regressions/sbatch_fuzz/): a spec built in memory
// (kojo submit's, from a script that is not UTF-8) passed the decoder and
// then could not be serialised. A submitted spec's strings must be UTF-8.
TEST(JobSpecCodec, RefusesTextThatIsNotUtf8) {
  auto spec = [](auto edit) {
    JobSpec s;
    s.command = {"x"};
    edit(s);
    return JobSpecFromJson(ToJson(s));
  };
  struct Case { std::function<void(JobSpec&)> edit; std::string want; };
  for (const Case& c : std::vector<Case>{
           {[](JobSpec& s) { s.command = {}; s.script = "#!/bin/sh\n# caf\xE9\n"; },
            "script: expected UTF-8 text, got the byte 0xE9 at offset 15"},
           {[](JobSpec& s) { s.command = {"echo", "\xC1\x81"}; }, "command[1]: expected UTF-8 text, got the byte 0xC1"},
           {[](JobSpec& s) { s.name = "a\xE2\x82"; }, "name: expected UTF-8 text, got the byte 0xE2 at offset 1"},
           {[](JobSpec& s) { s.workdir = "/\xED\xA0\x80"; }, "workdir: expected UTF-8 text"},  // a surrogate
           {[](JobSpec& s) { s.env["A"] = "\xF4\x90\x80\x80"; }, "env.A: expected UTF-8 text"},  // above U+10FFFF
           {[](JobSpec& s) { s.env["\xFF"] = "1"; }, "env: expected keys of UTF-8 text, got the byte 0xFF at offset 0"},
       }) {
    auto r = spec(c.edit);
    ASSERT_FALSE(r.ok()) << c.want;
    EXPECT_THAT(r.error().message, HasSubstr(c.want));
  }
  auto ok = spec([](JobSpec& s) { s.name = "caf\xC3\xA9 \xF0\x9F\x9A\x80"; s.env["A"] = "\xE2\x82\xAC"; });
  EXPECT_TRUE(ok.ok()) << ok.error().message;
}

TEST(Utf8Invalid, FindsTheFirstBadByte) {
  EXPECT_EQ(Utf8Invalid(""), std::string_view::npos);
  EXPECT_EQ(Utf8Invalid("plain \xC3\xA9\xE2\x82\xAC\xF0\x9F\x9A\x80"), std::string_view::npos);
  EXPECT_EQ(Utf8Invalid("ab\x80"), 2u);              // a continuation byte alone
  EXPECT_EQ(Utf8Invalid("\xC0\xAF"), 0u);           // overlong '/'
  EXPECT_EQ(Utf8Invalid("x\xE0\x80\xAF"), 1u);      // overlong, three bytes
  EXPECT_EQ(Utf8Invalid("\xED\xA0\x80"), 0u);       // surrogate
  EXPECT_EQ(Utf8Invalid("\xF4\x90\x80\x80"), 0u);   // above U+10FFFF
  EXPECT_EQ(Utf8Invalid("ok\xE2\x82"), 2u);          // cut off
  EXPECT_EQ(Utf8Invalid("\xF5\x80\x80\x80"), 0u);
}

// Specs inside views and start commands were checked when submitted: a
// record stored before these checks still decodes.
TEST(JobSpecCodec, StoredSpecsDecodeAsBefore) {
  JobView v;
  v.id = 1;
  v.spec.command = {std::string("ar\0g", 4)};
  v.spec.env["A=B"] = "1";
  auto back = JobViewFromJson(ToJson(v));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->spec.command[0].size(), 4u);
}

// Regression: the limits counted bytes but said characters.
TEST(JobSpecCodec, LengthLimitsCountCharacters) {
  std::string e256;
  for (int i = 0; i < 256; ++i) e256 += "\xc3\xa9";  // "é": 2 bytes, 1 character
  auto ok = JobSpecFromJson(Json{{"command", {"x"}}, {"name", e256}});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->name, e256);
  auto over = JobSpecFromJson(Json{{"command", {"x"}}, {"name", e256 + "\xc3\xa9"}});
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().message, "name: expected at most 256 characters, got 257");
  auto models = JobSpecFromJson(Json{{"command", {"x"}}, {"gpus", 1}, {"gpu_models", {std::string(65, 'a')}}});
  ASSERT_FALSE(models.ok());
  EXPECT_EQ(models.error().message, "gpu_models[0]: expected at most 64 characters, got 65");
}

// Regression: "gpus": null was taken for "gpus" absent. No field of a job
// spec is nullable (api/openapi.yaml).
TEST(JobSpecCodec, NullIsRefusedWhereTheFieldIsNotNullable) {
  struct Case { const char* fields; const char* want; };
  for (const Case& c : std::vector<Case>{
           {R"("gpus":null)", "gpus: expected an integer 0..100000, got null"},
           {R"("name":null)", "name: expected a string, got null"},
           {R"("env":null)", "env: expected an object of at most 1024 string values, got null"},
           {R"("env":{"A":null})", "env.A: expected a string, got null"},
           {R"("gpu_models":null)", "gpu_models: expected a list of at most 64 strings, got null"},
           {R"("time_limit_s":null)", "time_limit_s: expected an integer 1..3153600000, got null"},
           {R"("requeue":null)", "requeue: expected true or false, got null"},
       }) {
    auto s = SpecWith(c.fields);
    ASSERT_FALSE(s.ok()) << c.fields;
    EXPECT_EQ(s.error().message, c.want) << c.fields;
  }
  auto command = Spec(R"({"command":null,"script":"true"})");
  ASSERT_FALSE(command.ok());
  EXPECT_EQ(command.error().message, "command: expected a list of at most 4096 strings, got null");
  // What we emit ourselves still decodes: a spec (no nulls), and a view
  // whose nullable fields are null.
  JobSpec s;
  s.command = {"true"};
  auto again = JobSpecFromJson(ToJson(s));
  ASSERT_TRUE(again.ok()) << again.error().message;
  JobView v;
  v.id = 2;
  v.spec = s;
  const Json j = ToJson(v);
  ASSERT_TRUE(j["start_unix"].is_null());
  ASSERT_TRUE(j["array_id"].is_null());
  auto view = JobViewFromJson(j);
  ASSERT_TRUE(view.ok()) << view.error().message;
  EXPECT_FALSE(view->start_time);
  TaskReport r{3, 1, true, std::nullopt, std::nullopt, "", 100, std::nullopt, std::nullopt};
  ASSERT_TRUE(ToJson(r)["exit_code"].is_null());
  EXPECT_TRUE(TaskReportFromJson(ToJson(r)).ok());
}

// Regression: extreme times overflowed the date arithmetic (hour 39).
TEST(IsoTime, AlwaysAValidTime) {
  EXPECT_EQ(IsoTime(kMaxUnixSeconds), "9999-12-31T23:59:59Z");
  EXPECT_EQ(IsoTime(INT64_MAX), "9999-12-31T23:59:59Z");
  EXPECT_EQ(IsoTime(INT64_MIN), "0001-01-01T00:00:00Z");
  EXPECT_EQ(IsoTime(-1), "1969-12-31T23:59:59Z");
  const std::regex valid(R"(\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\dZ)");
  for (Seconds t : {INT64_MIN, INT64_MIN + 1, -9223372036854775807 / 2, Seconds{-62135596801}, Seconds{0},
                    Seconds{253402300800}, INT64_MAX / 2, INT64_MAX - 1, INT64_MAX})
    EXPECT_TRUE(std::regex_match(IsoTime(t), valid)) << t << " -> " << IsoTime(t);
}

}  // namespace
}  // namespace kojo::api
