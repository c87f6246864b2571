#include "controller/overview.h"

#include <array>
#include <iterator>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace kojo::controller {

using api::Json;

Json Overview(const Controller& c, const std::function<bool(const api::JobView&)>& visible) {
  // node -> gpu index -> [(job or 0 when hidden, share in milli-GPUs)]
  std::map<std::string, std::map<int, std::vector<std::pair<JobId, int>>>, std::less<>> held;
  constexpr api::JobState kStates[] = {api::JobState::kPending,   api::JobState::kHeld,      api::JobState::kStarting,
                                       api::JobState::kRunning,   api::JobState::kStopping,  api::JobState::kCompleted,
                                       api::JobState::kFailed,    api::JobState::kCancelled, api::JobState::kTimeout};
  std::array<int, std::size(kStates)> by_state{};
  auto count = [&](api::JobState s) { ++by_state[static_cast<std::size_t>(s)]; };
  // Records are counted (and their GPUs noted) as the walk passes them and
  // never copied. An array's untouched tasks are matched once, through
  // their template (array_id set, array_index unset): only those are
  // listed, to be counted one by one below.
  ListQuery q;
  q.limit = std::numeric_limits<int>::max();
  q.visible = [&](const api::JobView& v) {
    const bool shown = !visible || visible(v);
    if (v.array_id && !v.array_index) return shown;
    if (shown) count(v.state);
    if (v.state == api::JobState::kStarting || v.state == api::JobState::kRunning || v.state == api::JobState::kStopping)
      for (const auto& p : v.placement) {
        auto& gpus = held[p.node];
        for (int g : p.gpus) gpus[g].emplace_back(shown ? v.id : 0, static_cast<int>(p.gpu_milli));
      }
    return false;
  };
  if (auto untouched = c.ListJobs(q); untouched.ok())
    for (const api::JobView& v : untouched.value().jobs) count(v.state);

  Json nodes = Json::array();
  int gpus_total = 0, gpus_allocated = 0;
  for (const api::NodeView& n : c.ListNodes()) {
    if (!n.provider.empty() && n.rent_state == "off") continue;  // a rented slot not rented now: not capacity
    Json gpus = Json::array();
    const auto on_node = held.find(n.info.name);
    for (const api::GpuInfo& g : n.info.gpus) {
      Json jobs = Json::array();
      int milli = 0;
      if (on_node != held.end())
        if (auto it = on_node->second.find(g.index); it != on_node->second.end())
          for (auto [id, m] : it->second) {
            jobs.push_back(Json{{"id", id ? Json(id) : Json(nullptr)}, {"gpu_milli", m}});
            milli += m;
          }
      ++gpus_total;
      if (milli > 0) ++gpus_allocated;
      Json gpu{{"index", g.index}, {"model", g.model}, {"used_milli", milli}, {"jobs", std::move(jobs)}};
      if (g.index >= 0 && static_cast<size_t>(g.index) < n.gpu_util.size()) gpu["util_percent"] = n.gpu_util[g.index];
      gpus.push_back(std::move(gpu));
    }
    nodes.push_back(Json{{"name", n.info.name},
                         {"state", std::string(api::ToString(n.state))},
                         {"reason", n.reason},
                         {"last_heartbeat", n.last_heartbeat},
                         {"gpus", std::move(gpus)}});
  }
  Json jobs = Json::object();
  for (api::JobState st : kStates) jobs[std::string(api::ToString(st))] = by_state[static_cast<std::size_t>(st)];
  return Json{{"jobs", std::move(jobs)},
              {"gpus", Json{{"total", gpus_total}, {"allocated", gpus_allocated}, {"idle", gpus_total - gpus_allocated}}},
              {"nodes", std::move(nodes)}};
}

}  // namespace kojo::controller
