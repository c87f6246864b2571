// The terminal of an interactive job (JobSpec.pty), relayed between the
// caller and the agent that runs it (docs/api.md, "Terminals"): the same
// path as a job's logs (Controller::FindLogs: the agent's address and log
// key), for the job's submitter, its project's leads, operators and
// admins only.
//
//   GET  /api/v1/jobs/{id}/tty?offset=N&wait_ms=W  output from N, waiting up to W ms
//   POST /api/v1/jobs/{id}/tty/input               the body's bytes, typed in
//   POST /api/v1/jobs/{id}/tty/resize              {"rows": R, "cols": C}
#include <httplib.h>

#include <charconv>

#include <fmt/format.h>

#include "api/codec.h"
#include "controller/http_server.h"
#include "controller/http_util.h"

namespace kojo::controller {

namespace {

constexpr std::int64_t kMaxWaitMs = 25000;   // below the agent's 30 s and the CLI's read timeout
constexpr std::size_t kMaxInput = 1 << 16;   // the agent's body limit

std::optional<std::int64_t> ParseNumber(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

Outcome<std::int64_t> Param(const httplib::Request& req, const char* name, std::int64_t def, std::int64_t max) {
  if (!req.has_param(name)) return def;
  const std::string s = req.get_param_value(name);
  auto v = ParseNumber(s);
  if (!v || *v < 0 || *v > max)
    return ApiError{ApiCode::kInvalidArgument, fmt::format("{}: expected an integer 0..{}, got \"{}\"", name, max, Shown(s))};
  return *v;
}

// The agent's answer, other than a 2xx, as the caller's error.
void AgentFailed(httplib::Response& res, const LogSource& src, const httplib::Result& r, JobId id) {
  if (!r)
    return SendError(res, {ApiCode::kBadGateway, fmt::format("the agent at {} did not answer: {}", src.agent_url,
                                                             httplib::to_string(r.error()))});
  if (r->status == 401 || r->status == 403)
    return SendError(res, {ApiCode::kBadGateway,
                           fmt::format("the agent at {} refused this controller's key (HTTP {}); it may have just "
                                       "restarted: try again in a moment",
                                       src.agent_url, r->status)});
  if (r->status == 404)
    return SendError(res, {ApiCode::kNotFound,
                           fmt::format("job {} has no terminal on its node (not launched there yet, or its agent "
                                       "restarted and could not take the terminal back: see the agent's log)",
                                       id)});
  if (r->status == 409) {
    auto j = api::ParseJson(r->body);
    std::string message = fmt::format("job {}: its terminal has ended", id);
    if (j.ok() && j->is_object() && j->contains("error") && (*j)["error"].is_object() &&
        (*j)["error"].value("message", "") != "")
      message = (*j)["error"]["message"].get<std::string>();
    return SendError(res, {ApiCode::kConflict, message});
  }
  SendError(res, {ApiCode::kBadGateway, fmt::format("the agent at {} answered HTTP {}", src.agent_url, r->status)});
}

}  // namespace

HttpServer::AuthedHandler HttpServer::TtyRoute(RouteId id) {
  return [this, id](const httplib::Request& req, httplib::Response& res, const Principal& who) {
    auto job = ReachJob(req, who, /*act=*/true);  // the terminal acts as its user: submitter, lead, operator, admin
    if (!job.ok()) return SendError(res, job.error());
    const api::JobView& v = job.value();
    if (!v.spec.pty)
      return SendError(res, {ApiCode::kConflict, fmt::format("job {} has no terminal: it was not submitted with "
                                                             "\"pty\": true (its output: GET /api/v1/jobs/{}/logs)",
                                                             v.id, v.id)});
    std::string path;
    int read_s = 10;
    if (id == RouteId::kJobTty) {
      if (auto e = OnlyParams(req, {"offset", "wait_ms"})) return SendError(res, *e);
      auto offset = Param(req, "offset", 0, INT64_MAX / 2);
      if (!offset.ok()) return SendError(res, offset.error());
      auto wait = Param(req, "wait_ms", 0, kMaxWaitMs);
      if (!wait.ok()) return SendError(res, wait.error());
      path = fmt::format("/tty/{}?offset={}&wait_ms={}", v.id, offset.value(), wait.value());
      read_s += static_cast<int>(wait.value() / 1000);
    } else if (id == RouteId::kJobTtyInput) {
      if (auto e = OnlyParams(req, {})) return SendError(res, *e);
      if (req.body.size() > kMaxInput)
        return SendError(res, {ApiCode::kPayloadTooLarge, fmt::format("body: at most {} bytes of input at once", kMaxInput)});
      path = fmt::format("/tty/{}/input", v.id);
    } else {
      if (auto e = OnlyParams(req, {})) return SendError(res, *e);
      auto j = api::ParseJson(req.body);
      if (!j.ok()) return SendError(res, FromError(j.error()));
      if (!j->is_object()) return SendError(res, {ApiCode::kInvalidArgument, "body: expected {\"rows\": R, \"cols\": C}"});
      std::int64_t size[2] = {0, 0};
      for (int i = 0; i < 2; ++i) {
        const char* name = i == 0 ? "rows" : "cols";
        if (!j->contains(name) || !(*j)[name].is_number_integer() || (*j)[name].get<std::int64_t>() < 1 ||
            (*j)[name].get<std::int64_t>() > 10000)
          return SendError(res, {ApiCode::kInvalidArgument, fmt::format("{}: expected an integer 1..10000", name)});
        size[i] = (*j)[name].get<std::int64_t>();
      }
      for (auto it = j->begin(); it != j->end(); ++it)
        if (it.key() != "rows" && it.key() != "cols")
          return SendError(res, {ApiCode::kInvalidArgument, fmt::format("{}: unknown field", Shown(it.key()))});
      path = fmt::format("/tty/{}/resize?rows={}&cols={}", v.id, size[0], size[1]);
    }
    auto src = c_.FindLogs(v.id, 0);
    if (!src.ok()) {
      if (src.error().code == ApiCode::kNotFound && !api::IsTerminal(v.state))
        return SendError(res, {ApiCode::kNotFound, fmt::format("job {} has not started yet ({}): no terminal yet", v.id,
                                                               api::ToString(v.state))});
      return SendError(res, src.error());
    }
    httplib::Client cli(src.value().agent_url);
    cli.set_connection_timeout(2, 0);
    cli.set_read_timeout(read_s, 0);
    cli.set_write_timeout(10, 0);
    cli.set_tcp_nodelay(true);
    cli.set_bearer_token_auth(src.value().agent_secret);  // the agent's key: only kojod has it
    auto r = id == RouteId::kJobTty ? cli.Get(path)
             : id == RouteId::kJobTtyInput ? cli.Post(path, req.body, "application/octet-stream")
                                           : cli.Post(path, "", "text/plain");
    if (!r || r->status / 100 != 2) return AgentFailed(res, src.value(), r, v.id);
    if (id != RouteId::kJobTty) {
      res.status = 204;
      return;
    }
    res.status = 200;
    for (const char* h : {"X-Kojo-Tty-Start", "X-Kojo-Tty-Offset", "X-Kojo-Tty-Eof"})
      if (r->has_header(h)) res.set_header(h, r->get_header_value(h));
    res.set_content(std::move(r->body), "application/octet-stream");
  };
}

}  // namespace kojo::controller
