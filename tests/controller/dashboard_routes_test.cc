// What kojod serves for its dashboard: the static files without a token
// (and nothing else without one), GET /api/v1/overview as each caller may
// see it, and GET /api/v1/usage with a step.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include <fmt/format.h>

#include "daemons.h"

namespace kojo::testing {
namespace {

using namespace std::chrono_literals;

class DashboardRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string org = dir_.path() + "/org.json";
    std::ofstream(org) << R"({"programmes": [{"name": "research"}],
        "organisations": [{"name": "uni", "programme": "research"}],
        "projects": [{"name": "A", "organisation": "uni"}, {"name": "B", "organisation": "uni"}],
        "grants": [{"id": "ga", "project": "A", "gpu_hours": 1000, "start": "2020-01-01", "end": "2099-01-01"},
                   {"id": "gb", "project": "B", "gpu_hours": 1000, "start": "2020-01-01", "end": "2099-01-01"}],
        "members": [{"project": "A", "user": "ada"}]})";
    d_ = std::make_unique<Kojod>(dir_.path() + "/data",
                                 std::vector<std::string>{"--admin-token-file", dir_.path() + "/admin", "--org", org});
    ASSERT_TRUE(d_->ok()) << d_->log();
    admin_ = ReadFile(dir_.path() + "/admin");
    while (!admin_.empty() && admin_.back() == '\n') admin_.pop_back();
  }
  httplib::Result Get(const std::string& path, const std::string& token = "") {
    auto c = d_->Client();
    httplib::Headers h;
    if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
    return c.Get(path, h);
  }
  httplib::Result Post(const std::string& path, const std::string& body, const std::string& token) {
    auto c = d_->Client();
    return c.Post(path, {{"Authorization", "Bearer " + token}}, body, "application/json");
  }
  TempDir dir_;
  std::unique_ptr<Kojod> d_;
  std::string admin_;
};

