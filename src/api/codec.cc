#include "api/codec.h"

#include "api/fields.h"
#include "api/slurm_env.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace kojo::api {

namespace {

constexpr std::int64_t kMinIsoSeconds = -62135596800;  // 0001-01-01T00:00:00Z

// `input`: a spec as submitted (JobSpecFromJson), where every string must
// be free of NUL characters and env keys must be variable names. Specs
// inside views and start commands were checked when submitted; a stored
// record from before these checks must still load.
// A job's node rule: "constraint" (Slurm's syntax), "partitions" (names),
// "nodelist" and "exclude" (node names or hostlists such as "gpu[01-04]").
void NodeRuleAt(Fields& f, NodeRule& rule) {
  std::string constraint;
  f.Str("constraint", constraint, 1024);
  if (f.ok() && !constraint.empty())
    if (auto st = rule.SetConstraint(constraint); !st.ok()) f.Fail(f.Path("constraint"), st.error().message);
  f.StrList("partitions", rule.partitions, 64, 128);
  for (auto [name, list] : {std::pair{"nodelist", &rule.nodelist}, std::pair{"exclude", &rule.exclude}}) {
    std::vector<std::string> given;
    f.StrList(name, given, 10000, 4096);
    for (const auto& g : given) {
      if (!f.ok()) break;
      auto names = ExpandHostlist(g, 10000);
      if (!names.ok()) {
        f.Fail(f.Path(name), names.error().message);
        break;
      }
      list->insert(list->end(), names->begin(), names->end());
    }
  }
}

Result<JobSpec> JobSpecAt(const Json& j, const std::string& path, bool input) {
  Fields f(j, path, /*strict=*/true);
  if (input) f.RefuseNul();
  JobSpec s;
  f.Str("name", s.name, 256);
  f.StrList("command", s.command, 4096, 65536);
  f.Str("script", s.script, 1 << 20);
  f.Str("workdir", s.workdir);
  f.StrMap("env", s.env, 1024);
  f.Str("project", s.project, 128);
  f.Str("user", s.user, 128);
  f.Int("gpus", s.demand.gpus, 0, 100000);
  f.Int("gpu_milli", s.demand.gpu_milli, 1, 1000);
  f.StrList("gpu_models", s.demand.gpu_models, 64, 64);
  f.Int("cpu_milli", s.demand.cpu_milli, 0, 100'000'000);
  f.Int("mem_mib", s.demand.mem_mib, 0, 1LL << 32);
  f.Int("tasks", s.demand.tasks, 1, 100000);
  f.Bool("distinct_nodes", s.demand.distinct_nodes);
  f.Bool("no_rent", s.demand.nodes.no_rent);
  NodeRuleAt(f, s.demand.nodes);
  f.OptInt("time_limit_s", s.time_limit_s, 1, 100LL * 365 * 24 * 3600, /*nullable=*/false);
  f.Str("stdout", s.stdout_path);
  f.Str("stderr", s.stderr_path);
  f.Str("array", s.array, 1024);
  f.Bool("requeue", s.requeue);
  f.Bool("hold", s.hold);
  f.Bool("pty", s.pty);
  f.Int("pty_rows", s.pty_rows, 0, 10000);
  f.Int("pty_cols", s.pty_cols, 0, 10000);
  f.OptInt("idle_timeout_s", s.idle_timeout_s, 1, 100LL * 365 * 24 * 3600, /*nullable=*/false);
  f.Int("extended_s", s.extended_s, 0, 100LL * 365 * 24 * 3600);
  f.Bool("notebook", s.notebook);
  if (!input) f.Str("session_secret", s.session_secret, 128);
  if (f.ok() && s.command.empty() == s.script.empty())
    f.Fail(f.Path("command"), "give exactly one of 'command' (a list of arguments) and 'script' (text)");
  if (f.ok() && input)
    for (const auto& [key, value] : s.env)
      if (key.empty() || key.find_first_of(std::string_view("=\0", 2)) != std::string::npos) {
        f.Fail(f.Path("env"), "expected variable names that are not empty and hold no '=' or NUL character, got " +
                                  Short(Json(key)));
        break;
      }
  if (f.ok() && !s.command.empty() && s.command[0].empty())
    f.Fail(f.Path("command[0]"), "expected a program name, got \"\"");
  if (f.ok() && !s.workdir.empty() && s.workdir[0] != '/')
    f.Fail(f.Path("workdir"), "expected an absolute path, got \"" + s.workdir + "\"");
  if (f.ok()) {
    if (auto bad = ValidateDemand(s.demand)) f.Fail(path.empty() ? "demand" : path, *bad);
  }
  if (f.ok() && s.pty && (s.demand.tasks != 1 || !s.array.empty()))
    f.Fail(f.Path("pty"), s.array.empty() ? "a terminal session runs one task: expected tasks 1"
                                          : "a terminal session cannot be an array job");
  if (f.ok() && s.notebook && (s.demand.tasks != 1 || !s.array.empty() || s.pty))
    f.Fail(f.Path("notebook"), !s.array.empty() ? "a notebook session cannot be an array job"
                               : s.pty          ? "a notebook session has no terminal: expected pty false"
                                                : "a notebook session runs one task: expected tasks 1");
  if (f.ok() && !s.array.empty()) {
    // Every task of an array carries the same range: decoding a list of
    // them (recovery, a listing) checks it once, not once per task, which
    // made a stored 100,000-task array take minutes to load.
    thread_local std::string last_valid;
    if (s.array != last_valid) {
      if (auto a = ParseArraySpec(s.array); !a.ok()) f.Fail(f.Path("array"), a.error().message);
      else last_valid = s.array;
    }
  }
  return Done(f, std::move(s));
}

Result<JobSpec> StoredSpecAt(const Json& j, const std::string& path) { return JobSpecAt(j, path, /*input=*/false); }

// Whether `text` opens more than `max` lists or objects inside one another,
// counting only brackets outside strings: one pass, no allocation, before
// the parser builds (and later code walks recursively) any of it.
bool NestedDeeperThan(std::string_view text, int max) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (++depth > max) return true;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return false;
}

}  // namespace

