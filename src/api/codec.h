// JSON codecs of the API's wire types. Decoders never throw: a bad document
// gives an Error whose message names the field and what was expected, e.g.
// "gpus: expected an integer 0..100000, got \"two\"".
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "api/types.h"
#include "common/result.h"

namespace kojo::api {

using Json = nlohmann::json;

// Characters (code points) of UTF-8 text: the bytes that do not continue one.
inline size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// The offset of the first byte of `s` that is not part of well-formed
// UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
// U+10FFFF, no cut-off sequence); npos when all of `s` is UTF-8. JSON text
// is UTF-8: a string that is not cannot be sent (serialising it throws).
inline size_t Utf8Invalid(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
    if (c < 0x80) n = 1;
    else if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return i;
    if (n > 1) {
      if (i + n > s.size() || b(i + 1) < lo || b(i + 1) > hi) return i;
      for (size_t k = 2; k < n; ++k)
        if ((b(i + k) & 0xC0) != 0x80) return i;
    }
    i += n;
  }
  return std::string_view::npos;
}

// How deep lists and objects may nest in a document ParseJson accepts. Ours
// need at most 5 (a start command's spec's env inside a heartbeat reply);
// the bound keeps recursive walks of a parsed value (dump, copy, compare)
// off the end of the stack.
inline constexpr int kMaxJsonDepth = 64;

// Parses text: the one entry point for JSON that comes from outside (request
// bodies, replies, stored records). Refuses documents nested deeper than
// kMaxJsonDepth ("body: nested deeper than 64 levels") and malformed ones.
Result<Json> ParseJson(std::string_view text);

// Strict: unknown fields are errors (a typo must not silently change a job).
Result<JobSpec> JobSpecFromJson(const Json& j);
Json ToJson(const JobSpec& s);

Json ToJson(const Placement& p);
Result<Placement> PlacementFromJson(const Json& j);
Json ToJson(const JobView& v);
Result<JobView> JobViewFromJson(const Json& j);
Json ToJson(const JobWhy& w);
Result<JobWhy> JobWhyFromJson(const Json& j);
Json ToJson(const NodeInfo& n);
Result<NodeInfo> NodeInfoFromJson(const Json& j);
Json ToJson(const NodeView& n);
Result<NodeView> NodeViewFromJson(const Json& j);

Json ToJson(const StartCommand& c);
Result<StartCommand> StartCommandFromJson(const Json& j);
Json ToJson(const KillCommand& c);
Result<KillCommand> KillCommandFromJson(const Json& j);
Json ToJson(const LimitCommand& c);
Json ToJson(const TaskReport& r);
Result<TaskReport> TaskReportFromJson(const Json& j);
Json ToJson(const Heartbeat& h);
Result<Heartbeat> HeartbeatFromJson(const Json& j);
Json ToJson(const HeartbeatReply& r);
Result<HeartbeatReply> HeartbeatReplyFromJson(const Json& j);

// "0-99", "1,3,5", "0-15:2", each optionally followed by "%N" (at most N
// running at once): the indices, ascending and unique, and the limit (0 =
// none). At most 100,000 indices, each 0..4,000,000.
struct ArraySpec {
  std::vector<int> indices;
  int max_running = 0;
};
Result<ArraySpec> ParseArraySpec(std::string_view text);
// The "%N" of an array spec (0: none), without expanding its ranges.
int ArrayMaxRunning(std::string_view text);

// The last second of year 9999 (9999-12-31T23:59:59Z): the latest time the
// API reads or writes.
inline constexpr std::int64_t kMaxUnixSeconds = 253402300799;

// "ISO 8601" UTC rendering of Unix seconds, e.g. 2026-11-25T13:24:36Z.
// Times outside years 0001..9999 are shown as the nearest of those ends.
std::string IsoTime(Seconds unix_seconds);

}  // namespace kojo::api
