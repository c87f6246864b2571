// Fault injection under the store: a real kojod whose database writes and
// fsyncs go through a fake faulty disk (tests/tools/fake_faulty_disk.cc,
// loaded with LD_PRELOAD, only in these tests). While the disk is full,
// tears writes or fails fsyncs, a submission is answered 503 "unavailable",
// never 201; kojod stays up and answers reads; once the disk is healthy
// again the write succeeds, a retry with the same Idempotency-Key gets the
// jobs' ids, and nothing acknowledged is lost, even across a kill -9 while
// the disk was failing.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "daemons.h"

#ifdef KOJO_FAKE_DISK_LIB

namespace kojo::testing {
namespace {

using namespace std::chrono_literals;

// A kojod whose database (data_dir/kojo.db and its -wal, -journal) is on
// the fake faulty disk that the file `control` drives. The child inherits
// the environment at its fork; the test process never loads the library.
std::unique_ptr<Kojod> KojodOnFakeDisk(const std::string& data_dir, const std::string& control,
                                       std::vector<std::string> extra = {}) {
  const char* asan = std::getenv("ASAN_OPTIONS");
  const std::string asan_before = asan ? asan : "";
  setenv("LD_PRELOAD", KOJO_FAKE_DISK_LIB, 1);
  setenv("KOJO_FAKE_DISK_PATH", (data_dir + "/kojo.db").c_str(), 1);
  setenv("KOJO_FAKE_DISK_CONTROL", control.c_str(), 1);
  // ASan wants its runtime first among the libraries; the fake disk is.
  setenv("ASAN_OPTIONS", (asan_before + (asan_before.empty() ? "" : ":") + "verify_asan_link_order=0").c_str(), 1);
  auto d = std::make_unique<Kojod>(data_dir, std::move(extra));
  unsetenv("LD_PRELOAD");
  unsetenv("KOJO_FAKE_DISK_PATH");
  unsetenv("KOJO_FAKE_DISK_CONTROL");
  if (asan) setenv("ASAN_OPTIONS", asan_before.c_str(), 1);
  else unsetenv("ASAN_OPTIONS");
  return d;
}

class DiskFault : public ::testing::TestWithParam<std::string> {
 protected:
  std::string data() const { return dir_.path() + "/data"; }
  std::string control() const { return dir_.path() + "/disk"; }

  // kojod with the fake disk under its database.
  void Start() {
    SetDisk("ok");
    kojod_ = KojodOnFakeDisk(data(), control(), extra_);
    ASSERT_TRUE(kojod_->ok()) << kojod_->log();
  }
  std::vector<std::string> extra_;  // kojod's arguments
  void SetDisk(const std::string& mode) {
    std::ofstream(control()) << mode << "\n";
  }
  int Faults() {
    std::istringstream in(ReadFile(control() + ".log"));
    int n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
  }
  // Submits a job named after its key; the HTTP status and the ids.
  std::pair<int, std::vector<JobId>> Submit(const std::string& key) {
    auto c = kojod_->Client();
    c.set_read_timeout(10, 0);
    auto r = c.Post("/api/v1/jobs", {{"Idempotency-Key", key}},
                    fmt::format(R"({{"name":"{}","command":["true"]}})", key), "application/json");
    if (!r) return {0, {}};
    Json j = Body(r);
    if (r->status != 201) {
      last_error_ = j;
      return {r->status, {}};
    }
    return {201, j["ids"].get<std::vector<JobId>>()};
  }
  std::map<std::string, std::vector<JobId>> JobsByName() {
    std::map<std::string, std::vector<JobId>> out;
    auto c = kojod_->Client();
    auto r = c.Get("/api/v1/jobs?limit=1000");
    EXPECT_TRUE(r && r->status == 200);
    if (!r) return out;
    const Json body = Body(r);
    for (const auto& j : body["jobs"]) out[j["spec"]["name"].get<std::string>()].push_back(j["id"].get<JobId>());
    return out;
  }

