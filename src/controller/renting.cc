// Controller: renting partner capacity (docs/renting.md). The cluster state
// decides (state/rent_state.cc); this file acts: it keeps a NodeRec for each
// rented slot, runs the providers' start and stop programs through a
// RentRunner (off the lock, each start only once the slot's record is
// durable), feeds their ends and the agents' registrations back to the
// state, persists the slots and the money spent, and reconciles after a
// restart the slots whose programs were cut short.
#include <algorithm>

#include <fmt/format.h>

#include "api/org_config.h"
#include "controller/controller.h"

namespace kojo::controller {

using api::JobState;
using api::Json;

namespace {

constexpr std::string_view kDocRented = "rented";
constexpr std::string_view kDocRentSpent = "rent_spent";
constexpr Seconds kStopRetryFirst = 10;
constexpr Seconds kStopRetryMax = 300;

std::optional<RentPhase> ParsePhase(std::string_view s) {
  for (RentPhase p : {RentPhase::kOff, RentPhase::kStarting, RentPhase::kUp, RentPhase::kStopping})
    if (ToString(p) == s) return p;
  return std::nullopt;
}

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// Without idle_since, which moves with every pass while the node is busy (a
// write a second for nothing): a restored node's idle time starts again.
// With the stop program (and its time-out) while the node may be rented:
// a node whose provider has left the organisation is still given back.
std::string RentedJson(const RentedNode& r, const std::string& provider, const Provider* p) {
  Json j{{"provider", provider},
                   {"phase", ToString(r.phase)},
                   {"account", r.account},
                   {"started", r.started},
                   {"up_since", r.up_since},
                   {"paid_until", r.paid_until},
                   {"reserved", r.reserved},
                   {"draining", r.draining},
                   {"reason", r.reason}};
  if (p && r.phase != RentPhase::kOff) {
    j["stop_program"] = p->stop_program;
    j["timeout_s"] = p->timeout_s;
  }
  return Dump(j);
}

}  // namespace

const RentedNode* Controller::Rented(int n) const {
  return n < 0 || n >= state_.node_count() ? nullptr : state_.RentedAt(n);
}

const Provider* Controller::ProviderOf(const RentedNode& r) const {
  const std::string& name = state_.snapshot().specs[r.node].provider;
  if (const Provider* p = state_.rent_policy().FindProvider(name)) return p;
  auto it = known_providers_.find(name);
  return it == known_providers_.end() ? nullptr : &it->second;
}

void Controller::SetAccount(JobRec& rec) { rec.job.demand.nodes.account = state_.RentAccountOf(rec.job.project); }

void Controller::ApplyRentPolicy(const RentPolicy& policy) {
  if (policy.Empty() && state_.rented().empty()) return;
  for (const Provider& p : policy.providers) known_providers_[p.name] = p;
  const int before = state_.node_count();
  state_.SetRent(policy);
  for (int i = before; i < state_.node_count(); ++i) {
    const NodeSpec& spec = state_.snapshot().specs[i];
    if (NodeIndex(spec.name) >= 0)
      fmt::print(stderr, "kojod: rented slot {} has the name of a node already known; name providers apart\n", spec.name);
    NodeRec rec;
    rec.info.name = spec.name;
    rec.spec = spec;
    rec.down = true;
    rec.reason = "rented, off";
    rec.last_seen = SteadyNow();
    node_index_[spec.name] = i;
    nodes_.push_back(std::move(rec));
  }
  // The accounts of waiting jobs follow the policy (running ones keep theirs).
  for (auto& [id, rec] : jobs_)
    if (rec.view.state == JobState::kPending) SetAccount(rec);
}

void Controller::SyncRentNode(int n) {
  const RentedNode* r = Rented(n);
  if (!r) return;
  NodeRec& node = nodes_[n];
  if (r->phase == RentPhase::kOff || (r->phase == RentPhase::kStarting && !node.registered)) {
    node.down = true;
    node.registered = false;
    node.reason = r->phase == RentPhase::kOff ? "rented, off" : "rented, starting";
  }
  SyncNode(n);
}

void Controller::LoadRent(const std::vector<store::DocRow>& docs) {
  for (const store::DocRow& d : docs) {
    if (d.kind != kDocRentSpent) continue;
    rent_docs_[d.kind + "/" + d.key] = d.json;
    auto j = api::ParseJson(d.json);
    if (!j.ok() || !j->is_object()) {
      fmt::print(stderr, "kojod: stored rent spending {}: not a JSON object; ignored\n", d.key);
      continue;
    }
    const Money spent = j->value("spent", Money{0});
    if (d.key.rfind("account:", 0) == 0) state_.ChargeRentSpent(d.key.substr(8), spent);
    if (d.key.rfind("provider:", 0) == 0) provider_base_[d.key.substr(9)] = {spent, j->value("gpu_seconds", Seconds{0})};
  }
  for (const store::DocRow& d : docs) {
    if (d.kind != kDocRented) continue;
    rent_docs_[d.kind + "/" + d.key] = d.json;
    const int n = NodeIndex(d.key);
    auto j = api::ParseJson(d.json);
    if (!Rented(n)) {
      // Its provider has left the organisation: given back with the stop
      // program its record kept, or by hand.
      const bool rented = j.ok() && j->is_object() && j->value("phase", "off") != "off";
      const std::string stop = j.ok() && j->is_object() ? j->value("stop_program", "") : "";
      if (rented && !stop.empty()) {
        rent_orphans_[d.key] = {stop, j->value("timeout_s", Seconds{600})};
      } else if (rented) {
        fmt::print(stderr, "kojod: stored rented node {}: its provider is no longer in the organisation and its "
                           "record has no stop program; if it is still rented, give it back by hand\n", d.key);
      }
      continue;
    }
    std::optional<RentPhase> phase;
    if (j.ok() && j->is_object()) phase = ParsePhase(j->value("phase", ""));
    if (!phase) {
      fmt::print(stderr, "kojod: stored rented node {}: unreadable record; it is given back\n", d.key);
      rent_reconcile_.insert(n);
      continue;
    }
    RentedNode r;
    r.node = n;
    r.phase = *phase;
    r.account = j->value("account", "");
    r.started = j->value("started", Seconds{0});
    r.up_since = j->value("up_since", Seconds{0});
    r.idle_since = Now();
    r.paid_until = j->value("paid_until", Seconds{0});
    r.reserved = j->value("reserved", Money{0});
    r.draining = j->value("draining", false);
    r.reason = j->value("reason", "");
    if (r.phase == RentPhase::kStarting || r.phase == RentPhase::kStopping) {
      // Its program was cut short by the restart: whatever it did, the
      // node is given back (the stop program is idempotent) before the
      // slot may be rented again.
      rent_reconcile_.insert(n);
      r.reason = r.phase == RentPhase::kStarting ? "kojod restarted while it was starting: giving it back"
                                                 : r.reason + " (stop resumed after a restart)";
    }
    state_.RestoreRented(r);
    // Being given back: no longer starting (its registration time-out must
    // not count a failed start against the provider).
    if (r.phase == RentPhase::kStarting) state_.RentAbandon(n, Now(), r.reason);
    NodeRec& node = nodes_[n];
    if (r.phase == RentPhase::kUp) {
      // Up: its agent registers again, or the node times out like any.
      node.down = false;
      node.reason.clear();
      node.last_seen = SteadyNow();
    }
    SyncRentNode(n);
  }
}

void Controller::EnableRenting(RentRuntime runtime) {
  auto runner = std::make_unique<RentRunner>([this](const RentProgramEnd& e) { OnRentProgramEnd(e); });
  std::lock_guard lock(mu_);
  if (rent_runtime_) return;
  rent_runtime_ = std::move(runtime);
  rent_runner_ = std::move(runner);
  for (int n : rent_reconcile_) {
    fmt::print(stderr, "kojod: rented node {} was {} when kojod stopped: running its stop program\n",
               nodes_[n].info.name, ToString(Rented(n)->phase));
    QueueRentProgram(n, /*start=*/false);
  }
  rent_reconcile_.clear();
  for (const auto& [name, stop] : rent_orphans_) {
    fmt::print(stderr, "kojod: rented node {}: its provider is no longer in the organisation; running its stop program\n",
               name);
    RentProgram prog;
    prog.node = name;
    prog.start = false;
    prog.command = stop.first;
    prog.timeout_s = stop.second;
    prog.env = {{"KOJO_RENT_ACTION", "stop"}, {"KOJO_NODE_NAME", name}, {"KOJO_CONTROLLER_URL", rent_runtime_->controller_url}};
    rent_queue_.push_back(std::move(prog));
  }
  PersistRent();
  Flush();
  DispatchRentPrograms();
  WakeScheduler();
}

void Controller::QueueRentProgram(int n, bool start, Seconds delay_s) {
  const RentedNode* r = Rented(n);
  if (!r) return;
  const std::string& name = nodes_[n].info.name;
  const std::string provider = state_.snapshot().specs[n].provider;
  const Provider* p = ProviderOf(*r);  // taken out of the organisation: its programs as last known
  RentProgram prog;
  prog.node = name;
  prog.start = start;
  prog.delay_s = delay_s;
  if (p) {
    prog.command = start ? p->start_program : p->stop_program;
    prog.timeout_s = p->timeout_s;
    prog.env["KOJO_GPU_MODEL"] = p->node.gpu_model;
    prog.env["KOJO_GPUS"] = std::to_string(p->node.gpus);
    prog.env["KOJO_CPU_MILLI"] = std::to_string(p->node.cpu_milli);
    prog.env["KOJO_MEM_MIB"] = std::to_string(p->node.mem_mib);
    prog.env["KOJO_NODE_FEATURES"] = fmt::format("{}", fmt::join(p->node.features, ","));
  }
  prog.env["KOJO_RENT_ACTION"] = start ? "start" : "stop";
  prog.env["KOJO_NODE_NAME"] = name;
  prog.env["KOJO_PROVIDER"] = provider;
  prog.env["KOJO_RENT_ACCOUNT"] = r->account;
  prog.env["KOJO_CONTROLLER_URL"] = rent_runtime_ ? rent_runtime_->controller_url : "";
  const bool known = p != nullptr;
  const bool has_program = known && !prog.command.empty();
  if (start) {
    auto make = rent_runtime_ ? rent_runtime_->make_token : nullptr;
    prog.prepare = [make, name, provider, known, has_program]() -> Result<std::map<std::string, std::string>> {
      if (!known) return InvalidArgument(fmt::format("provider {} is no longer in the organisation", provider));
      if (!has_program)
        return InvalidArgument(fmt::format("provider {} has no start_program; kojod cannot rent from it", provider));
      std::string token;
      if (make) {
        auto t = make(name);
        if (!t.ok()) return Error{t.error().code, "cannot make its agent token: " + t.error().message};
        token = *t;
      }
      return std::map<std::string, std::string>{{"KOJO_AGENT_TOKEN", token}};
    };
  } else {
    rent_stopping_.insert(n);
    // No stop program: nothing to run, the node is given back at once.
    if (!has_program) prog.command = "exit 0";
  }
  rent_queue_.push_back(std::move(prog));
}

void Controller::DispatchRentPrograms() {
  if (!rent_runner_) return;
  for (RentProgram& p : rent_queue_) rent_runner_->Run(std::move(p));
  rent_queue_.clear();
}

void Controller::PlanRentAndAct(Seconds now, const std::vector<Wait>* waiting) {
  if (!rent_runtime_ || state_.rented().empty()) return;
  static const std::vector<Wait> kNone;
  RentChanges rc = state_.PlanRent(now, waiting ? *waiting : kNone);
  for (JobId id : rc.evict) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) continue;
    JobRec& rec = it->second;
    if (rec.view.state != JobState::kStarting && rec.view.state != JobState::kRunning) continue;
    Stop(rec, StopReason::kPreempted);
    counters_.preempted += 1;
    rec.view.message = "the paid time of its rented node is over and its account cannot extend it; it will be requeued";
    Persist(rec);
  }
  for (const int n : rc.start) {
    SyncRentNode(n);
    QueueRentProgram(n, /*start=*/true);
  }
  for (const int n : rc.stop) {
    SyncRentNode(n);
    rent_stop_wait_.insert(n);
  }
  // A stop waits for the jobs being stopped there to end.
  for (auto it = rent_stop_wait_.begin(); it != rent_stop_wait_.end();) {
    const int n = *it;
    if (!nodes_[n].jobs.empty() && nodes_[n].registered && !nodes_[n].down) {
      ++it;
      continue;
    }
    if (!rent_stopping_.count(n)) QueueRentProgram(n, /*start=*/false);
    it = rent_stop_wait_.erase(it);
  }
  for (const RentNote& note : rc.notes) {
    auto it = jobs_.find(note.job);
    if (it == jobs_.end() || it->second.view.state != JobState::kPending) continue;
    JobRec& rec = it->second;
    if (!rec.why.reason.empty()) rec.why.message += "; " + note.text;
    rec.view.message += (rec.view.message.empty() ? "" : "; ") + note.text;
  }
  PersistRent();
}

