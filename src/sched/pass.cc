#include "sched/pass.h"

#include <algorithm>
#include <array>
#include <bit>
#include <tuple>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "sched/placement.h"
#include "sched/scheduler.h"

namespace kojo {

namespace {

bool Uses(const Allocation& a, int node, int gpu) {
  for (const auto& s : a.shares)
    if (s.node == node && std::find(s.gpu_indices.begin(), s.gpu_indices.end(), gpu) != s.gpu_indices.end())
      return true;
  return false;
}

// True if `a` can be taken again on `nodes` (its resources are still free).
bool StillFree(const std::vector<NodeState>& nodes, const Allocation& a) {
  for (const auto& s : a.shares) {
    const NodeState& n = nodes[s.node];
    if (n.cpu_free < s.cpu_milli || n.mem_free < s.mem_mib) return false;
    for (int g : s.gpu_indices)
      if (n.gpu_free[g] < s.gpu_milli) return false;
  }
  return true;
}

// What a job that does not fit lacks now, in words.
std::string Missing(const ClusterSnapshot& snap, const std::vector<NodeState>& nodes, const Job& job) {
  const Demand& d = job.demand;
  if (d.gpus == 0)
    return fmt::format("needs {} milli-CPU and {} MiB on one node; no node has them free", d.cpu_milli, d.mem_mib);
  std::string kind = d.gpu_models.empty() ? "GPUs" : fmt::format("{} GPUs", fmt::join(d.gpu_models, "|"));
  if (!d.nodes.Empty()) kind += fmt::format(" (on nodes with its {})", d.nodes.Describe());
  int largest = 0, total = 0;
  MilliGpu most_milli = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const NodeState& n = nodes[i];
    if (!n.schedulable || !d.AllowsNode(snap.specs[i])) continue;
    const int whole = n.WholeGpusFree();
    largest = std::max(largest, whole);
    total += whole;
    for (int g = 0; g < n.gpus; ++g) most_milli = std::max(most_milli, n.gpu_free[g]);
  }
  if (d.Fractional()) {
    if (most_milli >= d.gpu_milli)
      return fmt::format("needs {} milli of one of the {} with {} milli-CPU and {} MiB; no node with such a GPU free has them",
                         d.gpu_milli, kind, d.cpu_milli, d.mem_mib);
    return fmt::format("needs {} milli of one of the {}; the most free on one GPU is {}", d.gpu_milli, kind, most_milli);
  }
  if (d.tasks > 1) {
    const int per = d.gpus / d.tasks;
    if (total == 0) return fmt::format("needs {} tasks of {} {} each on one node; none is free", d.tasks, per, kind);
    return fmt::format("needs {} tasks of {} {} each on one node; {} are free, at most {} on one node", d.tasks, per,
                       kind, total, largest);
  }
  if (total >= d.gpus)
    return fmt::format("needs {} {} with {} milli-CPU and {} MiB; enough GPUs are free, but not with that CPU and memory",
                       d.gpus, kind, d.cpu_milli, d.mem_mib);
  if (total == 0) return fmt::format("needs {} {}; none is free", d.gpus, kind);
  return fmt::format("needs {} {}; {} are free, at most {} on one node", d.gpus, kind, total, largest);
}

Wait MakeWait(JobId job, WaitReason reason, std::string message, std::optional<Seconds> estimate) {
  Wait w;
  w.job = job;
  w.reason = reason;
  w.message = std::move(message);
  w.estimated_start = estimate;
  return w;
}

// GPU-hours of a job by its time limit (0 without one).
double GpuHoursByLimit(const Job& job) {
  if (!job.time_limit) return 0;
  return static_cast<double>(job.demand.TotalGpuMilli()) / kWholeGpu * static_cast<double>(*job.time_limit) / 3600.0;
}

void SetConfidence(Wait& w, int no_limit_ahead) {
  if (!w.estimated_start) {
    w.confidence = EstimateConfidence::kNone;
    if (w.confidence_text.empty()) w.confidence_text = "no estimate: what it waits for has no time limit";
  } else if (no_limit_ahead > 0) {
    w.confidence = EstimateConfidence::kPartial;
    w.confidence_text = "partial: some jobs ahead of it have no time limit";
  } else {
    w.confidence = EstimateConfidence::kUpperBound;
    w.confidence_text = "upper bound from the time limits of the jobs it waits for";
  }
}

// Sorts `v` ascending by its low `bits` bits (the others are zero): LSD
// radix sort, a byte at a time, through `tmp` (a buffer of any size).
void RadixSort(std::vector<std::uint64_t>& v, int bits, std::vector<std::uint64_t>& tmp) {
  tmp.resize(v.size());
  for (int shift = 0; shift < bits; shift += 8) {
    std::array<size_t, 257> start{};
    for (std::uint64_t x : v) ++start[((x >> shift) & 0xff) + 1];
    for (size_t b = 1; b < start.size(); ++b) start[b] += start[b - 1];
    for (std::uint64_t x : v) tmp[start[(x >> shift) & 0xff]++] = x;
    v.swap(tmp);
  }
}

std::vector<NodeState>& Reset(PassScratch& scratch, const std::vector<NodeState>& nodes) {
  scratch.nodes = nodes;
  scratch.queue.clear();
  return scratch.nodes;
}

}  // namespace

