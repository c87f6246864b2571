// Fair share in the style of Slurm's Fair Tree: at each level (tenant, then
// user inside the tenant) siblings are ranked by level fair share
// LF = S / U, where S is the sibling's configured share over the sum of its
// active siblings' shares and U its decayed usage over theirs. Higher LF goes
// first; a sibling with no usage ranks first. Jobs of one user go by submit
// time. Usage is the UsageLedger's decayed GPU-seconds plus the runs still
// going. Not preemptive.
#include <algorithm>
#include <limits>
#include <map>
#include <string>
#include <unordered_map>

#include "sched/policies/policies.h"

namespace kojo {

namespace {

class FairSharePolicy final : public Policy {
 public:
  explicit FairSharePolicy(const PolicyConfig& c) : shares_(c.tenant_shares) {}
  std::string_view Name() const override { return "fairshare"; }

  void Prepare(const ClusterSnapshot& snap, Seconds now) override {
    // usage[tenant] and usage[tenant][user] for every active tenant/user.
    std::map<std::string, std::pair<double, std::map<std::string, double>>> usage;
    auto touch = [&](const JobEntry& e) {
      auto& t = usage[e.job->tenant];
      t.second.try_emplace(e.job->user, 0.0);
    };
    for (const auto& e : snap.pending) touch(e);
    for (const auto& e : snap.running) touch(e);
    for (auto& [tenant, t] : usage) {
      t.first = snap.usage ? snap.usage->Tenant(tenant, now) : 0.0;
      for (auto& [user, u] : t.second) u = snap.usage ? snap.usage->User(tenant, user, now) : 0.0;
    }
    for (const auto& e : snap.running) {
      const double run = static_cast<double>((now - e.started) * std::max(1, e.job->demand.gpus));
      auto& t = usage[e.job->tenant];
      t.first += run;
      t.second[e.job->user] += run;
    }
    tenant_rank_.clear();
    user_rank_.clear();
    std::vector<std::pair<std::string, double>> level;
    for (const auto& [tenant, t] : usage) level.emplace_back(tenant, t.first);
    RankLevel(level, [&](const std::string& name) { return Share(name); }, tenant_rank_);
    for (const auto& [tenant, t] : usage) {
      level.clear();
      for (const auto& [user, u] : t.second) level.emplace_back(user, u);
      std::unordered_map<std::string, std::int64_t> ranks;
      RankLevel(level, [](const std::string&) { return 1.0; }, ranks);
      for (auto& [user, r] : ranks) user_rank_[tenant + '\0' + user] = r;
    }
  }

  PriorityKey Key(const JobEntry& e, Seconds) const override {
    auto t = tenant_rank_.find(e.job->tenant);
    auto u = user_rank_.find(e.job->tenant + '\0' + e.job->user);
    return {t == tenant_rank_.end() ? 0 : t->second, u == user_rank_.end() ? 0 : u->second,
            e.job->submit_time};
  }

 private:
  double Share(const std::string& tenant) const {
    auto it = shares_.find(tenant);
    return it == shares_.end() ? 1.0 : it->second;
  }

  template <typename ShareFn>
  static void RankLevel(const std::vector<std::pair<std::string, double>>& level, ShareFn share,
                        std::unordered_map<std::string, std::int64_t>& out) {
    double share_sum = 0, usage_sum = 0;
    for (const auto& [name, u] : level) { share_sum += share(name); usage_sum += u; }
    struct Ranked { std::string name; double lf; };
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
  std::unordered_map<std::string, std::int64_t> tenant_rank_;
  std::unordered_map<std::string, std::int64_t> user_rank_;
};

}  // namespace

std::unique_ptr<Policy> MakeFairSharePolicy(const PolicyConfig& config) {
  return std::make_unique<FairSharePolicy>(config);
}

}  // namespace kojo
