#include "scenario.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "model/cluster.h"
#include "sched/org_pass.h"

namespace kojo::testing {

namespace {

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t end = s.find(sep, start);
    out.emplace_back(s.substr(start, end - start));
    if (end == s.npos) return out;
    start = end + 1;
  }
}

std::optional<std::int64_t> Int(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> Number(const std::string& s) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// "90", "90s", "15m", "2h", "1d".
std::optional<Seconds> Time(std::string_view s) {
  Seconds unit = 1;
  if (!s.empty() && std::string_view("smhd").find(s.back()) != std::string_view::npos) {
    unit = s.back() == 'm' ? 60 : s.back() == 'h' ? 3600 : s.back() == 'd' ? 86400 : 1;
    s.remove_suffix(1);
  }
  auto v = Int(s);
  if (!v) return std::nullopt;
  return *v * unit;
}

std::string GpuList(const std::vector<int>& gpus) {
  std::string out;
  for (size_t i = 0; i < gpus.size();) {
    size_t j = i;
    while (j + 1 < gpus.size() && gpus[j + 1] == gpus[j] + 1) ++j;
    out += (out.empty() ? "" : ",") + (j > i + 1 ? fmt::format("{}-{}", gpus[i], gpus[j])
                                                  : j == i + 1 ? fmt::format("{},{}", gpus[i], gpus[j])
                                                               : std::to_string(gpus[i]));
    i = j + 1;
  }
  return out;
}

// Reads one file line by line; every error names the file, the line and
// the field.
class Reader {
 public:
  explicit Reader(Scenario& s) : s_(s) {}

  Status Line(int number, const std::string& raw) {
    line_ = number;
    std::string text = raw.substr(0, raw.find(" #"));
    if (text.starts_with("#")) return Ok{};
    std::string because;
    if (auto b = text.find(" because "); b != text.npos) {
      because = text.substr(b + 9);
      text.resize(b);
    }
    std::istringstream in(text);
    std::vector<std::string> words;
    for (std::string w; in >> w;) words.push_back(w);
    if (words.empty()) return Ok{};
    const std::string what = words[0];
    words.erase(words.begin());
    if (!because.empty() && !in_expect_) return Fail("because", "only decisions after 'expect' have a reason");
    if (what == "expect") return Expect(words);
    if (in_expect_) return Decision(what, words, because);
    if (what == "cluster") return Cluster(words);
    if (what == "scheduler") return Keys(what, words, [&](const std::string& k, const std::string& v) { return SchedulerKey(k, v); });
    if (what == "tiresias") return Keys(what, words, [&](const std::string& k, const std::string& v) { return TiresiasKey(k, v); });
    if (what == "now") return One(what, words, [&](const std::string& v) { return Set(what, v, s_.now); });
    if (what == "seed") return One(what, words, [&](const std::string& v) { return SetInt(what, v, s_.seed); });
    if (what == "share") return ProjectShare(words);
    if (what == "programme" || what == "project" || what == "gpu_weight" || what == "default_limit") return Org(what, words);
    if (what == "usage") return Usage(words);
    if (what == "drain") return One(what, words, [&](const std::string& v) -> Status {
      auto n = NodeIndexOf("drain", v);
      if (!n.ok()) return n.error();
      s_.drained[*n] = true;
      return Ok{};
    });
    if (what == "running" || what == "pending") return JobLine(what, words);
    return Fail(what, "unknown line; expected cluster, scheduler, tiresias, now, seed, share, programme, project, "
                      "gpu_weight, default_limit, usage, drain, running, pending or expect");
  }

  Status Finish() {
    if (s_.specs.empty()) return Fail("cluster", "missing: every scenario needs a 'cluster' line");
    if (!in_expect_) return Fail("expect", "missing: the expected decisions follow an 'expect' line");
    return Ok{};
  }

 private:
  Error Fail(const std::string& field, const std::string& what) const {
    return InvalidArgument(fmt::format("{}:{}: {}: {}", s_.file, line_, field, what));
  }
  Error Expected(const std::string& field, const std::string& what, const std::string& got) const {
    return Fail(field, fmt::format("expected {}, got '{}'", what, got));
  }

  template <typename F>
  Status One(const std::string& what, const std::vector<std::string>& words, F f) {
    if (words.size() != 1) return Fail(what, "expected exactly one value");
    return f(words[0]);
  }
  template <typename F>
  Status Keys(const std::string& what, const std::vector<std::string>& words, F f) {
    for (const auto& w : words) {
      const size_t eq = w.find('=');
      if (eq == w.npos) return Expected(what, "key=value", w);
      if (auto st = f(w.substr(0, eq), w.substr(eq + 1)); !st.ok()) return st;
    }
    return Ok{};
  }
  Status Set(const std::string& field, const std::string& v, Seconds& out) {
    auto t = Time(v);
    if (!t || *t < 0) return Expected(field, "a time in seconds (suffix s, m, h or d allowed)", v);
    out = *t;
    return Ok{};
  }
  template <typename T>
  Status SetInt(const std::string& field, const std::string& v, T& out, std::int64_t lo = 0,
                std::int64_t hi = INT32_MAX) {
    auto n = Int(v);
    if (!n || *n < lo || *n > hi) return Expected(field, fmt::format("an integer in {}..{}", lo, hi), v);
    out = static_cast<T>(*n);
    return Ok{};
  }
  Status SetNumber(const std::string& field, const std::string& v, double& out) {
    auto n = Number(v);
    if (!n || *n < 0) return Expected(field, "a number >= 0", v);
    out = *n;
    return Ok{};
  }
  Status SetBool(const std::string& field, const std::string& v, bool& out) {
    if (v != "on" && v != "off") return Expected(field, "on or off", v);
    out = v == "on";
    return Ok{};
  }

  Status Cluster(const std::vector<std::string>& words) {
    if (words.size() != 1) return Fail("cluster", "expected one spec such as 4x8xH100 or 2x8xA100+1x4xT4");
    if (!s_.specs.empty()) return Fail("cluster", "given twice");
    auto nodes = ParseClusterSpec(words[0]);
    if (!nodes.ok()) return Fail("cluster", nodes.error().message);
    s_.specs = *nodes;
    s_.drained.assign(s_.specs.size(), false);
    return Ok{};
  }
  Status SchedulerKey(const std::string& k, const std::string& v) {
    if (k == "policy") return s_.policy = v, Ok{};
    if (k == "placer") return s_.placer = v, Ok{};
    if (k == "backfill") return SetBool(k, v, s_.config.backfill);
    if (k == "explain_waits") return SetBool(k, v, s_.config.explain_waits);
    return Fail("scheduler", fmt::format("unknown key '{}'; expected policy, placer, backfill or explain_waits", k));
  }
  Status TiresiasKey(const std::string& k, const std::string& v) {
    PolicyConfig& c = s_.policy_config;
    if (k == "thresholds") {
      c.tiresias_thresholds.clear();
      for (const auto& t : Split(v, ',')) {
        Seconds x = 0;
        if (auto st = Set(k, t, x); !st.ok()) return st;
        c.tiresias_thresholds.push_back(x);
      }
      return Ok{};
    }
    if (k == "starve_factor") return SetNumber(k, v, c.tiresias_starve_factor);
    if (k == "starve_min") return Set(k, v, c.tiresias_starve_min_s);
    return Fail("tiresias", fmt::format("unknown key '{}'; expected thresholds, starve_factor or starve_min", k));
  }
  Status ProjectShare(const std::vector<std::string>& words) {
    if (words.size() != 2) return Fail("share", "expected 'share PROJECT VALUE'");
    return SetNumber("share", words[1], s_.policy_config.project_shares[words[0]]);
  }
  Status Org(const std::string& what, const std::vector<std::string>& words) {
    if (!s_.org) s_.org.emplace();
    OrgPolicy& org = *s_.org;
    if (what == "default_limit") return One(what, words, [&](const std::string& v) { return Set(what, v, org.default_time_limit); });
    if (words.empty()) return Fail(what, "expected a name");
    const std::string name = words[0];
    const std::vector<std::string> rest(words.begin() + 1, words.end());
    if (what == "gpu_weight") {
      int w = 0;
      if (auto st = One(what, rest, [&](const std::string& v) { return SetInt(what, v, w, 1, 1000000); }); !st.ok()) return st;
      org.weights.Set(name, w);
      return Ok{};
    }
    if (what == "programme")
      return Keys(what, rest, [&](const std::string& k, const std::string& v) -> Status {
        if (k == "share") return SetNumber(k, v, org.programme_shares[name]);
        return Fail("programme", fmt::format("unknown key '{}'; expected share", k));
      });
    ProjectLimits& p = org.projects[name];
    return Keys(what, rest, [&](const std::string& k, const std::string& v) -> Status {
      if (k == "programme") return p.programme = v, Ok{};
      if (k == "share") return SetNumber(k, v, p.share);
      if (k == "guaranteed") return SetInt(k, v, p.guaranteed_gpus);
      if (k == "max") return SetInt(k, v, p.max_gpus.emplace());
      if (k == "grant_left") {
        double hours = 0;
        if (auto st = SetNumber(k, v, hours); !st.ok()) return st;
        p.grant_left = std::llround(hours * static_cast<double>(kNormPerGpuHour));
        return Ok{};
      }
      return Fail("project", fmt::format("unknown key '{}'; expected programme, share, guaranteed, max or grant_left", k));
    });
  }
  Status Usage(const std::vector<std::string>& words) {
    if (words.size() != 3) return Fail("usage", "expected 'usage PROJECT USER GPU-HOURS'");
    Scenario::Usage u{words[0], words[1], 0};
    if (auto st = SetNumber("usage", words[2], u.gpu_hours); !st.ok()) return st;
    s_.usage.push_back(u);
    return Ok{};
  }

  Result<int> NodeIndexOf(const std::string& field, const std::string& name) const {
    for (size_t i = 0; i < s_.specs.size(); ++i)
      if (s_.specs[i].name == name) return static_cast<int>(i);
    if (s_.specs.empty()) return Fail(field, "the 'cluster' line must come first");
    return Expected(field, fmt::format("a node name ({} .. {})", s_.specs.front().name, s_.specs.back().name), name);
  }
  // "a100-0:0-3,5+a100-1:0" -> one share per node (CPU and memory added by the caller).
  Result<Allocation> ParseOn(const std::string& v) const {
    Allocation a;
    for (const auto& part : Split(v, '+')) {
      const size_t colon = part.rfind(':');
      if (colon == part.npos) return Expected("on", "NODE:GPUS, e.g. a100-0:0-3+a100-1:0", part);
      auto node = NodeIndexOf("on", part.substr(0, colon));
      if (!node.ok()) return node.error();
      NodeShare share{*node, {}, kWholeGpu, 0, 0};
      for (const auto& item : Split(part.substr(colon + 1), ',')) {
        const size_t dash = item.find('-');
        auto lo = Int(item.substr(0, dash));
        auto hi = dash == item.npos ? lo : Int(item.substr(dash + 1));
        if (!lo || !hi || *lo < 0 || *hi < *lo || *hi >= s_.specs[*node].gpus)
          return Expected("on", fmt::format("GPU numbers in 0..{} of {}", s_.specs[*node].gpus - 1,
                                            s_.specs[*node].name), item);
        for (auto g = *lo; g <= *hi; ++g) share.gpu_indices.push_back(static_cast<int>(g));
      }
      std::sort(share.gpu_indices.begin(), share.gpu_indices.end());
      a.shares.push_back(std::move(share));
    }
    return a;
  }

  Status JobLine(const std::string& what, const std::vector<std::string>& words) {
    if (s_.specs.empty()) return Fail(what, "the 'cluster' line must come first");
    if (words.empty()) return Fail(what, "expected a job id");
    Job j;
    JobEntry e;
    if (auto st = SetInt("id", words[0], j.id, 1, INT64_MAX); !st.ok()) return st;
    if (!ids_.insert(j.id).second) return Fail("id", fmt::format("job {} is given twice", j.id));
    j.name = "job" + words[0];
    j.project = "default";
    j.user = "user";
    bool has_gpus = false, has_started = false, has_queued = false;
    std::int64_t cores = 0, gib = 0;
    std::optional<Allocation> on;
    const bool running = what == "running";
    const std::vector<std::string> rest(words.begin() + 1, words.end());
    auto st = Keys(what, rest, [&](const std::string& k, const std::string& v) -> Status {
      if (k == "gpus") return has_gpus = true, SetInt(k, v, j.demand.gpus);
      if (k == "milli") return SetInt(k, v, j.demand.gpu_milli, 1, kWholeGpu);
      if (k == "cpu") return SetInt(k, v, cores, 0, 1000000);
      if (k == "mem") return SetInt(k, v, gib, 0, 1 << 24);
      if (k == "tasks") return SetInt(k, v, j.demand.tasks, 1);
      if (k == "models") return j.demand.gpu_models = Split(v, '|'), Ok{};
      if (k == "project") return j.project = v, Ok{};
      if (k == "user") return j.user = v, Ok{};
      if (k == "submit") return Set(k, v, j.submit_time);
      if (k == "limit") return Set(k, v, j.time_limit.emplace());
      if (k == "duration") return Set(k, v, j.true_duration.emplace());
      if (k == "attained") return Set(k, v, e.attained_gpu_s);
      if (k == "queued") return has_queued = true, Set(k, v, e.queued_since);
      if (k == "last_run") return Set(k, v, e.last_run_s);
      if (running && k == "started") return has_started = true, Set(k, v, e.started);
      if (running && k == "on") {
        auto a = ParseOn(v);
        if (!a.ok()) return a.error();
        on = std::move(*a);
        return Ok{};
      }
      return Fail(what, fmt::format("unknown key '{}'; expected gpus, milli, cpu, mem, tasks, models, project, user, "
                                    "submit, limit, duration, attained, queued, last_run{}", k,
                                    running ? ", started, on" : ""));
    });
    if (!st.ok()) return st;
    j.demand.cpu_milli = cores * 1000;
    j.demand.mem_mib = gib * 1024;
    if (j.demand.gpu_milli < kWholeGpu && !has_gpus) j.demand.gpus = 1;
    if (running) {
      if (!on) return Fail("on", "missing: a running job says where it runs, e.g. on=a100-0:0,1");
      if (!has_started) e.started = j.submit_time;
      if (!has_gpus && j.demand.gpu_milli == kWholeGpu) j.demand.gpus = on->GpuCount();
      if (on->GpuCount() != j.demand.gpus)
        return Fail("on", fmt::format("lists {} GPU(s) but the job has gpus={}", on->GpuCount(), j.demand.gpus));
      for (auto& share : on->shares) {  // CPU and memory in proportion to the GPUs
        const auto part = static_cast<std::int64_t>(share.gpu_indices.size());
        const auto all = std::max<std::int64_t>(1, j.demand.gpus);
        share.gpu_milli = j.demand.gpu_milli;
        share.cpu_milli = (j.demand.cpu_milli * part + all - 1) / all;
        share.mem_mib = (j.demand.mem_mib * part + all - 1) / all;
        for (int g : share.gpu_indices)
          if (taken_[{share.node, g}] + share.gpu_milli > kWholeGpu)
            return Fail("on", fmt::format("GPU {} of {} is already taken by another running job", g,
                                          s_.specs[share.node].name));
        for (int g : share.gpu_indices) taken_[{share.node, g}] += share.gpu_milli;
      }
      e.allocation = std::move(*on);
    } else if (!has_queued) {
      e.queued_since = j.submit_time;
    }
    if (auto bad = ValidateDemand(j.demand); bad && running) return Fail("job", *bad);
    s_.jobs.push_back(std::move(j));
    e.job = &s_.jobs.back();
    (running ? s_.running : s_.pending).push_back(std::move(e));
    return Ok{};
  }

  Status Expect(const std::vector<std::string>& words) {
    if (!words.empty()) return Fail("expect", "takes no value; the decisions follow on their own lines");
    if (in_expect_) return Fail("expect", "given twice");
    in_expect_ = true;
    return Ok{};
  }
  Status Decision(const std::string& kind, std::vector<std::string> words, const std::string& because) {
    static const std::set<std::string> kKinds = {"place", "preempt", "wait", "reject"};
    if (!kKinds.contains(kind)) return Expected("decision", "place, preempt, wait or reject", kind);
    DecisionLine d;
    d.kind = kind;
    d.line = line_;
    d.because = because;
    if (words.empty()) return Fail(kind, "expected a job id");
    if (auto st = SetInt("id", words[0], d.job, 1, INT64_MAX); !st.ok()) return st;
    if (!ids_.contains(d.job)) return Fail("id", fmt::format("no job {} in this scenario", d.job));
    words.erase(words.begin());
    if (kind == "wait") {
      static const std::set<std::string> kReasons = {"Priority", "Resources", "Preempting", "Quota", "GrantExhausted"};
      if (words.empty() || !kReasons.contains(words[0]))
        return Expected("reason", "Priority, Resources, Preempting, Quota or GrantExhausted",
                        words.empty() ? "" : words[0]);
      d.fields["reason"] = words[0];
      words.erase(words.begin());
    }
    if (kind == "place") {
      d.fields["backfilled"] = "no";
      if (auto it = std::find(words.begin(), words.end(), "backfilled"); it != words.end()) {
        d.fields["backfilled"] = "yes";
        words.erase(it);
      }
    }
    auto st = Keys(kind, words, [&](const std::string& k, const std::string& v) -> Status {
      if (kind == "place" && k == "on") {
        auto a = ParseOn(v);
        if (!a.ok()) return a.error();
        d.fields["on"] = AllocationText(s_.specs, *a);
        return Ok{};
      }
      if (kind == "wait" && k == "start") {
        Seconds t = 0;
        if (v == "none") return d.fields["start"] = "none", Ok{};
        if (auto st2 = Set(k, v, t); !st2.ok()) return st2;
        d.fields["start"] = std::to_string(t);
        return Ok{};
      }
      return Fail(kind, fmt::format("unknown key '{}'{}", k, kind == "place" ? "; expected on= or backfilled"
                                                             : kind == "wait" ? "; expected start="
                                                                              : " (only 'because TEXT' may follow)"));
    });
    if (!st.ok()) return st;
    s_.expected.push_back(std::move(d));
    return Ok{};
  }

  Scenario& s_;
  int line_ = 0;
  bool in_expect_ = false;
  std::set<JobId> ids_;
  std::map<std::pair<int, int>, int> taken_;  // milli taken per (node, GPU)
};

}  // namespace

