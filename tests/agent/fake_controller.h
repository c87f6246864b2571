// FakeController: a small stand-in for kojod's agent routes (docs/api.md),
// level-triggered like the real one, so the agent's protocol loop can be
// tested end to end without the controller.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "api/codec.h"

namespace kojo::agent::testing {

class FakeController {
 public:
  using Key = std::pair<JobId, int>;

  // port 0: any free port. token: when set, requests without
  // "Authorization: Bearer <token>" get 401.
  explicit FakeController(std::string token = "", int port = 0) : token_(std::move(token)) {
    server_.set_tcp_nodelay(true);
    server_.set_keep_alive_timeout(1);  // stops soon even with idle agent connections
    server_.Post("/api/v1/agents/register", [this](const httplib::Request& q, httplib::Response& r) {
      Handle(q, r, true);
    });
    server_.Post(R"(/api/v1/agents/([^/]+)/heartbeat)", [this](const httplib::Request& q, httplib::Response& r) {
      Handle(q, r, false);
    });
    port_ = port == 0 ? server_.bind_to_any_port("127.0.0.1") : (server_.bind_to_port("127.0.0.1", port) ? port : -1);
    if (port_ > 0) thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeController() { Stop(); }

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  // The job's current attempt runs on the agent: replies carry its start
  // until the agent reports it.
  void Place(const api::StartCommand& c) {
    Change([&] {
      placed_[Key{c.job, c.attempt}] = c;
      current_[c.job] = c.attempt;
    });
  }
  void Kill(JobId job, int attempt, Seconds grace_s, std::string reason = "cancelled") {
    Change([&] { kills_[Key{job, attempt}] = api::KillCommand{job, attempt, std::move(reason), grace_s}; });
  }
  // The job was requeued elsewhere: its attempt on this agent is stale.
  void Requeue(JobId job) {
    Change([&] {
      placed_.erase(Key{job, current_[job]});
      ++current_[job];
    });
  }

  int registrations() const { std::lock_guard lock(mu_); return registrations_; }
  int heartbeats() const { std::lock_guard lock(mu_); return heartbeats_; }
  int unauthorized() const { std::lock_guard lock(mu_); return unauthorized_; }
  std::optional<api::Heartbeat> last_register() const { std::lock_guard lock(mu_); return last_register_; }
  std::optional<api::Heartbeat> last_heartbeat() const { std::lock_guard lock(mu_); return last_heartbeat_; }
  // The latest report of a task, and when it first said running / ended.
  std::optional<api::TaskReport> report(JobId job, int attempt) const {
    std::lock_guard lock(mu_);
    // The two connections' heartbeats may be handled out of order: an end,
    // once heard, stays.
    if (auto e = ended_.find(Key{job, attempt}); e != ended_.end()) return e->second;
    auto it = reports_.find(Key{job, attempt});
    return it == reports_.end() ? std::nullopt : std::optional(it->second);
  }
  bool acknowledged(JobId job, int attempt) const {
    std::lock_guard lock(mu_);
    return ended_.count(Key{job, attempt}) > 0;
  }
  // Heartbeats received since the task was acknowledged that still listed it.
  int reported_after_ack(JobId job, int attempt) const {
    std::lock_guard lock(mu_);
    auto it = after_ack_.find(Key{job, attempt});
    return it == after_ack_.end() ? 0 : it->second;
  }

 private:
  template <typename F>
  void Change(F f) {
    {
      std::lock_guard lock(mu_);
      f();
      ++version_;
    }
    cv_.notify_all();
  }

  api::HeartbeatReply Reply(const api::Heartbeat& hb) {
    api::HeartbeatReply r;
    std::map<Key, const api::TaskReport*> has;
    for (const auto& t : hb.tasks) has[Key{t.job, t.attempt}] = &t;
    for (const auto& [key, c] : placed_)
      if (!has.count(key) && !ended_.count(key)) r.start.push_back(c);
    for (const auto& [key, t] : has) {
      if (t->running) {
        if (auto k = kills_.find(key); k != kills_.end()) r.kill.push_back(k->second);
        else if (current_.count(key.first) && current_[key.first] != key.second)
          r.kill.push_back(api::KillCommand{key.first, key.second, "stale", 1});
      } else {
        if (ended_.count(key)) ++after_ack_[key];
        else ended_[key] = *t;
        r.acknowledged.push_back(key);
      }
    }
    return r;
  }

  void Handle(const httplib::Request& q, httplib::Response& res, bool is_register) {
    if (!token_.empty() && q.get_header_value("Authorization") != "Bearer " + token_) {
      std::lock_guard lock(mu_);
      ++unauthorized_;
      res.status = 401;
      res.set_content(R"({"error":{"code":"unauthenticated","message":"bad token"}})", "application/json");
      return;
    }
    auto json = api::ParseJson(q.body);
    auto hb = json.ok() ? api::HeartbeatFromJson(*json) : Result<api::Heartbeat>(json.error());
    if (!hb.ok()) {
      res.status = 400;
      res.set_content(hb.error().message, "text/plain");
      return;
    }
    std::unique_lock lock(mu_);
    if (is_register) {
      ++registrations_;
      last_register_ = *hb;
    } else {
      ++heartbeats_;
      last_heartbeat_ = *hb;
    }
    for (const auto& t : hb->tasks) reports_[Key{t.job, t.attempt}] = t;
    api::HeartbeatReply reply = Reply(*hb);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(hb->wait_ms);
    while (reply.start.empty() && reply.kill.empty() && reply.acknowledged.empty() && !stopping_ &&
           std::chrono::steady_clock::now() < deadline) {
      const long seen = version_;
      cv_.wait_until(lock, deadline, [&] { return stopping_ || version_ != seen; });
      reply = Reply(*hb);
    }
    res.set_content(api::ToJson(reply).dump(), "application/json");
  }

  const std::string token_;
  httplib::Server server_;
  int port_ = -1;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  long version_ = 0;
  int registrations_ = 0, heartbeats_ = 0, unauthorized_ = 0;
  std::optional<api::Heartbeat> last_register_, last_heartbeat_;
  std::map<Key, api::StartCommand> placed_;
  std::map<JobId, int> current_;
  std::map<Key, api::KillCommand> kills_;
  std::map<Key, api::TaskReport> reports_;
  std::map<Key, api::TaskReport> ended_;
  std::map<Key, int> after_ack_;
};

}  // namespace kojo::agent::testing