  TempDir dir_;
  std::unique_ptr<Kojod> kojod_;
  Json last_error_;
};

TEST_P(DiskFault, SubmissionsAre503WhileTheDiskFailsAndDurableOnceItHeals) {
  Start();
  auto [status_a, ids_a] = Submit("a");
  ASSERT_EQ(status_a, 201);

  SetDisk(GetParam());
  for (const char* key : {"b", "c"}) {
    auto [status, ids] = Submit(key);
    EXPECT_EQ(status, 503) << key;
    EXPECT_EQ(last_error_["error"]["code"], "unavailable") << last_error_.dump();
    EXPECT_NE(last_error_["error"]["message"].get<std::string>().find("Idempotency-Key"), std::string::npos);
  }
  // A retry while it still fails is not acknowledged either.
  EXPECT_EQ(Submit("b").first, 503);
  // Nor is a cancel; it is kept in memory and written with the rest.
  auto cancel = kojod_->Client().Post(fmt::format("/api/v1/jobs/{}/cancel", ids_a[0]).c_str(), "", "application/json");
  ASSERT_TRUE(cancel);
  EXPECT_EQ(cancel->status, 503) << cancel->body;
  EXPECT_GT(Faults(), 0);
  // Reads are answered meanwhile.
  auto health = kojod_->Client().Get("/api/v1/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(JobsByName().count("a"), 1u);

  SetDisk("ok");
  std::vector<JobId> ids_b, ids_c;
  ASSERT_TRUE(WaitFor([&] { auto [s, ids] = Submit("b"); ids_b = ids; return s == 201; }, 10s)) << kojod_->log();
  auto [status_c, got_c] = Submit("c");
  ASSERT_EQ(status_c, 201);
  ids_c = got_c;
  auto [status_d, ids_d] = Submit("d");
  ASSERT_EQ(status_d, 201);
  EXPECT_NE(kojod_->log().find("store write failed, retrying"), std::string::npos) << kojod_->log();
  EXPECT_NE(kojod_->log().find("store write succeeded again"), std::string::npos) << kojod_->log();

  // Exactly once each, before and after a kill -9.
  for (int round = 0; round < 2; ++round) {
    auto jobs = JobsByName();
    EXPECT_EQ(jobs["a"], ids_a);
    EXPECT_EQ(jobs["b"], ids_b);
    EXPECT_EQ(jobs["c"], ids_c);
    EXPECT_EQ(jobs["d"], ids_d);
    EXPECT_EQ(jobs.size(), 4u);
    EXPECT_EQ(Body(kojod_->Client().Get(fmt::format("/api/v1/jobs/{}", ids_a[0]).c_str()))["state"], "CANCELLED");
    if (round == 0) {
      kojod_->process().Kill();
      Start();
    }
  }
}

TEST_P(DiskFault, KillWhileTheDiskFailsLosesNothingAcknowledged) {
  Start();
  std::map<std::string, std::vector<JobId>> acked;
  for (int i = 0; i < 5; ++i) {
    auto [s, ids] = Submit(fmt::format("before-{}", i));
    ASSERT_EQ(s, 201);
    acked[fmt::format("before-{}", i)] = ids;
  }
  SetDisk(GetParam());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Submit(fmt::format("during-{}", i)).first, 503);
  kojod_->process().Kill();
  Start();  // the disk is healthy again
  auto jobs = JobsByName();
  for (const auto& [key, ids] : acked) EXPECT_EQ(jobs[key], ids) << key;
  for (int i = 0; i < 3; ++i) {
    // Not acknowledged: it may be there or not. Where only the fsync failed
    // the transaction reached the file and survives a crash of the process
    // (not one of the machine); where the write failed it is not there. A
    // retry with its key gets it exactly once either way.
    const std::string key = fmt::format("during-{}", i);
    const std::vector<JobId> found = jobs.count(key) ? jobs[key] : std::vector<JobId>{};
    if (GetParam() != "fsync") EXPECT_TRUE(found.empty()) << key << " was never written and is there";
    EXPECT_LE(found.size(), 1u) << key;
    auto [s, ids] = Submit(key);
    ASSERT_EQ(s, 201);
    if (!found.empty()) EXPECT_EQ(ids, found) << key;
    acked[key] = ids;
  }
  jobs = JobsByName();
  EXPECT_EQ(jobs.size(), acked.size());
  for (const auto& [key, ids] : acked) EXPECT_EQ(jobs[key], ids) << key;
}

// Users and tokens too: a change that cannot be made durable is 503, and a
// revoked token stops working at once all the same.
TEST_P(DiskFault, UserAndTokenChangesAre503WhileTheDiskFails) {
  const std::string admin_file = data() + "-admin.token";
  extra_ = {"--admin-token-file", admin_file};
  Start();
  auto c = kojod_->Client();
  c.set_read_timeout(10, 0);
  std::string admin = ReadFile(admin_file);
  while (!admin.empty() && (admin.back() == '\n' || admin.back() == ' ')) admin.pop_back();
  c.set_bearer_token_auth(admin);
  auto made = c.Post("/api/v1/users", Json{{"name", "ada"}}.dump(), "application/json");
  ASSERT_TRUE(made && made->status == 201) << (made ? made->body : "no answer");
  auto token = c.Post("/api/v1/tokens", Json{{"user", "ada"}, {"name", "ada-1"}}.dump(), "application/json");
  ASSERT_TRUE(token && token->status == 201) << (token ? std::to_string(token->status) + " " + token->body : "no answer");
  const std::string secret = Body(token)["secret"];
  auto as_ada = [&] {
    httplib::Client a = kojod_->Client();
    a.set_bearer_token_auth(secret);
    auto r = a.Get("/api/v1/whoami");
    return r ? r->status : 0;
  };
  ASSERT_EQ(as_ada(), 200);

  SetDisk(GetParam());
  auto user = c.Post("/api/v1/users", Json{{"name", "bo"}}.dump(), "application/json");
  ASSERT_TRUE(user);
  EXPECT_EQ(user->status, 503) << user->body;
  EXPECT_EQ(Body(user)["error"]["code"], "unavailable");
  auto another = c.Post("/api/v1/tokens", Json{{"user", "ada"}, {"name", "ada-2"}}.dump(), "application/json");
  ASSERT_TRUE(another);
  EXPECT_EQ(another->status, 503) << another->body;
  EXPECT_EQ(another->body.find("kojo_"), std::string::npos) << "no secret in a refusal";
  auto revoked = c.Delete("/api/v1/tokens/ada-1");
  ASSERT_TRUE(revoked);
  EXPECT_EQ(revoked->status, 503) << revoked->body;
  EXPECT_EQ(as_ada(), 401) << "a revoked token stops working at once";

  SetDisk("ok");
  ASSERT_TRUE(WaitFor([&] {
    auto r = c.Post("/api/v1/users", Json{{"name", "bo"}}.dump(), "application/json");
    return r && (r->status == 201 || r->status == 409);
  }, 10s)) << kojod_->log();
  kojod_->process().Kill();
  Start();
  EXPECT_EQ(as_ada(), 401) << "the revocation reached the disk";
}

INSTANTIATE_TEST_SUITE_P(Modes, DiskFault, ::testing::Values("full", "torn", "fsync"),
                         [](const auto& info) { return info.param; });

// A slow disk delays the answer, never turns it into an error.
TEST(DiskSlow, SubmissionsWaitForTheSlowFsync) {
  TempDir dir;
  const std::string control = dir.path() + "/disk";
  std::ofstream(control) << "slow:200\n";
  auto kojod = KojodOnFakeDisk(dir.path() + "/data", control);
  Kojod& d = *kojod;
  ASSERT_TRUE(d.ok()) << d.log();
  auto c = d.Client();
  const auto start = std::chrono::steady_clock::now();
  auto r = c.Post("/api/v1/jobs", R"({"command":["true"]})", "application/json");
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;
  EXPECT_GE(took, 200ms);
}

}  // namespace
}  // namespace kojo::testing

#endif  // KOJO_FAKE_DISK_LIB
