// Controller: construction, recovery, shared helpers and the users' routes
// for jobs and nodes. The agent protocol is in agents.cc, the scheduling
// loop in schedule.cc.
#include "controller/controller.h"

#include <algorithm>

#include <fmt/format.h>

#include "api/org_config.h"
#include "common/files.h"

namespace kojo::controller {

using api::JobState;
using api::Json;

namespace {
constexpr size_t kMaxJobsPerRequest = 100000;
constexpr size_t kMaxKeyLength = 256;

ApiError NotFoundJob(JobId id) { return {ApiCode::kNotFound, fmt::format("job {} not found", id)}; }

// What the cluster state needs of a job record (it keeps &rec.job: records
// stay at their address in jobs_).
QueuedJob QueuedOf(const JobRec& rec) {
  QueuedJob q;
  q.job = &rec.job;
  q.queued_since = rec.queued_since;
  q.attained_gpu_s = rec.attained_gpu_s;
  q.last_run_s = rec.last_run_s;
  q.array_id = rec.view.array_id;
  q.max_running = rec.max_running;
  return q;
}

NodeService ServiceOf(const NodeRec& n) {
  switch (n.State()) {
    case api::NodeState::kUp: return NodeService::kUp;
    case api::NodeState::kDraining:
    case api::NodeState::kDrained: return NodeService::kDraining;
    default: return NodeService::kDown;  // down, or not registered since this start
  }
}
}  // namespace

Controller::Controller(store::Store& store, ControllerConfig config, std::unique_ptr<Scheduler> scheduler)
    : store_(store),
      config_(std::move(config)),
      commit_(store),
      scheduler_(std::move(scheduler)),
      rng_(config_.seed),
      state_(*scheduler_, config_.usage_half_life_s) {}

Result<std::unique_ptr<Controller>> Controller::Open(store::Store& store, ControllerConfig config) {
  auto policy = MakePolicy(config.policy);
  if (!policy.ok()) return policy.error();
  auto placer = MakePlacer(config.placer);
  if (!placer.ok()) return placer.error();
  auto scheduler = std::make_unique<Scheduler>(std::move(*policy), std::move(*placer),
                                               SchedulerConfig{config.backfill, /*explain_waits=*/false});
  std::unique_ptr<Controller> c(new Controller(store, std::move(config), std::move(scheduler)));
  if (auto s = c->Load(); !s.ok()) return s.error();
  c->thread_ = std::thread([p = c.get()] { p->Loop(); });
  return c;
}

Controller::~Controller() {
  Shutdown();
  if (thread_.joinable()) thread_.join();
  // Kills the rent programs in flight (kojod reconciles their slots when it
  // starts again) and waits for the runner's threads, which take mu_.
  if (rent_runner_) rent_runner_->Stop();
}

void Controller::Shutdown() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  sched_cv_.notify_all();
  agents_cv_.notify_all();
}

// Recovery: jobs and nodes as stored; nodes UNKNOWN until their agents
// register (or DOWN after the node timeout); placed jobs stay placed.
Status Controller::Load() {
  auto st = store_.Load();
  if (!st.ok()) return st.error();
  std::lock_guard lock(mu_);
  const auto now = SteadyNow();
  for (const auto& row : st->nodes) {
    auto n = NodeFromRow(row);
    if (!n.ok()) return n.error();
    n->last_seen = now;
    AddNode(std::move(*n));
  }
  for (const auto& row : st->arrays) {
    auto a = ArrayFromRow(row);
    if (!a.ok()) return a.error();
    scheduler_->Observe(a->tmpl.job);
    arrays_.Add(std::move(a->tmpl), std::move(a->indices));
  }
  for (const auto& row : st->jobs) {
    auto r = JobFromRow(row);
    if (!r.ok()) return r.error();
    arrays_.Drop(row.id);  // a task that changed has its own row
    if (!r->view.array_id) {
      scheduler_->Observe(r->job);
    }
    jobs_.insert_or_assign(row.id, std::move(*r));
  }
  next_id_ = std::max<JobId>({st->next_job_id, jobs_.empty() ? 1 : jobs_.rbegin()->first + 1, arrays_.EndId()});
  // Users and tokens read theirs after Open (LoadedDocs); usage records,
  // the bulk of the documents, stay with the ledger only.
  for (const auto& d : st->docs)
    if (d.kind != "usage") loaded_docs_.push_back(d);
  for (auto& key : st->keys) keys_.emplace(key.key, std::make_pair(std::move(key.ids), 0));
  if (auto s = LoadAccounting(st->docs); !s.ok()) return s.error();
  // Rented slots (after the owned nodes), as the stored records left them.
  ApplyRentPolicy(api::RentPolicyOf(*state_org_));
  LoadRent(st->docs);
  // Reservations hold the nodes known now (stored ones; agents register later).
  if (auto s = LoadReservations(st->docs); !s.ok()) return s.error();
  for (auto& [id, rec] : jobs_) {
    if (rec.view.state == JobState::kPending) NotePending(rec);
    if (!rec.Active()) continue;
    active_.insert(id);
    // Resolve the placement's node names to this run's node indices.
    rec.alloc.shares.resize(rec.view.placement.size());
    rec.tasks.resize(rec.view.placement.size());
    for (size_t i = 0; i < rec.view.placement.size(); ++i) {
      const api::Placement& p = rec.view.placement[i];
      int n = NodeIndex(p.node);
      if (n < 0) {  // never registered: a placeholder that will time out
        NodeRec placeholder;
        placeholder.info.name = p.node;
        placeholder.spec.name = p.node;
        placeholder.last_seen = now;
        n = AddNode(std::move(placeholder));
      }
      NodeShare& s = rec.alloc.shares[i];
      s.node = n;
      s.gpu_indices = p.gpus;
      s.gpu_milli = p.gpu_milli;
      nodes_[n].jobs.insert(id);
    }
    // Recovery: it holds its resources and its reservation (from its record).
    state_.Restore(id, QueuedOf(rec), rec.alloc, rec.view.start_time.value_or(Now()), rec.grant, rec.reserved);
    if (rec.view.state == JobState::kStopping) state_.Stop(id);
  }
  return Ok{};
}