std::string AllocationText(const std::vector<NodeSpec>& specs, const Allocation& a) {
  std::string out;
  for (const auto& s : a.shares)
    out += (out.empty() ? "" : "+") + specs[s.node].name + ":" + GpuList(s.gpu_indices);
  return out;
}

std::string DecisionLine::ToString() const {
  std::string out = fmt::format("{} {}", kind, job);
  if (auto it = fields.find("reason"); it != fields.end()) out += " " + it->second;
  for (const auto& [k, v] : fields)
    if (k != "reason" && k != "backfilled") out += fmt::format(" {}={}", k, v);
  if (auto it = fields.find("backfilled"); it != fields.end() && it->second == "yes") out += " backfilled";
  if (!because.empty()) out += " because " + because;
  return out;
}

bool DecisionLine::Matches(const DecisionLine& made) const {
  if (kind != made.kind || job != made.job) return false;
  for (const auto& [k, v] : fields) {
    auto it = made.fields.find(k);
    if (it == made.fields.end() || it->second != v) return false;
  }
  return made.because.find(because) != std::string::npos;
}

Result<Scenario> ParseScenario(const std::string& text, const std::string& file) {
  Scenario s;
  s.file = file;
  Reader reader(s);
  std::istringstream in(text);
  std::string line;
  bool leading = true;
  for (int n = 1; std::getline(in, line); ++n) {
    if (leading && line.starts_with("#")) {
      s.about += (s.about.empty() ? "" : " ") + line.substr(line.find_first_not_of("# ") == line.npos
                                                                ? line.size() : line.find_first_not_of("# "));
      continue;
    }
    leading = leading && line.find_first_not_of(" \t") == line.npos;
    if (auto st = reader.Line(n, line); !st.ok()) return st.error();
  }
  if (auto st = reader.Finish(); !st.ok()) return st.error();
  return s;
}

