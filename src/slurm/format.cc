#include "slurm/format.h"

#include <algorithm>
#include <cctype>
#include <map>

#include <fmt/format.h>

#include "api/slurm_env.h"
#include "cli/common.h"

namespace kojo::slurm {

namespace {

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}
std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Slurm's state names with their compact codes.
struct StateWord {
  std::string_view name, code;
};
constexpr StateWord kStates[] = {
    {"PENDING", "PD"},     {"CONFIGURING", "CF"}, {"RUNNING", "R"},        {"COMPLETING", "CG"},
    {"COMPLETED", "CD"},   {"FAILED", "F"},       {"CANCELLED", "CA"},     {"TIMEOUT", "TO"},
    {"NODE_FAIL", "NF"},   {"PREEMPTED", "PR"},   {"OUT_OF_MEMORY", "OOM"}, {"SUSPENDED", "S"},
    {"REQUEUED", "RQ"},    {"BOOT_FAIL", "BF"},   {"DEADLINE", "DL"},      {"RESIZING", "RS"},
    {"REVOKED", "RV"},     {"SPECIAL_EXIT", "SE"}, {"STOPPED", "ST"},      {"SIGNALING", "SI"},
    {"STAGE_OUT", "SO"},   {"REQUEUE_FED", "RF"}, {"REQUEUE_HOLD", "RH"},  {"RESV_DEL_HOLD", "RD"},
};

std::vector<std::string> Nodes(const api::JobView& v) {
  std::vector<std::string> nodes;
  for (const auto& p : v.placement)
    if (std::find(nodes.begin(), nodes.end(), p.node) == nodes.end()) nodes.push_back(p.node);
  return nodes;
}

std::string MemMb(MiB m) { return m == 0 ? "0" : fmt::format("{}M", m); }

}  // namespace

std::string DefaultPartition() { return "gpu"; }
std::string PartitionOf(const api::JobView& v) {
  const auto& parts = v.spec.demand.nodes.partitions;
  return parts.empty() ? DefaultPartition() : parts.front();
}

bool InPartitions(const api::JobView& v, const std::vector<std::string>& wanted) {
  const auto& parts = v.spec.demand.nodes.partitions;
  for (const auto& w : wanted)
    if (w == PartitionOf(v) || std::find(parts.begin(), parts.end(), w) != parts.end()) return true;
  return false;
}

std::string StateName(const api::JobView& v) {
  switch (v.state) {
    case api::JobState::kPending:
    case api::JobState::kHeld: return "PENDING";
    case api::JobState::kStarting: return "CONFIGURING";
    case api::JobState::kRunning: return "RUNNING";
    case api::JobState::kStopping: return "COMPLETING";
    case api::JobState::kCompleted: return "COMPLETED";
    case api::JobState::kFailed:
      if (v.reason == "NodeLost") return "NODE_FAIL";
      if (v.reason == "Preempted") return "PREEMPTED";
      if (v.reason == "OutOfMemory" || v.reason == "OOM") return "OUT_OF_MEMORY";
      return "FAILED";
    case api::JobState::kCancelled: return "CANCELLED";
    case api::JobState::kTimeout: return "TIMEOUT";
  }
  return "PENDING";
}

std::string StateCode(const api::JobView& v) {
  const std::string name = StateName(v);
  for (const auto& s : kStates)
    if (s.name == name) return std::string(s.code);
  return name;
}

std::optional<std::vector<std::string>> ParseStateFilter(std::string_view word) {
  const std::string w = Upper(word);
  if (w == "ALL") {
    std::vector<std::string> all;
    for (const auto& s : kStates) all.emplace_back(s.name);
    return all;
  }
  for (const auto& s : kStates)
    if (s.name == w || s.code == w) return std::vector<std::string>{std::string(s.name)};
  if (w == "CANCELED") return std::vector<std::string>{"CANCELLED"};
  return std::nullopt;
}

std::string ExitCode(const api::JobView& v) {
  if (v.signal) return fmt::format("0:{}", *v.signal);
  return fmt::format("{}:0", v.exit_code.value_or(0));
}

