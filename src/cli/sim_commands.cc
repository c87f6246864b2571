#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "api/org_config.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "model/cluster.h"
#include "sched/placer.h"
#include "sched/policy.h"
#include "sched/scheduler.h"
#include "sim/report.h"
#include "sim/simulator.h"
#include "sim/synthetic.h"
#include "sim/svg.h"
#include "sim/trace.h"

namespace kojo::cli {

namespace {

constexpr const char* kDefaultPlacer = "packing";

struct ReplayOptions {
  std::string trace;
  std::string format;  // empty = detect
  std::string cluster;
  std::string policy;
  std::string placer = kDefaultPlacer;
  bool backfill = false;
  bool both_backfill = false;  // compare only
  std::uint64_t seed = 42;
  std::size_t limit_jobs = 0;
  Seconds round_s = 0;
  Seconds restart_penalty_s = 0;
  double estimate_factor = 1.0;
  std::string out;
  bool json = false;
  // Organisations: programmes, shares, quotas and grants; a synthetic
  // workload for its projects instead of a trace.
  std::string org;
  double synthetic_load = 0;  // each project's demand / the cluster's GPUs; 0 = none
  double synthetic_days = 3;
  double half_life_h = 7 * 24;
  // Renting partner capacity (model/rent.h).
  std::string providers;
  double waiting_value = -1;  // < 0 = the --org document's values
  double rent_budget = -1;    // of the "pool" account; < 0 = no limit
  bool rent_always = false;
  Seconds rent_interval_s = 300;
  std::string waiting_values;  // compare: a sweep
  std::string reservations;    // FILE
  // compare, pack variant
  std::string nodes, pods, seeds = "42";
  double inflate = 1.3;
};

struct Inputs {
  std::vector<Job> jobs;
  std::string format;
  std::vector<NodeSpec> nodes;
  std::unique_ptr<SimOrg> org;  // null without --org
  std::vector<Partition> partitions;  // the --org document's
  std::unique_ptr<RentPolicy> rent;   // null: no providers
  std::vector<Reservation> reservations;
  std::string credit;           // the workload's source, for figures
};

// The pool account of a what-if: every project without rent terms of its own.
constexpr const char* kPoolAccount = "pool";

// A rent policy for one run: `base` (the --org document's accounts and the
// providers) with every account's value of waiting set to `value` (>= 0),
// and projects without terms sharing the pool account; or the "rent
// whenever a job waits" baseline.
RentPolicy RunRent(const RentPolicy& base, const ReplayOptions& o, double value, bool always) {
  RentPolicy r = base;
  r.always = always;
  if (value >= 0) {
    const Money v = MoneyFromDouble(value).value_or(0);
    for (auto& [name, terms] : r.accounts) terms.value_per_gpu_hour = v;
    RentTerms pool;
    pool.budget = o.rent_budget >= 0 ? MoneyFromDouble(o.rent_budget).value_or(0) : kForever;
    pool.value_per_gpu_hour = v;
    r.accounts[kPoolAccount] = pool;
    r.default_account = kPoolAccount;
  }
  return r;
}

// --org FILE: the organisation document (docs/org-config.md). Trace time is
// aligned so that the first submit falls at the earliest grant's start.
api::Json ReadJsonFile(const std::string& option, const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) UsageError(fmt::format("{}: cannot read {}", option, path));
  try {
    return api::Json::parse(std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()));
  } catch (const std::exception& e) {
    UsageError(fmt::format("{}: {} is not JSON: {}", option, path, e.what()));
  }
}

std::unique_ptr<SimOrg> LoadOrg(const std::string& path, const std::vector<Job>& jobs,
                                std::vector<Partition>* partitions = nullptr, RentPolicy* rent = nullptr) {
  auto config = api::OrgConfigFromJson(ReadJsonFile("--org", path));
  if (!config.ok()) UsageError(fmt::format("--org: {}: {}", path, config.error().message));
  if (partitions) *partitions = config->partitions;
  if (rent) *rent = api::RentPolicyOf(*config);
  // As kojod: a document without projects (partitions only, say) is one
  // flat pool, not metered.
  if (config->projects.empty()) return nullptr;
  auto org = std::make_unique<SimOrg>();
  org->grants = config->grants;
  Seconds first_grant = 0;
  for (size_t i = 0; i < org->grants.size(); ++i)
    first_grant = i == 0 ? org->grants[i].start : std::min(first_grant, org->grants[i].start);
  const Seconds first_submit = jobs.empty() ? 0 : jobs.front().submit_time;
  org->grant_time_offset = org->grants.empty() ? 0 : first_grant - first_submit;
  org->policy = api::PolicyOf(*config, first_grant, /*meter_grants=*/false);
  return org;
}