// ---- helpers (mu_ held) ----

void Controller::Persist(const JobRec& rec) { batch_.jobs.push_back(JobRow(rec)); }
// Rented slots are not stored as nodes: they come from the providers, and
// their records are the renting's (renting.cc).
void Controller::PersistNode(const NodeRec& node) {
  if (Rented(NodeIndex(node.info.name))) return;
  batch_.nodes.push_back(NodeRow(node));
}

std::uint64_t Controller::Flush() {
  if (batch_.empty()) return commit_.queued();
  store::Batch b = std::move(batch_);
  batch_ = store::Batch{};
  return commit_.Enqueue(std::move(b));
}

void Controller::WakeSchedulerAfterEnd() {
  if (!sched_dirty_) gather_until_ = std::chrono::steady_clock::now() + config_.gather;
  sched_dirty_ = true;
  sched_cv_.notify_one();
}

void Controller::WakeScheduler() {
  sched_dirty_ = true;
  sched_urgent_ = true;
  sched_cv_.notify_one();
}

void Controller::WakeNode(int node) {
  if (node < 0 || node >= static_cast<int>(nodes_.size())) return;
  ++nodes_[node].wake;
  agents_cv_.notify_all();
}

int Controller::NodeIndex(std::string_view name) const {
  auto it = node_index_.find(std::string(name));
  return it == node_index_.end() ? -1 : it->second;
}

int Controller::AddNode(NodeRec rec) {
  const int i = static_cast<int>(nodes_.size());
  node_index_[rec.info.name] = i;
  nodes_.push_back(std::move(rec));
  state_.AddNode(nodes_[i].spec, ServiceOf(nodes_[i]));
  return i;
}

void Controller::SyncNode(int n) {
  NodeService service = ServiceOf(nodes_[n]);
  const RentedNode* r = Rented(n);
  if (!r) return state_.SetNode(n, nodes_[n].spec, service);
  // A rented slot: in service only while rented and up; its provider and
  // paying account stay on its spec whatever its agent reports.
  NodeSpec spec = nodes_[n].spec;
  spec.provider = state_.snapshot().specs[n].provider;
  spec.rent_account = r->account;
  if (r->phase != RentPhase::kUp) service = NodeService::kDown;
  else if (r->draining && service == NodeService::kUp) service = NodeService::kDraining;
  nodes_[n].spec = spec;
  state_.SetNode(n, spec, service);
}

api::NodeView Controller::ViewOf(const NodeRec& n) const {
  api::NodeView v;
  v.info = n.info;
  v.state = n.State();
  v.reason = n.reason;
  v.last_heartbeat = n.last_heartbeat;
  v.jobs.assign(n.jobs.begin(), n.jobs.end());
  std::set<int> used;
  const int self = NodeIndex(n.info.name);
  for (JobId id : n.jobs) {
    const JobRec& rec = jobs_.at(id);
    for (const auto& s : rec.alloc.shares)
      if (s.node == self) used.insert(s.gpu_indices.begin(), s.gpu_indices.end());
  }
  v.gpus_used = static_cast<int>(used.size());
  if (self >= 0 && self < state_.node_count()) v.partitions = state_.snapshot().specs[self].partitions;
  if (v.state != api::NodeState::kDown) v.gpu_util = n.gpu_util;
  if (const RentedNode* r = Rented(self)) {
    v.provider = state_.snapshot().specs[self].provider;
    v.rent_state = std::string(ToString(r->phase));
    v.rent_reason = r->reason;
    if (!r->account.empty()) v.rent_reason += fmt::format(" (paid by {})", r->account);
    if (auto f = stop_failures_.find(n.info.name); f != stop_failures_.end())
      v.rent_reason += fmt::format("; its stop program failed {} times in a row, the last: {}; retrying", f->second.first,
                                   f->second.second);
    if (r->phase != RentPhase::kUp && r->phase != RentPhase::kStopping && !n.registered) {
      // Not rented: its shape is the provider's.
      const NodeSpec& spec = state_.snapshot().specs[self];
      if (v.info.gpus.empty())
        for (int g = 0; g < spec.gpus; ++g) v.info.gpus.push_back(api::GpuInfo{g, spec.gpu_model, spec.gpu_mem_mib, ""});
      if (v.info.cpu_milli == 0) v.info.cpu_milli = spec.cpu_milli;
      if (v.info.mem_mib == 0) v.info.mem_mib = spec.mem_mib;
    }
  }
  return v;
}

void Controller::SetState(JobRec& rec, JobState to) {
  const JobId id = rec.view.id;
  // A job the pass started is already running in the state; one leaving
  // the queue otherwise (held, cancelled, failed) leaves the state's queue.
  if (rec.view.state == JobState::kPending && to != JobState::kPending) state_.Dequeue(id);
  if (rec.Active()) active_.erase(id);
  rec.view.state = to;
  if (to == JobState::kPending) NotePending(rec);
  if (rec.Active()) active_.insert(id);
}

