#include "api/org_config.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <set>

#include <fmt/format.h>

#include "api/fields.h"
#include "api/slurm_env.h"

namespace kojo::api {

namespace {

constexpr double kMaxShare = 1e6;
constexpr int kMaxGpus = 1'000'000;
constexpr double kMaxGpuHours = 1e12;
constexpr Seconds kMaxSessionSeconds = 10LL * 365 * 24 * 3600;  // idle_timeout_s, max_extend_s
constexpr double kMaxWeight = 1000;
constexpr double kMaxMoney = 1e12;

// Names of programmes, organisations, projects and users: what fits in a
// URL path segment and a CSV cell without quoting.
std::optional<std::string> BadName(std::string_view name) {
  if (name.empty()) return "expected a name, got an empty string";
  if (const size_t n = Utf8Length(name); n > 64) return fmt::format("expected at most 64 characters, got {}", n);
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' && c != '@')
      return fmt::format("expected letters, digits and - _ . @ only, got \"{}\"", name);
  return std::nullopt;
}

void Name(Fields& f, std::string_view field, std::string& out) {
  f.Str(field, out, 64, /*required=*/true);
  if (!f.ok()) return;
  if (auto bad = BadName(out)) f.Fail(f.Path(field), *bad);
}

// A number above 0 and at most `max` (shares, amounts).
void Positive(Fields& f, std::string_view field, double& out, double max, bool required = false) {
  f.Num(field, out, 0, max, required);
  if (f.ok() && out <= 0) f.Fail(f.Path(field), "expected a number above 0, got 0");
}

// An amount of money (a JSON number, at most 6 decimals kept).
void MoneyField(Fields& f, std::string_view field, Money& out, bool required = false) {
  double v = 0;
  if (!f.Get(field, false) && !required) return;
  f.Num(field, v, 0, kMaxMoney, required);
  if (!f.ok()) return;
  if (auto m = MoneyFromDouble(v)) out = *m;
  else f.Fail(f.Path(field), "expected an amount of money of at least 0");
}

// "rent": {"budget": 20000, "value_per_gpu_hour": 4}
Result<RentTerms> RentTermsAt(const Json& j, const std::string& path) {
  Fields f(j, path, true);
  RentTerms t;
  MoneyField(f, "budget", t.budget, /*required=*/true);
  MoneyField(f, "value_per_gpu_hour", t.value_per_gpu_hour, /*required=*/true);
  return Done(f, t);
}

Result<Provider> ProviderAt(const Json& j, const std::string& path) {
  Fields f(j, path, true);
  Provider p;
  Name(f, "name", p.name);
  f.Str("gpu_model", p.node.gpu_model, 64, /*required=*/true);
  f.Int("gpus_per_node", p.node.gpus, 1, kMaxGpusPerNode, /*required=*/true);
  double cpus = 8, mem_gib = 64, gpu_mem_gib = 0;
  f.Num("cpus_per_node", cpus, 1, 100000);
  f.Num("memory_gib_per_node", mem_gib, 1, 1e6);
  f.Num("gpu_memory_gib", gpu_mem_gib, 0, 1e4);
  p.node.cpu_milli = static_cast<MilliCpu>(std::llround(cpus * 1000));
  p.node.mem_mib = static_cast<MiB>(std::llround(mem_gib * 1024));
  p.node.gpu_mem_mib = static_cast<MiB>(std::llround(gpu_mem_gib * 1024));
  f.StrList("features", p.node.features, 64, 64);
  MoneyField(f, "price_per_gpu_hour", p.price_per_gpu_hour, /*required=*/true);
  f.Int("max_nodes", p.max_nodes, 1, 1000);
  f.Int("startup_s", p.startup_s, 0, 86400);
  f.Int("timeout_s", p.timeout_s, 1, 86400);
  f.Int("idle_timeout_s", p.idle_timeout_s, 0, 7 * 86400);
  f.Str("start_program", p.start_program, 4096);
  f.Str("stop_program", p.stop_program, 4096);
  if (f.ok() && p.timeout_s < p.startup_s)
    f.Fail(f.Path("timeout_s"), fmt::format("expected at least startup_s ({}), got {}", p.startup_s, p.timeout_s));
  return Done(f, p);
}

Result<Programme> ProgrammeAt(const Json& j, const std::string& path) {
  Fields f(j, path, true);
  Programme p;
  Name(f, "name", p.name);
  f.Str("description", p.description, 1000);
  Positive(f, "share", p.share, kMaxShare);
  if (f.Get("rent", false)) {
    RentTerms t;
    f.Object("rent", t, RentTermsAt);
    p.rent = t;
  }
  return Done(f, p);
}

Result<Organisation> OrganisationAt(const Json& j, const std::string& path) {
  Fields f(j, path, true);
  Organisation o;
  Name(f, "name", o.name);
  Name(f, "programme", o.programme);
  return Done(f, o);
}

Result<Project> ProjectAt(const Json& j, const std::string& path) {
  Fields f(j, path, true);
  Project p;
  Name(f, "name", p.name);
  Name(f, "organisation", p.organisation);
  Positive(f, "share", p.share, kMaxShare);
  f.Int("guaranteed_gpus", p.guaranteed_gpus, 0, kMaxGpus);
  f.OptInt("borrow_limit", p.borrow_limit, 0, kMaxGpus, /*nullable=*/false);
  f.OptInt("member_max_gpus", p.member_max_gpus, 0, kMaxGpus, /*nullable=*/false);
  f.OptInt("member_max_jobs", p.member_max_jobs, 0, 1'000'000, /*nullable=*/false);
  if (f.Get("member_gpu_hours", false)) {
    double h = 0;
    f.Num("member_gpu_hours", h, 0, kMaxGpuHours);
    p.member_gpu_hours = h;
  }
  f.OptInt("idle_timeout_s", p.idle_timeout_s, 1, kMaxSessionSeconds, /*nullable=*/false);
  f.Int("max_extend_s", p.max_extend_s, 0, kMaxSessionSeconds);
  if (f.Get("rent", false)) {
    RentTerms t;
    f.Object("rent", t, RentTermsAt);
    p.rent = t;
  }
  return Done(f, p);
}

Result<Seconds> TimeField(Fields& f, std::string_view field) {
  std::string text;
  f.Str(field, text, 64, true);
  if (!f.ok()) return f.error();
  auto t = ParseIsoTime(text);
  if (!t.ok()) return InvalidArgument(fmt::format("{}: {}", f.Path(field), t.error().message));
  return *t;
}

Result<Grant> GrantAt(const Json& j, const std::string& path) {
  Fields f(j, path, true);
  Grant g;
  Name(f, "id", g.id);
  Name(f, "project", g.project);
  if (f.Get("programme", false)) Name(f, "programme", g.programme);
  double hours = 0;
  Positive(f, "gpu_hours", hours, kMaxGpuHours, /*required=*/true);
  g.amount = static_cast<NormUnits>(std::llround(hours * static_cast<double>(kNormPerGpuHour)));
  if (!f.ok()) return f.error();
  auto start = TimeField(f, "start");
  if (!start.ok()) return start.error();
  auto end = TimeField(f, "end");
  if (!end.ok()) return end.error();
  g.start = *start;
  g.end = *end;
  if (g.end <= g.start)
    f.Fail(f.Path("end"), fmt::format("expected a time after start ({}), got {}", IsoTime(g.start), IsoTime(g.end)));
  return Done(f, g);
}

Result<Member> MemberAt(const Json& j, const std::string& path) {
  Fields f(j, path, true);
  Member m;
  Name(f, "project", m.project);
  Name(f, "user", m.user);
  std::string role = "member";
  f.Str("role", role, 16);
  f.Str("name", m.name, 128);
  f.Str("email", m.email, 254);
  if (f.ok() && !m.email.empty() &&
      (m.email.find('@') == std::string::npos || m.email.find_first_of(" \t\r\n,;<>") != std::string::npos))
    f.Fail(f.Path("email"), fmt::format("expected an address like ada@example.org, got \"{}\"", m.email));
  if (f.ok()) {
    if (auto r = ParseProjectRole(role)) m.role = *r;
    else f.Fail(f.Path("role"), fmt::format("expected \"lead\" or \"member\", got \"{}\"", role));
  }
  return Done(f, m);
}

// A partition: {"name", "nodes": "gpu[01-16]" (a hostlist; absent = every
// node), "features": "a100&ib" (nodes with them), "max_time_s",
// "default_time_s", "projects": [...] (absent = every project), "default"}.
Result<Partition> PartitionAt(const Json& j, const std::string& path) {
  Fields f(j, path, true);
  Partition p;
  Name(f, "name", p.name);
  std::string nodes;
  f.Str("nodes", nodes, 65536);
  if (f.ok() && !nodes.empty()) {
    auto names = ExpandHostlist(nodes, 100000);
    if (names.ok()) p.nodes = std::move(*names);
    else f.Fail(f.Path("nodes"), names.error().message);
  }
  f.Str("features", p.features, 1024);
  if (f.ok() && !p.features.empty())
    if (auto c = ParseConstraint(p.features); !c.ok()) f.Fail(f.Path("features"), c.error().message);
  constexpr Seconds kMaxTime = 100LL * 365 * 24 * 3600;
  f.OptInt("max_time_s", p.max_time, 1, kMaxTime, false);
  f.OptInt("default_time_s", p.default_time, 1, kMaxTime, false);
  f.StrList("projects", p.projects, 10000, 64);
  f.Bool("default", p.is_default);
  if (f.ok() && p.max_time && p.default_time && *p.default_time > *p.max_time)
    f.Fail(f.Path("default_time_s"), fmt::format("expected at most max_time_s ({}), got {}", *p.max_time,
                                                 *p.default_time));
  return Done(f, p);
}

Result<GpuWeights> WeightsAt(const Json& j, const std::string& path) {
  GpuWeights w;
  std::set<std::string> seen;  // lower-case names
  if (!j.is_object())
    return InvalidArgument(fmt::format("{}: expected an object of GPU model -> weight, got {}", path, Short(j)));
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string field = fmt::format("{}.{}", path, it.key());
    const Json& v = it.value();
    const double x = v.is_number() ? v.get<double>() : -1;
    if (!v.is_number() || !(x > 0 && x <= kMaxWeight))
      return InvalidArgument(fmt::format("{}: expected a weight above 0 and at most {}, got {}", field, kMaxWeight,
                                         Short(v)));
    const int milli = static_cast<int>(std::lround(x * 1000));
    if (milli < 1) return InvalidArgument(fmt::format("{}: expected a weight of at least 0.001, got {}", field, x));
    if (it.key().empty() || Utf8Length(it.key()) > 64)
      return InvalidArgument(fmt::format("{}: expected a GPU model name of 1..64 characters", field));
    // Names match without regard to case, "default" too: "Default" set a
    // model named "default", which the document then wrote back as the
    // default weight. Two spellings of one name would silently pick one.
    std::string lower(it.key());
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!seen.insert(lower).second)
      return InvalidArgument(fmt::format("{}: \"{}\" appears twice (GPU model names match without regard to case)",
                                         field, lower));
    if (lower == "default") w.default_milli = milli;
    else w.Set(lower, milli);
  }
  return w;
}

