// The REST routes kojod serves: one table, used to register the HTTP
// handlers and by the test that checks api/openapi.yaml against it.
#pragma once

#include <span>
#include <string_view>

#include "controller/auth.h"

namespace kojo::controller {

enum class RouteId {
  kHealth,
  kSubmit,
  kListJobs,
  kShowJob,
  kJobWhy,
  kCancelJob,
  kHoldJob,
  kReleaseJob,
  kExtendJob,
  kJobLogs,
  // An interactive job's terminal (tty_http.cc).
  kJobTty,
  kJobTtyInput,
  kJobTtyResize,
  kListNodes,
  kShowNode,
  kDrainNode,
  kResumeNode,
  kAgentRegister,
  kAgentHeartbeat,
  kWhoami,
  kListUsers,
  kAddUser,
  kSetUserRole,
  kListTokens,
  kCreateToken,
  kRevokeToken,
  // Organisation model and accounting.
  kGetOrg,
  kPutOrg,
  kListProjects,
  kListGrants,
  kAddGrant,
  kUsage,
  // Monitoring.
  kMetrics,
  // The dashboard's summary of jobs and GPUs (overview.h).
  kOverview,
  // Reservations (docs/api.md; handlers in org_http.cc).
  kListReservations,
  kAddReservation,
  kDeleteReservation,
  // A course's roster: a project's members as a whole (handler in org_http.cc).
  kImportRoster,
};

struct RouteSpec {
  RouteId id;
  std::string_view method;  // "GET", "POST", "PUT"
  std::string_view path;    // OpenAPI style: /api/v1/jobs/{id}; /metrics where Prometheus looks
  bool needs_token;
  // Who may call it (auth.h); a route given none is for admins only.
  Access access = Access::kAdmin;
};

std::span<const RouteSpec> RouteTable();

}  // namespace kojo::controller
