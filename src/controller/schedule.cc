// Controller: the scheduling loop. Wakes on a change or every tick, marks
// silent nodes DOWN, builds a ClusterSnapshot, calls Scheduler::Decide and
// applies the decisions; the agents hear of placements once they are durable.
#include <algorithm>
#include <unordered_map>

#include <fmt/format.h>

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
    bool full = false;
    if (std::chrono::steady_clock::now() >= next_tick) {
      full = true;
      CheckNodes();
      next_tick = std::chrono::steady_clock::now() + tick;
      sched_dirty_ = true;  // wait reasons and estimates age
    }
    if (!sched_dirty_) continue;
    sched_dirty_ = false;
    placed_nodes_.clear();
    SchedulePass(Now(), full);
    const std::uint64_t before = commit_.queued();
    const std::uint64_t seq = Flush();
    if (seq != before) {
      lock.unlock();
      commit_.WaitDurable(seq);
      lock.lock();
      for (int n : placed_nodes_) WakeNode(n);
    }
  }
}

void Controller::CheckNodes() {
  const auto now = SteadyNow();
  for (size_t i = 0; i < nodes_.size(); ++i) {
    NodeRec& node = nodes_[i];
    if (node.down) continue;
    if (node.polls > 0) {
      node.last_seen = now;
      continue;
    }
    const auto silent = std::chrono::duration_cast<std::chrono::milliseconds>(now - node.last_seen);
    if (silent > config_.node_timeout)
      LoseNode(static_cast<int>(i), fmt::format("no heartbeat for {:.1f} s", silent.count() / 1000.0));
  }
}

