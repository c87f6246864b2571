// Controller: the agents' protocol (docs/api.md, "Agents' routes"). Level
// triggered: every heartbeat lists all of an agent's tasks and every reply
// all the commands that still apply.
#include <algorithm>

#include <fmt/format.h>

#include "api/slurm_env.h"
#include "controller/controller.h"

namespace kojo::controller {

using api::JobState;

namespace {

// The rank of `rec`'s task on node `n`, or -1.
int RankOn(const JobRec& rec, int n) {
  for (size_t r = 0; r < rec.alloc.shares.size(); ++r)
    if (rec.alloc.shares[r].node == n) return static_cast<int>(r);
  return -1;
}

std::string ExpandPath(const std::string& pattern, const api::JobView& v) {
  if (pattern.find('%') == std::string::npos) return pattern;
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%' || i + 1 == pattern.size()) {
      out += pattern[i];
      continue;
    }
    switch (pattern[++i]) {
      case 'j': out += std::to_string(v.id); break;
      case 'A': out += std::to_string(v.array_id.value_or(v.id)); break;
      case 'a': out += v.array_index ? std::to_string(*v.array_index) : std::string(); break;
      case 'x': out += v.spec.name; break;
      case '%': out += '%'; break;
      default: out += '%'; out += pattern[i];
    }
  }
  return out;
}

api::StartCommand StartOf(const JobRec& rec, int rank) {
  api::StartCommand c;
  c.job = rec.view.id;
  c.attempt = rec.view.attempt;
  c.spec = rec.view.spec;
  c.spec.array.clear();
  c.spec.hold = false;
  c.spec.stdout_path = ExpandPath(c.spec.stdout_path, rec.view);
  c.spec.stderr_path = ExpandPath(c.spec.stderr_path, rec.view);
  if (rec.view.array_id) {
    c.spec.env["KOJO_ARRAY_JOB_ID"] = std::to_string(*rec.view.array_id);
    c.spec.env["KOJO_ARRAY_TASK_ID"] = std::to_string(rec.view.array_index.value_or(0));
  }
  for (auto& [k, v] : api::SlurmEnv(rec.view, rank)) c.spec.env[k] = std::move(v);
  c.placement = rec.view.placement[rank];
  for (const auto& p : rec.view.placement) c.peers.push_back(p.node);
  c.world_size = static_cast<int>(rec.view.placement.size());
  return c;
}

}  // namespace

Outcome<api::HeartbeatReply> Controller::Register(const api::Heartbeat& hb) {
  std::unique_lock lock(mu_);
  int n = NodeIndex(hb.node.name);
  if (n < 0) {
    NodeRec rec;
    rec.info = hb.node;
    n = AddNode(std::move(rec));
  }
  const RentedNode* rented = Rented(n);
  if (rented && (rent_stopping_.count(n) || rent_stop_wait_.count(n) ||
                 (rented->phase != RentPhase::kStarting && rented->phase != RentPhase::kUp)))
    return ApiError{ApiCode::kConflict,
                    fmt::format("node {} is a rented slot of provider {} that is not being rented now ({}); its agent "
                                "may not register",
                                hb.node.name, state_.snapshot().specs[n].provider, ToString(rented->phase))};
  NodeRec& node = nodes_[n];
  node.info = hb.node;
  node.log_secret = hb.log_secret;
  node.gpu_util = hb.gpu_util;
  node.spec = SpecOf(hb.node);
  node.registered = true;
  NodeBack(n);
  if (rented && rented->phase == RentPhase::kStarting) state_.RentUp(n, Now());
  SyncNode(n);
  node.last_seen = SteadyNow();
  node.last_heartbeat = Now();
  PersistNode(node);
  if (rented) PersistRent();
  WakeScheduler();
  return Beat(n, hb, /*registering=*/true, lock);
}

Outcome<api::HeartbeatReply> Controller::Heartbeat(std::string_view name, const api::Heartbeat& hb) {
  if (hb.node.name != name)
    return ApiError{ApiCode::kInvalidArgument,
                    fmt::format("node.name: expected \"{}\" (the name in the path), got \"{}\"", name, hb.node.name)};
  std::unique_lock lock(mu_);
  const int n = NodeIndex(name);
  if (n < 0 || !nodes_[n].registered)
    return ApiError{ApiCode::kNotFound, fmt::format("node {} is not registered with this controller; register first", name)};
  NodeRec& node = nodes_[n];
  if (node.down) {  // back after going DOWN: its tasks still running carry on
    NodeBack(n);
    SyncNode(n);
    WakeScheduler();
  }
  node.log_secret = hb.log_secret;  // none: its logs are refused until one comes
  node.gpu_util = hb.gpu_util;
  node.last_seen = SteadyNow();
  node.last_heartbeat = Now();
  return Beat(n, hb, /*registering=*/false, lock);
}

