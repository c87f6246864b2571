// ClusterState: the scheduling loop's state machine, the one place where
// kojod and `kojo sim` keep what the scheduler sees and apply what it
// decides. No I/O, no clock, no threads: the caller feeds it events with
// their time and asks for a pass.
//
//   kojod    = ClusterState + HTTP, the store, the agents, the wall clock
//   kojo sim = ClusterState + a trace, an event queue, a simulated clock
//
// It holds the nodes (spec, in service or not, free resources), the jobs
// waiting and running (with what the policies read: attained service, time
// queued, previous run), the organisation (shares, quotas, grants) and
// what the grants have used and reserved, and the fair-share usage. A pass
// (Pass) builds the scheduler's snapshot from that, calls Scheduler::Decide
// and applies every rule around it:
//   - an array's "%N": its tasks beyond N running wait (ArrayLimit);
//   - a start reserves its cost by its time limit (or the organisation's
//     default) against one active grant of its project, the one ending
//     soonest with enough left; with none, the job waits (GrantExhausted);
//   - a waiting job that only nodes out of service could run is told so
//     (NodeDrain, NodeDown);
//   - preemptions of jobs already stopping are dropped; a start that needs
//     resources of jobs preempted in the same pass waits for the next pass
//     (they hold them until they end);
//   - a pass is skipped when it cannot change anything (no job waits, or
//     fewer GPUs are free than the smallest waiting job needs and nothing
//     may be preempted), unless forced.
// A run's end (Finish) releases its resources, settles its grant (the cost
// of the time it ran, capped at its reservation), charges fair share, and
// either forgets the job or queues it again (requeue, preemption) with its
// attained service.
//
// Jobs are referenced, not copied: the Job given to Enqueue or Restore
// must stay at its address, with the same project and user, while the
// state knows the job.
//
// Thread safety: none; the caller serialises.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/node_rule.h"
#include "model/org.h"
#include "model/rent.h"
#include "model/reservation.h"
#include "sched/rent.h"
#include "sched/scheduler.h"