Pass::Pass(const ClusterSnapshot& snap, Seconds now, Rng& rng, const Policy& policy, const Placer& placer,
           const SchedulerConfig& config, PassScratch& scratch)
    : snap_(snap),
      now_(now),
      rng_(rng),
      policy_(policy),
      placer_(placer),
      backfill_(config.backfill),
      explain_(config.explain_waits),
      nodes_(Reset(scratch, snap.nodes)),
      plan_(nodes_),
      scratch_(scratch),
      heap_(scratch.queue),
      preempted_(snap.running.size(), false) {
  if (snap.org) org_.emplace(snap);
}

Decisions Pass::Run() {
  if (explain_) out_.waiting.reserve(snap_.pending.size());
  OrderPending();
  for (const auto& e : snap_.pending) cpu_only_left_ += e.job->demand.gpus == 0;
  while (!heap_.empty()) {
    const Item item = PopPending();
    const Job& job = *snap_.pending[item.index].job;
    cpu_only_left_ -= job.demand.gpus == 0;
    if (NothingLaterCanStart(job)) break;
    if (!QuotaAllows(job)) continue;  // blocks no one behind it
    if (!blocked_) PlaceInOrder(item);
    else Backfill(item);
  }
  Estimate();
  return std::move(out_);
}

// ---- order

inline bool Pass::Worse(const Item& a, const Item& b) {
  // Heap order: the best item (not borrowing, smallest key, then id) on top.
  if (a.borrows != b.borrows) return a.borrows;
  for (size_t k = 0; k < a.key.size(); ++k)
    if (a.key[k] != b.key[k]) return a.key[k] > b.key[k];
  return a.id > b.id;
}

inline bool Pass::Better(const Item& a, const Item& b) { return Worse(b, a); }  // the worst on top

void Pass::OrderPending() {
  heap_.reserve(snap_.pending.size());
  const bool guarantees = org_ && org_->AnyGuarantee();
  for (int i = 0; i < static_cast<int>(snap_.pending.size()); ++i) {
    const Job& job = *snap_.pending[i].job;
    const bool borrows = guarantees && job.demand.gpus > 0 &&
                         org_->InUse(job.project) + job.demand.TotalGpuMilli() > org_->Guaranteed(job.project);
    heap_.push_back({policy_.Key(snap_.pending[i], now_), job.id, i, borrows});
  }
  // An explaining pass goes through every job: one sort (best last) costs
  // less than popping them all from a heap. Otherwise most passes stop
  // early, and the heap gives the best jobs one by one.
  sorted_ = explain_;
  const auto worse = [](const Item& a, const Item& b) { return Worse(a, b); };  // inlined, unlike a pointer
  if (!sorted_) std::make_heap(heap_.begin(), heap_.end(), worse);
  else if (!SortPacked()) std::sort(heap_.begin(), heap_.end(), worse);
}

