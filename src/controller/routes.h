// The REST routes kojod serves: one table, used to register the HTTP
// handlers and by the test that checks api/openapi.yaml against it.
#pragma once

#include <span>
#include <string_view>

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
  kJobLogs,
  kListNodes,
  kShowNode,
  kDrainNode,
  kResumeNode,
  kAgentRegister,
  kAgentHeartbeat,
};

struct RouteSpec {
  RouteId id;
  std::string_view method;  // "GET", "POST"
  std::string_view path;    // OpenAPI style: /api/v1/jobs/{id}
  bool needs_token;
};

std::span<const RouteSpec> RouteTable();

}  // namespace kojo::controller