std::string Reason(const api::JobView& v) {
  switch (v.state) {
    case api::JobState::kHeld: return "JobHeldUser";
    case api::JobState::kPending: {
      static const std::map<std::string, std::string, std::less<>> kWords = {
          {"Submitted", "None"},          {"Priority", "Priority"},
          {"Resources", "Resources"},     {"Preempting", "Resources"},
          {"Quota", "QOSGrpGRES"},        {"GrantExhausted", "AssocGrpBillingMinutes"},
          {"NodeDrain", "ReqNodeNotAvail"}, {"NodeDown", "NodeDown"},
          {"ArrayLimit", "JobArrayTaskLimit"}, {"Held", "JobHeldUser"},
          {"Preempted", "BeginTime"},     {"NodeLost", "BeginTime"},
          {"NodeFault", "BeginTime"},
      };
      auto it = kWords.find(v.reason);
      if (it != kWords.end()) return it->second;
      return v.reason.empty() ? "None" : v.reason;
    }
    case api::JobState::kFailed:
      if (v.reason == "LaunchFailed") return "JobLaunchFailure";
      if (v.reason == "NodeLost") return "NodeDown";
      if (v.signal) return "RaisedSignal:" + std::to_string(*v.signal);
      return "NonZeroExitCode";
    case api::JobState::kTimeout: return "TimeLimit";
    default: return "None";
  }
}

std::string SqueueDuration(Seconds s) { return cli::Duration(s); }

std::string LongDuration(Seconds s) {
  if (s < 0) s = 0;
  const Seconds d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
  if (d > 0) return fmt::format("{}-{:02}:{:02}:{:02}", d, h, m, sec);
  return fmt::format("{:02}:{:02}:{:02}", h, m, sec);
}

std::string TimeLimit(const std::optional<Seconds>& limit, bool long_form) {
  if (!limit) return "UNLIMITED";
  // Slurm keeps whole minutes, rounded up.
  const Seconds s = (*limit + 59) / 60 * 60;
  return long_form ? LongDuration(s) : SqueueDuration(s);
}

std::string SlurmTime(std::optional<Seconds> t, std::string_view none) {
  if (!t) return std::string(none);
  const std::time_t tt = static_cast<std::time_t>(*t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

Seconds RunTime(const api::JobView& v, Seconds now) {
  if (!v.start_time) return 0;
  const Seconds end = v.end_time ? *v.end_time : now;
  return std::max<Seconds>(0, end - *v.start_time);
}

std::string NodeList(const api::JobView& v) { return api::CompressHostlist(Nodes(v)); }

int NodeCount(const api::JobView& v) {
  if (!v.placement.empty()) return static_cast<int>(Nodes(v).size());
  return std::max(1, v.spec.demand.tasks);
}

int CpuCount(const api::JobView& v) {
  const int tasks = std::max(1, v.spec.demand.tasks);
  const int cpus = static_cast<int>((v.spec.demand.cpu_milli + 999) / 1000);
  return std::max(tasks, cpus);
}

std::string GresText(const api::JobView& v) {
  const Demand& d = v.spec.demand;
  if (d.gpus == 0) return "N/A";
  const int per_node = std::max(1, d.gpus / std::max(1, d.tasks));
  if (d.gpu_models.size() == 1) return fmt::format("gres:gpu:{}:{}", Lower(d.gpu_models[0]), per_node);
  return fmt::format("gres:gpu:{}", per_node);
}

// ---- format strings ----

Result<std::vector<FormatField>> ParseFormat(std::string_view format, std::string_view known) {
  std::vector<FormatField> out;
  std::string literal;
  size_t i = 0;
  while (i < format.size()) {
    const char c = format[i];
    if (c == '\\' && i + 1 < format.size() && format[i + 1] == 't') {  // as squeue: "\t" is a tab
      literal += '\t';
      i += 2;
      continue;
    }
    if (c != '%') {
      literal += c;
      ++i;
      continue;
    }
    ++i;
    if (i < format.size() && format[i] == '%') {
      literal += '%';
      ++i;
      continue;
    }
    FormatField f;
    if (i < format.size() && format[i] == '.') {
      f.right = true;
      ++i;
    } else if (i < format.size() && format[i] == '-') {  // printf's spelling of the default, left
      ++i;
    }
    if (i < format.size() && format[i] == '#') {  // sinfo's "%#P": as wide as the column needs
      f.fit_column = true;
      ++i;
    }
    while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i]))) {
      f.width = f.width * 10 + (format[i] - '0');
      if (f.width > 1000) return InvalidArgument("a field width must be at most 1000");
      ++i;
    }
    if (i >= format.size()) return InvalidArgument(fmt::format("'{}': ends inside a field", format));
    f.letter = format[i++];
    if (known.find(f.letter) == std::string_view::npos)
      return InvalidArgument(fmt::format("%{}: field not supported by kojo (supported: {})", f.letter,
                                         [&] {
                                           std::string s;
                                           for (char k : known) s += fmt::format("{}%{}", s.empty() ? "" : " ", k);
                                           return s;
                                         }()));
    f.literal = std::move(literal);
    literal.clear();
    out.push_back(std::move(f));
  }
  if (!literal.empty()) out.push_back(FormatField{std::move(literal), 0, 0, false, false});
  return out;
}

