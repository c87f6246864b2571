// OrgPass: what one scheduling pass knows of projects when the snapshot has
// an organisation (ClusterSnapshot::org): the GPUs each project holds (its
// running jobs plus the jobs started or held for preemption in this pass),
// the grant units reserved in this pass, and the answers to "may this job
// start under its project's quota and grants?". A project is Job::project;
// a project absent from the policy has no limits and no guarantee.
// Lives for one pass; keys are views into the snapshot's jobs, which
// outlive it. Thread safety: none.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "sched/decision.h"

namespace kojo {

class OrgPass {
 public:
  // `snap.org` must be set. Counts the GPUs of every running job.
  explicit OrgPass(const ClusterSnapshot& snap);

  // Milli-GPUs the job's project holds now in this pass.
  std::int64_t InUse(std::string_view project) const;
  // The project's guarantee in milli-GPUs (0 if it has none).
  std::int64_t Guaranteed(std::string_view project) const;

  // A Quota wait if starting `job` would take its project past max_gpus,
  // or its user past a member cap of the project.
  std::optional<Wait> QuotaWait(const Job& job) const;
  // True if some project has a guarantee (so that reclaim is possible).
  bool AnyGuarantee() const { return any_guarantee_; }
  // True if `job` needs GPUs and starting it keeps its project within its
  // guarantee: it may take GPUs back from borrowers.
  bool MayReclaim(const Job& job) const;
  // True if running job `victim` may be preempted to give `for_job`'s
  // project its guarantee, given that `taken` milli-GPUs of the victim's
  // project are already chosen: the victim belongs to another project that
  // stays at or above its own guarantee without it.
  bool MayReclaimFrom(const Job& victim, const Job& for_job, std::int64_t taken) const;

  // What `a` reserves against the job's grants: the weighted cost of its
  // GPUs for its time limit (or the policy's default), 0 without GPUs.
  NormUnits Cost(const Job& job, const Allocation& a) const;
  // A GrantExhausted wait if the project's grants (less this pass's
  // reservations) cannot cover `a`; nullopt if they can or are not metered.
  std::optional<Wait> GrantWait(const Job& job, const Allocation& a) const;

  // Bookkeeping: `job` starts (or is held for) `a`; a running job stops.
  void Start(const Job& job, const Allocation& a);
  void Stop(const Job& job);

 private:
  struct Use {
    const ProjectLimits* limits = nullptr;  // null: no limits
    std::int64_t milli = 0;                 // GPUs held, milli
    NormUnits reserved = 0;                 // grant units reserved this pass
  };
  Use& Of(std::string_view project);
  const Use* Find(std::string_view project) const;
  // Members of projects with member caps: GPUs held and jobs running.
  struct MemberUse {
    std::int64_t milli = 0;
    int jobs = 0;
  };
  std::optional<Wait> MemberWait(const Job& job, const ProjectLimits& limits) const;
  std::unordered_map<std::string, MemberUse> members_;  // by MemberKey
  bool member_caps_ = false;

  const ClusterSnapshot& snap_;
  const OrgPolicy& org_;
  std::unordered_map<std::string_view, Use> use_;
  bool any_guarantee_ = false;
};

// What running `a` for `seconds` costs in normalised units: for each node
// share, the weight of the node's GPU model x its GPUs x gpu_milli x time.
// kojod and the simulator charge a run's end with it.
NormUnits RunCost(const OrgPolicy& org, const std::vector<NodeSpec>& specs, const Allocation& a, Seconds seconds);
// The same with the GPU model of each share's node from `model_of` (for
// callers that keep nodes in their own records, such as kojod).
NormUnits RunCost(const GpuWeights& weights, const Allocation& a, Seconds seconds,
                  const std::function<std::string_view(NodeIndex)>& model_of);
// What starting `job` on `a` reserves against its project's grants: the
// RunCost for its time limit, or org.default_time_limit without one.
NormUnits ReservationCost(const OrgPolicy& org, const std::vector<NodeSpec>& specs, const Job& job,
                          const Allocation& a);

// "12.5" for a count of normalised units in GPU-hours.
std::string GpuHours(NormUnits units);

}  // namespace kojo
