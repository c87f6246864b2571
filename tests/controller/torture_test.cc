// Crash torture: a real kojod and a real kojo-agent (emulated GPUs) under a
// mixed load from several clients (submissions with idempotency keys, some
// of them arrays, cancels, holds and releases, jobs ending on their own),
// while kojod is killed with SIGKILL at random moments and restarted on the
// same port, and the agent now and then too. After every restart the test
// pauses the clients and checks:
//
//   * every acknowledged (201) submission is there, with the ids it was
//     given, exactly once (jobs are named after their idempotency keys);
//     a submission that got no answer is retried with its key and gets the
//     ids already stored, if any;
//   * an ended job stays ended, in the same state; a job whose cancel was
//     acknowledged is never PENDING, HELD, STARTING or RUNNING again;
//   * no job ran twice at once: each task takes an flock on a file named
//     after its job for as long as it runs (released by the kernel however
//     it dies) and records a collision if the lock is taken; no attempt of a
//     job started twice;
//   * a job that completed never started again;
//   * the project's grant balances (awarded = used + reserved + left), its
//     use never goes down (a charge is never lost) and never exceeds what
//     the cluster's 8 GPUs could have run since the test began.
//
// At the end the clients stop and every job must end (nothing stuck).
// Seeded (KOJO_TORTURE_SEED, default 1); KOJO_TORTURE_KILLS sets the number
// of rounds (default 10 kojod kills, about 13 s here; 6 rounds with freezes);
// bench/crash-torture.sh runs a longer soak. The counts are printed on one
// line at the end.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include <fmt/format.h>

#include "daemons.h"

#ifdef KOJO_AGENT_BINARY

namespace kojo::testing {
namespace {

using namespace std::chrono_literals;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

bool Terminal(const std::string& s) {
  return s == "COMPLETED" || s == "FAILED" || s == "CANCELLED" || s == "TIMEOUT";
}

// Lines of a file, as integers.
std::vector<int> Ints(const std::string& path) {
  std::vector<int> out;
  std::istringstream in(ReadFile(path));
  int v;
  while (in >> v) out.push_back(v);
  return out;
}

struct Acked {
  std::vector<JobId> ids;
};

class Torture {
 public:
  // freezes: every third round freezes the agent instead of killing kojod.
  explicit Torture(bool freezes = false, int rounds = 10)
      : seed_(EnvInt("KOJO_TORTURE_SEED", 1)), kills_(EnvInt("KOJO_TORTURE_KILLS", rounds)), freezes_(freezes) {
    for (const char* d : {"/runs", "/locks", "/starts", "/ends"})
      std::filesystem::create_directories(dir_.path() + d);
  }

  std::string runs() const { return dir_.path() + "/runs"; }

  void StartKojod() {
    const std::string listen = port_ ? fmt::format("127.0.0.1:{}", port_) : "127.0.0.1:0";
    for (int tries = 0; tries < 50; ++tries) {
      kojod_ = std::make_unique<Kojod>(dir_.path() + "/kojod",
                                       std::vector<std::string>{"--node-timeout", "3", "--lease", "4", "--kill-grace", "1"}, listen);
      if (kojod_->ok()) break;
      std::this_thread::sleep_for(100ms);  // the port is not free yet
    }
    ASSERT_TRUE(kojod_->ok()) << kojod_->log();
    port_ = kojod_->port();
    std::lock_guard lock(url_mu_);
    url_ = kojod_->url();
  }

  void StartAgent() {
    const std::string name = "n1";
    agent_ = Process({KOJO_AGENT_BINARY, "--server", fmt::format("http://127.0.0.1:{}", port_), "--name", name,
                      "--state-dir", dir_.path() + "/agent", "--listen", "127.0.0.1:0", "--emulate-gpus",
                      "8xH100-80GB", "--kill-grace", "1", "--heartbeat-wait-ms", "500", "--quiet"},
                     dir_.path() + "/agent.log");
  }

  httplib::Client Client() {
    std::string url;
    {
      std::lock_guard lock(url_mu_);
      url = url_;
    }
    httplib::Client c(url);
    c.set_connection_timeout(1, 0);
    c.set_read_timeout(5, 0);
    return c;
  }

  // The job's command: takes the job's lock for as long as it runs.
  Json Command(int sleep_ms, bool fail) const {
    const std::string d = dir_.path();
    const std::string script = fmt::format(
        "exec 9>{d}/locks/$KOJO_JOB_ID; flock -n 9 || echo $KOJO_JOB_ID.$KOJO_ATTEMPT >> {d}/concurrent; "
        "echo $KOJO_ATTEMPT >> {d}/starts/$KOJO_JOB_ID; sleep {s}; echo $KOJO_ATTEMPT >> {d}/ends/$KOJO_JOB_ID; "
        "exit {e}",
        fmt::arg("d", d), fmt::arg("s", fmt::format("{:.3f}", sleep_ms / 1000.0)), fmt::arg("e", fail ? 3 : 0));
    return Json{"/bin/sh", "-c", script};
  }