// Duplicate names and references to what the document does not define.
Status CheckReferences(const OrgConfig& c) {
  auto dup = [](const auto& items, auto key, std::string_view section) -> std::optional<Error> {
    std::set<std::string> seen;
    for (size_t i = 0; i < items.size(); ++i)
      if (!seen.insert(key(items[i])).second)
        return InvalidArgument(fmt::format("{}[{}]: \"{}\" appears twice", section, i, key(items[i])));
    return std::nullopt;
  };
  if (auto e = dup(c.programmes, [](const Programme& p) { return p.name; }, "programmes")) return *e;
  if (auto e = dup(c.organisations, [](const Organisation& o) { return o.name; }, "organisations")) return *e;
  if (auto e = dup(c.projects, [](const Project& p) { return p.name; }, "projects")) return *e;
  if (auto e = dup(c.grants, [](const Grant& g) { return g.id; }, "grants")) return *e;
  if (auto e = dup(c.members, [](const Member& m) { return m.project + "/" + m.user; }, "members")) return *e;
  if (auto e = dup(c.partitions, [](const Partition& p) { return p.name; }, "partitions")) return *e;
  if (auto e = dup(c.providers, [](const Provider& p) { return p.name; }, "providers")) return *e;
  // A partition's projects must exist where the document lists projects.
  if (!c.projects.empty())
    for (size_t i = 0; i < c.partitions.size(); ++i)
      for (size_t k = 0; k < c.partitions[i].projects.size(); ++k)
        if (!c.FindProject(c.partitions[i].projects[k]))
          return InvalidArgument(fmt::format("partitions[{}].projects[{}]: no project named \"{}\"", i, k,
                                             c.partitions[i].projects[k]));
  for (size_t i = 0; i < c.organisations.size(); ++i)
    if (!c.FindProgramme(c.organisations[i].programme))
      return InvalidArgument(fmt::format("organisations[{}].programme: no programme named \"{}\"", i,
                                         c.organisations[i].programme));
  for (size_t i = 0; i < c.projects.size(); ++i)
    if (!c.FindOrganisation(c.projects[i].organisation))
      return InvalidArgument(fmt::format("projects[{}].organisation: no organisation named \"{}\"", i,
                                         c.projects[i].organisation));
  for (size_t i = 0; i < c.grants.size(); ++i) {
    if (!c.FindProject(c.grants[i].project))
      return InvalidArgument(fmt::format("grants[{}].project: no project named \"{}\"", i, c.grants[i].project));
    if (!c.grants[i].programme.empty() && !c.FindProgramme(c.grants[i].programme))
      return InvalidArgument(fmt::format("grants[{}].programme: no programme named \"{}\"", i,
                                         c.grants[i].programme));
  }
  for (size_t i = 0; i < c.members.size(); ++i)
    if (!c.FindProject(c.members[i].project))
      return InvalidArgument(fmt::format("members[{}].project: no project named \"{}\"", i, c.members[i].project));
  return Ok{};
}

