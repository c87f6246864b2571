// Where the CLI finds its token and the CA certificate for https://.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "cli/client.h"

namespace kojo::cli {
namespace {

class AuthConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kojo-authcfg-XXXXXX";
    dir_ = mkdtemp(tmpl);
    vars_["XDG_CONFIG_HOME"] = dir_ + "/config";
    std::filesystem::create_directories(dir_ + "/config/kojo");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  GetEnv Env() {
    return [this](const std::string& k) -> std::optional<std::string> {
      auto it = vars_.find(k);
      if (it == vars_.end()) return std::nullopt;
      return it->second;
    };
  }
  void WriteConfig(const std::string& text) { std::ofstream(dir_ + "/config/kojo/config.json") << text; }
  std::string dir_;
  std::map<std::string, std::string> vars_;
};

TEST_F(AuthConfig, TokenFromFlagThenEnvironmentThenConfigFile) {
  WriteConfig(R"({"server": "https://kojo.example:7100", "token": "from-file", "ca_cert": "/etc/kojo/ca.pem"})");
  ServerConfig c = ResolveServer("", "", Env());
  EXPECT_EQ(c.url, "https://kojo.example:7100");
  EXPECT_EQ(c.token, "from-file");
  EXPECT_EQ(c.ca_cert, "/etc/kojo/ca.pem");
  vars_["KOJO_TOKEN"] = "from-env";
  vars_["KOJO_CA_CERT"] = "/tmp/other-ca.pem";
  c = ResolveServer("", "", Env());
  EXPECT_EQ(c.token, "from-env");
  EXPECT_EQ(c.ca_cert, "/tmp/other-ca.pem");
  EXPECT_EQ(ResolveServer("", "from-flag", Env()).token, "from-flag");
}

TEST_F(AuthConfig, AFilesTokenGoesOnlyToItsOwnServer) {
  WriteConfig(R"({"server": "https://kojo.example:7100", "token": "from-file"})");
  EXPECT_EQ(ResolveServer("https://elsewhere:7100", "", Env()).token, "");
}

TEST_F(AuthConfig, UnreadableCaCertIsAUsageError) {
  ServerConfig c;
  c.url = "https://127.0.0.1:1";
  c.ca_cert = dir_ + "/missing.pem";
  c.source = "--server";
  try {
    ApiClient client(c);
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("missing.pem"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kojo::cli