void Controller::OnRentProgramEnd(const RentProgramEnd& end) {
  if (!end.start && end.ok && rent_runtime_ && rent_runtime_->revoke_token) rent_runtime_->revoke_token(end.node);
  std::unique_lock lock(mu_);
  if (stopping_) return;
  const int n = NodeIndex(end.node);
  const RentedNode* r = Rented(n);
  if (!r) {
    auto orphan = rent_orphans_.find(end.node);
    if (orphan == rent_orphans_.end() || end.start) return;
    if (end.ok) {
      rent_orphans_.erase(orphan);
      rent_docs_.erase(std::string(kDocRented) + "/" + end.node);
      batch_.docs.push_back(store::DocRow{std::string(kDocRented), end.node, "", /*deleted=*/true});
      fmt::print(stderr, "kojod: rented node {} given back\n", end.node);
    } else {
      fmt::print(stderr, "kojod: rented node {}: {}; retrying in {} s\n", end.node, end.reason, kStopRetryMax);
      RentProgram prog;
      prog.node = end.node;
      prog.start = false;
      prog.command = orphan->second.first;
      prog.timeout_s = orphan->second.second;
      prog.delay_s = kStopRetryMax;
      prog.env = {{"KOJO_RENT_ACTION", "stop"}, {"KOJO_NODE_NAME", end.node},
                  {"KOJO_CONTROLLER_URL", rent_runtime_->controller_url}};
      rent_queue_.push_back(std::move(prog));
    }
    Flush();
    DispatchRentPrograms();
    return;
  }
  const Seconds now = Now();
  if (end.start) {
    if (!end.ok && r->phase == RentPhase::kStarting) {
      fmt::print(stderr, "kojod: rented node {}: {}\n", end.node, end.reason);
      state_.RentFailed(n, now, end.reason);
      SyncRentNode(n);
      QueueRentProgram(n, /*start=*/false);
    }
  } else {
    rent_stopping_.erase(n);
    if (end.ok) {
      stop_failures_.erase(end.node);
      if (r->phase != RentPhase::kOff) state_.RentStopped(n, now);
      NodeRec& node = nodes_[n];
      node.registered = false;
      node.log_secret.clear();
      node.gpu_util.clear();
      SyncRentNode(n);
    } else {
      auto& [count, why] = stop_failures_[end.node];
      count += 1;
      why = end.reason;
      const Seconds delay = std::min<Seconds>(kStopRetryMax, kStopRetryFirst << std::min(count - 1, 5));
      fmt::print(stderr, "kojod: rented node {}: {} (failure {} in a row); retrying in {} s\n", end.node, end.reason,
                 count, delay);
      QueueRentProgram(n, /*start=*/false, delay);
    }
  }
  PersistRent();
  const std::uint64_t seq = Flush();
  WakeScheduler();
  // Programs queued meanwhile by a pass (starts) run only once their slots'
  // records are durable: this batch is queued after theirs.
  lock.unlock();
  commit_.WaitDurable(seq);
  lock.lock();
  if (!stopping_) DispatchRentPrograms();
}