// Sorts heap_ best last, as Worse orders it, when the order fits in one
// integer per item: the borrowing flag, the key's fields and the id, each
// less its smallest value in the queue, side by side, then the item's
// position. The usual keys (submit times, a few ranks or classes) need well
// under 64 bits, and integers sort (by radix) several times faster than
// items compared field by field. False (nothing done) when they do not fit.
bool Pass::SortPacked() {
  if (heap_.size() < 2) return true;
  constexpr int kFields = 5;  // borrows, key[0..2], id
  const auto field = [](const Item& it, int f) -> std::uint64_t {
    constexpr std::uint64_t kSign = std::uint64_t{1} << 63;  // int64 order as uint64 order
    if (f == 0) return it.borrows;
    return static_cast<std::uint64_t>(f < kFields - 1 ? it.key[f - 1] : it.id) ^ kSign;
  };
  std::array<std::uint64_t, kFields> lo, hi;
  lo.fill(~std::uint64_t{0});
  hi.fill(0);
  for (const Item& it : heap_)
    for (int f = 0; f < kFields; ++f) {
      lo[f] = std::min(lo[f], field(it, f));
      hi[f] = std::max(hi[f], field(it, f));
    }
  const int position_bits = std::bit_width(heap_.size());
  std::array<int, kFields> bits{};
  int total = position_bits;
  for (int f = 0; f < kFields; ++f) total += bits[f] = std::bit_width(hi[f] - lo[f]);
  if (total > 64) return false;
  std::vector<std::uint64_t>& packed = scratch_.packed;
  packed.clear();
  for (size_t i = 0; i < heap_.size(); ++i) {
    std::uint64_t k = 0;
    for (int f = 0; f < kFields; ++f) k = (k << bits[f]) | (field(heap_[i], f) - lo[f]);
    packed.push_back((k << position_bits) | i);
  }
  RadixSort(packed, total, scratch_.radix);  // best first
  const std::uint64_t position = (std::uint64_t{1} << position_bits) - 1;
  std::vector<Item>& sorted = scratch_.sorted;
  sorted.resize(heap_.size());
  for (size_t i = 0; i < packed.size(); ++i) sorted[packed.size() - 1 - i] = heap_[packed[i] & position];
  heap_.swap(sorted);  // both buffers stay in the scratch
  return true;
}

Pass::Item Pass::PopPending() {
  if (!sorted_) std::pop_heap(heap_.begin(), heap_.end(), [](const Item& a, const Item& b) { return Worse(a, b); });
  Item it = heap_.back();
  heap_.pop_back();
  return it;
}

// Preemptive policies: running jobs worst first, the order in which they
// would be preempted. Ordered only once a job needs them (most passes
// preempt nothing), and only as far as needed: a heap gives the worst
// ones one by one (a preemption rarely looks past a few).
void Pass::OrderRunning() {
  victim_heap_.reserve(snap_.running.size());
  victim_class_.resize(snap_.running.size());
  for (int i = 0; i < static_cast<int>(snap_.running.size()); ++i) {
    victim_heap_.push_back({policy_.Key(snap_.running[i], now_), snap_.running[i].job->id, i});
    victim_class_[i] = victim_heap_.back().key[0];
  }
  std::make_heap(victim_heap_.begin(), victim_heap_.end(), [](const Item& a, const Item& b) { return Better(a, b); });
}

int Pass::VictimAt(size_t v) {
  while (victims_.size() <= v && !victim_heap_.empty()) {
    std::pop_heap(victim_heap_.begin(), victim_heap_.end(), [](const Item& a, const Item& b) { return Better(a, b); });
    victims_.push_back(victim_heap_.back().index);
    victim_heap_.pop_back();
  }
  return v < victims_.size() ? victims_[v] : -1;
}

