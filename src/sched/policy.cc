#include "sched/policy.h"

#include <fmt/format.h>

#include "sched/policies/policies.h"

namespace kojo {

std::vector<std::string> PolicyNames() { return {"fifo", "sjf", "tiresias", "fairshare"}; }

Result<std::unique_ptr<Policy>> MakePolicy(std::string_view name, const PolicyConfig& config) {
  if (name == "fifo") return MakeFifoPolicy();
  if (name == "sjf") return MakeSjfPolicy();
  if (name == "tiresias") return MakeTiresiasPolicy(config);
  if (name == "fairshare") return MakeFairSharePolicy(config);
  return InvalidArgument(fmt::format("policy: unknown '{}' (expected one of: {})", name,
                                     fmt::join(PolicyNames(), ", ")));
}

}  // namespace kojo