void Controller::NotePending(JobRec& rec) {
  SetAccount(rec);
  state_.Enqueue(rec.view.id, QueuedOf(rec));
}

void Controller::Unplace(JobRec& rec) {
  for (const auto& s : rec.alloc.shares)
    if (s.node >= 0 && s.node < static_cast<int>(nodes_.size())) nodes_[s.node].jobs.erase(rec.view.id);
  rec.alloc.shares.clear();
}

void Controller::Stop(JobRec& rec, StopReason why) {
  rec.stop = why;
  state_.Stop(rec.view.id);
  SetState(rec, JobState::kStopping);
  switch (why) {
    case StopReason::kCancelled: rec.view.reason = "Cancelling"; rec.view.message = "stopping its tasks"; break;
    case StopReason::kPreempted: rec.view.reason = "Preempted"; rec.view.message = "stopping; it will be requeued"; break;
    case StopReason::kRequeue: rec.view.reason = "NodeLost"; rec.view.message = "a node of the job was lost; it will be requeued"; break;
    case StopReason::kNodeLost: rec.view.reason = "NodeLost"; rec.view.message = "a node of the job was lost"; break;
    case StopReason::kNodeFault: rec.view.reason = "NodeFault"; rec.view.message = "a node could not start the job; it will be requeued"; break;
    case StopReason::kFailed: rec.view.reason = "TaskFailed"; rec.view.message = "a task failed; stopping the others"; break;
    case StopReason::kNone: break;
  }
  Persist(rec);
  for (const auto& s : rec.alloc.shares) WakeNode(s.node);
}

void Controller::EndTask(JobRec& rec, size_t rank, const TaskState& end) {
  if (rank >= rec.tasks.size() || rec.tasks[rank].ended) return;
  TaskState& t = rec.tasks[rank];
  t = end;
  t.ended = true;
  const bool failed = t.reason != "exited" || t.signal || t.exit_code.value_or(0) != 0;
  const bool all = std::all_of(rec.tasks.begin(), rec.tasks.end(), [](const TaskState& x) { return x.ended; });
  if (all) {
    MaybeFinish(rec);
  } else if (failed && rec.view.state != JobState::kStopping) {
    Stop(rec, StopReason::kFailed);
  } else {
    Persist(rec);
  }
}

void Controller::MaybeFinish(JobRec& rec) {
  if (!std::all_of(rec.tasks.begin(), rec.tasks.end(), [](const TaskState& x) { return x.ended; })) return;
  const Seconds now = Now();
  Settle(rec, now);  // resources, grant and fair share; its usage record
  Unplace(rec);
  const StopReason stop = rec.stop;
  rec.stop = StopReason::kNone;
  auto requeue = [&](std::string reason, std::string message) {
    if (!rec.view.placement.empty()) {
      PastAttempt past{rec.view.attempt, {}};
      for (const auto& p : rec.view.placement) past.nodes.push_back(p.node);
      rec.past.push_back(std::move(past));
      if (rec.past.size() > kMaxPastAttempts) rec.past.erase(rec.past.begin());
    }
    SetState(rec, JobState::kPending);
    rec.view.reason = std::move(reason);
    rec.view.message = std::move(message);
    rec.view.placement.clear();
    rec.view.start_time.reset();
    rec.view.end_time.reset();
    rec.view.exit_code.reset();
    rec.view.signal.reset();
    rec.tasks.clear();
    rec.queued_since = now;
  };
  if (stop == StopReason::kPreempted || stop == StopReason::kRequeue || stop == StopReason::kNodeFault)
    counters_.requeued += 1;
  if (stop == StopReason::kPreempted) {
    requeue("Preempted", fmt::format("preempted after attempt {}; waiting to run again", rec.view.attempt));
  } else if (stop == StopReason::kRequeue) {
    requeue("Requeued", fmt::format("a node of attempt {} was lost; waiting to run again", rec.view.attempt));
  } else if (stop == StopReason::kNodeFault) {
    std::string fault = "a node could not start it";
    for (size_t i = 0; i < rec.tasks.size(); ++i)
      if (rec.tasks[i].reason.rfind(api::kNodeFaultPrefix, 0) == 0) {
        fault = fmt::format("node {} could not start it: {}", i < rec.view.placement.size() ? rec.view.placement[i].node : "?",
                            rec.tasks[i].reason.substr(api::kNodeFaultPrefix.size()));
        break;
      }
    requeue("NodeFault", fmt::format("{}; attempt {} never ran; waiting to run again", fault, rec.view.attempt));
  } else {
    rec.view.end_time = now;
    const TaskState* bad = nullptr;
    for (const auto& t : rec.tasks)
      if (!bad && (t.reason != "exited" || t.signal || t.exit_code.value_or(0) != 0)) bad = &t;
    const TaskState& shown = bad ? *bad : rec.tasks.front();
    rec.view.exit_code = shown.exit_code;
    rec.view.signal = shown.signal;
    if (stop == StopReason::kCancelled) {
      SetState(rec, JobState::kCancelled);
      rec.view.reason = "Cancelled";
      rec.view.message = "cancelled by a user";
    } else if (stop == StopReason::kNodeLost) {
      SetState(rec, JobState::kFailed);
      rec.view.reason = "NodeLost";
      rec.view.message = "a node of the job was lost and the job does not requeue";
    } else if (std::any_of(rec.tasks.begin(), rec.tasks.end(), [](const TaskState& t) { return t.reason == "idle"; })) {
      SetState(rec, JobState::kCancelled);
      rec.view.reason = "Idle";
      rec.view.message = fmt::format("ended after {} s without terminal input or use of its GPUs (idle_timeout_s)",
                                     rec.view.spec.idle_timeout_s.value_or(0));
    } else if (std::any_of(rec.tasks.begin(), rec.tasks.end(), [](const TaskState& t) { return t.reason == "timeout"; })) {
      SetState(rec, JobState::kTimeout);
      rec.view.reason = "TimeLimit";
      rec.view.message = fmt::format("killed at its time limit of {} s", rec.view.spec.time_limit_s.value_or(0));
    } else if (!bad) {
      SetState(rec, JobState::kCompleted);
      rec.view.reason = "Completed";
      rec.view.message = "";
    } else {
      SetState(rec, JobState::kFailed);
      if (bad->reason.rfind("launch-failed", 0) == 0) {
        rec.view.reason = "LaunchFailed";
        rec.view.message = bad->reason;
      } else if (bad->signal) {
        rec.view.reason = "Signal";
        rec.view.message = fmt::format("killed by signal {}", *bad->signal);
      } else if (bad->exit_code.value_or(0) != 0) {
        rec.view.reason = "NonZeroExit";
        rec.view.message = fmt::format("exit code {}", *bad->exit_code);
      } else {
        rec.view.reason = "Failed";
        rec.view.message = bad->reason;
      }
    }
  }
  Persist(rec);
  WakeSchedulerAfterEnd();
}

