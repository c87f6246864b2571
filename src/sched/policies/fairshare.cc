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
//
// Each pass, Prepare gives every active project and member (a user of a
// project) a slot in projects_ and members_, in the order they are first
// met (pending jobs, then running ones), and ranks them; Key reads a job's
// ranks from its member's slot. A member's slot is found by name (project,
// then user) or, for entries with a JobEntry::member_id (ClusterState gives
// them), by that id through member_slot_: the names are then hashed once
// per member and pass rather than for every job.
#include <algorithm>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sched/policies/policies.h"

namespace kojo {

namespace {

class FairSharePolicy final : public Policy {
 public:
  explicit FairSharePolicy(const PolicyConfig& c) : shares_(c.project_shares) {}
  std::string_view Name() const override { return "fairshare"; }

  void Prepare(const ClusterSnapshot& snap, Seconds now) override {
    projects_.clear();
    members_.clear();
    project_slot_.clear();
    std::fill(member_slot_.begin(), member_slot_.end(), -1);
    for (const auto& e : snap.pending) Touch(e, snap, now);
    if (snap.org) return PrepareOrg(snap, now);
    for (const auto& e : snap.running) {
      const double run = static_cast<double>((now - e.started) * std::max(1, e.job->demand.gpus));
      Member& m = members_[Touch(e, snap, now)];
      projects_[m.project].usage += run;
      m.usage += run;
    }
    std::vector<Sibling> level;
    for (int i = 0; i < static_cast<int>(projects_.size()); ++i)
      level.push_back({projects_[i].name, projects_[i].usage, i});
    RankLevel(level, [&](const Sibling& s) { return Share(s.name); },
              [&](const Sibling& s, std::int64_t rank) { projects_[s.slot].rank = rank; });
    RankUsers();
  }

  PriorityKey Key(const JobEntry& e, Seconds) const override {
    const Seconds submit = e.job->submit_time;
    int m = e.member_id >= 0 && e.member_id < static_cast<int>(member_slot_.size()) ? member_slot_[e.member_id] : -1;
    if (m < 0) {  // no id, or a member not active in this pass: by name
      auto p = project_slot_.find(e.job->project);
      if (p == project_slot_.end()) return {0, 0, submit};
      const Project& project = projects_[p->second];
      auto u = project.users.find(e.job->user);
      if (u == project.users.end()) return {project.rank, 0, submit};
      m = u->second;
    }
    return {projects_[members_[m].project].rank, members_[m].rank, submit};
  }

 private:
  // This pass's active projects and members. Names are string_views into
  // the jobs, which outlive the pass.
  struct Project {
    std::string_view name;
    double ledger = 0;  // the ledger's decayed usage
    double usage = 0;   // the ledger's plus the runs still going
    std::int64_t rank = 0;
    std::unordered_map<std::string_view, int> users;  // member slots, by user
    // Organisations only:
    const ProjectLimits* limits = nullptr;  // null: absent from the policy
    std::string_view programme;
  };
  struct Member {
    int project = 0;  // slot
    std::string_view user;
    double usage = 0;
    std::int64_t rank = 0;
  };

  // The slot of e's member, made (with its project's) if new in this pass.
  int Touch(const JobEntry& e, const ClusterSnapshot& snap, Seconds now) {
    if (e.member_id < 0) return SlotByName(e, snap, now);
    if (e.member_id >= static_cast<int>(member_slot_.size())) member_slot_.resize(e.member_id + 1, -1);
    int& slot = member_slot_[e.member_id];
    if (slot < 0) slot = SlotByName(e, snap, now);
    return slot;
  }

  int SlotByName(const JobEntry& e, const ClusterSnapshot& snap, Seconds now) {
    const std::string& project = e.job->project;
    const std::string& user = e.job->user;
    auto [p, fresh] = project_slot_.try_emplace(project, static_cast<int>(projects_.size()));
    if (fresh) {
      Project& np = projects_.emplace_back();
      np.name = project;
      if (snap.usage) np.ledger = np.usage = snap.usage->Project(project, now);
    }
    auto [u, ufresh] = projects_[p->second].users.try_emplace(user, static_cast<int>(members_.size()));
    if (ufresh) members_.push_back({p->second, user, snap.usage ? snap.usage->User(project, user, now) : 0.0});
    return u->second;
  }

