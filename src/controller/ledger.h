// Usage records: what each settled run (a job attempt) used, stored as
// documents, and the reports made from them. The metering itself (what a
// grant has used and reserved, the fair-share usage) is the cluster
// state's (state/cluster_state.h): a run reserves against one active grant
// of its project when it starts and settles when it ends, charging the
// cost of the time it ran, capped at its reservation, so used + reserved
// never exceeds what was awarded. Its usage record is stored in the same
// batch as the job's end state.
//
// Thread safety: none; the controller uses it under its mutex. The report
// functions are pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/codec.h"
#include "api/org_config.h"
#include "common/result.h"
#include "model/org.h"
#include "sched/snapshot.h"
#include "store/store.h"

namespace kojo::controller {

inline constexpr std::string_view kDocUsage = "usage";

// One settled run (a job attempt): store document kind "usage", key
// "<job>.<attempt>". Or, once runs are older than the retention
// (GrantLedger::Compact), the runs of one UTC day merged: key `merged`.
struct UsageRecord {
  JobId job = 0;
  int attempt = 0;
  std::string user, project, organisation, programme;
  std::string grant;      // "" when the run was not metered
  std::string gpu_model;  // of its first node
  int gpus = 0;
  MilliGpu gpu_milli = kWholeGpu;
  Seconds start = 0, end = 0;
  std::int64_t raw_milli_gpu_s = 0;  // gpus x gpu_milli x seconds
  NormUnits norm = 0;                // charged: normalised cost, capped at the reservation
  int runs = 1;                      // runs it stands for
  // "" for one run; for merged runs their document's key,
  // "day/<days since 1970>/<programme>/<organisation>/<project>/<user>/<grant>/<gpu model>"
  // (job and attempt 0, gpus 0, start and end the earliest start and latest end).
  std::string merged;
};

api::Json ToJson(const UsageRecord& r);
Result<UsageRecord> UsageFromJson(const api::Json& j);
store::DocRow UsageDoc(const UsageRecord& r);
std::string UsageKey(const UsageRecord& r);  // its document's key

enum class UsageBy { kProgramme, kOrganisation, kProject, kUser, kGpuModel };
std::optional<UsageBy> ParseUsageBy(std::string_view s);
std::string_view ToString(UsageBy by);

// One line of a usage report.
struct UsageRow {
  std::string key;
  double raw_gpu_hours = 0;
  double norm_gpu_hours = 0;
  int runs = 0;  // records that overlap the range
};

// Sums `records` by `by` over [from, to): a record that overlaps the range
// only in part counts in proportion to the overlap (a record of zero length
// counts whole when its start is in the range). Sorted by key.
std::vector<UsageRow> Summarise(const std::vector<UsageRecord>& records, UsageBy by, Seconds from, Seconds to);

// A grant as reported: awarded, used (settled runs plus running ones to
// date), reserved (what running jobs may still use), left = awarded - used
// - reserved, and when it runs out at the current burn rate.
struct GrantView {
  Grant grant;
  NormUnits used = 0, reserved = 0, left = 0;
  bool active = false;
  double burn_gpu_hours_per_hour = 0;  // running jobs' normalised rate
  std::optional<Seconds> runs_out;     // none: no burn, inactive, or it ends first
};
api::Json ToJson(const GrantView& v);

// The settled runs' records, each run once.
class GrantLedger {
 public:
  // Keeps `r` unless a record of its key (UsageKey) was kept before; true
  // if kept (each run is charged once).
  bool Record(const UsageRecord& r);
  const std::vector<UsageRecord>& records() const { return records_; }
  // Merges the records of runs that ended before `cutoff` into one record
  // per UTC day of their end and (programme, organisation, project, user,
  // grant, GPU model): what a grant used and what each project and user
  // used each day stay exact; a report whose range cuts through such a day
  // counts its record in proportion. Returns the store rows that make the
  // same change: the merged records written, the records merged into them
  // deleted.
  std::vector<store::DocRow> Compact(Seconds cutoff);

 private:
  std::unordered_map<std::string, bool> seen_;  // UsageKey
  std::vector<UsageRecord> records_;
};

}  // namespace kojo::controller
