// `kojod --dev`: a controller and one agent, the address and token written
// where the CLI finds them, a clean stop on SIGTERM.
#include <gtest/gtest.h>

#include <cstdlib>

#include "daemons.h"

#ifdef KOJO_AGENT_BINARY

namespace kojo::testing {
namespace {

using namespace std::chrono_literals;

TEST(DevMode, StartsAnAgentWritesDevJsonAndStopsCleanly) {
  TempDir dir;
  const std::string config_home = dir.path() + "/config";
  setenv("XDG_CONFIG_HOME", config_home.c_str(), 1);
  Kojod d(dir.path() + "/data", {"--dev", "--gpus", "2xH100-80GB"});
  unsetenv("XDG_CONFIG_HOME");
  ASSERT_TRUE(d.ok()) << d.log();
  const std::string dev_json = config_home + "/kojo/dev.json";
  ASSERT_TRUE(WaitFor([&] { return !ReadFile(dev_json).empty(); }, 10s));
  Json cfg = Json::parse(ReadFile(dev_json));
  EXPECT_EQ(cfg["server"], d.url());
  const std::string token = cfg["token"];
  EXPECT_EQ(token.rfind("kojo_", 0), 0u) << token;
  EXPECT_EQ(token.size(), 45u);

  auto c = d.Client();
  c.set_bearer_token_auth(token);
  Json nodes;
  ASSERT_TRUE(WaitFor([&] {
    nodes = Body(c.Get("/api/v1/nodes"));
    return nodes.is_object() && nodes["nodes"].size() == 1 && nodes["nodes"][0]["state"] == "UP";
  }, 15s)) << nodes.dump() << d.log();
  auto r = c.Post("/api/v1/jobs", R"({"command":["/bin/sh","-c","echo dev-ok"]})", "application/json");
  ASSERT_TRUE(r && r->status == 201);
  const JobId id = Body(r)["ids"][0].get<JobId>();
  ASSERT_TRUE(WaitFor([&] { return Body(c.Get(("/api/v1/jobs/" + std::to_string(id)).c_str()))["state"] == "COMPLETED"; }, 15s));
  auto logs = c.Get(("/api/v1/jobs/" + std::to_string(id) + "/logs").c_str());
  ASSERT_TRUE(logs);
  EXPECT_EQ(logs->body, "dev-ok\n");
  EXPECT_NE(d.log().find("kojo submit"), std::string::npos);  // tells the user what to do next
  EXPECT_EQ(d.log().find(token), std::string::npos) << "the token is never logged";
  EXPECT_EQ(c.Get("/api/v1/nodes", httplib::Headers{{"Authorization", "Bearer wrong"}})->status, 401);
  Json who = Body(c.Get("/api/v1/whoami"));
  EXPECT_EQ(who["role"], "admin") << who.dump();

  auto status = d.process().Terminate(15s);
  ASSERT_TRUE(status.has_value()) << "kojod did not stop on SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  EXPECT_NE(d.log().find("stopped"), std::string::npos);
}

}  // namespace
}  // namespace kojo::testing

#endif  // KOJO_AGENT_BINARY