void Controller::PersistRent() {
  auto put = [&](std::string_view kind, const std::string& key, std::string json) {
    std::string& last = rent_docs_[std::string(kind) + "/" + key];
    if (last == json) return;
    last = json;
    batch_.docs.push_back(store::DocRow{std::string(kind), key, std::move(json)});
  };
  const RentPolicy& policy = state_.rent_policy();
  for (const RentedNode& r : state_.rented())
    put(kDocRented, nodes_[r.node].info.name, RentedJson(r, state_.snapshot().specs[r.node].provider, ProviderOf(r)));
  for (const auto& [account, terms] : policy.accounts)
    put(kDocRentSpent, "account:" + account, Dump(Json{{"spent", state_.RentSpent(account)}}));
  for (size_t i = 0; i < policy.providers.size(); ++i) {
    const std::string& name = policy.providers[i].name;
    auto base = provider_base_.find(name);
    const Money spent = state_.ProviderSpent(static_cast<int>(i)) + (base == provider_base_.end() ? 0 : base->second.first);
    const Seconds gpu_s =
        state_.ProviderGpuSeconds(static_cast<int>(i)) + (base == provider_base_.end() ? 0 : base->second.second);
    put(kDocRentSpent, "provider:" + name, Dump(Json{{"spent", spent}, {"gpu_seconds", gpu_s}}));
  }
}