bool Pass::NothingLaterCanStart(const Job& job) const {
  // Once a job is blocked: nothing later can start (no reclaim either) when
  // there is no backfill, or when this job needs GPUs, none is free and no
  // CPU-only job is left; unless someone asked why.
  return blocked_ && !explain_ && (!org_ || !org_->AnyGuarantee()) &&
         (!backfill_ || (job.demand.gpus > 0 && !plan_.AnyGpuFree() && cpu_only_left_ == 0));
}

// ---- place: strict order until the first job that does not fit

void Pass::PlaceInOrder(const Item& item) {
  const JobEntry& e = snap_.pending[item.index];
  const Job& job = *e.job;
  std::optional<Allocation> a;
  if (plan_.MayFit(job.demand)) a = TryPlace(plan_, job);
  if (a) {
    if (GrantAllows(job, *a)) Start(e, std::move(*a), false);
    return;
  }
  if (policy_.Preemptive() && !snap_.running.empty() && Preempt(item, job) != Freed::kNo) return;
  if (Reclaim(job) != Freed::kNo) return;
  if (Reject(job)) return;
  Reserve(job);
}

std::optional<Allocation> Pass::TryPlace(Plan& plan, const Job& job) {
  return PlaceJobOn(snap_.specs, snap_.tie_rank, plan.nodes(), job, placer_, rng_, plan.candidates(), now_);
}

void Pass::Start(const JobEntry& e, Allocation a, bool backfilled) {
  plan_.Take(a);
  if (org_) org_->Start(*e.job, a);
  started_.push_back(StartedJob{e.job->time_limit ? now_ + *e.job->time_limit : kForever, a});
  out_.placed.push_back(kojo::Place{e.job->id, std::move(a), backfilled});
}

// ---- quota and grants

bool Pass::QuotaAllows(const Job& job) {
  if (!org_) return true;
  auto w = org_->QuotaWait(job);
  if (!w) return true;
  if (explain_) {
    w->confidence_text = "no estimate: it waits for its project's other jobs to end";
    out_.waiting.push_back(std::move(*w));
  }
  return false;
}

// The grant gate: false (and a GrantExhausted wait) if `a` costs more than
// the job's project has left.
bool Pass::GrantAllows(const Job& job, const Allocation& a) {
  if (!org_) return true;
  auto w = org_->GrantWait(job, a);
  if (!w) return true;
  if (explain_) {
    w->confidence_text = "no estimate: it waits for its project's grants";
    out_.waiting.push_back(std::move(*w));
  }
  return false;
}

// ---- preempt and reclaim