namespace kojo {

// Only kUp nodes take new work; the others keep what runs on them.
enum class NodeService { kUp, kDraining, kDown };

// Programmes, shares, quotas and grants, as the state meters them.
struct ClusterOrg {
  OrgPolicy policy;           // grant_left is computed by the state
  std::vector<Grant> grants;  // metered when non-empty
  // Grant times are Unix seconds; the state's time t is grant time t + offset
  // (a replayed trace starts at 0).
  Seconds grant_time_offset = 0;
};

// A job entering the queue (submission, release, recovery).
struct QueuedJob {
  const Job* job = nullptr;
  Seconds queued_since = 0;
  Seconds attained_gpu_s = 0;  // earlier runs
  Seconds last_run_s = 0;
  std::optional<JobId> array_id;
  int max_running = 0;  // the array's "%N", 0 = none
};

// A job the pass started.
struct Started {
  JobId job = 0;
  Allocation allocation;
  bool backfilled = false;
  std::string grant;     // reserved against ("" = not metered)
  NormUnits reserved = 0;
};

// A run that ended, as settled.
struct Settled {
  Seconds started = 0, ran = 0;
  Allocation allocation;
  std::string grant;
  NormUnits reserved = 0;  // what the run had reserved (released now)
  NormUnits charged = 0;   // its cost, capped at the reservation when metered
  Seconds attained_gpu_s = 0;  // including this run
};

// What a pass changed. `waiting` is filled by explaining passes only.
struct Changes {
  bool decided = false;  // Decide ran (false: skipped, nothing could change)
  std::vector<Started> started;
  std::vector<Preempt> preempted;  // running jobs to stop and requeue
  // With PassOptions::preempt_at_once: the preempted runs, ended and
  // requeued already, as settled (in the order of `preempted`).
  std::vector<Settled> preempted_runs;
  std::vector<Reject> rejected;    // waiting jobs that can never run; forgotten
  std::vector<Wait> waiting;
  // A decision that broke the cluster's rules (PassOptions::check): the
  // pass stopped applying there. A scheduler defect, never the input's.
  std::optional<std::string> violation;
};

struct PassOptions {
  bool explain = false;  // give every waiting job a reason (Changes::waiting)
  bool force = false;    // decide even when nothing could start
  // Check every decision against the cluster (a placement against the free
  // resources and the job's demand; each job in the state it must be in).
  bool check = true;
  // Preempted jobs leave at once (the simulator): their runs end and they
  // are queued again before the pass's starts are applied. Otherwise
  // (kojod) they hold their resources until Finish.
  bool preempt_at_once = false;
};

// ---- renting (model/rent.h, sched/rent.h) ----
// A provider's nodes are slots "<provider>-<i>" (i = 1..max_nodes), added
// when the rent policy is set: out of service until rented and up, like
// Slurm's powered-down cloud nodes. A slot's life:
//   kOff -> kStarting (PlanRent ordered it; the wrapper runs the start
//   program) -> kUp (RentUp: its agent registered) -> kStopping (PlanRent
//   released it: idle past the provider's time-out, or its paid time ends
//   with no budget to extend it) -> kOff (RentStopped: given back).
// A start that fails (RentFailed) goes back to kOff; the provider backs off
// (30 s, doubling) and after 3 failures in a row is unavailable for 15 min.
enum class RentPhase { kOff, kStarting, kUp, kStopping };
std::string_view ToString(RentPhase p);

struct RentedNode {
  NodeIndex node = 0;
  int provider = 0;  // into RentPolicy::providers
  RentPhase phase = RentPhase::kOff;
  std::string account;       // who pays (kOff: "")
  Seconds started = 0;       // the start program ran (the rent runs from here)
  Seconds up_since = 0;      // its agent registered
  Seconds idle_since = 0;    // up with no job since then
  Seconds paid_until = 0;    // the rent reserved covers [started, paid_until)
  Money reserved = 0;        // reserved against the account, released when settled
  bool draining = false;     // its account cannot pay beyond paid_until
  std::string reason;        // why it is in this phase, for `kojo nodes`
};

// What a rent step changed; the wrapper acts on it.
struct RentChanges {
  std::vector<NodeIndex> start;     // now kStarting: run the provider's start program
  std::vector<NodeIndex> stop;      // now kStopping: run the stop program (after `evict` ended)
  std::vector<JobId> evict;         // jobs on nodes whose paid time is over: stop and requeue them
  std::vector<RentNote> notes;      // why waiting jobs are (not) getting rented capacity
};

class ClusterState {
 public:
  ClusterState(Scheduler& scheduler, Seconds usage_half_life);

  // ---- nodes ----
  NodeIndex AddNode(const NodeSpec& spec, NodeService service = NodeService::kUp);
  // A node's spec (its agent registered again) and service.
  void SetNode(NodeIndex n, const NodeSpec& spec, NodeService service);
  NodeIndex node_count() const { return static_cast<NodeIndex>(snap_.specs.size()); }

  // ---- partitions (none: every node is one pool) ----
  // Node specs get their features normalised (NodeFeatures) and the names
  // of the partitions that hold them.
  void SetPartitions(std::vector<Partition> partitions);
  const std::vector<Partition>& partitions() const { return partitions_; }
  // A job entering (submission): the partitions it may use and its time
  // limit, or an error naming the field (AdmitToPartitions).
  // With renting, the account that pays the job's rented nodes too.
  Result<Admitted> Admit(const Job& job) const {
    auto a = AdmitToPartitions(partitions_, job.demand.nodes.partitions, job.project, job.time_limit);
    if (a.ok()) a->rent_account = RentAccountOf(job.project);
    return a;
  }

  // ---- organisation (none: one flat pool, nothing metered) ----
  void SetOrg(std::optional<ClusterOrg> org);
  bool metered() const { return org_ && !org_->grants.empty(); }
  // A run settled before this state existed (recovery), in end order.
  void ChargeSettled(const std::string& project, const std::string& user, const std::string& grant,
                     NormUnits units, Seconds end);