  // One client: random operations until stopped; pauses while paused_.
  void ClientLoop(int t) {
    std::mt19937_64 rng(seed_ * 1000 + t);
    std::vector<std::string> uncertain;  // keys sent without an answer
    int n = 0;
    while (!stop_) {
      {
        std::unique_lock lock(mu_);
        ++idle_;
        cv_.notify_all();
        cv_.wait(lock, [&] { return stop_ || !paused_; });
        --idle_;
        if (stop_) return;
      }
      // About 20 requests a second from three clients: more jobs than the
      // 8 GPUs run at once, fewer than they get through.
      std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 100));
      const int op = static_cast<int>(rng() % 10);
      auto c = Client();
      if (op < 6 || acked_count_ == 0) {
        // A submission: a retry of one that got no answer, or a new one.
        std::string key;
        if (!uncertain.empty() && rng() % 2 == 0) {
          key = uncertain.back();
          uncertain.pop_back();
        } else {
          key = fmt::format("t{}-{}", t, n++);
        }
        const std::uint64_t h = std::hash<std::string>()(key) ^ seed_;
        Json spec{{"name", key}, {"gpus", 1}, {"project", "torture"}, {"time_limit_s", 60}, {"command", Command(50 + static_cast<int>(h % 450), h % 11 == 0)}};
        if (h % 7 == 0) spec["array"] = "0-2";
        if (h % 13 == 0) spec["hold"] = true;
        ++sent_;
        auto r = c.Post("/api/v1/jobs", {{"Idempotency-Key", key}}, spec.dump(), "application/json");
        if (!r || r->status >= 500) {
          uncertain.push_back(key);
          std::this_thread::sleep_for(20ms);
          continue;
        }
        EXPECT_EQ(r->status, 201) << r->body;
        if (r->status != 201) continue;
        auto ids = Body(r)["ids"].get<std::vector<JobId>>();
        std::lock_guard lock(mu_);
        auto [it, fresh] = acked_.emplace(key, Acked{ids});
        if (!fresh) EXPECT_EQ(it->second.ids, ids) << key << ": a retry got other ids";
        if (fresh) {
          for (JobId id : ids) all_ids_.push_back(id);
          ++acked_count_;
        }
        continue;
      }
      // An operation on a job acknowledged earlier.
      JobId id;
      {
        std::lock_guard lock(mu_);
        if (all_ids_.empty()) continue;
        id = all_ids_[rng() % all_ids_.size()];
      }
      const char* what = op < 8 ? "cancel" : (op == 8 ? "hold" : "release");
      auto r = c.Post(fmt::format("/api/v1/jobs/{}/{}", id, what).c_str(), "", "application/json");
      if (!r) continue;
      if (r->status == 200 && std::string(what) == "cancel") {
        std::lock_guard lock(mu_);
        cancelled_.insert(id);
        ++cancels_;
      }
      EXPECT_TRUE(r->status == 200 || r->status == 409 || r->status >= 500) << what << " " << id << ": " << r->body;
    }
  }

  void Pause() {
    std::unique_lock lock(mu_);
    paused_ = true;
    cv_.wait(lock, [&] { return idle_ == static_cast<int>(clients_.size()); });
  }
  void Resume() {
    std::lock_guard lock(mu_);
    paused_ = false;
    cv_.notify_all();
  }

  // Every job kojod has, by id.
  std::map<JobId, Json> AllJobs() {
    std::map<JobId, Json> out;
    auto c = Client();
    JobId after = 0;
    for (int page = 0; page < 10000; ++page) {
      auto r = c.Get(fmt::format("/api/v1/jobs?limit=1000&after={}", after).c_str());
      EXPECT_TRUE(r && r->status == 200);
      if (!r || r->status != 200) break;
      Json j = Body(r);
      for (auto& job : j["jobs"]) out[job["id"].get<JobId>()] = job;
      if (j["next_after"].is_null()) break;
      after = j["next_after"].get<JobId>();
    }
    return out;
  }