// Frees the GPUs of running jobs taken from `order` (indices into
// snap_.running, from position `from` on; `admit` says of each whether it
// may go, is skipped, or ends the search) until `job` fits; keeps only the
// victims whose resources the job really takes, and holds the freed GPUs
// for the job until they leave (held_). A job that needs no victim at all
// (after the head, it fits only on GPUs the reservation holds) frees
// nothing: kNo. Nothing is preempted unless it returns kYes.
template <typename Order, typename Admit, typename Why>
Pass::Freed Pass::FreeFor(const Job& job, Order&& order, size_t from, Admit&& admit, Why&& why) {
  std::vector<int> chosen;  // released on the plan
  std::optional<Allocation> a;
  for (size_t v = from; !a; ++v) {
    const int r = order(v);
    if (r < 0) break;
    if (preempted_[r]) continue;
    const Cand c = admit(r);
    if (c == Cand::kStop) break;
    if (c == Cand::kSkip) continue;
    plan_.Give(snap_.running[r].allocation);
    chosen.push_back(r);
    if (plan_.MayFit(job.demand)) a = TryPlace(plan_, job);
  }
  auto undo = [&] {
    for (int r : chosen) plan_.Take(snap_.running[r].allocation);
  };
  if (!a) { undo(); return Freed::kNo; }
  if (!GrantAllows(job, *a)) { undo(); return Freed::kGrant; }
  plan_.Take(*a);
  std::vector<int> needed;
  for (auto it = chosen.rbegin(); it != chosen.rend(); ++it) {  // the last chosen first
    const Allocation& va = snap_.running[*it].allocation;
    if (StillFree(nodes_, va)) plan_.Take(va);  // not in the job's way: it stays
    else needed.push_back(*it);
  }
  if (needed.empty()) {  // it fits on GPUs free now, which the head's reservation holds
    plan_.Give(*a);
    return Freed::kNo;
  }
  freed_after_head_ |= blocked_;
  const std::string reason = why();
  for (int r : needed) {
    preempted_[r] = true;
    if (org_) org_->Stop(*snap_.running[r].job);
    out_.preempted.push_back(kojo::Preempt{snap_.running[r].job->id, reason});
  }
  if (org_) org_->Start(job, *a);
  held_ = *a;
  Wait w = MakeWait(job.id, WaitReason::kPreempting,
                    fmt::format("waiting for {} preempted job(s) to stop", needed.size()), now_);
  w.confidence = EstimateConfidence::kUpperBound;
  w.confidence_text = "starts as soon as the preempted jobs have stopped";
  out_.waiting.push_back(std::move(w));
  return Freed::kYes;
}

// The preemptive policy's choice: running jobs of a worse class than
// `item`, worst first, until `job` fits.
Pass::Freed Pass::Preempt(const Item& item, const Job& job) {
  if (victim_class_.empty()) OrderRunning();
  while (VictimAt(first_victim_) >= 0 && preempted_[victims_[first_victim_]]) ++first_victim_;
  return FreeFor(job, [this](size_t v) { return VictimAt(v); }, first_victim_,
                 [&](int r) { return victim_class_[r] > item.key[0] ? Cand::kTake : Cand::kStop; },
                 [&] { return fmt::format("preempted for job {} of a higher priority queue", job.id); });
}

// Reclaim (organisations): a job within its project's guarantee takes GPUs
// back from projects above theirs, newest runs first, never taking a
// borrower below its own guarantee.
Pass::Freed Pass::Reclaim(const Job& job) {
  if (!org_ || !org_->MayReclaim(job) || snap_.running.empty()) return Freed::kNo;
  if (newest_.empty()) {
    for (int i = 0; i < static_cast<int>(snap_.running.size()); ++i) newest_.push_back(i);
    std::sort(newest_.begin(), newest_.end(), [&](int a, int b) {
      const JobEntry &x = snap_.running[a], &y = snap_.running[b];
      return std::tie(x.started, x.job->id) > std::tie(y.started, y.job->id);
    });
  }
  std::unordered_map<std::string_view, std::int64_t> taken;  // by project, in this attempt
  return FreeFor(
      job, [this](size_t v) { return v < newest_.size() ? newest_[v] : -1; }, 0,
      [&](int r) {
        const Job& v = *snap_.running[r].job;
        std::int64_t& t = taken[v.project];
        if (!org_->MayReclaimFrom(v, job, t)) return Cand::kSkip;
        t += v.demand.TotalGpuMilli();
        return Cand::kTake;
      },
      [&] { return fmt::format("preempted for job {}: project {} reclaims its guaranteed GPUs", job.id, job.project); });
}

// ---- reject

bool Pass::Reject(const Job& job) {
  auto why = NeverFits(snap_, job, placer_);
  if (!why) return false;
  out_.rejected.push_back(kojo::Reject{job.id, std::move(*why)});
  return true;
}

// ---- reserve and backfill

// Running jobs and those started in this pass, with their ends by time
// limits: the future the reservation and the estimates look at.
std::vector<Future::End> Pass::EndsNow() const {
  std::vector<Future::End> ends;
  for (const StartedJob& s : started_) ends.emplace_back(s.end, &s.allocation);
  for (size_t i = 0; i < snap_.running.size(); ++i) {
    if (preempted_[i]) continue;
    const JobEntry& e = snap_.running[i];
    ends.emplace_back(e.job->time_limit ? std::max(now_, e.started + *e.job->time_limit) : kForever, &e.allocation);
  }
  return ends;
}

