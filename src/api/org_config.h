// OrgConfig: the organisation model as one JSON document, the format that
// `kojo admin apply -f FILE` sends to kojod and that `kojo sim --org FILE`
// replays, so an operator can try programmes, shares, quotas and grants on a
// trace before applying them. docs/org-config.md describes it:
//
//   {"gpu_weights": {"H100": 2.0, "A100": 1.0, "T4": 0.25, "default": 1.0},
//    "programmes": [{"name": "research", "share": 2, "description": "..."}],
//    "organisations": [{"name": "uni-a", "programme": "research"}],
//    "projects": [{"name": "vision", "organisation": "uni-a", "share": 1,
//                  "guaranteed_gpus": 16, "borrow_limit": 32}],
//    "grants": [{"id": "g-2026-1", "project": "vision", "programme": "research",
//                "gpu_hours": 5000, "start": "2026-01-01T00:00:00Z",
//                "end": "2027-01-01T00:00:00Z"}],
//    "members": [{"project": "vision", "user": "ada", "role": "lead"}],
//    "partitions": [{"name": "gpu", "nodes": "node[01-16]", "features": "a100",
//                    "max_time_s": 172800, "default_time_s": 3600,
//                    "projects": ["vision"], "default": true}],
//    "providers": [{"name": "cloud-a", "gpu_model": "H100", "gpus_per_node": 8,
//                   "cpus_per_node": 64, "memory_gib_per_node": 512,
//                   "price_per_gpu_hour": 2.5, "max_nodes": 4, "startup_s": 180,
//                   "start_program": "/opt/rent/start", "stop_program": "/opt/rent/stop"}]}
// A programme or a project may hold "rent": {"budget": 20000,
// "value_per_gpu_hour": 4} (money in the organisation's currency): the
// budget for rented capacity and what an hour of one GPU's waiting is worth.
//
// Every section is optional. Parsing is strict: unknown fields, wrong types,
// dangling references (a project's organisation, a grant's project or
// programme, a member's project), duplicate names and impossible values
// (negative shares, end before start) are errors naming the field, e.g.
// "projects[2].organisation: no organisation named \"uni-z\"". A grant's
// "programme" defaults to its project's programme.
#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include "api/codec.h"
#include "common/result.h"
#include "model/node_rule.h"
#include "model/org.h"
#include "model/reservation.h"

namespace kojo::api {

struct OrgConfig {
  GpuWeights weights;
  std::vector<Programme> programmes;
  std::vector<Organisation> organisations;
  std::vector<Project> projects;
  std::vector<Grant> grants;
  std::vector<Member> members;
  std::vector<Partition> partitions;  // named sets of nodes with limits (model/node_rule.h)
  std::vector<Provider> providers;    // partners that rent out nodes (model/rent.h)

  const Programme* FindProgramme(std::string_view name) const;
  const Organisation* FindOrganisation(std::string_view name) const;
  const Project* FindProject(std::string_view name) const;
  // The programme a project belongs to (through its organisation); "" if unknown.
  std::string ProgrammeOf(std::string_view project) const;
};

Result<OrgConfig> OrgConfigFromJson(const Json& j);
Json ToJson(const OrgConfig& c);

// Renting as the cluster state reads it: the providers, and per project the
// account that pays its rented nodes: its own terms ("project NAME"), else
// its programme's ("programme NAME"), else none.
RentPolicy RentPolicyOf(const OrgConfig& c);

// A providers document for `kojo sim --providers`: {"providers": [...]} or
// a list, each as in the organisation document.
Result<std::vector<Provider>> ProvidersFromJson(const Json& j);

// Reservations (model/reservation.h): {"reservations": [...]} or a list of
// {"name", "project", "gpus", "gpu_model" (optional), "start" (ISO 8601
// UTC) or "start_s" (seconds; kojo sim: after the trace's first submit),
// "duration_s", "weekly" (default false)}. `relative` (per reservation,
// same order) says which start was given.
struct ReservationsDoc {
  std::vector<Reservation> reservations;
  std::vector<bool> relative;
};
Result<ReservationsDoc> ReservationsFromJson(const Json& j);
Json ToJson(const Reservation& r);

// Times in the document: ISO 8601 UTC ("2026-01-01T00:00:00Z" or a date
// "2026-01-01") -> Unix seconds.
Result<Seconds> ParseIsoTime(std::string_view text);

// The scheduler's view at `now`: programme shares, per-project limits
// (max_gpus = guaranteed + borrow_limit when a limit is set) and, when
// `meter_grants`, each project's grant_left = the largest remainder
// max(0, amount - spent(grant)) among its grants active at `now` (a job's
// reservation is taken from one grant, so that is what one job can use),
// where spent (used + reserved against that grant) comes from the caller's
// ledger; no callback = nothing spent. Projects with no active grant get
// grant_left = 0 when metered; projects absent from the config are not in
// the policy.
OrgPolicy PolicyOf(const OrgConfig& c, Seconds now, bool meter_grants,
                   const std::function<NormUnits(const Grant&)>& spent = {});

}  // namespace kojo::api