  // ---- renting (none: no providers) ----
  // Adds each provider's slots (once: a later policy keeps the slots of
  // providers it still names and takes no slot away) and the accounts.
  void SetRent(RentPolicy policy);
  const RentPolicy& rent_policy() const { return rent_; }
  // The account that pays `project`'s rented nodes ("" = none), for
  // admission (NodeRule::account).
  std::string RentAccountOf(const std::string& project) const;
  // After an explaining pass (its `waiting`, in queue order): settles and
  // extends paid time, releases idle nodes, and rents what PlanRent says.
  RentChanges PlanRent(Seconds now, const std::vector<Wait>& waiting);
  // Whether PlanRent could rent now (a slot off at an available provider
  // and an account with money left): when not, the caller may skip the
  // explaining pass and give PlanRent no waits (it still keeps paid time
  // and idle nodes).
  bool MayRent(Seconds now) const;
  void RentUp(NodeIndex n, Seconds now);
  void RentFailed(NodeIndex n, Seconds now, std::string why);
  void RentStopped(NodeIndex n, Seconds now);
  // A starting or up slot given back by the wrapper's own decision (e.g.
  // a restart cut its start program short): settled now and kStopping,
  // without counting a failure against its provider.
  void RentAbandon(NodeIndex n, Seconds now, std::string why);
  // Recovery: a slot's phase and bookkeeping as persisted.
  void RestoreRented(const RentedNode& r);
  // Recovery: rent spent before this state existed.
  void ChargeRentSpent(const std::string& account, Money m) { rent_spent_[account] += m; }
  const std::vector<RentedNode>& rented() const { return rented_; }
  const RentedNode* RentedAt(NodeIndex n) const;
  // Settled rent (plus, with `now`, the running rent of nodes not yet
  // settled) and what is reserved, by account.
  Money RentSpent(const std::string& account, std::optional<Seconds> now = std::nullopt) const;
  Money RentReserved(const std::string& account) const;
  // Per provider: settled spending and GPU-seconds rented (kojo sim's totals).
  Money ProviderSpent(int provider, std::optional<Seconds> now = std::nullopt) const;
  Seconds ProviderGpuSeconds(int provider, std::optional<Seconds> now = std::nullopt) const;

  // ---- reservations (model/reservation.h) ----
  // Each reservation holds whole nodes (of its GPU model, as few as hold its
  // GPUs, nodes no other reservation holds, in node order): during its
  // window only its project's jobs use them; before it, other jobs only if
  // their time limit ends by the window's start. The holds are brought up
  // to date at each pass. An error names the reservation that cannot be
  // held (not enough GPUs of its model); then nothing changes.
  Status SetReservations(std::vector<Reservation> reservations);
  const std::vector<Reservation>& reservations() const { return reservations_; }
  // The nodes reservation `i` holds.
  const std::vector<NodeIndex>& ReservedNodes(size_t i) const { return reserved_nodes_.at(i); }

  // ---- jobs ----
  // Why `job` can never run on these nodes (in service or not), or nullopt.
  std::optional<std::string> Infeasible(const Job& job);
  // Submission, release of a held job, recovery of a waiting one.
  void Enqueue(JobId id, const QueuedJob& q);
  // A waiting job leaves the queue (held, cancelled): forgotten.
  void Dequeue(JobId id);
  // Recovery of a job running at `started` on `a`, with its reservation.
  void Restore(JobId id, const QueuedJob& q, const Allocation& a, Seconds started, const std::string& grant,
               NormUnits reserved);
  // A running job's time limit grows to `limit` (seconds from its start;
  // `kojo extend`): its partitions must allow that limit, no reservation
  // may hold one of its nodes before the run would end, and the grant it
  // reserved from must have the extra units, which are reserved at once
  // (returned). The caller then sets the job's time_limit. An error says
  // what refuses it (kInvalidArgument).
  Result<NormUnits> ExtendRun(JobId id, Seconds limit, Seconds now);
  // A running job is being stopped: it keeps its resources until Finish
  // and is not preempted again.
  void Stop(JobId id);
  // A run ended at `now`: resources back, grant settled, fair share
  // charged; `requeue` puts the job back in the queue (queued since now).
  Settled Finish(JobId id, Seconds now, bool requeue);

  // ---- the pass ----
  Changes Pass(Seconds now, Rng& rng, PassOptions options);

  // ---- reading ----
  bool Waiting(JobId id) const;
  bool Running(JobId id) const;
  size_t waiting_count() const { return snap_.pending.size(); }
  size_t running_count() const { return snap_.running.size(); }
  std::int64_t busy_milli() const { return busy_milli_; }
  const ClusterSnapshot& snapshot() const { return snap_; }
  const UsageLedger& fair() const { return fair_; }
  NormUnits GrantUsed(const std::string& grant) const;
  NormUnits GrantReserved(const std::string& grant) const;
  // A run's normalised cost for `seconds` on `a` (the organisation's GPU
  // weights; 1 per milli-GPU-second without one).
  NormUnits Cost(const Allocation& a, Seconds seconds) const;
  const Scheduler& scheduler() const { return scheduler_; }