// `job`, the first that does not fit, becomes the head. EASY reservation:
// the earliest end (by time limits) of running jobs after which it fits,
// and where; with backfill, the mask shows what is free outside it.
// Without explanations (and without reclaim, which could hold resources
// meanwhile) it is worked out only once a later job could backfill: the
// plan has not changed by then, and most passes end before that.
void Pass::Reserve(const Job& job) {
  blocked_ = true;
  head_id_ = job.id;
  if (backfill_ && !explain_ && (!org_ || !org_->AnyGuarantee())) {
    lazy_head_ = &job;
    return;
  }
  ReserveFor(job);
}

void Pass::ReserveFor(const Job& job) {
  if (backfill_ || explain_) {
    future_.emplace(snap_, nodes_, EndsNow(), now_);
    placed_before_head_ = out_.placed.size();
    std::tie(shadow_, reserved_) =
        future_->Fit(job, /*try_now=*/false, [this](Plan& p, const Job& j) { return TryPlace(p, j); });
    if (!explain_) future_.reset();  // only the estimates go on with it
  }
  if (explain_)
    QueueWait(job, MakeWait(job.id, WaitReason::kResources, "next in line; " + Missing(snap_, nodes_, job),
                            shadow_ < kForever ? std::optional<Seconds>(shadow_) : std::nullopt));
  NoteAhead(job);
  if (backfill_) {
    mask_ = nodes_;
    if (reserved_)
      for (const auto& s : reserved_->shares) {
        NodeState& n = mask_[s.node];
        for (int g : s.gpu_indices) n.gpu_free[g] = 0;
        n.cpu_free = std::max<MilliCpu>(0, n.cpu_free - s.cpu_milli);
        n.mem_free = std::max<MiB>(0, n.mem_free - s.mem_mib);
      }
    masked_.emplace(mask_);
  }
}

// Keeps the mask in step with a job that starts or is held: it shows what
// is free now outside the reservation (whose GPUs it counts as taken), at
// most what the plan has free (GPUs freed by preemption in this pass it may
// still count as busy: the job takes only what it shows free).
void Pass::MaskTake(const Allocation& a) {
  Allocation outside = a;
  for (auto& sh : outside.shares) {
    const NodeState& n = mask_[sh.node];
    std::erase_if(sh.gpu_indices, [&](int g) {
      return (reserved_ && Uses(*reserved_, sh.node, g)) || n.gpu_free[g] < sh.gpu_milli;
    });
    sh.cpu_milli = std::min(sh.cpu_milli, n.cpu_free);
    sh.mem_mib = std::min(sh.mem_mib, n.mem_free);
  }
  masked_->Take(outside);
}

void Pass::Backfill(const Item& item) {
  const JobEntry& e = snap_.pending[item.index];
  const Job& job = *e.job;
  std::optional<Allocation> a;
  if (backfill_ && plan_.MayFit(job.demand)) {
    if (lazy_head_) ReserveFor(*std::exchange(lazy_head_, nullptr));
    const Seconds end = job.time_limit ? now_ + *job.time_limit : kForever;
    if (end <= shadow_) a = TryPlace(plan_, job);  // ends before the reservation
    if (!a && masked_->MayFit(job.demand)) a = TryPlace(*masked_, job);  // keeps off its GPUs
  }
  if (a) {
    if (!GrantAllows(job, *a)) return;
    MaskTake(*a);
    Start(e, std::move(*a), true);
    return;
  }
  if (const Freed f = Reclaim(job); f != Freed::kNo) {
    if (f == Freed::kYes && masked_) MaskTake(held_);
    return;
  }
  if (explain_) {
    Wait w = MakeWait(job.id, WaitReason::kPriority, "", std::nullopt);  // its sentence: WaitMessage
    w.next = head_id_;
    QueueWait(job, std::move(w));
  }
  NoteAhead(job);
}

