#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "sched/placer.h"
#include "sim/pack.h"
#include "sim/svg.h"

namespace kojo::cli {

namespace {

struct PackOptions {
  std::string nodes, pods, placer = "fgd";
  std::uint64_t seed = 42;
  std::string seeds;
  double inflate = kDefaultPackInflate;
  bool json = false;
};

// Mean over seeds of one placer's runs.
struct PackSummary {
  std::string placer;
  std::vector<std::uint64_t> seeds;
  std::vector<double> alloc_at_100;  // per seed
  std::vector<PackPoint> curve;      // mean over seeds per k
  double mean_at_100 = 0;
  std::int64_t pods_original = 0;
  double pods_arrived = 0, pods_failed = 0;  // means
  double wall_s = 0;                          // total
};

PackSummary RunSeeds(const PackInput& input, const std::string& placer, const std::vector<std::uint64_t>& seeds,
                     double inflate, const std::function<void(double)>& progress) {
  PackSummary s;
  s.placer = placer;
  s.seeds = seeds;
  std::vector<double> sum;
  std::vector<int> count;
  for (size_t i = 0; i < seeds.size(); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = RunPack(input, placer, seeds[i], inflate);
    s.wall_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!r.ok()) Fail(r.error());
    s.alloc_at_100.push_back(r->alloc_at_100);
    s.pods_original = r->pods_original;
    s.pods_arrived += static_cast<double>(r->pods_arrived) / static_cast<double>(seeds.size());
    s.pods_failed += static_cast<double>(r->pods_failed) / static_cast<double>(seeds.size());
    for (const PackPoint& p : r->curve) {
      if (p.arrived_pct < 0) continue;
      size_t k = static_cast<size_t>(p.arrived_pct);
      if (k >= sum.size()) { sum.resize(k + 1, 0); count.resize(k + 1, 0); }
      sum[k] += p.alloc_pct;
      ++count[k];
    }
    if (progress) progress(static_cast<double>(i + 1) / static_cast<double>(seeds.size()));
  }
  for (size_t k = 0; k < sum.size(); ++k)
    if (count[k] > 0) s.curve.push_back(PackPoint{static_cast<int>(k), sum[k] / count[k]});
  double total = 0;
  for (double v : s.alloc_at_100) total += v;
  s.mean_at_100 = s.alloc_at_100.empty() ? 0 : total / static_cast<double>(s.alloc_at_100.size());
  return s;
}

nlohmann::json SummaryJson(const PackSummary& s, const std::string& nodes, const std::string& pods, double inflate) {
  nlohmann::json j;
  j["placer"] = s.placer;
  j["nodes"] = nodes;
  j["pods"] = pods;
  j["inflate"] = inflate;
  j["seeds"] = s.seeds;
  j["alloc_at_100"] = s.mean_at_100;
  j["alloc_at_100_per_seed"] = s.alloc_at_100;
  nlohmann::json curve = nlohmann::json::array();
  for (const PackPoint& p : s.curve) curve.push_back({{"arrived_pct", p.arrived_pct}, {"alloc_pct", p.alloc_pct}});
  j["curve"] = curve;
  j["pods_original"] = s.pods_original;
  j["pods_arrived"] = s.pods_arrived;
  j["pods_failed"] = s.pods_failed;
  j["wall_s"] = s.wall_s;
  return j;
}

void CheckPlacerName(const std::string& name) {
  auto p = MakePlacer(name);
  if (!p.ok()) UsageError(fmt::format("--placer: {}", p.error().message));
}

void DoPack(const PackOptions& o) {
  CheckPlacerName(o.placer);
  std::vector<std::uint64_t> seeds =
      o.seeds.empty() ? std::vector<std::uint64_t>{o.seed} : ParseSeeds(o.seeds, "--seeds");
  PackInput input = Unwrap(ReadPackInput(o.nodes, o.pods));
  ProgressBar bar("sim pack " + o.placer);
  PackSummary s = RunSeeds(input, o.placer, seeds, o.inflate, [&](double f) { bar.Update(f); });
  bar.Done();
  if (o.json) {
    std::cout << SummaryJson(s, o.nodes, o.pods, o.inflate).dump() << "\n";
    return;
  }
  std::cout << fmt::format("kojo sim pack: {} on {} nodes, {} pods (tuned to {:.0f}% of the GPUs: {:.0f} arrive)\n",
                           o.placer, input.nodes.size(), s.pods_original, 100 * o.inflate, s.pods_arrived);
  std::cout << fmt::format("allocated GPU at 100% arrived: {:.2f}%", s.mean_at_100);
  if (seeds.size() > 1) std::cout << fmt::format(" (mean of {} seeds)", seeds.size());
  std::cout << "\n";
  if (seeds.size() > 1) {
    std::cout << "per seed:";
    for (size_t i = 0; i < seeds.size(); ++i) std::cout << fmt::format(" {}={:.2f}", seeds[i], s.alloc_at_100[i]);
    std::cout << "\n";
  }
  std::cout << "arrived%  alloc%\n";
  for (const PackPoint& p : s.curve)
    if (p.arrived_pct % 10 == 0) std::cout << fmt::format("{:8d}  {:6.2f}\n", p.arrived_pct, p.alloc_pct);
  std::cout << fmt::format("failed pods (mean) {:.0f}; time {:.3f} s\n", s.pods_failed, s.wall_s);
}

}  // namespace