// Providers from --providers (else the --org document's); none = no renting.
void LoadRent(const ReplayOptions& o, RentPolicy rent, Inputs& in) {
  if (!o.providers.empty()) {
    auto p = api::ProvidersFromJson(ReadJsonFile("--providers", o.providers));
    if (!p.ok()) UsageError(fmt::format("--providers: {}: {}", o.providers, p.error().message));
    rent.providers = std::move(*p);
  }
  if (rent.providers.empty()) {
    if (o.waiting_value >= 0 || !o.waiting_values.empty() || o.rent_always)
      UsageError("--waiting-value, --waiting-values and --rent-always need providers (--providers FILE, or "
                 "\"providers\" in the --org document)");
    return;
  }
  if (rent.accounts.empty() && o.waiting_value < 0 && o.waiting_values.empty() && !o.rent_always)
    std::cerr << "kojo sim: warning: no account has a budget and a value of waiting (rent terms in --org, or "
                 "--waiting-value): nothing will be rented\n";
  in.rent = std::make_unique<RentPolicy>(std::move(rent));
}

// --reservations FILE: start_s counts from the first submit.
void LoadReservations(const ReplayOptions& o, Inputs& in) {
  if (o.reservations.empty()) return;
  auto doc = api::ReservationsFromJson(ReadJsonFile("--reservations", o.reservations));
  if (!doc.ok()) UsageError(fmt::format("--reservations: {}: {}", o.reservations, doc.error().message));
  const Seconds first = in.jobs.empty() ? 0 : in.jobs.front().submit_time;
  for (size_t i = 0; i < doc->reservations.size(); ++i) {
    Reservation r = doc->reservations[i];
    if (doc->relative[i]) r.start += first;
    in.reservations.push_back(std::move(r));
  }
}

Inputs LoadInputs(const ReplayOptions& o) {
  Inputs in;
  if (o.synthetic_load > 0) {
    if (!o.trace.empty()) UsageError("--synthetic: give either --trace or --synthetic, not both");
    if (o.org.empty()) UsageError("--synthetic needs --org (its projects submit the jobs)");
    auto nodes = LoadCluster(o.cluster);
    if (!nodes.ok()) UsageError(fmt::format("--cluster: {}", nodes.error().message));
    in.nodes = std::move(*nodes);
    if (in.nodes.empty()) UsageError("--cluster: the cluster has no nodes");
    RentPolicy rent;
    in.org = LoadOrg(o.org, {}, &in.partitions, &rent);
    if (!in.org) UsageError("--synthetic: the --org document has no projects");
    LoadRent(o, std::move(rent), in);
    SyntheticSpec spec;
    for (const auto& [name, limits] : in.org->policy.projects) spec.projects.push_back(name);
    std::sort(spec.projects.begin(), spec.projects.end());
    if (spec.projects.empty()) UsageError("--synthetic: the --org document has no projects");
    spec.cluster_gpus = 0;
    for (const auto& n : in.nodes) spec.cluster_gpus += n.gpus;
    spec.load = o.synthetic_load;
    spec.horizon_s = static_cast<Seconds>(o.synthetic_days * 86400);
    spec.seed = o.seed;
    in.jobs = SyntheticWorkload(spec);
    if (o.limit_jobs > 0 && in.jobs.size() > o.limit_jobs) in.jobs.resize(o.limit_jobs);
    in.format = "synthetic";
    LoadReservations(o, in);
    in.credit = fmt::format("Workload: seeded synthetic jobs (kojo sim --synthetic {:g}, seed {}); no trace", o.synthetic_load,
                            o.seed);
    return in;
  }
  if (o.trace.empty()) UsageError("--trace is required (or --synthetic with --org)");
  std::optional<TraceFormat> format;
  if (!o.format.empty()) format = Unwrap(ParseTraceFormat(o.format));
  auto table = Unwrap(CsvTable::Read(o.trace));
  if (!format) format = Unwrap(DetectTraceFormat(table));
  TraceOptions topt;
  topt.estimate_factor = o.estimate_factor;
  topt.limit_jobs = o.limit_jobs;
  in.jobs = Unwrap(ParseTrace(table, format, topt));
  in.format = std::string(ToString(*format));
  auto nodes = LoadCluster(o.cluster);
  if (!nodes.ok()) UsageError(fmt::format("--cluster: {}", nodes.error().message));
  in.nodes = std::move(*nodes);
  if (in.nodes.empty()) UsageError("--cluster: the cluster has no nodes");
  RentPolicy rent;
  if (!o.org.empty()) in.org = LoadOrg(o.org, in.jobs, &in.partitions, &rent);
  LoadRent(o, std::move(rent), in);
  LoadReservations(o, in);
  in.credit = CreditFor(in.format);
  return in;
}

