// A bounded API load on a running kojod, to measure its memory and
// throughput: --clients keep-alive clients (threads), each drawing its
// requests from its own generator (--seed + client), for --seconds or
// until --requests in all, whichever comes first. Talks to 127.0.0.1 only.
//
//   --mode mixed   (default) per request: 50% submit one held job, 25% list
//                  (limit 100, 1000 or 10000, and sometimes state=HELD),
//                  25% show a job already submitted
//   --mode read    50% list, 50% show (jobs must exist: see --prefill)
//   --prefill N    first submit N held jobs in batches of 100 (not counted)
//
// Jobs are submitted held so that running them does not take the CPU; each
// submission carries an Idempotency-Key as `kojo submit` does. Prints one
// line of figures (and --json for a machine-readable one).
//
//   kojo_api_load --port 7100 --token "$(jq -r .token ~/.config/kojo/dev.json)"
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <httplib.h>

namespace {

using Clock = std::chrono::steady_clock;

struct Counts {
  std::uint64_t submit = 0, list = 0, show = 0, errors = 0, submitted_jobs = 0;
  std::vector<double> latency_ms;
};

std::string SubmitBody(std::mt19937_64& rng, int n) {
  std::string jobs;
  for (int i = 0; i < n; ++i) {
    if (i) jobs += ',';
    jobs += fmt::format(R"({{"name":"load-{}","command":["sleep","{}"],"gpus":{},"hold":true}})", rng() % 100000,
                        1 + rng() % 600, 1 + rng() % 4);
  }
  return n == 1 ? jobs : "{\"jobs\":[" + jobs + "]}";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kojo_api_load: a bounded mixed or read-only API load on a running kojod (127.0.0.1)"};
  int port = 7100, clients = 20, prefill = 0;
  double seconds = 30;
  std::uint64_t requests = 0, seed = 1;
  std::string token, mode = "mixed";
  bool json = false;
  app.add_option("--port", port, "kojod's port on 127.0.0.1")->capture_default_str();
  app.add_option("--token", token, "Bearer token (default: $KOJO_TOKEN)");
  app.add_option("--clients", clients, "Concurrent keep-alive clients")->check(CLI::Range(1, 1000))->capture_default_str();
  app.add_option("--seconds", seconds, "Duration")->check(CLI::Range(0.1, 3600.0))->capture_default_str();
  app.add_option("--requests", requests, "Stop after this many requests in all (0: no limit)")->capture_default_str();
  app.add_option("--seed", seed, "Seed of the clients' generators")->capture_default_str();
  app.add_option("--mode", mode, "mixed or read")->check(CLI::IsMember({"mixed", "read"}))->capture_default_str();
  app.add_option("--prefill", prefill, "Held jobs to submit before the load (batches of 100)")->capture_default_str();
  app.add_flag("--json", json, "One JSON line of figures");
  CLI11_PARSE(app, argc, argv);
  if (token.empty())
    if (const char* t = std::getenv("KOJO_TOKEN")) token = t;
  const httplib::Headers auth = token.empty() ? httplib::Headers{} : httplib::Headers{{"Authorization", "Bearer " + token}};

  std::atomic<std::int64_t> max_id{0};
  auto note_ids = [&](const std::string& body) {  // {"ids":[1,2,...]}: the largest id
    const size_t close = body.rfind(']');
    if (close == std::string::npos) return;
    size_t b = close;
    while (b > 0 && body[b - 1] >= '0' && body[b - 1] <= '9') --b;
    if (b == close) return;
    const std::int64_t id = std::stoll(body.substr(b, close - b));
    std::int64_t cur = max_id.load();
    while (id > cur && !max_id.compare_exchange_weak(cur, id)) {
    }
  };
  {
    httplib::Client cli("127.0.0.1", port);
    cli.set_read_timeout(60, 0);
    std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ULL);
    for (int done = 0; done < prefill;) {
      const int n = std::min(100, prefill - done);
      auto r = cli.Post("/api/v1/jobs", auth, SubmitBody(rng, n), "application/json");
      if (!r || r->status != 201) {
        std::fprintf(stderr, "prefill: %s\n", r ? r->body.c_str() : httplib::to_string(r.error()).c_str());
        return 1;
      }
      note_ids(r->body);
      done += n;
    }
    // Jobs already there (a read-only load on an existing state): the
    // largest id of the newest page.
    auto r = cli.Get("/api/v1/jobs?limit=1&after=0", auth);
    if (!r || r->status != 200) {
      std::fprintf(stderr, "kojod at 127.0.0.1:%d: %s\n", port,
                   r ? r->body.c_str() : httplib::to_string(r.error()).c_str());
      return 1;
    }
  }
  if (max_id.load() == 0) {  // find the largest id by listing (pages of 10,000)
    httplib::Client cli("127.0.0.1", port);
    std::int64_t after = 0;
    for (;;) {
      auto r = cli.Get(fmt::format("/api/v1/jobs?limit=10000&after={}", after), auth);
      if (!r || r->status != 200) break;
      const size_t p = r->body.rfind("\"next_after\":");
      if (p == std::string::npos || r->body.compare(p + 13, 4, "null") == 0) {
        // the last page: its largest "id"
        const size_t q = r->body.rfind("\"id\":");
        if (q != std::string::npos) max_id = std::max<std::int64_t>(max_id, std::atoll(r->body.c_str() + q + 5));
        break;
      }
      after = std::atoll(r->body.c_str() + p + 13);
      max_id = after;
    }
  }
  if (mode == "read" && max_id.load() == 0) {
    std::fprintf(stderr, "--mode read: no job to show or list (use --prefill)\n");
    return 1;
  }

