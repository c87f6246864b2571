#include "api/roster.h"

#include <cstdio>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "api/org_config.h"
#include "common/csv.h"

namespace kojo::api {

namespace {

// The members as the organisation document would hold them, checked by its
// parser (a minimal document around them): the first error, with the index
// of the entry it names (or -1) and the message after "members[i].".
struct Check {
  int index = -1;
  std::string field, message;
};

std::optional<Check> CheckMembers(const std::vector<Member>& roster) {
  Json members = Json::array();
  for (const Member& m : roster) {
    Json x{{"project", "p"}, {"user", m.user}};
    if (!m.name.empty()) x["name"] = m.name;
    if (!m.email.empty()) x["email"] = m.email;
    members.push_back(std::move(x));
  }
  const Json doc{{"programmes", Json::array({{{"name", "g"}}})},
                 {"organisations", Json::array({{{"name", "o"}, {"programme", "g"}}})},
                 {"projects", Json::array({{{"name", "p"}, {"organisation", "o"}}})},
                 {"members", std::move(members)}};
  auto c = OrgConfigFromJson(doc);
  if (c.ok()) return std::nullopt;
  Check out;
  std::string msg = c.error().message;
  int index = -1;
  int used = 0;
  if (std::sscanf(msg.c_str(), "members[%d].%n", &index, &used) == 1 && used > 0) {
    msg.erase(0, static_cast<size_t>(used));
    const size_t colon = msg.find(": ");
    out.field = msg.substr(0, colon);
    if (out.field == "user") out.field = "login";
    out.message = colon == std::string::npos ? msg : msg.substr(colon + 2);
    out.index = index;
  } else {
    out.message = msg;
  }
  return out;
}

std::optional<std::pair<size_t, size_t>> Duplicate(const std::vector<Member>& roster) {
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < roster.size(); ++i) {
    auto [it, fresh] = seen.emplace(roster[i].user, i);
    if (!fresh) return std::make_pair(it->second, i);
  }
  return std::nullopt;
}

}  // namespace

Result<std::vector<Member>> RosterFromJson(const Json& j, const std::string& project) {
  const std::string expected = "expected {\"members\": [{\"login\", \"name\", \"email\"}...]}";
  if (!j.is_object()) return InvalidArgument(expected);
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "members") return InvalidArgument(fmt::format("{}: unknown field ({})", it.key(), expected));
  if (!j.contains("members") || !j["members"].is_array()) return InvalidArgument("members: " + expected);
  const Json& list = j["members"];
  if (list.size() > 100000) return InvalidArgument("members: at most 100000 entries");
  std::vector<Member> out;
  for (size_t i = 0; i < list.size(); ++i) {
    const Json& e = list[i];
    if (!e.is_object()) return InvalidArgument(fmt::format("members[{}]: expected an object", i));
    Member m;
    m.project = project;
    for (auto it = e.begin(); it != e.end(); ++it) {
      const std::string& k = it.key();
      if (k != "login" && k != "name" && k != "email")
        return InvalidArgument(fmt::format("members[{}].{}: unknown field (expected login, name, email)", i, k));
      if (!it->is_string()) return InvalidArgument(fmt::format("members[{}].{}: expected a string", i, k));
      (k == "login" ? m.user : k == "name" ? m.name : m.email) = it->get<std::string>();
    }
    if (!e.contains("login")) return InvalidArgument(fmt::format("members[{}].login: missing", i));
    out.push_back(std::move(m));
  }
  if (auto d = Duplicate(out))
    return InvalidArgument(fmt::format("members[{}].login: \"{}\" is also members[{}]", d->second, out[d->second].user,
                                       d->first));
  if (auto bad = CheckMembers(out))
    return InvalidArgument(bad->index >= 0 ? fmt::format("members[{}].{}: {}", bad->index, bad->field, bad->message)
                                           : bad->message);
  return out;
}

Result<std::vector<Member>> RosterFromCsv(std::string text, const std::string& file, const std::string& project) {
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);  // a spreadsheet's UTF-8 byte order mark
  auto t = CsvTable::Parse(std::move(text), file);
  if (!t.ok()) return t.error();
  auto login = t->Require("login");
  if (!login.ok()) return login.error();
  const auto name = t->Find({"name"});
  const auto email = t->Find({"email"});
  std::vector<Member> out;
  std::vector<int> lines;
  for (const CsvRow& row : t->rows()) {
    Member m;
    m.project = project;
    m.user = std::string(row.Text(*login));
    if (name) m.name = std::string(row.Text(*name));
    if (email) m.email = std::string(row.Text(*email));
    out.push_back(std::move(m));
    lines.push_back(row.line());
  }
  if (auto d = Duplicate(out))
    return t->ErrorAt(lines[d->second], fmt::format("login: \"{}\" is also on line {}", out[d->second].user, lines[d->first]));
  if (auto bad = CheckMembers(out)) {
    if (bad->index < 0 || static_cast<size_t>(bad->index) >= lines.size()) return InvalidArgument(bad->message);
    return t->ErrorAt(lines[bad->index], fmt::format("{}: {}", bad->field, bad->message));
  }
  return out;
}

Json RosterJson(const std::vector<Member>& roster) {
  Json list = Json::array();
  for (const Member& m : roster) {
    Json x{{"login", m.user}};
    if (!m.name.empty()) x["name"] = m.name;
    if (!m.email.empty()) x["email"] = m.email;
    list.push_back(std::move(x));
  }
  return Json{{"members", std::move(list)}};
}

}  // namespace kojo::api