Result<Json> ParseJson(std::string_view text) {
  if (NestedDeeperThan(text, kMaxJsonDepth))
    return InvalidArgument(fmt::format("body: nested deeper than {} levels", kMaxJsonDepth));
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgument("body: malformed JSON");
  return j;
}

Result<JobSpec> JobSpecFromJson(const Json& j) { return JobSpecAt(j, "", /*input=*/true); }

Json ToJson(const JobSpec& s) {
  Json j = Json::object();
  if (!s.name.empty()) j["name"] = s.name;
  if (!s.command.empty()) j["command"] = s.command;
  if (!s.script.empty()) j["script"] = s.script;
  if (!s.workdir.empty()) j["workdir"] = s.workdir;
  if (!s.env.empty()) j["env"] = s.env;
  if (!s.project.empty()) j["project"] = s.project;
  if (!s.user.empty()) j["user"] = s.user;
  j["gpus"] = s.demand.gpus;
  j["gpu_milli"] = s.demand.gpu_milli;
  if (!s.demand.gpu_models.empty()) j["gpu_models"] = s.demand.gpu_models;
  j["cpu_milli"] = s.demand.cpu_milli;
  j["mem_mib"] = s.demand.mem_mib;
  j["tasks"] = s.demand.tasks;
  if (s.demand.distinct_nodes) j["distinct_nodes"] = true;
  if (s.demand.nodes.no_rent) j["no_rent"] = true;
  const NodeRule& rule = s.demand.nodes;
  if (!rule.constraint.empty()) j["constraint"] = rule.constraint;
  if (!rule.partitions.empty()) j["partitions"] = rule.partitions;
  if (!rule.nodelist.empty()) j["nodelist"] = rule.nodelist;
  if (!rule.exclude.empty()) j["exclude"] = rule.exclude;
  if (s.time_limit_s) j["time_limit_s"] = *s.time_limit_s;
  if (!s.stdout_path.empty()) j["stdout"] = s.stdout_path;
  if (!s.stderr_path.empty()) j["stderr"] = s.stderr_path;
  if (!s.array.empty()) j["array"] = s.array;
  j["requeue"] = s.requeue;
  if (s.hold) j["hold"] = true;
  if (s.pty) j["pty"] = true;
  if (s.pty_rows > 0) j["pty_rows"] = s.pty_rows;
  if (s.pty_cols > 0) j["pty_cols"] = s.pty_cols;
  if (s.idle_timeout_s) j["idle_timeout_s"] = *s.idle_timeout_s;
  if (s.extended_s > 0) j["extended_s"] = s.extended_s;
  if (s.notebook) j["notebook"] = true;
  if (!s.session_secret.empty()) j["session_secret"] = s.session_secret;  // stored and sent to agents only
  return j;
}

