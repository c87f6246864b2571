#include "model/org.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

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

std::string MigModel(std::string_view gpu_model, std::string_view profile) {
  return fmt::format("{}-{}", gpu_model, profile);
}

std::optional<int> MigShareMilli(std::string_view model) {
  // "...-<N>g.<mem>gb" (optionally "+me" and the like after the memory).
  const size_t dash = model.rfind('-');
  if (dash == std::string_view::npos) return std::nullopt;
  std::string_view p = model.substr(dash + 1);
  size_t i = 0;
  int slices = 0;
  while (i < p.size() && p[i] >= '0' && p[i] <= '9') slices = slices * 10 + (p[i++] - '0');
  if (i == 0 || i + 1 >= p.size() || p[i] != 'g' || p[i + 1] != '.' || slices < 1 || slices > 8) return std::nullopt;
  const std::string base = Lower(model.substr(0, dash));
  const int of = base.rfind("a30", 0) == 0 ? 4 : 7;
  return std::min(1000, slices * 1000 / of);
}

int GpuWeights::Of(std::string_view model) const {
  const std::string m = Lower(model);
  if (auto it = milli.find(m); it != milli.end()) return it->second;
  if (auto share = MigShareMilli(model)) {
    const int whole = Of(model.substr(0, model.rfind('-')));
    return std::max(1, whole * *share / 1000);
  }
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
