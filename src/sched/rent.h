// PlanRent: which nodes to rent from partner providers now, and why each
// waiting job is or is not getting rented capacity. Pure: the caller (the
// cluster state) gives the jobs a pass left waiting for capacity, the rented
// nodes it knows, each provider's availability and each account's money
// left; no clock, no I/O.
//
// The rule, job by job in queue order:
//  - a job that opted out (--no-rent), whose project has no account, or that
//    no provider's node can hold (renting serves jobs that fit one node) is
//    not a candidate;
//  - a job that fits a rented node still starting for its account waits for
//    it (rented nodes are filled before more are rented);
//  - otherwise it joins a node planned in this call for its account (same
//    provider, room left) or opens one with the cheapest available provider
//    (per GPU-hour) that can hold it and is below its most nodes.
// Then each planned node is rented when the waiting it saves is worth more
// than its rent: the sum over its jobs of
//     max(0, planned wait - provider start-up) x the job's GPUs x the
//     account's value per GPU-hour of waiting
// must exceed price x the node's GPUs x (start-up + the longest time limit
// of its jobs), and the account must have that much left (the rent is
// reserved when the node starts). A job's planned wait is its estimated
// start less now; without one (too far back in the queue, or it waits on
// jobs without a time limit) the largest planned wait of the jobs ahead of
// it, at least RentPolicy::unknown_wait_s. RentPolicy::always (a baseline
// for comparisons) rents every planned node, whatever its value and budget.
// Jobs that wait on quota, grants, holds or array limits never reach here:
// renting would not start them.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/job.h"
#include "model/rent.h"

namespace kojo {

// A job the pass left waiting for capacity (Priority or Resources), in queue order.
struct RentCandidate {
  const Job* job = nullptr;
  std::optional<Seconds> estimated_start;
};

// A rented node that is starting (its agent has not registered yet): jobs
// that fit it wait for it rather than rent another.
struct StartingNode {
  NodeIndex node = 0;
  int provider = 0;  // into RentPolicy::providers
  std::string account;
  std::string name;
  Seconds ready_at = 0;  // expected
  NodeState free;        // what is not yet promised to a waiting job
};

struct ProviderAvailability {
  int rented = 0;                  // nodes rented now (starting, up, stopping)
  Seconds available_at = 0;        // no start before then (back-off after failures)
  std::string unavailable_reason;  // why, when available_at is later than now
};

struct RentInput {
  Seconds now = 0;
  const RentPolicy* policy = nullptr;
  std::vector<RentCandidate> waiting;
  std::vector<StartingNode> starting;
  std::vector<ProviderAvailability> providers;  // parallel to policy->providers
  std::unordered_map<std::string, Money> left;  // by account: budget - spent - reserved
  Seconds default_time_limit = 24 * 3600;       // for jobs without one
};

// One node to rent.
struct RentOrder {
  int provider = 0;
  std::string account;
  std::vector<JobId> jobs;   // the jobs it is rented for, in queue order
  Seconds planned_s = 0;     // start-up + the longest time limit of its jobs
  Money cost = 0;            // rent over planned_s (reserved at start)
  Money value = 0;           // the waiting it saves, by the account's value
};

// Why a waiting job is (or is not) getting rented capacity, for `kojo why`.
struct RentNote {
  JobId job = 0;
  std::string text;
};

struct RentPlan {
  std::vector<RentOrder> orders;
  std::vector<RentNote> notes;
};

RentPlan PlanRent(const RentInput& in);

}  // namespace kojo