std::string_view ToString(JobState s) {
  switch (s) {
    case JobState::kPending: return "PENDING";
    case JobState::kHeld: return "HELD";
    case JobState::kStarting: return "STARTING";
    case JobState::kRunning: return "RUNNING";
    case JobState::kStopping: return "STOPPING";
    case JobState::kCompleted: return "COMPLETED";
    case JobState::kFailed: return "FAILED";
    case JobState::kCancelled: return "CANCELLED";
    case JobState::kTimeout: return "TIMEOUT";
  }
  return "UNKNOWN";
}

std::optional<JobState> ParseJobState(std::string_view s) {
  for (JobState st : {JobState::kPending, JobState::kHeld, JobState::kStarting, JobState::kRunning,
                      JobState::kStopping, JobState::kCompleted, JobState::kFailed,
                      JobState::kCancelled, JobState::kTimeout}) {
    std::string_view name = ToString(st);
    if (s.size() == name.size() &&
        std::equal(s.begin(), s.end(), name.begin(), [](char a, char b) { return std::toupper(a) == b; }))
      return st;
  }
  return std::nullopt;
}

bool IsTerminal(JobState s) {
  return s == JobState::kCompleted || s == JobState::kFailed || s == JobState::kCancelled ||
         s == JobState::kTimeout;
}

std::string_view ToString(NodeState s) {
  switch (s) {
    case NodeState::kUp: return "UP";
    case NodeState::kDraining: return "DRAINING";
    case NodeState::kDrained: return "DRAINED";
    case NodeState::kDown: return "DOWN";
    case NodeState::kUnknown: return "UNKNOWN";
  }
  return "UNKNOWN";
}

Json ToJson(const Placement& p) {
  return Json{{"node", p.node}, {"gpus", p.gpus}, {"gpu_uuids", p.gpu_uuids},
              {"gpu_milli", p.gpu_milli}, {"rank", p.rank}};
}

static Result<Placement> PlacementAt(const Json& j, const std::string& path) {
  Fields f(j, path, false);
  Placement p;
  f.Str("node", p.node, 256, true);
  f.IntList("gpus", p.gpus, 0, kMaxGpusPerNode - 1, kMaxGpusPerNode);
  f.StrList("gpu_uuids", p.gpu_uuids, kMaxGpusPerNode, 128);
  f.Int("gpu_milli", p.gpu_milli, 1, 1000);
  f.Int("rank", p.rank, 0, 100000);
  return Done(f, std::move(p));
}
Result<Placement> PlacementFromJson(const Json& j) { return PlacementAt(j, ""); }

static Json OptJson(const std::optional<std::int64_t>& v) { return v ? Json(*v) : Json(nullptr); }

Json ToJson(const JobView& v) {
  Json placement = Json::array();
  for (const auto& p : v.placement) placement.push_back(ToJson(p));
  Json j{{"id", v.id},
         {"spec", ToJson(v.spec)},
         {"state", ToString(v.state)},
         {"reason", v.reason},
         {"message", v.message},
         {"submit_time", IsoTime(v.submit_time)},
         {"start_time", v.start_time ? Json(IsoTime(*v.start_time)) : Json(nullptr)},
         {"end_time", v.end_time ? Json(IsoTime(*v.end_time)) : Json(nullptr)},
         {"submit_unix", v.submit_time},
         {"start_unix", OptJson(v.start_time)},
         {"end_unix", OptJson(v.end_time)},
         {"exit_code", v.exit_code ? Json(*v.exit_code) : Json(nullptr)},
         {"signal", v.signal ? Json(*v.signal) : Json(nullptr)},
         {"attempt", v.attempt},
         {"placement", placement}};
  j["array_id"] = v.array_id ? Json(*v.array_id) : Json(nullptr);
  j["array_index"] = v.array_index ? Json(*v.array_index) : Json(nullptr);
  j["estimated_start"] = v.estimated_start ? Json(IsoTime(*v.estimated_start)) : Json(nullptr);
  j["estimated_start_unix"] = OptJson(v.estimated_start);
  return j;
}