// Checks names early so that a typo fails before any work.
void CheckPolicy(const std::string& name) {
  auto p = MakePolicy(name);
  if (!p.ok()) UsageError(fmt::format("--policy: {}", p.error().message));
}
void CheckPlacer(const std::string& name) {
  auto p = MakePlacer(name);
  if (!p.ok()) UsageError(fmt::format("--placer: {}", p.error().message));
}

SimResult RunOne(const Inputs& in, const ReplayOptions& o, const std::string& policy, const std::string& placer,
                 bool backfill, const ProgressFn& progress, const RentPolicy* rent = nullptr) {
  auto pol = MakePolicy(policy);
  if (!pol.ok()) UsageError(fmt::format("--policy: {}", pol.error().message));
  auto pl = MakePlacer(placer);
  if (!pl.ok()) UsageError(fmt::format("--placer: {}", pl.error().message));
  SchedulerConfig sc;
  sc.backfill = backfill;
  Scheduler scheduler(std::move(*pol), std::move(*pl), sc);
  SimConfig cfg;
  cfg.seed = o.seed;
  cfg.round_s = o.round_s;
  cfg.restart_penalty_s = o.restart_penalty_s;
  cfg.usage_half_life_s = static_cast<Seconds>(o.half_life_h * 3600);
  cfg.org = in.org.get();
  cfg.partitions = in.partitions;
  cfg.rent = rent;
  cfg.rent_interval_s = o.rent_interval_s;
  cfg.reservations = in.reservations;
  auto r = Simulate(in.nodes, in.jobs, scheduler, cfg, progress);
  if (!r.ok()) throw CliError(kExitRuntime, r.error().message);
  return std::move(*r);
}

nlohmann::json RunJson(const ReplayOptions& o, const Inputs& in, const std::string& policy,
                       const std::string& placer, bool backfill, const SimMetrics& m) {
  nlohmann::json j = MetricsToJson(m);
  j["policy"] = policy;
  j["placer"] = placer;
  j["backfill"] = backfill;
  j["cluster"] = o.cluster;
  j["trace"] = o.trace;
  j["format"] = in.format;
  j["seed"] = o.seed;
  j["round_s"] = o.round_s;
  j["restart_penalty_s"] = o.restart_penalty_s;
  j["estimate_factor"] = o.estimate_factor;
  if (!o.org.empty()) j["org"] = o.org;
  if (!o.providers.empty()) j["providers"] = o.providers;
  if (!o.reservations.empty()) j["reservations"] = o.reservations;
  if (o.synthetic_load > 0) {
    j["synthetic_load"] = o.synthetic_load;
    j["synthetic_days"] = o.synthetic_days;
  }
  return j;
}

std::string RunLabel(const std::string& policy, const std::string& placer, bool backfill, bool many_placers) {
  std::string s = policy;
  if (backfill) s += "+backfill";
  if (many_placers) s += "/" + placer;
  return s;
}

