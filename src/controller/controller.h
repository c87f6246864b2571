// Controller: kojod's state and rules, without HTTP. Jobs and nodes live in
// memory, mutated only under one mutex; every change is queued to the store
// (GroupCommitter) under that mutex, and a call that changed something
// returns only once its change is durable. What the scheduler sees lives in
// a ClusterState (state/cluster_state.h), fed with every change to a job or
// a node; a scheduling thread asks it for a pass, persists what the pass
// changed and wakes the agents' long polls.
//
// Thread safety: every public method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "controller/api_error.h"
#include "controller/array_tasks.h"
#include "controller/ledger.h"
#include "controller/metrics.h"
#include "controller/org_registry.h"
#include "controller/records.h"
#include "controller/rent_runner.h"
#include "sched/scheduler.h"
#include "state/cluster_state.h"
#include "store/group_commit.h"
#include "store/store.h"

namespace kojo::controller {

struct ControllerConfig {
  std::string policy = "fifo";
  std::string placer = "bestfit";
  bool backfill = true;
  // A node whose agent is silent this long goes DOWN (nothing more is
  // placed there).
  std::chrono::milliseconds node_timeout{30000};
  // The lease on a node's tasks (api::HeartbeatReply::lease_ms): an agent
  // that has not heard from the controller for this long ends its tasks
  // (SIGKILL kill_grace_s after SIGTERM), so the jobs of a DOWN node are
  // requeued, or fail, only once its lease and that grace are over: a node
  // cut off for less keeps its jobs running, and no job runs on two nodes
  // at once. 0 = no lease: a DOWN node's jobs are requeued at once and its
  // tasks run on while it is away. At least node_timeout when set.
  std::chrono::milliseconds lease{0};
  // Runs that end within this long of the first are decided on together,
  // one pass for all (as kojo sim decides once for the events of one
  // instant); other changes (submissions, cancels, nodes) pass at once.
  std::chrono::milliseconds gather{20};
  Seconds kill_grace_s = 10;   // SIGTERM .. SIGKILL for kills the controller asks for
  std::uint64_t seed = 1;      // the scheduler's random generator
  std::string version = "0.1.0";
  // A metered job without a time limit gets this one (enforced), so that
  // its grant reservation bounds it.
  Seconds default_time_limit_s = 24 * 3600;
  // Ended jobs (not array tasks) are forgotten this long after they end,
  // with the idempotency keys of the jobs forgotten; 0 = kept for ever.
  Seconds keep_ended_s = 30 * 24 * 3600;
  // Half-life of the usage that fair share counts.
  Seconds usage_half_life_s = 7 * 24 * 3600;
  // Where the controller reads the time (tests set a ManualClock).
  std::shared_ptr<const Clock> clock = std::make_shared<SystemClock>();
};

struct ListQuery {
  std::vector<api::JobState> states;  // empty = any
  std::string project;
  std::string user;
  int limit = 100;
  JobId after = 0;
  // Only jobs for which this holds (the caller's visibility); none = all.
  std::function<bool(const api::JobView&)> visible;
};

// Checks (and may complete, e.g. its project) each job spec of a
// submission before anything is created; an error refuses the request.
using AdmitSpec = std::function<std::optional<ApiError>(api::JobSpec&)>;

struct JobList {
  std::vector<api::JobView> jobs;
  std::optional<JobId> next_after;
};

// Where a job's log is: the agent that ran (or runs) the task of `rank`.
struct LogSource {
  std::string agent_url;
  std::string agent_secret;  // "Authorization: Bearer <agent_secret>" for the agent; never shown
  JobId job = 0;
  int attempt = 0;
  bool ended = false;  // the job has ended: no more bytes will come
};

// What kojod gives the controller for renting partner capacity
// (docs/renting.md): its own address, for the agents of rented nodes, and
// their tokens. Called off the controller's lock.
struct RentRuntime {
  std::string controller_url;
  // A token that lets exactly node `node`'s agent register ("" when the API
  // is open), made for one rent.
  std::function<Result<std::string>(const std::string& node)> make_token;
  // Revokes it once the node is given back.
  std::function<void(const std::string& node)> revoke_token;
};

// Money spent on rented capacity, by account or provider (GET /rent).
struct RentSpending {
  std::string kind;   // "provider", "programme", "project"
  std::string name;
  Money spent = 0;    // settled and running, to now
  Money reserved = 0; // reserved and not yet spent (accounts only)
  Money budget = 0;   // accounts only
  Seconds gpu_seconds = 0;  // providers only
  int rented_now = 0;       // nodes starting or up, paid by it / from it
};

// A reservation as GET /reservations shows it (reservations.cc).
struct ReservationView {
  Reservation reservation;
  std::optional<Reservation::Window> window;  // in force or next; none once a one-off has ended
  std::vector<std::string> nodes;             // the nodes it holds now
  bool held = false;                          // false: it holds nothing (`not_held` says why)
  std::string not_held;
};

class Controller {
 public:
  // Loads the store's state (recovery) and starts the scheduling thread.
  static Result<std::unique_ptr<Controller>> Open(store::Store& store, ControllerConfig config);
  ~Controller();  // stops the thread; call Shutdown() first to end long polls
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Ends long polls and the scheduling loop.
  void Shutdown();