// A task its node could not start ("node-fault: ..."; the agent's disk is
// full or failing): it never ran, so the job is requeued whatever its
// `requeue`, and the node is drained until an operator resumes it.
void Controller::NodeFault(int n, JobRec& rec, const std::string& reason) {
  NodeRec& node = nodes_[n];
  if (!node.drain) {
    node.drain = true;
    node.reason = "agent: " + reason.substr(api::kNodeFaultPrefix.size());
    SyncNode(n);
    PersistNode(node);
  }
  if (rec.view.state != JobState::kStopping) Stop(rec, StopReason::kNodeFault);
}

void Controller::MarkNodeDown(int n, const std::string& why) {
  NodeRec& node = nodes_[n];
  node.down = true;
  node.reason = why;
  SyncNode(n);
  WakeScheduler();
  if (config_.lease.count() == 0) return;
  // Its tasks may still run there until the lease it was given ends.
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(FenceAt(node) - SteadyNow()).count();
  const Seconds at = Now() + std::max<Seconds>(left, 0);
  for (JobId id : node.jobs) {
    JobRec& rec = jobs_.at(id);
    if (rec.view.state != JobState::kStarting && rec.view.state != JobState::kRunning) continue;
    rec.view.reason = "NodeUnreachable";
    rec.view.message = fmt::format(
        "node {} is not heard from ({}); its tasks may still be running there: unless it is heard from again, they "
        "are stopped by its agent and the job {} at {}",
        node.info.name, why, rec.view.spec.requeue ? "is requeued" : "fails", api::IsoTime(at));
    Persist(rec);
  }
}

SteadyTime Controller::FenceAt(const NodeRec& node) const {
  if (config_.lease.count() == 0) return node.last_seen;
  // The agent's lease runs from when it sent its last heartbeat answered,
  // no later than last_seen; then its grace; and a second for the clocks.
  return node.last_seen + config_.lease + std::chrono::seconds(config_.kill_grace_s + 1);
}

void Controller::StopLost(JobRec& rec) {
  if (rec.view.state != JobState::kStopping) Stop(rec, rec.view.spec.requeue ? StopReason::kRequeue : StopReason::kNodeLost);
}

void Controller::LoseNodeJobs(int n) {
  NodeRec& node = nodes_[n];
  const std::vector<JobId> ids(node.jobs.begin(), node.jobs.end());
  for (JobId id : ids) {
    JobRec& rec = jobs_.at(id);
    StopLost(rec);
    for (size_t r = 0; r < rec.alloc.shares.size() && rec.Active(); ++r)
      if (rec.alloc.shares[r].node == n && !rec.tasks[r].ended) EndTask(rec, r, TaskState{false, true, {}, {}, "node-lost"});
  }
  WakeScheduler();
}

void Controller::NodeBack(int n) {
  NodeRec& node = nodes_[n];
  node.down = false;
  if (!node.drain) node.reason.clear();
  for (JobId id : node.jobs) {
    JobRec& rec = jobs_.at(id);
    if (rec.view.reason != "NodeUnreachable") continue;
    rec.view.reason.clear();
    rec.view.message.clear();
    Persist(rec);
  }
}

std::size_t Controller::JobCount() const {
  std::lock_guard lock(mu_);
  return jobs_.size() + arrays_.size();
}

JobRec* Controller::Touch(JobId id) {
  if (auto it = jobs_.find(id); it != jobs_.end()) return &it->second;
  auto rec = arrays_.Take(id);
  if (!rec) return nullptr;
  return &jobs_.emplace(id, std::move(*rec)).first->second;
}

