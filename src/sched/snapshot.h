// ClusterSnapshot: everything the scheduling core knows at one moment. The
// caller (controller or simulator) builds it; sched never reads a clock,
// a file or a global.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "model/job.h"
#include "model/node.h"
#include "model/org.h"

namespace kojo {

// The part of one node a job holds.
struct NodeShare {
  NodeIndex node = 0;
  std::vector<int> gpu_indices;  // GPUs on that node, ascending
  MilliGpu gpu_milli = kWholeGpu;  // taken on each of those GPUs
  MilliCpu cpu_milli = 0;
  MiB mem_mib = 0;
};

struct Allocation {
  std::vector<NodeShare> shares;  // one per node, in placement order
  int GpuCount() const {
    int n = 0;
    for (const auto& s : shares) n += static_cast<int>(s.gpu_indices.size());
    return n;
  }
};

// Takes / gives back an allocation's resources on `nodes`.
void Apply(std::vector<NodeState>& nodes, const Allocation& a);
void Release(std::vector<NodeState>& nodes, const Allocation& a);

// A job as the policies see it, running or not. `job` must outlive the call.
struct JobEntry {
  const Job* job = nullptr;
  // The job's member (its project and user) as a small number: in one
  // snapshot, the same number for the same member and another for another,
  // so that per-member tables (fair share) can index a vector instead of
  // hashing names; -1 = none given (a snapshot built by hand). ClusterState
  // gives them.
  int member_id = -1;
  // GPU-seconds received in earlier runs; the current run (running jobs)
  // is added by whoever needs it: (now - started) x GPUs.
  Seconds attained_gpu_s = 0;
  Seconds queued_since = 0;    // when it last entered the queue (submit, requeue)
  Seconds last_run_s = 0;      // length of its previous run, 0 if none
  // Running jobs only:
  Seconds started = 0;         // start of the current run
  Allocation allocation;
};

// Decayed usage per project and per project/user, in GPU-seconds, for fair
// share. The caller charges a run's usage when the run ends (completion,
// preemption, kill); the fair-share policy adds the runs still going. sched
// only reads it. With an organisation (ClusterSnapshot::org) the caller
// charges normalised units (NormUnits: milli-GPU-seconds x the weight of the
// GPU model the run used) with the programme-level Charge, so that usage
// counts at three levels: programme, project and user.
class UsageLedger {
 public:
  explicit UsageLedger(Seconds half_life = 7 * 24 * 3600) : half_life_(half_life) {}
  void Charge(const std::string& project, const std::string& user, double gpu_seconds, Seconds now);
  // Three levels: charges the programme as well as the project and user.
  void Charge(const std::string& programme, const std::string& project, const std::string& user, double units,
              Seconds now);
  double Programme(const std::string& programme, Seconds now) const;
  // Usage decayed to `now`.
  double Project(const std::string& project, Seconds now) const;
  double User(const std::string& project, const std::string& user, Seconds now) const;
  Seconds half_life() const { return half_life_; }

 private:
  struct Decayed {
    double value = 0;
    Seconds at = 0;
  };
  double DecayTo(const Decayed& d, Seconds now) const;
  void Add(Decayed& d, double v, Seconds now);
  Seconds half_life_;
  std::unordered_map<std::string, Decayed> projects_;
  std::unordered_map<std::string, Decayed> users_;  // key: project + '\0' + user
  std::unordered_map<std::string, Decayed> programmes_;
};

struct ClusterSnapshot {
  std::vector<NodeSpec> specs;    // per node, same order as `nodes`
  std::vector<NodeState> nodes;   // free resources now (running jobs subtracted)
  // Node priority for ties: lower rank wins. Empty = node index order.
  std::vector<int> tie_rank;
  std::vector<JobEntry> running;
  std::vector<JobEntry> pending;  // any order; the policy orders them
  const UsageLedger* usage = nullptr;  // for fair share; may be null
  // Programmes, shares, quotas and grants left; null = one flat pool with
  // no quotas and no grants (as before organisations existed).
  const OrgPolicy* org = nullptr;
};

}  // namespace kojo
