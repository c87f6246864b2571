#include "sched/org_pass.h"

#include <fmt/format.h>

namespace kojo {

std::string GpuHours(NormUnits units) {
  return fmt::format("{:.1f}", static_cast<double>(units) / static_cast<double>(kNormPerGpuHour));
}

OrgPass::OrgPass(const ClusterSnapshot& snap) : snap_(snap), org_(*snap.org) {
  for (const auto& e : snap.running) Of(e.job->project).milli += e.job->demand.TotalGpuMilli();
  for (const auto& [name, limits] : org_.projects) {
    any_guarantee_ = any_guarantee_ || limits.guaranteed_gpus > 0;
    member_caps_ = member_caps_ || limits.MemberCapped();
  }
  if (member_caps_)
    for (const auto& e : snap.running) {
      auto p = org_.projects.find(e.job->project);
      if (p == org_.projects.end() || !p->second.MemberCapped()) continue;
      MemberUse& m = members_[MemberKey(e.job->project, e.job->user)];
      m.milli += e.job->demand.TotalGpuMilli();
      m.jobs += 1;
    }
}

std::optional<Wait> OrgPass::MemberWait(const Job& job, const ProjectLimits& limits) const {
  auto it = members_.find(MemberKey(job.project, job.user));
  const MemberUse none;
  const MemberUse& m = it == members_.end() ? none : it->second;
  Wait w;
  w.job = job.id;
  w.reason = WaitReason::kQuota;
  if (limits.member_max_jobs && m.jobs + 1 > *limits.member_max_jobs) {
    w.message = fmt::format("member {} of project {} runs {} jobs, the most one member may run at once", job.user,
                            job.project, m.jobs);
    return w;
  }
  if (limits.member_max_milli && job.demand.gpus > 0 &&
      m.milli + job.demand.TotalGpuMilli() > *limits.member_max_milli) {
    w.message = fmt::format("member {} of project {} holds {:g} of the {:g} GPUs one member may hold at once; this job "
                            "needs {:g}",
                            job.user, job.project, static_cast<double>(m.milli) / kWholeGpu,
                            static_cast<double>(*limits.member_max_milli) / kWholeGpu,
                            static_cast<double>(job.demand.TotalGpuMilli()) / kWholeGpu);
    return w;
  }
  if (limits.member_max_units && job.demand.gpus > 0) {
    auto u = org_.member_used.find(MemberKey(job.project, job.user));
    const NormUnits used = u == org_.member_used.end() ? 0 : u->second;
    if (used >= *limits.member_max_units) {
      w.message = fmt::format("member {} of project {} has used {} of the {} GPU-hours one member may use", job.user,
                              job.project, GpuHours(used), GpuHours(*limits.member_max_units));
      return w;
    }
  }
  return std::nullopt;
}

OrgPass::Use& OrgPass::Of(std::string_view project) {
  auto [it, fresh] = use_.try_emplace(project);
  if (fresh) {
    auto p = org_.projects.find(std::string(project));
    if (p != org_.projects.end()) it->second.limits = &p->second;
  }
  return it->second;
}

const OrgPass::Use* OrgPass::Find(std::string_view project) const {
  auto it = use_.find(project);
  return it == use_.end() ? nullptr : &it->second;
}

std::int64_t OrgPass::InUse(std::string_view project) const {
  const Use* u = Find(project);
  return u ? u->milli : 0;
}

std::int64_t OrgPass::Guaranteed(std::string_view project) const {
  const Use* u = Find(project);
  if (u) return u->limits ? std::int64_t{u->limits->guaranteed_gpus} * kWholeGpu : 0;
  auto p = org_.projects.find(std::string(project));
  return p == org_.projects.end() ? 0 : std::int64_t{p->second.guaranteed_gpus} * kWholeGpu;
}

std::optional<Wait> OrgPass::QuotaWait(const Job& job) const {
  auto p = org_.projects.find(job.project);
  if (p == org_.projects.end()) return std::nullopt;
  if (member_caps_ && p->second.MemberCapped())
    if (auto w = MemberWait(job, p->second)) return w;
  if (job.demand.gpus == 0 || !p->second.max_gpus) return std::nullopt;
  const std::int64_t used = InUse(job.project), need = job.demand.TotalGpuMilli();
  const std::int64_t limit = std::int64_t{*p->second.max_gpus} * kWholeGpu;
  if (used + need <= limit) return std::nullopt;
  Wait w;
  w.job = job.id;
  w.reason = WaitReason::kQuota;
  w.message = fmt::format("project {} uses {:g} of its {} GPUs (guaranteed {} + borrowable {}); this job needs {:g}",
                          job.project, static_cast<double>(used) / kWholeGpu, *p->second.max_gpus,
                          p->second.guaranteed_gpus, *p->second.max_gpus - p->second.guaranteed_gpus,
                          static_cast<double>(need) / kWholeGpu);
  return w;
}

bool OrgPass::MayReclaim(const Job& job) const {
  if (job.demand.gpus == 0) return false;
  const std::int64_t g = Guaranteed(job.project);
  return g > 0 && InUse(job.project) + job.demand.TotalGpuMilli() <= g;
}

bool OrgPass::MayReclaimFrom(const Job& victim, const Job& for_job, std::int64_t taken) const {
  if (victim.project == for_job.project) return false;
  return InUse(victim.project) - taken - victim.demand.TotalGpuMilli() >= Guaranteed(victim.project);
}

NormUnits RunCost(const GpuWeights& weights, const Allocation& a, Seconds seconds,
                  const std::function<std::string_view(NodeIndex)>& model_of) {
  NormUnits sum = 0;
  for (const auto& s : a.shares)
    sum += weights.Cost(model_of(s.node), static_cast<int>(s.gpu_indices.size()), s.gpu_milli, seconds);
  return sum;
}

NormUnits RunCost(const OrgPolicy& org, const std::vector<NodeSpec>& specs, const Allocation& a, Seconds seconds) {
  return RunCost(org.weights, a, seconds, [&](NodeIndex n) -> std::string_view { return specs[n].gpu_model; });
}

NormUnits ReservationCost(const OrgPolicy& org, const std::vector<NodeSpec>& specs, const Job& job,
                          const Allocation& a) {
  return RunCost(org, specs, a, job.time_limit ? *job.time_limit : org.default_time_limit);
}

NormUnits OrgPass::Cost(const Job& job, const Allocation& a) const {
  return ReservationCost(org_, snap_.specs, job, a);
}

std::optional<Wait> OrgPass::GrantWait(const Job& job, const Allocation& a) const {
  if (job.demand.gpus == 0) return std::nullopt;
  auto p = org_.projects.find(job.project);
  if (p == org_.projects.end() || !p->second.grant_left) return std::nullopt;
  const Use* u = Find(job.project);
  const NormUnits left = *p->second.grant_left - (u ? u->reserved : 0);
  const NormUnits cost = Cost(job, a);
  if (cost <= left) return std::nullopt;
  Wait w;
  w.job = job.id;
  w.reason = WaitReason::kGrant;
  w.message = left > 0 ? fmt::format("project {} has {} GPU-hours left in its active grants; this job reserves {}",
                                     job.project, GpuHours(left), GpuHours(cost))
                       : fmt::format("project {} has no GPU-hours left in an active grant; this job reserves {}",
                                     job.project, GpuHours(cost));
  return w;
}

void OrgPass::Start(const Job& job, const Allocation& a) {
  Use& u = Of(job.project);
  u.milli += job.demand.TotalGpuMilli();
  if (u.limits && u.limits->grant_left) u.reserved += Cost(job, a);
  if (member_caps_ && u.limits && u.limits->MemberCapped()) {
    MemberUse& m = members_[MemberKey(job.project, job.user)];
    m.milli += job.demand.TotalGpuMilli();
    m.jobs += 1;
  }
}

void OrgPass::Stop(const Job& job) {
  Use& u = Of(job.project);
  u.milli -= job.demand.TotalGpuMilli();
  if (member_caps_ && u.limits && u.limits->MemberCapped()) {
    MemberUse& m = members_[MemberKey(job.project, job.user)];
    m.milli -= job.demand.TotalGpuMilli();
    m.jobs -= 1;
  }
}

}  // namespace kojo
