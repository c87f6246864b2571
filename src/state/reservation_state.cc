// ClusterState's reservations: which nodes each holds, the holds brought
// up to date before each pass, and Reservation waits. See "reservations" in
// cluster_state.h.
#include <algorithm>

#include <fmt/format.h>

#include "sched/placement.h"
#include "state/cluster_state.h"

namespace kojo {

namespace {

std::string Span(Seconds s) {
  if (s < 90) return fmt::format("{} s", s);
  if (s < 90 * 60) return fmt::format("{} min", (s + 30) / 60);
  return fmt::format("{:.1f} h", static_cast<double>(s) / 3600.0);
}

}  // namespace

Status ClusterState::SetReservations(std::vector<Reservation> reservations) {
  std::vector<std::vector<NodeIndex>> nodes(reservations.size());
  std::vector<bool> taken(snap_.specs.size(), false);
  for (size_t r = 0; r < reservations.size(); ++r) {
    const Reservation& res = reservations[r];
    if (res.gpus <= 0 || res.duration <= 0)
      return InvalidArgument(fmt::format("reservation {}: expected GPUs and a duration above 0", res.name));
    int held = 0;
    for (size_t i = 0; i < snap_.specs.size() && held < res.gpus; ++i) {
      const NodeSpec& spec = snap_.specs[i];
      if (taken[i] || spec.gpus == 0 || !spec.provider.empty()) continue;
      if (!res.gpu_model.empty() && !GpuModelAllowed({res.gpu_model}, spec.gpu_model)) continue;
      taken[i] = true;
      nodes[r].push_back(static_cast<NodeIndex>(i));
      held += spec.gpus;
    }
    if (held < res.gpus)
      return InvalidArgument(fmt::format("reservation {}: {} GPUs{} asked, only {} can be held (whole nodes no other "
                                         "reservation holds)",
                                         res.name, res.gpus, res.gpu_model.empty() ? "" : " of model " + res.gpu_model,
                                         held));
  }
  for (NodeSpec& spec : snap_.specs) {
    spec.hold_project.clear();
    spec.hold_name.clear();
    spec.hold_start = spec.hold_end = kForever;
  }
  reservations_ = std::move(reservations);
  reserved_nodes_ = std::move(nodes);
  return Ok{};
}

void ClusterState::UpdateHolds(Seconds now) {
  for (size_t r = 0; r < reservations_.size(); ++r) {
    const Reservation& res = reservations_[r];
    const auto w = res.WindowAt(now);
    for (NodeIndex n : reserved_nodes_[r]) {
      NodeSpec& spec = snap_.specs[n];
      spec.hold_project = w ? res.project : "";
      spec.hold_name = w ? res.name : "";
      spec.hold_start = w ? w->start : kForever;
      spec.hold_end = w ? w->end : kForever;
    }
  }
}

void ClusterState::ExplainHeld(Wait& w, const Job& job, Seconds now) {
  // It would start now on what is free but for the holds.
  Rng rng(0);
  if (PlaceJobOn(snap_.specs, snap_.tie_rank, snap_.nodes, job, scheduler_.placer(), rng, nullptr, now)) return;
  if (!PlaceJobOn(snap_.specs, snap_.tie_rank, snap_.nodes, job, scheduler_.placer(), rng)) return;
  const Seconds ends = job.time_limit ? now + *job.time_limit : kForever;
  TaskShape shape;
  shape.project = &job.project;
  shape.ends_by = ends;
  for (const NodeSpec& spec : snap_.specs) {
    if (HoldAllows(spec, shape)) continue;
    w.reason = WaitReason::kReservation;
    if (now >= spec.hold_start)
      w.message = fmt::format("node {} is reserved for project {} (reservation {}) for another {}", spec.name,
                              spec.hold_project, spec.hold_name, Span(spec.hold_end - now));
    else
      w.message = fmt::format(
          "node {} is reserved for project {} (reservation {}) from in {} for {}, and {} would run into it", spec.name,
          spec.hold_project, spec.hold_name, Span(spec.hold_start - now), Span(spec.hold_end - spec.hold_start),
          job.time_limit ? "its time limit" : "a job without a time limit");
    w.estimated_start.reset();
    w.confidence = EstimateConfidence::kNone;
    w.confidence_text = "it starts when other nodes free up or the reservation's window ends";
    return;
  }
}

}  // namespace kojo