template <typename T>
const T* FindByName(const std::vector<T>& items, std::string_view name) {
  for (const auto& x : items)
    if (x.name == name) return &x;
  return nullptr;
}

}  // namespace

const Programme* OrgConfig::FindProgramme(std::string_view name) const { return FindByName(programmes, name); }
const Organisation* OrgConfig::FindOrganisation(std::string_view name) const {
  return FindByName(organisations, name);
}
const Project* OrgConfig::FindProject(std::string_view name) const { return FindByName(projects, name); }

std::string OrgConfig::ProgrammeOf(std::string_view project) const {
  const Project* p = FindProject(project);
  const Organisation* o = p ? FindOrganisation(p->organisation) : nullptr;
  return o ? o->programme : std::string();
}

Result<Seconds> ParseIsoTime(std::string_view text) {
  // 2026-01-01 or 2026-01-01T00:00:00Z, digits exactly where shown (no
  // signs or spaces, which sscanf's %d let through: "T00:00:-0Z").
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  auto digits = [text](size_t at, size_t n, int& out) {
    out = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      out = out * 10 + (text[i] - '0');
    }
    return true;
  };
  auto at = [text](size_t i, char c) { return text[i] == c; };
  bool ok = (text.size() == 10 || text.size() == 20) && at(4, '-') && at(7, '-') && digits(0, 4, y) &&
            digits(5, 2, mo) && digits(8, 2, d);
  if (ok && text.size() == 20)
    ok = at(10, 'T') && at(13, ':') && at(16, ':') && at(19, 'Z') && digits(11, 2, h) && digits(14, 2, mi) &&
         digits(17, 2, s);
  if (!ok || y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59)
    return InvalidArgument(fmt::format(
        "expected an ISO 8601 UTC time such as 2026-01-01 or 2026-01-01T00:00:00Z, got \"{}\"", text));
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  const Seconds v = timegm(&tm);
  // timegm normalises 2026-02-31 into March: refuse dates that do not exist.
  if (tm.tm_mday != d || tm.tm_mon != mo - 1)
    return InvalidArgument(fmt::format("expected a date that exists, got \"{}\"", text));
  return v;
}