 private:
  struct Rec {
    int pending_pos = -1;
    int running_pos = -1;
    bool stopping = false;
    std::optional<JobId> array_id;
    int max_running = 0;
    std::string grant;
    NormUnits reserved = 0;
  };
  // Takes r's entry out of `v` (at r.*pos), moving the last entry into its
  // place; r.*pos becomes -1.
  JobEntry SwapRemove(std::vector<JobEntry>& v, int Rec::*pos, Rec& r);
  void AddPending(Rec& r, JobEntry e);
  JobEntry TakePending(Rec& r);
  void AddRunning(Rec& r, JobEntry e);
  JobEntry TakeRunning(Rec& r);
  bool MayStartSomething() const;
  // Why `a` breaks the rules for `job` on `nodes` (free resources), or nullopt.
  std::optional<std::string> CheckAllocation(const Job& job, const Allocation& a,
                                             const std::vector<NodeState>& nodes) const;
  void UpdateGrantsLeft(Seconds now);
  // The grant a start of `need` units reserves against, or none.
  const Grant* ChooseGrant(const std::string& project, Seconds now, NormUnits need) const;
  void Charge(const std::string& project, const std::string& user, NormUnits units, Seconds now);
  int MemberId(const Job& job);  // JobEntry::member_id, a new one for a new member
  // Explaining passes: ArrayLimit waits, NodeDrain/NodeDown reasons.
  void ExplainOutOfService(Wait& w, const Job& job);

  // Reservations (state/reservation_state.cc).
  void UpdateHolds(Seconds now);
  // Explaining passes: a Reservation wait when only held nodes stop `job`.
  void ExplainHeld(Wait& w, const Job& job, Seconds now);
  std::vector<Reservation> reservations_;
  std::vector<std::vector<NodeIndex>> reserved_nodes_;

  // Renting (state/rent_state.cc).
  struct ProviderRun {
    int failures = 0;            // in a row
    Seconds available_at = 0;
    std::string reason;
    Money spent = 0;             // settled
    Seconds gpu_seconds = 0;     // settled
  };
  void SettleRent(RentedNode& r, Seconds now);  // ends the rent at now
  Money RunningRent(const RentedNode& r, Seconds now) const;
  bool RentOff(NodeIndex n) const;  // a rented slot not rented now
  RentPolicy rent_;
  std::vector<RentedNode> rented_;
  std::unordered_map<NodeIndex, size_t> rented_at_;
  std::vector<bool> rent_off_;  // by node: a rented slot not rented now
  std::unordered_map<std::string, ProviderRun> provider_runs_;  // by provider name
  std::unordered_map<std::string, Money> rent_spent_, rent_reserved_;

  // `spec` with its features normalised and its partitions named.
  NodeSpec Normalised(NodeSpec spec) const;

  Scheduler& scheduler_;
  ClusterSnapshot snap_;
  std::vector<Partition> partitions_;
  std::vector<NodeService> service_;
  std::unordered_map<JobId, Rec> recs_;
  std::map<std::int64_t, int> pending_milli_;  // demand -> waiting jobs
  std::unordered_map<JobId, int> array_running_;  // limited arrays: running tasks
  int limited_pending_ = 0;  // waiting jobs of arrays with a "%N"
  std::int64_t busy_milli_ = 0;
  std::int64_t free_up_milli_ = 0;  // free GPU milli on nodes in service
  // free_up_milli_ += sign x the GPUs of `a` on nodes in service.
  void CountFree(const Allocation& a, int sign);
  std::optional<ClusterOrg> org_;
  bool org_guarantee_ = false;
  std::unordered_map<std::string, NormUnits> used_, reserved_;  // by grant id
  UsageLedger fair_;
  std::unordered_map<std::string, NormUnits> member_used_;  // by MemberKey (member_gpu_hours)
  // JobEntry::member_id by MemberKey: one number per member ever queued.
  std::unordered_map<std::string, int> member_ids_;
  std::unordered_map<std::string, std::optional<std::string>> infeasible_;  // by demand shape
};

}  // namespace kojo
