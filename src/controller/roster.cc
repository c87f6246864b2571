// Controller: a course's roster imported as a whole (api/roster.h): the
// difference between the roster and the project's members is applied
// through the organisation model's one change path (ReplaceOrg), so it is
// durable before the reply, and a second import of the same roster finds
// nothing to change.
#include <map>
#include <set>

#include <fmt/format.h>

#include "api/roster.h"
#include "controller/controller.h"
#include "controller/http_util.h"

namespace kojo::controller {

Outcome<Controller::RosterResult> Controller::ImportRoster(std::string_view project_name, std::string_view body) {
  const std::string project(project_name);
  auto j = api::ParseJson(body);
  if (!j.ok()) return FromError(j.error());
  auto roster = api::RosterFromJson(*j, project);
  if (!roster.ok()) return FromError(roster.error());
  std::lock_guard write(org_write_mu_);
  api::OrgConfig c = *org_.Config();
  if (!c.FindProject(project))
    return ApiError{ApiCode::kNotFound, fmt::format("project \"{}\" not found", Shown(project))};
  std::map<std::string, const Member*> wanted;
  for (const Member& m : *roster) wanted[m.user] = &m;
  RosterResult r;
  std::vector<Member> next;
  std::set<std::string> present;
  for (Member& m : c.members) {
    if (m.project != project) {
      next.push_back(std::move(m));
      continue;
    }
    auto it = wanted.find(m.user);
    if (it == wanted.end()) {
      if (m.role == ProjectRole::kLead) next.push_back(std::move(m));  // leads are never removed
      else ++r.removed;
      continue;
    }
    present.insert(m.user);
    if (m.name != it->second->name || m.email != it->second->email) {
      m.name = it->second->name;
      m.email = it->second->email;
      ++r.updated;
    }
    next.push_back(std::move(m));
  }
  for (const Member& m : *roster)
    if (!present.count(m.user)) {
      next.push_back(m);
      ++r.added;
    }
  for (const Member& m : next) r.members += m.project == project ? 1 : 0;
  if (r.added == 0 && r.removed == 0 && r.updated == 0) return r;  // already in force: nothing written
  c.members = std::move(next);
  auto applied = ReplaceOrg(c);
  if (!applied.ok()) return applied.error();
  return r;
}

}  // namespace kojo::controller