Result<OrgConfig> OrgConfigFromJson(const Json& j) {
  Fields f(j, "", true);
  OrgConfig c;
  f.Object("gpu_weights", c.weights, WeightsAt);
  f.List("programmes", c.programmes, ProgrammeAt);
  f.List("organisations", c.organisations, OrganisationAt);
  f.List("projects", c.projects, ProjectAt);
  f.List("grants", c.grants, GrantAt);
  f.List("members", c.members, MemberAt);
  f.List("partitions", c.partitions, PartitionAt, 1000);
  f.List("providers", c.providers, ProviderAt, 100);
  auto done = Done(f, std::move(c));
  if (!done.ok()) return done;
  OrgConfig& out = done.value();
  if (auto s = CheckReferences(out); !s.ok()) return s.error();
  for (Grant& g : out.grants)
    if (g.programme.empty()) g.programme = out.ProgrammeOf(g.project);
  return done;
}

namespace {

double MoneyJson(Money m) { return static_cast<double>(m) / static_cast<double>(kMoneyUnit); }

Json RentTermsJson(const RentTerms& t) {
  return {{"budget", MoneyJson(t.budget)}, {"value_per_gpu_hour", MoneyJson(t.value_per_gpu_hour)}};
}

Json ProviderJson(const Provider& p) {
  Json x = {{"name", p.name},
            {"gpu_model", p.node.gpu_model},
            {"gpus_per_node", p.node.gpus},
            {"cpus_per_node", static_cast<double>(p.node.cpu_milli) / 1000.0},
            {"memory_gib_per_node", static_cast<double>(p.node.mem_mib) / 1024.0},
            {"price_per_gpu_hour", MoneyJson(p.price_per_gpu_hour)},
            {"max_nodes", p.max_nodes},
            {"startup_s", p.startup_s},
            {"timeout_s", p.timeout_s},
            {"idle_timeout_s", p.idle_timeout_s}};
  if (p.node.gpu_mem_mib > 0) x["gpu_memory_gib"] = static_cast<double>(p.node.gpu_mem_mib) / 1024.0;
  if (!p.node.features.empty()) x["features"] = p.node.features;
  if (!p.start_program.empty()) x["start_program"] = p.start_program;
  if (!p.stop_program.empty()) x["stop_program"] = p.stop_program;
  return x;
}

}  // namespace