Json ToJson(const JobWhy& w) {
  return Json{{"job", w.job},
              {"state", ToString(w.state)},
              {"reason", w.reason},
              {"message", w.message},
              {"estimated_start", w.estimated_start ? Json(IsoTime(*w.estimated_start)) : Json(nullptr)},
              {"estimated_start_unix", OptJson(w.estimated_start)},
              {"confidence", w.confidence},
              {"confidence_message", w.confidence_message},
              {"jobs_ahead", w.jobs_ahead},
              {"gpu_hours_ahead", w.gpu_hours_ahead},
              {"as_of", w.as_of ? Json(IsoTime(*w.as_of)) : Json(nullptr)},
              {"as_of_unix", OptJson(w.as_of)}};
}

namespace {

// The required field "state": a job state's name.
void JobStateField(Fields& f, JobState& out) {
  std::string state;
  f.Str("state", state, 32, true);
  if (!f.ok()) return;
  auto st = ParseJobState(state);
  if (!st) f.Fail("state", "unknown job state '" + state + "'");
  else out = *st;
}

}  // namespace

Result<JobWhy> JobWhyFromJson(const Json& j) {
  Fields f(j, "", false);
  JobWhy w;
  f.Int("job", w.job, 0, INT64_MAX, true);
  JobStateField(f, w.state);
  f.Str("reason", w.reason);
  f.Str("message", w.message);
  f.OptInt("estimated_start_unix", w.estimated_start, 0, kMaxUnixSeconds);
  f.Str("confidence", w.confidence, 32);
  f.Str("confidence_message", w.confidence_message);
  f.Int("jobs_ahead", w.jobs_ahead, 0, INT32_MAX);
  f.Num("gpu_hours_ahead", w.gpu_hours_ahead, 0, 1e18);
  f.OptInt("as_of_unix", w.as_of, 0, kMaxUnixSeconds);
  return Done(f, std::move(w));
}

Result<JobView> JobViewFromJson(const Json& j) {
  Fields f(j, "", false);
  JobView v;
  f.Int("id", v.id, 0, INT64_MAX, true);
  f.Object("spec", v.spec, StoredSpecAt, true);
  JobStateField(f, v.state);
  f.Str("reason", v.reason);
  f.Str("message", v.message);
  f.Int("submit_unix", v.submit_time, 0, kMaxUnixSeconds);
  f.OptInt("start_unix", v.start_time, 0, kMaxUnixSeconds);
  f.OptInt("end_unix", v.end_time, 0, kMaxUnixSeconds);
  f.OptInt("exit_code", v.exit_code, -1, 255);
  f.OptInt("signal", v.signal, 1, 128);
  f.Int("attempt", v.attempt, 0, 1000000);
  f.OptInt("array_id", v.array_id, 0, INT64_MAX);
  f.OptInt("array_index", v.array_index, 0, 4000000);
  f.List("placement", v.placement, PlacementAt, 100000);
  f.OptInt("estimated_start_unix", v.estimated_start, 0, kMaxUnixSeconds);
  return Done(f, std::move(v));
}

Json ToJson(const NodeInfo& n) {
  Json gpus = Json::array();
  for (const auto& g : n.gpus)
    gpus.push_back({{"index", g.index}, {"model", g.model}, {"mem_mib", g.mem_mib}, {"uuid", g.uuid}});
  return Json{{"name", n.name}, {"cpu_milli", n.cpu_milli}, {"mem_mib", n.mem_mib},
              {"gpus", gpus}, {"emulated_gpus", n.emulated_gpus}, {"cgroups", n.cgroups},
              {"agent_url", n.agent_url}, {"version", n.version}, {"features", n.features}};
}

static Result<GpuInfo> GpuAt(const Json& j, const std::string& path) {
  Fields f(j, path, false);
  GpuInfo g;
  f.Int("index", g.index, 0, kMaxGpusPerNode - 1, true);
  f.Str("model", g.model, 128, true);
  f.Int("mem_mib", g.mem_mib, 0, 1 << 24);
  f.Str("uuid", g.uuid, 128);
  return Done(f, std::move(g));
}

static Result<NodeInfo> NodeInfoAt(const Json& j, const std::string& path) {
  Fields f(j, path, false);
  NodeInfo n;
  f.Str("name", n.name, 253, true);
  f.Int("cpu_milli", n.cpu_milli, 0, 100'000'000);
  f.Int("mem_mib", n.mem_mib, 0, 1LL << 32);
  f.List("gpus", n.gpus, GpuAt, kMaxGpusPerNode);
  f.Bool("emulated_gpus", n.emulated_gpus);
  f.Bool("cgroups", n.cgroups);
  f.Str("agent_url", n.agent_url, 512);
  f.Str("version", n.version, 64);
  f.StrList("features", n.features, 64, 64);
  if (f.ok() && n.name.find_first_of("/ \t\n") != std::string::npos)
    f.Fail(f.Path("name"), "expected a node name without '/' or spaces");
  return Done(f, std::move(n));
}
Result<NodeInfo> NodeInfoFromJson(const Json& j) { return NodeInfoAt(j, ""); }

