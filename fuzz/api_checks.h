// The checks of the API's decoders, shared by api_codec_fuzz (all of them)
// and the targets that concentrate on one input (heartbeat_fuzz,
// org_config_fuzz). Each takes the bytes of a request or reply body and
// goes through what kojod, the agent or the CLI does with it: ParseJson,
// then the decoder, which validates. A decoder may accept or refuse; it must
// not crash, throw, leak or trip a sanitizer, a refusal must say why, and
// what it accepts must survive its own encoding unchanged.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <fmt/format.h>

#include "api/codec.h"
#include "api/org_config.h"
#include "fuzz_util.h"

namespace kojo::fuzz {

// api::ParseJson: the one entry point for outside JSON.
inline std::optional<api::Json> ParseBody(std::string_view text) {
  auto j = api::ParseJson(text);
  if (!j.ok()) {
    const std::string& m = j.error().message;
    const bool deep = m == fmt::format("body: nested deeper than {} levels", api::kMaxJsonDepth);
    Check(deep || m == "body: malformed JSON", "ParseJson: unexpected message", m);
    // Refused as malformed only when it is (the depth check runs first).
    if (!deep) Check(!api::Json::accept(text.begin(), text.end()), "ParseJson refused valid JSON", text);
    return std::nullopt;
  }
  Check(Depth(*j, api::kMaxJsonDepth + 1) <= api::kMaxJsonDepth, "ParseJson let a document nest too deep");
  return std::move(*j);
}

// Decodes `j` with `decode`; accepted values must round-trip through
// `encode`, refusals must carry a message. The decoded value, if any.
template <typename Decode, typename Encode>
auto Decode(const api::Json& j, Decode decode, Encode encode, std::string_view what) {
  auto r = decode(j);
  using T = std::decay_t<decltype(*r)>;
  if (!r.ok()) {
    CheckMessage(r.error().message, what);
    return std::optional<T>();
  }
  RoundTrip(*r, decode, encode, what);
  return std::optional<T>(std::move(*r));
}

// An array range as ParseArraySpec promises it: ascending, unique, 1 to
// 100,000 indices of 0..4,000,000; "%N" agrees with ArrayMaxRunning.
inline void CheckArraySpec(std::string_view text) {
  auto a = api::ParseArraySpec(text);
  if (!a.ok()) return Check(!a.error().message.empty(), "ParseArraySpec: empty message");
  const auto& ix = a->indices;
  Check(!ix.empty() && ix.size() <= 100000, "ParseArraySpec: index count", text);
  Check(std::adjacent_find(ix.begin(), ix.end(), [](int x, int y) { return x >= y; }) == ix.end(),
        "ParseArraySpec: indices not ascending and unique", text);
  Check(ix.front() >= 0 && ix.back() <= 4000000, "ParseArraySpec: index out of range", text);
  Check(a->max_running >= 0 && a->max_running == api::ArrayMaxRunning(text), "ParseArraySpec: %N disagrees", text);
}

// A time the API accepts is one it writes back the same way: "YYYY-MM-DD"
// or "YYYY-MM-DDTHH:MM:SSZ", nothing else.
inline void CheckIsoTime(std::string_view text) {
  auto t = api::ParseIsoTime(text);
  if (!t.ok()) return Check(!t.error().message.empty(), "ParseIsoTime: empty message");
  const std::string shown = api::IsoTime(*t);
  Check(shown == text || (text.size() == 10 && shown == std::string(text) + "T00:00:00Z"),
        "ParseIsoTime accepted a time it does not write back", std::string(text) + " -> " + shown);
}

// POST /api/v1/jobs: one spec, or {"jobs": [spec, ...]} (Controller::Submit).
inline void CheckSubmitBody(std::string_view text) {
  auto j = ParseBody(text);
  if (!j) return;
  auto one = [](const api::Json& spec) {
    auto s = Decode(spec, api::JobSpecFromJson, [](const api::JobSpec& x) { return api::ToJson(x); }, "JobSpec");
    if (s && !s->array.empty()) {
      // The controller expands an accepted spec's array without checking again.
      auto a = api::ParseArraySpec(s->array);
      Check(a.ok(), "JobSpec accepted an array it cannot expand", s->array);
      CheckArraySpec(s->array);
    }
  };
  if (j->is_object() && j->contains("jobs")) {
    const api::Json& list = (*j)["jobs"];
    if (list.is_array())
      for (const auto& spec : list) one(spec);
  } else {
    one(*j);
  }
}

// POST /api/v1/agents/register and /api/v1/agents/{node}/heartbeat.
inline void CheckHeartbeatBody(std::string_view text) {
  auto j = ParseBody(text);
  if (!j) return;
  auto hb = Decode(*j, api::HeartbeatFromJson, [](const api::Heartbeat& x) { return api::ToJson(x); }, "Heartbeat");
  if (!hb) return;
  // What the controller relies on afterwards: a name that fits a URL path
  // segment, a log key that fits a header.
  Check(!hb->node.name.empty() && hb->node.name.find_first_of("/ \t\n") == std::string::npos,
        "Heartbeat: node name", hb->node.name);
  Check(hb->log_secret.empty() || (hb->log_secret.size() >= 32 && hb->log_secret.size() <= 128 &&
                                   hb->log_secret.find_first_not_of("0123456789abcdef") == std::string::npos),
        "Heartbeat: log secret", hb->log_secret);
  for (const auto& g : hb->node.gpus) Check(g.index >= 0 && g.index < kMaxGpusPerNode, "Heartbeat: GPU index");
}

// PUT /api/v1/org (and `kojo sim --org FILE`).
inline std::optional<api::OrgConfig> CheckOrgBody(std::string_view text) {
  auto j = ParseBody(text);
  if (!j) return std::nullopt;
  return Decode(*j, api::OrgConfigFromJson, [](const api::OrgConfig& x) { return api::ToJson(x); }, "OrgConfig");
}

// POST /api/v1/grants: one grant added to the document (Controller::AddGrant
// appends it to the current document's grants and decodes the whole). The
// current document here: one programme, organisation and project.
inline void CheckGrantBody(std::string_view text) {
  auto j = ParseBody(text);
  if (!j || !j->is_object()) return;
  api::Json doc = {{"programmes", {{{"name", "research"}}}},
                   {"organisations", {{{"name", "uni-a"}, {"programme", "research"}}}},
                   {"projects", {{{"name", "vision"}, {"organisation", "uni-a"}}}},
                   {"grants", api::Json::array()}};
  doc["grants"].push_back(*j);
  auto c = Decode(doc, api::OrgConfigFromJson, [](const api::OrgConfig& x) { return api::ToJson(x); }, "grant");
  if (c) {
    Check(c->grants.size() == 1 && c->grants[0].end > c->grants[0].start && c->grants[0].amount > 0, "grant: values");
    Check(c->grants[0].programme == "research", "grant: programme", c->grants[0].programme);
  }
}

// Replies the CLI and the agent read from kojod.
template <typename Decoder>
void CheckReply(std::string_view text, Decoder decode, std::string_view what) {
  auto j = ParseBody(text);
  if (!j) return;
  Decode(*j, decode, [](const auto& x) { return api::ToJson(x); }, what);
}

}  // namespace kojo::fuzz
