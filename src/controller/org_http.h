// The HTTP handlers of the organisation model and accounting routes
// (RouteId::kGetOrg .. kUsage): GET/PUT /org, GET /projects, GET/POST
// /grants, GET /usage, GET/POST /reservations, DELETE /reservations/{name}
// and POST /projects/{name}/roster. HttpServer registers them like its own.
#pragma once

#include <functional>
#include <string_view>

#include <httplib.h>

#include "controller/controller.h"
#include "controller/routes.h"

namespace kojo::controller {

// Which projects' grants and usage the caller may see.
using ProjectFilter = std::function<bool(std::string_view project)>;
using OrgRouteHandler = std::function<void(const httplib::Request&, httplib::Response&, const ProjectFilter&)>;

// The handler of one of the organisation routes; empty for any other route.
// Grants and usage of projects the filter refuses are left out (a project
// asked for by name answers 404, like one that does not exist).
OrgRouteHandler OrgHandler(RouteId id, Controller& c);

// "2026-01-01T00:00:00Z", "2026-01-01" or Unix seconds, from 1970 to the end
// of 9999 (0..api::kMaxUnixSeconds); errors name `field`.
Result<Seconds> ParseTimeParam(std::string_view text, std::string_view field);

}  // namespace kojo::controller
