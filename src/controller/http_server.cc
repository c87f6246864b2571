#include "controller/http_server.h"

#include <httplib.h>

#include <algorithm>
#include <charconv>
#include <chrono>

#include <fmt/format.h>

#include "api/codec.h"
#include "controller/http_util.h"
#include "controller/org_http.h"
#include "controller/overview.h"
#include "controller/web_assets.h"
#include "controller/routes.h"
#include "net/http_conn.h"

namespace kojo::controller {

using api::Json;
using net::CloseAfterReply;
using net::ConnLimits;
using net::ElasticPool;
using net::GuardedServer;
using net::HeadersTimedOut;
using net::TlsServer;

namespace {

// The most bytes one logs request returns: the agent's own cap (8 MiB,
// agent/log_server.h), which it would otherwise answer 400 to.
constexpr std::int64_t kMaxLogChunk = 8 << 20;

std::optional<std::int64_t> ParseInt(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// A query parameter as an integer in [min, max], or an error naming it.
Outcome<std::int64_t> IntParam(const httplib::Request& req, const char* name, std::int64_t def, std::int64_t min,
                               std::int64_t max) {
  if (!req.has_param(name)) return def;
  const std::string s = req.get_param_value(name);
  auto v = ParseInt(s);
  if (!v || *v < min || *v > max)
    return ApiError{ApiCode::kInvalidArgument, fmt::format("{}: expected an integer {}..{}, got \"{}\"", name, min, max, Shown(s))};
  return *v;
}

Outcome<JobId> JobIdOf(const httplib::Request& req) {
  const std::string s = req.matches[1];
  auto v = ParseInt(s);
  if (!v || *v < 1) return ApiError{ApiCode::kInvalidArgument, fmt::format("job id: expected a positive integer, got \"{}\"", Shown(s))};
  return *v;
}

template <typename T, typename F>
void Reply(httplib::Response& res, Outcome<T> out, F to_json, int status = 200) {
  if (!out.ok()) SendError(res, out.error());
  else SendJson(res, status, to_json(out.value()));
}

Json NodeJson(const api::NodeView& v) { return api::ToJson(v); }
// A job as callers see it: never a notebook's secret (see kShowJob).
Json JobJson(const api::JobView& v) {
  Json j = api::ToJson(v);
  j["spec"].erase("session_secret");
  return j;
}

// "^/api/v1/jobs/([^/]+)/cancel$" from "/api/v1/jobs/{id}/cancel".
std::string PathRegex(std::string_view path) {
  std::string re;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '{') {
      i = path.find('}', i);
      re += "([^/]+)";
    } else if (std::string_view(".+*?()[]^$|\\").find(path[i]) != std::string_view::npos) {
      re += '\\';
      re += path[i];
    } else {
      re += path[i];
    }
  }
  return re;
}

}  // namespace