Json ToJson(const NodeView& n) {
  Json j = ToJson(n.info);
  j["state"] = ToString(n.state);
  j["reason"] = n.reason;
  j["last_heartbeat"] = n.last_heartbeat ? Json(IsoTime(n.last_heartbeat)) : Json(nullptr);
  j["last_heartbeat_unix"] = n.last_heartbeat;
  j["jobs"] = n.jobs;
  j["gpus_used"] = n.gpus_used;
  j["partitions"] = n.partitions;
  if (!n.gpu_util.empty()) j["gpu_util"] = n.gpu_util;
  j["provider"] = n.provider;
  if (!n.provider.empty()) {
    j["rent_state"] = n.rent_state;
    j["rent_reason"] = n.rent_reason;
  }
  return j;
}

Result<NodeView> NodeViewFromJson(const Json& j) {
  auto info = NodeInfoFromJson(j);
  if (!info.ok()) return info.error();
  Fields f(j, "", false);
  NodeView v;
  v.info = std::move(*info);
  std::string state;
  f.Str("state", state, 32, true);
  if (f.ok()) {
    v.state = NodeState::kUnknown;
    bool known = false;
    for (NodeState s : {NodeState::kUp, NodeState::kDraining, NodeState::kDrained, NodeState::kDown, NodeState::kUnknown})
      if (ToString(s) == state) { v.state = s; known = true; }
    if (!known) f.Fail("state", "unknown node state '" + state + "'");
  }
  f.Str("reason", v.reason);
  f.Int("last_heartbeat_unix", v.last_heartbeat, 0, kMaxUnixSeconds);
  const Json* jobs = f.Get("jobs", false);
  if (jobs && jobs->is_array())
    for (const auto& x : *jobs)
      if (x.is_number_integer()) v.jobs.push_back(x.get<JobId>());
  f.Int("gpus_used", v.gpus_used, 0, kMaxGpusPerNode);
  f.StrList("partitions", v.partitions, 1000, 64);
  f.IntList("gpu_util", v.gpu_util, 0, 100, kMaxGpusPerNode);
  f.Str("provider", v.provider, 128);
  f.Str("rent_state", v.rent_state, 32);
  f.Str("rent_reason", v.rent_reason, 4096);
  return Done(f, std::move(v));
}

Json ToJson(const StartCommand& c) {
  return Json{{"job", c.job}, {"attempt", c.attempt}, {"spec", ToJson(c.spec)},
              {"placement", ToJson(c.placement)}, {"peers", c.peers}, {"world_size", c.world_size}};
}

static Result<StartCommand> StartAt(const Json& j, const std::string& path) {
  Fields f(j, path, false);
  StartCommand c;
  f.Int("job", c.job, 0, INT64_MAX, true);
  f.Int("attempt", c.attempt, 0, 1000000, true);
  f.Object("spec", c.spec, StoredSpecAt, true);
  f.Object("placement", c.placement, PlacementAt, true);
  f.StrList("peers", c.peers, 100000, 253);
  f.Int("world_size", c.world_size, 1, 100000);
  return Done(f, std::move(c));
}
Result<StartCommand> StartCommandFromJson(const Json& j) { return StartAt(j, ""); }

Json ToJson(const KillCommand& c) {
  return Json{{"job", c.job}, {"attempt", c.attempt}, {"reason", c.reason}, {"grace_s", c.grace_s}};
}

static Result<KillCommand> KillAt(const Json& j, const std::string& path) {
  Fields f(j, path, false);
  KillCommand c;
  f.Int("job", c.job, 0, INT64_MAX, true);
  f.Int("attempt", c.attempt, 0, 1000000, true);
  f.Str("reason", c.reason, 256);
  f.Int("grace_s", c.grace_s, 0, 3600);
  return Done(f, std::move(c));
}
Result<KillCommand> KillCommandFromJson(const Json& j) { return KillAt(j, ""); }

Json ToJson(const LimitCommand& c) {
  return Json{{"job", c.job}, {"attempt", c.attempt}, {"time_limit_s", c.time_limit_s}};
}