std::string Fit(const FormatField& f, const std::string& value) {
  if (f.width == 0) return value;
  const size_t w = static_cast<size_t>(f.width);
  if (value.size() >= w) return value.substr(0, w);
  const std::string pad(w - value.size(), ' ');
  return f.right ? pad + value : value + pad;
}

std::string SqueueHeader(char letter) {
  switch (letter) {
    case 'a': return "ACCOUNT";
    case 'A': return "JOBID";
    case 'c': return "MIN_CPUS";
    case 'C': return "CPUS";
    case 'D': return "NODES";
    case 'e': return "END_TIME";
    case 'F': return "ARRAY_JOB_ID";
    case 'i': return "JOBID";
    case 'j': return "NAME";
    case 'K': return "ARRAY_TASK_ID";
    case 'l': return "TIME_LIMIT";
    case 'L': return "TIME_LEFT";
    case 'm': return "MIN_MEMORY";
    case 'M': return "TIME";
    case 'N': return "NODELIST";
    case 'o': return "COMMAND";
    case 'P': return "PARTITION";
    case 'r': return "REASON";
    case 'R': return "NODELIST(REASON)";
    case 'S': return "START_TIME";
    case 't': return "ST";
    case 'T': return "STATE";
    case 'u': return "USER";
    case 'V': return "SUBMIT_TIME";
    case 'Z': return "WORK_DIR";
  }
  return "";
}

std::string SqueueValue(char letter, const api::JobView& v, Seconds now) {
  const bool active = !api::IsTerminal(v.state);
  switch (letter) {
    case 'a': return v.spec.project.empty() ? "default" : v.spec.project;
    case 'A': return std::to_string(v.id);
    case 'c': return std::to_string(std::max(1, CpuCount(v) / std::max(1, v.spec.demand.tasks)));
    case 'C': return std::to_string(CpuCount(v));
    case 'D': return std::to_string(NodeCount(v));
    case 'e':
      if (v.end_time) return SlurmTime(v.end_time);
      if (v.start_time) return v.spec.time_limit_s ? SlurmTime(*v.start_time + *v.spec.time_limit_s) : "NONE";
      return "N/A";
    case 'F': return std::to_string(v.array_id.value_or(v.id));
    case 'i':
      // squeue shows an array task as "<array job>_<index>".
      if (v.array_id && v.array_index) return fmt::format("{}_{}", *v.array_id, *v.array_index);
      return std::to_string(v.id);
    case 'j': return v.spec.name;
    case 'K': return v.array_index ? std::to_string(*v.array_index) : "N/A";
    case 'l': return TimeLimit(v.spec.time_limit_s, false);
    case 'L':
      if (!v.spec.time_limit_s) return "UNLIMITED";
      return SqueueDuration(*v.spec.time_limit_s - RunTime(v, now));
    case 'm': return MemMb(v.spec.demand.mem_mib / std::max(1, v.spec.demand.tasks));
    case 'M': return SqueueDuration(RunTime(v, now));
    case 'N': return active ? NodeList(v) : "";
    case 'o': {
      if (v.spec.command.empty()) return "(script)";
      std::string s;
      for (const auto& a : v.spec.command) s += (s.empty() ? "" : " ") + a;
      return s;
    }
    case 'P': return PartitionOf(v);
    case 'r': return Reason(v);
    case 'R':
      if ((v.state == api::JobState::kPending || v.state == api::JobState::kHeld)) return "(" + Reason(v) + ")";
      return NodeList(v);
    case 'S':
      if (v.start_time) return SlurmTime(v.start_time);
      if (v.estimated_start) return SlurmTime(v.estimated_start);
      return "N/A";
    case 't': return StateCode(v);
    case 'T': return StateName(v);
    case 'u': return v.spec.user;
    case 'V': return SlurmTime(v.submit_time);
    case 'Z': return v.spec.workdir;
  }
  return "";
}

