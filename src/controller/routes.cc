#include "controller/routes.h"

#include <array>

#include "controller/api_error.h"

namespace kojo::controller {

std::span<const RouteSpec> RouteTable() {
  static constexpr std::array kRoutes = {
      RouteSpec{RouteId::kHealth, "GET", "/api/v1/health", false},
      RouteSpec{RouteId::kSubmit, "POST", "/api/v1/jobs", true},
      RouteSpec{RouteId::kListJobs, "GET", "/api/v1/jobs", true},
      RouteSpec{RouteId::kShowJob, "GET", "/api/v1/jobs/{id}", true},
      RouteSpec{RouteId::kJobWhy, "GET", "/api/v1/jobs/{id}/why", true},
      RouteSpec{RouteId::kCancelJob, "POST", "/api/v1/jobs/{id}/cancel", true},
      RouteSpec{RouteId::kHoldJob, "POST", "/api/v1/jobs/{id}/hold", true},
      RouteSpec{RouteId::kReleaseJob, "POST", "/api/v1/jobs/{id}/release", true},
      RouteSpec{RouteId::kJobLogs, "GET", "/api/v1/jobs/{id}/logs", true},
      RouteSpec{RouteId::kListNodes, "GET", "/api/v1/nodes", true},
      RouteSpec{RouteId::kShowNode, "GET", "/api/v1/nodes/{name}", true},
      RouteSpec{RouteId::kDrainNode, "POST", "/api/v1/nodes/{name}/drain", true},
      RouteSpec{RouteId::kResumeNode, "POST", "/api/v1/nodes/{name}/resume", true},
      RouteSpec{RouteId::kAgentRegister, "POST", "/api/v1/agents/register", true},
      RouteSpec{RouteId::kAgentHeartbeat, "POST", "/api/v1/agents/{name}/heartbeat", true},
  };
  return kRoutes;
}

int HttpStatus(ApiCode code) {
  switch (code) {
    case ApiCode::kInvalidArgument: return 400;
    case ApiCode::kUnauthorized: return 401;
    case ApiCode::kNotFound: return 404;
    case ApiCode::kConflict: return 409;
    case ApiCode::kPayloadTooLarge: return 413;
    case ApiCode::kUnschedulable: return 422;
    case ApiCode::kInternal: return 500;
    case ApiCode::kBadGateway: return 502;
  }
  return 500;
}

std::string_view CodeName(ApiCode code) {
  switch (code) {
    case ApiCode::kInvalidArgument: return "invalid_argument";
    case ApiCode::kUnauthorized: return "unauthorized";
    case ApiCode::kNotFound: return "not_found";
    case ApiCode::kConflict: return "conflict";
    case ApiCode::kPayloadTooLarge: return "payload_too_large";
    case ApiCode::kUnschedulable: return "unschedulable";
    case ApiCode::kInternal: return "internal";
    case ApiCode::kBadGateway: return "bad_gateway";
  }
  return "internal";
}

}  // namespace kojo::controller
