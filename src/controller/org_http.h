// The HTTP handlers of the organisation model and accounting routes
// (RouteId::kGetOrg .. kUsage): GET/PUT /org, GET /projects, GET/POST
// /grants, GET /usage. HttpServer registers them like its own.
#pragma once

#include <httplib.h>

#include "controller/controller.h"
#include "controller/routes.h"

namespace kojo::controller {

// The handler of one of the organisation routes; empty for any other route.
httplib::Server::Handler OrgHandler(RouteId id, Controller& c);

// "2026-01-01T00:00:00Z", "2026-01-01" or Unix seconds; errors name `field`.
Result<Seconds> ParseTimeParam(std::string_view text, std::string_view field);

}  // namespace kojo::controller