// ---- sinfo ----

std::string CompactNodeState(std::string_view state) {
  // A rented node's power suffix (~ off, # starting, % stopping) stays.
  if (!state.empty() && (state.back() == '~' || state.back() == '#' || state.back() == '%'))
    return CompactNodeState(state.substr(0, state.size() - 1)) + state.back();
  if (state == "idle") return "idle";
  if (state == "mixed") return "mix";
  if (state == "allocated") return "alloc";
  if (state == "draining") return "drng";
  if (state == "drained") return "drain";
  if (state == "down") return "down";
  return "unk";
}

std::string NodeStateName(const api::NodeView& n) {
  // A rented node not up, as Slurm shows its powered-down cloud nodes:
  // idle~ (off), idle# (powering up), idle% (powering down).
  if (!n.provider.empty() && n.rent_state != "up") {
    if (n.rent_state == "off") return "idle~";
    if (n.rent_state == "starting") return "idle#";
    if (n.rent_state == "stopping") return (n.jobs.empty() ? "idle" : "mixed") + std::string("%");
  }
  switch (n.state) {
    case api::NodeState::kUp:
      if (n.jobs.empty() && n.gpus_used == 0) return "idle";
      if (!n.info.gpus.empty() && n.gpus_used >= static_cast<int>(n.info.gpus.size())) return "allocated";
      return "mixed";
    case api::NodeState::kDraining: return "draining";
    case api::NodeState::kDrained: return "drained";
    case api::NodeState::kDown: return "down";
    case api::NodeState::kUnknown: return "unknown";
  }
  return "unknown";
}

std::vector<NodeGroup> GroupNodes(const std::vector<api::NodeView>& nodes, bool by_node) {
  std::vector<NodeGroup> groups;
  for (const auto& n : nodes) {
    const std::string state = NodeStateName(n);
    std::map<std::string, int> models;
    for (const auto& g : n.info.gpus) ++models[g.model];
    std::string gres;
    for (const auto& [model, count] : models)
      gres += fmt::format("{}gpu:{}:{}", gres.empty() ? "" : ",", Lower(model), count);
    if (gres.empty()) gres = "(null)";
    NodeGroup* g = nullptr;
    if (!by_node)
      for (auto& existing : groups)
        if (existing.state == state) g = &existing;
    if (!g) {
      groups.push_back(NodeGroup{});
      g = &groups.back();
      g->state = state;
      g->cpus = static_cast<int>(n.info.cpu_milli / 1000);
      g->mem_mib = n.info.mem_mib;
      g->gres = gres;
    }
    g->names.push_back(n.info.name);
    g->gpus_total += static_cast<int>(n.info.gpus.size());
  }
  return groups;
}

std::string SinfoHeader(char letter) {
  switch (letter) {
    case 'a': return "AVAIL";
    case 'A': return "NODES(A/I)";
    case 'c': return "CPUS";
    case 'C': return "CPUS(A/I/O/T)";
    case 'D': return "NODES";
    case 'E': return "REASON";
    case 'f': return "AVAIL_FEATURES";
    case 'G': return "GRES";
    case 'l': return "TIMELIMIT";
    case 'm': return "MEMORY";
    case 'N': return "NODELIST";
    case 'n': return "HOSTNAMES";
    case 'P': return "PARTITION";
    case 'R': return "PARTITION";
    case 't': return "STATE";
    case 'T': return "STATE";
  }
  return "";
}

