// Scheduler scenarios: one small text file holds a cluster, an optional
// organisation, running and pending jobs, the scheduler's configuration and
// the decisions one pass is expected to make. The format is documented in
// tests/testdata/sched/README.md; scenario_test.cc runs every file there.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "sched/scheduler.h"

namespace kojo::testing {

// One decision, expected or made: "place 3 on=a100-0:0,1 backfilled",
// "wait 2 Resources start=3600", "reject 5 because needs 16 GPUs".
struct DecisionLine {
  std::string kind;  // place, preempt, wait, reject
  JobId job = 0;
  // Named values, in canonical form: "reason", "on", "start",
  // "backfilled" ("yes"/"no", place only). An expectation holds only those
  // it names ("backfilled" always for place).
  std::map<std::string, std::string> fields;
  std::string because;  // expected: a part of the message; made: the message
  int line = 0;         // in the scenario file (expectations)

  std::string ToString() const;
  // True if `made` is this expectation's decision: same kind and job, the
  // same value for every field named here, and `because` within its message.
  bool Matches(const DecisionLine& made) const;
};

struct Scenario {
  std::string file;  // for messages
  std::string about; // the leading comment
  std::vector<NodeSpec> specs;
  std::vector<bool> drained;
  std::string policy = "fifo";
  std::string placer = "bestfit";
  SchedulerConfig config{/*backfill=*/false, /*explain_waits=*/true};
  PolicyConfig policy_config;
  Seconds now = 0;
  std::uint64_t seed = 1;
  std::optional<OrgPolicy> org;
  struct Usage {
    std::string project, user;
    double gpu_hours = 0;
  };
  std::vector<Usage> usage;
  std::deque<Job> jobs;  // stable addresses for the entries below
  std::vector<JobEntry> running, pending;
  std::vector<DecisionLine> expected;
};

// Reads a scenario; errors read "FILE:LINE: FIELD: what was expected".
Result<Scenario> ReadScenario(const std::string& path);
Result<Scenario> ParseScenario(const std::string& text, const std::string& file);

// Runs one pass on the scenario: the decisions it makes, one line each, in
// the order of Decisions (placed, preempted, waiting, rejected).
std::vector<DecisionLine> RunScenario(const Scenario& s);

// "a100-0:0-3+a100-1:4" for an allocation.
std::string AllocationText(const std::vector<NodeSpec>& specs, const Allocation& a);

}  // namespace kojo::testing
