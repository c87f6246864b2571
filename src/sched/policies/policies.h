// Factories of the built-in policies; MakePolicy (policy.cc) maps names to
// these. Each policy lives in its own .cc file.
#pragma once

#include <memory>

#include "sched/policy.h"

namespace kojo {

// First come, first served by submit time.
std::unique_ptr<Policy> MakeFifoPolicy();
// Shortest job first by the trace's true duration (an oracle bound: only
// the simulator knows it); jobs without one go last, by submit time.
std::unique_ptr<Policy> MakeSjfPolicy();
// Discretized two-dimensional least-attained-service (Gu et al., NSDI'19).
std::unique_ptr<Policy> MakeTiresiasPolicy(const PolicyConfig& config);
// Fair Tree style fair share: projects, then users, by share / decayed usage.
std::unique_ptr<Policy> MakeFairSharePolicy(const PolicyConfig& config);

}  // namespace kojo
