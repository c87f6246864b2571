// Controller: the organisation model and accounting. Submission rules
// (known project, active grant), the model handed to the cluster state
// (which meters grants: reservations at a run's start, settlement at its
// end), usage records (ledger.h), the admin changes to the model and the
// grant and usage reports.
#include <algorithm>

#include <fmt/format.h>

#include "controller/controller.h"

namespace kojo::controller {

using api::Json;

namespace {

constexpr Seconds kDevGrantYears = 10;
constexpr NormUnits kDevGrantGpuHours = 1'000'000;

// "grants[3].gpu_hours: ..." -> "gpu_hours: ..." for a single grant.
std::string WithoutListPrefix(std::string message, std::string_view list) {
  if (message.rfind(std::string(list) + "[", 0) == 0) {
    const size_t close = message.find("].");
    if (close != std::string::npos) return message.substr(close + 2);
    const size_t colon = message.find("]");
    if (colon != std::string::npos) return message.substr(colon + 1);
  }
  return message;
}

}  // namespace

// ---- helpers (mu_ held) ----

Status Controller::LoadAccounting(const std::vector<store::DocRow>& docs) {
  if (auto s = org_.Load(docs); !s.ok()) return s.error();
  std::vector<UsageRecord> records;
  for (const store::DocRow& row : docs) {
    if (row.kind != kDocUsage) continue;
    auto j = api::ParseJson(row.json);
    if (!j.ok()) return InvalidArgument(fmt::format("stored usage {}: {}", row.key, j.error().message));
    auto r = UsageFromJson(*j);
    if (!r.ok()) return InvalidArgument(fmt::format("stored usage {}: {}", row.key, r.error().message));
    records.push_back(std::move(*r));
  }
  // The state meters with the stored model; fair share decays in time order.
  state_org_ = org_.Config();
  state_.SetOrg(StateOrg(*state_org_));
  state_.SetPartitions(state_org_->partitions);
  std::stable_sort(records.begin(), records.end(), [](const UsageRecord& a, const UsageRecord& b) { return a.end < b.end; });
  for (const UsageRecord& r : records)
    if (ledger_.Record(r)) state_.ChargeSettled(r.project, r.user, r.grant, r.norm, r.end);
  return Ok{};
}

std::optional<ClusterOrg> Controller::StateOrg(const api::OrgConfig& c) const {
  if (c.projects.empty()) return std::nullopt;  // one flat pool: not metered
  ClusterOrg org;
  org.policy = api::PolicyOf(c, 0, /*meter_grants=*/false, {});
  org.policy.default_time_limit = config_.default_time_limit_s;
  org.grants = c.grants;
  return org;
}

std::optional<ApiError> Controller::CheckProject(std::string_view project, Seconds now) const {
  auto c = org_.Config();
  if (c->projects.empty()) return std::nullopt;  // flat pool
  if (!c->FindProject(project)) {
    std::string names;
    for (const Project& p : c->projects) names += (names.empty() ? "" : ", ") + p.name;
    return ApiError{ApiCode::kInvalidArgument,
                    fmt::format("project: no project named \"{}\" (known: {}); pick one with --project or ask an "
                                "administrator to create it (kojo admin apply)", project, names)};
  }
  for (const Grant& g : c->grants)
    if (g.project == project && g.Active(now)) return std::nullopt;
  return ApiError{ApiCode::kConflict,
                  fmt::format("project \"{}\" has no active grant at {}; ask an administrator to award one "
                              "(kojo admin grant add --project {} ...)", project, api::IsoTime(now), project)};
}

UsageRecord Controller::RecordOf(const JobRec& rec, Seconds now, std::optional<NormUnits> charged) const {
  UsageRecord u;
  u.job = rec.view.id;
  u.attempt = rec.view.attempt;
  u.user = rec.view.spec.user;
  u.project = rec.job.project;
  auto c = org_.Config();
  if (const Project* p = c->FindProject(u.project)) u.organisation = p->organisation;
  u.programme = c->ProgrammeOf(u.project);
  u.grant = rec.grant;
  u.start = rec.view.start_time.value_or(now);
  u.end = std::max(u.start, now);
  for (const NodeShare& s : rec.alloc.shares) {
    if (u.gpu_model.empty() && s.node >= 0 && s.node < static_cast<int>(nodes_.size()) && !s.gpu_indices.empty())
      u.gpu_model = nodes_[s.node].spec.gpu_model;
    u.gpus += static_cast<int>(s.gpu_indices.size());
    u.gpu_milli = s.gpu_milli;
    u.raw_milli_gpu_s += static_cast<std::int64_t>(s.gpu_indices.size()) * s.gpu_milli * (u.end - u.start);
  }
  if (charged) {
    u.norm = *charged;
  } else {
    u.norm = state_.Cost(rec.alloc, u.end - u.start);
    if (!rec.grant.empty()) u.norm = std::min(u.norm, rec.reserved);
  }
  return u;
}

void Controller::Settle(JobRec& rec, Seconds now) {
  if (!state_.Running(rec.view.id)) return;  // it never started: no run to settle
  const Settled settled = state_.Finish(rec.view.id, now, /*requeue=*/false);
  rec.attained_gpu_s = settled.attained_gpu_s;
  rec.last_run_s = settled.ran;
  const UsageRecord u = RecordOf(rec, now, settled.charged);
  ledger_.Record(u);
  batch_.docs.push_back(UsageDoc(u));  // same batch as the job's end state
  rec.grant.clear();
  rec.reserved = 0;
}

// ---- the organisation model ----

Outcome<api::OrgConfig> Controller::ApplyOrg(std::string_view body) {
  auto j = api::ParseJson(body);
  if (!j.ok()) return FromError(j.error());
  auto c = api::OrgConfigFromJson(*j);
  if (!c.ok()) return FromError(c.error());
  return ApplyOrg(*c);
}

Outcome<api::OrgConfig> Controller::ApplyOrg(const api::OrgConfig& config) {
  std::lock_guard write(org_write_mu_);
  return ReplaceOrg(config);
}

Outcome<api::OrgConfig> Controller::ReplaceOrg(const api::OrgConfig& config) {
  // What is stored is what the parser accepts: validate the round trip.
  auto checked = api::OrgConfigFromJson(api::ToJson(config));
  if (!checked.ok()) return FromError(checked.error());
  std::unique_lock lock(mu_);
  for (auto& row : org_.Replace(*checked)) batch_.docs.push_back(std::move(row));
  WakeScheduler();
  const std::uint64_t seq = Flush();
  lock.unlock();
  if (auto durable = commit_.AwaitDurable(seq); !durable.ok()) return NotDurable(durable.error(), "the organisation");
  return *org_.Config();
}

Outcome<GrantView> Controller::AddGrant(std::string_view body) {
  auto j = api::ParseJson(body);
  if (!j.ok()) return FromError(j.error());
  if (!j->is_object()) return ApiError{ApiCode::kInvalidArgument, "body: expected a grant object"};
  std::lock_guard write(org_write_mu_);
  Json doc = api::ToJson(*org_.Config());
  const std::string id = j->contains("id") && (*j)["id"].is_string() ? (*j)["id"].get<std::string>() : "";
  for (const Grant& g : org_.Config()->grants)
    if (g.id == id) return ApiError{ApiCode::kConflict, fmt::format("id: a grant \"{}\" exists already", id)};
  doc["grants"].push_back(*j);
  auto c = api::OrgConfigFromJson(doc);
  if (!c.ok()) return ApiError{ApiCode::kInvalidArgument, WithoutListPrefix(c.error().message, "grants")};
  auto applied = ReplaceOrg(*c);
  if (!applied.ok()) return applied.error();
  for (const GrantView& v : Grants(""))
    if (v.grant.id == id) return v;
  return ApiError{ApiCode::kInternal, "the grant was stored but not found"};
}

Status Controller::EnsureDevDefaults(const std::string& user, Seconds now) {
  std::lock_guard write(org_write_mu_);
  api::OrgConfig c = *org_.Config();
  if (!c.FindProgramme("default")) c.programmes.push_back(Programme{"default", "created by kojod --dev", 1, std::nullopt});
  if (!c.FindOrganisation("default")) c.organisations.push_back(Organisation{"default", "default"});
  if (!c.FindProject("default")) {
    Project p;
    p.name = "default";
    p.organisation = "default";
    c.projects.push_back(p);
  }
  const bool has_grant = std::any_of(c.grants.begin(), c.grants.end(),
                                     [&](const Grant& g) { return g.project == "default" && g.Active(now); });
  if (!has_grant) {
    Grant g;
    g.id = "default";
    for (int i = 2; std::any_of(c.grants.begin(), c.grants.end(), [&](const Grant& x) { return x.id == g.id; }); ++i)
      g.id = fmt::format("default-{}", i);
    g.project = "default";
    g.programme = c.ProgrammeOf("default");
    g.amount = kDevGrantGpuHours * kNormPerGpuHour;
    g.start = now - 60;
    g.end = now + kDevGrantYears * 365 * 24 * 3600;
    c.grants.push_back(g);
  }
  if (!user.empty() && std::none_of(c.members.begin(), c.members.end(),
                                    [&](const Member& m) { return m.project == "default" && m.user == user; }))
    c.members.push_back(Member{"default", user, ProjectRole::kLead, "", ""});
  auto out = ReplaceOrg(c);
  if (!out.ok()) return InvalidArgument(out.error().message);
  return Ok{};
}

// ---- reports ----

std::vector<GrantView> Controller::Grants(std::string_view project) const {
  auto c = org_.Config();
  std::lock_guard lock(mu_);
  const Seconds now = Now();
  struct Running {
    NormUnits to_date = 0;
    NormUnits per_hour = 0;
  };
  std::unordered_map<std::string, Running> running;
  for (JobId id : active_) {
    const JobRec& rec = jobs_.at(id);
    if (rec.grant.empty() || !rec.view.start_time) continue;
    Running& r = running[rec.grant];
    r.to_date += std::min(rec.reserved, state_.Cost(rec.alloc, std::max<Seconds>(0, now - *rec.view.start_time)));
    r.per_hour += state_.Cost(rec.alloc, 3600);
  }
  std::vector<GrantView> out;
  for (const Grant& g : c->grants) {
    if (!project.empty() && g.project != project) continue;
    GrantView v;
    v.grant = g;
    v.active = g.Active(now);
    const Running r = running.count(g.id) ? running.at(g.id) : Running{};
    v.used = state_.GrantUsed(g.id) + r.to_date;
    v.reserved = std::max<NormUnits>(0, state_.GrantReserved(g.id) - r.to_date);
    v.left = std::max<NormUnits>(0, g.amount - v.used - v.reserved);
    v.burn_gpu_hours_per_hour = static_cast<double>(r.per_hour) / kNormPerGpuHour;
    if (v.active && r.per_hour > 0) {
      const double hours = static_cast<double>(std::max<NormUnits>(0, g.amount - v.used)) / static_cast<double>(r.per_hour);
      // At this rate it lasts past its end: it expires before it runs out.
      if (hours * 3600 < static_cast<double>(g.end - now)) v.runs_out = now + static_cast<Seconds>(hours * 3600);
    }
    out.push_back(std::move(v));
  }
  std::sort(out.begin(), out.end(), [](const GrantView& a, const GrantView& b) {
    return std::tie(a.grant.project, a.grant.end, a.grant.id) < std::tie(b.grant.project, b.grant.end, b.grant.id);
  });
  return out;
}

std::vector<UsageRecord> Controller::UsageRecords() const {
  std::lock_guard lock(mu_);
  std::vector<UsageRecord> out = ledger_.records();
  const Seconds now = Now();
  for (JobId id : active_) {
    const JobRec& rec = jobs_.at(id);
    if (rec.view.start_time) out.push_back(RecordOf(rec, now));  // charged as it runs
  }
  return out;
}

std::vector<UsageRow> Controller::Usage(UsageBy by, Seconds from, Seconds to,
                                        const std::function<bool(std::string_view project)>& project_filter) const {
  std::vector<UsageRecord> records = UsageRecords();
  if (project_filter) std::erase_if(records, [&](const UsageRecord& r) { return !project_filter(r.project); });
  return Summarise(records, by, from, to);
}

}  // namespace kojo::controller
