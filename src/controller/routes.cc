#include "controller/routes.h"

#include <array>

#include "controller/api_error.h"

namespace kojo::controller {

std::span<const RouteSpec> RouteTable() {
  static constexpr std::array kRoutes = {
      RouteSpec{RouteId::kHealth, "GET", "/api/v1/health", false, Access::kPublic},
      RouteSpec{RouteId::kSubmit, "POST", "/api/v1/jobs", true, Access::kSubmit},
      RouteSpec{RouteId::kListJobs, "GET", "/api/v1/jobs", true, Access::kJobs},
      RouteSpec{RouteId::kShowJob, "GET", "/api/v1/jobs/{id}", true, Access::kJobs},
      RouteSpec{RouteId::kJobWhy, "GET", "/api/v1/jobs/{id}/why", true, Access::kJobs},
      RouteSpec{RouteId::kCancelJob, "POST", "/api/v1/jobs/{id}/cancel", true, Access::kJobAction},
      RouteSpec{RouteId::kHoldJob, "POST", "/api/v1/jobs/{id}/hold", true, Access::kJobAction},
      RouteSpec{RouteId::kReleaseJob, "POST", "/api/v1/jobs/{id}/release", true, Access::kJobAction},
      RouteSpec{RouteId::kExtendJob, "POST", "/api/v1/jobs/{id}/extend", true, Access::kJobAction},
      RouteSpec{RouteId::kJobLogs, "GET", "/api/v1/jobs/{id}/logs", true, Access::kJobs},
      RouteSpec{RouteId::kJobTty, "GET", "/api/v1/jobs/{id}/tty", true, Access::kJobAction},
      RouteSpec{RouteId::kJobTtyInput, "POST", "/api/v1/jobs/{id}/tty/input", true, Access::kJobAction},
      RouteSpec{RouteId::kJobTtyResize, "POST", "/api/v1/jobs/{id}/tty/resize", true, Access::kJobAction},
      RouteSpec{RouteId::kListNodes, "GET", "/api/v1/nodes", true, Access::kJobs},
      RouteSpec{RouteId::kShowNode, "GET", "/api/v1/nodes/{name}", true, Access::kJobs},
      RouteSpec{RouteId::kDrainNode, "POST", "/api/v1/nodes/{name}/drain", true, Access::kOperate},
      RouteSpec{RouteId::kResumeNode, "POST", "/api/v1/nodes/{name}/resume", true, Access::kOperate},
      RouteSpec{RouteId::kAgentRegister, "POST", "/api/v1/agents/register", true, Access::kAgent},
      RouteSpec{RouteId::kAgentHeartbeat, "POST", "/api/v1/agents/{name}/heartbeat", true, Access::kAgent},
      RouteSpec{RouteId::kWhoami, "GET", "/api/v1/whoami", true, Access::kAnyone},
      RouteSpec{RouteId::kListUsers, "GET", "/api/v1/users", true, Access::kRead},
      RouteSpec{RouteId::kAddUser, "POST", "/api/v1/users", true, Access::kAdmin},
      RouteSpec{RouteId::kSetUserRole, "PUT", "/api/v1/users/{name}", true, Access::kAdmin},
      RouteSpec{RouteId::kListTokens, "GET", "/api/v1/tokens", true, Access::kUser},
      RouteSpec{RouteId::kCreateToken, "POST", "/api/v1/tokens", true, Access::kUser},
      RouteSpec{RouteId::kRevokeToken, "DELETE", "/api/v1/tokens/{name}", true, Access::kUser},
      RouteSpec{RouteId::kGetOrg, "GET", "/api/v1/org", true, Access::kRead},
      RouteSpec{RouteId::kPutOrg, "PUT", "/api/v1/org", true, Access::kAdmin},
      RouteSpec{RouteId::kListProjects, "GET", "/api/v1/projects", true, Access::kRead},
      RouteSpec{RouteId::kListGrants, "GET", "/api/v1/grants", true, Access::kUser},
      RouteSpec{RouteId::kAddGrant, "POST", "/api/v1/grants", true, Access::kAdmin},
      RouteSpec{RouteId::kUsage, "GET", "/api/v1/usage", true, Access::kUser},
      RouteSpec{RouteId::kMetrics, "GET", "/metrics", true, Access::kRead},
      RouteSpec{RouteId::kOverview, "GET", "/api/v1/overview", true, Access::kJobs},
      RouteSpec{RouteId::kListReservations, "GET", "/api/v1/reservations", true, Access::kOperate},
      RouteSpec{RouteId::kAddReservation, "POST", "/api/v1/reservations", true, Access::kOperate},
      RouteSpec{RouteId::kDeleteReservation, "DELETE", "/api/v1/reservations/{name}", true, Access::kOperate},
      RouteSpec{RouteId::kImportRoster, "POST", "/api/v1/projects/{name}/roster", true, Access::kUser},
  };
  return kRoutes;
}

int HttpStatus(ApiCode code) {
  switch (code) {
    case ApiCode::kInvalidArgument: return 400;
    case ApiCode::kUnauthorized: return 401;
    case ApiCode::kForbidden: return 403;
    case ApiCode::kNotFound: return 404;
    case ApiCode::kConflict: return 409;
    case ApiCode::kPayloadTooLarge: return 413;
    case ApiCode::kUnschedulable: return 422;
    case ApiCode::kInternal: return 500;
    case ApiCode::kBadGateway: return 502;
    case ApiCode::kUnavailable: return 503;
  }
  return 500;
}

std::string_view CodeName(ApiCode code) {
  switch (code) {
    case ApiCode::kInvalidArgument: return "invalid_argument";
    case ApiCode::kUnauthorized: return "unauthorized";
    case ApiCode::kForbidden: return "forbidden";
    case ApiCode::kNotFound: return "not_found";
    case ApiCode::kConflict: return "conflict";
    case ApiCode::kPayloadTooLarge: return "payload_too_large";
    case ApiCode::kUnschedulable: return "unschedulable";
    case ApiCode::kInternal: return "internal";
    case ApiCode::kBadGateway: return "bad_gateway";
    case ApiCode::kUnavailable: return "unavailable";
  }
  return "internal";
}

}  // namespace kojo::controller