void AddReplayOptions(CLI::App& c, ReplayOptions& o, bool compare) {
  c.add_option("--trace", o.trace, "Job trace file (CSV)")->check(CLI::ExistingFile);
  c.add_option("--format", o.format, "Trace format: philly, tiresias, openb or kojo (default: from the header)")
      ->check(CLI::IsMember(TraceFormatNames()));
  c.add_option("--cluster", o.cluster,
               "Cluster: inline spec like 64x8xV100 or 2x8xA100+4x4xT4, or a node CSV file");
  if (compare) {
    c.add_option("--policy", o.policy, "Comma-separated policies: " + fmt::format("{}", fmt::join(PolicyNames(), ", ")));
    c.add_option("--placer", o.placer,
                 "Comma-separated placers: " + fmt::format("{}", fmt::join(PlacerNames(), ", ")))
        ->capture_default_str();
    c.add_flag("--both-backfill", o.both_backfill, "Run every combination with and without EASY backfill");
  } else {
    c.add_option("--policy", o.policy, "Queue policy: " + fmt::format("{}", fmt::join(PolicyNames(), ", ")))
        ->required();
    c.add_option("--placer", o.placer, "Placer: " + fmt::format("{}", fmt::join(PlacerNames(), ", ")))
        ->capture_default_str();
  }
  c.add_flag("--backfill", o.backfill, "EASY backfill: later jobs may start early if the head job's reserved start is not delayed");
  c.add_option("--seed", o.seed, "Seed of the placer's random choices")->capture_default_str();
  c.add_option("--limit-jobs", o.limit_jobs, "Replay only the first N jobs by submit time (0 = all)")
      ->capture_default_str();
  c.add_option("--round", o.round_s, "Also schedule every S seconds while jobs wait (0 = on events only)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  c.add_option("--restart-penalty", o.restart_penalty_s, "Seconds a preempted job loses when it restarts")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  c.add_option("--estimate-factor", o.estimate_factor,
               "Time limit = true duration x F for traces without one (1 = perfect estimates, 0 = no limit)")
      ->check(CLI::Range(0.0, 1000.0))
      ->capture_default_str();
  c.add_option("--out", o.out, compare ? "Write the table, per-job CSVs and SVG plots to DIR"
                                       : "Also write per-job CSV, time series and summary JSON to DIR");
  c.add_flag("--json", o.json, "Print JSON instead of a readable report");
  c.add_option("--org", o.org,
               "Organisation document (JSON, docs/org-config.md): programmes, shares, quotas and grants for the "
               "trace's projects")
      ->check(CLI::ExistingFile);
  c.add_option("--synthetic", o.synthetic_load,
               "Instead of a trace: seeded synthetic jobs from every project of --org, each asking for LOAD x "
               "the cluster's GPUs")
      ->check(CLI::Range(0.0, 100.0));
  c.add_option("--synthetic-days", o.synthetic_days, "Days over which --synthetic jobs are submitted")
      ->check(CLI::Range(0.01, 365.0))
      ->capture_default_str();
  c.add_option("--half-life", o.half_life_h, "Fair-share usage half-life in hours")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  c.add_option("--providers", o.providers,
               "Partner providers to rent nodes from (JSON: {\"providers\": [...]}, docs/renting.md); budgets and "
               "values of waiting come from --org or --waiting-value")
      ->check(CLI::ExistingFile);
  if (compare)
    c.add_option("--waiting-values", o.waiting_values,
                 "Rent sweep: comma-separated values of one GPU-hour of waiting; compares each with never renting "
                 "and renting whenever a job waits (first --policy and --placer only)");
  else {
    c.add_option("--waiting-value", o.waiting_value,
                 "Value of one GPU-hour of waiting for every account (projects without rent terms share one "
                 "account with --rent-budget)")
        ->check(CLI::Range(0.0, 1e9));
    c.add_flag("--rent-always", o.rent_always,
               "Baseline: rent whenever a job waits for capacity, whatever it costs");
  }
  c.add_option("--reservations", o.reservations,
               "Reservations to hold (JSON: {\"reservations\": [{\"name\", \"project\", \"gpus\", \"gpu_model\", "
               "\"start_s\" (after the first submit) or \"start\", \"duration_s\", \"weekly\"}]})")
      ->check(CLI::ExistingFile);
  c.add_option("--rent-budget", o.rent_budget,
               "Budget of the account shared by projects without rent terms (default: no limit)")
      ->check(CLI::Range(0.0, 1e12));
  c.add_option("--rent-interval", o.rent_interval_s, "Seconds between renting decisions while jobs wait")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
}

// Per-programme share of busy GPUs over time (organisations).
std::string ProgrammeSharePlot(const SimResult& r, const std::string& title, const std::string& credit) {
  const ProgrammeSeries& s = r.programme_series;
  LinePlot plot;
  plot.title = title;
  plot.credit = credit;
  const bool days = !s.t.empty() && s.t.back() > 3 * 86400;
  const double scale = days ? 86400.0 : 3600.0;
  plot.x_label = days ? "time since the first submit (days)" : "time since the first submit (hours)";
  plot.y_label = "share of busy GPUs (%)";
  plot.y_min = 0;
  plot.y_max = 100;
  for (size_t p = 0; p < s.programmes.size(); ++p) {
    double sum = 0;
    for (double v : s.share[p]) sum += v;
    if (sum == 0) continue;  // e.g. "" when every project has a programme
    PlotSeries line{s.programmes[p].empty() ? "(no programme)" : s.programmes[p], {}, false};
    for (size_t i = 0; i < s.t.size(); ++i)
      line.points.emplace_back(static_cast<double>(s.t[i]) / scale, 100 * s.share[p][i]);
    plot.series.push_back(std::move(line));
  }
  return RenderSvg(plot);
}

