#include "agent/agent.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include <fmt/format.h>
#include <httplib.h>

#include "agent/log.h"
#include "api/codec.h"

namespace kojo::agent {

namespace {

std::unique_ptr<httplib::Client> MakeClient(const AgentOptions& o, int wait_ms) {
  auto c = std::make_unique<httplib::Client>(o.server);
  c->set_keep_alive(true);
  c->set_tcp_nodelay(true);  // no Nagle delay between headers and body
  c->set_connection_timeout(2, 0);
  const int read_ms = wait_ms + 10000;
  c->set_read_timeout(read_ms / 1000, (read_ms % 1000) * 1000);
  c->set_write_timeout(10, 0);
  if (!o.token.empty()) c->set_bearer_token_auth(o.token);
  if (!o.ca_cert.empty()) c->set_ca_cert_path(o.ca_cert.c_str());
  return c;
}

}  // namespace

Agent::Agent(AgentOptions options, api::NodeInfo node, Launcher& launcher)
    : options_(std::move(options)), node_(std::move(node)), launcher_(launcher) {
  launcher_.SetListener([this] { TaskChanged(); });
}

Agent::~Agent() {
  Stop();
  launcher_.SetListener(nullptr);
}

void Agent::Start() {
  poll_thread_ = std::thread([this] { PollLoop(); });
  notify_thread_ = std::thread([this] { NotifyLoop(); });
}

void Agent::Stop() {
  {
    std::unique_lock lock(mu_);
    stop_ = true;
    cv_.notify_all();
    // End the long poll's request in flight by shutting its socket down.
    // The poll thread may open a new connection between seeing stop_ unset
    // and sending its request: shut down whatever it holds again until it
    // has left its loop.
    if (poll_thread_.joinable())
      while (!poll_done_) {
        if (poll_socket_ >= 0) ::shutdown(poll_socket_, SHUT_RDWR);
        cv_.wait_for(lock, std::chrono::milliseconds(20), [&] { return poll_done_; });
      }
  }
  if (poll_thread_.joinable()) poll_thread_.join();
  if (notify_thread_.joinable()) notify_thread_.join();
}

void Agent::TaskChanged() {
  {
    std::lock_guard lock(mu_);
    dirty_ = true;
  }
  cv_.notify_all();
}

bool Agent::Pause(int ms) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stop_; });
  return !stop_;
}

Agent::Outcome Agent::Exchange(void* client_ptr, const std::string& path, int wait_ms, bool* had_commands) {
  auto& client = *static_cast<httplib::Client*>(client_ptr);
  api::Heartbeat hb;
  hb.node = node_;
  hb.tasks = launcher_.Tasks();
  hb.wait_ms = wait_ms;
  hb.log_secret = options_.log_secret;
  if (options_.gpu_util) hb.gpu_util = options_.gpu_util();
  launcher_.NoteGpuUtil(hb.gpu_util);  // idle sessions: their GPUs' use
  const auto sent = std::chrono::steady_clock::now();  // the lease in the reply runs from here
  auto res = client.Post(path.c_str(), api::ToJson(hb).dump(), "application/json");
  if (!res) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return Outcome::kFailed;
    }
    registered_ = false;
    if (!warned_unreachable_.exchange(true))
      LogWarn("controller {} unreachable ({}); retrying, tasks keep running", options_.server,
              httplib::to_string(res.error()));
    return Outcome::kFailed;
  }
  if (res->status == 404 && path != "/api/v1/agents/register") return Outcome::kUnknownNode;
  if (res->status / 100 != 2) {
    LogWarn("controller {}: HTTP {} on {}: {}", options_.server, res->status, path, res->body.substr(0, 300));
    return Outcome::kFailed;
  }
  auto json = api::ParseJson(res->body);
  auto reply = json.ok() ? api::HeartbeatReplyFromJson(*json) : Result<api::HeartbeatReply>(json.error());
  if (!reply.ok()) {
    LogWarn("controller {}: bad reply on {}: {}", options_.server, path, reply.error().message);
    return Outcome::kFailed;
  }
  ++heartbeats_;
  warned_unreachable_ = false;
  launcher_.RenewLease(sent, std::chrono::milliseconds(reply->lease_ms), reply->lease_grace_s);
  // Kills first: a stale attempt's kill and its job's new start can come
  // in one reply.
  for (const auto& k : reply->kill) launcher_.Kill(k.job, k.attempt, k.grace_s);
  for (const auto& c : reply->start) launcher_.Start(c);
  for (const auto& l : reply->limit) launcher_.SetTimeLimit(l.job, l.attempt, l.time_limit_s);
  for (const auto& [job, attempt] : reply->acknowledged) launcher_.Forget(job, attempt);
  if (had_commands) {
    // A start that waits for its job's earlier attempt to end comes back in
    // every reply, with that attempt's kill, until it does: not a command
    // acted on, so that the poll loop does not spin meanwhile.
    bool started = false;
    if (!reply->start.empty())
      for (const auto& t : launcher_.Tasks())
        for (const auto& c : reply->start) started = started || (t.job == c.job && t.attempt == c.attempt);
    *had_commands = started || !reply->acknowledged.empty() || (!reply->kill.empty() && reply->start.empty());
  }
  return Outcome::kOk;
}