namespace {

std::unique_ptr<httplib::Server> MakeServer(const HttpConfig& config) {
  const ConnLimits limits{std::chrono::milliseconds(config.header_timeout_ms),
                          std::chrono::milliseconds(config.body_timeout_ms)};
  if (config.tls_cert.empty() && config.tls_key.empty()) return std::make_unique<GuardedServer>(limits);
  return std::make_unique<TlsServer>(config.tls_cert.c_str(), config.tls_key.c_str(), limits);
}

// cpp-httplib compresses a reply with brotli, at its highest quality,
// whenever the client accepts it, as browsers do: 1.4 s for the 740 kB
// overview of 1,000 nodes on our 2-core machine, against 30 ms with gzip
// (docs/results.md, "The dashboard"). Replies are offered gzip only.
void OfferGzipOnly(const httplib::Request& req) {
  auto& headers = const_cast<httplib::Request&>(req).headers;  // the library's own request
  auto [first, last] = headers.equal_range("Accept-Encoding");
  bool gzip = false, br = false;
  for (auto it = first; it != last; ++it) {
    gzip = gzip || it->second.find("gzip") != std::string::npos;
    br = br || it->second.find("br") != std::string::npos;
  }
  if (!br) return;
  headers.erase(first, last);
  if (gzip) headers.emplace("Accept-Encoding", "gzip");
}

bool IsBodyMethod(const std::string& m) { return m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE"; }

// A header value with a control character (a NUL cutting a token short,
// say) is refused, never read up to the first one.
std::optional<ApiError> BadHeaders(const httplib::Request& req) {
  for (const auto& [name, value] : req.headers)
    for (unsigned char ch : value)
      if (ch < 0x20 && ch != '\t')
        return ApiError{ApiCode::kInvalidArgument, fmt::format("header {}: contains a control character", Shown(name))};
  if (req.get_header_value_count("Content-Length") > 1 || req.get_header_value_count("Transfer-Encoding") > 1 ||
      (req.has_header("Content-Length") && req.has_header("Transfer-Encoding")))
    return ApiError{ApiCode::kInvalidArgument, "headers: one Content-Length or one Transfer-Encoding, not both"};
  return std::nullopt;
}

// Reads the request's body into req.body, at most `max` bytes whether it
// has a Content-Length or comes in chunks; none without either.
std::optional<ApiError> ReadBody(const httplib::Request& req, const httplib::ContentReader& read, std::size_t max) {
  const ApiError too_large{ApiCode::kPayloadTooLarge, fmt::format("body: larger than the limit of {} bytes", max)};
  std::string body;
  auto append = [&](const char* data, std::size_t n) {
    if (body.size() + n > max) return false;
    body.append(data, n);
    return true;
  };
  if (req.has_header("Transfer-Encoding")) {
    std::string te = req.get_header_value("Transfer-Encoding");
    std::transform(te.begin(), te.end(), te.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (te != "chunked")
      return ApiError{ApiCode::kInvalidArgument, fmt::format("Transfer-Encoding: expected chunked, got \"{}\"", Shown(te))};
    bool over = false;
    const bool ok = read([&](const char* data, std::size_t n) { return (over = !append(data, n)) == false; });
    if (over) return too_large;
    if (!ok) return ApiError{ApiCode::kInvalidArgument, "body: malformed or incomplete chunked encoding"};
  } else if (req.has_header("Content-Length")) {
    const std::string text = req.get_header_value("Content-Length");
    const auto len = ParseInt(text);
    if (!len || *len < 0)
      return ApiError{ApiCode::kInvalidArgument, fmt::format("Content-Length: expected a number of bytes, got \"{}\"", Shown(text))};
    if (static_cast<std::uint64_t>(*len) > max) return too_large;
    body.reserve(static_cast<std::size_t>(*len));
    if (*len > 0 && (!read(append) || body.size() != static_cast<std::size_t>(*len)))
      return ApiError{ApiCode::kInvalidArgument, fmt::format("body: shorter than its Content-Length of {} bytes", *len)};
  }
  // cpp-httplib hands handlers its own (non-const) request as const.
  const_cast<httplib::Request&>(req).body = std::move(body);
  return std::nullopt;
}

}  // namespace

HttpServer::HttpServer(Controller& controller, HttpConfig config, TokenStore& tokens, const Authoriser& auth)
    : c_(controller), config_(std::move(config)), tokens_(tokens), auth_(auth), server_(MakeServer(config_)) {
  const int threads = config_.threads;
  server_->new_task_queue = [threads] {
    return new ElasticPool(static_cast<std::size_t>(std::max(threads, 1)), std::chrono::seconds(30));
  };
  server_->set_keep_alive_max_count(1000000);
  server_->set_keep_alive_timeout(10);
  server_->set_read_timeout(30, 0);
  server_->set_write_timeout(30, 0);
  server_->set_payload_max_length(config_.max_body);
  server_->set_tcp_nodelay(true);
  const std::size_t max_body = config_.max_body;
  server_->set_error_handler(httplib::Server::HandlerWithResponse([max_body](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // ours, already JSON
    ApiError e{ApiCode::kInternal, "internal error"};
    switch (res.status) {
      case 404: e = {ApiCode::kNotFound, fmt::format("no route {} {}", req.method, Shown(req.path))}; break;
      case 405: e = {ApiCode::kNotFound, fmt::format("no route {} {}", req.method, Shown(req.path))}; break;
      case 413: e = {ApiCode::kPayloadTooLarge, fmt::format("body: larger than the limit of {} bytes", max_body)}; break;
      case 400:
        e = HeadersTimedOut() ? ApiError{ApiCode::kInvalidArgument, "request: its headers did not arrive in time"}
                              : ApiError{ApiCode::kInvalidArgument, "malformed HTTP request"};
        break;
      default:
        if (res.status >= 400 && res.status < 500) e = {ApiCode::kInvalidArgument, fmt::format("HTTP error {}", res.status)};
    }
    const int status = HeadersTimedOut() ? 408 : res.status;
    if (status == 400 || status == 408 || status == 413) CloseAfterReply(res);  // the rest of the request is unread
    SendError(res, e);
    if (status == 405) res.status = 404;
    else if (status != HttpStatus(e.code) && status >= 400) res.status = status;
    return httplib::Server::HandlerResponse::Handled;
  }));
  server_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = fmt::format("internal error: {}", e.what());
    } catch (...) {
    }
    SendError(res, {ApiCode::kInternal, what});
  });
  // Only the body methods' routes read a body (within max_body); any other
  // request that announces one is refused before it is read.
  server_->set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    OfferGzipOnly(req);
    if (IsBodyMethod(req.method)) return httplib::Server::HandlerResponse::Unhandled;
    if (net::AnnouncesBody(req)) {
      CloseAfterReply(res);
      SendError(res, {ApiCode::kInvalidArgument, fmt::format("body: a {} request carries none", Shown(req.method))});
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  Routes();
  SessionRoute();
}

