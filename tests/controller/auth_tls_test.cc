// HTTPS: kojod --tls-cert/--tls-key with a self-signed certificate made
// here by the openssl CLI, spoken to by httplib and by the kojo CLI, which
// also takes its token from KOJO_TOKEN or its config file.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "daemons.h"

namespace kojo::testing {
namespace {

using namespace std::chrono_literals;

class AuthTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Shell("command -v openssl").first != 0) GTEST_SKIP() << "no openssl CLI";
    cert_ = dir_.path() + "/cert.pem";
    key_ = dir_.path() + "/key.pem";
    auto made = Shell("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext "
                      "subjectAltName=IP:127.0.0.1 -keyout " + key_ + " -out " + cert_);
    ASSERT_EQ(made.first, 0) << made.second;
    const std::string token_file = dir_.path() + "/admin.token";
    kojod_ = std::make_unique<Kojod>(dir_.path() + "/kojod", std::vector<std::string>{
                                                                 "--tls-cert", cert_, "--tls-key", key_,
                                                                 "--admin-token-file", token_file});
    ASSERT_TRUE(kojod_->ok()) << kojod_->log();
    token_ = ReadFile(token_file);
    while (!token_.empty() && token_.back() == '\n') token_.pop_back();
  }
  // kojo with only these variables in its environment.
  std::pair<int, std::string> Kojo(const std::string& env, const std::string& args) {
    return Shell("env -i HOME=" + dir_.path() + " XDG_CONFIG_HOME=" + dir_.path() + "/config " + env + " " +
                 KOJO_BINARY + " " + args);
  }
  TempDir dir_;
  std::string cert_, key_, token_;
  std::unique_ptr<Kojod> kojod_;
};

TEST_F(AuthTlsTest, ServesHttpsToClientsThatTrustTheCertificate) {
  ASSERT_EQ(kojod_->url().rfind("https://", 0), 0u) << kojod_->url();
  httplib::Client trusting(kojod_->url());
  trusting.set_ca_cert_path(cert_.c_str());
  trusting.enable_server_certificate_verification(true);
  auto health = trusting.Get("/api/v1/health");
  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);
  auto denied = trusting.Get("/api/v1/jobs");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401);
  auto who = trusting.Get("/api/v1/whoami", {{"Authorization", "Bearer " + token_}});
  ASSERT_TRUE(who);
  EXPECT_EQ(Body(who)["name"], "admin");

  httplib::Client doubting(kojod_->url());
  doubting.enable_server_certificate_verification(true);
  EXPECT_FALSE(doubting.Get("/api/v1/health")) << "a self-signed certificate is not trusted by default";
  httplib::Client plain("http://127.0.0.1:" + std::to_string(kojod_->port()));
  plain.set_connection_timeout(2, 0);
  plain.set_read_timeout(2, 0);
  auto cleartext = plain.Get("/api/v1/health");
  EXPECT_TRUE(!cleartext || cleartext->status != 200) << "no plain HTTP on a TLS port";
}

