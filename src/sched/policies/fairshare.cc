// Fair share in the style of Slurm's Fair Tree: at each level (tenant, then
// user inside the tenant) siblings are ranked by level fair share
// LF = S / U, where S is the sibling's configured share over the sum of its
// active siblings' shares and U its decayed usage over theirs. Higher LF goes
// first; a sibling with no usage ranks first. Jobs of one user go by submit
// time. Usage is the UsageLedger's decayed GPU-seconds plus the runs still
// going. Not preemptive.
#include <algorithm>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>

#include "sched/policies/policies.h"

namespace kojo {

namespace {

class FairSharePolicy final : public Policy {
 public:
  explicit FairSharePolicy(const PolicyConfig& c) : shares_(c.tenant_shares) {}
  std::string_view Name() const override { return "fairshare"; }

  void Prepare(const ClusterSnapshot& snap, Seconds now) override {
    // Usage of every active tenant and user (string_views into the jobs,
    // which outlive the pass).
    struct Tenant {
      double usage = 0;
      std::unordered_map<std::string_view, double> users;
    };
    std::unordered_map<std::string_view, Tenant> usage;
    auto touch = [&](const JobEntry& e) -> std::pair<Tenant&, double&> {
      auto [it, fresh] = usage.try_emplace(e.job->tenant);
      if (fresh && snap.usage) it->second.usage = snap.usage->Tenant(e.job->tenant, now);
      auto [u, ufresh] = it->second.users.try_emplace(e.job->user, 0.0);
      if (ufresh && snap.usage) u->second = snap.usage->User(e.job->tenant, e.job->user, now);
      return {it->second, u->second};
    };
    for (const auto& e : snap.pending) touch(e);
    for (const auto& e : snap.running) {
      const double run = static_cast<double>((now - e.started) * std::max(1, e.job->demand.gpus));
      auto [t, u] = touch(e);
      t.usage += run;
      u += run;
    }
    ranks_.clear();
    std::vector<std::pair<std::string_view, double>> level;
    for (const auto& [tenant, t] : usage) level.emplace_back(tenant, t.usage);
    std::unordered_map<std::string_view, std::int64_t> tenant_rank;
    RankLevel(level, [&](std::string_view name) { return Share(name); }, tenant_rank);
    for (const auto& [tenant, t] : usage) {
      level.clear();
      for (const auto& [user, u] : t.users) level.emplace_back(user, u);
      Ranks& r = ranks_[tenant];
      r.tenant = tenant_rank[tenant];
      RankLevel(level, [](std::string_view) { return 1.0; }, r.users);
    }
  }

  PriorityKey Key(const JobEntry& e, Seconds) const override {
    auto t = ranks_.find(e.job->tenant);
    if (t == ranks_.end()) return {0, 0, e.job->submit_time};
    auto u = t->second.users.find(e.job->user);
    return {t->second.tenant, u == t->second.users.end() ? 0 : u->second, e.job->submit_time};
  }

 private:
  double Share(std::string_view tenant) const {
    auto it = shares_.find(std::string(tenant));
    return it == shares_.end() ? 1.0 : it->second;
  }

  template <typename ShareFn>
  static void RankLevel(std::vector<std::pair<std::string_view, double>>& level, ShareFn share,
                        std::unordered_map<std::string_view, std::int64_t>& out) {
    std::sort(level.begin(), level.end());  // by name, so that ties stay by name
    double share_sum = 0, usage_sum = 0;
    for (const auto& [name, u] : level) { share_sum += share(name); usage_sum += u; }
    struct Ranked { std::string_view name; double lf; };
    std::vector<Ranked> r;
    for (const auto& [name, u] : level) {
      const double s = share_sum > 0 ? share(name) / share_sum : 0;
      const double un = usage_sum > 0 ? u / usage_sum : 0;
      r.push_back({name, un > 0 ? s / un : std::numeric_limits<double>::infinity()});
    }
    std::stable_sort(r.begin(), r.end(), [](const Ranked& a, const Ranked& b) {
      return a.lf > b.lf;  // level is in name order, so ties stay by name
    });
    for (size_t i = 0; i < r.size(); ++i) out[r[i].name] = static_cast<std::int64_t>(i);
  }

  std::unordered_map<std::string, double> shares_;
  struct Ranks {
    std::int64_t tenant = 0;
    std::unordered_map<std::string_view, std::int64_t> users;
  };
  std::unordered_map<std::string_view, Ranks> ranks_;  // this pass's, by tenant
};

}  // namespace

std::unique_ptr<Policy> MakeFairSharePolicy(const PolicyConfig& config) {
  return std::make_unique<FairSharePolicy>(config);
}

}  // namespace kojo