std::string ProgrammeShareCsv(const SimResult& r) {
  const ProgrammeSeries& s = r.programme_series;
  std::string out = "t";
  for (const auto& p : s.programmes) out += "," + (p.empty() ? std::string("(none)") : p);
  out += "\n";
  for (size_t i = 0; i < s.t.size(); ++i) {
    out += std::to_string(s.t[i]);
    for (size_t p = 0; p < s.programmes.size(); ++p) out += fmt::format(",{:.4f}", s.share[p][i]);
    out += "\n";
  }
  return out;
}

void DoRun(const ReplayOptions& o) {
  if (o.trace.empty() && o.synthetic_load == 0) UsageError("--trace is required (or --synthetic with --org)");
  if (o.cluster.empty()) UsageError("--cluster is required");
  CheckPolicy(o.policy);
  CheckPlacer(o.placer);
  Inputs in = LoadInputs(o);
  ProgressBar bar("sim " + o.policy);
  std::optional<RentPolicy> rent;
  if (in.rent) rent = RunRent(*in.rent, o, o.waiting_value, o.rent_always);
  SimResult r = RunOne(in, o, o.policy, o.placer, o.backfill, [&](double f) { bar.Update(f); },
                       rent ? &*rent : nullptr);
  bar.Done();
  nlohmann::json j = RunJson(o, in, o.policy, o.placer, o.backfill, r.metrics);
  if (!o.out.empty()) {
    MakeDirs(o.out);
    WriteFile(o.out + "/jobs.csv", JobsCsv(r.jobs));
    WriteFile(o.out + "/series.csv", SeriesCsv(r.series));
    WriteFile(o.out + "/summary.json", j.dump(2) + "\n");
    if (in.org) {
      WriteFile(o.out + "/programme-share.csv", ProgrammeShareCsv(r));
      WriteFile(o.out + "/programme-share.svg",
                ProgrammeSharePlot(r, fmt::format("Share of busy GPUs by programme ({}, {})", o.policy, o.cluster),
                                   in.credit));
    }
  }
  if (o.json) {
    std::cout << j.dump() << "\n";
    return;
  }
  std::cout << fmt::format("kojo sim: {} jobs ({}) on {} ({} GPUs), policy {}{}, placer {}\n", in.jobs.size(),
                           in.org && o.synthetic_load > 0 ? "synthetic workload" : in.format + " trace " + o.trace,
                           o.cluster, r.metrics.total_gpus, o.policy,
                           o.backfill ? " + EASY backfill" : "", o.placer);
  std::cout << FormatSummary(r.metrics) << "\n";
  if (!o.out.empty())
    std::cout << fmt::format("wrote {}/jobs.csv, series.csv, summary.json{}\n", o.out,
                             in.org ? ", programme-share.csv, programme-share.svg" : "");
}

std::string Pad(const std::string& s, size_t w, bool right = false) {
  if (s.size() >= w) return s;
  return right ? std::string(w - s.size(), ' ') + s : s + std::string(w - s.size(), ' ');
}

