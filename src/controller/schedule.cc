// Controller: the scheduling loop. Wakes on a change or every tick, marks
// silent nodes DOWN, asks the cluster state for a pass and records what it
// changed in the jobs' records; the agents hear of placements once they are
// durable.
#include <algorithm>

#include <fmt/format.h>

#include "api/org_config.h"
#include "controller/controller.h"

namespace kojo::controller {

using api::JobState;

void Controller::Loop() {
  std::unique_lock lock(mu_);
  const auto tick = std::clamp<std::chrono::milliseconds>(config_.node_timeout / 4, std::chrono::milliseconds(50),
                                                          std::chrono::milliseconds(1000));
  auto next_tick = std::chrono::steady_clock::now() + tick;
  while (!stopping_) {
    sched_cv_.wait_until(lock, next_tick, [&] { return stopping_ || sched_dirty_; });
    if (stopping_) break;
    // Only runs ended: let the others that end with them arrive first.
    if (sched_dirty_ && !sched_urgent_ && config_.gather.count() > 0)
      sched_cv_.wait_until(lock, std::min(gather_until_, next_tick), [&] { return stopping_ || sched_urgent_; });
    if (stopping_) break;
    bool full = false;
    if (std::chrono::steady_clock::now() >= next_tick) {
      full = true;
      CheckNodes();
      if (SteadyNow() >= next_purge_) {  // retention: at most once a minute (a tenth of a short retention)
        PurgeEnded(Now());
        next_purge_ = SteadyNow() + std::chrono::seconds(std::clamp<Seconds>(config_.keep_ended_s / 10, 1, 60));
      }
      next_tick = std::chrono::steady_clock::now() + tick;
      sched_dirty_ = true;  // wait reasons and estimates age
    }
    if (!sched_dirty_) continue;
    sched_dirty_ = false;
    sched_urgent_ = false;
    placed_nodes_.clear();
    const auto pass_start = std::chrono::steady_clock::now();
    SchedulePass(Now(), full);
    pass_duration_.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - pass_start).count());
    const std::uint64_t before = commit_.queued();
    const std::uint64_t seq = Flush();
    if (seq != before) {
      lock.unlock();
      commit_.WaitDurable(seq);
      lock.lock();
      for (int n : placed_nodes_) WakeNode(n);
    }
    // Start programs run only once their slots' records are durable.
    DispatchRentPrograms();
  }
}

void Controller::CheckNodes() {
  const auto now = SteadyNow();
  for (size_t i = 0; i < nodes_.size(); ++i) {
    NodeRec& node = nodes_[i];
    if (node.polls > 0) {
      node.last_seen = now;
      continue;
    }
    const auto silent = std::chrono::duration_cast<std::chrono::milliseconds>(now - node.last_seen);
    if (!node.down && silent > config_.node_timeout)
      MarkNodeDown(static_cast<int>(i), fmt::format("no heartbeat for {:.1f} s", silent.count() / 1000.0));
    if (node.down && !node.jobs.empty() && now >= FenceAt(node)) LoseNodeJobs(static_cast<int>(i));
  }
}

