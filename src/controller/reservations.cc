// Controller: reservations (model/reservation.h) made live. They are stored
// one document each (kind "reservation", key its name), loaded at start and
// handed to the cluster state, which picks the whole nodes each holds from
// the nodes it knows at that moment; they are applied again whenever the
// nodes change (an agent registers, a node's GPUs change), so that a
// reservation that could not be held at start (its nodes not known yet) is
// held once they are. The scheduling rules around a hold are the state's
// (state/reservation_state.cc).
#include <algorithm>

#include <fmt/format.h>

#include "api/org_config.h"
#include "controller/controller.h"
#include "controller/http_util.h"

namespace kojo::controller {

using api::Json;

namespace {

constexpr std::string_view kDocReservation = "reservation";
constexpr size_t kMaxReservations = 200;

// "reservations[0].gpus: ..." -> "gpus: ..." for a single reservation.
std::string WithoutListPrefix(std::string message) {
  constexpr std::string_view prefix = "reservations[0]";
  if (message.rfind(prefix, 0) != 0) return message;
  message.erase(0, prefix.size());
  if (!message.empty() && message[0] == '.') message.erase(0, 1);
  return message;
}

// What a reservation's choice of nodes depends on: each node's name, GPUs,
// GPU model and provider.
std::string NodesKey(const ClusterState& state) {
  std::string key;
  for (const NodeSpec& spec : state.snapshot().specs)
    key += fmt::format("{}\x1f{}\x1f{}\x1f{}\x1e", spec.name, spec.gpus, spec.gpu_model, spec.provider);
  return key;
}

}  // namespace

// ---- helpers (mu_ held) ----

Status Controller::LoadReservations(const std::vector<store::DocRow>& docs) {
  for (const store::DocRow& row : docs) {
    if (row.deleted || row.kind != kDocReservation) continue;
    auto j = api::ParseJson(row.json);
    if (!j.ok()) return InvalidArgument(fmt::format("stored reservation {}: {}", row.key, j.error().message));
    if (!j->is_object() || !j->contains("reservation") || !(*j)["seq"].is_number_integer())
      return InvalidArgument(fmt::format("stored reservation {}: expected {{\"reservation\": ..., \"seq\": N}}", row.key));
    auto doc = api::ReservationsFromJson(Json::array({(*j)["reservation"]}));
    if (!doc.ok()) return InvalidArgument(fmt::format("stored reservation {}: {}", row.key, doc.error().message));
    reservations_.push_back({std::move(doc->reservations.at(0)), (*j)["seq"].get<std::int64_t>(), ""});
  }
  std::sort(reservations_.begin(), reservations_.end(),
            [](const StoredReservation& a, const StoredReservation& b) { return a.seq < b.seq; });
  ApplyReservations(Now());
  return Ok{};
}

void Controller::ApplyReservations(Seconds now) {
  std::vector<Reservation> kept;
  for (StoredReservation& s : reservations_) {
    s.not_held.clear();
    if (s.r.WindowAt(now)) kept.push_back(s.r);  // a one-off that has ended holds nothing
  }
  if (state_.SetReservations(kept).ok()) {  // all of them: the usual case
    reservation_nodes_ = NodesKey(state_);
    return;
  }
  // Each in turn, kept if it can be held beside those kept before it: one
  // that cannot (its nodes are not known yet) does not take the others down.
  kept.clear();
  for (StoredReservation& s : reservations_) {
    if (!s.r.WindowAt(now)) continue;
    kept.push_back(s.r);
    if (auto st = state_.SetReservations(kept); !st.ok()) {
      s.not_held = st.error().message;
      kept.pop_back();
    }
  }
  if (auto st = state_.SetReservations(kept); !st.ok())  // cannot fail: each step held
    fmt::print(stderr, "kojod: reservations: {}\n", st.error().message);
  reservation_nodes_ = NodesKey(state_);
}

void Controller::RefreshReservations(Seconds now) {
  if (reservations_.empty()) return;
  if (NodesKey(state_) != reservation_nodes_) ApplyReservations(now);
}

ReservationView Controller::ViewOfReservation(size_t i, Seconds now) const {
  const StoredReservation& s = reservations_.at(i);
  ReservationView v;
  v.reservation = s.r;
  v.window = s.r.WindowAt(now);
  v.not_held = s.not_held;
  if (!v.window) {  // a one-off that has ended holds nothing
    v.not_held = "its window has ended";
    return v;
  }
  const auto& held = state_.reservations();
  for (size_t k = 0; k < held.size(); ++k) {
    if (held[k].name != s.r.name) continue;
    v.held = true;
    for (const auto n : state_.ReservedNodes(k))
      if (n >= 0 && static_cast<size_t>(n) < nodes_.size()) v.nodes.push_back(nodes_[n].info.name);
  }
  return v;
}

// ---- the API ----

Outcome<ReservationView> Controller::AddReservation(std::string_view body) {
  auto j = api::ParseJson(body);
  if (!j.ok()) return FromError(j.error());
  if (!j->is_object()) return ApiError{ApiCode::kInvalidArgument, "expected one reservation object"};
  if (j->contains("start_s"))
    return ApiError{ApiCode::kInvalidArgument,
                    "start_s: not accepted by kojod (it is kojo sim's start relative to a trace); give start as an "
                    "ISO 8601 UTC time, e.g. 2026-01-06T14:00:00Z"};
  auto doc = api::ReservationsFromJson(Json::array({*j}));
  if (!doc.ok()) return ApiError{ApiCode::kInvalidArgument, WithoutListPrefix(doc.error().message)};
  Reservation r = std::move(doc->reservations.at(0));
  if (!org_.HasProject(r.project))
    return ApiError{ApiCode::kInvalidArgument,
                    fmt::format("project: no project named \"{}\" in the organisation (kojo admin apply creates it)",
                                Shown(r.project))};

  std::unique_lock lock(mu_);
  const Seconds now = Now();
  for (const StoredReservation& s : reservations_)
    if (s.r.name == r.name)
      return ApiError{ApiCode::kConflict,
                      fmt::format("name: a reservation named \"{}\" exists (kojo admin reservation delete {} first)",
                                  r.name, r.name)};
  if (reservations_.size() >= kMaxReservations)
    return ApiError{ApiCode::kConflict, fmt::format("at most {} reservations", kMaxReservations)};
  if (!r.WindowAt(now))
    return ApiError{ApiCode::kInvalidArgument,
                    fmt::format("start: the window {} .. {} has already ended (now {})", api::IsoTime(r.start),
                                api::IsoTime(r.start + r.duration), api::IsoTime(now))};
  const std::int64_t seq = reservations_.empty() ? 1 : reservations_.back().seq + 1;
  reservations_.push_back({r, seq, ""});
  ApplyReservations(now);
  if (!reservations_.back().not_held.empty()) {
    // Nothing changes: the others are held as before.
    std::string why = std::move(reservations_.back().not_held);
    reservations_.pop_back();
    ApplyReservations(now);
    return ApiError{ApiCode::kConflict, std::move(why)};
  }
  batch_.docs.push_back(
      {std::string(kDocReservation), r.name, Dump(Json{{"reservation", api::ToJson(r)}, {"seq", seq}}), false});
  ReservationView v = ViewOfReservation(reservations_.size() - 1, now);
  const std::uint64_t durable_seq = Flush();
  WakeScheduler();
  lock.unlock();
  if (auto durable = commit_.AwaitDurable(durable_seq); !durable.ok()) return NotDurable(durable.error(), "the reservation");
  return v;
}

std::vector<ReservationView> Controller::Reservations() const {
  std::lock_guard lock(mu_);
  const Seconds now = Now();
  std::vector<ReservationView> out;
  for (size_t i = 0; i < reservations_.size(); ++i) out.push_back(ViewOfReservation(i, now));
  return out;
}

Outcome<ReservationView> Controller::DeleteReservation(std::string_view name) {
  std::unique_lock lock(mu_);
  auto it = std::find_if(reservations_.begin(), reservations_.end(),
                         [&](const StoredReservation& s) { return s.r.name == name; });
  if (it == reservations_.end())
    return ApiError{ApiCode::kNotFound, fmt::format("reservation \"{}\" not found", Shown(name))};
  const Seconds now = Now();
  ReservationView v = ViewOfReservation(static_cast<size_t>(it - reservations_.begin()), now);
  reservations_.erase(it);
  ApplyReservations(now);
  batch_.docs.push_back({std::string(kDocReservation), std::string(name), "", true});
  const std::uint64_t durable_seq = Flush();
  WakeScheduler();
  lock.unlock();
  if (auto durable = commit_.AwaitDurable(durable_seq); !durable.ok()) return NotDurable(durable.error(), "the change");
  return v;
}

}  // namespace kojo::controller