  // The invariants, with the clients paused.
  void Check(const char* when) {
    SCOPED_TRACE(when);
    ++checks_;
    // The tasks' records first: the jobs keep running, and whatever a task
    // wrote before kojod is asked must show in kojod's answer.
    std::map<JobId, std::vector<int>> starts_of;
    for (const auto& e : std::filesystem::directory_iterator(dir_.path() + "/starts"))
      starts_of[std::stoll(e.path().filename().string())] = Ints(e.path().string());
    auto jobs = AllJobs();
    std::map<std::string, std::vector<JobId>> by_name;
    for (const auto& [id, j] : jobs) by_name[j["spec"]["name"].get<std::string>()].push_back(id);
    std::lock_guard lock(mu_);
    for (const auto& [key, a] : acked_) {
      auto it = by_name.find(key);
      if (it == by_name.end()) {
        ++lost_;
        ADD_FAILURE() << "acknowledged submission " << key << " is lost";
        continue;
      }
      EXPECT_EQ(it->second, a.ids) << key << " is there more than once or with other ids";
    }
    for (const auto& [name, ids] : by_name)
      EXPECT_TRUE(ids.size() == 1 || ids.size() == 3) << name << " was created twice";
    for (const auto& [id, j] : jobs) {
      const std::string state = j["state"].get<std::string>();
      if (auto it = ended_.find(id); it != ended_.end())
        EXPECT_EQ(state, it->second) << "job " << id << " ended " << it->second << " and is now " << state;
      if (Terminal(state)) ended_.emplace(id, state);
      if (cancelled_.count(id))
        EXPECT_TRUE(state == "STOPPING" || Terminal(state)) << "job " << id << " was cancelled and is " << state;
      // No attempt started twice; a completed job never started again.
      const auto& starts = starts_of[id];
      std::set<int> distinct(starts.begin(), starts.end());
      EXPECT_EQ(distinct.size(), starts.size()) << "job " << id << ": an attempt started twice";
      if (!starts.empty()) EXPECT_LE(starts.back(), j["attempt"].get<int>()) << j.dump();
    }
    // The grant: balanced, never less used than before, never more than the
    // cluster could have run (8 GPUs since the test began, plus a second
    // of rounding per run).
    auto grants = Client().Get("/api/v1/grants?project=torture");
    ASSERT_TRUE(grants && grants->status == 200) << (grants ? grants->body : "no answer");
    const Json gs = Body(grants);
    ASSERT_EQ(gs["grants"].size(), 1u) << gs.dump();
    const Json& g = gs["grants"][0];
    const double awarded = g["awarded_gpu_hours"], used = g["used_gpu_hours"], reserved = g["reserved_gpu_hours"],
                 left = g["left_gpu_hours"];
    EXPECT_NEAR(awarded, used + reserved + left, 1e-6) << g.dump();
    EXPECT_GE(used, used_before_ - 1e-9) << "the grant's use went down: " << g.dump();
    EXPECT_GE(reserved, 0.0) << g.dump();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began_).count();
    EXPECT_LE(used, (8 * seconds + static_cast<double>(jobs.size())) / 3600) << g.dump();
    used_before_ = used;
    const std::string concurrent = ReadFile(dir_.path() + "/concurrent");
    ran_twice_ = static_cast<int>(std::count(concurrent.begin(), concurrent.end(), '\n'));
    EXPECT_TRUE(concurrent.empty()) << "ran twice at once (job.attempt): " << concurrent;
    for (const auto& [id, state] : ended_)
      if (state == "COMPLETED") {
        auto starts = Ints(fmt::format("{}/starts/{}", dir_.path(), id));
        auto ends = Ints(fmt::format("{}/ends/{}", dir_.path(), id));
        ASSERT_FALSE(ends.empty()) << "job " << id << " COMPLETED without its task ending";
        EXPECT_EQ(starts.back(), ends.back()) << "job " << id << " started again after it completed";
      }
  }

  void Run() {
    std::mt19937_64 rng(seed_);
    StartKojod();
    if (::testing::Test::HasFatalFailure()) return;
    StartAgent();
    ASSERT_TRUE(WaitFor(
        [&] {
          auto r = Client().Get("/api/v1/nodes/n1");
          return r && r->status == 200 && Body(r)["state"] == "UP";
        },
        20s))
        << ReadFile(dir_.path() + "/agent.log");
    const Json org = Json::parse(R"({
      "programmes": [{"name": "science"}],
      "organisations": [{"name": "lab", "programme": "science"}],
      "projects": [{"name": "torture", "organisation": "lab"}],
      "grants": [{"id": "g1", "project": "torture", "gpu_hours": 100, "start": "2026-01-01", "end": "2100-01-01"}]
    })");
    auto put = Client().Put("/api/v1/org", org.dump(), "application/json");
    ASSERT_TRUE(put && put->status == 200) << (put ? put->body : "no answer");
    began_ = std::chrono::steady_clock::now();
    for (int t = 0; t < 3; ++t) clients_.emplace_back([this, t] { ClientLoop(t); });
    int agent_kills = 0;
    for (int k = 0; k < kills_ && !::testing::Test::HasFatalFailure(); ++k) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 1300));
      if (freezes_ > 0 && k % 3 == 2) {
        // The agent frozen past the node timeout (3 s), then resumed; its
        // tasks run on meanwhile, in their own sessions.
        ::kill(agent_.pid(), SIGSTOP);
        // DOWN after 3 s of silence, seen at the controller's next tick (0.75 s),
        // counted from the end of a long poll in flight (0.5 s).
        std::this_thread::sleep_for(std::chrono::milliseconds(5000 + rng() % 1500));
        auto node = Client().Get("/api/v1/nodes/n1");
        EXPECT_TRUE(node && Body(node)["state"] == "DOWN") << "the freeze did not outlast the node timeout";
        ::kill(agent_.pid(), SIGCONT);
        ++freezes_done_;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        Pause();
        Check("after the agent was frozen");
        Resume();
        continue;
      }
      kojod_->process().Kill();  // SIGKILL, at whatever it was doing
      if (rng() % 3 == 0) {
        agent_.Kill();
        ++agent_kills;
        std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
        StartAgent();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 200));
      StartKojod();
      if (::testing::Test::HasFatalFailure()) break;
      Pause();
      Check("after a restart");
      Resume();
    }
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      paused_ = false;
      cv_.notify_all();
    }
    for (auto& c : clients_) c.join();
    if (::testing::Test::HasFatalFailure()) return;
    // Nothing stuck: held jobs are cancelled, everything else ends.
    auto jobs = AllJobs();
    for (const auto& [id, j] : jobs)
      if (j["state"] == "HELD") Client().Post(fmt::format("/api/v1/jobs/{}/cancel", id).c_str(), "", "application/json");
    std::vector<JobId> stuck;
    WaitFor(
        [&] {
          stuck.clear();
          for (const auto& [id, j] : AllJobs())
            if (!Terminal(j["state"].get<std::string>())) stuck.push_back(id);
          return stuck.empty();
        },
        90s, 200ms);
    EXPECT_TRUE(stuck.empty()) << stuck.size() << " jobs never ended, the first " << (stuck.empty() ? 0 : stuck[0])
                               << ": " << (stuck.empty() ? "" : AllJobs()[stuck[0]].dump());
    Check("at the end");
    std::map<std::string, int> states;
    for (const auto& [id, j] : AllJobs()) ++states[j["state"].get<std::string>()];
    std::string summary = fmt::format(" grant_used_gpu_hours={:.4f}", used_before_);
    for (const auto& [s, n] : states) summary += fmt::format(" {}={}", s, n);
    std::printf("seed: %d kojod_kills: %d agent_kills: %d agent_freezes: %d requests: %ld acknowledged: %ld jobs: %zu cancels: %ld "
                "checks: %d lost: %d ran_twice: %d stuck: %zu;%s\n",
                seed_, kills_ - freezes_done_, agent_kills, freezes_done_, sent_.load(), acked_count_.load(), jobs.size(), cancels_.load(), checks_,
                lost_, ran_twice_, stuck.size(), summary.c_str());
  }

  ~Torture() {
    agent_.Kill();
    kojod_.reset();
    // KOJO_TORTURE_KEEP=DIR keeps the logs, the database and the tasks'
    // records of a failed run there.
    if (const char* keep = std::getenv("KOJO_TORTURE_KEEP"); keep && *keep && ::testing::Test::HasFailure())
      std::filesystem::copy(dir_.path(), keep, std::filesystem::copy_options::recursive);
  }

 private:
  TempDir dir_;
  const int seed_, kills_;
  const bool freezes_;
  int freezes_done_ = 0;
  int port_ = 0;
  std::unique_ptr<Kojod> kojod_;
  Process agent_;
  std::mutex url_mu_;
  std::string url_;
  std::vector<std::thread> clients_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool paused_ = false;
  int idle_ = 0;
  std::atomic<bool> stop_{false};
  std::map<std::string, Acked> acked_;
  std::vector<JobId> all_ids_;
  std::set<JobId> cancelled_;
  std::map<JobId, std::string> ended_;
  std::atomic<long> sent_{0}, acked_count_{0}, cancels_{0};
  int checks_ = 0, lost_ = 0, ran_twice_ = 0;
  double used_before_ = 0;
  std::chrono::steady_clock::time_point began_;
};

TEST(CrashTorture, KillsAndRestartsLoseNothingAndRunNothingTwice) {
  Torture t;
  t.Run();
}

// Every third round freezes the agent (SIGSTOP) for 5-6.5 s, past the node
// timeout of 3 s and its lease of 4 s, instead of killing kojod: the node
// goes DOWN; its tasks' supervisors stop them at the lease's end; kojod
// requeues or fails their jobs 6 s after it last heard from the node, or
// earlier when the resumed agent reports them fenced. The same invariants
// hold.
TEST(CrashTorture, AgentFrozenPastItsTimeoutRunsNothingTwice) {
  Torture t(/*freezes=*/true, /*rounds=*/6);
  t.Run();
}

}  // namespace
}  // namespace kojo::testing

#endif  // KOJO_AGENT_BINARY