void RunPackCompare(const std::string& nodes, const std::string& pods, const std::string& placers_list,
                    const std::string& seeds_text, double inflate, const std::string& out, bool json) {
  auto placers = SplitList(placers_list);
  if (placers.empty()) UsageError("--placer: expected a comma-separated list of placers");
  for (const auto& p : placers) CheckPlacerName(p);
  auto seeds = ParseSeeds(seeds_text, "--seeds");
  PackInput input = Unwrap(ReadPackInput(nodes, pods));
  std::vector<PackSummary> results;
  ProgressBar bar("sim compare (pack)");
  for (size_t i = 0; i < placers.size(); ++i)
    results.push_back(RunSeeds(input, placers[i], seeds, inflate, [&](double f) {
      bar.Update((static_cast<double>(i) + f) / static_cast<double>(placers.size()), placers[i]);
    }));
  bar.Done();
  nlohmann::json all = nlohmann::json::array();
  for (const auto& s : results) all.push_back(SummaryJson(s, nodes, pods, inflate));

  size_t w = 8;
  for (const auto& p : placers) w = std::max(w, p.size());
  std::string table = fmt::format("packing: {} nodes, {} pods, demand tuned to {:.0f}%, seeds {}\n",
                                  input.nodes.size(), input.pods.size(), 100 * inflate, seeds_text);
  table += fmt::format("{:<{}}  {:>12}  {:>8}  {:>8}  {:>10}\n", "placer", w, "alloc@100%", "min", "max", "time");
  for (const auto& s : results) {
    auto [mn, mx] = std::minmax_element(s.alloc_at_100.begin(), s.alloc_at_100.end());
    table += fmt::format("{:<{}}  {:>11.2f}%  {:>7.2f}%  {:>7.2f}%  {:>9.3f}s\n", s.placer, w, s.mean_at_100, *mn, *mx,
                         s.wall_s);
  }
  if (!out.empty()) {
    MakeDirs(out);
    LinePlot plot;
    plot.title = "Allocated GPU vs arrived demand (FGD packing experiment)";
    plot.x_label = "arrived GPU demand (% of cluster GPUs)";
    plot.y_label = "allocated GPUs (% of cluster GPUs)";
    plot.credit = CreditFor("openb");
    plot.y_min = 0;
    plot.y_max = 100;
    for (const auto& s : results) {
      PlotSeries ps{fmt::format("{} ({:.2f}%)", s.placer, s.mean_at_100), {}, false};
      for (const PackPoint& p : s.curve) ps.points.emplace_back(p.arrived_pct, p.alloc_pct);
      plot.series.push_back(std::move(ps));
    }
    WriteFile(out + "/pack-alloc.svg", RenderSvg(plot));
    WriteFile(out + "/summary.json", all.dump(2) + "\n");
    WriteFile(out + "/table.txt", table);
  }
  if (json) {
    std::cout << all.dump() << "\n";
    return;
  }
  std::cout << table;
  if (!out.empty()) std::cout << fmt::format("wrote {}/pack-alloc.svg, summary.json, table.txt\n", out);
}

void AddSimPackCommands(CLI::App& sim) {
  auto o = std::make_shared<PackOptions>();
  CLI::App* pack = sim.add_subcommand(
      "pack",
      "The FGD packing experiment (Weng et al., ATC'23): pods arrive one at a time and never leave; "
      "reports the share of GPU capacity allocated as demand arrives");
  pack->add_option("--nodes", o->nodes, "openb node list CSV (sn,cpu_milli,memory_mib,gpu,model)")
      ->required()
      ->check(CLI::ExistingFile);
  pack->add_option("--pods", o->pods, "openb pod list CSV (name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec])")
      ->required()
      ->check(CLI::ExistingFile);
  pack->add_option("--placer", o->placer, "Placer: " + fmt::format("{}", fmt::join(PlacerNames(), ", ")))
      ->capture_default_str();
  auto* seed = pack->add_option("--seed", o->seed, "Seed of the pod order and node priority")->capture_default_str();
  pack->add_option("--seeds", o->seeds, "Several seeds, e.g. 42..51 (reports the mean)")->excludes(seed);
  pack->add_option("--inflate", o->inflate, "Tune the demand to this multiple of the cluster's GPUs")
      ->check(CLI::Range(0.01, 100.0))
      ->capture_default_str();
  pack->add_flag("--json", o->json, "Print JSON: alloc_at_100 (percent) and the curve at every 1% of arrived demand");
  pack->callback([o] { DoPack(*o); });
}

}  // namespace kojo::cli
