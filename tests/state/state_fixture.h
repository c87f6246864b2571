// What the cluster state's tests share: a scheduler and a ClusterState on
// a cluster spec, the jobs kept at stable addresses (the state points to
// them), submissions, passes, and lookups in what a pass changed. Each
// test file adds its own way of making jobs and its organisation.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "model/cluster.h"
#include "sched/fixtures.h"
#include "state/cluster_state.h"

namespace kojo::testing {

class StateTest : public ::testing::Test {
 protected:
  // A fresh state on `cluster` ("2x4xA100"), `policy` with bestfit and
  // backfill; explanations are asked for per pass.
  void Use(const std::string& policy, const std::string& cluster) {
    sched_ = std::make_unique<Scheduler>(MakeScheduler(policy, "bestfit", /*backfill=*/true));
    state_ = std::make_unique<ClusterState>(*sched_, 3600);
    auto nodes = ParseClusterSpec(cluster);
    ASSERT_TRUE(nodes.ok()) << nodes.error().message;
    for (const NodeSpec& n : *nodes) state_->AddNode(n);
  }
  // Keeps `j` where the state may point to it.
  Job& Keep(Job j) {
    jobs_.push_back(std::move(j));
    return jobs_.back();
  }
  // A job of `gpus` whole GPUs of user "u".
  Job& MakeJob(JobId id, int gpus, std::optional<Seconds> limit, const std::string& project) {
    Job j;
    j.id = id;
    j.project = project;
    j.user = "u";
    j.demand.gpus = gpus;
    j.time_limit = limit;
    return Keep(std::move(j));
  }
  void Submit(const Job& j, Seconds now, std::optional<JobId> array = std::nullopt, int max_running = 0) {
    QueuedJob q;
    q.job = &j;
    q.queued_since = now;
    q.array_id = array;
    q.max_running = max_running;
    state_->Enqueue(j.id, q);
  }
  // `force`: decide even when nothing seems to have changed.
  Changes Pass(Seconds now, bool explain = true, bool force = false) {
    PassOptions o;
    o.explain = explain;
    o.force = force;
    return state_->Pass(now, rng_, o);
  }
  static std::vector<JobId> StartedIds(const Changes& c) {
    std::vector<JobId> ids;
    for (const Started& s : c.started) ids.push_back(s.job);
    return ids;
  }
  static const Wait* WaitOf(const Changes& c, JobId id) {
    for (const Wait& w : c.waiting)
      if (w.job == id) return &w;
    return nullptr;
  }

  std::unique_ptr<Scheduler> sched_;
  std::unique_ptr<ClusterState> state_;
  std::deque<Job> jobs_;
  Rng rng_{1};
};

}  // namespace kojo::testing