void Agent::PollLoop() {
  auto client = MakeClient(options_, options_.heartbeat_wait_ms);
  // Runs on this thread when the client opens a connection (before it
  // connects): keeps a duplicate of the socket for Stop, closing the last.
  client->set_socket_options([this](int sock) {
    const int copy = ::fcntl(sock, F_DUPFD_CLOEXEC, 0);
    std::lock_guard lock(mu_);
    if (poll_socket_ >= 0) ::close(poll_socket_);
    poll_socket_ = copy;
  });
  auto finish = [&] {
    std::lock_guard lock(mu_);
    if (poll_socket_ >= 0) ::close(poll_socket_);
    poll_socket_ = -1;
    poll_done_ = true;
    cv_.notify_all();
  };
  {
    std::lock_guard lock(mu_);
    if (stop_) {
      poll_done_ = true;
      cv_.notify_all();
      return;
    }
  }
  const std::string beat_path = fmt::format("/api/v1/agents/{}/heartbeat", node_.name);
  int backoff_ms = 50;
  int quick_empty = 0;
  auto failed = [&] {
    bool go_on = Pause(backoff_ms);
    backoff_ms = std::min(backoff_ms * 2, options_.max_backoff_ms);
    return go_on;
  };
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stop_) break;
    }
    if (!registered_) {
      if (Exchange(client.get(), "/api/v1/agents/register", 0, nullptr) != Outcome::kOk) {
        if (!failed()) break;
        continue;
      }
      registered_ = true;
      backoff_ms = 50;
      LogInfo("registered with {} as {}: {} GPUs, {} CPUs, {} MiB, cgroups {}, logs at {}", options_.server,
              node_.name, node_.gpus.size(), node_.cpu_milli / 1000, node_.mem_mib, node_.cgroups ? "yes" : "no",
              node_.agent_url);
      TaskChanged();  // anything that changed meanwhile
      continue;
    }
    const auto sent = std::chrono::steady_clock::now();
    bool had_commands = false;
    Outcome o = Exchange(client.get(), beat_path, options_.heartbeat_wait_ms, &had_commands);
    if (o == Outcome::kUnknownNode) {
      LogWarn("controller {} does not know node {}; registering again", options_.server, node_.name);
      registered_ = false;
      continue;
    }
    if (o == Outcome::kFailed) {
      if (!failed()) break;
      continue;
    }
    backoff_ms = 50;
    // A controller that keeps answering at once with nothing to do is not
    // long-polling: do not spin.
    const auto took = std::chrono::steady_clock::now() - sent;
    quick_empty = !had_commands && took < std::chrono::milliseconds(5) ? quick_empty + 1 : 0;
    if (quick_empty >= 3 && options_.heartbeat_wait_ms > 0) {
      quick_empty = 0;
      if (!Pause(std::min(options_.heartbeat_wait_ms, 100))) break;
    }
  }
  client.reset();  // closes its connection
  finish();
}

void Agent::NotifyLoop() {
  auto client = MakeClient(options_, 0);
  const std::string beat_path = fmt::format("/api/v1/agents/{}/heartbeat", node_.name);
  int backoff_ms = 50;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || (dirty_ && registered_); });
      if (stop_) return;
      // Short tasks start and end, and neighbours end, within moments of
      // each other: one report for all of them costs the controller one
      // durable commit instead of several.
      if (options_.report_linger_ms > 0)
        cv_.wait_for(lock, std::chrono::milliseconds(options_.report_linger_ms), [&] { return stop_; });
      if (stop_) return;
      dirty_ = false;
    }
    Outcome o = Exchange(client.get(), beat_path, 0, nullptr);
    if (o == Outcome::kOk) {
      backoff_ms = 50;
      continue;
    }
    if (o == Outcome::kUnknownNode) registered_ = false;
    TaskChanged();  // report again once the controller is back
    if (!Pause(backoff_ms)) return;
    backoff_ms = std::min(backoff_ms * 2, options_.max_backoff_ms);
  }
}

}  // namespace kojo::agent
