// A course's roster: the members of one project as a list of logins (with
// optional names and emails), imported as a whole (kojo admin roster
// import): POST /api/v1/projects/{name}/roster takes
// {"members": [{"login", "name", "email"}...]}. Each entry is checked with
// the organisation document's own rules for a member (api/org_config.h),
// and errors name the entry (members[3].login) or, from a CSV file, the
// line and the column (roster.csv:5: login: ...).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/codec.h"
#include "common/result.h"
#include "model/org.h"

namespace kojo::api {

// {"members": [...]} -> members of `project` (role member), in the list's
// order; a login twice is an error.
Result<std::vector<Member>> RosterFromJson(const Json& j, const std::string& project);
// A CSV file with the header login,name,email (name and email columns
// optional, in any order; other columns are ignored) -> the same.
Result<std::vector<Member>> RosterFromCsv(std::string text, const std::string& file, const std::string& project);
Json RosterJson(const std::vector<Member>& roster);

}  // namespace kojo::api