std::string SinfoValue(char letter, const NodeGroup& g) {
  const bool busy = g.state == "allocated" || g.state == "mixed";
  switch (letter) {
    case 'a': return "up";
    case 'A': return fmt::format("{}/{}", busy ? g.names.size() : 0, busy ? 0 : g.names.size());
    case 'c': return std::to_string(g.cpus);
    case 'C': {
      const size_t total = static_cast<size_t>(g.cpus) * g.names.size();
      return fmt::format("0/{}/0/{}", total, total);
    }
    case 'D': return std::to_string(g.names.size());
    case 'E': return "none";
    case 'f': return "(null)";
    case 'G': return g.gres;
    case 'l': return g.time_limit ? TimeLimit(g.time_limit, false) : "infinite";
    case 'm': return std::to_string(g.mem_mib);
    case 'N':
    case 'n': return api::CompressHostlist(g.names);
    case 'P': return g.partition + (g.is_default ? "*" : "");
    case 'R': return g.partition;
    case 't': return CompactNodeState(g.state);
    case 'T': return g.state;
  }
  return "";
}

// ---- sacct ----

namespace {

constexpr std::string_view kSacctFields[] = {
    "Account", "AllocCPUS", "AllocNodes", "AllocTRES", "Cluster", "CPUTime", "CPUTimeRAW", "DerivedExitCode",
    "Elapsed", "ElapsedRaw", "End", "ExitCode", "Group", "JobID", "JobIDRaw", "JobName", "NCPUS", "NNodes",
    "NodeList", "Partition", "QOS", "Reason", "ReqCPUS", "ReqMem", "ReqNodes", "ReqTRES", "Restarts", "Start",
    "State", "Submit", "Timelimit", "TimelimitRaw", "User", "WorkDir",
};

}  // namespace

Result<std::vector<SacctField>> ParseSacctFormat(std::string_view text) {
  std::vector<SacctField> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(start, comma - start);
    start = comma + 1;
    if (item.empty()) {
      if (comma == text.size()) break;
      continue;
    }
    SacctField f;
    const size_t pct = item.find('%');
    std::string_view name = item.substr(0, pct);
    if (pct != std::string_view::npos) {
      const std::string_view w = item.substr(pct + 1);
      int width = 0;
      for (char c : w) {
        if (!std::isdigit(static_cast<unsigned char>(c)) || width > 1000)
          return InvalidArgument(fmt::format("--format: {}: expected Name%WIDTH", item));
        width = width * 10 + (c - '0');
      }
      f.width = width;
    }
    const std::string lower = Lower(name);
    for (std::string_view known : kSacctFields)
      if (Lower(known) == lower) f.name = std::string(known);
    if (f.name.empty()) {
      std::string list;
      for (std::string_view known : kSacctFields) list += fmt::format("{}{}", list.empty() ? "" : ",", known);
      return InvalidArgument(fmt::format("--format: {}: field not supported by kojo (supported: {})", name, list));
    }
    out.push_back(std::move(f));
    if (comma == text.size()) break;
  }
  if (out.empty()) return InvalidArgument("--format: expected field names, e.g. JobID,State,ExitCode");
  return out;
}

int SacctDefaultWidth(std::string_view name) {
  static const std::map<std::string_view, int> kWidths = {
      {"JobID", 12}, {"JobIDRaw", 12}, {"JobName", 10}, {"ExitCode", 8}, {"DerivedExitCode", 15},
      {"Start", 19}, {"End", 19}, {"Submit", 19}, {"Elapsed", 10}, {"NodeList", 15}, {"State", 10},
      {"Timelimit", 10}, {"ReqTRES", 10}, {"AllocTRES", 10}, {"WorkDir", 20}, {"Reason", 20},
  };
  auto it = kWidths.find(name);
  return it == kWidths.end() ? 10 : it->second;
}

