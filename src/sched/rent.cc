#include "sched/rent.h"

#include <algorithm>

#include <fmt/format.h>

#include "sched/placer.h"

namespace kojo {

namespace {

// The whole job as one task on one node, or nullopt when it needs several.
std::optional<TaskShape> OneNodeShape(const Job& job) {
  const Demand& d = job.demand;
  if (d.tasks > 1 && d.distinct_nodes) return std::nullopt;
  return TaskShape{d.gpus, d.gpu_milli, d.cpu_milli, d.mem_mib, &d.gpu_models, &d.nodes};
}

// Takes `task` out of `free` (which Fits it).
void Take(NodeState& free, const TaskShape& task) {
  free.cpu_free -= task.cpu_milli;
  free.mem_free -= task.mem_mib;
  for (int g : DefaultGpus(free, task)) free.gpu_free[g] -= task.gpu_milli;
}

// A rented node's spec as seen by the job's rule: the provider's shape,
// paid by `account`.
NodeSpec RentedSpec(const Provider& p, const std::string& account) {
  NodeSpec s = p.node;
  s.provider = p.name;
  s.rent_account = account;
  return s;
}

std::string Minutes(Seconds s) { return s < 90 ? fmt::format("{} s", s) : fmt::format("{} min", (s + 30) / 60); }

struct Planned {
  RentOrder order;
  NodeState free;
  Seconds longest = 0;
  std::vector<size_t> members;  // indices into RentInput::waiting
};

}  // namespace

RentPlan PlanRent(const RentInput& in) {
  RentPlan out;
  const RentPolicy& pol = *in.policy;
  if (pol.providers.empty()) return out;
  std::vector<StartingNode> starting = in.starting;
  std::vector<Planned> planned;
  std::vector<int> planned_per_provider(pol.providers.size(), 0);
  std::vector<Seconds> wait(in.waiting.size(), 0);
  // Providers, cheapest GPU-hour first (ties: the order given).
  std::vector<int> by_price(pol.providers.size());
  for (size_t i = 0; i < by_price.size(); ++i) by_price[i] = static_cast<int>(i);
  std::stable_sort(by_price.begin(), by_price.end(), [&](int a, int b) {
    return pol.providers[a].price_per_gpu_hour < pol.providers[b].price_per_gpu_hour;
  });
  auto note = [&](JobId id, std::string text) { out.notes.push_back(RentNote{id, std::move(text)}); };

  // Rented nodes' specs by provider and account, built once.
  std::unordered_map<std::string, std::vector<NodeSpec>> specs;
  auto spec_of = [&](int provider, const std::string& account) -> const NodeSpec& {
    auto it = specs.find(account);
    if (it == specs.end()) {
      std::vector<NodeSpec> v;
      for (const Provider& p : pol.providers) v.push_back(RentedSpec(p, account));
      it = specs.emplace(account, std::move(v)).first;
    }
    return it->second[provider];
  };
  // Whether any job further back could still get rented capacity: a
  // provider below its most nodes, or room on a node starting or planned.
  auto room = [&] {
    for (size_t pi = 0; pi < pol.providers.size(); ++pi)
      if (in.providers[pi].rented + planned_per_provider[pi] < pol.providers[pi].max_nodes) return true;
    for (const StartingNode& s : starting)
      if (s.free.GpuMilliFree() > 0) return true;
    for (const Planned& p : planned)
      if (p.free.GpuMilliFree() > 0) return true;
    return false;
  };

  Seconds longest_wait = pol.unknown_wait_s;
  for (size_t w = 0; w < in.waiting.size(); ++w) {
    if (w % 64 == 0 && !room()) break;  // every node there can be is planned and full
    const Job& job = *in.waiting[w].job;
    wait[w] = in.waiting[w].estimated_start ? std::max<Seconds>(0, *in.waiting[w].estimated_start - in.now)
                                            : longest_wait;
    longest_wait = std::max(longest_wait, wait[w]);
    if (job.demand.nodes.no_rent) {
      note(job.id, "it opted out of rented capacity (--no-rent)");
      continue;
    }
    const std::string& account = job.demand.nodes.account;
    if (account.empty() && !pol.always) {
      note(job.id, fmt::format("project {} has no budget for rented capacity", job.project));
      continue;
    }
    auto shape = OneNodeShape(job);
    if (!shape) continue;  // renting serves jobs that fit one node
    // A node already starting for its account.
    bool waits = false;
    for (StartingNode& s : starting) {
      if (s.account != account) continue;
      if (!Fits(spec_of(s.provider, account), s.free, *shape)) continue;
      Take(s.free, *shape);
      note(job.id, fmt::format("waits for rented node {} to come up (in about {})", s.name,
                               Minutes(std::max<Seconds>(0, s.ready_at - in.now))));
      waits = true;
      break;
    }
    if (waits) continue;
    // A node planned in this call.
    bool joined = false;
    for (Planned& p : planned) {
      if (p.order.account != account) continue;
      if (!Fits(spec_of(p.order.provider, account), p.free, *shape)) continue;
      Take(p.free, *shape);
      p.members.push_back(w);
      joined = true;
      break;
    }
    if (joined) continue;
    // A new node: the cheapest provider that can hold it and may start one.
    std::string why_not;
    bool fits_any = false;
    for (int pi : by_price) {
      const Provider& prov = pol.providers[pi];
      const NodeSpec& spec = spec_of(pi, account);
      const NodeState empty = NodeState::Empty(spec);
      if (!Fits(spec, empty, *shape)) continue;
      fits_any = true;
      const ProviderAvailability& av = in.providers[pi];
      if (av.available_at > in.now) {
        if (why_not.empty())
          why_not = fmt::format("provider {} is unavailable for {} ({})", prov.name,
                                Minutes(av.available_at - in.now), av.unavailable_reason);
        continue;
      }
      if (av.rented + planned_per_provider[pi] >= prov.max_nodes) {
        if (why_not.empty())
          why_not = fmt::format("provider {} has its most nodes ({}) rented", prov.name, prov.max_nodes);
        continue;
      }
      Planned p;
      p.order.provider = pi;
      p.order.account = account;
      p.free = empty;
      Take(p.free, *shape);
      p.members.push_back(w);
      planned.push_back(std::move(p));
      planned_per_provider[pi] += 1;
      why_not.clear();
      break;
    }
    if (!fits_any) continue;  // no provider's node can hold it: nothing to say
    if (!why_not.empty()) note(job.id, "not renting: " + why_not);
  }

  // Rent the planned nodes that are worth their rent, in the order planned.
  std::unordered_map<std::string, Money> left = in.left;
  for (Planned& p : planned) {
    const Provider& prov = pol.providers[p.order.provider];
    const auto terms = pol.accounts.find(p.order.account);
    const Money value_per_hour = terms == pol.accounts.end() ? 0 : terms->second.value_per_gpu_hour;
    Seconds longest = 0;
    Money value = 0;
    for (size_t w : p.members) {
      const Job& job = *in.waiting[w].job;
      longest = std::max(longest, job.time_limit.value_or(in.default_time_limit));
      const Seconds saved = wait[w] - prov.startup_s;
      if (saved <= 0) continue;
      // value per GPU-hour x GPUs (milli) x seconds saved / 3600 / 1000
      value += static_cast<Money>(static_cast<double>(value_per_hour) *
                                  static_cast<double>(job.demand.TotalGpuMilli()) * static_cast<double>(saved) /
                                  (3600.0 * 1000.0));
      p.order.jobs.push_back(job.id);
    }
    p.order.planned_s = prov.startup_s + longest;
    p.order.cost = RentFor(prov.price_per_gpu_hour, prov.node.gpus, p.order.planned_s);
    p.order.value = value;
    std::string refusal;
    if (!pol.always) {
      if (value <= p.order.cost)
        refusal = fmt::format("renting a node of {} would cost {} for {} of waiting saved", prov.name,
                              FormatMoney(p.order.cost), FormatMoney(value));
      else if (left[p.order.account] < p.order.cost)
        refusal = fmt::format("{} has {} left for rented capacity; a node of {} would cost {}", p.order.account,
                              FormatMoney(std::max<Money>(0, left[p.order.account])), prov.name,
                              FormatMoney(p.order.cost));
    }
    if (!refusal.empty()) {
      for (size_t w : p.members) note(in.waiting[w].job->id, "not renting: " + refusal);
      continue;
    }
    if (pol.always) p.order.jobs.clear();
    if (pol.always)
      for (size_t w : p.members) p.order.jobs.push_back(in.waiting[w].job->id);
    left[p.order.account] -= p.order.cost;
    for (size_t w : p.members)
      note(in.waiting[w].job->id, fmt::format("a node of {} is being rented for it (up in about {})", prov.name,
                                              Minutes(prov.startup_s)));
    out.orders.push_back(std::move(p.order));
  }
  return out;
}

}  // namespace kojo
