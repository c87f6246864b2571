// Test helpers for the organisation tests: a controller on a MemoryStore
// driven in-process by a fake agent that speaks the heartbeat protocol.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "controller/controller.h"

namespace kojo::controller::testing {

// A node with `gpus` GPUs of `model`; tasks run until End() or a kill.
class FakeAgent {
 public:
  FakeAgent(std::string name, int gpus, std::string model) : name_(std::move(name)), gpus_(gpus), model_(std::move(model)) {}

  api::Heartbeat Hb() const {
    api::Heartbeat hb;
    hb.node.name = name_;
    hb.node.cpu_milli = 64000;
    hb.node.mem_mib = 512 * 1024;
    for (int i = 0; i < gpus_; ++i)
      hb.node.gpus.push_back(api::GpuInfo{i, model_, 80 * 1024, fmt::format("EMU-{}-{}", name_, i)});
    hb.node.emulated_gpus = true;
    hb.node.agent_url = "http://127.0.0.1:1";
    hb.log_secret = log_secret;
    for (const auto& [k, t] : tasks_) hb.tasks.push_back(t);
    return hb;
  }
  void Handle(const api::HeartbeatReply& r) {
    for (const auto& s : r.start) {
      api::TaskReport t;
      t.job = s.job;
      t.attempt = s.attempt;
      t.running = true;
      t.time_limit_s = s.spec.time_limit_s;
      tasks_[{s.job, s.attempt}] = t;
      limits_[s.job] = s.spec.time_limit_s;
    }
    for (const auto& k : r.kill) {
      auto it = tasks_.find({k.job, k.attempt});
      if (it != tasks_.end() && it->second.running) {
        it->second.running = false;
        it->second.signal = 15;
        it->second.reason = "killed";
      }
    }
    for (const auto& l : r.limit) {  // as the launcher: a running task's limit follows
      auto it = tasks_.find({l.job, l.attempt});
      if (it == tasks_.end() || !it->second.running) continue;
      it->second.time_limit_s = l.time_limit_s;
      limits_[l.job] = l.time_limit_s;
      ++limit_commands;
    }
    for (const auto& a : r.acknowledged) tasks_.erase(a);
  }
  int limit_commands = 0;  // LimitCommands acted on
  void Register(Controller& c) {
    auto r = c.Register(Hb());
    if (r.ok()) Handle(r.value());
  }
  void Beat(Controller& c) {
    auto r = c.Heartbeat(name_, Hb());
    if (r.ok()) Handle(r.value());
  }
  // Heartbeats until `pred` holds (bounded: `rounds` beats 5 ms apart).
  bool BeatUntil(Controller& c, const std::function<bool()>& pred, int rounds = 400) {
    for (int i = 0; i < rounds; ++i) {
      Beat(c);
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return pred();
  }
  // Sent in every register and heartbeat (api::Heartbeat::log_secret).
  std::string log_secret = std::string(64, 'f');

  // Ends a running task with exit code 0.
  bool End(JobId job, int attempt) {
    auto it = tasks_.find({job, attempt});
    if (it == tasks_.end() || !it->second.running) return false;
    it->second.running = false;
    it->second.exit_code = 0;
    it->second.reason = "exited";
    return true;
  }
  // Ends a running task as the launcher ends an idle session.
  bool EndIdle(JobId job, int attempt) {
    auto it = tasks_.find({job, attempt});
    if (it == tasks_.end() || !it->second.running) return false;
    it->second.running = false;
    it->second.signal = 15;
    it->second.reason = "idle";
    return true;
  }
  std::vector<std::pair<JobId, int>> Running() const {
    std::vector<std::pair<JobId, int>> out;
    for (const auto& [k, t] : tasks_)
      if (t.running) out.push_back(k);
    return out;
  }
  std::optional<Seconds> LimitOf(JobId job) const {
    auto it = limits_.find(job);
    return it == limits_.end() ? std::nullopt : it->second;
  }

 private:
  std::string name_;
  int gpus_;
  std::string model_;
  std::map<std::pair<JobId, int>, api::TaskReport> tasks_;
  std::map<JobId, std::optional<Seconds>> limits_;
};

inline Seconds WallNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace kojo::controller::testing
