// Quotas in the live system: a real kojod (with --org) and a real agent. A
// project borrows idle GPUs beyond its guarantee; when the owner of the
// guarantee needs them they are taken back by preemption (SIGTERM, grace,
// requeue), and a project at its borrow limit waits with the reason Quota.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "daemons.h"

#ifdef KOJO_AGENT_BINARY

namespace kojo::testing {
namespace {

using namespace std::chrono_literals;

class QuotaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // One node of 4 GPUs. "owner" is guaranteed 2 of them; "borrower" is
    // guaranteed none and may borrow up to 3.
    const std::string org = dir_.path() + "/org.json";
    std::ofstream(org) << R"({
      "programmes": [{"name": "research"}],
      "organisations": [{"name": "uni", "programme": "research"}],
      "projects": [{"name": "owner", "organisation": "uni", "guaranteed_gpus": 2},
                   {"name": "borrower", "organisation": "uni", "guaranteed_gpus": 0, "borrow_limit": 3}],
      "grants": [{"id": "go", "project": "owner", "gpu_hours": 1000, "start": "2020-01-01", "end": "2099-01-01"},
                 {"id": "gb", "project": "borrower", "gpu_hours": 1000, "start": "2020-01-01", "end": "2099-01-01"}]})";
    kojod_ = std::make_unique<Kojod>(dir_.path() + "/kojod",
                                     std::vector<std::string>{"--kill-grace", "1", "--org", org});
    ASSERT_TRUE(kojod_->ok()) << kojod_->log();
    agent_ = Process({KOJO_AGENT_BINARY, "--server", kojod_->url(), "--name", "n1", "--state-dir", dir_.path() + "/n1",
                      "--listen", "127.0.0.1:0", "--emulate-gpus", "4xH100-80GB", "--kill-grace", "1",
                      "--heartbeat-wait-ms", "300"},
                     dir_.path() + "/n1.log");
    ASSERT_TRUE(WaitFor([&] { return Get("/api/v1/nodes/n1")["state"] == "UP"; }, 15s)) << kojod_->log();
  }
  Json Get(const std::string& path) { return Body(kojod_->Client().Get(path.c_str())); }
  JobId Submit(const std::string& project, int gpus) {
    const Json spec = {{"command", {"/bin/sh", "-c", "trap 'echo got-term; exit 143' TERM; sleep 60 & wait"}},
                       {"project", project}, {"gpus", gpus}, {"time_limit_s", 600}};
    auto r = kojod_->Client().Post("/api/v1/jobs", spec.dump(), "application/json");
    EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
    return r && r->status == 201 ? Body(r)["ids"][0].get<JobId>() : 0;
  }
  Json Job(JobId id) { return Get(fmt::format("/api/v1/jobs/{}", id)); }
  bool WaitJob(JobId id, const std::function<bool(const Json&)>& pred) {
    return WaitFor([&] { return pred(Job(id)); }, 20s);
  }

  TempDir dir_;
  std::unique_ptr<Kojod> kojod_;
  Process agent_;
};

TEST_F(QuotaTest, BorrowedGpusAreTakenBackAndTheBorrowLimitHolds) {
  // The borrower takes 3 idle GPUs (its limit); a 4th job waits for Quota.
  std::vector<JobId> borrowed;
  for (int i = 0; i < 3; ++i) borrowed.push_back(Submit("borrower", 1));
  for (JobId id : borrowed) ASSERT_TRUE(WaitJob(id, [](const Json& j) { return j["state"] == "RUNNING"; })) << Job(id).dump();
  const JobId over = Submit("borrower", 1);
  ASSERT_TRUE(WaitJob(over, [](const Json& j) { return j["reason"] == "Quota"; })) << Job(over).dump();
  EXPECT_EQ(Get(fmt::format("/api/v1/jobs/{}/why", over))["reason"], "Quota");

  // The owner asks for its 2 guaranteed GPUs: only one is free, so one
  // borrowed job is preempted (TERM, then requeued) and the owner runs.
  const JobId owner = Submit("owner", 2);
  ASSERT_TRUE(WaitJob(owner, [](const Json& j) { return j["state"] == "RUNNING"; }))
      << Job(owner).dump() << "\n" << Job(borrowed[0]).dump() << "\n" << Job(borrowed[1]).dump() << "\n"
      << Job(borrowed[2]).dump() << "\n" << Job(over).dump() << kojod_->log();
  int requeued = 0, running = 0;
  for (JobId id : borrowed) {
    const Json j = Job(id);
    if (j["attempt"].get<int>() > 1 || j["state"] == "PENDING") ++requeued;
    if (j["state"] == "RUNNING") ++running;
  }
  EXPECT_EQ(requeued, 1) << "only what the owner needs is taken back";
  EXPECT_EQ(running, 2);
  // The borrower now holds 2 GPUs: under its limit, but nothing is free.
  for (JobId id : borrowed) kojod_->Client().Post(fmt::format("/api/v1/jobs/{}/cancel", id).c_str(), "", "application/json");
  for (JobId id : {owner, over}) kojod_->Client().Post(fmt::format("/api/v1/jobs/{}/cancel", id).c_str(), "", "application/json");
}

}  // namespace
}  // namespace kojo::testing

#endif  // KOJO_AGENT_BINARY
