#include "controller/records.h"

#include <fmt/format.h>

namespace kojo::controller {

using api::Json;

std::string_view KillReason(StopReason r) {
  switch (r) {
    case StopReason::kNone: return "stale";
    case StopReason::kCancelled: return "cancelled";
    case StopReason::kPreempted: return "preempted";
    case StopReason::kFailed: return "failed";
    case StopReason::kRequeue: return "node-lost";
    case StopReason::kNodeLost: return "node-lost";
    case StopReason::kNodeFault: return "node-fault";
  }
  return "stale";
}

api::NodeState NodeRec::State() const {
  if (down) return api::NodeState::kDown;
  if (!registered) return api::NodeState::kUnknown;
  if (drain) return jobs.empty() ? api::NodeState::kDrained : api::NodeState::kDraining;
  return api::NodeState::kUp;
}

NodeSpec SpecOf(const api::NodeInfo& info) {
  NodeSpec s;
  s.name = info.name;
  s.gpus = std::min<int>(static_cast<int>(info.gpus.size()), kMaxGpusPerNode);
  if (!info.gpus.empty()) {
    s.gpu_model = info.gpus[0].model;
    s.gpu_mem_mib = info.gpus[0].mem_mib;
  }
  s.cpu_milli = info.cpu_milli;
  s.mem_mib = info.mem_mib;
  s.features = NodeFeatures(info.features, s.gpu_model);
  return s;
}

void SyncSchedJob(JobRec& rec) {
  const api::JobSpec& s = rec.view.spec;
  rec.job.id = rec.view.id;
  rec.job.name = s.name;
  rec.job.project = s.project.empty() ? "default" : s.project;
  rec.job.user = s.user;
  rec.job.demand = s.demand;
  rec.job.submit_time = rec.view.submit_time;
  rec.job.time_limit = s.time_limit_s;
  rec.max_running = api::ArrayMaxRunning(s.array);
}

namespace {

// Never throws: invalid UTF-8 (which the codecs do not let in) is replaced.
std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string_view StopName(StopReason r) {
  switch (r) {
    case StopReason::kNone: return "";
    case StopReason::kCancelled: return "cancelled";
    case StopReason::kPreempted: return "preempted";
    case StopReason::kFailed: return "failed";
    case StopReason::kRequeue: return "requeue";
    case StopReason::kNodeLost: return "node-lost";
    case StopReason::kNodeFault: return "node-fault";
  }
  return "";
}

StopReason ParseStop(std::string_view s) {
  for (StopReason r : {StopReason::kCancelled, StopReason::kPreempted, StopReason::kFailed,
                       StopReason::kRequeue, StopReason::kNodeLost, StopReason::kNodeFault})
    if (StopName(r) == s) return r;
  return StopReason::kNone;
}

Json ExtraJson(const JobRec& rec) {
  Json j = Json::object();
  if (!rec.tasks.empty()) {
    Json tasks = Json::array();
    for (const auto& t : rec.tasks) {
      Json x{{"running", t.running}, {"ended", t.ended}, {"reason", t.reason}};
      if (t.exit_code) x["exit_code"] = *t.exit_code;
      if (t.signal) x["signal"] = *t.signal;
      tasks.push_back(std::move(x));
    }
    j["tasks"] = std::move(tasks);
    Json shares = Json::array();
    for (const auto& s : rec.alloc.shares) shares.push_back(Json{{"cpu_milli", s.cpu_milli}, {"mem_mib", s.mem_mib}});
    j["shares"] = std::move(shares);
  }
  if (rec.stop != StopReason::kNone) j["stop"] = StopName(rec.stop);
  if (!rec.past.empty()) {
    Json past = Json::array();
    for (const auto& p : rec.past) past.push_back(Json{{"attempt", p.attempt}, {"nodes", p.nodes}});
    j["past"] = std::move(past);
  }
  j["queued_since"] = rec.queued_since;
  if (rec.attained_gpu_s) j["attained_gpu_s"] = rec.attained_gpu_s;
  if (rec.last_run_s) j["last_run_s"] = rec.last_run_s;
  if (!rec.grant.empty()) {
    j["grant"] = rec.grant;
    j["reserved"] = rec.reserved;
  }
  return j;
}

void ReadExtra(const Json& j, JobRec& rec) {
  auto num = [&](const char* k) -> std::int64_t {
    auto it = j.find(k);
    return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
  };
  rec.queued_since = num("queued_since");
  rec.attained_gpu_s = num("attained_gpu_s");
  rec.last_run_s = num("last_run_s");
  rec.reserved = num("reserved");
  if (auto it = j.find("grant"); it != j.end() && it->is_string()) rec.grant = it->get<std::string>();
  if (auto it = j.find("stop"); it != j.end() && it->is_string()) rec.stop = ParseStop(it->get<std::string>());
  rec.tasks.clear();
  if (auto it = j.find("tasks"); it != j.end() && it->is_array())
    for (const auto& x : *it) {
      TaskState t;
      t.running = x.value("running", false);
      t.ended = x.value("ended", false);
      t.reason = x.value("reason", "");
      if (x.contains("exit_code") && x["exit_code"].is_number_integer()) t.exit_code = x["exit_code"].get<int>();
      if (x.contains("signal") && x["signal"].is_number_integer()) t.signal = x["signal"].get<int>();
      rec.tasks.push_back(std::move(t));
    }
  rec.past.clear();
  if (auto it = j.find("past"); it != j.end() && it->is_array())
    for (const auto& x : *it) {
      if (!x.is_object() || !x.value("attempt", Json()).is_number_integer() || !x.value("nodes", Json()).is_array())
        continue;
      PastAttempt p;
      p.attempt = x["attempt"].get<int>();
      for (const auto& n : x["nodes"])
        if (n.is_string()) p.nodes.push_back(n.get<std::string>());
      rec.past.push_back(std::move(p));
    }
  rec.alloc.shares.clear();
  if (auto it = j.find("shares"); it != j.end() && it->is_array())
    for (const auto& x : *it) {
      NodeShare s;
      s.cpu_milli = x.value("cpu_milli", MilliCpu{0});
      s.mem_mib = x.value("mem_mib", MiB{0});
      rec.alloc.shares.push_back(std::move(s));
    }
}

}  // namespace

store::JobRow JobRow(const JobRec& rec) {
  Json j = ExtraJson(rec);
  j["view"] = api::ToJson(rec.view);
  return store::JobRow{rec.view.id, std::string(api::ToString(rec.view.state)), Dump(j)};
}

Result<JobRec> JobFromRow(const store::JobRow& row) {
  auto parsed = api::ParseJson(row.json);
  if (!parsed.ok()) return InvalidArgument(fmt::format("job {}: stored record: {}", row.id, parsed.error().message));
  const Json& j = *parsed;
  if (!j.is_object() || !j.contains("view"))
    return InvalidArgument(fmt::format("job {}: stored record has no view", row.id));
  auto view = api::JobViewFromJson(j["view"]);
  if (!view.ok()) return InvalidArgument(fmt::format("job {}: stored record: {}", row.id, view.error().message));
  JobRec rec;
  rec.view = std::move(*view);
  ReadExtra(j, rec);
  SyncSchedJob(rec);
  return rec;
}

store::ArrayRow ArrayRowOf(const JobRec& first, const std::vector<int>& indices) {
  Json j = ExtraJson(first);
  api::JobView tmpl = first.view;
  tmpl.array_index.reset();
  j["view"] = api::ToJson(tmpl);
  j["indices"] = indices;
  return store::ArrayRow{first.view.id, static_cast<std::int64_t>(indices.size()), Dump(j)};
}

Result<StoredArray> ArrayFromRow(const store::ArrayRow& row) {
  auto parsed = api::ParseJson(row.json);
  if (!parsed.ok()) return InvalidArgument(fmt::format("array {}: stored record: {}", row.first_id, parsed.error().message));
  const Json& j = *parsed;
  if (!j.is_object() || !j.contains("view") || !j.contains("indices") || !j["indices"].is_array() ||
      j["indices"].size() != static_cast<size_t>(row.count))
    return InvalidArgument(fmt::format("array {}: stored record is incomplete", row.first_id));
  auto view = api::JobViewFromJson(j["view"]);
  if (!view.ok()) return InvalidArgument(fmt::format("array {}: stored record: {}", row.first_id, view.error().message));
  StoredArray out;
  out.tmpl.view = std::move(*view);
  ReadExtra(j, out.tmpl);
  out.tmpl.view.id = row.first_id;
  out.tmpl.view.array_id = row.first_id;
  out.tmpl.view.array_index.reset();
  SyncSchedJob(out.tmpl);
  out.indices.reserve(static_cast<size_t>(row.count));
  for (const Json& x : j["indices"]) {
    if (!x.is_number_integer())
      return InvalidArgument(fmt::format("array {}: stored record: indices: expected integers", row.first_id));
    out.indices.push_back(x.get<int>());
  }
  return out;
}

store::NodeRow NodeRow(const NodeRec& rec) {
  Json j{{"info", api::ToJson(rec.info)}, {"drain", rec.drain}, {"reason", rec.reason}};
  return store::NodeRow{rec.info.name, Dump(j)};
}

Result<NodeRec> NodeFromRow(const store::NodeRow& row) {
  auto parsed = api::ParseJson(row.json);
  if (!parsed.ok() || !parsed->is_object() || !parsed->contains("info"))
    return InvalidArgument(fmt::format("node {}: stored record is malformed", row.name));
  auto info = api::NodeInfoFromJson((*parsed)["info"]);
  if (!info.ok()) return InvalidArgument(fmt::format("node {}: stored record: {}", row.name, info.error().message));
  NodeRec rec;
  rec.info = std::move(*info);
  rec.spec = SpecOf(rec.info);
  rec.drain = parsed->value("drain", false);
  rec.reason = parsed->value("reason", "");
  return rec;
}

}  // namespace kojo::controller