std::string SacctValue(const SacctField& f, const api::JobView& v, Seconds now) {
  const std::string& n = f.name;
  const int cpus = CpuCount(v);
  const bool started = v.start_time.has_value();
  auto tres = [&] {
    std::string t = fmt::format("billing={},cpu={}", cpus, cpus);
    if (v.spec.demand.gpus > 0) t += fmt::format(",gres/gpu={}", v.spec.demand.gpus);
    if (v.spec.demand.mem_mib > 0) t += fmt::format(",mem={}M", v.spec.demand.mem_mib);
    t += fmt::format(",node={}", NodeCount(v));
    return t;
  };
  if (n == "Account") return v.spec.project.empty() ? "default" : v.spec.project;
  if (n == "AllocCPUS" || n == "NCPUS") return started ? std::to_string(cpus) : "0";
  if (n == "AllocNodes") return started ? std::to_string(NodeCount(v)) : "0";
  if (n == "AllocTRES") return started ? tres() : "";
  if (n == "Cluster") return "kojo";
  if (n == "CPUTime") return LongDuration(RunTime(v, now) * cpus);
  if (n == "CPUTimeRAW") return std::to_string(RunTime(v, now) * cpus);
  if (n == "DerivedExitCode") return ExitCode(v);
  if (n == "Elapsed") return LongDuration(RunTime(v, now));
  if (n == "ElapsedRaw") return std::to_string(RunTime(v, now));
  if (n == "End") return SlurmTime(v.end_time);
  if (n == "ExitCode") return ExitCode(v);
  if (n == "Group") return v.spec.user;
  if (n == "JobID") {
    if (v.array_id && v.array_index) return fmt::format("{}_{}", *v.array_id, *v.array_index);
    return std::to_string(v.id);
  }
  if (n == "JobIDRaw") return std::to_string(v.id);
  if (n == "JobName") return v.spec.name;
  if (n == "NNodes" || n == "ReqNodes") return std::to_string(NodeCount(v));
  if (n == "NodeList") return started ? NodeList(v) : "None assigned";
  if (n == "Partition") return PartitionOf(v);
  if (n == "QOS") return "normal";
  if (n == "Reason") return Reason(v);
  if (n == "ReqCPUS") return std::to_string(cpus);
  if (n == "ReqMem") return MemMb(v.spec.demand.mem_mib);
  if (n == "ReqTRES") return tres();
  if (n == "Restarts") return std::to_string(std::max(0, v.attempt - 1));
  if (n == "Start") return SlurmTime(v.start_time);
  if (n == "State") return StateName(v);
  if (n == "Submit") return SlurmTime(v.submit_time);
  if (n == "Timelimit") return TimeLimit(v.spec.time_limit_s, true);
  if (n == "TimelimitRaw")
    return v.spec.time_limit_s ? std::to_string((*v.spec.time_limit_s + 59) / 60) : "UNLIMITED";
  if (n == "User") return v.spec.user;
  if (n == "WorkDir") return v.spec.workdir;
  return "";
}

std::string SacctLine(const std::vector<SacctField>& fields, const std::vector<std::string>& values, bool parsable,
                      bool trailing) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    const std::string& val = i < values.size() ? values[i] : std::string();
    if (parsable) {
      if (i > 0) out += '|';
      out += val;
      continue;
    }
    const size_t w = static_cast<size_t>(fields[i].width > 0 ? fields[i].width : SacctDefaultWidth(fields[i].name));
    std::string cell = val;
    if (cell.size() > w) cell = cell.substr(0, w - 1) + "+";
    const bool left = fields[i].name == "JobID" || fields[i].name == "JobIDRaw";
    const std::string pad(w - cell.size(), ' ');
    out += left ? cell + pad : pad + cell;
    out += ' ';
  }
  if (parsable && trailing) out += '|';
  return out;
}

// ---- times ----