HttpServer::~HttpServer() = default;

bool HttpServer::valid() const { return server_->is_valid(); }

Result<int> HttpServer::Bind() {
  if (config_.port == 0) {
    const int port = server_->bind_to_any_port(config_.host);
    if (port <= 0) return Error{ErrorCode::kIo, fmt::format("cannot listen on {}:any port", config_.host)};
    return Backlog(port);
  }
  if (!server_->bind_to_port(config_.host, config_.port))
    return Error{ErrorCode::kIo, fmt::format("cannot listen on {}:{} (in use?)", config_.host, config_.port)};
  return Backlog(config_.port);
}

Result<int> HttpServer::Backlog(int port) {
  auto* plain = dynamic_cast<GuardedServer*>(server_.get());
  auto* tls = dynamic_cast<TlsServer*>(server_.get());
  if (!(plain ? plain->Relisten(config_.backlog) : tls && tls->Relisten(config_.backlog)))
    return Error{ErrorCode::kIo, fmt::format("cannot listen on {}:{} with a backlog of {}", config_.host, port, config_.backlog)};
  return port;
}

void HttpServer::Run() { server_->listen_after_bind(); }
void HttpServer::Stop() { server_->stop(); }

void HttpServer::Routes() {
  // httplib tries a method's routes in registration order: the agents'
  // (the most frequent requests) first.
  std::vector<RouteSpec> routes(RouteTable().begin(), RouteTable().end());
  std::stable_partition(routes.begin(), routes.end(), [](const RouteSpec& r) {
    return r.id == RouteId::kAgentHeartbeat || r.id == RouteId::kAgentRegister;
  });
  for (const RouteSpec& route : routes) {
    httplib::Server::Handler h;  // a handler that needs no more than the route's rule
    AuthedHandler ah;            // a handler that also needs the caller
    switch (route.id) {
      case RouteId::kHealth:
        h = [this](const httplib::Request&, httplib::Response& res) {
          SendJson(res, 200, Json{{"status", "ok"}, {"version", c_.config().version}});
        };
        break;
      case RouteId::kSubmit:
        ah = [this](const httplib::Request& req, httplib::Response& res, const Principal& who) {
          // The submitting user is the token's owner, whatever the spec says.
          auto admit = [&](api::JobSpec& spec) -> std::optional<ApiError> {
            if (auto e = auth_.MaySubmit(who, spec.project)) return e;
            if (!who.open && !who.shared) spec.user = who.name;
            return std::nullopt;
          };
          auto out = c_.Submit(req.body, req.get_header_value("Idempotency-Key"), admit, who.name);
          Reply(res, std::move(out), [](const std::vector<JobId>& ids) { return Json{{"ids", ids}}; }, 201);
        };
        break;
      case RouteId::kListJobs:
        ah = [this](const httplib::Request& req, httplib::Response& res, const Principal& who) {
          if (auto e = OnlyParams(req, {"state", "project", "user", "limit", "after"})) return SendError(res, *e);
          ListQuery q;
          auto limit = IntParam(req, "limit", 100, 1, 10000);
          if (!limit.ok()) return SendError(res, limit.error());
          auto after = IntParam(req, "after", 0, 0, INT64_MAX);
          if (!after.ok()) return SendError(res, after.error());
          q.limit = static_cast<int>(limit.value());
          q.after = after.value();
          q.project = req.get_param_value("project");
          q.user = req.get_param_value("user");
          if (auth_.Reach(who, "", "") != JobReach::kActs)  // not an operator: only what it may see
            q.visible = [this, &who](const api::JobView& v) {
              return auth_.Reach(who, v.spec.project, v.spec.user) != JobReach::kHidden;
            };
          const std::string state_param = req.get_param_value("state");
          std::string_view states = state_param;
          while (!states.empty()) {
            std::string_view s = states.substr(0, states.find(','));
            states = s.size() < states.size() ? states.substr(s.size() + 1) : std::string_view();
            auto st = api::ParseJobState(s);
            if (!st)
              return SendError(res, {ApiCode::kInvalidArgument,
                                     fmt::format("state: expected PENDING, HELD, STARTING, RUNNING, STOPPING, COMPLETED, "
                                                 "FAILED, CANCELLED or TIMEOUT, got \"{}\"", Shown(s))});
            q.states.push_back(*st);
          }
          Reply(res, c_.ListJobs(q), [](const JobList& l) {
            Json jobs = Json::array();
            for (const auto& v : l.jobs) jobs.push_back(JobJson(v));
            return Json{{"jobs", std::move(jobs)}, {"next_after", l.next_after ? Json(*l.next_after) : Json(nullptr)}};
          });
        };
        break;
      case RouteId::kShowJob:
      case RouteId::kCancelJob:
      case RouteId::kHoldJob:
      case RouteId::kReleaseJob: {
        const RouteId id = route.id;
        ah = [this, id](const httplib::Request& req, httplib::Response& res, const Principal& who) {
          if (id == RouteId::kShowJob)
            if (auto e = OnlyParams(req, {})) return SendError(res, *e);
          auto job = ReachJob(req, who, id != RouteId::kShowJob);
          if (!job.ok()) return SendError(res, job.error());
          if (id == RouteId::kShowJob) {
            Json j = JobJson(job.value());
            // A notebook's session, for those who may act on the job (its
            // submitter: kojo notebook prints the URL).
            const api::JobSpec& spec = job.value().spec;
            if (spec.notebook && !spec.session_secret.empty() &&
                auth_.Reach(who, spec.project, spec.user) == JobReach::kActs)
              j["session"] = Json{{"path", fmt::format("/sessions/{}/", job.value().id)}, {"secret", spec.session_secret}};
            return SendJson(res, 200, j);
          }
          switch (id) {
            case RouteId::kCancelJob: return Reply(res, c_.Cancel(job.value().id), JobJson);
            case RouteId::kHoldJob: return Reply(res, c_.Hold(job.value().id), JobJson);
            default: return Reply(res, c_.Release(job.value().id), JobJson);
          }
        };
        break;
      }
      case RouteId::kExtendJob:
        ah = [this](const httplib::Request& req, httplib::Response& res, const Principal& who) {
          if (auto e = OnlyParams(req, {})) return SendError(res, *e);
          auto job = ReachJob(req, who, true);
          if (!job.ok()) return SendError(res, job.error());
          auto body = api::ParseJson(req.body);
          if (!body.ok()) return SendError(res, FromError(body.error()));
          const Json& j = *body;
          if (!j.is_object() || j.size() != 1 || !j.contains("minutes") || !j["minutes"].is_number_integer() ||
              j["minutes"].get<std::int64_t>() < 1 || j["minutes"].get<std::int64_t>() > 366 * 24 * 60)
            return SendError(res, {ApiCode::kInvalidArgument,
                                   "minutes: expected a whole number of minutes, 1 to 527040, as {\"minutes\": N}"});
          const bool privileged = auth_.Reach(who, "", "") == JobReach::kActs;
          Reply(res, c_.Extend(job.value().id, j["minutes"].get<Seconds>() * 60, privileged), JobJson);
        };
        break;
      case RouteId::kJobWhy:
        ah = [this](const httplib::Request& req, httplib::Response& res, const Principal& who) {
          if (auto e = OnlyParams(req, {})) return SendError(res, *e);
          auto job = ReachJob(req, who, false);  // a job it may not see: 404, like a missing one
          if (!job.ok()) return SendError(res, job.error());
          Reply(res, c_.Why(job.value().id), [](const api::JobWhy& w) { return api::ToJson(w); });
        };
        break;
      case RouteId::kJobLogs:
        ah = [this](const httplib::Request& req, httplib::Response& res, const Principal& who) {
          if (auto e = OnlyParams(req, {"stream", "offset", "limit", "rank", "attempt"})) return SendError(res, *e);
          if (auto id = JobIdOf(req); !id.ok()) return SendError(res, id.error());
          const std::string stream = req.has_param("stream") ? req.get_param_value("stream") : "stdout";
          if (stream != "stdout" && stream != "stderr")
            return SendError(res, {ApiCode::kInvalidArgument, fmt::format("stream: expected stdout or stderr, got \"{}\"", Shown(stream))});
          auto offset = IntParam(req, "offset", 0, 0, INT64_MAX / 2);
          if (!offset.ok()) return SendError(res, offset.error());
          auto limit = IntParam(req, "limit", 1 << 20, 1, kMaxLogChunk);
          if (!limit.ok()) return SendError(res, limit.error());
          auto rank = IntParam(req, "rank", 0, 0, 100000);
          if (!rank.ok()) return SendError(res, rank.error());
          std::optional<int> attempt;
          if (req.has_param("attempt")) {
            auto a = IntParam(req, "attempt", 0, 1, 1000000);
            if (!a.ok()) return SendError(res, a.error());
            attempt = static_cast<int>(a.value());
          }
          auto shown = ReachJob(req, who, false);
          if (!shown.ok()) return SendError(res, shown.error());
          auto src = c_.FindLogs(shown.value().id, static_cast<int>(rank.value()), attempt);
          if (!src.ok()) return SendError(res, src.error());
          // Only integers and a fixed word from the request reach the agent.
          const std::string path = fmt::format("/logs/{}?attempt={}&rank={}&stream={}&offset={}&limit={}", src.value().job,
                                               src.value().attempt, rank.value(), stream, offset.value(), limit.value());
          httplib::Client cli(src.value().agent_url);
          cli.set_connection_timeout(2, 0);
          cli.set_read_timeout(15, 0);
          cli.set_bearer_token_auth(src.value().agent_secret);  // the agent's log key: only kojod has it
          auto r = cli.Get(path);
          if (!r) return SendError(res, {ApiCode::kBadGateway, fmt::format("the agent at {} did not answer: {}", src.value().agent_url, httplib::to_string(r.error()))});
          if (r->status == 401 || r->status == 403)  // kojod's key, not the caller's token
            return SendError(res, {ApiCode::kBadGateway, fmt::format("the agent at {} refused this controller's key (HTTP {}); it may have just restarted: try again in a moment", src.value().agent_url, r->status)});
          if (r->status != 200) {
            res.status = r->status >= 400 ? r->status : 502;
            res.set_content(r->body.empty() ? Dump(Json{{"error", {{"code", "bad_gateway"}, {"message", fmt::format("agent answered {}", r->status)}}}}) : r->body,
                            "application/json");
            return;
          }
          std::int64_t next = offset.value() + static_cast<std::int64_t>(r->body.size());
          if (r->has_header("X-Kojo-Log-Offset")) next = ParseInt(r->get_header_value("X-Kojo-Log-Offset")).value_or(next);
          const bool eof = r->get_header_value("X-Kojo-Log-Eof") == "1" ||
                           (src.value().ended && static_cast<std::int64_t>(r->body.size()) < limit.value());
          res.status = 200;
          res.set_header("X-Kojo-Log-Offset", std::to_string(next));
          if (eof) res.set_header("X-Kojo-Log-Eof", "1");
          res.set_content(std::move(r->body), "text/plain");
        };
        break;
      case RouteId::kJobTty:
      case RouteId::kJobTtyInput:
      case RouteId::kJobTtyResize:
        ah = TtyRoute(route.id);
        break;
      case RouteId::kListNodes:
        ah = [this](const httplib::Request& req, httplib::Response& res, const Principal& who) {
          if (auto e = OnlyParams(req, {})) return SendError(res, *e);
          Json nodes = Json::array();
          for (auto& n : c_.ListNodes()) nodes.push_back(api::ToJson(VisibleJobsOnly(std::move(n), who)));
          SendJson(res, 200, Json{{"nodes", std::move(nodes)}});
        };
        break;
      case RouteId::kShowNode:
        ah = [this](const httplib::Request& req, httplib::Response& res, const Principal& who) {
          auto n = c_.ShowNode(std::string(req.matches[1]));
          if (!n.ok()) return SendError(res, n.error());
          SendJson(res, 200, NodeJson(VisibleJobsOnly(std::move(n.value()), who)));
        };
        break;
      case RouteId::kDrainNode:
        h = [this](const httplib::Request& req, httplib::Response& res) {
          std::string reason;
          if (!req.body.empty()) {
            auto j = api::ParseJson(req.body);
            if (!j.ok()) return SendError(res, FromError(j.error()));
            if (!j->is_object()) return SendError(res, {ApiCode::kInvalidArgument, "body: expected a JSON object"});
            for (auto it = j->begin(); it != j->end(); ++it) {
              if (it.key() != "reason") return SendError(res, {ApiCode::kInvalidArgument, fmt::format("{}: unknown field", Shown(it.key()))});
              if (!it->is_string() || api::Utf8Length(it->get_ref<const std::string&>()) > 1024)
                return SendError(res, {ApiCode::kInvalidArgument, "reason: expected a string of at most 1024 characters"});
              reason = it->get<std::string>();
            }
          }
          Reply(res, c_.Drain(std::string(req.matches[1]), std::move(reason)), NodeJson);
        };
        break;
      case RouteId::kResumeNode:
        h = [this](const httplib::Request& req, httplib::Response& res) {
          Reply(res, c_.Resume(std::string(req.matches[1])), NodeJson);
        };
        break;
      case RouteId::kAgentRegister:
      case RouteId::kAgentHeartbeat: {
        const bool reg = route.id == RouteId::kAgentRegister;
        ah = [this, reg](const httplib::Request& req, httplib::Response& res, const Principal& who) {
          if (!reg)  // a node token speaks only for its own node
            if (auto e = auth_.Allow(who, Access::kAgent, std::string(req.matches[1]))) return SendError(res, *e);
          auto j = api::ParseJson(req.body);
          if (!j.ok()) return SendError(res, FromError(j.error()));
          auto hb = api::HeartbeatFromJson(*j);
          if (!hb.ok()) return SendError(res, FromError(hb.error()));
          if (reg)
            if (auto e = auth_.Allow(who, Access::kAgent, hb->node.name)) return SendError(res, *e);
          auto out = reg ? c_.Register(*hb) : c_.Heartbeat(std::string(req.matches[1]), *hb);
          Reply(res, std::move(out), [](const api::HeartbeatReply& r) { return api::ToJson(r); });
        };
        break;
      }
      case RouteId::kWhoami:
      case RouteId::kListUsers:
      case RouteId::kAddUser:
      case RouteId::kSetUserRole:
      case RouteId::kListTokens:
      case RouteId::kCreateToken:
      case RouteId::kRevokeToken:
        ah = AuthRoute(route.id);
        break;
      case RouteId::kMetrics:
        h = [this](const httplib::Request& req, httplib::Response& res) {
          if (auto e = OnlyParams(req, {})) return SendError(res, *e);
          Metrics m = c_.MetricsSnapshot();
          for (const RouteSpec& r : RouteTable()) {
            HistogramSnapshot took = request_durations_.at(r.id)->Read();
            if (took.count > 0) m.api_requests[{std::string(r.method), std::string(r.path)}] = std::move(took);
          }
          res.status = 200;
          res.set_content(RenderMetrics(m), std::string(kMetricsContentType));
        };
        break;
      case RouteId::kOverview:
        ah = [this](const httplib::Request& req, httplib::Response& res, const Principal& who) {
          if (auto e = OnlyParams(req, {})) return SendError(res, *e);
          std::function<bool(const api::JobView&)> visible;
          if (auth_.Reach(who, "", "") == JobReach::kHidden)  // not a global role: only its projects' jobs
            visible = [this, &who](const api::JobView& v) {
              return auth_.Reach(who, v.spec.project, v.spec.user) != JobReach::kHidden;
            };
          SendJson(res, 200, Overview(c_, visible));
        };
        break;
      case RouteId::kGetOrg:
      case RouteId::kPutOrg:
      case RouteId::kListProjects:
      case RouteId::kListGrants:
      case RouteId::kAddGrant:
      case RouteId::kUsage:
      case RouteId::kListReservations:
      case RouteId::kAddReservation:
      case RouteId::kDeleteReservation:
      case RouteId::kImportRoster: {
        OrgRouteHandler org = OrgHandler(route.id, c_);  // org_http.cc
        const bool roster = route.id == RouteId::kImportRoster;
        ah = [this, org, roster](const httplib::Request& req, httplib::Response& res, const Principal& who) {
          if (roster && !auth_.MayManageMembers(who, std::string(req.matches[1]))) {
            return SendError(res, {ApiCode::kForbidden,
                                   fmt::format("{}: a project's roster is changed by its lead or an admin",
                                               who.name.empty() ? std::string("this token") : who.name)});
          }
          org(req, res, [&](std::string_view project) { return auth_.ProjectReach(who, project) != JobReach::kHidden; });
        };
        break;
      }
    }
    // Every route: authenticate (401), then the route's rule (403), and
    // only then read the body: a refused request's body is never read.
    auto serve = [this, access = route.access, h = std::move(h), ah = std::move(ah)](
                     const httplib::Request& req, httplib::Response& res, const httplib::ContentReader* body) {
      if (auto e = BadHeaders(req)) {
        CloseAfterReply(res);
        return SendError(res, *e);
      }
      Principal who;
      if (access != Access::kPublic) {
        auto p = auth_.Authenticate(req.get_header_value("Authorization"));
        std::optional<ApiError> refused = p.ok() ? auth_.Allow(p.value(), access) : p.error();
        if (refused) {
          if (body) CloseAfterReply(res);  // its body is left unread
          return SendError(res, *refused);
        }
        who = std::move(p.value());
      }
      if (body)
        if (auto e = ReadBody(req, *body, config_.max_body)) {
          CloseAfterReply(res);
          return SendError(res, *e);
        }
      if (h) return h(req, res);
      ah(req, res, who);
    };
    Histogram* took = (request_durations_[route.id] = std::make_unique<Histogram>()).get();
    auto guarded = [serve = std::move(serve), took](const httplib::Request& req, httplib::Response& res,
                                                    const httplib::ContentReader* body) {
      const auto start = std::chrono::steady_clock::now();
      serve(req, res, body);
      took->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    };
    const std::string re = PathRegex(route.path);
    httplib::Server::HandlerWithContentReader with_body =
        [guarded](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& body) {
          guarded(req, res, &body);
        };
    if (route.method == "GET")
      server_->Get(re, [guarded](const httplib::Request& req, httplib::Response& res) { guarded(req, res, nullptr); });
    else if (route.method == "DELETE") server_->Delete(re, std::move(with_body));
    else if (route.method == "PUT") server_->Put(re, std::move(with_body));
    else server_->Post(re, std::move(with_body));
  }
  // Any other path with a body method: 404 without reading the body (the
  // library would read it whole first).
  httplib::Server::HandlerWithContentReader no_route = [](const httplib::Request& req, httplib::Response& res,
                                                          const httplib::ContentReader&) {
    CloseAfterReply(res);
    SendError(res, {ApiCode::kNotFound, fmt::format("no route {} {}", req.method, Shown(req.path))});
  };
  DashboardRoutes();  // GET / and /assets/...: after the API's routes
  server_->Post(".*", no_route);
  server_->Put(".*", no_route);
  server_->Patch(".*", no_route);
  server_->Delete(".*", no_route);
}

}  // namespace kojo::controller