const JobRec* Controller::Peek(JobId id, std::optional<JobRec>& scratch) const {
  if (auto it = jobs_.find(id); it != jobs_.end()) return &it->second;
  scratch = arrays_.Peek(id);
  return scratch ? &*scratch : nullptr;
}

void Controller::SplitPendingArrays() {
  if (!arrays_.HasPending()) return;
  for (JobRec& rec : arrays_.TakePending()) {
    const JobId id = rec.view.id;
    NotePending(jobs_.emplace(id, std::move(rec)).first->second);
  }
}

// ---- jobs ----

std::vector<store::DocRow> Controller::LoadedDocs(std::string_view kind) const {
  std::lock_guard lock(mu_);
  std::vector<store::DocRow> out;
  for (const auto& d : loaded_docs_)
    if (d.kind == kind) out.push_back(d);
  return out;
}

Status Controller::WriteDocs(std::vector<store::DocRow> docs) {
  std::unique_lock lock(mu_);
  for (auto& d : docs) batch_.docs.push_back(std::move(d));
  const std::uint64_t seq = Flush();
  lock.unlock();
  // A failing disk: answered at once (the write stays queued and is retried).
  return commit_.AwaitDurable(seq);
}

Outcome<std::vector<JobId>> Controller::Submit(std::string_view body, std::string_view client_key, const AdmitSpec& admit,
                                               std::string_view key_owner) {
  if (client_key.size() > kMaxKeyLength)
    return ApiError{ApiCode::kInvalidArgument, fmt::format("Idempotency-Key: expected at most {} characters", kMaxKeyLength)};
  // Stored as "owner<US>key": user names never hold the unit separator, so
  // one user's key can never name another's submission.
  const std::string key = client_key.empty() ? std::string() : fmt::format("{}\x1f{}", key_owner, client_key);
  auto parsed = api::ParseJson(body);
  if (!parsed.ok()) return FromError(parsed.error());
  const Json& j = *parsed;
  std::vector<api::JobSpec> specs;
  bool batch = false;
  if (j.is_object() && j.contains("jobs")) {
    batch = true;
    for (auto it = j.begin(); it != j.end(); ++it)
      if (it.key() != "jobs")
        return ApiError{ApiCode::kInvalidArgument, fmt::format("{}: unknown field (a batch holds only \"jobs\")", it.key())};
    const Json& list = j["jobs"];
    if (!list.is_array() || list.empty() || list.size() > kMaxJobsPerRequest)
      return ApiError{ApiCode::kInvalidArgument, fmt::format("jobs: expected a list of 1..{} job specs", kMaxJobsPerRequest)};
    for (size_t i = 0; i < list.size(); ++i) {
      auto s = api::JobSpecFromJson(list[i]);
      if (!s.ok()) return ApiError{ApiCode::kInvalidArgument, fmt::format("jobs[{}].{}", i, s.error().message)};
      specs.push_back(std::move(*s));
    }
  } else {
    auto s = api::JobSpecFromJson(j);
    if (!s.ok()) return FromError(s.error());
    specs.push_back(std::move(*s));
  }
  std::vector<std::vector<int>> indices(specs.size());
  size_t total = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (!specs[i].array.empty()) indices[i] = api::ParseArraySpec(specs[i].array)->indices;  // validated
    total += specs[i].array.empty() ? 1 : indices[i].size();
    if (admit)
      if (auto refused = admit(specs[i])) {
        if (batch) refused->message = fmt::format("jobs[{}]: {}", i, refused->message);
        return *refused;
      }
    if (specs[i].project.empty()) specs[i].project = "default";
    if (specs[i].notebook) {  // its session's secret: 32 bytes from the kernel, never guessable
      auto secret = RandomHex(32);
      if (!secret.ok()) return ApiError{ApiCode::kInternal, fmt::format("cannot make a session secret: {}", secret.error().message)};
      specs[i].session_secret = std::move(*secret);
    }
  }
  if (total > kMaxJobsPerRequest)
    return ApiError{ApiCode::kInvalidArgument, fmt::format("jobs: {} jobs in one request; at most {}", total, kMaxJobsPerRequest)};

  std::unique_lock lock(mu_);
  if (!key.empty()) {
    if (auto it = keys_.find(key); it != keys_.end()) {
      std::vector<JobId> ids = it->second.first;
      const std::uint64_t seq = it->second.second;
      lock.unlock();
      // The first request's answer, once durable.
      if (auto durable = commit_.AwaitDurable(seq); !durable.ok()) return NotDurable(durable.error(), "the submission", true);
      return ids;
    }
  }
  for (size_t i = 0; i < specs.size(); ++i) {
    Job probe;
    probe.project = specs[i].project;
    probe.demand = specs[i].demand;
    probe.time_limit = specs[i].time_limit_s;
    // Partitions: which ones it may use, and its time limit by default.
    auto admitted = state_.Admit(probe);
    if (!admitted.ok())
      return ApiError{ApiCode::kInvalidArgument, batch ? fmt::format("jobs[{}].{}", i, admitted.error().message)
                                                       : admitted.error().message};
    specs[i].demand.nodes.partitions = admitted->partitions;
    specs[i].time_limit_s = admitted->time_limit;
    probe.demand.nodes.partitions = admitted->partitions;
    probe.time_limit = admitted->time_limit;
    if (auto why = state_.Infeasible(probe))
      return ApiError{ApiCode::kUnschedulable,
                      batch ? fmt::format("jobs[{}]: no node of this cluster can run it: {}", i, *why)
                            : fmt::format("no node of this cluster can run it: {}", *why)};
  }
  // Sessions (terminals and notebooks) get their project's idle limit (a
  // shorter one asked for is kept); what `kojo extend` added starts at nothing.
  const auto org_config = org_.Config();
  for (auto& spec : specs) {
    spec.extended_s = 0;
    const Project* p = (spec.pty || spec.notebook) && org_config ? org_config->FindProject(spec.project) : nullptr;
    if (p && p->idle_timeout_s)
      spec.idle_timeout_s = std::min(spec.idle_timeout_s.value_or(*p->idle_timeout_s), *p->idle_timeout_s);
  }
  const Seconds now = Now();
  for (size_t i = 0; i < specs.size(); ++i)
    if (auto refused = CheckProject(specs[i].project, now)) {
      if (batch) refused->message = fmt::format("jobs[{}]: {}", i, refused->message);
      return *refused;
    }
  std::vector<JobId> ids;
  ids.reserve(total);
  for (size_t i = 0; i < specs.size(); ++i) {
    JobRec rec;
    rec.view.spec = std::move(specs[i]);
    rec.view.submit_time = now;
    rec.queued_since = now;
    rec.view.state = rec.view.spec.hold ? JobState::kHeld : JobState::kPending;
    rec.view.reason = rec.view.spec.hold ? "Held" : "Submitted";
    rec.view.message = rec.view.spec.hold ? "submitted held; release it to queue it" : "waiting for the next scheduling pass";
    rec.view.id = next_id_;
    SyncSchedJob(rec);
    scheduler_->Observe(rec.job);
    if (!indices[i].empty()) {
      // One template for the whole array; the scheduling pass splits a
      // pending one into its tasks, a held one stays whole until its tasks
      // are released one by one (array_tasks.h).
      const size_t n = indices[i].size();
      rec.view.array_id = next_id_;
      batch_.arrays.push_back(ArrayRowOf(rec, indices[i]));
      for (size_t k = 0; k < n; ++k) ids.push_back(next_id_ + static_cast<JobId>(k));
      arrays_.Add(std::move(rec), std::move(indices[i]));
      next_id_ += static_cast<JobId>(n);
      continue;
    }
    Persist(rec);
    ids.push_back(rec.view.id);
    JobRec& stored = jobs_.emplace_hint(jobs_.end(), rec.view.id, std::move(rec))->second;
    if (stored.view.state == JobState::kPending) NotePending(stored);
    next_id_ += 1;
  }
  batch_.next_job_id = next_id_;
  counters_.submitted += ids.size();
  if (!key.empty()) batch_.keys.push_back(store::KeyRow{key, ids});
  const std::uint64_t seq = Flush();
  if (!key.empty()) keys_[key] = {ids, seq};
  WakeScheduler();
  lock.unlock();
  // Not acknowledged unless durable. The jobs stay queued in memory and the
  // write is retried: a retry with the same key gets these ids once it
  // succeeds (a crash meanwhile forgets them, and the retry makes them anew).
  if (auto durable = commit_.AwaitDurable(seq); !durable.ok()) return NotDurable(durable.error(), "the submission", true);
  return ids;
}