TEST_F(DashboardRoutes, ServesItsFilesWithoutATokenAndNothingElse) {
  auto index = Get("/");
  ASSERT_TRUE(index);
  // A kojod built with -DKOJO_WEB=OFF says so; otherwise the page.
  if (index->status == 404) {
    EXPECT_NE(index->body.find("KOJO_WEB=OFF"), std::string::npos);
    GTEST_SKIP() << "built without the dashboard";
  }
  EXPECT_EQ(index->status, 200);
  EXPECT_EQ(index->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(index->get_header_value("Cache-Control"), "no-cache");
  EXPECT_NE(index->get_header_value("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  // Every asset it names is served, cached for good (hashed names).
  size_t at = 0;
  int assets = 0;
  while ((at = index->body.find("\"/assets/", at)) != std::string::npos) {
    const size_t end = index->body.find('"', at + 1);
    const std::string path = index->body.substr(at + 1, end - at - 1);
    auto a = Get(path);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->status, 200) << path;
    EXPECT_EQ(a->get_header_value("Cache-Control"), "public, max-age=31536000, immutable") << path;
    EXPECT_FALSE(a->body.empty());
    ++assets;
    at = end;
  }
  EXPECT_EQ(assets, 2);  // a script and a style sheet
  // The dashboard's own paths answer its page; unknown assets and API routes do not.
  auto page = Get("/jobs/42");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->body, index->body);
  EXPECT_EQ(Get("/assets/nope.js")->status, 404);
  auto api = Get("/api/v1/nope");
  EXPECT_EQ(api->status, 404);
  EXPECT_NE(api->body.find("no route"), std::string::npos);
  EXPECT_EQ(Get("/api/v1/overview")->status, 401);
  EXPECT_EQ(Get("/metrics")->status, 401);
}

TEST_F(DashboardRoutes, OverviewCountsAndNamesOnlyWhatTheCallerMaySee) {
  ASSERT_EQ(Post("/api/v1/users", R"({"name":"ada"})", admin_)->status, 201);
  const std::string ada_token = Body(Post("/api/v1/tokens", R"({"user":"ada"})", admin_))["secret"];
  Json hb{{"node", {{"name", "n1"}, {"cpu_milli", 64000}, {"mem_mib", 512000},
                    {"gpus", {{{"index", 0}, {"model", "H100"}}, {{"index", 1}, {"model", "H100"}}}}}}};
  auto node_token = Body(Post("/api/v1/tokens", R"({"node":"n1"})", admin_))["secret"].get<std::string>();
  ASSERT_EQ(Post("/api/v1/agents/register", hb.dump(), node_token)->status, 200);
  // One job of A and one of B start (STARTING: no agent confirms); B's
  // second waits; an array of 3 held tasks in A.
  for (const char* spec : {R"({"command":["true"],"gpus":1,"project":"A","time_limit_s":600})",
                           R"({"command":["true"],"gpus":1,"project":"B","time_limit_s":600})",
                           R"({"command":["true"],"gpus":1,"project":"B","time_limit_s":600})",
                           R"({"command":["true"],"project":"A","hold":true,"array":"0-2"})"})
    ASSERT_EQ(Post("/api/v1/jobs", spec, admin_)->status, 201);
  Json all;
  ASSERT_TRUE(WaitFor([&] {
    all = Body(Get("/api/v1/overview", admin_));
    return all["jobs"]["STARTING"] == 2;
  }, 10s)) << all.dump();
  EXPECT_EQ(all["jobs"]["PENDING"], 1);
  EXPECT_EQ(all["jobs"]["HELD"], 3);  // the array's untouched tasks, one by one
  EXPECT_EQ(all["gpus"], (Json{{"total", 2}, {"allocated", 2}, {"idle", 0}}));
  ASSERT_EQ(all["nodes"].size(), 1u);
  EXPECT_EQ(all["nodes"][0]["name"], "n1");
  EXPECT_EQ(all["nodes"][0]["state"], "UP");
  std::set<std::int64_t> ids;
  for (const auto& g : all["nodes"][0]["gpus"]) {
    ASSERT_EQ(g["jobs"].size(), 1u) << g.dump();
    EXPECT_EQ(g["used_milli"], 1000);
    ids.insert(g["jobs"][0]["id"].get<std::int64_t>());
  }
  EXPECT_EQ(ids, (std::set<std::int64_t>{1, 2}));

  // A member of A: A's jobs counted and named; B's GPU held by "someone".
  const Json mine = Body(Get("/api/v1/overview", ada_token));
  EXPECT_EQ(mine["jobs"]["STARTING"], 1);
  EXPECT_EQ(mine["jobs"]["PENDING"], 0);
  EXPECT_EQ(mine["jobs"]["HELD"], 3);
  EXPECT_EQ(mine["gpus"]["allocated"], 2);
  int hidden = 0, named = 0;
  for (const auto& g : mine["nodes"][0]["gpus"])
    for (const auto& j : g["jobs"]) (j["id"].is_null() ? hidden : named) += 1;
  EXPECT_EQ(hidden, 1);
  EXPECT_EQ(named, 1);
  EXPECT_EQ(Get("/api/v1/overview?x=1", admin_)->status, 400);
  EXPECT_EQ(Get("/api/v1/overview", node_token)->status, 403);
}

TEST_F(DashboardRoutes, UsageWithAStepAnswersEachInterval) {
  auto r = Get("/api/v1/usage?by=project&from=1000000000&to=1000000250&step=100", admin_);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const Json j = Body(r);
  ASSERT_EQ(j["intervals"].size(), 3u);
  EXPECT_EQ(j["intervals"][0]["from_unix"], 1000000000);
  EXPECT_EQ(j["intervals"][0]["to_unix"], 1000000100);
  EXPECT_EQ(j["intervals"][2]["from_unix"], 1000000200);
  EXPECT_EQ(j["intervals"][2]["to_unix"], 1000000250);  // the last one ends at `to`
  EXPECT_TRUE(j["intervals"][2]["rows"].is_array());
  EXPECT_FALSE(Body(Get("/api/v1/usage?by=project&from=1000000000&to=1000000250", admin_)).contains("intervals"));
  for (const char* bad : {"step=59", "step=x", "step=100&from=0", "from=0&to=100000&step=60"}) {
    auto e = Get(fmt::format("/api/v1/usage?by=project&{}", bad), admin_);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status, 400) << bad << ": " << e->body;
    EXPECT_NE(e->body.find("step"), std::string::npos) << e->body;
  }
}

// Replies are compressed with gzip for a client that accepts it, never with
// brotli (at cpp-httplib's quality it took 1.4 s for a large overview).
TEST_F(DashboardRoutes, CompressesWithGzipNeverBrotli) {
  httplib::Client c(d_->url());
  c.set_decompress(false);
  for (const char* accept : {"gzip, deflate, br", "br", "gzip"}) {
    auto r = c.Get("/api/v1/usage?by=project", {{"Authorization", "Bearer " + admin_}, {"Accept-Encoding", accept}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("Content-Encoding"), std::string(accept) == "br" ? "" : "gzip") << accept;
  }
  auto page = c.Get("/", {{"Accept-Encoding", "br, gzip"}});
  ASSERT_TRUE(page);
  EXPECT_NE(page->get_header_value("Content-Encoding"), "br");
}

}  // namespace
}  // namespace kojo::testing