  // POST /jobs: `body` is a JobSpec (possibly an array) or {"jobs":[...]}.
  // An idempotency key belongs to `key_owner` (the caller): the same key
  // sent by another user is another key.
  Outcome<std::vector<JobId>> Submit(std::string_view body, std::string_view idempotency_key,
                                     const AdmitSpec& admit = {}, std::string_view key_owner = "");
  Outcome<JobList> ListJobs(const ListQuery& q) const;
  Outcome<api::JobView> ShowJob(JobId id) const;
  // GET /jobs/{id}/why: why it is not running (or what it is doing) and
  // when it may start.
  Outcome<api::JobWhy> Why(JobId id) const;
  Outcome<api::JobView> Cancel(JobId id);
  Outcome<api::JobView> Hold(JobId id);
  Outcome<api::JobView> Release(JobId id);
  // POST /jobs/{id}/extend (`kojo extend`): adds `by` to the time limit of
  // a job that has one, pending or running. Members are held to their
  // project's max_extend_s in all; `privileged` callers (operators,
  // admins) are not. Partitions, reservations and the grant are checked as
  // at a start (ClusterState::ExtendRun); the agent learns the new limit
  // with its next heartbeat.
  Outcome<api::JobView> Extend(JobId id, Seconds by, bool privileged);
  // Where the logs of rank `rank` are: of the current attempt, or of an
  // earlier one of a requeued job (`attempt`).
  Outcome<LogSource> FindLogs(JobId id, int rank, std::optional<int> attempt = std::nullopt) const;

  std::vector<api::NodeView> ListNodes() const;
  Outcome<api::NodeView> ShowNode(std::string_view name) const;
  Outcome<api::NodeView> Drain(std::string_view name, std::string reason);
  Outcome<api::NodeView> Resume(std::string_view name);

  // Agent protocol (docs/api.md).
  Outcome<api::HeartbeatReply> Register(const api::Heartbeat& hb);
  Outcome<api::HeartbeatReply> Heartbeat(std::string_view name, const api::Heartbeat& hb);

