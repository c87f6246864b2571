#include "controller/ledger.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

namespace kojo::controller {

using api::Json;

namespace {
std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }
std::string KeyOf(JobId job, int attempt) { return fmt::format("{}.{}", job, attempt); }
double Hours(double units) { return units / static_cast<double>(kNormPerGpuHour); }
}  // namespace

Json ToJson(const UsageRecord& r) {
  return Json{{"job", r.job},
              {"attempt", r.attempt},
              {"user", r.user},
              {"project", r.project},
              {"organisation", r.organisation},
              {"programme", r.programme},
              {"grant", r.grant},
              {"gpu_model", r.gpu_model},
              {"gpus", r.gpus},
              {"gpu_milli", r.gpu_milli},
              {"start", r.start},
              {"end", r.end},
              {"raw_milli_gpu_s", r.raw_milli_gpu_s},
              {"norm_units", r.norm}};
}

Result<UsageRecord> UsageFromJson(const Json& j) {
  if (!j.is_object()) return InvalidArgument("usage record: expected an object");
  UsageRecord r;
  try {
    r.job = j.at("job").get<JobId>();
    r.attempt = j.at("attempt").get<int>();
    r.user = j.value("user", "");
    r.project = j.value("project", "");
    r.organisation = j.value("organisation", "");
    r.programme = j.value("programme", "");
    r.grant = j.value("grant", "");
    r.gpu_model = j.value("gpu_model", "");
    r.gpus = j.value("gpus", 0);
    r.gpu_milli = j.value("gpu_milli", kWholeGpu);
    r.start = j.at("start").get<Seconds>();
    r.end = j.at("end").get<Seconds>();
    r.raw_milli_gpu_s = j.value("raw_milli_gpu_s", std::int64_t{0});
    r.norm = j.value("norm_units", NormUnits{0});
  } catch (const std::exception& e) {
    return InvalidArgument(fmt::format("usage record: {}", e.what()));
  }
  return r;
}

store::DocRow UsageDoc(const UsageRecord& r) {
  return store::DocRow{std::string(kDocUsage), KeyOf(r.job, r.attempt), Dump(ToJson(r)), false};
}

std::optional<UsageBy> ParseUsageBy(std::string_view s) {
  for (UsageBy b : {UsageBy::kProgramme, UsageBy::kOrganisation, UsageBy::kProject, UsageBy::kUser, UsageBy::kGpuModel})
    if (ToString(b) == s) return b;
  return std::nullopt;
}

std::string_view ToString(UsageBy by) {
  switch (by) {
    case UsageBy::kProgramme: return "programme";
    case UsageBy::kOrganisation: return "organisation";
    case UsageBy::kProject: return "project";
    case UsageBy::kUser: return "user";
    case UsageBy::kGpuModel: return "gpu_model";
  }
  return "project";
}

std::vector<UsageRow> Summarise(const std::vector<UsageRecord>& records, UsageBy by, Seconds from, Seconds to) {
  std::map<std::string, UsageRow> rows;
  for (const UsageRecord& r : records) {
    double part = 0;
    if (r.end <= r.start) {
      if (r.start < from || r.start >= to) continue;
      part = 1;
    } else {
      const Seconds lo = std::max(r.start, from), hi = std::min(r.end, to);
      if (hi <= lo) continue;
      part = static_cast<double>(hi - lo) / static_cast<double>(r.end - r.start);
    }
    std::string key;
    switch (by) {
      case UsageBy::kProgramme: key = r.programme; break;
      case UsageBy::kOrganisation: key = r.organisation; break;
      case UsageBy::kProject: key = r.project; break;
      case UsageBy::kUser: key = r.user; break;
      case UsageBy::kGpuModel: key = r.gpu_model; break;
    }
    UsageRow& row = rows[key];
    row.key = key;
    row.raw_gpu_hours += part * static_cast<double>(r.raw_milli_gpu_s) / static_cast<double>(kNormPerGpuHour);
    row.norm_gpu_hours += part * Hours(static_cast<double>(r.norm));
    row.runs += 1;
  }
  std::vector<UsageRow> out;
  for (auto& [k, row] : rows) out.push_back(std::move(row));
  return out;
}

Json ToJson(const GrantView& v) {
  Json j{{"id", v.grant.id},
         {"project", v.grant.project},
         {"programme", v.grant.programme},
         {"start", api::IsoTime(v.grant.start)},
         {"end", api::IsoTime(v.grant.end)},
         {"active", v.active},
         {"awarded_gpu_hours", Hours(static_cast<double>(v.grant.amount))},
         {"used_gpu_hours", Hours(static_cast<double>(v.used))},
         {"reserved_gpu_hours", Hours(static_cast<double>(v.reserved))},
         {"left_gpu_hours", Hours(static_cast<double>(v.left))},
         {"awarded_units", v.grant.amount},
         {"used_units", v.used},
         {"reserved_units", v.reserved},
         {"left_units", v.left},
         {"burn_gpu_hours_per_hour", v.burn_gpu_hours_per_hour}};
  j["runs_out"] = v.runs_out ? Json(api::IsoTime(*v.runs_out)) : Json(nullptr);
  return j;
}

bool GrantLedger::Record(const UsageRecord& r) {
  if (!seen_.emplace(KeyOf(r.job, r.attempt), true).second) return false;
  records_.push_back(r);
  return true;
}

}  // namespace kojo::controller