// kojo sim compare --waiting-values: money spent against average and p99
// wait, for each value of waiting and the two baselines (never rent; rent
// whenever a job waits).
void RentSweep(const ReplayOptions& o, const Inputs& in, const std::string& policy, const std::string& placer,
               bool backfill) {
  std::vector<double> values;
  for (const auto& v : SplitList(o.waiting_values)) {
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (end == v.c_str() || *end != '\0' || !(x >= 0) || x > 1e9)
      UsageError(fmt::format("--waiting-values: expected numbers of at least 0, got \"{}\"", v));
    values.push_back(x);
  }
  if (values.empty()) UsageError("--waiting-values: expected a comma-separated list of numbers");
  struct Run {
    std::string label;
    std::optional<double> value;  // none: a baseline
    SimMetrics m;
  };
  std::vector<Run> runs;
  std::vector<std::pair<std::string, std::optional<RentPolicy>>> plans;
  plans.emplace_back("never rent", std::nullopt);
  for (double v : values) plans.emplace_back(fmt::format("value {:g}", v), RunRent(*in.rent, o, v, false));
  plans.emplace_back("rent whenever a job waits", RunRent(*in.rent, o, 0, true));
  ProgressBar bar("sim compare");
  for (size_t i = 0; i < plans.size(); ++i) {
    const auto& [label, rent] = plans[i];
    SimResult r = RunOne(in, o, policy, placer, backfill, [&](double f) {
      bar.Update((static_cast<double>(i) + f) / static_cast<double>(plans.size()), label);
    }, rent ? &*rent : nullptr);
    std::optional<double> value;
    if (i > 0 && i + 1 < plans.size()) value = values[i - 1];
    runs.push_back(Run{label, value, r.metrics});
  }
  bar.Done();
  nlohmann::json all = nlohmann::json::array();
  std::string table = fmt::format("{} jobs ({}) on {} ({} owned GPUs), policy {}{}, placer {}\n", in.jobs.size(),
                                  o.synthetic_load > 0 ? "synthetic workload" : in.format + " trace " + o.trace,
                                  o.cluster, runs[0].m.total_gpus, policy, backfill ? " + EASY backfill" : "", placer);
  size_t w = 6;
  for (const auto& r : runs) w = std::max(w, r.label.size());
  table += Pad("run", w) + "  " + Pad("rent cost", 12, true) + Pad("GPU-h rented", 13, true) +
           Pad("nodes", 7, true) + Pad("avg wait", 10, true) + Pad("p99 wait", 10, true) + Pad("avg JCT", 10, true) +
           Pad("done", 8, true) + "\n";
  for (const auto& r : runs) {
    table += Pad(r.label, w) + "  " + Pad(fmt::format("{:.2f}", r.m.rent_cost), 12, true) +
             Pad(fmt::format("{:.1f}", r.m.rented_gpu_hours), 13, true) + Pad(std::to_string(r.m.rented_nodes), 7, true) +
             Pad(FormatDuration(r.m.avg_wait_s), 10, true) + Pad(FormatDuration(r.m.p99_wait_s), 10, true) +
             Pad(FormatDuration(r.m.avg_jct_s), 10, true) + Pad(std::to_string(r.m.completed + r.m.killed), 8, true) +
             "\n";
    nlohmann::json j = RunJson(o, in, policy, placer, backfill, r.m);
    j["run"] = r.label;
    if (r.value) j["waiting_value"] = *r.value;
    j["rent"] = r.label == "never rent" ? "never" : r.value ? "value" : "always";
    all.push_back(std::move(j));
  }
  if (!o.out.empty()) {
    MakeDirs(o.out);
    for (const bool p99 : {false, true}) {
      LinePlot plot;
      plot.title = fmt::format("Rent spent against {} wait ({} owned)", p99 ? "p99" : "average", o.cluster);
      plot.x_label = "money spent on rented nodes";
      plot.y_label = fmt::format("{} wait (hours)", p99 ? "p99" : "average");
      plot.credit = in.credit;
      auto wait_h = [&](const SimMetrics& m) { return (p99 ? m.p99_wait_s : m.avg_wait_s) / 3600.0; };
      // Room around the points: the baselines sit on the axes' ends.
      double most_cost = 0, most_wait = 0;
      for (const auto& r : runs) {
        most_cost = std::max(most_cost, r.m.rent_cost);
        most_wait = std::max(most_wait, wait_h(r.m));
      }
      plot.x_min = -0.04 * std::max(1.0, most_cost);
      plot.x_max = 1.06 * std::max(1.0, most_cost);
      plot.y_min = 0;
      plot.y_max = 1.1 * std::max(0.1, most_wait);
      PlotSeries sweep{"by value of waiting", {}, false, true};
      for (const auto& r : runs)
        if (r.value) sweep.points.emplace_back(r.m.rent_cost, wait_h(r.m));
      std::sort(sweep.points.begin(), sweep.points.end());
      plot.series.push_back(std::move(sweep));
      plot.series.push_back(PlotSeries{"never rent", {{runs.front().m.rent_cost, wait_h(runs.front().m)}}, false, true});
      plot.series.push_back(
          PlotSeries{"rent whenever a job waits", {{runs.back().m.rent_cost, wait_h(runs.back().m)}}, false, true});
      WriteFile(o.out + (p99 ? "/rent-p99-wait.svg" : "/rent-avg-wait.svg"), RenderSvg(plot));
    }
    WriteFile(o.out + "/summary.json", all.dump(2) + "\n");
    WriteFile(o.out + "/table.txt", table);
  }
  if (o.json) {
    std::cout << all.dump() << "\n";
    return;
  }
  std::cout << table;
  if (!o.out.empty()) std::cout << fmt::format("wrote {}/rent-avg-wait.svg, rent-p99-wait.svg, summary.json, table.txt\n", o.out);
}