Result<Seconds> ParseSlurmTime(std::string_view text, Seconds now) {
  const std::string t = Lower(text);
  if (t.rfind("now", 0) == 0) {
    if (t == "now") return now;
    const char sign = t.size() > 3 ? t[3] : 0;
    if (sign == '-' || sign == '+') {
      size_t pos = 4;
      long long n = 0;
      while (pos < t.size() && std::isdigit(static_cast<unsigned char>(t[pos])) && n < 1000000000)
        n = n * 10 + (t[pos++] - '0');
      const std::string unit = t.substr(pos);
      Seconds mult = 0;
      if (pos > 4) {
        if (unit.empty() || unit.rfind("sec", 0) == 0) mult = 1;
        else if (unit.rfind("min", 0) == 0) mult = 60;
        else if (unit.rfind("hour", 0) == 0) mult = 3600;
        else if (unit.rfind("day", 0) == 0) mult = 86400;
        else if (unit.rfind("week", 0) == 0) mult = 7 * 86400;
      }
      if (mult > 0) return sign == '-' ? now - n * mult : now + n * mult;
    }
  }
  const std::time_t tt = static_cast<std::time_t>(now);
  std::tm tm{};
  if (t == "today" || t == "midnight") {
    localtime_r(&tt, &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return static_cast<Seconds>(std::mktime(&tm));
  }
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  char extra = 0;
  const std::string s(text);
  const int n = std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &sec, &extra);
  if (n >= 3 && n <= 6 && y >= 1970 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 && mi < 60 && sec < 61) {
    tm = std::tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = n >= 4 ? h : 0;
    tm.tm_min = n >= 5 ? mi : 0;
    tm.tm_sec = n >= 6 ? sec : 0;
    tm.tm_isdst = -1;
    return static_cast<Seconds>(std::mktime(&tm));
  }
  return InvalidArgument(fmt::format(
      "invalid time '{}' (kojo's sacct takes YYYY-MM-DD[THH:MM[:SS]], now[-N{{seconds,minutes,hours,days,weeks}}], "
      "today or midnight)",
      text));
}

// ---- scontrol ----

std::string ScontrolJob(const api::JobView& v, Seconds now, bool details) {
  const auto& s = v.spec;
  const std::string user = s.user.empty() ? "(null)" : s.user;
  const int nodes = NodeCount(v);
  const int cpus = CpuCount(v);
  const int tasks = std::max(1, s.demand.tasks);
  std::string command = "(null)";
  if (!s.command.empty()) {
    command.clear();
    for (const auto& a : s.command) command += (command.empty() ? "" : " ") + a;
  }
  std::string tres = fmt::format("cpu={},mem={}M,node={},billing={}", cpus, s.demand.mem_mib, nodes, cpus);
  if (s.demand.gpus > 0) tres += fmt::format(",gres/gpu={}", s.demand.gpus);
  const std::string nodelist = NodeList(v);  // empty while pending, as scontrol shows it
  const bool pending = v.state == api::JobState::kPending || v.state == api::JobState::kHeld;

  std::string out;
  auto line = [&](const std::string& text) { out += text + "\n"; };
  line(fmt::format("JobId={} {}JobName={}", v.id,
                   v.array_id ? fmt::format("ArrayJobId={} ArrayTaskId={} ", *v.array_id, v.array_index.value_or(0))
                              : std::string(),
                   s.name));
  line(fmt::format("   UserId={}(0) GroupId={}(0) MCS_label=N/A", user, user));
  line(fmt::format("   Priority=1 Nice=0 Account={} QOS=normal", s.project.empty() ? "default" : s.project));
  line(fmt::format("   JobState={} Reason={} Dependency=(null)", StateName(v), Reason(v)));
  line(fmt::format("   Requeue={} Restarts={} BatchFlag={} Reboot=0 ExitCode={}", s.requeue ? 1 : 0,
                   std::max(0, v.attempt - 1), s.script.empty() ? 0 : 1, ExitCode(v)));
  if (details) line(fmt::format("   DerivedExitCode={}", ExitCode(v)));
  line(fmt::format("   RunTime={} TimeLimit={} TimeMin=N/A", LongDuration(RunTime(v, now)),
                   TimeLimit(s.time_limit_s, true)));
  line(fmt::format("   SubmitTime={} EligibleTime={}", SlurmTime(v.submit_time), SlurmTime(v.submit_time)));
  line("   AccrueTime=" + SlurmTime(v.submit_time));
  std::string end = SlurmTime(v.end_time);
  if (!v.end_time && v.start_time && s.time_limit_s) end = SlurmTime(*v.start_time + *s.time_limit_s);
  line(fmt::format("   StartTime={} EndTime={} Deadline=N/A",
                   v.start_time ? SlurmTime(v.start_time) : SlurmTime(v.estimated_start), end));
  line(fmt::format("   Partition={} AllocNode:Sid=(null):0", PartitionOf(v)));
  line("   ReqNodeList=(null) ExcNodeList=(null)");
  line("   NodeList=" + nodelist);
  if (!v.placement.empty()) line("   BatchHost=" + v.placement.front().node);
  line(fmt::format("   NumNodes={} NumCPUs={} NumTasks={} CPUs/Task={} ReqB:S:C:T=0:0:*:*", nodes, cpus, tasks,
                   std::max(1, cpus / tasks)));
  line("   TRES=" + tres);
  line("   Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=*");
  if (details)
    for (const auto& p : v.placement) {
      std::string idx;
      for (int g : p.gpus) idx += (idx.empty() ? "" : ",") + std::to_string(g);
      line(fmt::format("     Nodes={} CPU_IDs=0-{} Mem={} GRES=gpu:{}(IDX:{})", p.node,
                       std::max(0, cpus / tasks - 1), s.demand.mem_mib / tasks, p.gpus.size(), idx));
    }
  line(fmt::format("   MinCPUsNode={} MinMemoryNode={} MinTmpDiskNode=0", std::max(1, cpus / tasks),
                   MemMb(s.demand.mem_mib / tasks)));
  std::string features = "(null)";
  if (!s.demand.gpu_models.empty()) {
    features.clear();
    for (const auto& m : s.demand.gpu_models) features += (features.empty() ? "" : "|") + m;
  }
  line("   Features=" + features + " DelayBoot=00:00:00");
  line("   OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null)");
  line("   Command=" + command);
  line("   WorkDir=" + (s.workdir.empty() ? std::string("(null)") : s.workdir));
  line("   StdErr=" + (s.stderr_path.empty() ? (s.stdout_path.empty() ? std::string("(null)") : s.stdout_path)
                                             : s.stderr_path));
  line("   StdIn=/dev/null");
  line("   StdOut=" + (s.stdout_path.empty() ? std::string("(null)") : s.stdout_path));
  line("   Power=");
  if (s.demand.gpus > 0) line("   TresPerNode=" + GresText(v));
  (void)pending;
  return out;
}