  std::vector<Counts> counts(static_cast<size_t>(clients));
  std::atomic<std::uint64_t> issued{0};
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      Counts& k = counts[static_cast<size_t>(c)];
      std::mt19937_64 rng(seed * 1000003 + static_cast<std::uint64_t>(c));
      httplib::Client cli("127.0.0.1", port);
      cli.set_keep_alive(true);
      cli.set_read_timeout(60, 0);
      std::uint64_t key = 0;
      while (Clock::now() < deadline && (requests == 0 || issued.fetch_add(1) < requests)) {
        const unsigned roll = static_cast<unsigned>(rng() % 100);
        const auto t0 = Clock::now();
        const httplib::Result r = [&]() -> httplib::Result {
          if (mode == "mixed" && roll < 50) {
            httplib::Headers h = auth;
            h.emplace("Idempotency-Key", fmt::format("load-{}-{}-{}", seed, c, key++));
            ++k.submit;
            auto s = cli.Post("/api/v1/jobs", h, SubmitBody(rng, 1), "application/json");
            if (s && s->status == 201) {
              note_ids(s->body);
              ++k.submitted_jobs;
            }
            return s;
          }
          if ((mode == "mixed" && roll < 75) || (mode == "read" && roll < 50)) {
            static constexpr int kLimits[] = {100, 1000, 10000};
            const int limit = kLimits[rng() % 3];
            const bool held = rng() % 4 == 0;
            ++k.list;
            return cli.Get(fmt::format("/api/v1/jobs?limit={}{}", limit, held ? "&state=HELD" : ""), auth);
          }
          const std::int64_t top = max_id.load();
          if (top == 0) {  // no job yet to show
            ++k.list;
            return cli.Get("/api/v1/jobs?limit=1", auth);
          }
          ++k.show;
          return cli.Get(fmt::format("/api/v1/jobs/{}", 1 + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(top))), auth);
        }();
        k.latency_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (!r || r->status >= 400) {
          if (k.errors++ < 3)
            std::fprintf(stderr, "client %d: %s\n", c,
                         r ? fmt::format("{} {}", r->status, r->body.substr(0, 200)).c_str() : httplib::to_string(r.error()).c_str());
        }
      }
    });
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  Counts all;
  for (auto& k : counts) {
    all.submit += k.submit;
    all.list += k.list;
    all.show += k.show;
    all.errors += k.errors;
    all.submitted_jobs += k.submitted_jobs;
    all.latency_ms.insert(all.latency_ms.end(), k.latency_ms.begin(), k.latency_ms.end());
  }
  std::sort(all.latency_ms.begin(), all.latency_ms.end());
  auto pct = [&](double p) {
    return all.latency_ms.empty() ? 0.0 : all.latency_ms[std::min(all.latency_ms.size() - 1, static_cast<size_t>(p * all.latency_ms.size()))];
  };
  const std::uint64_t total = all.submit + all.list + all.show;
  if (json)
    std::printf(R"({"mode":"%s","clients":%d,"seconds":%.2f,"requests":%llu,"submit":%llu,"list":%llu,"show":%llu,)"
                R"("errors":%llu,"acknowledged":%llu,"rps":%.1f,"p50_ms":%.2f,"p99_ms":%.2f})" "\n",
                mode.c_str(), clients, elapsed, static_cast<unsigned long long>(total),
                static_cast<unsigned long long>(all.submit), static_cast<unsigned long long>(all.list),
                static_cast<unsigned long long>(all.show), static_cast<unsigned long long>(all.errors),
                static_cast<unsigned long long>(all.submitted_jobs), total / elapsed, pct(0.5), pct(0.99));
  else
    std::printf("%s, %d clients, %.1f s: %llu requests (%llu submit, %llu list, %llu show), %llu errors, "
                "%llu acknowledged submissions, %.0f requests/s, p50 %.2f ms, p99 %.2f ms\n",
                mode.c_str(), clients, elapsed, static_cast<unsigned long long>(total),
                static_cast<unsigned long long>(all.submit), static_cast<unsigned long long>(all.list),
                static_cast<unsigned long long>(all.show), static_cast<unsigned long long>(all.errors),
                static_cast<unsigned long long>(all.submitted_jobs), total / elapsed, pct(0.5), pct(0.99));
  return all.errors == 0 ? 0 : 3;
}