void DoCompare(const ReplayOptions& o) {
  const bool pack = !o.nodes.empty() || !o.pods.empty();
  if (pack) {
    if (!o.trace.empty()) UsageError("--trace: give either --trace (replay) or --nodes/--pods (packing), not both");
    if (o.nodes.empty()) UsageError("--nodes is required with --pods");
    if (o.pods.empty()) UsageError("--pods is required with --nodes");
    RunPackCompare(o.nodes, o.pods, o.placer, o.seeds, o.inflate, o.out, o.json);
    return;
  }
  if (o.trace.empty() && o.synthetic_load == 0)
    UsageError("--trace is required (or --synthetic with --org, or --nodes and --pods to compare placers on packing)");
  if (o.cluster.empty()) UsageError("--cluster is required");
  auto policies = SplitList(o.policy.empty() ? "fifo,sjf,tiresias,fairshare" : o.policy);
  auto placers = SplitList(o.placer);
  if (policies.empty()) UsageError("--policy: expected a comma-separated list of policies");
  if (placers.empty()) UsageError("--placer: expected a comma-separated list of placers");
  for (const auto& p : policies) CheckPolicy(p);
  for (const auto& p : placers) CheckPlacer(p);
  std::vector<bool> backfills = o.both_backfill ? std::vector<bool>{false, true} : std::vector<bool>{o.backfill};
  Inputs in = LoadInputs(o);
  if (!o.waiting_values.empty()) {
    RentSweep(o, in, policies[0], placers[0], o.backfill);
    return;
  }

  struct Run {
    std::string policy, placer, label;
    bool backfill;
    SimResult result;
  };
  std::vector<Run> runs;
  const size_t total = policies.size() * placers.size() * backfills.size();
  ProgressBar bar("sim compare");
  for (const auto& policy : policies)
    for (const auto& placer : placers)
      for (bool bf : backfills) {
        const size_t i = runs.size();
        std::string label = RunLabel(policy, placer, bf, placers.size() > 1);
        SimResult r = RunOne(in, o, policy, placer, bf, [&](double f) {
          bar.Update((static_cast<double>(i) + f) / static_cast<double>(total), label);
        });
        runs.push_back(Run{policy, placer, label, bf, std::move(r)});
      }
  bar.Done();

  nlohmann::json all = nlohmann::json::array();
  for (const auto& r : runs) all.push_back(RunJson(o, in, r.policy, r.placer, r.backfill, r.result.metrics));

  std::string table;
  table += fmt::format("{} jobs ({}) on {} ({} GPUs)\n", in.jobs.size(),
                       o.synthetic_load > 0 ? "synthetic workload" : in.format + " trace " + o.trace, o.cluster,
                       runs.empty() ? 0 : runs[0].result.metrics.total_gpus);
  size_t w = 6;
  for (const auto& r : runs) w = std::max(w, r.label.size());
  table += Pad("run", w) + "  " + Pad("avg JCT", 9, true) + Pad("p50 JCT", 9, true) + Pad("p99 JCT", 9, true) +
           Pad("avg wait", 9, true) + Pad("p99 wait", 9, true) + Pad("util", 7, true) + Pad("preempt", 9, true) +
           Pad("done", 8, true) + Pad("wall", 8, true) + "\n";
  for (const auto& r : runs) {
    const SimMetrics& m = r.result.metrics;
    table += Pad(r.label, w) + "  " + Pad(FormatDuration(m.avg_jct_s), 9, true) +
             Pad(FormatDuration(m.p50_jct_s), 9, true) + Pad(FormatDuration(m.p99_jct_s), 9, true) +
             Pad(FormatDuration(m.avg_wait_s), 9, true) + Pad(FormatDuration(m.p99_wait_s), 9, true) +
             Pad(fmt::format("{:.1f}%", 100 * m.gpu_utilization), 7, true) +
             Pad(std::to_string(m.preemptions), 9, true) + Pad(std::to_string(m.completed + m.killed), 8, true) +
             Pad(fmt::format("{:.2f}s", m.sim_wall_s), 8, true) + "\n";
  }

  if (!o.out.empty()) {
    MakeDirs(o.out);
    const std::string credit = in.credit;
    LinePlot cdf;
    cdf.title = fmt::format("Job completion time CDF ({} jobs on {})", in.jobs.size(), o.cluster);
    cdf.x_label = "job completion time (s, log scale)";
    cdf.y_label = "fraction of jobs";
    cdf.credit = credit;
    cdf.log_x = true;
    cdf.y_min = 0;
    cdf.y_max = 1;
    LinePlot util;
    util.credit = credit;
    util.title = fmt::format("GPU utilisation over time ({})", o.cluster);
    util.y_label = "busy GPUs (%)";
    util.y_min = 0;
    util.y_max = 100;
    LinePlot queue = util;
    queue.title = fmt::format("Waiting jobs over time ({})", o.cluster);
    queue.y_label = "waiting jobs";
    queue.y_max = 0;
    Seconds horizon = 0;
    for (const auto& r : runs) horizon = std::max(horizon, r.result.metrics.makespan_s);
    const bool days = horizon > 3 * 86400;
    util.x_label = queue.x_label = days ? "time since the first submit (days)" : "time since the first submit (hours)";
    const double scale = days ? 86400.0 : 3600.0;
    for (const auto& r : runs) {
      std::vector<double> jct;
      for (const auto& rec : r.result.jobs)
        if (auto x = rec.Jct()) jct.push_back(static_cast<double>(*x));
      cdf.series.push_back(CdfSeries(r.label, std::move(jct)));
      PlotSeries u{r.label, {}, false}, q{r.label, {}, false};
      for (const auto& p : r.result.series) {
        u.points.emplace_back(static_cast<double>(p.t) / scale, 100 * p.gpu_utilization);
        q.points.emplace_back(static_cast<double>(p.t) / scale, p.pending_jobs);
      }
      util.series.push_back(std::move(u));
      queue.series.push_back(std::move(q));
      std::string base = r.policy + (r.backfill ? "-backfill" : "") + (placers.size() > 1 ? "-" + r.placer : "");
      WriteFile(o.out + "/jobs-" + base + ".csv", JobsCsv(r.result.jobs));
      if (in.org)
        WriteFile(o.out + "/programme-share-" + base + ".svg",
                  ProgrammeSharePlot(r.result, fmt::format("Share of busy GPUs by programme ({}, {})", r.label, o.cluster),
                                     credit));
    }
    WriteFile(o.out + "/jct-cdf.svg", RenderSvg(cdf));
    WriteFile(o.out + "/utilization.svg", RenderSvg(util));
    WriteFile(o.out + "/queue.svg", RenderSvg(queue));
    WriteFile(o.out + "/summary.json", all.dump(2) + "\n");
    WriteFile(o.out + "/table.txt", table);
  }
  if (o.json) {
    std::cout << all.dump() << "\n";
    return;
  }
  std::cout << table;
  if (!o.out.empty())
    std::cout << fmt::format("wrote {}/jct-cdf.svg, utilization.svg, queue.svg, summary.json, table.txt, jobs-*.csv\n",
                             o.out);
}

}  // namespace