Outcome<JobList> Controller::ListJobs(const ListQuery& q) const {
  JobList out;
  auto match = [&](const api::JobView& v) {
    if (!q.states.empty() && std::find(q.states.begin(), q.states.end(), v.state) == q.states.end()) return false;
    if (!q.project.empty() && v.spec.project != q.project) return false;
    if (!q.user.empty() && v.spec.user != q.user) return false;
    return !q.visible || q.visible(v);
  };
  std::lock_guard lock(mu_);
  // Two streams in id order: the records, and the untouched array tasks
  // (whose template is matched once for all its tasks).
  auto it = jobs_.upper_bound(q.after);
  std::optional<JobId> task = arrays_.Next(q.after, match);
  std::optional<JobRec> scratch;
  while (it != jobs_.end() || task) {
    const bool record = it != jobs_.end() && (!task || it->first < *task);
    if (record && !match(it->second.view)) {
      ++it;
      continue;
    }
    if (static_cast<int>(out.jobs.size()) == q.limit) {
      out.next_after = out.jobs.back().id;
      break;
    }
    if (record) {
      out.jobs.push_back(it->second.view);
      ++it;
    } else {
      out.jobs.push_back(Peek(*task, scratch)->view);
      task = arrays_.Next(*task, match);
    }
  }
  return out;
}

Outcome<api::JobView> Controller::ShowJob(JobId id) const {
  std::lock_guard lock(mu_);
  std::optional<JobRec> scratch;
  const JobRec* rec = Peek(id, scratch);
  if (!rec) return NotFoundJob(id);
  return rec->view;
}

