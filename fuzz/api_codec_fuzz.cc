// libFuzzer target: every decoder of the API, on arbitrary bytes. The first
// byte picks the body (the request bodies kojod decodes, the replies the CLI
// and the agent decode, and the texts inside them); the rest is the body.
// fuzz/api_checks.h says what is checked.
//
//   cmake --preset fuzz && cmake --build --preset fuzz -j2
//   build/fuzz/fuzz/api_codec_fuzz -max_total_time=60 CORPUS_COPY fuzz/corpus/api_codec_fuzz
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "api_checks.h"

using namespace kojo;
using namespace kojo::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto [which, body] = Select(data, size, 16);
  switch (which) {
    // Request bodies.
    case 0: CheckSubmitBody(body); break;
    case 1: CheckHeartbeatBody(body); break;
    case 2: CheckOrgBody(body); break;
    case 3: CheckGrantBody(body); break;
    // Replies.
    case 4: CheckReply(body, api::JobViewFromJson, "JobView"); break;
    case 5: CheckReply(body, api::JobWhyFromJson, "JobWhy"); break;
    case 6: CheckReply(body, api::NodeViewFromJson, "NodeView"); break;
    case 7: CheckReply(body, api::HeartbeatReplyFromJson, "HeartbeatReply"); break;
    case 8: CheckReply(body, api::StartCommandFromJson, "StartCommand"); break;
    case 9: CheckReply(body, api::KillCommandFromJson, "KillCommand"); break;
    case 10: CheckReply(body, api::TaskReportFromJson, "TaskReport"); break;
    case 11: CheckReply(body, api::PlacementFromJson, "Placement"); break;
    case 12: CheckReply(body, api::NodeInfoFromJson, "NodeInfo"); break;
    // Texts inside bodies.
    case 13: CheckArraySpec(body); break;
    case 14: CheckIsoTime(body); break;
    default: {
      ParseBody(body);
      // IsoTime of any second: clamped, never out of its 20 characters.
      if (body.size() >= 8) {
        std::int64_t t;
        std::memcpy(&t, body.data(), sizeof t);
        Check(api::IsoTime(t).size() == 20, "IsoTime: length", api::IsoTime(t));
      }
      break;
    }
  }
  return 0;
}