void AddSimReplayCommands(CLI::App& sim) {
  auto o = std::make_shared<ReplayOptions>();
  CLI::App* run = sim.add_subcommand("run", "Replay a job trace on a cluster under one policy");
  AddReplayOptions(*run, *o, false);
  run->get_option("--cluster")->required();
  run->callback([o] { DoRun(*o); });

  auto c = std::make_shared<ReplayOptions>();
  CLI::App* cmp = sim.add_subcommand(
      "compare",
      "Replay one trace under several policies/placers (table + SVG plots), or compare placers on the "
      "packing experiment (--nodes/--pods)");
  AddReplayOptions(*cmp, *c, true);
  cmp->add_option("--nodes", c->nodes, "Packing variant: openb node list CSV")->check(CLI::ExistingFile);
  cmp->add_option("--pods", c->pods, "Packing variant: openb pod list CSV")->check(CLI::ExistingFile);
  cmp->add_option("--seeds", c->seeds, "Packing variant: seeds, e.g. 42..51")->capture_default_str();
  cmp->add_option("--inflate", c->inflate, "Packing variant: demand tuned to this multiple of the cluster's GPUs")
      ->check(CLI::Range(0.01, 100.0))
      ->capture_default_str();
  cmp->callback([c, cmp] {
    // The packing comparison runs every placer unless told otherwise.
    if ((!c->nodes.empty() || !c->pods.empty()) && cmp->get_option("--placer")->count() == 0)
      c->placer = fmt::format("{}", fmt::join(PlacerNames(), ","));
    DoCompare(*c);
  });
}

}  // namespace kojo::cli
