// The agent's link to the controller (docs/api.md, "Agents' routes").
//
// One thread registers, then keeps a long-poll heartbeat open
// (wait_ms = heartbeat_wait_ms); a second thread sends an immediate
// heartbeat (wait_ms = 0, its own connection) whenever a task starts or
// ends, so the controller hears of it within milliseconds (changes within
// report_linger_ms of each other share one heartbeat). Every heartbeat
// carries all the launcher's tasks; every reply's starts, kills and
// acknowledgements are applied to the launcher (starts are idempotent).
// When the controller cannot be reached the agent retries with a bounded
// backoff and its tasks keep running.
//
// Thread safety: Start/Stop from one thread; TaskChanged from any.
#pragma once

#include <functional>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "agent/launcher.h"
#include "api/types.h"

namespace kojo::agent {

struct AgentOptions {
  std::string server;              // "http://127.0.0.1:7100"
  std::string token;               // sent as "Authorization: Bearer <token>"; empty = none
  std::string ca_cert;             // https:// server: the CA that signed its certificate; empty = the system's
  std::string log_secret;          // the log server's key, sent in every register and heartbeat (LogServer)
  int heartbeat_wait_ms = 10000;   // long-poll wait
  int max_backoff_ms = 2000;       // retry delay bound while the controller is away
  int report_linger_ms = 2;        // task changes this close after the first share one heartbeat
  // Each GPU's utilisation in percent, sent with every heartbeat; unset = none.
  std::function<std::vector<int>()> gpu_util;
};

class Agent {
 public:
  // The launcher must outlive the agent. Sets the launcher's listener.
  Agent(AgentOptions options, api::NodeInfo node, Launcher& launcher);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  void Start();
  // Stops talking to the controller; tasks keep running.
  void Stop();
  // Asks for an immediate heartbeat.
  void TaskChanged();

  bool registered() const { return registered_; }
  // Heartbeats answered so far (both threads), for tests.
  long heartbeats() const { return heartbeats_; }

 private:
  enum class Outcome { kOk, kUnknownNode, kFailed };
  // One heartbeat (or registration) and its reply applied to the launcher.
  Outcome Exchange(void* client, const std::string& path, int wait_ms, bool* had_commands);
  void PollLoop();
  void NotifyLoop();
  // Waits up to ms unless stopped; returns false once stopped.
  bool Pause(int ms);

  const AgentOptions options_;
  const api::NodeInfo node_;
  Launcher& launcher_;
  std::atomic<bool> registered_{false};
  std::atomic<long> heartbeats_{0};
  std::atomic<bool> warned_unreachable_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool dirty_ = false;
  // The long poll's connection, so that Stop can end a request in flight
  // without touching the poll thread's httplib::Client (whose stop() is not
  // safe against a request on another thread): a dup() of the socket the
  // client last opened, owned by the agent, so its number is never reused
  // while kept here; shutdown() on it ends the request. Guarded by mu_.
  int poll_socket_ = -1;
  bool poll_done_ = false;  // the poll thread has left its loop
  std::thread poll_thread_, notify_thread_;
};

}  // namespace kojo::agent