// ---- authentication: the caller's reach into one job, users and tokens ----

namespace kojo::controller {

Outcome<api::JobView> HttpServer::ReachJob(const httplib::Request& req, const Principal& who, bool act) {
  auto id = JobIdOf(req);
  if (!id.ok()) return id.error();
  auto v = c_.ShowJob(id.value());
  if (!v.ok()) return v;
  const JobReach reach = auth_.Reach(who, v.value().spec.project, v.value().spec.user);
  // Invisible jobs answer exactly like missing ones.
  if (reach == JobReach::kHidden) return ApiError{ApiCode::kNotFound, fmt::format("job {} not found", id.value())};
  if (act && reach != JobReach::kActs)
    return ApiError{ApiCode::kForbidden,
                    fmt::format("job {}: user {} may see it but not change it: this needs to be its submitter, a lead "
                                "of project {}, or the role operator or admin",
                                id.value(), who.name, v.value().spec.project)};
  return v;
}

api::NodeView HttpServer::VisibleJobsOnly(api::NodeView n, const Principal& who) const {
  if (auth_.Reach(who, "", "") == JobReach::kActs) return n;  // sees every job
  std::erase_if(n.jobs, [&](JobId id) {
    auto v = c_.ShowJob(id);
    return !v.ok() || auth_.Reach(who, v.value().spec.project, v.value().spec.user) == JobReach::kHidden;
  });
  return n;
}

namespace {

// The body as a JSON object with only `allowed` fields.
Outcome<Json> ObjectBody(const httplib::Request& req, std::initializer_list<std::string_view> allowed) {
  auto j = api::ParseJson(req.body.empty() ? std::string_view("{}") : std::string_view(req.body));
  if (!j.ok()) return FromError(j.error());
  if (!j->is_object()) return ApiError{ApiCode::kInvalidArgument, "body: expected a JSON object"};
  for (auto it = j->begin(); it != j->end(); ++it)
    if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end())
      return ApiError{ApiCode::kInvalidArgument, fmt::format("{}: unknown field", Shown(it.key()))};
  return *j;
}

Outcome<std::string> StringField(const Json& j, const char* name, bool required) {
  if (!j.contains(name) || j[name].is_null()) {
    if (required) return ApiError{ApiCode::kInvalidArgument, fmt::format("{}: required", name)};
    return std::string();
  }
  if (!j[name].is_string()) return ApiError{ApiCode::kInvalidArgument, fmt::format("{}: expected a string", name)};
  return j[name].get<std::string>();
}

}  // namespace