Json ToJson(const OrgConfig& c) {
  Json j = Json::object();
  Json w = Json::object();
  if (c.weights.default_milli != 1000) w["default"] = c.weights.default_milli / 1000.0;
  for (const auto& [model, milli] : c.weights.milli) w[model] = milli / 1000.0;
  j["gpu_weights"] = w;
  j["programmes"] = Json::array();
  for (const auto& p : c.programmes) {
    Json x = {{"name", p.name}, {"share", p.share}};
    if (!p.description.empty()) x["description"] = p.description;
    if (p.rent) x["rent"] = RentTermsJson(*p.rent);
    j["programmes"].push_back(x);
  }
  j["organisations"] = Json::array();
  for (const auto& o : c.organisations) j["organisations"].push_back({{"name", o.name}, {"programme", o.programme}});
  j["projects"] = Json::array();
  for (const auto& p : c.projects) {
    Json x = {{"name", p.name}, {"organisation", p.organisation}, {"share", p.share},
              {"guaranteed_gpus", p.guaranteed_gpus}};
    if (p.borrow_limit) x["borrow_limit"] = *p.borrow_limit;
    if (p.member_max_gpus) x["member_max_gpus"] = *p.member_max_gpus;
    if (p.member_max_jobs) x["member_max_jobs"] = *p.member_max_jobs;
    if (p.member_gpu_hours) x["member_gpu_hours"] = *p.member_gpu_hours;
    if (p.idle_timeout_s) x["idle_timeout_s"] = *p.idle_timeout_s;
    if (p.max_extend_s > 0) x["max_extend_s"] = p.max_extend_s;
    if (p.rent) x["rent"] = RentTermsJson(*p.rent);
    j["projects"].push_back(x);
  }
  j["grants"] = Json::array();
  for (const auto& g : c.grants)
    j["grants"].push_back({{"id", g.id}, {"project", g.project}, {"programme", g.programme},
                           {"gpu_hours", static_cast<double>(g.amount) / static_cast<double>(kNormPerGpuHour)},
                           {"start", IsoTime(g.start)}, {"end", IsoTime(g.end)}});
  j["members"] = Json::array();
  for (const auto& m : c.members) {
    Json x = {{"project", m.project}, {"user", m.user}, {"role", std::string(ToString(m.role))}};
    if (!m.name.empty()) x["name"] = m.name;
    if (!m.email.empty()) x["email"] = m.email;
    j["members"].push_back(std::move(x));
  }
  if (!c.partitions.empty()) {
    j["partitions"] = Json::array();
    for (const auto& p : c.partitions) {
      Json x = {{"name", p.name}};
      if (!p.nodes.empty()) x["nodes"] = CompressHostlist(p.nodes);
      if (!p.features.empty()) x["features"] = p.features;
      if (p.max_time) x["max_time_s"] = *p.max_time;
      if (p.default_time) x["default_time_s"] = *p.default_time;
      if (!p.projects.empty()) x["projects"] = p.projects;
      if (p.is_default) x["default"] = true;
      j["partitions"].push_back(x);
    }
  }
  if (!c.providers.empty()) {
    j["providers"] = Json::array();
    for (const auto& p : c.providers) j["providers"].push_back(ProviderJson(p));
  }
  return j;
}

