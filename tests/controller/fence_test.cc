// Leases and fencing with the real daemons: a node cut off from kojod (its
// agent's connection through a proxy this test controls), or its agent
// frozen, longer than its lease has its tasks stopped there before their
// jobs run elsewhere; cut off for less, its jobs keep running.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <mutex>

#include <fmt/format.h>

#include "daemons.h"

#ifdef KOJO_AGENT_BINARY

namespace kojo::testing {
namespace {

using namespace std::chrono_literals;

// A TCP proxy on 127.0.0.1 to `port`, for one agent's link to kojod. Cut()
// stops it forwarding anything, on the connections open and on new ones,
// as a firewall dropping the packets would (nothing is closed: each side
// waits for its timeouts); Heal() closes what was cut and forwards again.
class CutProxy {
 public:
  explicit CutProxy(int port) : upstream_(port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || listen(listen_fd_, 64) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      return;
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~CutProxy() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (auto& [a, b] : pairs_) close(a), close(b);
    for (int fd : held_) close(fd);
    close(listen_fd_);
  }
  std::string url() const { return fmt::format("http://127.0.0.1:{}", port_); }
  void Cut() { cut_ = true; }
  void Heal() { heal_ = true; }

 private:
  static int Connect(int port) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(fd);
      return -1;
    }
    return fd;
  }
  void Run() {
    char buf[65536];
    while (!stop_) {
      if (heal_.exchange(false)) {
        for (auto& [a, b] : pairs_) close(a), close(b);
        for (int fd : held_) close(fd);
        pairs_.clear();
        held_.clear();
        cut_ = false;
      }
      std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
      if (!cut_)
        for (auto& [a, b] : pairs_) fds.push_back({a, POLLIN, 0}), fds.push_back({b, POLLIN, 0});
      if (poll(fds.data(), fds.size(), 50) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        const int c = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0 && cut_) held_.push_back(c);  // accepted (the kernel would), never answered
        else if (c >= 0) {
          const int u = Connect(upstream_);
          if (u < 0) close(c);
          else pairs_.emplace_back(c, u);
        }
      }
      if (cut_) continue;
      std::vector<size_t> dead;
      for (size_t i = 1; i < fds.size(); ++i) {
        if (!fds[i].revents) continue;
        auto& [a, b] = pairs_[(i - 1) / 2];
        const int from = (i % 2) ? a : b, to = (i % 2) ? b : a;
        const ssize_t n = read(from, buf, sizeof buf);
        if (n <= 0 || send(to, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) dead.push_back((i - 1) / 2);
      }
      for (auto it = dead.rbegin(); it != dead.rend(); ++it) {
        if (it != dead.rbegin() && *it == *(it - 1)) continue;
        close(pairs_[*it].first), close(pairs_[*it].second);
        pairs_.erase(pairs_.begin() + static_cast<long>(*it));
      }
    }
  }

  int upstream_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false}, cut_{false}, heal_{false};
  std::vector<std::pair<int, int>> pairs_;  // (agent side, kojod side)
  std::vector<int> held_;
  std::thread thread_;
};

// Node timeout 2 s, lease 4 s, grace 1 s: a node silent for 2 s goes DOWN;
// its agent stops its tasks 4 s after its last heartbeat answered (SIGKILL a
// second later); kojod requeues their jobs 6 s after it last heard from it.
class FenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kojod_ = std::make_unique<Kojod>(dir_.path() + "/kojod",
                                     std::vector<std::string>{"--node-timeout", "2", "--lease", "4", "--kill-grace", "1"});
    ASSERT_TRUE(kojod_->ok()) << kojod_->log();
  }
  void StartAgent(const std::string& name, const std::string& server) {
    const std::string state = dir_.path() + "/" + name;
    agents_[name] = Process({KOJO_AGENT_BINARY, "--server", server, "--name", name, "--state-dir", state, "--listen",
                             "127.0.0.1:0", "--emulate-gpus", "1xH100-80GB", "--kill-grace", "1",
                             "--heartbeat-wait-ms", "500"},
                            dir_.path() + "/" + name + ".log");
    ASSERT_TRUE(WaitFor([&] { return NodeState(name) == "UP"; }, 15s)) << AgentLog(name) << kojod_->log();
  }
  std::string AgentLog(const std::string& name) { return ReadFile(dir_.path() + "/" + name + ".log"); }
  std::string NodeState(const std::string& name) { return kojod_->NodeState(name); }
  Json Job(JobId id) { return kojod_->Job(id); }
  // A 1-GPU job that records each attempt's start and end (`records_`),
  // holding a lock on `lock_` while it runs: a second attempt that finds it
  // held records a collision. Attempt 1 runs `first_s`, later ones 1 s.
  JobId Submit(int first_s) {
    const std::string script = fmt::format(
        "exec 9>{lock}; flock -n 9 || echo collision $KOJO_ATTEMPT >> {rec}; "
        "echo start $KOJO_ATTEMPT $KOJO_NODE >> {rec}; "
        "trap 'echo end $KOJO_ATTEMPT $KOJO_NODE >> {rec}; exit 143' TERM; "
        "if [ $KOJO_ATTEMPT = 1 ]; then n={first}; else n=1; fi; "
        "sleep $n & wait; echo end $KOJO_ATTEMPT $KOJO_NODE >> {rec}",
        fmt::arg("lock", lock_), fmt::arg("rec", records_), fmt::arg("first", first_s));
    std::string refusal;
    const JobId id = kojod_->Submit({{"command", {"/bin/sh", "-c", script}}, {"gpus", 1}, {"requeue", true}}, &refusal);
    EXPECT_NE(id, 0) << refusal;
    return id;
  }
  std::vector<std::string> Records() {
    std::vector<std::string> out;
    std::istringstream in(ReadFile(records_));
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  std::string RecordsText() { return ReadFile(records_); }

  TempDir dir_;
  std::unique_ptr<Kojod> kojod_;
  std::map<std::string, Process> agents_;
  const std::string lock_ = dir_.path() + "/job.lock";
  const std::string records_ = dir_.path() + "/job.records";
};

