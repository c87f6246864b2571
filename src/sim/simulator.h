// Simulator: discrete-event replay of a job trace on a cluster, driven by
// the cluster state kojod runs (state/cluster_state.h): the same snapshot,
// the same Scheduler, the same rules around it. Owns a simulated clock;
// reads no wall clock except to report its own run time.
//
// Events are arrivals (submit times) and completions (start + restart
// penalty + remaining work, or the time limit). After each batch of events
// at one time, and every `round_s` seconds while jobs wait if round_s > 0,
// the simulator asks the cluster state for a pass and follows what it
// changed (a pass that preempts is followed at once by another, since
// preempted jobs leave instantly here):
//   Place   - takes the allocation, schedules the completion; a job that
//             was preempted before pays `restart_penalty_s` first;
//   Preempt - gives the resources back and requeues the job; it keeps its
//             attained service and its remaining work;
//   Reject  - the job never runs (counted, with the reason).
// A job whose time limit is below its true duration is killed when its
// useful work reaches the limit (the limit bounds work, not restart time).
// No pass is asked for when nothing arrived or ended since the last one;
// the cluster state skips Decide when it cannot change anything.
// Thread safety: none; one simulation per Scheduler at a time.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "model/job.h"
#include "model/node.h"
#include "sched/scheduler.h"
#include "state/cluster_state.h"

namespace kojo {

// Programmes, shares, quotas and grants for a replay (SimConfig::org),
// metered by the cluster state exactly as kojod meters them: a start
// reserves the job's cost by its time limit (or the policy's default)
// against one of its project's grants active then, the one ending soonest
// with enough left; the run's end charges the cost of the time it really
// ran (capped at the reservation) and frees the reservation. Fair share is
// charged in normalised units. Grant times are Unix seconds; trace time t
// is Unix time t + grant_time_offset.
using SimOrg = ClusterOrg;

struct SimConfig {
  Seconds round_s = 0;            // 0 = schedule on events only
  Seconds restart_penalty_s = 0;  // paid by every restart after a preemption
  std::uint64_t seed = 42;        // for the placer's random choices
  Seconds usage_half_life_s = 7 * 24 * 3600;  // fair-share usage decay
  // Check every placement against the free resources and the job's demand
  // (cheap; on by default). A violation stops the run with an error.
  bool check_invariants = true;
  // Number of points of the utilisation time series (evenly spaced buckets).
  int series_points = 200;
  // Keep every run (job, interval, allocation) in SimResult::runs, for
  // tests that check the schedule independently.
  bool record_runs = false;
  // Organisation (must outlive the run); null = one flat pool.
  const SimOrg* org = nullptr;
  // Partitions (the organisation document's): jobs enter them as kojod
  // admits them (ClusterState::Admit); a job refused is rejected.
  std::vector<Partition> partitions;
  // Renting partner capacity (model/rent.h; must outlive the run; null or
  // no providers = none): every `rent_interval_s` while jobs wait or rented
  // nodes are in use, an explaining pass and ClusterState::PlanRent; a
  // rented node comes up after its provider's startup_s, is given back at
  // once when released, and its jobs are requeued when its paid time ends.
  const RentPolicy* rent = nullptr;
  Seconds rent_interval_s = 300;
  // Reservations (model/reservation.h), in trace time; held as kojod holds
  // them (ClusterState::SetReservations). One that cannot be held fails the run.
  std::vector<Reservation> reservations;
};

enum class JobOutcome { kCompleted, kKilled, kRejected, kUnfinished };
std::string_view ToString(JobOutcome o);

struct JobRecord {
  JobId id = 0;
  std::string project;
  int gpus = 0;
  MilliGpu gpu_milli = kWholeGpu;
  Seconds submit = 0;
  std::optional<Seconds> start;  // first start
  std::optional<Seconds> end;    // completion or kill
  int preemptions = 0;
  JobOutcome outcome = JobOutcome::kUnfinished;
  std::string reason;  // why rejected
  std::optional<Seconds> Jct() const {
    return end ? std::optional<Seconds>(*end - submit) : std::nullopt;
  }
  std::optional<Seconds> WaitTime() const {
    return start ? std::optional<Seconds>(*start - submit) : std::nullopt;
  }
};

// One bucket of the time series: mean over [t, t + width).
struct SeriesPoint {
  Seconds t = 0;
  double gpu_utilization = 0;  // busy GPUs / total GPUs
  double pending_jobs = 0;     // mean number of waiting jobs
};

struct SimMetrics {
  std::int64_t jobs = 0, completed = 0, killed = 0, rejected = 0, unfinished = 0;
  // JCT = end - submit over jobs that ended (completed or killed); wait =
  // first start - submit over jobs that started. Percentiles: nearest rank.
  double avg_jct_s = 0, p50_jct_s = 0, p99_jct_s = 0;
  double avg_wait_s = 0, p50_wait_s = 0, p99_wait_s = 0;
  Seconds makespan_s = 0;        // last end (or last event) - first submit
  double gpu_utilization = 0;    // busy GPU-seconds / (GPUs x makespan)
  std::int64_t preemptions = 0;
  std::int64_t decide_calls = 0;
  double sim_wall_s = 0;
  int total_gpus = 0;
  // Renting (SimConfig::rent; `renting` says it was on): money spent (in the currency, settled and
  // running rent at the end), GPU-hours rented, nodes rented.
  bool renting = false;
  double rent_cost = 0;
  double rented_gpu_hours = 0;
  std::int64_t rented_nodes = 0;
};

// One run of a job: from a start to its completion, kill or preemption.
struct RunRecord {
  JobId job = 0;
  Seconds start = 0, end = 0;
  Allocation allocation;
};

// Busy GPUs by programme over time (organisations only): for each series
// bucket, each programme's share of the busy GPU-time in it (0..1; all 0
// in a bucket with nothing busy). Programmes in name order; "" gathers
// projects the organisation does not name.
struct ProgrammeSeries {
  std::vector<std::string> programmes;
  std::vector<Seconds> t;                  // bucket starts, as SeriesPoint::t
  std::vector<std::vector<double>> share;  // [programme][bucket]
};

struct SimResult {
  SimMetrics metrics;
  ProgrammeSeries programme_series;  // with SimConfig::org only
  std::vector<JobRecord> jobs;  // in submit order
  std::vector<SeriesPoint> series;
  std::vector<RunRecord> runs;  // only with SimConfig::record_runs
};

// Called now and then with the fraction of jobs that have arrived (0..1).
using ProgressFn = std::function<void(double)>;

// Replays `jobs` (sorted by submit time, ids unique) on `nodes`. Fails on
// input it cannot run (no nodes, unsorted or duplicate jobs) or when the
// scheduler returns a decision that breaks the cluster's rules.
Result<SimResult> Simulate(const std::vector<NodeSpec>& nodes, const std::vector<Job>& jobs,
                           Scheduler& scheduler, const SimConfig& config,
                           const ProgressFn& progress = nullptr);

// Metrics from per-job records and the busy GPU-second integral (exposed
// for tests that replay records).
SimMetrics Summarize(const std::vector<JobRecord>& jobs, double busy_gpu_s, int total_gpus,
                     Seconds last_event);

}  // namespace kojo