Result<std::vector<Provider>> ProvidersFromJson(const Json& j) {
  std::vector<Provider> out;
  if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) {
      auto p = ProviderAt(j[i], fmt::format("providers[{}]", i));
      if (!p.ok()) return p.error();
      out.push_back(std::move(*p));
    }
  } else {
    Fields f(j, "", true);
    f.List("providers", out, ProviderAt, 100);
    if (auto s = Done(f, 0); !s.ok()) return s.error();
  }
  std::set<std::string> names;
  for (size_t i = 0; i < out.size(); ++i)
    if (!names.insert(out[i].name).second)
      return InvalidArgument(fmt::format("providers[{}].name: a second provider named \"{}\"", i, out[i].name));
  return out;
}

namespace {

struct ReservationIn {
  Reservation r;
  bool relative = false;
};

Result<ReservationIn> ReservationAt(const Json& j, const std::string& path) {
  Fields f(j, path, true);
  ReservationIn in;
  Reservation& r = in.r;
  Name(f, "name", r.name);
  Name(f, "project", r.project);
  f.Int("gpus", r.gpus, 1, kMaxGpus, /*required=*/true);
  f.Str("gpu_model", r.gpu_model, 64);
  f.Int("duration_s", r.duration, 1, 366LL * 86400, /*required=*/true);
  f.Bool("weekly", r.weekly);
  if (!f.ok()) return f.error();
  const bool iso = f.Get("start", false) != nullptr;
  const bool rel = f.Get("start_s", false) != nullptr;
  if (iso == rel) {
    f.Fail(f.Path("start"), "expected one of start (an ISO 8601 UTC time) or start_s (seconds)");
  } else if (iso) {
    auto t = TimeField(f, "start");
    if (!t.ok()) return t.error();
    r.start = *t;
  } else {
    f.Int("start_s", r.start, 0, 100LL * 366 * 86400, true);
    in.relative = true;
  }
  if (f.ok() && r.weekly && r.duration > kWeek)
    f.Fail(f.Path("duration_s"), fmt::format("expected at most a week ({} s) for a weekly reservation, got {}", kWeek,
                                             r.duration));
  return Done(f, in);
}

}  // namespace

