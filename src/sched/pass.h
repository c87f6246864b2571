// Pass: one run of Scheduler::Decide, as named steps over what the pass
// knows (internal to sched; Scheduler is the public face). Built from the
// snapshot, `now`, the random generator and the scheduler's policy, placer
// and configuration; Run() goes through the pending jobs once and returns
// the decisions. No I/O, no clock, no globals.
//
// The steps, in the order Run() takes them:
//  - order: the policy orders pending jobs (a heap popped lazily; with an
//    organisation, jobs that would borrow beyond their project's guarantee
//    go after every job that stays within one, as in Kueue). Preemptive
//    policies also order running jobs, worst first: the order in which they
//    would be preempted (sorted only once a job needs them);
//  - quota (organisations): a GPU job that would take its project past
//    max_gpus (GPUs of its running jobs plus those started or held in this
//    pass) waits with reason Quota and blocks no one behind it (like Slurm's
//    QOS limits);
//  - place: until a job does not fit, jobs start in order where the placer
//    puts them (strict order);
//  - grants (organisations): a GPU job starts only if the cost of its
//    placement (GPU weight of each node's model x GPUs x its time limit, or
//    the policy's default) fits what its project's grants have left less
//    this pass's reservations; else it waits with reason GrantExhausted and
//    blocks no one. CPU-only jobs cost nothing;
//  - preempt: for a preemptive policy, a job that does not fit preempts
//    running jobs of a worse class (worst first), only those whose GPUs it
//    really takes, and waits for them with reason Preempting;
//  - reclaim (organisations): a job that does not fit but stays within its
//    project's guarantee preempts jobs of projects above their own
//    guarantee, newest first, only those whose GPUs it really takes, never
//    taking a borrower below its guarantee; under every policy (reason
//    Preempting);
//  - reject: a job that could not run even on the empty cluster is
//    rejected ("never" is not "not now"). Only jobs reached before the
//    queue blocks are checked (the check costs a look at every node):
//    one behind a blocked head waits (Priority) until it is reached.
//    kojod refuses such jobs at submission, so this matters to traces;
//  - reserve: the first job that does not fit becomes the head. With EASY
//    backfill (or explained waits) it gets a reservation at the earliest
//    time enough running jobs will have ended (by their time limits), and
//    where; without backfill no later job starts (strict order) other than
//    by reclaim;
//  - backfill: a job after the head starts now only if it does not delay
//    the reservation: it ends before it, or it uses none of the GPUs the
//    reservation holds (a mask of the plan without them);
//  - estimate (explained waits, SchedulerConfig::explain_waits): every
//    waiting job gets a reason and a message saying what it waits for;
//    Priority and Resources waits also count the jobs ahead still waiting
//    and their GPU-hours by time limit. Estimated starts: the head job's
//    from its reservation; the next 31 waiting jobs' from the same sweep
//    through the future of the pass that found the reservation, going on
//    from it (running jobs end at their time limits; the head and the jobs
//    backfilled hold their resources until theirs; each job, in queue
//    order, starts at the first time it fits and holds its resources until
//    its own limit), an upper bound unless a better job arrives
//    (EstimateConfidence says how sure). Jobs past the first 32 get no
//    estimate.
// Thread safety: none. Run() once per Pass.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "sched/decision.h"
#include "sched/org_pass.h"
#include "sched/placer.h"
#include "sched/plan.h"
#include "sched/policy.h"

namespace kojo {

struct SchedulerConfig;

// A pending (or running) job in policy order.
struct QueueItem {
  PriorityKey key;
  JobId id;
  int index;  // into snapshot.pending or snapshot.running
  // With an organisation: starting it would take its project above its
  // guarantee. Such jobs go after every job that stays within one (as in
  // Kueue), so that GPUs freed for a guarantee are not borrowed again.
  bool borrows = false;
};

// Buffers a pass fills and the Scheduler keeps between passes, so that a
// pass does not allocate (and the allocator map) its largest ones afresh:
// the plan of free resources, the queue in order and what ordering it
// needs.
struct PassScratch {
  std::vector<NodeState> nodes;
  std::vector<QueueItem> queue, sorted;
  std::vector<std::uint64_t> packed, radix;
};

class Pass {
 public:
  // `policy` must be prepared for this snapshot and `now` (Policy::Prepare).
  // `scratch` is overwritten: its nodes with the snapshot's free resources,
  // then the plan of the pass; its queue with the pending jobs in order.
  // Every argument must outlive the Pass.
  Pass(const ClusterSnapshot& snap, Seconds now, Rng& rng, const Policy& policy, const Placer& placer,
       const SchedulerConfig& config, PassScratch& scratch);

  Decisions Run();