void Controller::SchedulePass(Seconds now, bool full) {
  if (nodes_.empty()) return;
  SplitPendingArrays();
  if (pending_.empty()) return;
  ClusterSnapshot snap;
  snap.specs.reserve(nodes_.size());
  snap.nodes.reserve(nodes_.size());
  for (const NodeRec& n : nodes_) {
    snap.specs.push_back(n.spec);
    NodeState s = NodeState::Empty(n.spec);
    s.schedulable = n.State() == api::NodeState::kUp;
    snap.nodes.push_back(s);
  }
  std::unordered_map<JobId, int> array_running;
  for (JobId id : active_) {
    const JobRec& rec = jobs_.at(id);
    JobEntry e;
    e.job = &rec.job;
    e.attained_gpu_s = rec.attained_gpu_s;
    e.queued_since = rec.queued_since;
    e.last_run_s = rec.last_run_s;
    e.started = rec.view.start_time.value_or(now);
    e.allocation = rec.alloc;
    Apply(snap.nodes, rec.alloc);
    snap.running.push_back(std::move(e));
    if (rec.max_running > 0 && rec.view.array_id) ++array_running[*rec.view.array_id];
  }
  // Nothing can start (no free GPU, every pending job needs one, and no
  // preemption): skip the pass until the next change or tick.
  if (!full && pending_cpu_only_ == 0 && !fast_->policy().Preemptive()) {
    bool free_gpu = false;
    for (const NodeState& s : snap.nodes) free_gpu = free_gpu || (s.schedulable && s.GpuMilliFree() > 0);
    if (!free_gpu) return;
  }
  for (JobId id : pending_) {
    JobRec& rec = jobs_.at(id);
    if (rec.max_running > 0 && rec.view.array_id) {
      int& running = array_running[*rec.view.array_id];
      if (running >= rec.max_running) {  // "%N": the rest of the array waits
        if (rec.why.reason != "ArrayLimit") {
          rec.why = api::JobWhy{};
          rec.why.reason = rec.view.reason = "ArrayLimit";
          rec.why.message = rec.view.message =
              fmt::format("array {} runs at most {} tasks at once", *rec.view.array_id, rec.max_running);
          rec.why.as_of = now;
          rec.view.estimated_start.reset();
        }
        continue;
      }
      ++running;
    }
    JobEntry e;
    e.job = &rec.job;
    e.attained_gpu_s = rec.attained_gpu_s;
    e.queued_since = rec.queued_since;
    e.last_run_s = rec.last_run_s;
    snap.pending.push_back(std::move(e));
  }
  // Programmes, quotas and what each project's grants have left (awarded -
  // used - reserved); none while no project is defined (one flat pool).
  auto org = org_.Config();
  if (!org->projects.empty()) {
    policy_ = api::PolicyOf(*org, now, /*meter_grants=*/true,
                            [this](const Grant& g) { return ledger_.Spent(g.id); });
    policy_.default_time_limit = config_.default_time_limit_s;
    snap.org = &policy_;
  }
  snap.usage = &ledger_.fair();
  const auto steady = SteadyNow();
  const bool explain = snap.pending.size() <= 1000 || steady - last_explain_ >= std::chrono::seconds(1);
  if (explain) last_explain_ = steady;
  Decisions d = (explain ? explain_ : fast_)->Decide(snap, now, rng_);

  for (Place& p : d.placed) {
    JobRec& rec = jobs_.at(p.job);
    rec.alloc = std::move(p.allocation);
    if (!Reserve(rec, now)) {  // no grant of its project has enough left: it waits
      rec.alloc.shares.clear();
      continue;
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
    rec.why = api::JobWhy{};
    rec.view.estimated_start.reset();
    rec.view.reason = p.backfilled ? "Backfilled" : "";
    rec.view.message = p.backfilled ? "started ahead of the queue's head without delaying it" : "";
    rec.view.start_time = now;
    rec.view.end_time.reset();
    rec.view.exit_code.reset();
    rec.view.signal.reset();
    Persist(rec);
  }
  for (const Preempt& p : d.preempted) {
    JobRec& rec = jobs_.at(p.job);
    if (rec.view.state != JobState::kStarting && rec.view.state != JobState::kRunning) continue;
    Stop(rec, StopReason::kPreempted);
    rec.view.message = p.reason;
  }
  for (const Reject& r : d.rejected) {
    JobRec& rec = jobs_.at(r.job);
    if (rec.view.state != JobState::kPending) continue;
    SetState(rec, JobState::kFailed);
    rec.view.reason = "Unschedulable";
    rec.view.message = r.reason;
    rec.view.end_time = now;
    Persist(rec);
  }
  for (const Wait& w : d.waiting) {
    JobRec& rec = jobs_.at(w.job);
    if (rec.view.state != JobState::kPending) continue;
    ExplainWait(rec, w, now);
  }
}

void Controller::ExplainWait(JobRec& rec, const Wait& w, Seconds now) {
  api::JobWhy& why = rec.why;
  why = api::JobWhy{};
  why.reason = std::string(ToString(w.reason));
  why.message = w.message;
  why.as_of = now;
  why.jobs_ahead = w.jobs_ahead;
  why.gpu_hours_ahead = w.gpu_hours_ahead;
  why.confidence = std::string(ToString(w.confidence));
  why.confidence_message = std::string(w.confidence_text);
  if (w.estimated_start) why.estimated_start = std::max(now, *w.estimated_start);
  // Resources missing because the nodes that could run it are draining or
  // down: say so, and drop an estimate that assumed them.
  if (w.reason == WaitReason::kResources) {
    ClusterSnapshot up;
    std::vector<std::string> out_of_service;
    bool draining = false;
    for (const NodeRec& n : nodes_) {
      const api::NodeState st = n.State();
      if (st == api::NodeState::kUp) up.specs.push_back(n.spec);
      else out_of_service.push_back(n.info.name);
      draining = draining || st == api::NodeState::kDraining || st == api::NodeState::kDrained;
    }
    if (!out_of_service.empty() && explain_->Infeasible(up, rec.job)) {
      why.reason = draining ? "NodeDrain" : "NodeDown";
      why.message = fmt::format("no node in service can run it; nodes draining or down: {}",
                                fmt::join(out_of_service.begin(),
                                          out_of_service.begin() + std::min<size_t>(out_of_service.size(), 8), ", "));
      why.estimated_start.reset();
      why.confidence = "none";
      why.confidence_message = "it starts once a node that can run it is resumed or comes back";
    }
  }
  rec.view.reason = why.reason;
  rec.view.message = why.estimated_start && *why.estimated_start > now
                         ? fmt::format("{}; estimated start {}", why.message, api::IsoTime(*why.estimated_start))
                         : why.message;
  rec.view.estimated_start = why.estimated_start;
}

}  // namespace kojo::controller