Outcome<api::JobWhy> Controller::Why(JobId id) const {
  std::lock_guard lock(mu_);
  std::optional<JobRec> scratch;
  const JobRec* found = Peek(id, scratch);
  if (!found) return NotFoundJob(id);
  const JobRec& rec = *found;
  api::JobWhy w;
  if (rec.view.state == JobState::kPending && !rec.why.reason.empty()) w = rec.why;
  w.job = id;
  w.state = rec.view.state;
  switch (rec.view.state) {
    case JobState::kPending:
      if (rec.why.reason.empty()) {
        w.reason = rec.view.reason.empty() ? "Submitted" : rec.view.reason;
        w.message = rec.view.message.empty() ? "not yet considered by the scheduler; ask again in a second"
                                             : rec.view.message;
      }
      break;
    case JobState::kHeld:
      w.reason = "Held";
      w.message = fmt::format("held; it is not scheduled until `kojo release {}`", id);
      break;
    case JobState::kStarting:
      w.reason = "Starting";
      w.message = fmt::format("placed on {}; waiting for its agent to start it", rec.view.placement.empty() ? std::string("-") : rec.view.placement[0].node);
      w.estimated_start = rec.view.start_time;
      w.confidence = "now";
      break;
    case JobState::kRunning:
      w.reason = "Running";
      w.message = fmt::format("running since {}", rec.view.start_time ? api::IsoTime(*rec.view.start_time) : "-");
      if (rec.view.reason == "NodeUnreachable") w.reason = rec.view.reason, w.message = rec.view.message;
      w.estimated_start = rec.view.start_time;
      w.confidence = "now";
      break;
    default:
      w.reason = rec.view.reason.empty() ? std::string(api::ToString(rec.view.state)) : rec.view.reason;
      w.message = rec.view.message.empty() ? fmt::format("the job has ended ({})", api::ToString(rec.view.state))
                                           : rec.view.message;
      break;
  }
  return w;
}

Outcome<api::JobView> Controller::ChangeJob(
    JobId id, const std::function<std::optional<ApiError>(JobRec&)>& change) {
  std::unique_lock lock(mu_);
  JobRec* rec = Touch(id);
  if (!rec) return NotFoundJob(id);
  if (auto refused = change(*rec)) return *refused;
  api::JobView v = rec->view;
  const std::uint64_t seq = Flush();
  lock.unlock();
  if (auto durable = commit_.AwaitDurable(seq); !durable.ok()) return NotDurable(durable.error(), "the change");
  return v;
}

Outcome<api::JobView> Controller::Cancel(JobId id) {
  return ChangeJob(id, [&](JobRec& rec) -> std::optional<ApiError> {
    switch (rec.view.state) {
      case JobState::kPending:
      case JobState::kHeld:
        SetState(rec, JobState::kCancelled);
        rec.view.reason = "Cancelled";
        rec.view.message = "cancelled by a user before it started";
        rec.view.end_time = Now();
        Persist(rec);
        return std::nullopt;
      case JobState::kStarting:
      case JobState::kRunning:
        Stop(rec, StopReason::kCancelled);
        return std::nullopt;
      case JobState::kStopping:
        if (rec.stop != StopReason::kCancelled) Stop(rec, StopReason::kCancelled);
        return std::nullopt;
      default:
        return ApiError{ApiCode::kConflict, fmt::format("job {} has already ended ({}); it cannot be cancelled",
                                                        id, api::ToString(rec.view.state))};
    }
  });
}

Outcome<api::JobView> Controller::Hold(JobId id) {
  return ChangeJob(id, [&](JobRec& rec) -> std::optional<ApiError> {
    if (rec.view.state != JobState::kPending && rec.view.state != JobState::kHeld)
      return ApiError{ApiCode::kConflict,
                      fmt::format("job {} is {}; only a PENDING job can be held", id, api::ToString(rec.view.state))};
    if (rec.view.state == JobState::kPending) {
      SetState(rec, JobState::kHeld);
      rec.view.reason = "Held";
      rec.view.message = "held by a user; release it to queue it";
      Persist(rec);
    }
    return std::nullopt;
  });
}

Outcome<api::JobView> Controller::Release(JobId id) {
  return ChangeJob(id, [&](JobRec& rec) -> std::optional<ApiError> {
    if (rec.view.state != JobState::kHeld)
      return ApiError{ApiCode::kConflict,
                      fmt::format("job {} is {}; only a HELD job can be released", id, api::ToString(rec.view.state))};
    SetState(rec, JobState::kPending);
    rec.view.reason = "Released";
    rec.view.message = "waiting for the next scheduling pass";
    rec.queued_since = Now();
    Persist(rec);
    WakeScheduler();
    return std::nullopt;
  });
}

Outcome<api::JobView> Controller::Extend(JobId id, Seconds by, bool privileged) {
  return ChangeJob(id, [&](JobRec& rec) -> std::optional<ApiError> {
    auto conflict = [&](std::string why) { return ApiError{ApiCode::kConflict, fmt::format("job {}: {}", id, why)}; };
    const JobState st = rec.view.state;
    if (st != JobState::kPending && st != JobState::kHeld && st != JobState::kStarting && st != JobState::kRunning)
      return conflict(fmt::format("it is {}; only a pending or running job can be extended", api::ToString(st)));
    if (!rec.view.spec.time_limit_s) return conflict("it has no time limit to extend");
    if (!privileged) {
      Seconds allowed = 0;
      if (auto org = org_.Config())
        if (const Project* p = org->FindProject(rec.job.project)) allowed = p->max_extend_s;
      if (rec.view.spec.extended_s + by > allowed)
        return ApiError{ApiCode::kForbidden,
                        allowed == 0 ? fmt::format("project {} lets its members extend no job (max_extend_s in the "
                                                   "organisation document); an operator can",
                                                   rec.job.project)
                                     : fmt::format("project {} lets its members extend a job by {} min in all; job {} "
                                                   "was extended by {} min already",
                                                   rec.job.project, allowed / 60, id, rec.view.spec.extended_s / 60)};
    }
    const Seconds limit = *rec.view.spec.time_limit_s + by;
    NormUnits extra = 0;
    if (st == JobState::kStarting || st == JobState::kRunning) {
      auto r = state_.ExtendRun(id, limit, Now());
      if (!r.ok()) return conflict(r.error().message);
      extra = r.value();
    } else {
      Job longer = rec.job;
      longer.time_limit = limit;
      if (auto a = state_.Admit(longer); !a.ok()) return conflict(a.error().message);
    }
    rec.view.spec.time_limit_s = limit;
    rec.view.spec.extended_s += by;
    rec.job.time_limit = limit;
    rec.reserved += extra;
    Persist(rec);
    for (const auto& s : rec.alloc.shares) WakeNode(s.node);
    if (st == JobState::kPending) WakeScheduler();
    return std::nullopt;
  });
}

