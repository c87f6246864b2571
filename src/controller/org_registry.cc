#include "controller/org_registry.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include <fmt/format.h>

namespace kojo::controller {

using api::Json;

namespace {

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// Section of the document -> document kind, and the field that names an element.
struct Section {
  const char* section;
  std::string_view kind;
};
constexpr Section kSections[] = {
    {"programmes", kDocProgramme}, {"organisations", kDocOrganisation}, {"projects", kDocProject},
    {"grants", kDocGrant},         {"members", kDocMember},   {"providers", kDocProvider},
};

std::string KeyOf(std::string_view kind, const Json& e) {
  auto str = [&](const char* f) { return e.contains(f) && e[f].is_string() ? e[f].get<std::string>() : std::string(); };
  if (kind == kDocGrant) return str("id");
  if (kind == kDocMember) return str("project") + "/" + str("user");
  return str("name");
}

}  // namespace

api::OrgConfig Canonical(api::OrgConfig c) {
  auto by_name = [](const auto& a, const auto& b) { return a.name < b.name; };
  std::sort(c.programmes.begin(), c.programmes.end(), by_name);
  std::sort(c.organisations.begin(), c.organisations.end(), by_name);
  std::sort(c.projects.begin(), c.projects.end(), by_name);
  std::sort(c.grants.begin(), c.grants.end(), [](const Grant& a, const Grant& b) { return a.id < b.id; });
  std::sort(c.members.begin(), c.members.end(), [](const Member& a, const Member& b) {
    return std::tie(a.project, a.user) < std::tie(b.project, b.user);
  });
  return c;
}

bool IsOrgDocKind(std::string_view kind) {
  if (kind == kDocGpuWeights) return true;
  return kind == kDocPartitions ||
         std::any_of(std::begin(kSections), std::end(kSections), [&](const Section& s) { return s.kind == kind; });
}

std::vector<store::DocRow> OrgDocs(const api::OrgConfig& c) {
  const Json doc = api::ToJson(c);
  std::vector<store::DocRow> out;
  if (auto it = doc.find("gpu_weights"); it != doc.end() && !it->is_null())
    out.push_back({std::string(kDocGpuWeights), "weights", Dump(*it), false});
  if (auto it = doc.find("partitions"); it != doc.end() && it->is_array() && !it->empty())
    out.push_back({std::string(kDocPartitions), "all", Dump(*it), false});
  for (const Section& s : kSections) {
    auto it = doc.find(s.section);
    if (it == doc.end() || !it->is_array()) continue;
    for (const Json& e : *it) out.push_back({std::string(s.kind), KeyOf(s.kind, e), Dump(e), false});
  }
  std::sort(out.begin(), out.end(), [](const store::DocRow& a, const store::DocRow& b) {
    return std::tie(a.kind, a.key) < std::tie(b.kind, b.key);
  });
  return out;
}

Result<api::OrgConfig> OrgFromDocs(const std::vector<store::DocRow>& docs) {
  Json doc = Json::object();
  for (const store::DocRow& row : docs) {
    if (row.deleted || !IsOrgDocKind(row.kind)) continue;
    auto j = api::ParseJson(row.json);
    if (!j.ok()) return InvalidArgument(fmt::format("stored {} {}: {}", row.kind, row.key, j.error().message));
    if (row.kind == kDocGpuWeights) {
      doc["gpu_weights"] = std::move(*j);
      continue;
    }
    if (row.kind == kDocPartitions) {
      doc["partitions"] = std::move(*j);
      continue;
    }
    for (const Section& s : kSections)
      if (s.kind == row.kind) doc[s.section].push_back(std::move(*j));
  }
  auto c = api::OrgConfigFromJson(doc);
  if (!c.ok()) return InvalidArgument(fmt::format("stored organisation model: {}", c.error().message));
  return c;
}

OrgRegistry::OrgRegistry() : config_(std::make_shared<const api::OrgConfig>()) {}

Status OrgRegistry::Load(const std::vector<store::DocRow>& docs) {
  auto c = OrgFromDocs(docs);
  if (!c.ok()) return c.error();
  std::lock_guard lock(mu_);
  config_ = std::make_shared<const api::OrgConfig>(Canonical(std::move(*c)));
  return Ok{};
}

std::vector<store::DocRow> OrgRegistry::Replace(api::OrgConfig next) {
  auto fresh = std::make_shared<const api::OrgConfig>(Canonical(std::move(next)));
  std::shared_ptr<const api::OrgConfig> old;
  {
    std::lock_guard lock(mu_);
    old = std::exchange(config_, fresh);
  }
  std::vector<store::DocRow> rows = OrgDocs(*fresh);
  std::map<std::pair<std::string, std::string>, std::string> before;
  for (auto& r : OrgDocs(*old)) before[{r.kind, r.key}] = std::move(r.json);
  std::set<std::pair<std::string, std::string>> kept;
  std::vector<store::DocRow> out;
  for (auto& r : rows) {
    kept.insert({r.kind, r.key});
    auto it = before.find({r.kind, r.key});
    if (it == before.end() || it->second != r.json) out.push_back(std::move(r));
  }
  for (const auto& [k, json] : before)
    if (!kept.count(k)) out.push_back({k.first, k.second, "", true});
  return out;
}

std::shared_ptr<const api::OrgConfig> OrgRegistry::Config() const {
  std::lock_guard lock(mu_);
  return config_;
}

bool OrgRegistry::Empty() const { return Config()->projects.empty(); }

std::optional<ProjectRole> OrgRegistry::RoleIn(std::string_view project, std::string_view user) const {
  auto c = Config();
  std::optional<ProjectRole> best;
  for (const Member& m : c->members)
    if (m.project == project && m.user == user && (!best || m.role == ProjectRole::kLead)) best = m.role;
  return best;
}

std::vector<std::string> OrgRegistry::ProjectsOf(std::string_view user) const {
  auto c = Config();
  std::set<std::string> out;
  for (const Member& m : c->members)
    if (m.user == user) out.insert(m.project);
  return {out.begin(), out.end()};
}

bool OrgRegistry::HasProject(std::string_view project) const { return Config()->FindProject(project) != nullptr; }

}  // namespace kojo::controller