// ---- srun ----

StepPlan PlanStep(int ntasks, int ntasks_per_node, int nodes, int job_nodes, int node_index) {
  StepPlan p;
  job_nodes = std::max(1, job_nodes);
  if (nodes > 0) {
    p.nodes = nodes;
  } else if (ntasks > 0 && ntasks_per_node > 0) {
    p.nodes = (ntasks + ntasks_per_node - 1) / ntasks_per_node;
  } else if (ntasks > 0) {
    p.nodes = std::min(ntasks, job_nodes);
  } else {
    p.nodes = job_nodes;
  }
  if (ntasks > 0) p.ntasks = ntasks;
  else if (ntasks_per_node > 0) p.ntasks = ntasks_per_node * p.nodes;
  else p.ntasks = p.nodes;
  p.node_index = node_index;
  if (p.nodes > job_nodes) {
    p.error = fmt::format("the step asks for {} nodes; the job has {}", p.nodes, job_nodes);
    return p;
  }
  if (p.ntasks < p.nodes) {
    p.error = fmt::format("{} tasks cannot be spread over {} nodes (every node of a step runs a task)", p.ntasks,
                          p.nodes);
    return p;
  }
  if (ntasks_per_node > 0 && ntasks_per_node * p.nodes < p.ntasks) {
    p.error = fmt::format("{} tasks do not fit {} nodes of {} tasks (--ntasks-per-node)", p.ntasks, p.nodes,
                          ntasks_per_node);
    return p;
  }
  int left = p.ntasks;
  for (int i = 0; i < p.nodes; ++i) {
    int here = ntasks_per_node > 0 ? std::min(ntasks_per_node, left - (p.nodes - 1 - i))
                                   : p.ntasks / p.nodes + (i < p.ntasks % p.nodes ? 1 : 0);
    here = std::max(1, here);
    p.per_node.push_back(here);
    left -= here;
  }
  p.first_rank = 0;
  for (int i = 0; i < std::min(node_index, p.nodes); ++i) p.first_rank += p.per_node[i];
  p.local = node_index < p.nodes ? p.per_node[node_index] : 0;
  return p;
}

}  // namespace kojo::slurm
