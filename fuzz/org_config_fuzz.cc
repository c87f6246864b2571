// libFuzzer target: the organisation document (PUT /api/v1/org, `kojo admin
// apply -f`, `kojo sim --org`), a grant added on its own (POST
// /api/v1/grants) and the times inside them. An accepted document must
// round-trip unchanged, and the scheduler's view of it (PolicyOf) must be
// consistent with it at any time. The first byte picks the input.
//
//   build/fuzz/fuzz/org_config_fuzz -max_total_time=60 CORPUS_COPY fuzz/corpus/org_config_fuzz
#include <cstddef>
#include <cstdint>

#include "api_checks.h"

using namespace kojo;
using namespace kojo::fuzz;

namespace {

void CheckPolicy(const api::OrgConfig& c) {
  for (const Grant& g : c.grants) {
    Check(!g.programme.empty() && c.FindProgramme(g.programme), "OrgConfig: grant programme", g.programme);
    // At the grant's start, its project has at least this grant's amount left.
    const OrgPolicy p = api::PolicyOf(c, g.start, /*meter_grants=*/true);
    auto it = p.projects.find(g.project);
    Check(it != p.projects.end(), "PolicyOf: a grant's project is missing", g.project);
    Check(it->second.grant_left && *it->second.grant_left >= g.amount, "PolicyOf: grant_left", g.id);
  }
  const OrgPolicy p = api::PolicyOf(c, 0, /*meter_grants=*/false);
  Check(p.projects.size() == c.projects.size(), "PolicyOf: projects");
  for (const Project& proj : c.projects) {
    const ProjectLimits& l = p.projects.at(proj.name);
    Check(!l.programme.empty() && c.FindProgramme(l.programme), "PolicyOf: project programme", proj.name);
    if (proj.borrow_limit) Check(l.max_gpus && *l.max_gpus == proj.guaranteed_gpus + *proj.borrow_limit, "PolicyOf: max_gpus");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto [which, body] = Select(data, size, 4);
  switch (which) {
    case 1: CheckGrantBody(body); break;
    case 2: CheckIsoTime(body); break;
    default:
      if (auto c = CheckOrgBody(body)) CheckPolicy(*c);
      break;
  }
  return 0;
}
