#include "controller/org_http.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include <fmt/format.h>

#include "api/codec.h"
#include "controller/http_util.h"

namespace kojo::controller {

using api::Json;

namespace {

Json ProjectsJson(const api::OrgConfig& c) {
  const Json doc = api::ToJson(c);
  Json out = Json::array();
  if (!doc.contains("projects")) return out;
  for (Json p : doc["projects"]) {
    const std::string name = p.value("name", "");
    p["programme"] = c.ProgrammeOf(name);
    Json members = Json::array();
    for (const Member& m : c.members)
      if (m.project == name) {
        Json x{{"user", m.user}, {"role", ToString(m.role)}};
        if (!m.name.empty()) x["name"] = m.name;
        if (!m.email.empty()) x["email"] = m.email;
        members.push_back(std::move(x));
      }
    p["members"] = std::move(members);
    Json grants = Json::array();
    for (const Grant& g : c.grants)
      if (g.project == name) grants.push_back(g.id);
    p["grants"] = std::move(grants);
    out.push_back(std::move(p));
  }
  return out;
}

Json UsageJson(const std::vector<UsageRow>& rows) {
  Json out = Json::array();
  for (const UsageRow& r : rows)
    out.push_back(Json{{"key", r.key}, {"raw_gpu_hours", r.raw_gpu_hours}, {"norm_gpu_hours", r.norm_gpu_hours}, {"runs", r.runs}});
  return out;
}

Json ReservationJson(const ReservationView& v) {
  Json j = api::ToJson(v.reservation);
  j["next_window"] = v.window ? Json{{"start", api::IsoTime(v.window->start)}, {"end", api::IsoTime(v.window->end)}}
                              : Json(nullptr);
  j["nodes"] = v.nodes;
  j["held"] = v.held;
  if (!v.not_held.empty()) j["not_held"] = v.not_held;
  return j;
}

}  // namespace

Result<Seconds> ParseTimeParam(std::string_view text, std::string_view field) {
  Seconds v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (!text.empty() && ec == std::errc() && p == text.data() + text.size()) {
    if (v >= 0 && v <= api::kMaxUnixSeconds) return v;
    return InvalidArgument(fmt::format("{}: expected a time from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z (Unix "
                                       "seconds 0..{}), got {}", field, api::kMaxUnixSeconds, Shown(text)));
  }
  auto t = api::ParseIsoTime(text);  // years 1970..9999 only
  if (t.ok()) return *t;
  return InvalidArgument(fmt::format("{}: expected a time as ISO 8601 (2026-01-01T00:00:00Z or 2026-01-01) or Unix "
                                     "seconds, got \"{}\"", field, Shown(text)));
}

namespace {

double MoneyNumber(Money m) { return static_cast<double>(m) / static_cast<double>(kMoneyUnit); }

// Rented capacity's money (docs/renting.md): by provider (for those who see
// every project), by programme (for those who see one of its projects) and
// by project; empty without providers.
Json RentJson(const Controller& c, const ProjectFilter& may_see) {
  Json out = Json::array();
  const auto org = c.org().Config();
  if (org->providers.empty()) return out;
  bool all = true;
  for (const Project& p : org->projects) all = all && may_see(p.name);
  for (const RentSpending& s : c.RentReport()) {
    bool visible = false;
    if (s.kind == "provider") {
      visible = all;
    } else if (s.kind == "project") {
      visible = may_see(s.name);
    } else {
      for (const Project& p : org->projects)
        if (org->ProgrammeOf(p.name) == s.name && may_see(p.name)) visible = true;
    }
    if (!visible) continue;
    Json r{{"kind", s.kind}, {"name", s.name}, {"spent", MoneyNumber(s.spent)}, {"rented_now", s.rented_now}};
    if (s.kind == "provider") {
      r["gpu_hours"] = static_cast<double>(s.gpu_seconds) / 3600.0;
    } else {
      r["reserved"] = MoneyNumber(s.reserved);
      r["budget"] = MoneyNumber(s.budget);
      r["left"] = MoneyNumber(s.budget - s.spent - s.reserved);
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

OrgRouteHandler OrgHandler(RouteId id, Controller& c) {
  switch (id) {
    case RouteId::kGetOrg:
      return [&c](const httplib::Request& req, httplib::Response& res, const ProjectFilter& may_see) {
        if (auto e = OnlyParams(req, {})) return SendError(res, *e);
        SendJson(res, 200, api::ToJson(*c.org().Config()));
      };
    case RouteId::kPutOrg:
      return [&c](const httplib::Request& req, httplib::Response& res, const ProjectFilter& may_see) {
        auto out = c.ApplyOrg(req.body);
        if (!out.ok()) return SendError(res, out.error());
        SendJson(res, 200, api::ToJson(out.value()));
      };
    case RouteId::kListProjects:
      return [&c](const httplib::Request& req, httplib::Response& res, const ProjectFilter& may_see) {
        if (auto e = OnlyParams(req, {})) return SendError(res, *e);
        SendJson(res, 200, Json{{"projects", ProjectsJson(*c.org().Config())}});
      };
    case RouteId::kListGrants:
      return [&c](const httplib::Request& req, httplib::Response& res, const ProjectFilter& may_see) {
        if (auto e = OnlyParams(req, {"project"})) return SendError(res, *e);
        const std::string project = req.get_param_value("project");
        if (!project.empty() && (!c.org().HasProject(project) || !may_see(project)))
          return SendError(res, {ApiCode::kNotFound, fmt::format("project \"{}\" not found", Shown(project))});
        Json grants = Json::array();
        for (const GrantView& v : c.Grants(project))
          if (may_see(v.grant.project)) grants.push_back(ToJson(v));
        SendJson(res, 200, Json{{"grants", std::move(grants)}});
      };
    case RouteId::kAddGrant:
      return [&c](const httplib::Request& req, httplib::Response& res, const ProjectFilter& may_see) {
        auto out = c.AddGrant(req.body);
        if (!out.ok()) return SendError(res, out.error());
        SendJson(res, 201, ToJson(out.value()));
      };
    case RouteId::kUsage:
      return [&c](const httplib::Request& req, httplib::Response& res, const ProjectFilter& may_see) {
        if (auto e = OnlyParams(req, {"by", "from", "to", "step", "project"})) return SendError(res, *e);
        // project: only that project's records (a course's instructor: --by user).
        const std::string only = req.get_param_value("project");
        if (req.has_param("project") && (!c.org().HasProject(only) || !may_see(only)))
          return SendError(res, {ApiCode::kNotFound, fmt::format("project \"{}\" not found", Shown(only))});
        const ProjectFilter may_see_here = [&](std::string_view p) {
          return may_see(p) && (!req.has_param("project") || p == only);
        };
        const std::string by_text = req.has_param("by") ? req.get_param_value("by") : "project";
        auto by = ParseUsageBy(by_text);
        if (!by)
          return SendError(res, {ApiCode::kInvalidArgument,
                                 fmt::format("by: expected programme, organisation, project, user or gpu_model, got \"{}\"",
                                             Shown(by_text))});
        Seconds from = std::numeric_limits<Seconds>::min(), to = std::numeric_limits<Seconds>::max();
        if (req.has_param("from")) {
          auto t = ParseTimeParam(req.get_param_value("from"), "from");
          if (!t.ok()) return SendError(res, FromError(t.error()));
          from = *t;
        }
        if (req.has_param("to")) {
          auto t = ParseTimeParam(req.get_param_value("to"), "to");
          if (!t.ok()) return SendError(res, FromError(t.error()));
          to = *t;
        }
        if (to <= from) return SendError(res, {ApiCode::kInvalidArgument, "to: expected a time after from"});
        // step: the same report for each interval of `step` seconds from
        // `from` (the last one ends at `to`), in one request: a chart's
        // points (the dashboard's usage page).
        Json intervals;
        if (req.has_param("step")) {
          const std::string text = req.get_param_value("step");
          Seconds step = 0;
          auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), step);
          if (ec != std::errc() || p != text.data() + text.size() || step < 60 || step > Seconds{366} * 86400)
            return SendError(res, {ApiCode::kInvalidArgument,
                                   fmt::format("step: expected seconds, an integer 60..31622400, got \"{}\"", Shown(text))});
          if (!req.has_param("from") || !req.has_param("to"))
            return SendError(res, {ApiCode::kInvalidArgument, "step: needs from and to"});
          if ((to - from + step - 1) / step > 1000)
            return SendError(res, {ApiCode::kInvalidArgument,
                                   fmt::format("step: at most 1000 intervals from from to to, got {}", (to - from + step - 1) / step)});
          intervals = Json::array();
          for (Seconds t = from; t < to; t += step) {
            const Seconds end = std::min(to, t + step);
            intervals.push_back(Json{{"from", api::IsoTime(t)}, {"to", api::IsoTime(end)}, {"from_unix", t}, {"to_unix", end},
                                     {"rows", UsageJson(c.Usage(*by, t, end, may_see_here))}});
          }
        }
        const auto rows = c.Usage(*by, from, to, may_see_here);
        double raw = 0, norm = 0;
        for (const UsageRow& r : rows) {
          raw += r.raw_gpu_hours;
          norm += r.norm_gpu_hours;
        }
        Json j{{"by", ToString(*by)},
               {"rows", UsageJson(rows)},
               {"total", {{"raw_gpu_hours", raw}, {"norm_gpu_hours", norm}}}};
        j["from"] = req.has_param("from") ? Json(api::IsoTime(from)) : Json(nullptr);
        j["to"] = req.has_param("to") ? Json(api::IsoTime(to)) : Json(nullptr);
        if (!intervals.is_null()) j["intervals"] = std::move(intervals);
        if (auto rent = RentJson(c, may_see_here); !rent.empty()) j["rent"] = std::move(rent);
        SendJson(res, 200, j);
      };
    case RouteId::kListReservations:
      return [&c](const httplib::Request& req, httplib::Response& res, const ProjectFilter&) {
        if (auto e = OnlyParams(req, {})) return SendError(res, *e);
        Json list = Json::array();
        for (const ReservationView& v : c.Reservations()) list.push_back(ReservationJson(v));
        SendJson(res, 200, Json{{"reservations", std::move(list)}});
      };
    case RouteId::kAddReservation:
      return [&c](const httplib::Request& req, httplib::Response& res, const ProjectFilter&) {
        auto out = c.AddReservation(req.body);
        if (!out.ok()) return SendError(res, out.error());
        SendJson(res, 201, ReservationJson(out.value()));
      };
    case RouteId::kDeleteReservation:
      return [&c](const httplib::Request& req, httplib::Response& res, const ProjectFilter&) {
        auto out = c.DeleteReservation(std::string(req.matches[1]));
        if (!out.ok()) return SendError(res, out.error());
        SendJson(res, 200, ReservationJson(out.value()));
      };
    case RouteId::kImportRoster:
      return [&c](const httplib::Request& req, httplib::Response& res, const ProjectFilter&) {
        const std::string project(req.matches[1]);
        auto out = c.ImportRoster(project, req.body);
        if (!out.ok()) return SendError(res, out.error());
        const Controller::RosterResult& r = out.value();
        SendJson(res, 200, Json{{"project", project}, {"added", r.added}, {"removed", r.removed},
                                {"updated", r.updated}, {"members", r.members}});
      };
    default:
      return {};
  }
}

}  // namespace kojo::controller