#ifdef KOJO_AGENT_BINARY
TEST_F(AuthTlsTest, AgentRegistersOverHttpsWithItsCaCertAndRunsAJob) {
  httplib::Client admin(kojod_->url());
  admin.set_ca_cert_path(cert_.c_str());
  admin.set_bearer_token_auth(token_);
  auto made = admin.Post("/api/v1/tokens", R"({"node": "tls1"})", "application/json");
  ASSERT_TRUE(made && made->status == 201) << (made ? made->body : httplib::to_string(made.error()));
  const std::string node_token = Body(made)["secret"];
  Process agent({KOJO_AGENT_BINARY, "--server", kojod_->url(), "--name", "tls1", "--state-dir", dir_.path() + "/tls1",
                 "--listen", "127.0.0.1:0", "--emulate-gpus", "1xH100-80GB", "--token", node_token, "--ca-cert", cert_,
                 "--heartbeat-wait-ms", "200"},
                dir_.path() + "/tls1.log");
  ASSERT_TRUE(WaitFor([&] {
    auto r = admin.Get("/api/v1/nodes/tls1");
    return r && r->status == 200 && Body(r)["state"] == "UP";
  }, 15s)) << ReadFile(dir_.path() + "/tls1.log") << kojod_->log();
  auto sub = admin.Post("/api/v1/jobs", R"({"command": ["true"], "gpus": 1})", "application/json");
  ASSERT_TRUE(sub && sub->status == 201) << (sub ? sub->body : "no answer");
  const auto id = Body(sub)["ids"][0].get<std::int64_t>();
  EXPECT_TRUE(WaitFor([&] {
    auto r = admin.Get(("/api/v1/jobs/" + std::to_string(id)).c_str());
    return r && Body(r)["state"] == "COMPLETED";
  }, 20s));
  // Without the CA certificate the agent does not trust the controller.
  Process blind({KOJO_AGENT_BINARY, "--server", kojod_->url(), "--name", "tls2", "--state-dir", dir_.path() + "/tls2",
                 "--listen", "127.0.0.1:0", "--emulate-gpus", "1xH100-80GB", "--token", node_token,
                 "--heartbeat-wait-ms", "200"},
                dir_.path() + "/tls2.log");
  std::this_thread::sleep_for(1500ms);
  auto r = admin.Get("/api/v1/nodes/tls2");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << r->body;
}
#endif  // KOJO_AGENT_BINARY

TEST_F(AuthTlsTest, CliTakesCaCertAndTokenFromFlagsEnvironmentOrConfig) {
  const std::string server = "--server " + kojod_->url();
  auto env = Kojo("KOJO_TOKEN=" + token_, "whoami " + server + " --ca-cert " + cert_);
  EXPECT_EQ(env.first, 0) << env.second;
  EXPECT_NE(env.second.find("user admin (role admin"), std::string::npos) << env.second;

  auto untrusted = Kojo("KOJO_TOKEN=" + token_, "whoami " + server);
  EXPECT_EQ(untrusted.first, 1) << untrusted.second;
  EXPECT_NE(untrusted.second.find("--ca-cert"), std::string::npos) << untrusted.second;

  auto no_token = Kojo("KOJO_CA_CERT=" + cert_, "whoami " + server);
  EXPECT_EQ(no_token.first, 4) << no_token.second;
  EXPECT_NE(no_token.second.find("KOJO_TOKEN"), std::string::npos) << no_token.second;

  std::filesystem::create_directories(dir_.path() + "/config/kojo");
  {
    std::ofstream cfg(dir_.path() + "/config/kojo/config.json");
    cfg << Json{{"server", kojod_->url()}, {"token", token_}, {"ca_cert", cert_}}.dump();
  }
  auto from_file = Kojo("", "whoami");
  EXPECT_EQ(from_file.first, 0) << from_file.second;
  EXPECT_NE(from_file.second.find("config.json"), std::string::npos) << from_file.second;

  // The admin commands, end to end: a user, a token shown once, revoked.
  ASSERT_EQ(Kojo("", "admin user add ada --role viewer").first, 0);
  auto created = Kojo("", "admin token create --user ada --name ada-laptop");
  ASSERT_EQ(created.first, 0) << created.second;
  const size_t at = created.second.find("kojo_");
  ASSERT_NE(at, std::string::npos) << created.second;
  const std::string ada = created.second.substr(at, 45);
  auto as_ada = Kojo("KOJO_TOKEN=" + ada, "whoami");
  EXPECT_NE(as_ada.second.find("user ada (role viewer"), std::string::npos) << as_ada.second;
  auto listed = Kojo("", "admin token list");
  EXPECT_NE(listed.second.find("ada-laptop"), std::string::npos) << listed.second;
  EXPECT_EQ(listed.second.find(ada), std::string::npos) << "never a secret";
  auto forbidden = Kojo("KOJO_TOKEN=" + ada, "admin user add eve");
  EXPECT_EQ(forbidden.first, 4) << forbidden.second;
  EXPECT_NE(forbidden.second.find("needs the role admin"), std::string::npos) << forbidden.second;
  EXPECT_EQ(Kojo("", "admin token revoke ada-laptop").first, 0);
  EXPECT_EQ(Kojo("KOJO_TOKEN=" + ada, "whoami").first, 4);
}

}  // namespace
}  // namespace kojo::testing