Result<Scenario> ReadScenario(const std::string& path) {
  std::ifstream f(path);
  if (!f) return Error{ErrorCode::kIo, fmt::format("{}: cannot open", path)};
  std::stringstream text;
  text << f.rdbuf();
  return ParseScenario(text.str(), path);
}

std::vector<DecisionLine> RunScenario(const Scenario& s) {
  auto policy = MakePolicy(s.policy, s.policy_config);
  auto placer = MakePlacer(s.placer);
  EXPECT_TRUE(policy.ok()) << s.file << ": scheduler: policy: " << (policy.ok() ? "" : policy.error().message);
  EXPECT_TRUE(placer.ok()) << s.file << ": scheduler: placer: " << (placer.ok() ? "" : placer.error().message);
  if (!policy.ok() || !placer.ok()) return {};
  Scheduler scheduler(std::move(*policy), std::move(*placer), s.config);

  ClusterSnapshot snap;
  snap.specs = s.specs;
  for (size_t i = 0; i < s.specs.size(); ++i) {
    snap.nodes.push_back(NodeState::Empty(s.specs[i]));
    snap.nodes.back().schedulable = !s.drained[i];
  }
  // Every job in the file is seen once, in file order (FGD learns shapes).
  for (const Job& j : s.jobs) scheduler.Observe(j);
  snap.running = s.running;
  snap.pending = s.pending;
  for (const JobEntry& e : snap.running) Apply(snap.nodes, e.allocation);
  UsageLedger ledger;
  for (const auto& u : s.usage) {
    if (!s.org) {
      ledger.Charge(u.project, u.user, u.gpu_hours * 3600, s.now);
      continue;
    }
    auto p = s.org->projects.find(u.project);
    ledger.Charge(p == s.org->projects.end() ? "" : p->second.programme, u.project, u.user,
                  u.gpu_hours * static_cast<double>(kNormPerGpuHour), s.now);
  }
  snap.usage = &ledger;
  if (s.org) snap.org = &*s.org;

  Rng rng(s.seed);
  const Decisions d = scheduler.Decide(snap, s.now, rng);
  std::vector<DecisionLine> out;
  for (const Place& p : d.placed)
    out.push_back({"place", p.job, {{"on", AllocationText(s.specs, p.allocation)}, {"backfilled", p.backfilled ? "yes" : "no"}}, "", 0});
  for (const Preempt& p : d.preempted) out.push_back({"preempt", p.job, {}, p.reason, 0});
  for (const Wait& w : d.waiting)
    out.push_back({"wait", w.job,
                   {{"reason", std::string(ToString(w.reason))},
                    {"start", w.estimated_start ? std::to_string(*w.estimated_start) : "none"}},
                   WaitMessage(w), 0});
  for (const Reject& r : d.rejected) out.push_back({"reject", r.job, {}, r.reason, 0});
  return out;
}

}  // namespace kojo::testing
