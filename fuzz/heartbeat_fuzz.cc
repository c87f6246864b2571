// libFuzzer target: what agents send kojod (register and heartbeat bodies:
// the node, its GPUs, its task reports, the log key) and what they read
// back (the reply: start and kill commands, acknowledgements). The first
// byte picks the body; most inputs go to the heartbeat decoder, as in life.
// fuzz/api_checks.h says what is checked.
//
//   build/fuzz/fuzz/heartbeat_fuzz -max_total_time=60 CORPUS_COPY fuzz/corpus/heartbeat_fuzz
#include <cstddef>
#include <cstdint>

#include "api_checks.h"

using namespace kojo;
using namespace kojo::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto [which, body] = Select(data, size, 8);
  switch (which) {
    case 0: CheckReply(body, api::TaskReportFromJson, "TaskReport"); break;
    case 1: CheckReply(body, api::NodeInfoFromJson, "NodeInfo"); break;
    case 2: CheckReply(body, api::HeartbeatReplyFromJson, "HeartbeatReply"); break;
    case 3: CheckReply(body, api::StartCommandFromJson, "StartCommand"); break;
    case 4: CheckReply(body, api::KillCommandFromJson, "KillCommand"); break;
    default: CheckHeartbeatBody(body); break;
  }
  return 0;
}
