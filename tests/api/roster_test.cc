// Rosters from CSV: errors name the file, the line and the column.
#include <gtest/gtest.h>

#include "api/roster.h"

namespace kojo::api {
namespace {

TEST(Roster, FromCsv) {
  auto r = RosterFromCsv("login,name,email\nada,Ada L,ada@uni.example\nbob,\"Bob, B\",\n", "r.csv", "ml101");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].user, "ada");
  EXPECT_EQ((*r)[0].project, "ml101");
  EXPECT_EQ((*r)[0].email, "ada@uni.example");
  EXPECT_EQ((*r)[1].name, "Bob, B");
  EXPECT_EQ((*r)[1].email, "");
  // A spreadsheet's export: byte order mark, CRLF line ends.
  auto excel = RosterFromCsv("\xEF\xBB\xBFlogin,name\r\nada,Ada\r\n", "r.csv", "p");
  ASSERT_TRUE(excel.ok()) << excel.error().message;
  EXPECT_EQ((*excel)[0].user, "ada");
  EXPECT_EQ((*excel)[0].name, "Ada");
  // email is optional as a column too.
  EXPECT_TRUE(RosterFromCsv("login,name\nada,Ada\n", "r.csv", "p").ok());
  EXPECT_EQ(RosterJson(*r).dump(),
            R"({"members":[{"email":"ada@uni.example","login":"ada","name":"Ada L"},{"login":"bob","name":"Bob, B"}]})");
}

TEST(Roster, CsvErrorsNameTheLineAndField) {
  auto err = [](const std::string& text) {
    auto r = RosterFromCsv(text, "r.csv", "p");
    EXPECT_FALSE(r.ok()) << text;
    return r.ok() ? std::string() : r.error().message;
  };
  EXPECT_EQ(err("login,name\nada,A\nb b,B\n"), "r.csv:3: login: expected letters, digits and - _ . @ only, got \"b b\"");
  EXPECT_EQ(err("login,name\nada,A\nbob,B\nada,C\n"), "r.csv:4: login: \"ada\" is also on line 2");
  EXPECT_EQ(err("login,name,email\nada,A,not-an-address\n"),
            "r.csv:2: email: expected an address like ada@example.org, got \"not-an-address\"");
  EXPECT_EQ(err("login,name\nada,A\n,B\n"), "r.csv:3: login: expected a name, got an empty string");
  EXPECT_NE(err("user,name\nada,A\n").find("login"), std::string::npos);
}

}  // namespace
}  // namespace kojo::api