  // Store documents (store.h DocRow) for modules beside the controller
  // (users and tokens, ...): those of `kind` as loaded at start, and a
  // write that returns once `docs` are durable, or the store's error while
  // writes fail (the write stays queued and is retried).
  std::vector<store::DocRow> LoadedDocs(std::string_view kind) const;
  Status WriteDocs(std::vector<store::DocRow> docs);
  // ---- organisation model and accounting (accounting.cc) ----
  // The registry is thread-safe on its own: RoleIn, ProjectsOf, HasProject.
  const OrgRegistry& org() const { return org_; }
  // PUT /org: replaces the whole model (an OrgConfig document, see
  // api/org_config.h); durable before it returns.
  Outcome<api::OrgConfig> ApplyOrg(std::string_view body);
  Outcome<api::OrgConfig> ApplyOrg(const api::OrgConfig& config);
  // POST /grants: one grant object as in the document's "grants" list.
  Outcome<GrantView> AddGrant(std::string_view body);
  // kojod --dev: programme, organisation and project "default", a grant of
  // 1,000,000 GPU-hours for 10 years from `now` and `user` as the project's
  // lead, each only where absent.
  Status EnsureDevDefaults(const std::string& user, Seconds now);
  // Grants (of `project`, or all when empty) as at now.
  std::vector<GrantView> Grants(std::string_view project) const;
  // Settled runs and the running ones to date, summed over [from, to).
  // `project_filter` (if set) keeps the records of the projects it accepts.
  std::vector<UsageRow> Usage(UsageBy by, Seconds from, Seconds to,
                              const std::function<bool(std::string_view project)>& project_filter = {}) const;
  // Usage records of settled runs and of running ones to date (end = now).
  std::vector<UsageRecord> UsageRecords() const;

  // ---- renting (renting.cc, docs/renting.md) ----
  // Starts acting on the rent plans: the programs of slots cut short by a
  // restart are run first. Before this call, slots exist but none is rented.
  void EnableRenting(RentRuntime runtime);
  std::vector<RentSpending> RentReport() const;

  // ---- reservations (reservations.cc, docs/api.md) ----
  // POST /reservations: one reservation object (api/org_config.h) with its
  // start as ISO 8601 UTC; its project must exist. Held at once on whole
  // nodes (409 with the reason when it cannot be), durable before it returns.
  Outcome<ReservationView> AddReservation(std::string_view body);
  std::vector<ReservationView> Reservations() const;
  Outcome<ReservationView> DeleteReservation(std::string_view name);
  // POST /projects/{name}/roster (roster.cc, api/roster.h): makes the
  // project's members exactly the roster's logins (leads stay), with their
  // names and emails, as one change of the organisation model; a roster
  // already in force changes nothing and writes nothing.
  struct RosterResult {
    int added = 0, removed = 0, updated = 0, members = 0;
  };
  Outcome<RosterResult> ImportRoster(std::string_view project, std::string_view body);

  const ControllerConfig& config() const { return config_; }
  std::size_t JobCount() const;
  // GET /metrics: what the controller holds now, its event counters and
  // its histograms (metrics.h); the API's request durations are the HTTP
  // server's to add.
  Metrics MetricsSnapshot() const;

 private:
  Controller(store::Store& store, ControllerConfig config, std::unique_ptr<Scheduler> scheduler);
  Status Load();

  // A user's change to one job: finds it (404), lets `change` act on it
  // under mu_ (an ApiError refuses, e.g. 409), then waits until the change
  // is durable and returns the job as changed.
  Outcome<api::JobView> ChangeJob(JobId id,
                                  const std::function<std::optional<ApiError>(JobRec&)>& change);