 private:
  using Item = QueueItem;
  static bool Worse(const Item& a, const Item& b);
  static bool Better(const Item& a, const Item& b);  // Worse reversed: a heap with the worst on top
  // What freeing GPUs by preemption came to: nothing suffices (kNo), done
  // (kYes), or a set suffices but the job's grants cannot pay (kGrant).
  enum class Freed { kNo, kYes, kGrant };
  // Of one running job, while choosing victims: take it, skip it, or stop.
  enum class Cand { kTake, kSkip, kStop };
  // A job left waiting to start, in queue order (explained waits): its wait
  // in out_.waiting and the jobs without a time limit ahead of it.
  struct Queued {
    size_t wait;
    const Job* job;
    int no_limit_ahead;
  };

  // order
  void OrderPending();
  bool SortPacked();
  Item PopPending();
  void OrderRunning();
  // The strict-order step for `item` while no job is blocked: start it,
  // free GPUs for it (preempt, reclaim), reject it, or make it the head.
  void PlaceInOrder(const Item& item);
  // After the head: backfill `item`, or let it reclaim, or it waits.
  void Backfill(const Item& item);
  // True when no later job can start (nor reclaim) and no one asked why.
  bool NothingLaterCanStart(const Job& job) const;

  // place
  std::optional<Allocation> TryPlace(Plan& plan, const Job& job);
  void Start(const JobEntry& e, Allocation a, bool backfilled);
  // quota and grants: false (and a wait, if explained) when the job may
  // not start.
  bool QuotaAllows(const Job& job);
  bool GrantAllows(const Job& job, const Allocation& a);
  // preempt and reclaim
  Freed Preempt(const Item& item, const Job& job);
  Freed Reclaim(const Job& job);
  // `order(v)`: the running index at position v of the order, -1 past its end;
  // `why()`: the victims' reason, written only if there are victims.
  template <typename Order, typename Admit, typename Why>
  Freed FreeFor(const Job& job, Order&& order, size_t from, Admit&& admit, Why&& why);
  // reject
  bool Reject(const Job& job);
  // reserve and backfill
  std::vector<Future::End> EndsNow() const;
  void Reserve(const Job& job);
  void ReserveFor(const Job& job);  // the reservation itself (Reserve may defer it)
  void MaskTake(const Allocation& a);
  // estimate
  void QueueWait(const Job& job, Wait w);
  void NoteAhead(const Job& job);
  void Estimate();
  void FutureAfterHead();

  // What the pass is given.
  const ClusterSnapshot& snap_;
  const Seconds now_;
  Rng& rng_;
  const Policy& policy_;
  const Placer& placer_;
  const bool backfill_;
  const bool explain_;

  // What it knows so far.
  Decisions out_;
  std::vector<NodeState>& nodes_;  // free resources now, in step with plan_
  Plan plan_;
  std::optional<OrgPass> org_;
  PassScratch& scratch_;
  std::vector<Item>& heap_;               // pending jobs not yet seen: a heap, or sorted best last
  bool sorted_ = false;
  std::vector<bool> preempted_;           // by running index
  // The jobs of out_.placed, in order: their ends by time limit and their
  // allocations, at addresses the future's sweep can keep.
  struct StartedJob {
    Seconds end;
    Allocation allocation;
  };
  std::deque<StartedJob> started_;
  int cpu_only_left_ = 0;                 // pending jobs that need no GPU, not yet seen

  // Preemption: running jobs worst first (preemptive policies; victims
  // before first_victim_ are all preempted), newest first (reclaim), and
  // what the last successful preemption holds for its job.
  std::vector<int> victims_;                // the worst running jobs, in order, as far as needed
  std::vector<Item> victim_heap_;           // the rest, worst on top
  std::vector<std::int64_t> victim_class_;  // key[0] by running index
  int VictimAt(size_t v);                   // victims_[v], taken from the heap on demand; -1 past the end
  size_t first_victim_ = 0;
  std::vector<int> newest_;
  Allocation held_;

  // The head job and its reservation.
  bool blocked_ = false;
  JobId head_id_ = 0;
  Seconds shadow_ = kForever;
  std::optional<Allocation> reserved_;
  std::vector<NodeState> mask_;  // nodes_ without the reserved GPUs
  std::optional<Plan> masked_;
  const Job* lazy_head_ = nullptr;  // the head whose reservation is not worked out yet
  // Explaining passes: the sweep that found the reservation, which the
  // estimates continue; started_ from placed_before_head_ on started after
  // it (backfill).
  std::optional<Future> future_;
  size_t placed_before_head_ = 0;
  bool freed_after_head_ = false;  // a reclaim after the reservation

  // Explained waits.
  std::vector<Queued> queued_;
  int ahead_ = 0, no_limit_ahead_ = 0;
  double gpu_hours_ahead_ = 0;
};

}  // namespace kojo