void Controller::SchedulePass(Seconds now, bool full) {
  // A new organisation model (PUT /org, a grant added): the state meters it.
  if (auto org = org_.Config(); org != state_org_) {
    state_org_ = org;
    state_.SetOrg(StateOrg(*org));
    state_.SetPartitions(org->partitions);
    ApplyRentPolicy(api::RentPolicyOf(*org));
  }
  if (nodes_.empty()) return;
  RefreshReservations(now);  // the nodes changed: the reservations pick theirs again
  SplitPendingArrays();
  // Every waiting job gets a reason; past 1,000 of them, at most once a second.
  const auto steady = SteadyNow();
  PassOptions options;
  options.explain = state_.waiting_count() <= 1000 || steady - last_explain_ >= std::chrono::seconds(1);
  options.force = full;
  Changes c = state_.Pass(now, rng_, options);
  if (!c.decided) {
    if (full) PlanRentAndAct(now, nullptr);  // time-outs of rented nodes
    return;
  }
  if (options.explain) last_explain_ = steady;

  for (Started& st : c.started) {
    JobRec& rec = jobs_.at(st.job);
    rec.alloc = std::move(st.allocation);
    rec.grant = std::move(st.grant);
    rec.reserved = st.reserved;
    // Metered without a time limit: the reservation assumed the default
    // one, so it is enforced.
    if (!rec.grant.empty() && !rec.view.spec.time_limit_s) {
      rec.view.spec.time_limit_s = config_.default_time_limit_s;
      rec.job.time_limit = config_.default_time_limit_s;
    }
    rec.view.placement.clear();
    for (size_t i = 0; i < rec.alloc.shares.size(); ++i) {
      const NodeShare& s = rec.alloc.shares[i];
      NodeRec& node = nodes_[s.node];
      api::Placement pl;
      pl.node = node.info.name;
      pl.gpus = s.gpu_indices;
      for (int g : s.gpu_indices) {
        auto it = std::find_if(node.info.gpus.begin(), node.info.gpus.end(), [&](const api::GpuInfo& x) { return x.index == g; });
        pl.gpu_uuids.push_back(it == node.info.gpus.end() ? std::string() : it->uuid);
      }
      pl.gpu_milli = s.gpu_milli;
      pl.rank = static_cast<int>(i);
      rec.view.placement.push_back(std::move(pl));
      node.jobs.insert(rec.view.id);
      placed_nodes_.insert(s.node);
    }
    rec.tasks.assign(rec.alloc.shares.size(), TaskState{});
    rec.stop = StopReason::kNone;
    rec.view.attempt += 1;
    SetState(rec, JobState::kStarting);
    counters_.started += 1;
    rec.why = api::JobWhy{};
    rec.view.estimated_start.reset();
    rec.view.reason = st.backfilled ? "Backfilled" : "";
    rec.view.message = st.backfilled ? "started ahead of the queue's head without delaying it" : "";
    rec.view.start_time = now;
    rec.view.end_time.reset();
    rec.view.exit_code.reset();
    rec.view.signal.reset();
    Persist(rec);
  }
  for (const Preempt& p : c.preempted) {
    JobRec& rec = jobs_.at(p.job);
    if (rec.view.state != JobState::kStarting && rec.view.state != JobState::kRunning) continue;
    Stop(rec, StopReason::kPreempted);
    counters_.preempted += 1;
    rec.view.message = p.reason;
  }
  for (const Reject& r : c.rejected) {
    JobRec& rec = jobs_.at(r.job);
    if (rec.view.state != JobState::kPending) continue;
    SetState(rec, JobState::kFailed);
    rec.view.reason = "Unschedulable";
    rec.view.message = r.reason;
    rec.view.end_time = now;
    Persist(rec);
  }
  for (const Wait& w : c.waiting) {
    JobRec& rec = jobs_.at(w.job);
    if (rec.view.state != JobState::kPending) continue;
    ExplainWait(rec, w, now);
  }
  if (c.violation) fmt::print(stderr, "kojod: a scheduling decision was dropped: {}\n", *c.violation);
  // Renting: after the waits are explained (its notes add to theirs).
  PlanRentAndAct(now, options.explain ? &c.waiting : nullptr);
}

// A waiting job's reason, as the pass gave it (with the job's estimate).
void Controller::ExplainWait(JobRec& rec, const Wait& w, Seconds now) {
  api::JobWhy& why = rec.why;
  why = api::JobWhy{};
  why.reason = std::string(ToString(w.reason));
  why.message = WaitMessage(w);
  why.as_of = now;
  why.jobs_ahead = w.jobs_ahead;
  why.gpu_hours_ahead = w.gpu_hours_ahead;
  why.confidence = std::string(ToString(w.confidence));
  why.confidence_message = std::string(w.confidence_text);
  if (w.estimated_start) why.estimated_start = std::max(now, *w.estimated_start);
  rec.view.reason = why.reason;
  rec.view.message = why.estimated_start && *why.estimated_start > now
                         ? fmt::format("{}; estimated start {}", why.message, api::IsoTime(*why.estimated_start))
                         : why.message;
  rec.view.estimated_start = why.estimated_start;
}

}  // namespace kojo::controller