HttpServer::AuthedHandler HttpServer::AuthRoute(RouteId id) {
  switch (id) {
    case RouteId::kWhoami:
      return [this](const httplib::Request&, httplib::Response& res, const Principal& who) {
        Json j{{"name", who.name},
               {"kind", who.kind == Principal::Kind::kNode ? "node" : "user"},
               {"role", who.role ? Json(std::string(ToString(*who.role))) : Json(nullptr)},
               {"token", who.token},
               {"auth", who.open ? "open" : who.shared ? "shared-token" : "token"}};
        Json projects = Json::array();
        if (who.kind == Principal::Kind::kUser && !who.open && !who.shared)
          for (const auto& p : auth_.members().ProjectsOf(who.name))
            projects.push_back({{"project", p}, {"role", ToString(auth_.members().RoleIn(p, who.name).value_or(ProjectRole::kMember))}});
        j["projects"] = std::move(projects);
        SendJson(res, 200, j);
      };
    case RouteId::kListUsers:
      return [this](const httplib::Request&, httplib::Response& res, const Principal&) {
        Json users = Json::array();
        for (const auto& u : tokens_.Users()) users.push_back(ToJson(u));
        SendJson(res, 200, Json{{"users", std::move(users)}});
      };
    case RouteId::kAddUser:
      return [this](const httplib::Request& req, httplib::Response& res, const Principal&) {
        auto j = ObjectBody(req, {"name", "role"});
        if (!j.ok()) return SendError(res, j.error());
        auto name = StringField(j.value(), "name", true);
        if (!name.ok()) return SendError(res, name.error());
        auto role_name = StringField(j.value(), "role", false);
        if (!role_name.ok()) return SendError(res, role_name.error());
        std::optional<Role> role;
        if (!role_name.value().empty()) {
          role = ParseRole(role_name.value());
          if (!role)
            return SendError(res, {ApiCode::kInvalidArgument,
                                   fmt::format("role: expected viewer, operator or admin, got \"{}\"", Shown(role_name.value()))});
        }
        Reply(res, tokens_.AddUser(name.value(), role), [](const UserRec& u) { return ToJson(u); }, 201);
      };
    case RouteId::kSetUserRole:
      return [this](const httplib::Request& req, httplib::Response& res, const Principal&) {
        auto j = ObjectBody(req, {"role"});
        if (!j.ok()) return SendError(res, j.error());
        const Json* given = j.value().contains("role") ? &j.value()["role"] : nullptr;
        if (!given || !(given->is_string() || given->is_null()))
          return SendError(res, {ApiCode::kInvalidArgument, "role: expected viewer, operator, admin, or null for none"});
        std::optional<Role> role;
        if (given->is_string()) {
          role = ParseRole(given->get<std::string>());
          if (!role)
            return SendError(res, {ApiCode::kInvalidArgument,
                                   fmt::format("role: expected viewer, operator, admin, or null for none, got \"{}\"",
                                               Shown(given->get<std::string>()))});
        }
        Reply(res, tokens_.SetRole(std::string(req.matches[1]), role), [](const UserRec& u) { return ToJson(u); });
      };
    // Tokens: an admin manages all of them, readers list all of them, and
    // every user lists, creates and revokes its own (a token for CI, say).
    case RouteId::kListTokens:
      return [this](const httplib::Request&, httplib::Response& res, const Principal& who) {
        const bool all = !auth_.Allow(who, Access::kRead, "");
        Json list = Json::array();
        for (const auto& t : tokens_.Tokens())
          if (all || (t.node.empty() && t.user == who.name)) list.push_back(ToJson(t));
        SendJson(res, 200, Json{{"tokens", std::move(list)}});
      };
    case RouteId::kCreateToken:
      return [this](const httplib::Request& req, httplib::Response& res, const Principal& who) {
        auto j = ObjectBody(req, {"name", "user", "node", "expires"});
        if (!j.ok()) return SendError(res, j.error());
        TokenRequest tr;
        for (auto [field, out] : {std::pair{"name", &tr.name}, {"user", &tr.user}, {"node", &tr.node}}) {
          auto v = StringField(j.value(), field, false);
          if (!v.ok()) return SendError(res, v.error());
          *out = v.value();
        }
        if (j.value().contains("expires") && !j.value()["expires"].is_null()) {
          if (!j.value()["expires"].is_number_integer())
            return SendError(res, {ApiCode::kInvalidArgument, "expires: expected Unix seconds (an integer)"});
          tr.expires = j.value()["expires"].get<Seconds>();
        }
        if (auth_.Allow(who, Access::kAdmin, "")) {  // not an admin: a token of its own
          if (!tr.node.empty())
            return SendError(res, {ApiCode::kForbidden, fmt::format("user {}: only an admin creates node tokens", who.name)});
          if (!tr.user.empty() && tr.user != who.name)
            return SendError(res, {ApiCode::kForbidden,
                                   fmt::format("user {}: only an admin creates tokens for another user", who.name)});
          tr.user = who.name;
        }
        Reply(res, tokens_.CreateToken(tr),
              [](const CreatedToken& t) { return Json{{"token", ToJson(t.token)}, {"secret", t.secret}}; }, 201);
      };
    case RouteId::kRevokeToken:
      return [this](const httplib::Request& req, httplib::Response& res, const Principal& who) {
        const std::string name(req.matches[1]);
        if (auth_.Allow(who, Access::kAdmin, "")) {  // not an admin: only its own; others' answer like missing ones
          const auto tokens = tokens_.Tokens();
          const bool own = std::any_of(tokens.begin(), tokens.end(), [&](const TokenRec& t) {
            return t.name == name && t.node.empty() && t.user == who.name;
          });
          if (!own) return SendError(res, {ApiCode::kNotFound, fmt::format("token {} not found", name)});
        }
        Reply(res, tokens_.Revoke(name), [](const TokenRec& t) { return ToJson(t); });
      };
    default:
      return [](const httplib::Request&, httplib::Response& res, const Principal&) {
        SendError(res, {ApiCode::kInternal, "route without a handler"});
      };
  }
}

}  // namespace kojo::controller