  // Three levels: programme, project, user (see the top of the file). A
  // project's rank is (programme rank << 32) | rank inside its programme,
  // so that the key orders the whole tree depth first. The pending jobs
  // are touched already.
  void PrepareOrg(const ClusterSnapshot& snap, Seconds now) {
    const OrgPolicy& org = *snap.org;
    node_weight_.assign(snap.specs.size(), -1);
    for (const auto& e : snap.running) {
      double run = 0;
      for (const auto& s : e.allocation.shares) {
        int& w = node_weight_[s.node];
        if (w < 0) w = org.weights.Of(snap.specs[s.node].gpu_model);
        run += static_cast<double>(s.gpu_indices.size()) * s.gpu_milli * static_cast<double>(now - e.started) * w /
               1000.0;
      }
      Member& m = members_[Touch(e, snap, now)];
      projects_[m.project].usage += run;
      m.usage += run;
    }
    for (Project& p : projects_) {
      auto l = org.projects.find(std::string(p.name));
      if (l == org.projects.end()) continue;
      p.limits = &l->second;
      p.programme = l->second.programme;
    }
    // Programme usage: the ledger's (every project of it, active or not)
    // plus the runs still going.
    std::unordered_map<std::string_view, double> programmes;
    for (const Project& p : projects_) {
      auto [it, fresh] = programmes.try_emplace(p.programme, 0.0);
      if (fresh && snap.usage) it->second = snap.usage->Programme(std::string(p.programme), now);
    }
    for (const Project& p : projects_) programmes[p.programme] += p.usage - p.ledger;  // the runs still going
    std::vector<Sibling> level;
    for (const auto& [name, u] : programmes) level.push_back({name, u, -1});
    std::unordered_map<std::string_view, std::int64_t> programme_rank;
    RankLevel(level, [&](const Sibling& s) {
      auto it = org.programme_shares.find(std::string(s.name));
      return it == org.programme_shares.end() ? 1.0 : it->second;
    }, [&](const Sibling& s, std::int64_t rank) { programme_rank[s.name] = rank; });
    std::unordered_map<std::string_view, std::vector<Sibling>> by_programme;
    for (int i = 0; i < static_cast<int>(projects_.size()); ++i)
      by_programme[projects_[i].programme].push_back({projects_[i].name, projects_[i].usage, i});
    for (auto& [programme, siblings] : by_programme) {
      const std::int64_t high = programme_rank[programme] << 32;
      RankLevel(siblings, [&](const Sibling& s) {
        const ProjectLimits* l = projects_[s.slot].limits;
        return l ? l->share : 1.0;
      }, [&](const Sibling& s, std::int64_t rank) { projects_[s.slot].rank = high | rank; });
    }
    RankUsers();
  }

  // Users inside each project, with equal shares.
  void RankUsers() {
    std::vector<Sibling> level;
    for (const Project& p : projects_) {
      level.clear();
      for (const auto& [user, slot] : p.users) level.push_back({user, members_[slot].usage, slot});
      RankLevel(level, [](const Sibling&) { return 1.0; },
                [&](const Sibling& s, std::int64_t rank) { members_[s.slot].rank = rank; });
    }
  }

  double Share(std::string_view project) const {
    auto it = shares_.find(std::string(project));
    return it == shares_.end() ? 1.0 : it->second;
  }

  // One level's siblings (names unique in the level); slot: a project's or
  // member's, -1 for programmes.
  struct Sibling {
    std::string_view name;
    double usage = 0;
    int slot = -1;
  };

  // Calls set_rank(sibling, rank) with rank 0 for the highest level fair share.
  template <typename ShareFn, typename SetRankFn>
  static void RankLevel(std::vector<Sibling>& level, ShareFn share, SetRankFn set_rank) {
    // By name, so that ties stay by name.
    std::sort(level.begin(), level.end(), [](const Sibling& a, const Sibling& b) { return a.name < b.name; });
    double share_sum = 0, usage_sum = 0;
    for (const Sibling& s : level) { share_sum += share(s); usage_sum += s.usage; }
    struct Ranked { const Sibling* sibling; double lf; };
    std::vector<Ranked> r;
    for (const Sibling& s : level) {
      const double sh = share_sum > 0 ? share(s) / share_sum : 0;
      const double un = usage_sum > 0 ? s.usage / usage_sum : 0;
      r.push_back({&s, un > 0 ? sh / un : std::numeric_limits<double>::infinity()});
    }
    std::stable_sort(r.begin(), r.end(), [](const Ranked& a, const Ranked& b) {
      return a.lf > b.lf;  // level is in name order, so ties stay by name
    });
    for (size_t i = 0; i < r.size(); ++i) set_rank(*r[i].sibling, static_cast<std::int64_t>(i));
  }

  std::unordered_map<std::string, double> shares_;
  std::vector<int> node_weight_;  // GPU weight by node, this pass (organisations)
  // This pass's slots.
  std::vector<Project> projects_;
  std::vector<Member> members_;
  std::unordered_map<std::string_view, int> project_slot_;  // by name
  std::vector<int> member_slot_;  // by JobEntry::member_id; -1: none this pass
};

}  // namespace

std::unique_ptr<Policy> MakeFairSharePolicy(const PolicyConfig& config) {
  return std::make_unique<FairSharePolicy>(config);
}

}  // namespace kojo
