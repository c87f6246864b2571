#include "api/slurm_env.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>

#include <fmt/format.h>

#include "api/codec.h"

namespace kojo::api {

namespace {

// A host name split at its numeric suffix.
struct Name {
  std::string prefix;
  std::string digits;  // empty: no numeric suffix
  std::uint64_t number = 0;
};

Name Split(const std::string& host) {
  size_t i = host.size();
  while (i > 0 && std::isdigit(static_cast<unsigned char>(host[i - 1]))) --i;
  Name n{host.substr(0, i), host.substr(i)};
  // More digits than a number holds: keep the name whole.
  if (n.digits.size() > 18) return Name{host, ""};
  if (!n.digits.empty()) std::from_chars(n.digits.data(), n.digits.data() + n.digits.size(), n.number);
  return n;
}

// The width a range started by `digits` keeps: its length when zero-padded
// ("07"), else 0 (no padding).
size_t PadOf(const std::string& digits) { return digits.size() > 1 && digits[0] == '0' ? digits.size() : 0; }

struct Range {
  std::uint64_t lo = 0, hi = 0;
  size_t pad = 0;
  std::string Text() const {
    std::string a = fmt::format("{:0{}}", lo, pad);
    return lo == hi ? a : fmt::format("{}-{:0{}}", a, hi, pad);
  }
};

// One array spec's parts as (first, last, step), without expanding them.
struct Part {
  std::int64_t lo = 0, last = 0, step = 1;
  std::int64_t Count() const { return (last - lo) / step + 1; }
};

std::optional<std::vector<Part>> Parts(std::string_view text) {
  text = text.substr(0, text.find('%'));
  std::vector<Part> parts;
  auto num = [](std::string_view s) -> std::optional<std::int64_t> {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
    return v;
  };
  while (!text.empty()) {
    std::string_view item = text.substr(0, text.find(','));
    text = item.size() < text.size() ? text.substr(item.size() + 1) : std::string_view();
    Part p;
    if (size_t colon = item.find(':'); colon != std::string_view::npos) {
      auto s = num(item.substr(colon + 1));
      if (!s || *s < 1) return std::nullopt;
      p.step = *s;
      item = item.substr(0, colon);
    }
    const size_t dash = item.find('-');
    auto lo = num(item.substr(0, dash));
    auto hi = dash == std::string_view::npos ? lo : num(item.substr(dash + 1));
    if (!lo || !hi || *lo > *hi) return std::nullopt;
    p.lo = *lo;
    p.last = *lo + (*hi - *lo) / p.step * p.step;
    if (p.lo == p.last) p.step = 1;
    parts.push_back(p);
  }
  if (parts.empty()) return std::nullopt;
  return parts;
}

// SLURM_ARRAY_TASK_COUNT, _MIN, _MAX and _STEP of an array spec. Parts in
// ascending order that do not overlap are counted without expanding them
// (an array of 100,000 tasks starts each task in constant time); others
// are expanded.
void ArrayStats(const std::string& spec, std::map<std::string, std::string>& env) {
  auto parts = Parts(spec);
  if (!parts) return;
  bool disjoint = true;
  for (size_t i = 1; i < parts->size(); ++i) disjoint = disjoint && (*parts)[i - 1].last < (*parts)[i].lo;
  std::int64_t count = 0, lo = 0, hi = 0, step = 1;
  if (disjoint) {
    lo = parts->front().lo;
    hi = parts->back().last;
    for (const Part& p : *parts) count += p.Count();
    // One arithmetic progression: its difference; any other set: 1.
    std::optional<std::int64_t> d;
    bool even = true;
    for (size_t i = 0; i < parts->size(); ++i) {
      const Part& p = (*parts)[i];
      if (p.Count() > 1) {
        even = even && (!d || *d == p.step);
        d = p.step;
      }
      if (i > 0) {
        const std::int64_t gap = p.lo - (*parts)[i - 1].last;
        even = even && (!d || *d == gap);
        d = gap;
      }
    }
    step = even && d ? *d : 1;
  } else {
    auto a = ParseArraySpec(spec);
    if (!a.ok() || a->indices.empty()) return;
    const std::vector<int>& ix = a->indices;
    lo = ix.front();
    hi = ix.back();
    count = static_cast<std::int64_t>(ix.size());
    step = ix.size() > 1 ? ix[1] - ix[0] : 1;
    for (size_t i = 2; i < ix.size() && step != 1; ++i)
      if (ix[i] - ix[i - 1] != step) step = 1;
  }
  env["SLURM_ARRAY_TASK_COUNT"] = std::to_string(count);
  env["SLURM_ARRAY_TASK_MIN"] = std::to_string(lo);
  env["SLURM_ARRAY_TASK_MAX"] = std::to_string(hi);
  env["SLURM_ARRAY_TASK_STEP"] = std::to_string(step);
}

}  // namespace

Result<std::vector<std::string>> ExpandHostlist(std::string_view text, size_t max_hosts) {
  std::vector<std::string> out;
  auto fail = [&](std::string_view why) {
    return InvalidArgument(fmt::format("hostlist '{}': {}", text, why));
  };
  size_t i = 0;
  while (i < text.size()) {
    // One item: PREFIX[RANGES]SUFFIX or a plain name, up to a comma outside brackets.
    size_t end = i;
    int depth = 0;
    while (end < text.size() && (depth > 0 || text[end] != ',')) {
      if (text[end] == '[') ++depth;
      if (text[end] == ']') --depth;
      if (depth < 0 || depth > 1) return fail("unbalanced brackets");
      ++end;
    }
    if (depth != 0) return fail("unbalanced brackets");
    std::string_view item = text.substr(i, end - i);
    i = end + 1;
    if (item.empty()) continue;
    const size_t open = item.find('[');
    if (open == std::string_view::npos) {
      out.emplace_back(item);
    } else {
      const size_t close = item.find(']', open);
      std::string_view prefix = item.substr(0, open), ranges = item.substr(open + 1, close - open - 1),
                       suffix = item.substr(close + 1);
      if (suffix.find('[') != std::string_view::npos) return fail("one bracket per name is supported");
      while (!ranges.empty()) {
        std::string_view r = ranges.substr(0, ranges.find(','));
        ranges = r.size() < ranges.size() ? ranges.substr(r.size() + 1) : std::string_view();
        const size_t dash = r.find('-');
        std::string_view lo = r.substr(0, dash), hi = dash == std::string_view::npos ? lo : r.substr(dash + 1);
        auto num = [](std::string_view s) -> std::optional<std::int64_t> {
          if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return std::nullopt;
          std::int64_t v = 0;
          for (char c : s) v = v * 10 + (c - '0');
          return v;
        };
        auto a = num(lo), b = num(hi);
        if (!a || !b || *b < *a) return fail(fmt::format("expected a range such as 01-04, got '{}'", r));
        if (out.size() + static_cast<size_t>(*b - *a + 1) > max_hosts)
          return fail(fmt::format("more than {} names", max_hosts));
        for (std::int64_t k = *a; k <= *b; ++k)
          out.push_back(fmt::format("{}{:0{}}{}", prefix, k, lo.size(), suffix));
      }
    }
    if (out.size() > max_hosts) return fail(fmt::format("more than {} names", max_hosts));
  }
  return out;
}

std::string CompressHostlist(const std::vector<std::string>& hosts) {
  std::string out;
  size_t i = 0;
  while (i < hosts.size()) {
    const Name first = Split(hosts[i]);
    if (first.digits.empty()) {
      out += (out.empty() ? "" : ",") + hosts[i++];
      continue;
    }
    // Neighbouring names with this prefix, as ranges.
    std::vector<Range> ranges;
    size_t names = 0;
    for (; i < hosts.size(); ++i, ++names) {
      const Name n = Split(hosts[i]);
      if (n.digits.empty() || n.prefix != first.prefix) break;
      if (!ranges.empty()) {
        Range& r = ranges.back();
        if (n.number == r.hi + 1 && fmt::format("{:0{}}", n.number, r.pad) == n.digits) {
          r.hi = n.number;
          continue;
        }
      }
      ranges.push_back(Range{n.number, n.number, PadOf(n.digits)});
    }
    out += out.empty() ? "" : ",";
    if (names == 1) {
      out += first.prefix + ranges[0].Text();
      continue;
    }
    out += first.prefix + "[";
    for (size_t k = 0; k < ranges.size(); ++k) out += (k ? "," : "") + ranges[k].Text();
    out += "]";
  }
  return out;
}

std::string TasksPerNode(const std::vector<int>& counts) {
  std::string out;
  for (size_t i = 0; i < counts.size();) {
    size_t j = i;
    while (j < counts.size() && counts[j] == counts[i]) ++j;
    out += (out.empty() ? "" : ",") + std::to_string(counts[i]);
    if (j - i > 1) out += fmt::format("(x{})", j - i);
    i = j;
  }
  return out;
}

std::map<std::string, std::string> SlurmEnv(const JobView& v, int rank) {
  std::map<std::string, std::string> env;
  const std::string id = std::to_string(v.id);
  env["SLURM_JOB_ID"] = id;
  env["SLURM_JOBID"] = id;
  env["SLURM_JOB_NAME"] = v.spec.name;
  if (!v.spec.user.empty()) env["SLURM_JOB_USER"] = v.spec.user;
  env["SLURM_JOB_ACCOUNT"] = v.spec.project.empty() ? "default" : v.spec.project;
  env["SLURM_CLUSTER_NAME"] = "kojo";
  if (!v.spec.demand.nodes.partitions.empty()) env["SLURM_JOB_PARTITION"] = v.spec.demand.nodes.partitions[0];
  if (!v.spec.workdir.empty()) env["SLURM_SUBMIT_DIR"] = v.spec.workdir;
  if (v.attempt > 1) env["SLURM_RESTART_COUNT"] = std::to_string(v.attempt - 1);

  // Nodes in rank order (each once), and how many tasks each runs.
  std::vector<std::string> nodes;
  std::vector<int> per_node;
  int node_id = 0, local_id = 0;
  for (size_t r = 0; r < v.placement.size(); ++r) {
    const std::string& node = v.placement[r].node;
    auto it = std::find(nodes.begin(), nodes.end(), node);
    const size_t k = static_cast<size_t>(it - nodes.begin());
    if (it == nodes.end()) {
      nodes.push_back(node);
      per_node.push_back(0);
    }
    if (static_cast<int>(r) == rank) {
      node_id = static_cast<int>(k);
      local_id = per_node[k];
    }
    ++per_node[k];
  }
  const std::string list = CompressHostlist(nodes);
  env["SLURM_JOB_NODELIST"] = list;
  env["SLURM_NODELIST"] = list;
  env["SLURM_JOB_NUM_NODES"] = std::to_string(nodes.size());
  env["SLURM_NNODES"] = std::to_string(nodes.size());
  env["SLURM_NTASKS"] = std::to_string(v.placement.size());
  env["SLURM_NPROCS"] = std::to_string(v.placement.size());
  env["SLURM_TASKS_PER_NODE"] = TasksPerNode(per_node);
  env["SLURM_PROCID"] = std::to_string(rank);
  env["SLURM_NODEID"] = std::to_string(node_id);
  env["SLURM_LOCALID"] = std::to_string(local_id);

  const int tasks = std::max(1, v.spec.demand.tasks);
  if (v.spec.demand.cpu_milli > 0)  // whole CPUs, rounded up
    env["SLURM_CPUS_PER_TASK"] = std::to_string((v.spec.demand.cpu_milli / tasks + 999) / 1000);
  if (rank >= 0 && static_cast<size_t>(rank) < v.placement.size() && !v.placement[rank].gpus.empty()) {
    const auto& gpus = v.placement[rank].gpus;
    std::string ids;
    for (int g : gpus) ids += (ids.empty() ? "" : ",") + std::to_string(g);
    env["SLURM_JOB_GPUS"] = ids;
    env["SLURM_GPUS_ON_NODE"] = std::to_string(gpus.size());
  }

  if (v.array_id) {
    env["SLURM_ARRAY_JOB_ID"] = std::to_string(*v.array_id);
    env["SLURM_ARRAY_TASK_ID"] = std::to_string(v.array_index.value_or(0));
    if (!v.spec.array.empty()) ArrayStats(v.spec.array, env);
  }
  return env;
}

}  // namespace kojo::api
