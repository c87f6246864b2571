// A course's roster imported into kojod, in process: the difference is
// applied as one durable change of the organisation model; the same roster
// again changes nothing; leads stay.
#include <gtest/gtest.h>

#include "org_fake_agent.h"

namespace kojo::controller {
namespace {

using api::Json;

Json OrgDoc() {
  return Json{{"programmes", Json::array({{{"name", "p"}}})},
              {"organisations", Json::array({{{"name", "o"}, {"programme", "p"}}})},
              {"projects", Json::array({{{"name", "ml101"}, {"organisation", "o"}},
                                        {{"name", "lab"}, {"organisation", "o"}}})},
              {"members", Json::array({{{"project", "ml101"}, {"user", "prof"}, {"role", "lead"}},
                                       {{"project", "ml101"}, {"user", "dropped"}, {"role", "member"}},
                                       {{"project", "lab"}, {"user", "s0001"}, {"role", "member"}}})}};
}

Json Roster(int from, int to) {
  Json list = Json::array();
  for (int i = from; i < to; ++i)
    list.push_back({{"login", fmt::format("s{:04}", i)}, {"name", fmt::format("Student {}", i)},
                    {"email", fmt::format("s{:04}@uni.example", i)}});
  return Json{{"members", list}};
}

class RosterControllerTest : public ::testing::Test {
 protected:
  void Open() {
    auto c = Controller::Open(store_, ControllerConfig{});
    ASSERT_TRUE(c.ok()) << c.error().message;
    c_ = std::move(*c);
  }
  void Restart() {
    c_->Shutdown();
    c_.reset();
    Open();
  }
  int Members(const std::string& project) {
    int n = 0;
    for (const Member& m : c_->org().Config()->members) n += m.project == project;
    return n;
  }
  store::MemoryStore store_;
  std::unique_ptr<Controller> c_;
};

TEST_F(RosterControllerTest, ThreeHundredStudentsImportedTwiceChangeNothingTheSecondTime) {
  Open();
  ASSERT_TRUE(c_->ApplyOrg(OrgDoc().dump()).ok());
  auto first = c_->ImportRoster("ml101", Roster(1, 301).dump());
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first.value().added, 300);
  EXPECT_EQ(first.value().removed, 1);  // "dropped"; the lead stays
  EXPECT_EQ(first.value().members, 301);
  EXPECT_EQ(c_->org().RoleIn("ml101", "prof"), ProjectRole::kLead);
  EXPECT_FALSE(c_->org().RoleIn("ml101", "dropped").has_value());
  EXPECT_EQ(c_->org().RoleIn("lab", "s0001"), ProjectRole::kMember);  // other projects untouched
  const auto before = c_->org().Config();
  auto second = c_->ImportRoster("ml101", Roster(1, 301).dump());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second.value().added, 0);
  EXPECT_EQ(second.value().removed, 0);
  EXPECT_EQ(second.value().updated, 0);
  EXPECT_EQ(c_->org().Config(), before);  // not even replaced

  // Durable, names and emails included.
  Restart();
  EXPECT_EQ(Members("ml101"), 301);
  const Member* s42 = nullptr;
  for (const Member& m : c_->org().Config()->members)
    if (m.project == "ml101" && m.user == "s0042") s42 = &m;
  ASSERT_NE(s42, nullptr);
  EXPECT_EQ(s42->name, "Student 42");
  EXPECT_EQ(s42->email, "s0042@uni.example");

  // A changed roster: the difference only.
  Json next = Roster(11, 311);
  next["members"][0]["name"] = "Renamed";
  auto third = c_->ImportRoster("ml101", next.dump());
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third.value().added, 10);
  EXPECT_EQ(third.value().removed, 10);
  EXPECT_EQ(third.value().updated, 1);
  EXPECT_EQ(Members("ml101"), 301);
  c_->Shutdown();
}

TEST_F(RosterControllerTest, BadRostersNameTheEntryAndField) {
  Open();
  ASSERT_TRUE(c_->ApplyOrg(OrgDoc().dump()).ok());
  auto error = [&](const std::string& project, const Json& body) {
    auto r = c_->ImportRoster(project, body.dump());
    EXPECT_FALSE(r.ok()) << body.dump();
    return r.ok() ? std::string() : r.error().message;
  };
  Json j = Roster(1, 4);
  j["members"][2]["login"] = "bad login";
  EXPECT_EQ(error("ml101", j), "members[2].login: expected letters, digits and - _ . @ only, got \"bad login\"");
  j = Roster(1, 4);
  j["members"][2]["login"] = "s0001";
  EXPECT_EQ(error("ml101", j), "members[2].login: \"s0001\" is also members[0]");
  j = Roster(1, 4);
  j["members"][1]["email"] = "nobody";
  EXPECT_EQ(error("ml101", j), "members[1].email: expected an address like ada@example.org, got \"nobody\"");
  j = Roster(1, 4);
  j["members"][1]["role"] = "lead";
  EXPECT_EQ(error("ml101", j), "members[1].role: unknown field (expected login, name, email)");
  EXPECT_EQ(error("ml101", Json{{"students", Json::array()}}).rfind("students: unknown field", 0), 0u);
  auto missing = c_->ImportRoster("nope", Roster(1, 2).dump());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ApiCode::kNotFound);
  EXPECT_EQ(Members("ml101"), 2);  // nothing changed
  c_->Shutdown();
}

}  // namespace
}  // namespace kojo::controller
