// A soak of the live system: kojod (with a short --keep-ended) and one
// kojo-agent with emulated GPUs, on 127.0.0.1, under --clients clients for
// --seconds. Each client loops, each with its own generator (--seed +
// client): it submits a short job (with an Idempotency-Key) and follows its
// log until the job has ended and every byte was read, lists jobs, reads
// one, and every fourth round submits a long job and cancels it once it
// runs. Every second it samples kojod's resident memory, open file
// descriptors and threads (/proc), and at the end checks that they are
// flat: after a warm-up (the first fifth of the run), the last samples are
// no higher than the warm-up window's highest, plus a margin (memory 25 % +
// 8 MiB, 16 descriptors, 16 threads). Ended jobs are forgotten after
// --keep-ended seconds (kojod's retention), so the job count levels off too.
//
//   kojo_soak --kojod build/release/src/kojod --agent build/release/src/kojo-agent --seconds 600
//
// Prints a sample every 10 s (stderr) and ends with one line:
//   soak: seconds S clients C rounds R jobs J errors E purged P
//         rss_mib A->B fds A->B threads A->B jobs_kept A->B flat yes|no
// Exit status 1 when a request failed, a job did not end as expected, or
// kojod's resources grew. Everything it starts is stopped on exit.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "children.h"

namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using kojo::bench::ReadFile;
using kojo::bench::Spawn;

struct Options {
  std::string kojod, agent;
  int seconds = 120;
  int clients = 8;
  int keep_ended = 15;
  std::uint64_t seed = 1;
};

struct Sample {
  double t = 0;
  double rss_mib = 0;
  int fds = 0, threads = 0;
  long long jobs = 0;  // jobs kojod holds (every state)
};

