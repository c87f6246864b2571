// Durability: kill -9 of kojod in the middle of a burst of submissions; on
// restart every acknowledged job is there exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include <fmt/format.h>

#include "daemons.h"

namespace kojo::testing {
namespace {

using namespace std::chrono_literals;

TEST(Crash, KillNineDuringBurstLosesNoAcknowledgedJob) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  std::map<std::string, std::vector<JobId>> acked;  // idempotency key -> ids
  std::mutex mu;
  {
    Kojod d(data);
    ASSERT_TRUE(d.ok()) << d.log();
    // One submission first, from this thread: httplib's client builds its
    // static regexes at their first use, which ThreadSanitizer (the library
    // is not instrumented) reports as a race when four threads race to it.
    {
      auto c = d.Client();
      auto r = c.Post("/api/v1/jobs", {{"Idempotency-Key", "warm"}}, R"({"name":"warm","command":["true"]})",
                      "application/json");
      ASSERT_TRUE(r && r->status == 201);
      acked["warm"] = Json::parse(r->body)["ids"].get<std::vector<JobId>>();
    }
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; ++t)
      clients.emplace_back([&, t] {
        auto c = d.Client();
        c.set_read_timeout(5, 0);
        for (int i = 0; i < 100000 && !stop; ++i) {
          const std::string key = fmt::format("c{}-{}", t, i);
          // Every fifth request is a small array: several jobs per answer.
          const std::string body = i % 5 == 4
              ? fmt::format(R"({{"name":"{}","command":["true"],"array":"0-2"}})", key)
              : fmt::format(R"({{"name":"{}","command":["true"]}})", key);
          auto r = c.Post("/api/v1/jobs", {{"Idempotency-Key", key}}, body, "application/json");
          if (!r || r->status != 201) break;  // the daemon died under us
          Json j = Json::parse(r->body);
          std::lock_guard lock(mu);
          acked[key] = j["ids"].get<std::vector<JobId>>();
        }
      });
    // Kill it mid-burst, once some submissions were acknowledged.
    ASSERT_TRUE(WaitFor([&] { std::lock_guard l(mu); return acked.size() >= 200; }, 20s));
    d.process().Kill();
    stop = true;
    for (auto& c : clients) c.join();
  }
  ASSERT_GE(acked.size(), 200u);

  Kojod d(data);
  ASSERT_TRUE(d.ok()) << d.log();
  auto c = d.Client();
  // Everything, by pages.
  std::map<std::string, std::vector<JobId>> by_name;
  std::optional<JobId> after = 0;
  for (int page = 0; after && page < 1000; ++page) {
    auto r = c.Get(fmt::format("/api/v1/jobs?limit=1000&after={}", *after).c_str());
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    Json j = Json::parse(r->body);
    for (const auto& job : j["jobs"]) by_name[job["spec"]["name"].get<std::string>()].push_back(job["id"].get<JobId>());
    after = j["next_after"].is_null() ? std::nullopt : std::optional<JobId>(j["next_after"].get<JobId>());
  }
  for (const auto& [key, ids] : acked) {
    ASSERT_TRUE(by_name.count(key)) << "acknowledged " << key << " is lost";
    EXPECT_EQ(by_name[key], ids) << key << " is there more than once or with other ids";
  }
  for (const auto& [name, ids] : by_name) {
    const size_t expected = ids.size() == 3 ? 3 : 1;
    EXPECT_EQ(ids.size(), expected) << name << " was created twice";
  }
  // A retry of an acknowledged request after the restart gives the same ids.
  const auto& [key, ids] = *acked.begin();
  auto retry = c.Post("/api/v1/jobs", {{"Idempotency-Key", key}}, R"({"command":["true"]})", "application/json");
  ASSERT_TRUE(retry);
  EXPECT_EQ(Json::parse(retry->body)["ids"].get<std::vector<JobId>>(), ids);
  // New ids never reuse old ones.
  auto fresh = c.Post("/api/v1/jobs", R"({"command":["true"]})", "application/json");
  ASSERT_TRUE(fresh);
  const JobId fresh_id = Json::parse(fresh->body)["ids"][0].get<JobId>();
  for (const auto& [name, ids2] : by_name)
    for (JobId id : ids2) EXPECT_LT(id, fresh_id);
  std::printf("acknowledged before the kill: %zu requests; jobs after restart: %zu names\n", acked.size(),
              by_name.size());
}

}  // namespace
}  // namespace kojo::testing