// Cut past its lease: n1's task is stopped there, then the job runs on n2.
TEST_F(FenceTest, CutPastTheLeaseStopsTheTaskBeforeItRunsElsewhere) {
  CutProxy proxy(kojod_->port());
  StartAgent("n1", proxy.url());
  const JobId id = Submit(120);
  ASSERT_TRUE(WaitFor([&] { return Job(id)["state"] == "RUNNING"; }, 15s)) << Job(id).dump();
  StartAgent("n2", kojod_->url());  // free, but the job is n1's
  proxy.Cut();
  ASSERT_TRUE(WaitFor([&] { return NodeState("n1") == "DOWN"; }, 10s)) << kojod_->log();
  // DOWN, but its task may still run: the job waits for the lease's end.
  Json job = Job(id);
  EXPECT_EQ(job["state"], "RUNNING") << job.dump();
  EXPECT_EQ(job["reason"], "NodeUnreachable") << job.dump();
  EXPECT_NE(job["message"].get<std::string>().find("requeued"), std::string::npos) << job.dump();
  const Json why = Body(kojod_->Client().Get(fmt::format("/api/v1/jobs/{}/why", id).c_str()));
  EXPECT_EQ(why["reason"], "NodeUnreachable") << why.dump();
  ASSERT_TRUE(WaitFor([&] { return Job(id)["attempt"] == 2 && Job(id)["state"] == "COMPLETED"; }, 30s))
      << Job(id).dump() << RecordsText() << AgentLog("n1") << kojod_->log();
  // Attempt 1 was stopped on n1 (by its agent, at the lease's end) before
  // attempt 2 started on n2; never both at once.
  const std::vector<std::string> want{"start 1 n1", "end 1 n1", "start 2 n2", "end 2 n2"};
  EXPECT_EQ(Records(), want) << RecordsText();
  EXPECT_NE(AgentLog("n1").find("lease"), std::string::npos) << AgentLog("n1");
  EXPECT_EQ(Job(id)["placement"][0]["node"], "n2");
  // Healed: n1 reports its fenced task, which kojod forgets, and is UP.
  proxy.Heal();
  EXPECT_TRUE(WaitFor([&] { return NodeState("n1") == "UP"; }, 15s)) << AgentLog("n1");
  EXPECT_EQ(Job(id)["state"], "COMPLETED");
  EXPECT_EQ(Records(), want) << RecordsText();
}

// Cut for less than its lease (past the node timeout): the job runs on.
TEST_F(FenceTest, CutShorterThanTheLeaseKeepsTheJobRunning) {
  CutProxy proxy(kojod_->port());
  StartAgent("n1", proxy.url());
  const JobId id = Submit(9);
  ASSERT_TRUE(WaitFor([&] { return Job(id)["state"] == "RUNNING"; }, 15s)) << Job(id).dump();
  StartAgent("n2", kojod_->url());
  proxy.Cut();
  ASSERT_TRUE(WaitFor([&] { return NodeState("n1") == "DOWN"; }, 10s)) << kojod_->log();
  EXPECT_EQ(Job(id)["reason"], "NodeUnreachable");
  proxy.Heal();
  ASSERT_TRUE(WaitFor([&] { return NodeState("n1") == "UP"; }, 10s)) << AgentLog("n1");
  Json job = Job(id);
  EXPECT_EQ(job["state"], "RUNNING") << job.dump();
  EXPECT_EQ(job["reason"], "") << job.dump();
  ASSERT_TRUE(WaitFor([&] { return Job(id)["state"] == "COMPLETED"; }, 20s)) << Job(id).dump() << RecordsText();
  EXPECT_EQ(Job(id)["attempt"], 1);
  const std::vector<std::string> want{"start 1 n1", "end 1 n1"};
  EXPECT_EQ(Records(), want) << RecordsText();
}

// The agent frozen past its lease (it cannot stop anything): the task's
// supervisor stops it, then the job runs on n2; resumed, the agent reports
// the task fenced.
TEST_F(FenceTest, FrozenAgentsSupervisorsStopItsTasksAtTheLeasesEnd) {
  StartAgent("n1", kojod_->url());
  const JobId id = Submit(120);
  ASSERT_TRUE(WaitFor([&] { return Job(id)["state"] == "RUNNING"; }, 15s)) << Job(id).dump();
  StartAgent("n2", kojod_->url());
  ::kill(agents_["n1"].pid(), SIGSTOP);
  ASSERT_TRUE(WaitFor([&] { return Job(id)["attempt"] == 2 && Job(id)["state"] == "COMPLETED"; }, 30s))
      << Job(id).dump() << RecordsText() << kojod_->log();
  const std::vector<std::string> want{"start 1 n1", "end 1 n1", "start 2 n2", "end 2 n2"};
  EXPECT_EQ(Records(), want) << RecordsText();
  ::kill(agents_["n1"].pid(), SIGCONT);
  EXPECT_TRUE(WaitFor([&] { return NodeState("n1") == "UP"; }, 15s)) << AgentLog("n1");
  EXPECT_NE(AgentLog("n1").find("fenced"), std::string::npos) << AgentLog("n1");
  EXPECT_EQ(Job(id)["state"], "COMPLETED");
}

}  // namespace
}  // namespace kojo::testing

#endif  // KOJO_AGENT_BINARY