std::vector<RentSpending> Controller::RentReport() const {
  std::lock_guard lock(mu_);
  const Seconds now = Now();
  const RentPolicy& policy = state_.rent_policy();
  std::vector<RentSpending> out;
  for (size_t i = 0; i < policy.providers.size(); ++i) {
    RentSpending s;
    s.kind = "provider";
    s.name = policy.providers[i].name;
    auto base = provider_base_.find(s.name);
    s.spent = state_.ProviderSpent(static_cast<int>(i), now) + (base == provider_base_.end() ? 0 : base->second.first);
    s.gpu_seconds = state_.ProviderGpuSeconds(static_cast<int>(i), now) +
                    (base == provider_base_.end() ? 0 : base->second.second);
    for (const RentedNode& r : state_.rented())
      if (r.provider == static_cast<int>(i) && (r.phase == RentPhase::kStarting || r.phase == RentPhase::kUp))
        s.rented_now += 1;
    out.push_back(std::move(s));
  }
  std::vector<std::string> accounts;
  for (const auto& [account, terms] : policy.accounts) accounts.push_back(account);
  std::sort(accounts.begin(), accounts.end());
  for (const std::string& account : accounts) {
    RentSpending s;
    const size_t space = account.find(' ');
    s.kind = account.substr(0, space);
    s.name = space == std::string::npos ? account : account.substr(space + 1);
    s.spent = state_.RentSpent(account, now);
    const Money running = s.spent - state_.RentSpent(account);
    s.reserved = std::max<Money>(0, state_.RentReserved(account) - running);
    s.budget = policy.accounts.at(account).budget;
    for (const RentedNode& r : state_.rented())
      if (r.account == account && (r.phase == RentPhase::kStarting || r.phase == RentPhase::kUp)) s.rented_now += 1;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace kojo::controller
