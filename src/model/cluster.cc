#include "model/cluster.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>

#include <fmt/format.h>

#include "common/csv.h"

namespace kojo {

namespace {

constexpr int kMaxNodes = 100000;
constexpr MilliCpu kDefaultCpuPerGpu = 12 * 1000;
constexpr MiB kDefaultMemPerGpu = 96 * 1024;

std::optional<std::int64_t> ParseInt(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool ValidModelName(std::string_view m) {
  if (m.empty() || m.size() > 64) return false;
  return std::all_of(m.begin(), m.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

// One "COUNTxGPUSxMODEL[:cpu=N][:mem=GiB]" group.
Status ParseGroup(std::string_view group, std::vector<NodeSpec>& out) {
  auto fail = [&](std::string_view what) -> Status {
    return InvalidArgument(fmt::format(
        "cluster spec '{}': {} (expected COUNTxGPUSxMODEL, e.g. 16x4xT4, optionally "
        "followed by :cpu=CORES:mem=GiB)", group, what));
  };
  std::string_view head = group.substr(0, group.find(':'));
  std::string_view opts = group.size() > head.size() ? group.substr(head.size() + 1) : "";
  size_t x1 = head.find('x');
  size_t x2 = x1 == head.npos ? head.npos : head.find('x', x1 + 1);
  if (x1 == head.npos || x2 == head.npos) return fail("missing 'x'");
  auto count = ParseInt(head.substr(0, x1));
  auto gpus = ParseInt(head.substr(x1 + 1, x2 - x1 - 1));
  std::string_view model = head.substr(x2 + 1);
  if (!count || *count < 1 || *count > kMaxNodes)
    return fail(fmt::format("node count must be 1..{}", kMaxNodes));
  if (!gpus || *gpus < 0 || *gpus > kMaxGpusPerNode)
    return fail(fmt::format("GPUs per node must be 0..{}", kMaxGpusPerNode));
  if (!ValidModelName(model)) return fail("GPU model must be a name like H100 or A100-80GB");
  MilliCpu cpu = std::max<std::int64_t>(1, *gpus) * kDefaultCpuPerGpu;
  MiB mem = std::max<std::int64_t>(1, *gpus) * kDefaultMemPerGpu;
  while (!opts.empty()) {
    std::string_view opt = opts.substr(0, opts.find(':'));
    opts = opt.size() < opts.size() ? opts.substr(opt.size() + 1) : "";
    size_t eq = opt.find('=');
    const std::int64_t v = eq == opt.npos ? 0 : ParseInt(opt.substr(eq + 1)).value_or(0);
    std::string_view key = opt.substr(0, eq);
    if (key == "cpu" && v >= 1 && v <= 100000) cpu = v * 1000;
    else if (key == "mem" && v >= 1 && v <= 1024 * 1024) mem = v * 1024;
    else return fail(fmt::format("option '{}' must be cpu=CORES or mem=GiB with a positive integer", opt));
  }
  if (out.size() + *count > kMaxNodes)
    return fail(fmt::format("more than {} nodes in all", kMaxNodes));
  std::string prefix = Lower(model);
  for (std::int64_t i = 0; i < *count; ++i) {
    NodeSpec n;
    n.name = fmt::format("{}-{}", prefix, out.size());
    n.gpu_model = std::string(model);
    n.gpus = static_cast<int>(*gpus);
    n.cpu_milli = cpu;
    n.mem_mib = mem;
    out.push_back(std::move(n));
  }
  return Ok{};
}

}  // namespace

Result<std::vector<NodeSpec>> ParseClusterSpec(std::string_view spec) {
  std::vector<NodeSpec> nodes;
  if (spec.empty()) return InvalidArgument("cluster spec: empty (expected e.g. 16x4xT4)");
  while (true) {
    size_t plus = spec.find('+');
    auto st = ParseGroup(spec.substr(0, plus), nodes);
    if (!st.ok()) return st.error();
    if (plus == spec.npos) break;
    spec.remove_prefix(plus + 1);
  }
  return nodes;
}

Result<std::vector<NodeSpec>> ReadNodeCsv(const std::string& path) {
  auto table = CsvTable::Read(path);
  if (!table.ok()) return table.error();
  const CsvTable& t = *table;
  auto name = t.Find({"name", "sn"});
  auto gpus = t.Find({"gpu", "gpus", "num_gpu"});
  auto model = t.Find({"model", "gpu_model"});
  auto cpu = t.Find({"cpu_milli"});
  auto mem = t.Find({"memory_mib", "mem_mib"});
  auto gmem = t.Find({"gpu_mem_mib"});
  auto features = t.Find({"features"});  // "nvlink|ib|rack1"
  if (!name) return t.ErrorAt(1, "missing column 'name' (or 'sn')");
  if (!gpus) return t.ErrorAt(1, "missing column 'gpu' (or 'gpus')");
  if (!model) return t.ErrorAt(1, "missing column 'model' (or 'gpu_model')");
  if (!cpu) return t.ErrorAt(1, "missing column 'cpu_milli'");
  if (!mem) return t.ErrorAt(1, "missing column 'memory_mib' (or 'mem_mib')");
  if (t.rows().empty()) return t.ErrorAt(2, "no nodes: expected at least one row after the header");
  if (t.rows().size() > static_cast<size_t>(kMaxNodes))
    return t.ErrorAt(1, fmt::format("more than {} nodes", kMaxNodes));
  std::vector<NodeSpec> nodes;
  nodes.reserve(t.rows().size());
  for (const auto& row : t.rows()) {
    NodeSpec n;
    n.name = std::string(row.Text(*name));
    if (n.name.empty()) return t.ErrorAt(row.line(), "column 'name': expected a node name, got ''");
    auto g = row.Int(*gpus, 0, kMaxGpusPerNode);
    if (!g.ok()) return g.error();
    n.gpus = static_cast<int>(*g);
    n.gpu_model = std::string(row.Text(*model));
    if (n.gpus > 0 && !ValidModelName(n.gpu_model))
      return t.ErrorAt(row.line(), fmt::format("column 'model': expected a GPU model name, got '{}'",
                                               n.gpu_model));
    auto c = row.Int(*cpu, 0, 100'000'000);
    if (!c.ok()) return c.error();
    n.cpu_milli = *c;
    auto m = row.Int(*mem, 0, 1LL << 32);
    if (!m.ok()) return m.error();
    n.mem_mib = *m;
    if (gmem) {
      auto gm = row.Int(*gmem, 0, 1 << 24);
      if (!gm.ok()) return gm.error();
      n.gpu_mem_mib = *gm;
    }
    if (features) {
      std::string_view list = row.Text(*features);
      while (!list.empty()) {
        size_t bar = list.find('|');
        std::string_view f = list.substr(0, bar);
        if (!f.empty()) n.features.emplace_back(f);
        if (bar == std::string_view::npos) break;
        list.remove_prefix(bar + 1);
      }
    }
    nodes.push_back(std::move(n));
  }
  return nodes;
}

Result<std::vector<NodeSpec>> LoadCluster(const std::string& spec) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(spec, ec) || spec.ends_with(".csv")) return ReadNodeCsv(spec);
  return ParseClusterSpec(spec);
}

int TotalGpus(const std::vector<NodeSpec>& nodes) {
  int n = 0;
  for (const auto& s : nodes) n += s.gpus;
  return n;
}

}  // namespace kojo
