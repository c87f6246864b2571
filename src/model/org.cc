#include "model/org.h"

#include <algorithm>
#include <cctype>

namespace kojo {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

void GpuWeights::Set(std::string_view model, int weight_milli) { milli[Lower(model)] = weight_milli; }

int GpuWeights::Of(std::string_view model) const {
  const std::string m = Lower(model);
  if (auto it = milli.find(m); it != milli.end()) return it->second;
  // Longest key that is a prefix of the model: keys sort so that a prefix
  // comes before what it prefixes; scan the few candidates below `m`.
  const std::string* best = nullptr;
  int weight = default_milli;
  for (auto it = milli.upper_bound(m); it != milli.begin();) {
    --it;
    if (it->first.empty() || it->first[0] != m[0]) break;
    if (m.compare(0, it->first.size(), it->first) == 0 && (!best || it->first.size() > best->size())) {
      best = &it->first;
      weight = it->second;
    }
  }
  return weight;
}

NormUnits GpuWeights::Cost(std::string_view model, int gpus, MilliGpu gpu_milli, Seconds seconds) const {
  if (gpus <= 0 || seconds <= 0) return 0;
  // milli-GPU x s x weight/1000, rounded up so that a reservation never
  // falls short of the charge it covers.
  const __int128 raw = static_cast<__int128>(gpus) * gpu_milli * seconds * Of(model);
  return static_cast<NormUnits>((raw + 999) / 1000);
}

std::string_view ToString(Role r) {
  switch (r) {
    case Role::kViewer: return "viewer";
    case Role::kOperator: return "operator";
    case Role::kAdmin: return "admin";
  }
  return "viewer";
}

std::string_view ToString(ProjectRole r) { return r == ProjectRole::kLead ? "lead" : "member"; }

std::optional<Role> ParseRole(std::string_view s) {
  for (Role r : {Role::kViewer, Role::kOperator, Role::kAdmin})
    if (ToString(r) == s) return r;
  return std::nullopt;
}

std::optional<ProjectRole> ParseProjectRole(std::string_view s) {
  for (ProjectRole r : {ProjectRole::kMember, ProjectRole::kLead})
    if (ToString(r) == s) return r;
  return std::nullopt;
}

}  // namespace kojo
