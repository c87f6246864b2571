// GET /api/v1/jobs/{id}/why against a real kojod and agent: each reason the
// controller gives appears when its cause holds and goes when it is removed.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "daemons.h"

#ifdef KOJO_AGENT_BINARY

namespace kojo::testing {
namespace {

using namespace std::chrono_literals;

class WhyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kojod_ = std::make_unique<Kojod>(dir_.path() + "/kojod",
                                     std::vector<std::string>{"--node-timeout", "5", "--kill-grace", "1"});
    ASSERT_TRUE(kojod_->ok()) << kojod_->log();
    agent_ = Process({KOJO_AGENT_BINARY, "--server", kojod_->url(), "--name", "n1", "--state-dir",
                      dir_.path() + "/n1", "--listen", "127.0.0.1:0", "--emulate-gpus", "2xH100-80GB",
                      "--kill-grace", "1", "--heartbeat-wait-ms", "500"},
                     dir_.path() + "/n1.log");
    ASSERT_TRUE(WaitFor([&] { return Body(Client().Get("/api/v1/nodes/n1"))["state"] == "UP"; }, 15s))
        << ReadFile(dir_.path() + "/n1.log");
  }
  httplib::Client Client() { return kojod_->Client(); }
  JobId Submit(int gpus, std::int64_t limit) {
    const Json spec = {{"command", {"/bin/sh", "-c", "sleep 60"}}, {"gpus", gpus}, {"time_limit_s", limit}};
    auto r = Client().Post("/api/v1/jobs", spec.dump(), "application/json");
    EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
    return r && r->status == 201 ? Body(r)["ids"][0].get<JobId>() : 0;
  }
  Json Why(JobId id) { return Body(Client().Get(fmt::format("/api/v1/jobs/{}/why", id).c_str())); }
  bool WaitReason(JobId id, const std::string& reason) {
    return WaitFor([&] { return Why(id)["reason"] == reason; }, 15s);
  }
  void Post(const std::string& path) {
    auto r = Client().Post(path.c_str(), "{}", "application/json");
    ASSERT_TRUE(r && r->status == 200) << path << ": " << (r ? r->body : "no answer");
  }

  TempDir dir_;
  std::unique_ptr<Kojod> kojod_;
  Process agent_;
};

TEST_F(WhyTest, EachReasonWhileItsCauseHolds) {
  const JobId a = Submit(2, 600);
  ASSERT_TRUE(WaitReason(a, "Running")) << Why(a).dump();
  EXPECT_EQ(Why(a)["confidence"], "now");
  const Json running = Body(Client().Get(fmt::format("/api/v1/jobs/{}", a).c_str()));
  const std::int64_t started = running["start_unix"].get<std::int64_t>();

  // b is next but both GPUs are a's: Resources, with a's end as the estimate.
  const JobId b = Submit(2, 600);
  // c is behind b: Priority.
  const JobId c = Submit(1, 600);
  ASSERT_TRUE(WaitReason(b, "Resources")) << Why(b).dump();
  ASSERT_TRUE(WaitReason(c, "Priority")) << Why(c).dump();
  Json wb = Why(b);
  EXPECT_EQ(wb["state"], "PENDING");
  EXPECT_EQ(wb["confidence"], "upper-bound");
  ASSERT_TRUE(wb["estimated_start_unix"].is_number()) << wb.dump();
  EXPECT_EQ(wb["estimated_start_unix"].get<std::int64_t>(), started + 600);
  EXPECT_FALSE(wb["message"].get<std::string>().empty());
  EXPECT_TRUE(wb["as_of_unix"].is_number());
  // The JobView carries the same estimate.
  EXPECT_EQ(Body(Client().Get(fmt::format("/api/v1/jobs/{}", b).c_str()))["estimated_start_unix"],
            wb["estimated_start_unix"]);

  // Held while held, back in the queue once released.
  Post(fmt::format("/api/v1/jobs/{}/hold", c));
  EXPECT_EQ(Why(c)["reason"], "Held");
  Post(fmt::format("/api/v1/jobs/{}/release", c));
  ASSERT_TRUE(WaitReason(c, "Priority")) << Why(c).dump();

  // The only node drains: b can run nowhere in service.
  const std::string drain = Json{{"reason", "maintenance"}}.dump();
  ASSERT_EQ(Client().Post("/api/v1/nodes/n1/drain", drain, "application/json")->status, 200);
  ASSERT_TRUE(WaitReason(b, "NodeDrain")) << Why(b).dump();
  EXPECT_TRUE(Why(b)["estimated_start"].is_null());
  EXPECT_NE(Why(b)["message"].get<std::string>().find("n1"), std::string::npos);
  Post("/api/v1/nodes/n1/resume");
  ASSERT_TRUE(WaitReason(b, "Resources")) << Why(b).dump();

  // Once a ends, b runs; a's answer is its end.
  Post(fmt::format("/api/v1/jobs/{}/cancel", a));
  ASSERT_TRUE(WaitReason(b, "Running")) << Why(b).dump();
  ASSERT_TRUE(WaitFor([&] { return Why(a)["state"] == "CANCELLED"; }, 15s)) << Why(a).dump();
  for (JobId id : {b, c}) Post(fmt::format("/api/v1/jobs/{}/cancel", id));
}

TEST_F(WhyTest, ArrayLimitAndUnknownJob) {
  const Json spec = {{"command", {"/bin/sh", "-c", "sleep 60"}}, {"gpus", 0}, {"array", "0-2%1"}};
  auto r = Client().Post("/api/v1/jobs", spec.dump(), "application/json");
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
  const Json ids = Body(r)["ids"];
  ASSERT_EQ(ids.size(), 3u);
  ASSERT_TRUE(WaitReason(ids[0].get<JobId>(), "Running"));
  ASSERT_TRUE(WaitReason(ids[2].get<JobId>(), "ArrayLimit")) << Why(ids[2].get<JobId>()).dump();
  EXPECT_NE(Why(ids[2].get<JobId>())["message"].get<std::string>().find("at most 1"), std::string::npos);
  auto missing = Client().Get("/api/v1/jobs/999999/why");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto bad = Client().Get("/api/v1/jobs/abc/why");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  for (const auto& id : ids) Post(fmt::format("/api/v1/jobs/{}/cancel", id.get<JobId>()));
}

}  // namespace
}  // namespace kojo::testing

#endif  // KOJO_AGENT_BINARY
