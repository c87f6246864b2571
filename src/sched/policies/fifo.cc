#include "sched/policies/policies.h"

namespace kojo {

namespace {

class FifoPolicy final : public Policy {
 public:
  std::string_view Name() const override { return "fifo"; }
  PriorityKey Key(const JobEntry& e, Seconds) const override {
    return {e.job->submit_time, 0, 0};
  }
};

class SjfPolicy final : public Policy {
 public:
  std::string_view Name() const override { return "sjf"; }
  PriorityKey Key(const JobEntry& e, Seconds) const override {
    return {e.job->true_duration.value_or(kForever), e.job->submit_time, 0};
  }
};

}  // namespace

std::unique_ptr<Policy> MakeFifoPolicy() { return std::make_unique<FifoPolicy>(); }
std::unique_ptr<Policy> MakeSjfPolicy() { return std::make_unique<SjfPolicy>(); }

}  // namespace kojo
