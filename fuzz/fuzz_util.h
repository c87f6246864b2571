// Helpers shared by the libFuzzer targets: a check that reports what broke
// and aborts (libFuzzer keeps the input), and the API codecs' round trip.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include "api/codec.h"

namespace kojo::fuzz {

[[noreturn]] inline void Fail(std::string_view what, std::string_view detail = {}) {
  std::fprintf(stderr, "fuzz check failed: %.*s\n", static_cast<int>(what.size()), what.data());
  if (!detail.empty()) std::fprintf(stderr, "  %.*s\n", static_cast<int>(std::min<size_t>(detail.size(), 2000)), detail.data());
  std::abort();
}

inline void Check(bool ok, std::string_view what, std::string_view detail = {}) {
  if (!ok) Fail(what, detail);
}

// The input as text, and the first byte as a selector of what to do with
// the rest (so that one target covers several decoders and the fuzzer
// learns which byte leads where).
inline std::string_view Text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}
struct Selected {
  unsigned which = 0;
  std::string_view rest;
};
inline Selected Select(const std::uint8_t* data, std::size_t size, unsigned choices) {
  if (size == 0) return {0, {}};
  return {data[0] % choices, Text(data + 1, size - 1)};
}

// What goes on the wire: dump() throws on a string that is not UTF-8, so a
// decoder that lets one through breaks whoever sends the value on.
inline std::string Wire(const api::Json& j) {
  try {
    return j.dump();
  } catch (const std::exception& e) {
    Fail("a decoded value does not serialise", e.what());
  }
}

// The nesting depth of a parsed value, counting up to `cap` (a bound on the
// recursion).
inline int Depth(const api::Json& j, int cap) {
  if (cap <= 0 || !j.is_structured()) return j.is_structured() ? 1 : 0;
  int deepest = 0;
  for (const auto& x : j) deepest = std::max(deepest, Depth(x, cap - 1));
  return deepest + 1;
}

// decode -> encode -> serialise -> parse -> decode -> encode gives the same
// document: what kojo writes, it reads back unchanged. `decode` returns a
// Result<T>, `encode` a Json.
template <typename T, typename Decode, typename Encode>
void RoundTrip(const T& value, Decode decode, Encode encode, std::string_view what) {
  const api::Json once = encode(value);
  const std::string wire = Wire(once);
  auto parsed = api::ParseJson(wire);
  if (!parsed.ok()) Fail(std::string(what) + ": its own encoding does not parse", parsed.error().message + " in " + wire);
  auto again = decode(*parsed);
  if (!again.ok()) Fail(std::string(what) + ": its own encoding is refused", again.error().message + " in " + wire);
  const api::Json twice = encode(*again);
  if (twice != once) Fail(std::string(what) + ": the round trip changed it", wire + "\n  became " + Wire(twice));
}

// A refused document's message says what is wrong, and can itself be sent
// (as UTF-8, in a JSON error body).
inline void CheckMessage(const std::string& message, std::string_view what) {
  Check(!message.empty(), what, "empty error message");
  Wire(api::Json(message));
}

}  // namespace kojo::fuzz
