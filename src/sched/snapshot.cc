#include "sched/snapshot.h"

#include <cassert>
#include <cmath>

namespace kojo {

void Apply(std::vector<NodeState>& nodes, const Allocation& a) {
  for (const auto& s : a.shares) {
    NodeState& n = nodes[s.node];
    n.cpu_free -= s.cpu_milli;
    n.mem_free -= s.mem_mib;
    for (int g : s.gpu_indices) {
      n.gpu_free[g] -= s.gpu_milli;
      assert(n.gpu_free[g] >= 0);
    }
  }
}

void Release(std::vector<NodeState>& nodes, const Allocation& a) {
  for (const auto& s : a.shares) {
    NodeState& n = nodes[s.node];
    n.cpu_free += s.cpu_milli;
    n.mem_free += s.mem_mib;
    for (int g : s.gpu_indices) {
      n.gpu_free[g] += s.gpu_milli;
      assert(n.gpu_free[g] <= kWholeGpu);
    }
  }
}

double UsageLedger::DecayTo(const Decayed& d, Seconds now) const {
  if (half_life_ <= 0 || now <= d.at) return d.value;
  return d.value * std::exp2(-static_cast<double>(now - d.at) / static_cast<double>(half_life_));
}

void UsageLedger::Add(Decayed& d, double v, Seconds now) {
  d.value = DecayTo(d, now) + v;
  d.at = std::max(d.at, now);
}

void UsageLedger::Charge(const std::string& project, const std::string& user, double gpu_seconds,
                         Seconds now) {
  Add(projects_[project], gpu_seconds, now);
  Add(users_[project + '\0' + user], gpu_seconds, now);
}

void UsageLedger::Charge(const std::string& programme, const std::string& project, const std::string& user,
                         double units, Seconds now) {
  Add(programmes_[programme], units, now);
  Charge(project, user, units, now);
}

double UsageLedger::Programme(const std::string& programme, Seconds now) const {
  auto it = programmes_.find(programme);
  return it == programmes_.end() ? 0.0 : DecayTo(it->second, now);
}

double UsageLedger::Project(const std::string& project, Seconds now) const {
  auto it = projects_.find(project);
  return it == projects_.end() ? 0.0 : DecayTo(it->second, now);
}

double UsageLedger::User(const std::string& project, const std::string& user, Seconds now) const {
  auto it = users_.find(project + '\0' + user);
  return it == users_.end() ? 0.0 : DecayTo(it->second, now);
}

}  // namespace kojo