Result<ReservationsDoc> ReservationsFromJson(const Json& j) {
  std::vector<ReservationIn> list;
  if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) {
      auto r = ReservationAt(j[i], fmt::format("reservations[{}]", i));
      if (!r.ok()) return r.error();
      list.push_back(std::move(*r));
    }
  } else {
    Fields f(j, "", true);
    f.List("reservations", list, ReservationAt, 1000);
    if (auto s = Done(f, 0); !s.ok()) return s.error();
  }
  ReservationsDoc out;
  std::set<std::string> names;
  for (size_t i = 0; i < list.size(); ++i) {
    if (!names.insert(list[i].r.name).second)
      return InvalidArgument(
          fmt::format("reservations[{}].name: a second reservation named \"{}\"", i, list[i].r.name));
    out.reservations.push_back(std::move(list[i].r));
    out.relative.push_back(list[i].relative);
  }
  return out;
}

Json ToJson(const Reservation& r) {
  Json j = {{"name", r.name}, {"project", r.project}, {"gpus", r.gpus}, {"start", IsoTime(r.start)},
            {"duration_s", r.duration}, {"weekly", r.weekly}};
  if (!r.gpu_model.empty()) j["gpu_model"] = r.gpu_model;
  return j;
}

RentPolicy RentPolicyOf(const OrgConfig& c) {
  RentPolicy r;
  r.providers = c.providers;
  for (const auto& prog : c.programmes)
    if (prog.rent) r.accounts[RentAccountName(true, prog.name)] = *prog.rent;
  for (const auto& proj : c.projects) {
    if (proj.rent) {
      const std::string name = RentAccountName(false, proj.name);
      r.accounts[name] = *proj.rent;
      r.account_of[proj.name] = name;
      continue;
    }
    const Programme* prog = c.FindProgramme(c.ProgrammeOf(proj.name));
    if (prog && prog->rent) r.account_of[proj.name] = RentAccountName(true, prog->name);
  }
  return r;
}

OrgPolicy PolicyOf(const OrgConfig& c, Seconds now, bool meter_grants,
                   const std::function<NormUnits(const Grant&)>& spent) {
  OrgPolicy p;
  p.weights = c.weights;
  for (const auto& prog : c.programmes) p.programme_shares[prog.name] = prog.share;
  for (const auto& proj : c.projects) {
    ProjectLimits& l = p.projects[proj.name];
    l.programme = c.ProgrammeOf(proj.name);
    l.share = proj.share;
    l.guaranteed_gpus = proj.guaranteed_gpus;
    if (proj.borrow_limit) l.max_gpus = proj.guaranteed_gpus + *proj.borrow_limit;
    if (proj.member_max_gpus) l.member_max_milli = std::int64_t{*proj.member_max_gpus} * kWholeGpu;
    l.member_max_jobs = proj.member_max_jobs;
    if (proj.member_gpu_hours)
      l.member_max_units =
          static_cast<NormUnits>(std::llround(*proj.member_gpu_hours * static_cast<double>(kNormPerGpuHour)));
    if (meter_grants) l.grant_left = 0;
  }
  if (meter_grants)
    for (const auto& g : c.grants) {
      if (!g.Active(now)) continue;
      auto it = p.projects.find(g.project);
      if (it == p.projects.end()) continue;
      const NormUnits used = spent ? spent(g) : 0;
      *it->second.grant_left = std::max(*it->second.grant_left, std::max<NormUnits>(0, g.amount - used));
    }
  return p;
}

}  // namespace kojo::api