// ---- estimate

void Pass::QueueWait(const Job& job, Wait w) {
  w.jobs_ahead = ahead_;
  w.gpu_hours_ahead = gpu_hours_ahead_;
  w.no_limit_ahead = no_limit_ahead_;
  queued_.push_back(Queued{out_.waiting.size(), &job, no_limit_ahead_});
  out_.waiting.push_back(std::move(w));
}

void Pass::NoteAhead(const Job& job) {
  ++ahead_;
  gpu_hours_ahead_ += GpuHoursByLimit(job);
  no_limit_ahead_ += job.demand.gpus > 0 && !job.time_limit;
}

// Estimates for the jobs left waiting, in queue order: the head keeps its
// reservation; the next kEstimated - 1 are fitted one after the other on
// the future of what this pass leaves running (see Future): the sweep that
// found the reservation goes on from it, with the head holding its
// reservation and the jobs backfilled since holding theirs.
void Pass::Estimate() {
  if (!explain_ || queued_.empty()) return;
  constexpr size_t kEstimated = 32;  // (the text below says so)
  auto try_place = [this](Plan& p, const Job& j) { return TryPlace(p, j); };
  // Without backfill no job passes a head that never fits (it needs nodes
  // that are down or drained): the jobs behind it get no estimate.
  const bool stuck = !reserved_ && !backfill_ && !freed_after_head_;
  if (queued_.size() > 1 && !stuck) FutureAfterHead();
  for (size_t k = 0; k < queued_.size(); ++k) {
    Wait& w = out_.waiting[queued_[k].wait];
    if (k > 0 && k < kEstimated && stuck) {
      w.confidence_text = "no estimate: the job at the head of the queue cannot start on the nodes up now";
    } else if (k > 0 && k < kEstimated) {  // planned on the future
      const Job& job = *queued_[k].job;
      auto [t, a] = future_->Fit(job, /*try_now=*/true, try_place);
      if (a) {
        if (t < kForever) w.estimated_start = t;  // else it waits on a job with no time limit: no estimate
        future_->Hold(std::move(*a), job.time_limit ? t + *job.time_limit : kForever);
      }
    } else if (k >= kEstimated) {
      w.confidence_text = "no estimate: only the first 32 waiting jobs are planned";
    }
    SetConfidence(w, queued_[k].no_limit_ahead);
  }
}

// Brings the reservation's sweep (at the head's start, or past every end
// if the head never fits) up to what the pass did after it: the head holds
// its reservation until its time limit, and each job backfilled since
// holds its resources until its own limit if that is later (they were
// free outside the reservation). The sweep starts again from what the
// pass leaves, the head first, when a reclaim after the reservation held
// resources (and perhaps stopped jobs the sweep counts as busy until their
// limits), and when the head never fits but backfill lets later jobs start
// without it.
void Pass::FutureAfterHead() {
  const Job& head = *queued_[0].job;
  const auto hold_until = [](const Job& j, Seconds from) { return j.time_limit ? from + *j.time_limit : kForever; };
  if (freed_after_head_ || (!reserved_ && backfill_)) {
    future_.emplace(snap_, nodes_, EndsNow(), now_);
    if (!reserved_) return;
    auto [t, a] = future_->Fit(head, /*try_now=*/true, [this](Plan& p, const Job& j) { return TryPlace(p, j); });
    if (a) future_->Hold(std::move(*a), hold_until(head, std::max(t, shadow_)));
    return;
  }
  if (reserved_) future_->Hold(*reserved_, hold_until(head, shadow_));
  for (size_t i = placed_before_head_; i < started_.size(); ++i)
    if (started_[i].end > future_->now()) future_->Hold(started_[i].allocation, started_[i].end);
}

}  // namespace kojo
