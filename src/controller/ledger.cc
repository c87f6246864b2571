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
              {"norm_units", r.norm},
              {"runs", r.runs},
              {"merged", r.merged}};
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
    r.runs = j.value("runs", 1);
    r.merged = j.value("merged", "");
  } catch (const std::exception& e) {
    return InvalidArgument(fmt::format("usage record: {}", e.what()));
  }
  return r;
}

std::string UsageKey(const UsageRecord& r) { return r.merged.empty() ? KeyOf(r.job, r.attempt) : r.merged; }

store::DocRow UsageDoc(const UsageRecord& r) {
  return store::DocRow{std::string(kDocUsage), UsageKey(r), Dump(ToJson(r)), false};
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
    row.runs += r.runs;
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
  if (!seen_.emplace(UsageKey(r), true).second) return false;
  records_.push_back(r);
  return true;
}

std::vector<store::DocRow> GrantLedger::Compact(Seconds cutoff) {
  std::map<std::string, std::vector<size_t>> groups;  // merged key -> records
  std::vector<UsageRecord> kept;
  for (size_t i = 0; i < records_.size(); ++i) {
    const UsageRecord& r = records_[i];
    if (r.end >= cutoff) continue;
    const Seconds day = (r.end >= 0 ? r.end : r.end - 86399) / 86400;
    groups[fmt::format("day/{}/{}/{}/{}/{}/{}/{}", day, r.programme, r.organisation, r.project, r.user, r.grant,
                       r.gpu_model)]
        .push_back(i);
  }
  std::vector<store::DocRow> rows;
  std::vector<bool> merged_away(records_.size(), false);
  std::vector<UsageRecord> merged;
  for (const auto& [key, members] : groups) {
    if (members.size() == 1 && records_[members[0]].merged == key) continue;  // already one record
    UsageRecord m = records_[members[0]];
    m.job = 0;
    m.attempt = 0;
    m.gpus = 0;
    m.merged = key;
    m.start = records_[members[0]].start;
    m.end = records_[members[0]].end;
    m.raw_milli_gpu_s = m.norm = 0;
    m.runs = 0;
    for (size_t i : members) {
      const UsageRecord& r = records_[i];
      m.start = std::min(m.start, r.start);
      m.end = std::max(m.end, r.end);
      m.raw_milli_gpu_s += r.raw_milli_gpu_s;
      m.norm += r.norm;
      m.runs += r.runs;
      merged_away[i] = true;
      if (UsageKey(r) != key) {
        rows.push_back(store::DocRow{std::string(kDocUsage), UsageKey(r), "", true});
        seen_.erase(UsageKey(r));
      }
    }
    seen_[key] = true;
    rows.push_back(UsageDoc(m));
    merged.push_back(std::move(m));
  }
  if (merged.empty()) return rows;
  for (size_t i = 0; i < records_.size(); ++i)
    if (!merged_away[i]) kept.push_back(std::move(records_[i]));
  for (auto& m : merged) kept.push_back(std::move(m));
  records_ = std::move(kept);
  return rows;
}

}  // namespace kojo::controller