static Result<LimitCommand> LimitAt(const Json& j, const std::string& path) {
  Fields f(j, path, false);
  LimitCommand c;
  f.Int("job", c.job, 0, INT64_MAX, true);
  f.Int("attempt", c.attempt, 0, 1000000, true);
  f.Int("time_limit_s", c.time_limit_s, 1, 100LL * 365 * 24 * 3600, true);
  return Done(f, std::move(c));
}

Json ToJson(const TaskReport& r) {
  Json j{{"job", r.job}, {"attempt", r.attempt}, {"running", r.running}, {"reason", r.reason},
         {"start_unix", r.start_time}};
  j["exit_code"] = r.exit_code ? Json(*r.exit_code) : Json(nullptr);
  j["signal"] = r.signal ? Json(*r.signal) : Json(nullptr);
  j["end_unix"] = OptJson(r.end_time);
  if (r.time_limit_s) j["time_limit_s"] = *r.time_limit_s;
  return j;
}

static Result<TaskReport> TaskAt(const Json& j, const std::string& path) {
  Fields f(j, path, false);
  TaskReport r;
  f.Int("job", r.job, 0, INT64_MAX, true);
  f.Int("attempt", r.attempt, 0, 1000000, true);
  f.Bool("running", r.running);
  f.OptInt("exit_code", r.exit_code, -1, 255);
  f.OptInt("signal", r.signal, 1, 128);
  f.Str("reason", r.reason, 1024);
  f.Int("start_unix", r.start_time, 0, kMaxUnixSeconds);
  f.OptInt("end_unix", r.end_time, 0, kMaxUnixSeconds);
  f.OptInt("time_limit_s", r.time_limit_s, 1, 100LL * 365 * 24 * 3600, /*nullable=*/false);
  return Done(f, std::move(r));
}
Result<TaskReport> TaskReportFromJson(const Json& j) { return TaskAt(j, ""); }

Json ToJson(const Heartbeat& h) {
  Json tasks = Json::array();
  for (const auto& t : h.tasks) tasks.push_back(ToJson(t));
  Json j{{"node", ToJson(h.node)}, {"tasks", tasks}, {"wait_ms", h.wait_ms}};
  if (!h.log_secret.empty()) j["log_secret"] = h.log_secret;
  if (!h.gpu_util.empty()) j["gpu_util"] = h.gpu_util;
  return j;
}

Result<Heartbeat> HeartbeatFromJson(const Json& j) {
  Fields f(j, "", false);
  Heartbeat h;
  f.Object("node", h.node, NodeInfoAt, true);
  // An agent speaks for a node with a name: "" made a node no path can
  // name, and passed the controller's check that a node token registers
  // only its own node (which compares names only when one is given).
  // Stored records are not held to this, so that an old one still loads.
  if (f.ok() && h.node.name.empty()) f.Fail("node.name", "expected a node name, got \"\"");
  f.List("tasks", h.tasks, TaskAt);
  f.Int("wait_ms", h.wait_ms, 0, 60000);
  f.IntList("gpu_util", h.gpu_util, 0, 100, kMaxGpusPerNode);
  // Goes into a request header of the controller's: hex only. The message
  // never quotes it.
  f.Str("log_secret", h.log_secret, 128);
  if (f.ok() && !h.log_secret.empty() &&
      (h.log_secret.size() < 32 || h.log_secret.find_first_not_of("0123456789abcdef") != std::string::npos))
    f.Fail(f.Path("log_secret"), "expected 32 to 128 lower-case hexadecimal digits");
  return Done(f, std::move(h));
}

Json ToJson(const HeartbeatReply& r) {
  Json start = Json::array(), kill = Json::array(), ack = Json::array(), limit = Json::array();
  for (const auto& c : r.start) start.push_back(ToJson(c));
  for (const auto& c : r.kill) kill.push_back(ToJson(c));
  for (const auto& c : r.limit) limit.push_back(ToJson(c));
  for (const auto& [job, attempt] : r.acknowledged) ack.push_back(Json{{"job", job}, {"attempt", attempt}});
  Json j{{"start", start}, {"kill", kill}, {"acknowledged", ack}, {"heartbeat_interval_ms", r.heartbeat_interval_ms}};
  if (!r.limit.empty()) j["limit"] = limit;
  if (r.lease_ms > 0) {
    j["lease_ms"] = r.lease_ms;
    j["lease_grace_s"] = r.lease_grace_s;
  }
  return j;
}