  // --- helpers; all expect mu_ held ---
  Seconds Now() const { return config_.clock->Wall(); }
  Clock::Steady SteadyNow() const { return config_.clock->SteadyNow(); }
  // Job `id`'s record, split off its array first if it was an untouched
  // task (nullptr: no such job). For changes.
  JobRec* Touch(JobId id);
  // Job `id`'s record for reading: an untouched array task's is built in
  // `scratch` (nullptr: no such job).
  const JobRec* Peek(JobId id, std::optional<JobRec>& scratch) const;
  // Arrays submitted PENDING become ordinary pending jobs (the scheduler
  // needs each task).
  void SplitPendingArrays();
  void Persist(const JobRec& rec);                // adds the job's row to batch_
  void PersistNode(const NodeRec& node);
  std::uint64_t Flush();                          // queues batch_, returns its seq
  void WakeScheduler();
  void WakeSchedulerAfterEnd();                   // gathers with other ends (ControllerConfig::gather)
  void WakeNode(int node);                        // its long poll re-checks
  api::NodeView ViewOf(const NodeRec& n) const;
  // Keeps active_ and the cluster state in step: a job entering PENDING
  // joins the state's queue, one leaving it (held, cancelled) leaves it.
  void SetState(JobRec& rec, api::JobState to);
  void NotePending(JobRec& rec);                  // a PENDING job joins the state's queue
  void SyncNode(int node);                        // its spec and service into the state
  void Unplace(JobRec& rec);                      // drops it from its nodes
  void Stop(JobRec& rec, StopReason why);         // -> STOPPING, kills go out
  void EndTask(JobRec& rec, size_t rank, const TaskState& end);
  void MaybeFinish(JobRec& rec);                  // all tasks ended -> its next state
  // A silent node goes DOWN: nothing more is placed there; its jobs wait
  // for its lease to end (NodeUnreachable) or, with no lease, are lost.
  void MarkNodeDown(int node, const std::string& why);
  // Its lease over: the tasks there are gone (LoseNodeJobs ends them).
  SteadyTime FenceAt(const NodeRec& node) const;
  void LoseNodeJobs(int node);
  // A task of the job is lost (its node, or ended by its lease): the job is
  // requeued (`requeue`) or fails with NodeLost; one already stopping keeps
  // its reason.
  void StopLost(JobRec& rec);
  // Up (heard from): its jobs' NodeUnreachable notes go (the caller syncs
  // the node into the state).
  void NodeBack(int node);
  void NodeFault(int node, JobRec& rec, const std::string& reason);  // drains it, requeues the job
  // Metering (accounting.cc). Refusal of a submission to an unknown
  // project or one without an active grant (flat pool: never).
  std::optional<ApiError> CheckProject(std::string_view project, Seconds now) const;
  // The organisation model as the cluster state meters it (none: flat pool).
  std::optional<ClusterOrg> StateOrg(const api::OrgConfig& c) const;
  // At a run's end: the state settles it; its usage record goes into batch_.
  void Settle(JobRec& rec, Seconds now);
  // The run's usage record: settled (charged, from the state) or to date.
  UsageRecord RecordOf(const JobRec& rec, Seconds now, std::optional<NormUnits> charged = std::nullopt) const;
  Status LoadAccounting(const std::vector<store::DocRow>& docs);
  // Validates and installs a new model, durable before it returns; the
  // caller holds org_write_mu_ (changes are read-modify-write).
  Outcome<api::OrgConfig> ReplaceOrg(const api::OrgConfig& config);
  // Renting (renting.cc). The state's slots get NodeRecs at the same
  // indices (nodes_ stays parallel to the state's nodes).
  void ApplyRentPolicy(const RentPolicy& policy);
  void LoadRent(const std::vector<store::DocRow>& docs);
  void PlanRentAndAct(Seconds now, const std::vector<Wait>* waiting);
  void OnRentProgramEnd(const RentProgramEnd& end);
  void QueueRentProgram(int node, bool start, Seconds delay_s = 0);
  void DispatchRentPrograms();  // queued programs to the runner (their records durable)
  void PersistRent();             // changed slot records and spending into batch_
  void SyncRentNode(int node);    // a slot's NodeRec from the state's phase
  // The account that pays a job's rented nodes, refreshed for pending jobs.
  void SetAccount(JobRec& rec);
  const RentedNode* Rented(int node) const;
  // A slot's provider: in the organisation, or as last known this start.
  const Provider* ProviderOf(const RentedNode& r) const;
  // Reservations (reservations.cc): the stored ones, and the state's holds
  // brought up to date with them (in creation order, each that can still be
  // held; one-offs that have ended hold nothing).
  Status LoadReservations(const std::vector<store::DocRow>& docs);
  void ApplyReservations(Seconds now);
  // Re-applies them when the nodes (names, GPUs, models) changed.
  void RefreshReservations(Seconds now);
  ReservationView ViewOfReservation(size_t i, Seconds now) const;
  int NodeIndex(std::string_view name) const;     // -1 if unknown
  int AddNode(NodeRec rec);