Controller::Reported Controller::ApplyReports(int n, const api::Heartbeat& hb, bool registering) {
  Reported r;
  for (const api::TaskReport& t : hb.tasks) {
    const std::pair<JobId, int> key{t.job, t.attempt};
    auto it = jobs_.find(t.job);
    JobRec* rec = it == jobs_.end() ? nullptr : &it->second;
    int rank = -1;
    if (rec && rec->Active() && rec->view.attempt == t.attempt) rank = RankOn(*rec, n);
    if (t.running) r.running.insert(key);
    if (t.running && t.time_limit_s) r.limits[key] = *t.time_limit_s;
    if (rank < 0 || rec->tasks[rank].ended) {
      if (!t.running) r.ack.push_back(key);  // an end we have, or a stale task's: forget it
      continue;
    }
    if (t.running) {
      if (!rec->tasks[rank].running) {
        rec->tasks[rank].running = true;
        if (rec->view.state == JobState::kStarting) {
          SetState(*rec, JobState::kRunning);
          rec->view.reason.clear();
          rec->view.message.clear();
        }
        Persist(*rec);
      }
    } else {
      // Ended by its agent when its lease ran out: as if its node were lost.
      if (t.reason == "fenced") StopLost(*rec);
      if (t.reason.rfind(api::kNodeFaultPrefix, 0) == 0) NodeFault(n, *rec, t.reason);
      EndTask(*rec, static_cast<size_t>(rank), TaskState{false, true, t.exit_code, t.signal, t.reason});
      r.ack.push_back(key);
    }
  }
  // Tasks placed here that the agent did not report.
  const std::vector<JobId> ids(nodes_[n].jobs.begin(), nodes_[n].jobs.end());
  for (JobId id : ids) {
    JobRec& rec = jobs_.at(id);
    const int rank = RankOn(rec, n);
    if (rank < 0 || rec.tasks[rank].ended || r.running.count({id, rec.view.attempt})) continue;
    if (rec.view.state == JobState::kStopping) {
      // Never started there, or already gone: nothing left to stop.
      EndTask(rec, static_cast<size_t>(rank), TaskState{false, true, {}, {}, "killed"});
    } else if (registering && rec.tasks[rank].running) {
      // The agent came back without a task it had been running: lost.
      StopLost(rec);
      EndTask(rec, static_cast<size_t>(rank), TaskState{false, true, {}, {}, "lost"});
    }
  }
  return r;
}

void Controller::BuildCommands(int n, const Reported& r, api::HeartbeatReply& reply) const {
  reply.acknowledged = r.ack;
  for (const auto& [job, attempt] : r.running) {
    auto it = jobs_.find(job);
    const JobRec* rec = it == jobs_.end() ? nullptr : &it->second;
    const int rank = rec && rec->Active() && rec->view.attempt == attempt ? RankOn(*rec, n) : -1;
    if (rank >= 0 && !rec->tasks[rank].ended && rec->view.state != JobState::kStopping) {
      // `kojo extend`: the task's limit follows the job's until the agent
      // reports the new one.
      auto reported = r.limits.find({job, attempt});
      const auto& limit = rec->view.spec.time_limit_s;
      if (limit && reported != r.limits.end() && reported->second != *limit)
        reply.limit.push_back(api::LimitCommand{job, attempt, *limit});
      continue;
    }
    reply.kill.push_back(api::KillCommand{job, attempt,
                                          std::string(rank >= 0 ? KillReason(rec->stop) : "stale"),
                                          config_.kill_grace_s});
  }
  for (JobId id : nodes_[n].jobs) {
    const JobRec& rec = jobs_.at(id);
    if (rec.view.state == JobState::kStopping) continue;
    const int rank = RankOn(rec, n);
    if (rank < 0 || rec.tasks[rank].ended || r.running.count({id, rec.view.attempt})) continue;
    reply.start.push_back(StartOf(rec, rank));
  }
  const auto interval = std::clamp<std::int64_t>(config_.node_timeout.count() / 4, 10, 1000);
  reply.heartbeat_interval_ms = static_cast<int>(interval);
  reply.lease_ms = static_cast<int>(config_.lease.count());
  reply.lease_grace_s = static_cast<int>(config_.kill_grace_s);
}

Outcome<api::HeartbeatReply> Controller::Beat(int n, const api::Heartbeat& hb, bool registering,
                                              std::unique_lock<std::mutex>& lock) {
  Reported r = ApplyReports(n, hb, registering);
  Flush();
  api::HeartbeatReply reply;
  BuildCommands(n, r, reply);
  auto empty = [&] {
    if (!reply.start.empty() || !reply.acknowledged.empty() || !reply.limit.empty()) return false;
    for (const auto& k : reply.kill)
      if (!nodes_[n].kills_sent.count({k.job, k.attempt})) return false;
    return true;  // nothing, or only kills the agent already has
  };
  const std::int64_t wait_ms = std::min<std::int64_t>(hb.wait_ms, config_.node_timeout.count() / 2);
  if (empty() && wait_ms > 0 && !registering) {
    ++nodes_[n].polls;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    while (!stopping_) {
      const std::uint64_t gen = nodes_[n].wake;
      if (!agents_cv_.wait_until(lock, deadline, [&] { return stopping_ || nodes_[n].wake != gen; })) break;
      reply = api::HeartbeatReply{};
      BuildCommands(n, r, reply);
      if (!empty()) break;
    }
    --nodes_[n].polls;
    nodes_[n].last_seen = SteadyNow();
  }
  nodes_[n].kills_sent.clear();
  for (const auto& k : reply.kill) nodes_[n].kills_sent.insert({k.job, k.attempt});
  // Everything the reply shows was queued under the lock: make it durable
  // before the agent acts on it (starts) or forgets it (acknowledged).
  const std::uint64_t seq = commit_.queued();
  lock.unlock();
  commit_.WaitDurable(seq);
  return reply;
}

}  // namespace kojo::controller