Outcome<LogSource> Controller::FindLogs(JobId id, int rank, std::optional<int> attempt) const {
  std::lock_guard lock(mu_);
  std::optional<JobRec> scratch;
  const JobRec* found = Peek(id, scratch);
  if (!found) return NotFoundJob(id);
  const JobRec& rec = *found;
  std::vector<std::string> nodes;
  bool ended = api::IsTerminal(rec.view.state);
  if (attempt && *attempt != rec.view.attempt) {
    // An earlier attempt of a requeued job: ended, on the nodes it ran on.
    auto past = std::find_if(rec.past.begin(), rec.past.end(), [&](const PastAttempt& p) { return p.attempt == *attempt; });
    if (past == rec.past.end()) {
      std::string known;
      for (const auto& p : rec.past) known += fmt::format("{}, ", p.attempt);
      if (!rec.view.placement.empty()) known += fmt::format("{}, ", rec.view.attempt);
      return ApiError{ApiCode::kNotFound,
                      known.empty() ? fmt::format("job {} has no attempt {}: it has not started yet", id, *attempt)
                                    : fmt::format("job {} has no attempt {} with logs; attempts with logs: {}", id,
                                                  *attempt, known.substr(0, known.size() - 2))};
    }
    nodes = past->nodes;
    ended = true;
  } else {
    if (rec.view.placement.empty())
      return ApiError{ApiCode::kNotFound, fmt::format("job {} has not started yet ({}): no log", id, api::ToString(rec.view.state))};
    for (const auto& p : rec.view.placement) nodes.push_back(p.node);
  }
  if (rank < 0 || rank >= static_cast<int>(nodes.size()))
    return ApiError{ApiCode::kInvalidArgument, fmt::format("rank: expected 0..{}, got {}", nodes.size() - 1, rank)};
  const int n = NodeIndex(nodes[rank]);
  if (n < 0 || nodes_[n].info.agent_url.empty())
    return ApiError{ApiCode::kBadGateway, fmt::format("node {} has no known agent address", nodes[rank])};
  if (nodes_[n].log_secret.empty())
    return ApiError{ApiCode::kBadGateway,
                    fmt::format("node {}: its agent has not sent this controller the key of its log server "
                                "(it sends it with every heartbeat; an agent of an older version never does)",
                                nodes[rank])};
  return LogSource{nodes_[n].info.agent_url, nodes_[n].log_secret, id, attempt.value_or(rec.view.attempt), ended};
}

// ---- nodes ----

std::vector<api::NodeView> Controller::ListNodes() const {
  std::lock_guard lock(mu_);
  std::vector<const NodeRec*> sorted;
  for (const auto& n : nodes_) sorted.push_back(&n);
  std::sort(sorted.begin(), sorted.end(), [](const NodeRec* a, const NodeRec* b) { return a->info.name < b->info.name; });
  std::vector<api::NodeView> out;
  for (const NodeRec* n : sorted) out.push_back(ViewOf(*n));
  return out;
}

Outcome<api::NodeView> Controller::ShowNode(std::string_view name) const {
  std::lock_guard lock(mu_);
  const int n = NodeIndex(name);
  if (n < 0) return ApiError{ApiCode::kNotFound, fmt::format("node {} not found", name)};
  return ViewOf(nodes_[n]);
}

Outcome<api::NodeView> Controller::Drain(std::string_view name, std::string reason) {
  std::unique_lock lock(mu_);
  const int n = NodeIndex(name);
  if (n < 0) return ApiError{ApiCode::kNotFound, fmt::format("node {} not found", name)};
  nodes_[n].drain = true;
  nodes_[n].reason = reason.empty() ? "drained by an operator" : std::move(reason);
  SyncNode(n);
  PersistNode(nodes_[n]);
  api::NodeView v = ViewOf(nodes_[n]);
  WakeScheduler();
  const std::uint64_t seq = Flush();
  lock.unlock();
  if (auto durable = commit_.AwaitDurable(seq); !durable.ok()) return NotDurable(durable.error(), "the change");
  return v;
}

Outcome<api::NodeView> Controller::Resume(std::string_view name) {
  std::unique_lock lock(mu_);
  const int n = NodeIndex(name);
  if (n < 0) return ApiError{ApiCode::kNotFound, fmt::format("node {} not found", name)};
  nodes_[n].drain = false;
  if (!nodes_[n].down) nodes_[n].reason.clear();
  SyncNode(n);
  PersistNode(nodes_[n]);
  api::NodeView v = ViewOf(nodes_[n]);
  WakeScheduler();
  const std::uint64_t seq = Flush();
  lock.unlock();
  if (auto durable = commit_.AwaitDurable(seq); !durable.ok()) return NotDurable(durable.error(), "the change");
  return v;
}

}  // namespace kojo::controller
