// Reservations: GPUs held for one project during a window (a course's
// Tuesday 14:00-16:00), optionally every week. Value types and the window
// arithmetic; the cluster state (state/cluster_state.h) picks the nodes and
// holds them, the scheduler's Fits honours the hold (sched/placer.h).
#pragma once

#include <optional>
#include <string>

#include "model/units.h"

namespace kojo {

inline constexpr Seconds kWeek = 7 * 24 * 3600;

struct Reservation {
  std::string name;
  std::string project;     // whose jobs use the reserved nodes in the window
  int gpus = 0;            // held on whole nodes, as few as hold this many
  std::string gpu_model;   // "" = any model
  Seconds start = 0;       // the first window's start (the state's time)
  Seconds duration = 0;    // > 0
  bool weekly = false;     // repeats every 7 days

  // The window in force at `now` or the next one: [start, end). None once
  // a one-off reservation has ended.
  struct Window {
    Seconds start = 0, end = 0;
  };
  std::optional<Window> WindowAt(Seconds now) const {
    Seconds s = start;
    if (weekly && now >= start + duration) s += (now - start - duration) / kWeek * kWeek + kWeek;
    if (now >= s + duration) return std::nullopt;
    return Window{s, s + duration};
  }
};

}  // namespace kojo