bool WaitFor(const std::function<bool()>& pred, double seconds) {
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

Sample Probe(pid_t pid, double t) {
  Sample s;
  s.t = t;
  const std::string status = ReadFile(fmt::format("/proc/{}/status", pid));
  auto field = [&](const char* name) -> long long {
    const size_t at = status.find(name);
    return at == std::string::npos ? 0 : std::atoll(status.c_str() + at + std::strlen(name));
  };
  s.rss_mib = static_cast<double>(field("VmRSS:")) / 1024.0;
  s.threads = static_cast<int>(field("Threads:"));
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(fmt::format("/proc/{}/fd", pid), ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++s.fds;
  return s;
}

class Client {
 public:
  Client(const std::string& url, int id, std::uint64_t seed) : http_(url), id_(id), rng_(seed + id) {
    http_.set_keep_alive(true);
    http_.set_read_timeout(30, 0);
    http_.set_connection_timeout(5, 0);
  }

  // One round; false (and `why`) on a failure.
  bool Round(std::string& why) {
    ++round_;
    // A short job, followed to its end.
    const JobId job = Submit({"/bin/sh", "-c", fmt::format("echo start {}; sleep 0.{}; echo end", round_, rng_() % 5)},
                             fmt::format("soak-{}-{}", id_, round_), why);
    if (job == 0) return false;
    std::string log;
    std::int64_t offset = 0;
    bool eof = false;
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (!eof && Clock::now() < deadline) {
      auto r = http_.Get(fmt::format("/api/v1/jobs/{}/logs?offset={}", job, offset).c_str());
      if (!r) return Fail(why, "logs: no answer");
      if (r->status == 200) {
        log += r->body;
        offset = std::atoll(r->get_header_value("X-Kojo-Log-Offset").c_str());
        eof = r->get_header_value("X-Kojo-Log-Eof") == "1";
      } else if (r->status != 404 && r->status != 409) {  // not started yet
        return Fail(why, fmt::format("logs: HTTP {} {}", r->status, r->body));
      }
      if (!eof) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!eof || log != fmt::format("start {}\nend\n", round_)) {
      std::string ignored;
      const Json v = GetJson(fmt::format("/api/v1/jobs/{}", job), ignored);
      return Fail(why, fmt::format("job {}: log '{}' (eof {}); the job: {}", job, log, eof, v.dump()));
    }
    // The log's end comes from the agent, which may know of the task's end
    // a heartbeat before kojod records it.
    Json shown;
    if (!WaitFor([&] {
          shown = GetJson(fmt::format("/api/v1/jobs/{}", job), why);
          return shown.is_object() && shown["state"] == "COMPLETED";
        }, 30))
      return Fail(why, fmt::format("job {} is {}", job, shown.is_object() ? shown["state"].dump() : why));
    // A listing.
    if (!GetJson(fmt::format("/api/v1/jobs?limit={}", 50 + rng_() % 200), why).is_object()) return false;
    // Every fourth round: a long job, cancelled once it runs.
    if (round_ % 4 == 0) {
      const JobId sleeper = Submit({"sleep", "300"}, "", why);
      if (sleeper == 0) return false;
      if (!WaitFor([&] { return GetJson(fmt::format("/api/v1/jobs/{}", sleeper), why).value("state", "") == "RUNNING"; }, 60))
        return Fail(why, fmt::format("job {} did not start", sleeper));
      auto c = http_.Post(fmt::format("/api/v1/jobs/{}/cancel", sleeper).c_str(), "", "application/json");
      if (!c || c->status != 200) return Fail(why, "cancel failed");
      if (!WaitFor([&] { return GetJson(fmt::format("/api/v1/jobs/{}", sleeper), why).value("state", "") == "CANCELLED"; }, 60))
        return Fail(why, fmt::format("job {} was not cancelled", sleeper));
      ++jobs_;
    }
    return true;
  }
  std::uint64_t rounds() const { return round_; }
  std::uint64_t jobs() const { return jobs_; }

 private:
  using JobId = long long;
  static bool Fail(std::string& why, std::string what) {
    why = std::move(what);
    return false;
  }
  JobId Submit(const std::vector<std::string>& argv, const std::string& key, std::string& why) {
    httplib::Headers h;
    if (!key.empty()) h.emplace("Idempotency-Key", key);
    auto r = http_.Post("/api/v1/jobs", h, Json{{"command", argv}, {"gpus", 1}, {"time_limit_s", 600}}.dump(),
                        "application/json");
    if (!r || r->status != 201) {
      Fail(why, fmt::format("submit: {}", r ? fmt::format("HTTP {} {}", r->status, r->body) : "no answer"));
      return 0;
    }
    ++jobs_;
    return Json::parse(r->body)["ids"][0].get<JobId>();
  }
  Json GetJson(const std::string& path, std::string& why) {
    auto r = http_.Get(path.c_str());
    if (!r || r->status != 200) {
      Fail(why, fmt::format("GET {}: {}", path, r ? fmt::format("HTTP {}", r->status) : "no answer"));
      return Json();
    }
    return Json::parse(r->body, nullptr, false);
  }

  httplib::Client http_;
  int id_;
  std::mt19937_64 rng_;
  std::uint64_t round_ = 0, jobs_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"A soak of kojod and an agent: clients submit, follow logs, list and cancel; kojod's resources must stay flat"};
  app.add_option("--kojod", o.kojod, "kojod binary")->required();
  app.add_option("--agent", o.agent, "kojo-agent binary")->required();
  app.add_option("--seconds", o.seconds, "How long the clients run")->check(CLI::Range(20, 86400))->capture_default_str();
  app.add_option("--clients", o.clients, "Concurrent clients")->check(CLI::Range(1, 64))->capture_default_str();
  app.add_option("--keep-ended", o.keep_ended, "kojod's --keep-ended (seconds)")->check(CLI::Range(1, 3600))->capture_default_str();
  app.add_option("--seed", o.seed, "Seed of the clients' choices")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  signal(SIGTERM, kojo::bench::KillChildrenAndExit);
  signal(SIGINT, kojo::bench::KillChildrenAndExit);

  char tmpl[] = "/tmp/kojo-soak.XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  std::vector<pid_t> pids;
  auto cleanup = [&] {
    for (auto it = pids.rbegin(); it != pids.rend(); ++it) kill(*it, SIGTERM);
    for (pid_t p : pids) waitpid(p, nullptr, 0);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  };
  const pid_t kojod = Spawn({o.kojod, "--data-dir", dir + "/kojod", "--listen", "127.0.0.1:0", "--keep-ended",
                             std::to_string(o.keep_ended), "--kill-grace", "1"},
                            dir + "/kojod.log");
  pids.push_back(kojod);
  if (!WaitFor([&] { return !ReadFile(dir + "/kojod/kojod.addr").empty(); }, 20)) {
    std::fprintf(stderr, "soak: kojod did not start:\n%s", ReadFile(dir + "/kojod.log").c_str());
    cleanup();
    return 1;
  }
  std::string url = ReadFile(dir + "/kojod/kojod.addr");
  url.erase(url.find_last_not_of("\n ") + 1);
  pids.push_back(Spawn({o.agent, "--server", url, "--name", "soak", "--state-dir", dir + "/agent", "--listen",
                        "127.0.0.1:0", "--emulate-gpus", "8xH100-80GB", "--kill-grace", "1", "--quiet"},
                       dir + "/agent.log"));
  httplib::Client probe(url);
  probe.set_read_timeout(30, 0);
  if (!WaitFor([&] {
        auto r = probe.Get("/api/v1/nodes/soak");
        return r && r->status == 200 && Json::parse(r->body, nullptr, false).value("state", "") == "UP";
      }, 30)) {
    std::fprintf(stderr, "soak: the agent did not register:\n%s", ReadFile(dir + "/agent.log").c_str());
    cleanup();
    return 1;
  }

  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::string> errors;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < o.clients; ++i) clients.push_back(std::make_unique<Client>(url, i, o.seed));
  std::vector<std::thread> threads;
  for (auto& c : clients)
    threads.emplace_back([&, c = c.get()] {
      std::string why;
      while (!stop) {
        if (!c->Round(why)) {
          std::lock_guard lock(mu);
          errors.push_back(why);
          if (errors.size() > 20) stop = true;
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
      }
    });

  std::vector<Sample> samples;
  const auto start = Clock::now();
  auto metric = [&](const std::string& text, const std::string& name) -> double {
    double sum = 0;
    for (size_t at = text.find("\n" + name); at != std::string::npos; at = text.find("\n" + name, at + 1)) {
      const size_t sp = text.find(' ', at + 1);
      if (sp != std::string::npos) sum += std::atof(text.c_str() + sp + 1);
    }
    return sum;
  };
  double purged = 0;
  while (!stop) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const double t = std::chrono::duration<double>(Clock::now() - start).count();
    Sample s = Probe(kojod, t);
    if (auto r = probe.Get("/metrics"); r && r->status == 200) {
      s.jobs = static_cast<long long>(metric(r->body, "kojo_jobs{"));
      purged = metric(r->body, "kojo_jobs_purged_total ");
    }
    samples.push_back(s);
    if (samples.size() % 10 == 0)
      std::fprintf(stderr, "soak: %4.0f s  rss %.1f MiB  fds %d  threads %d  jobs %lld  purged %.0f\n", t, s.rss_mib,
                   s.fds, s.threads, s.jobs, purged);
    if (t >= o.seconds) stop = true;
  }
  for (auto& t : threads) t.join();
  std::uint64_t rounds = 0, jobs = 0;
  for (auto& c : clients) {
    rounds += c->rounds();
    jobs += c->jobs();
  }
  // Idle after the load: what kojod holds once the clients are gone.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  samples.push_back(Probe(kojod, std::chrono::duration<double>(Clock::now() - start).count()));

  // Flat: the last samples against the warm-up window's highest.
  const size_t warm = std::max<size_t>(5, samples.size() / 5);
  Sample top;
  for (size_t i = 0; i < std::min(warm * 2, samples.size()); ++i) {
    if (i < warm) continue;
    top.rss_mib = std::max(top.rss_mib, samples[i].rss_mib);
    top.fds = std::max(top.fds, samples[i].fds);
    top.threads = std::max(top.threads, samples[i].threads);
    top.jobs = std::max(top.jobs, samples[i].jobs);
  }
  const Sample& last = samples.back();
  const bool flat = last.rss_mib <= top.rss_mib * 1.25 + 8 && last.fds <= top.fds + 16 && last.threads <= top.threads + 16;
  const bool ok = flat && errors.empty() && purged > 0;
  for (size_t i = 0; i < errors.size() && i < 10; ++i) std::fprintf(stderr, "soak: error: %s\n", errors[i].c_str());
  if (purged == 0) std::fprintf(stderr, "soak: no ended job was forgotten (retention did not run)\n");
  std::printf("soak: seconds %d clients %d rounds %llu jobs %llu errors %zu purged %.0f rss_mib %.1f->%.1f fds %d->%d "
              "threads %d->%d jobs_kept %lld->%lld flat %s\n",
              o.seconds, o.clients, static_cast<unsigned long long>(rounds), static_cast<unsigned long long>(jobs),
              errors.size(), purged, top.rss_mib, last.rss_mib, top.fds, last.fds, top.threads, last.threads, top.jobs,
              samples[samples.size() - 2].jobs, flat ? "yes" : "no");
  cleanup();
  return ok ? 0 : 1;
}
