// The organisation model: programmes contain organisations, which contain
// projects, which have members and hold grants; and the normalised GPU-hour
// currency that grants, fair share and usage reports all count in. Value
// types only. OrgPolicy is the part of it the scheduler reads.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "model/rent.h"
#include "model/units.h"

namespace kojo {

// Normalised compute, in milli-GPU-seconds of a GPU of weight 1.000. A GPU
// model's weight says how much one of its GPU-hours counts (an H100 hour
// more than a T4 hour). Integer, like every resource amount.
using NormUnits = std::int64_t;
inline constexpr NormUnits kNormPerGpuHour = 3'600'000;  // 1 GPU x 1000 milli x 3600 s

// GPU model -> weight in thousandths. Lookup ignores case; a model with no
// entry of its own takes the longest entry that is a prefix of its name
// ("H100" serves "H100-80GB-HBM3"), else default_milli.
struct GpuWeights {
  std::map<std::string, int> milli;  // keys stored lower-case
  int default_milli = 1000;

  void Set(std::string_view model, int weight_milli);
  // A MIG instance's model ("H100-1g.10gb", MigModel) without an entry of
  // its own weighs its share of its GPU's weight: 1/7 for 1g on an H100 or
  // A100 (7 compute slices), 1/4 for 1g on an A30 (4).
  int Of(std::string_view model) const;
  // What `gpus` GPUs of `model`, each `gpu_milli` taken, cost for `seconds`.
  NormUnits Cost(std::string_view model, int gpus, MilliGpu gpu_milli, Seconds seconds) const;
};

// MIG: an instance of a GPU split by NVIDIA's Multi-Instance GPU counts as
// a GPU of its own model, "<GPU model>-<profile>" ("H100-1g.10gb"), so that
// jobs ask for it by name and never get one when they ask for a whole H100.
std::string MigModel(std::string_view gpu_model, std::string_view profile);
// The share of its GPU that a MIG model holds, in thousandths (1g of 7 ->
// 142); nullopt when `model` is not a MIG model.
std::optional<int> MigShareMilli(std::string_view model);

// Global roles. Project roles (lead, member) come from memberships.
enum class Role { kViewer, kOperator, kAdmin };
enum class ProjectRole { kMember, kLead };
std::string_view ToString(Role r);
std::string_view ToString(ProjectRole r);
std::optional<Role> ParseRole(std::string_view s);
std::optional<ProjectRole> ParseProjectRole(std::string_view s);

struct Programme {
  std::string name;
  std::string description;
  double share = 1;  // fair share among programmes
  // A budget for rented capacity shared by its projects, and the value of
  // their waiting (model/rent.h); a project's own terms come first.
  std::optional<RentTerms> rent;
};

struct Organisation {
  std::string name;
  std::string programme;
};

struct Project {
  std::string name;
  std::string organisation;
  double share = 1;           // fair share among its programme's projects
  // Concurrent GPUs (Kueue's nominal quota and borrowing limit): it can
  // always get `guaranteed_gpus` (taking them back by preemption from
  // projects that borrowed them); above that it may borrow idle GPUs, up to
  // `borrow_limit` more (none = no limit).
  int guaranteed_gpus = 0;
  std::optional<int> borrow_limit;
  std::optional<RentTerms> rent;  // its own budget for rented capacity
  // Caps on each member (a course's students): GPUs their running jobs
  // hold at once, running jobs (sessions) at once, and normalised GPU-hours
  // used over the project's life. None = no cap.
  std::optional<int> member_max_gpus;
  std::optional<int> member_max_jobs;
  std::optional<double> member_gpu_hours;
  // Sessions (interactive jobs) idle this long -- no terminal input, no use
  // of their GPUs -- are ended after a warning. None = never.
  std::optional<Seconds> idle_timeout_s;
  // How much its members may add to a job's time limit with `kojo extend`
  // (in all, per job); operators and admins are not held to it. None or 0 =
  // members may not extend.
  Seconds max_extend_s = 0;
};

struct Member {
  std::string project;
  std::string user;
  ProjectRole role = ProjectRole::kMember;
  std::string name;   // optional: the person's name (a course roster's)
  std::string email;  // optional
};

// An award of normalised GPU-hours to a project, usable in [start, end).
struct Grant {
  std::string id;
  std::string project;
  std::string programme;  // the programme that funds it
  NormUnits amount = 0;
  Seconds start = 0;      // Unix seconds
  Seconds end = 0;
  bool Active(Seconds now) const { return start <= now && now < end; }
};

// What the scheduler knows of one project (Job::project names it).
struct ProjectLimits {
  std::string programme;
  double share = 1;
  int guaranteed_gpus = 0;
  std::optional<int> max_gpus;          // guaranteed + borrow limit; none = no cap
  // Normalised units one new start may reserve: the largest remainder
  // (awarded - used - reserved) among its active grants, as a reservation
  // comes from one grant; none = not metered (e.g. a simulation without
  // grants).
  std::optional<NormUnits> grant_left;
  // Per member (Project::member_*): GPUs (milli), running jobs, and
  // normalised units used over the project's life.
  std::optional<std::int64_t> member_max_milli;
  std::optional<int> member_max_jobs;
  std::optional<NormUnits> member_max_units;
  bool MemberCapped() const { return member_max_milli || member_max_jobs || member_max_units; }
};

// The key of a project's member in per-member maps.
inline std::string MemberKey(std::string_view project, std::string_view user) {
  std::string k(project);
  k += '\n';
  k += user;
  return k;
}

// The organisation as the scheduler reads it (ClusterSnapshot::org).
struct OrgPolicy {
  std::unordered_map<std::string, double> programme_shares;  // absent = 1
  std::unordered_map<std::string, ProjectLimits> projects;    // absent = no limits, programme ""
  GpuWeights weights;
  // A job without a time limit is reserved against its grant for this long
  // (and the controller stops it there).
  Seconds default_time_limit = 24 * 3600;
  // Normalised units each member of a project with member_max_units has
  // used (runs ended), by MemberKey; kept by the cluster state.
  std::unordered_map<std::string, NormUnits> member_used;
};

}  // namespace kojo