  // Agent protocol pieces.
  struct Reported {
    std::set<std::pair<JobId, int>> running;
    std::vector<std::pair<JobId, int>> ack;
    std::vector<api::KillCommand> kill;
    std::map<std::pair<JobId, int>, Seconds> limits;  // running tasks' time limits, as the agent enforces them
  };
  Reported ApplyReports(int node, const api::Heartbeat& hb, bool registering);
  void BuildCommands(int node, const Reported& r, api::HeartbeatReply& reply) const;
  Outcome<api::HeartbeatReply> Beat(int node, const api::Heartbeat& hb, bool registering,
                                    std::unique_lock<std::mutex>& lock);

  // Scheduling thread.
  void Loop();
  // `full`: also when nothing can start (wait reasons, rejections age).
  void SchedulePass(Seconds now, bool full);
  void CheckNodes();
  // Retention (retention.cc): forgets ended jobs past keep_ended_s into
  // batch_; returns how many.
  size_t PurgeEnded(Seconds now);
  void ExplainWait(JobRec& rec, const Wait& w, Seconds now);

  store::Store& store_;
  ControllerConfig config_;
  store::GroupCommitter commit_;
  std::unique_ptr<Scheduler> scheduler_;
  Rng rng_;

  mutable std::mutex mu_;
  std::condition_variable sched_cv_;
  std::condition_variable agents_cv_;
  bool sched_dirty_ = true;
  bool sched_urgent_ = false;  // a change that does not wait for the gather window
  std::chrono::steady_clock::time_point gather_until_{};
  bool stopping_ = false;
  std::set<int> placed_nodes_;  // nodes that got placements in this pass
  store::Batch batch_;  // changes made under mu_ and not queued yet

  std::map<JobId, JobRec> jobs_;
  ArrayTasks arrays_;        // untouched array tasks: jobs too, not in jobs_
  std::set<JobId> active_;   // STARTING, RUNNING, STOPPING
  JobId next_id_ = 1;
  std::unordered_map<std::string, std::pair<std::vector<JobId>, std::uint64_t>> keys_;  // key -> ids, seq
  std::vector<NodeRec> nodes_;
  std::unordered_map<std::string, int> node_index_;
  Clock::Steady last_explain_{};
  Clock::Steady next_purge_{};
  std::vector<store::DocRow> loaded_docs_;  // as loaded at start
  std::mutex org_write_mu_;  // one change of the organisation model at a time (taken before mu_)
  OrgRegistry org_;
  GrantLedger ledger_;  // settled runs' usage records
  ClusterState state_;  // what the scheduler sees; waiting explained at most once a second past 1,000
  std::shared_ptr<const api::OrgConfig> state_org_;  // the model the state meters

  // Renting.
  std::optional<RentRuntime> rent_runtime_;
  std::unique_ptr<RentRunner> rent_runner_;
  std::vector<RentProgram> rent_queue_;      // to run once batch_ is durable
  std::set<int> rent_stopping_;              // slots whose stop program runs
  std::set<int> rent_reconcile_;             // slots to stop when renting is enabled
  std::map<std::string, std::string> rent_docs_;  // (kind/key) -> json as last persisted
  std::map<std::string, std::pair<Money, Seconds>> provider_base_;  // spent before this start
  // Every provider named since this start, so that a node of one taken out
  // of the organisation is still given back with its stop program.
  std::map<std::string, Provider> known_providers_;
  // Stored rented nodes whose provider is gone (no slot): stop program and
  // time-out, until it has given them back.
  std::map<std::string, std::pair<std::string, Seconds>> rent_orphans_;
  std::map<std::string, std::pair<int, std::string>> stop_failures_;  // by node: in a row, the last reason
  std::set<int> rent_stop_wait_;             // slots to stop once their jobs have ended

  // Reservations, in creation order (`seq` orders them across restarts).
  struct StoredReservation {
    Reservation r;
    std::int64_t seq = 0;
    std::string not_held;  // why the last apply could not hold it ("" = held, or ended)
  };
  std::vector<StoredReservation> reservations_;
  std::string reservation_nodes_;  // the nodes they were last applied to

  MetricCounters counters_;
  Histogram pass_duration_;  // SchedulePass, seconds

  std::thread thread_;
};

}  // namespace kojo::controller
