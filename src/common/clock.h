// Clock: where the controller reads the time, so that tests (and replays)
// can set it. Wall() is the time of day for records and decisions (Unix
// seconds); Steady() measures intervals (node liveness, throttles).
// SystemClock reads the machine's clocks; ManualClock is set and advanced
// by its owner.
//
// Thread safety: both may be read from any thread; ManualClock's setters
// too.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace kojo {

class Clock {
 public:
  using Steady = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual std::int64_t Wall() const = 0;
  virtual Steady SteadyNow() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::int64_t Wall() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
  Steady SteadyNow() const override { return std::chrono::steady_clock::now(); }
};

// Starts at `wall` Unix seconds; both readings move only by Advance().
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t wall) : wall_ms_(wall * 1000) {}
  void Advance(std::chrono::milliseconds d) { wall_ms_ += d.count(); }
  std::int64_t Wall() const override { return wall_ms_.load() / 1000; }
  Steady SteadyNow() const override { return Steady(std::chrono::milliseconds(wall_ms_.load())); }

 private:
  std::atomic<std::int64_t> wall_ms_;
};

}  // namespace kojo