Result<HeartbeatReply> HeartbeatReplyFromJson(const Json& j) {
  Fields f(j, "", false);
  HeartbeatReply r;
  f.List("start", r.start, StartAt);
  f.List("kill", r.kill, KillAt);
  f.List("limit", r.limit, LimitAt);
  const Json* ack = f.Get("acknowledged", false);
  if (ack && ack->is_array())
    for (const auto& a : *ack)
      if (a.is_object() && a.value("job", Json()).is_number_integer() && a.value("attempt", Json()).is_number_integer())
        r.acknowledged.emplace_back(a["job"].get<JobId>(), a["attempt"].get<int>());
  f.Int("heartbeat_interval_ms", r.heartbeat_interval_ms, 10, 600000);
  f.Int("lease_ms", r.lease_ms, 0, 7 * 86400 * 1000);
  f.Int("lease_grace_s", r.lease_grace_s, 0, 3600);
  return Done(f, std::move(r));
}

int ArrayMaxRunning(std::string_view text) {
  const size_t pct = text.find('%');
  int m = 0;
  if (pct == std::string_view::npos || std::from_chars(text.data() + pct + 1, text.data() + text.size(), m).ec != std::errc())
    return 0;
  return std::max(m, 0);
}

Result<ArraySpec> ParseArraySpec(std::string_view text) {
  constexpr int kMaxIndex = 4000000;
  constexpr size_t kMaxTasks = 100000;
  ArraySpec a;
  auto num = [](std::string_view s) -> std::optional<int> {
    int v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty() || v < 0) return std::nullopt;
    return v;
  };
  const std::string_view whole = text;  // `text` is consumed below
  auto bad = [whole](std::string_view what) {
    return InvalidArgument(fmt::format("expected ranges like 0-99, 1,3,5, 0-15:2 or 0-99%4; {} in '{}'", what, whole));
  };
  if (size_t pct = text.find('%'); pct != std::string_view::npos) {
    auto m = num(text.substr(pct + 1));
    if (!m || *m < 1) return bad("'%' must be followed by a positive count");
    a.max_running = *m;
    text = text.substr(0, pct);
  }
  if (text.empty()) return bad("no index");
  std::vector<int> indices;  // sorted and made unique at the end (a set costs a node per index)
  auto compact = [&] {
    if (!std::is_sorted(indices.begin(), indices.end())) std::sort(indices.begin(), indices.end());
    indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
  };
  while (!text.empty()) {
    std::string_view item = text.substr(0, text.find(','));
    text = item.size() < text.size() ? text.substr(item.size() + 1) : std::string_view();
    int step = 1;
    if (size_t colon = item.find(':'); colon != std::string_view::npos) {
      auto s = num(item.substr(colon + 1));
      if (!s || *s < 1) return bad("a step must be a positive integer");
      step = *s;
      item = item.substr(0, colon);
    }
    size_t dash = item.find('-');
    auto lo = num(item.substr(0, dash));
    auto hi = dash == std::string_view::npos ? lo : num(item.substr(dash + 1));
    if (!lo || !hi || *lo > *hi || *hi > kMaxIndex) return bad(fmt::format("bad range '{}'", item));
    const std::int64_t count = (*hi - *lo) / step + 1;
    if (static_cast<size_t>(count) > kMaxTasks) return bad(fmt::format("more than {} tasks", kMaxTasks));
    for (std::int64_t i = *lo; i <= *hi; i += step) indices.push_back(static_cast<int>(i));
    if (indices.size() > 2 * kMaxTasks) compact();
    if (indices.size() > 2 * kMaxTasks) return bad(fmt::format("more than {} tasks", kMaxTasks));
  }
  compact();
  if (indices.size() > kMaxTasks) return bad(fmt::format("more than {} tasks", kMaxTasks));
  a.indices = std::move(indices);
  return a;
}

std::string IsoTime(Seconds t) {
  // What four digits of year hold; clamping also keeps the arithmetic below
  // from overflowing (which printed hours like 39 for extreme times).
  t = std::clamp<Seconds>(t, kMinIsoSeconds, kMaxUnixSeconds);
  // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
  std::int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  std::int64_t secs = t - days * 86400;
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", y + (m <= 2), m, d, secs / 3600,
                     (secs / 60) % 60, secs % 60);
}

}  // namespace kojo::api
