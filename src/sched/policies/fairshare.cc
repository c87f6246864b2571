// Fair share in the style of Slurm's Fair Tree: at each level (project, then
// user inside the project) siblings are ranked by level fair share
// LF = S / U, where S is the sibling's configured share over the sum of its
// active siblings' shares and U its decayed usage over theirs. Higher LF goes
// first; a sibling with no usage ranks first. Jobs of one user go by submit
// time. Usage is the UsageLedger's decayed GPU-seconds plus the runs still
// going. Not preemptive.
//
// With an organisation (ClusterSnapshot::org) the tree has three levels:
// programme (shares from OrgPolicy::programme_shares), project inside its
// programme (ProjectLimits::share), then
// user; usage is in normalised units (the GPU weight of the model each run
// is on), the ledger's and the runs still going alike. A project absent
// from the policy sits in programme "" with share 1.
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
  explicit FairSharePolicy(const PolicyConfig& c) : shares_(c.project_shares) {}
  std::string_view Name() const override { return "fairshare"; }

  void Prepare(const ClusterSnapshot& snap, Seconds now) override {
    if (snap.org) return PrepareOrg(snap, now);
    org_ = false;
    // Usage of every active project and user (string_views into the jobs,
    // which outlive the pass).
    struct Project {
      double usage = 0;
      std::unordered_map<std::string_view, double> users;
    };
    std::unordered_map<std::string_view, Project> usage;
    auto touch = [&](const JobEntry& e) -> std::pair<Project&, double&> {
      auto [it, fresh] = usage.try_emplace(e.job->project);
      if (fresh && snap.usage) it->second.usage = snap.usage->Project(e.job->project, now);
      auto [u, ufresh] = it->second.users.try_emplace(e.job->user, 0.0);
      if (ufresh && snap.usage) u->second = snap.usage->User(e.job->project, e.job->user, now);
      return {it->second, u->second};
    };
    for (const auto& e : snap.pending) touch(e);
    for (const auto& e : snap.running) {
      const double run = static_cast<double>((now - e.started) * std::max(1, e.job->demand.gpus));
      auto [p, u] = touch(e);
      p.usage += run;
      u += run;
    }
    ranks_.clear();
    std::vector<std::pair<std::string_view, double>> level;
    for (const auto& [project, p] : usage) level.emplace_back(project, p.usage);
    std::unordered_map<std::string_view, std::int64_t> project_rank;
    RankLevel(level, [&](std::string_view name) { return Share(name); }, project_rank);
    for (const auto& [project, p] : usage) {
      level.clear();
      for (const auto& [user, u] : p.users) level.emplace_back(user, u);
      Ranks& r = ranks_[project];
      r.project = project_rank[project];
      RankLevel(level, [](std::string_view) { return 1.0; }, r.users);
    }
  }

  PriorityKey Key(const JobEntry& e, Seconds) const override {
    auto p = ranks_.find(e.job->project);
    if (p == ranks_.end()) return {0, 0, e.job->submit_time};
    auto u = p->second.users.find(e.job->user);
    return {p->second.project, u == p->second.users.end() ? 0 : u->second, e.job->submit_time};
  }

 private:
  // Three levels: programme, project, user (see the top of the file). A
  // project's rank is (programme rank << 32) | rank inside its programme,
  // so that the key orders the whole tree depth first.
  void PrepareOrg(const ClusterSnapshot& snap, Seconds now) {
    org_ = true;
    const OrgPolicy& org = *snap.org;
    struct Project {
      const ProjectLimits* limits = nullptr;
      std::string_view programme;
      double usage = 0;
      std::unordered_map<std::string_view, double> users;
    };
    std::unordered_map<std::string_view, Project> projects;
    auto touch = [&](const JobEntry& e) -> std::pair<Project&, double&> {
      auto [it, fresh] = projects.try_emplace(e.job->project);
      if (fresh) {
        auto p = org.projects.find(e.job->project);
        if (p != org.projects.end()) {
          it->second.limits = &p->second;
          it->second.programme = p->second.programme;
        }
        if (snap.usage) it->second.usage = snap.usage->Project(e.job->project, now);
      }
      auto [u, ufresh] = it->second.users.try_emplace(e.job->user, 0.0);
      if (ufresh && snap.usage) u->second = snap.usage->User(e.job->project, e.job->user, now);
      return {it->second, u->second};
    };
    for (const auto& e : snap.pending) touch(e);
    node_weight_.assign(snap.specs.size(), -1);
    for (const auto& e : snap.running) {
      double run = 0;
      for (const auto& s : e.allocation.shares) {
        int& w = node_weight_[s.node];
        if (w < 0) w = org.weights.Of(snap.specs[s.node].gpu_model);
        run += static_cast<double>(s.gpu_indices.size()) * s.gpu_milli * static_cast<double>(now - e.started) * w /
               1000.0;
      }
      auto [p, u] = touch(e);
      p.usage += run;
      u += run;
    }
    // Programme usage: the ledger's (every project of it, active or not)
    // plus the runs still going.
    std::unordered_map<std::string_view, double> programmes;
    for (const auto& [name, p] : projects) {
      auto [it, fresh] = programmes.try_emplace(p.programme, 0.0);
      if (fresh && snap.usage) it->second = snap.usage->Programme(std::string(p.programme), now);
    }
    for (const auto& [name, p] : projects) {
      const double ledger = snap.usage ? snap.usage->Project(std::string(name), now) : 0;
      programmes[p.programme] += p.usage - ledger;  // the runs still going
    }
    std::vector<std::pair<std::string_view, double>> level;
    for (const auto& [name, u] : programmes) level.emplace_back(name, u);
    std::unordered_map<std::string_view, std::int64_t> programme_rank;
    RankLevel(level, [&](std::string_view name) {
      auto it = org.programme_shares.find(std::string(name));
      return it == org.programme_shares.end() ? 1.0 : it->second;
    }, programme_rank);
    std::unordered_map<std::string_view, std::vector<std::pair<std::string_view, double>>> by_programme;
    for (const auto& [name, p] : projects) by_programme[p.programme].emplace_back(name, p.usage);
    ranks_.clear();
    for (auto& [programme, members] : by_programme) {
      std::unordered_map<std::string_view, std::int64_t> project_rank;
      RankLevel(members, [&](std::string_view name) {
        const ProjectLimits* l = projects[name].limits;
        return l ? l->share : 1.0;
      }, project_rank);
      for (const auto& [name, rank] : project_rank) {
        Ranks& r = ranks_[name];
        r.project = (programme_rank[programme] << 32) | rank;
        level.clear();
        for (const auto& [user, u] : projects[name].users) level.emplace_back(user, u);
        RankLevel(level, [](std::string_view) { return 1.0; }, r.users);
      }
    }
  }

  double Share(std::string_view project) const {
    auto it = shares_.find(std::string(project));
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
  bool org_ = false;
  std::vector<int> node_weight_;  // GPU weight by node, this pass (organisations)
  struct Ranks {
    std::int64_t project = 0;
    std::unordered_map<std::string_view, std::int64_t> users;
  };
  std::unordered_map<std::string_view, Ranks> ranks_;  // this pass's, by project
};

}  // namespace

std::unique_ptr<Policy> MakeFairSharePolicy(const PolicyConfig& config) {
  return std::make_unique<FairSharePolicy>(config);
}

}  // namespace kojo
