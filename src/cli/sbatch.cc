#include "cli/sbatch.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>

#include <fmt/format.h>

#include "api/codec.h"
#include "api/slurm_env.h"

namespace kojo::cli {

namespace {

constexpr Seconds kMaxTimeLimit = 100LL * 365 * 24 * 3600;  // the API's bound
constexpr MiB kMaxMem = 1LL << 32;
constexpr int kMaxCount = 100000;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A non-negative decimal integer no larger than `max`.
std::optional<std::int64_t> ParseCount(std::string_view s, std::int64_t max) {
  if (!AllDigits(s) || s.size() > 18) return std::nullopt;
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  if (v > max) return std::nullopt;
  return v;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

std::string Quoted(std::string_view s) { return fmt::format("'{}'", s); }

// ---- the option table ----

enum class Arg { kNone, kRequired, kOptional };
enum class Kind {
  kSupported,  // sbatch's and kojo's
  kKojo,       // kojo only: refused on #SBATCH lines
  kCli,        // the command line only
  kWarn,       // accepted, ignored with a warning
  kReject,     // refused, naming the option
};
enum class Id {
  kArray, kProject, kChdir, kCpusPerGpu, kCpusPerTask, kError, kExport, kGpus, kGpusPerNode, kGpusPerTask,
  kGres, kHelp, kHold, kJobName, kMem, kMemPerCpu, kMemPerGpu, kNoRequeue, kRequeue, kNodes, kNtasks,
  kNtasksPerNode, kOutput, kParsable, kQuiet, kVerbose, kTime, kWrap, kTestOnly, kGpuModel, kGpuMilli, kEnv,
  kDryRun, kJson, kServer, kToken, kPartition, kConstraint, kNodelist, kExclude, kNoRent, kOther,
};

struct OptionDef {
  std::string_view name;
  char short_kojo;    // on the command line and #KOJO lines; 0 = none
  char short_sbatch;  // on #SBATCH lines; 0 = none
  Arg arg;
  Kind kind;
  Id id;
  std::string_view note;  // for kWarn / kReject: why
};

constexpr OptionDef kOptions[] = {
    // Supported (sbatch's meaning, converted to kojo's job).
    {"array", 'a', 'a', Arg::kRequired, Kind::kSupported, Id::kArray, ""},
    {"account", 'A', 'A', Arg::kRequired, Kind::kSupported, Id::kProject, ""},
    {"chdir", 'D', 'D', Arg::kRequired, Kind::kSupported, Id::kChdir, ""},
    {"cpus-per-gpu", 0, 0, Arg::kRequired, Kind::kSupported, Id::kCpusPerGpu, ""},
    {"cpus-per-task", 'c', 'c', Arg::kRequired, Kind::kSupported, Id::kCpusPerTask, ""},
    {"error", 'e', 'e', Arg::kRequired, Kind::kSupported, Id::kError, ""},
    {"export", 0, 0, Arg::kRequired, Kind::kSupported, Id::kExport, ""},
    {"gpus", 'G', 'G', Arg::kRequired, Kind::kSupported, Id::kGpus, ""},
    {"gpus-per-node", 0, 0, Arg::kRequired, Kind::kSupported, Id::kGpusPerNode, ""},
    {"gpus-per-task", 0, 0, Arg::kRequired, Kind::kSupported, Id::kGpusPerTask, ""},
    {"gres", 0, 0, Arg::kRequired, Kind::kSupported, Id::kGres, ""},
    {"help", 'h', 'h', Arg::kNone, Kind::kSupported, Id::kHelp, ""},
    {"usage", 0, 0, Arg::kNone, Kind::kSupported, Id::kHelp, ""},
    {"hold", 'H', 'H', Arg::kNone, Kind::kSupported, Id::kHold, ""},
    {"job-name", 'J', 'J', Arg::kRequired, Kind::kSupported, Id::kJobName, ""},
    {"mem", 0, 0, Arg::kRequired, Kind::kSupported, Id::kMem, ""},
    {"mem-per-cpu", 0, 0, Arg::kRequired, Kind::kSupported, Id::kMemPerCpu, ""},
    {"mem-per-gpu", 0, 0, Arg::kRequired, Kind::kSupported, Id::kMemPerGpu, ""},
    {"no-requeue", 0, 0, Arg::kNone, Kind::kSupported, Id::kNoRequeue, ""},
    {"requeue", 0, 0, Arg::kNone, Kind::kSupported, Id::kRequeue, ""},
    {"nodes", 'N', 'N', Arg::kRequired, Kind::kSupported, Id::kNodes, ""},
    {"ntasks", 'n', 'n', Arg::kRequired, Kind::kSupported, Id::kNtasks, ""},
    {"ntasks-per-node", 0, 0, Arg::kRequired, Kind::kSupported, Id::kNtasksPerNode, ""},
    {"output", 'o', 'o', Arg::kRequired, Kind::kSupported, Id::kOutput, ""},
    {"parsable", 0, 0, Arg::kNone, Kind::kSupported, Id::kParsable, ""},
    {"quiet", 'Q', 'Q', Arg::kNone, Kind::kSupported, Id::kQuiet, ""},
    {"verbose", 'v', 'v', Arg::kNone, Kind::kSupported, Id::kVerbose, ""},
    {"time", 't', 't', Arg::kRequired, Kind::kSupported, Id::kTime, ""},
    {"wrap", 0, 0, Arg::kRequired, Kind::kSupported, Id::kWrap, ""},
    {"test-only", 0, 0, Arg::kNone, Kind::kSupported, Id::kTestOnly, ""},
    {"partition", 0, 'p', Arg::kRequired, Kind::kSupported, Id::kPartition, ""},
    {"constraint", 'C', 'C', Arg::kRequired, Kind::kSupported, Id::kConstraint, ""},
    {"nodelist", 'w', 'w', Arg::kRequired, Kind::kSupported, Id::kNodelist, ""},
    {"exclude", 'x', 'x', Arg::kRequired, Kind::kSupported, Id::kExclude, ""},
    // kojo's own.
    {"project", 'p', 0, Arg::kRequired, Kind::kKojo, Id::kProject, ""},
    {"gpu-model", 0, 0, Arg::kRequired, Kind::kKojo, Id::kGpuModel, ""},
    {"gpu-milli", 0, 0, Arg::kRequired, Kind::kKojo, Id::kGpuMilli, ""},
    {"env", 0, 0, Arg::kRequired, Kind::kKojo, Id::kEnv, ""},
    {"no-rent", 0, 0, Arg::kNone, Kind::kKojo, Id::kNoRent, ""},
    {"dry-run", 0, 0, Arg::kNone, Kind::kCli, Id::kDryRun, ""},
    {"json", 0, 0, Arg::kNone, Kind::kCli, Id::kJson, ""},
    {"server", 0, 0, Arg::kRequired, Kind::kCli, Id::kServer, ""},
    {"token", 0, 0, Arg::kRequired, Kind::kCli, Id::kToken, ""},
    // Accepted and ignored, with a warning.
    {"qos", 'q', 'q', Arg::kRequired, Kind::kWarn, Id::kOther, "kojo has no QOS; its queue policy orders jobs"},
    {"comment", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo keeps no job comments"},
    {"mail-type", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo sends no mail"},
    {"mail-user", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo sends no mail"},
    {"wckey", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo keeps no accounting keys"},
    {"acctg-freq", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo does no accounting sampling"},
    {"profile", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo does no profiling"},
    {"propagate", 0, 0, Arg::kOptional, Kind::kWarn, Id::kOther, "resource limits are not propagated"},
    {"open-mode", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo chooses how log files are opened"},
    {"get-user-env", 0, 0, Arg::kOptional, Kind::kWarn, Id::kOther, "use --export to pass variables"},
    {"gpu-bind", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "tasks see exactly their GPUs (CUDA_VISIBLE_DEVICES)"},
    {"gpu-freq", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo does not set GPU clocks"},
    {"cpu-freq", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo does not set CPU clocks"},
    {"hint", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo does no task binding"},
    {"distribution", 'm', 'm', Arg::kRequired, Kind::kWarn, Id::kOther, "kojo does no task distribution"},
    {"mem-bind", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo does no memory binding"},
    {"time-min", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo uses --time only"},
    {"nice", 0, 0, Arg::kOptional, Kind::kWarn, Id::kOther, "kojo has no per-job priority adjustment"},
    {"spread-job", 0, 0, Arg::kNone, Kind::kWarn, Id::kOther, "the placer decides the spread"},
    {"use-min-nodes", 0, 0, Arg::kNone, Kind::kWarn, Id::kOther, "node counts are fixed in kojo"},
    {"wait-all-nodes", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "a gang starts on all its nodes together"},
    {"switches", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo knows no network topology"},
    {"network", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo knows no network options"},
    {"mcs-label", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo has no MCS labels"},
    {"kill-on-invalid-dep", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo has no dependencies"},
    {"no-kill", 'k', 'k', Arg::kOptional, Kind::kWarn, Id::kOther, "a kojo job's tasks stop together"},
    {"ignore-pbs", 0, 0, Arg::kNone, Kind::kWarn, Id::kOther, "kojo never reads #PBS lines"},
    {"power", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo has no power management"},
    {"oversubscribe", 's', 's', Arg::kNone, Kind::kWarn, Id::kOther, "kojo never oversubscribes GPUs"},
    {"exclusive", 0, 0, Arg::kOptional, Kind::kWarn, Id::kOther, "kojo gives jobs whole GPUs, not whole nodes; ask for all of a node's GPUs instead"},
    {"gres-flags", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "the placer decides GPU locality"},
    {"tmp", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo does not track local disk"},
    {"reboot", 0, 0, Arg::kNone, Kind::kWarn, Id::kOther, "kojo never reboots nodes"},
    {"delay-boot", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo never reboots nodes"},
    // Refused: they would change what runs or where, and kojo cannot honour them.
    {"begin", 'b', 'b', Arg::kRequired, Kind::kReject, Id::kOther, "kojo has no deferred start"},
    {"dependency", 'd', 'd', Arg::kRequired, Kind::kReject, Id::kOther, "kojo has no job dependencies"},
    {"deadline", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo keeps no deadlines: the job is not cancelled when it cannot end in time"},
    {"cluster-constraint", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo runs one cluster"},
    {"clusters", 'M', 'M', Arg::kRequired, Kind::kWarn, Id::kOther, "kojo runs one cluster: the job goes to it"},
    {"container", 0, 0, Arg::kRequired, Kind::kReject, Id::kOther, "kojo runs no containers itself"},
    {"contiguous", 0, 0, Arg::kNone, Kind::kWarn, Id::kOther, "kojo knows no node order"},
    {"nodefile", 'F', 'F', Arg::kRequired, Kind::kReject, Id::kOther, "kojo does not take node lists"},
    {"input", 'i', 'i', Arg::kRequired, Kind::kReject, Id::kOther, "kojo jobs read no standard input"},
    {"immediate", 'I', 'I', Arg::kOptional, Kind::kReject, Id::kOther, "kojo always queues"},
    {"licenses", 'L', 'L', Arg::kRequired, Kind::kWarn, Id::kOther, "kojo tracks no licenses: the job does not wait for them"},
    {"reservation", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo has no reservations yet: the job is queued as usual"},
    {"signal", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo sends SIGTERM, then SIGKILL after a grace period, at the time limit"},
    {"uid", 0, 0, Arg::kRequired, Kind::kReject, Id::kOther, "jobs run as the agent's user"},
    {"gid", 0, 0, Arg::kRequired, Kind::kReject, Id::kOther, "jobs run as the agent's user"},
    {"wait", 'W', 'W', Arg::kNone, Kind::kReject, Id::kOther, "use `kojo logs -f JOB` to wait for a job"},
    {"batch", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo has no batch-host features"},
    {"bb", 0, 0, Arg::kRequired, Kind::kReject, Id::kOther, "kojo has no burst buffers"},
    {"bbf", 0, 0, Arg::kRequired, Kind::kReject, Id::kOther, "kojo has no burst buffers"},
    {"export-file", 0, 0, Arg::kRequired, Kind::kReject, Id::kOther, "use --export or --env"},
    {"extra-node-info", 'B', 'B', Arg::kRequired, Kind::kWarn, Id::kOther, "kojo knows no sockets, cores or threads"},
    {"sockets-per-node", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo knows no sockets"},
    {"cores-per-socket", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo knows no sockets"},
    {"threads-per-core", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo knows no hardware threads"},
    {"gpus-per-socket", 0, 0, Arg::kRequired, Kind::kReject, Id::kOther, "kojo knows no sockets; use --gpus-per-node"},
    {"ntasks-per-core", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo knows no cores"},
    {"ntasks-per-socket", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo knows no sockets"},
    {"ntasks-per-gpu", 0, 0, Arg::kRequired, Kind::kReject, Id::kOther, "use --gpus-per-task"},
    {"mincpus", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "use --cpus-per-task to ask for CPUs"},
    {"overcommit", 'O', 'O', Arg::kNone, Kind::kWarn, Id::kOther, "kojo never overcommits: every task gets the CPUs it asks for"},
    {"priority", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "the queue policy sets priorities"},
    {"core-spec", 'S', 'S', Arg::kRequired, Kind::kWarn, Id::kOther, "kojo reserves no cores for the system"},
    {"thread-spec", 0, 0, Arg::kRequired, Kind::kWarn, Id::kOther, "kojo reserves no threads for the system"},
    {"version", 'V', 'V', Arg::kNone, Kind::kReject, Id::kOther, "run `kojo --version`"},
};

const OptionDef* FindShort(char c, Origin origin) {
  for (const auto& d : kOptions) {
    const char s = origin == Origin::kSbatchDirective ? d.short_sbatch : d.short_kojo;
    if (s != 0 && s == c) return &d;
  }
  return nullptr;
}

// getopt_long's lookup: an exact name, else a unique prefix.
Result<const OptionDef*> FindLong(std::string_view name, const std::string& where) {
  std::vector<const OptionDef*> matches;
  for (const auto& d : kOptions) {
    if (d.name == name) return &d;
    if (d.name.substr(0, name.size()) == name) matches.push_back(&d);
  }
  if (matches.size() == 1) return matches[0];
  if (matches.empty()) return InvalidArgument(fmt::format("{}--{}: unknown option (see kojo submit --help)", where, name));
  std::string names;
  for (const auto* m : matches) names += fmt::format("{}--{}", names.empty() ? "" : ", ", m->name);
  return InvalidArgument(fmt::format("{}--{}: ambiguous option (could be {})", where, name, names));
}

std::string FlagName(const OptionDef& d) { return fmt::format("--{}", d.name); }

Result<int> ParsePositive(std::string_view value, const std::string& flag, const std::string& where, int min = 1) {
  auto v = ParseCount(value, kMaxCount);
  if (!v || *v < min)
    return InvalidArgument(fmt::format("{}{}: expected an integer {}..{}, got {}", where, flag, min, kMaxCount, Quoted(value)));
  return static_cast<int>(*v);
}

// One source may choose only one of several mutually exclusive forms.
Status Exclusive(std::string& slot, const std::string& flag, const std::string& where) {
  if (!slot.empty() && slot != flag)
    return InvalidArgument(fmt::format("{}{} and {} are mutually exclusive", where, slot, flag));
  slot = flag;
  return Ok{};
}

Status Apply(const OptionDef& d, const std::string& value, Origin origin, SubmitOptions& o, SourceState& st,
             const std::string& where) {
  const std::string flag = FlagName(d);
  switch (d.kind) {
    case Kind::kKojo:
      if (origin == Origin::kSbatchDirective)
        return InvalidArgument(fmt::format("{}{} is a kojo option, not an sbatch one: put it on a #KOJO line", where, flag));
      break;
    case Kind::kCli:
      if (origin != Origin::kCommandLine)
        return InvalidArgument(fmt::format("{}{}: only on the command line, not in a script", where, flag));
      break;
    case Kind::kWarn:
      o.warnings.push_back(fmt::format("{}{} ignored: {}", where, flag, d.note));
      return Ok{};
    case Kind::kReject:
      return InvalidArgument(fmt::format("{}{}: not supported by kojo ({})", where, flag, d.note));
    case Kind::kSupported:
      break;
  }
  auto fail = [&](const Error& e) { return InvalidArgument(fmt::format("{}{}: {}", where, flag, e.message)); };
  switch (d.id) {
    case Id::kArray: {
      auto a = api::ParseArraySpec(value);
      if (!a.ok()) return fail(a.error());
      o.array = value;
      break;
    }
    case Id::kProject:
      if (value.empty() || value.size() > 128)
        return InvalidArgument(fmt::format("{}{}: expected a project name of 1..128 characters", where, flag));
      o.project = value;
      break;
    case Id::kChdir:
      if (value.empty()) return InvalidArgument(fmt::format("{}{}: expected a directory", where, flag));
      o.chdir = value;
      break;
    case Id::kCpusPerTask:
    case Id::kCpusPerGpu: {
      auto n = ParsePositive(value, flag, where);
      if (!n.ok()) return n.error();
      if (auto s = Exclusive(st.cpu_flag, flag, where); !s.ok()) return s.error();
      o.cpus = SubmitOptions::Cpus{d.id == Id::kCpusPerTask ? SubmitOptions::CpuScope::kPerTask
                                                            : SubmitOptions::CpuScope::kPerGpu,
                                   *n, flag};
      break;
    }
    case Id::kOutput:
    case Id::kError:
      if (value.empty()) return InvalidArgument(fmt::format("{}{}: expected a file name pattern", where, flag));
      (d.id == Id::kOutput ? o.output : o.error) = value;
      break;
    case Id::kExport:
      if (value.empty()) return InvalidArgument(fmt::format("{}{}: expected ALL, NONE or a list of variables", where, flag));
      o.export_spec = value;
      break;
    case Id::kGpus:
    case Id::kGpusPerNode:
    case Id::kGpusPerTask:
    case Id::kGres: {
      auto g = d.id == Id::kGres ? ParseGres(value) : ParseGpuCount(value);
      if (!g.ok()) return fail(g.error());
      if (auto s = Exclusive(st.gpu_flag, flag, where); !s.ok()) return s.error();
      const auto scope = d.id == Id::kGpus          ? SubmitOptions::GpuScope::kTotal
                         : d.id == Id::kGpusPerTask ? SubmitOptions::GpuScope::kPerTask
                                                    : SubmitOptions::GpuScope::kPerNode;
      o.gpus = SubmitOptions::Gpus{scope, *g, flag};
      break;
    }
    case Id::kPartition: {
      std::vector<std::string> names;
      for (std::string_view v = value; !v.empty();) {
        std::string_view one = v.substr(0, v.find(','));
        v = one.size() < v.size() ? v.substr(one.size() + 1) : std::string_view();
        if (!one.empty()) names.emplace_back(one);
      }
      if (names.empty()) return InvalidArgument(fmt::format("{}{}: expected a partition name or a comma list", where, flag));
      o.partitions = std::move(names);
      break;
    }
    case Id::kConstraint: {
      auto c = ParseConstraint(value);
      if (!c.ok()) return InvalidArgument(fmt::format("{}{}: {}", where, flag, c.error().message));
      if (c->counts)
        o.warnings.push_back(fmt::format("{}{}={}: kojo asks every node of the job for a counted feature (\"f*N\"), "
                                         "not N of them",
                                         where, flag, value));
      o.constraint = value;
      break;
    }
    case Id::kNodelist:
    case Id::kExclude: {
      if (value.find('/') != std::string::npos)
        return InvalidArgument(fmt::format("{}{}: node list files are not supported; list the nodes, e.g. gpu[01-04]",
                                           where, flag));
      auto names = api::ExpandHostlist(value, 10000);
      if (!names.ok()) return InvalidArgument(fmt::format("{}{}: {}", where, flag, names.error().message));
      (d.id == Id::kNodelist ? o.nodelist : o.exclude) = std::move(*names);
      break;
    }
    case Id::kHelp: o.help = true; break;
    case Id::kHold: o.hold = true; break;
    case Id::kJobName:
      if (value.empty() || api::Utf8Length(value) > 256)
        return InvalidArgument(fmt::format("{}{}: expected a name of 1..256 characters", where, flag));
      o.name = value;
      break;
    case Id::kMem:
    case Id::kMemPerCpu:
    case Id::kMemPerGpu: {
      auto m = ParseMemory(value);
      if (!m.ok()) return fail(m.error());
      if (auto s = Exclusive(st.mem_flag, flag, where); !s.ok()) return s.error();
      const auto scope = d.id == Id::kMem         ? SubmitOptions::MemScope::kPerNode
                         : d.id == Id::kMemPerCpu ? SubmitOptions::MemScope::kPerCpu
                                                  : SubmitOptions::MemScope::kPerGpu;
      o.mem = SubmitOptions::Mem{scope, *m, flag};
      break;
    }
    case Id::kNoRequeue: o.requeue = false; break;
    case Id::kRequeue: o.requeue = true; break;
    case Id::kNoRent: o.no_rent = true; break;
    case Id::kNodes: {
      // "N" or "MIN-MAX"; kojo runs a job on a fixed number of nodes.
      std::string_view v = value;
      if (size_t dash = v.find('-'); dash != std::string_view::npos) {
        auto lo = ParseCount(v.substr(0, dash), kMaxCount), hi = ParseCount(v.substr(dash + 1), kMaxCount);
        if (!lo || !hi || *lo < 1 || *hi < *lo)
          return InvalidArgument(fmt::format("{}{}: expected a node count like 2, got {}", where, flag, Quoted(value)));
        if (*lo != *hi)
          o.warnings.push_back(fmt::format("{}{}={}: kojo runs a job on a fixed number of nodes: {}", where, flag,
                                           value, *lo));
        o.nodes = static_cast<int>(*lo);
        break;
      }
      auto n = ParsePositive(value, flag, where);
      if (!n.ok()) return n.error();
      o.nodes = *n;
      break;
    }
    case Id::kNtasks:
    case Id::kNtasksPerNode: {
      auto n = ParsePositive(value, flag, where);
      if (!n.ok()) return n.error();
      (d.id == Id::kNtasks ? o.ntasks : o.ntasks_per_node) = *n;
      break;
    }
    case Id::kParsable: o.parsable = true; break;
    case Id::kQuiet: o.quiet = true; break;
    case Id::kVerbose: break;  // kojo has nothing more to say
    case Id::kTime: {
      auto t = ParseTimeLimit(value);
      if (!t.ok()) return fail(t.error());
      o.time_limit = *t;
      break;
    }
    case Id::kWrap:
      if (value.empty()) return InvalidArgument(fmt::format("{}{}: expected a command line", where, flag));
      o.wrap = value;
      break;
    case Id::kTestOnly:
    case Id::kDryRun: o.dry_run = true; break;
    case Id::kGpuModel: {
      std::vector<std::string> models;
      std::string_view v = value;
      while (true) {
        const size_t comma = v.find(',');
        std::string_view m = v.substr(0, comma);
        if (m.empty() || m.size() > 64)
          return InvalidArgument(fmt::format("{}{}: expected GPU models separated by commas, e.g. H100-80GB,A100-80GB, got {}",
                                             where, flag, Quoted(value)));
        models.emplace_back(m);
        if (comma == std::string_view::npos) break;
        v.remove_prefix(comma + 1);
      }
      o.gpu_models = std::move(models);
      break;
    }
    case Id::kGpuMilli: {
      auto n = ParsePositive(value, flag, where);
      if (!n.ok() || *n > 1000)
        return InvalidArgument(fmt::format("{}{}: expected thousandths of one GPU, 1..1000, got {}", where, flag, Quoted(value)));
      o.gpu_milli = *n;
      break;
    }
    case Id::kEnv: {
      const size_t eq = value.find('=');
      if (eq == 0 || eq == std::string::npos)
        return InvalidArgument(fmt::format("{}{}: expected NAME=VALUE, got {}", where, flag, Quoted(value)));
      o.env.emplace_back(value.substr(0, eq), value.substr(eq + 1));
      break;
    }
    case Id::kJson: o.json = true; break;
    case Id::kServer: o.server = value; break;
    case Id::kToken: o.token = value; break;
    case Id::kOther: break;
  }
  return Ok{};
}

// %-patterns of -o/-e: the agent expands %j %A %a %x %t %N %%; %u (the
// user) is expanded here, %J %n %s become what they mean for a batch job;
// anything else is refused rather than left as is.
Result<std::string> OutputPattern(const std::string& text, const std::string& flag, const std::string& user) {
  if (EqualsNoCase(text, "none")) return std::string("/dev/null");
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 1 == text.size()) {
      out += '%';
      continue;
    }
    const char k = text[i + 1];
    if (k == 'u') {
      out += user;
      ++i;
    } else if (k == 'J' || k == 'n' || k == 's') {
      // Slurm's jobid.stepid (a batch script's output has no step: the job
      // id), node index (kojo runs one task per node: the rank), step.
      out += k == 'J' ? "%j" : k == 'n' ? "%t" : "batch";
      ++i;
    } else if (std::string_view("jAaxtN%").find(k) != std::string_view::npos) {
      out += '%';
      out += k;
      ++i;
    } else {
      return InvalidArgument(fmt::format("{}: %{} in {} is not supported (kojo knows %j %J %A %a %x %t %n %s %N %u and %%)", flag,
                                         k, Quoted(text)));
    }
  }
  return out;
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A script with arguments becomes `interpreter -c TEXT NAME ARGS...`: the
// API carries a script's text but no argv.
Result<std::vector<std::string>> ScriptCommand(const Payload& p) {
  std::vector<std::string> interp;
  if (p.script.rfind("#!", 0) == 0) {
    std::string line = p.script.substr(2, p.script.find('\n') - 2);
    size_t i = 0;
    while (i < line.size() && IsSpace(line[i])) ++i;
    size_t j = i;
    while (j < line.size() && !IsSpace(line[j])) ++j;
    interp.push_back(line.substr(i, j - i));
    while (j < line.size() && IsSpace(line[j])) ++j;
    std::string rest = line.substr(j);
    while (!rest.empty() && IsSpace(rest.back())) rest.pop_back();
    if (!rest.empty()) interp.push_back(rest);  // Linux passes the rest as one argument
  } else {
    interp.push_back("/bin/sh");
  }
  std::string prog = BaseName(interp[0]);
  if (prog == "env" && interp.size() > 1) prog = BaseName(interp[1].substr(0, interp[1].find(' ')));
  const bool shell = prog == "sh" || prog == "bash" || prog == "dash" || prog == "zsh" || prog == "ksh" ||
                     prog == "mksh" || prog == "ash";
  const bool python = prog.rfind("python", 0) == 0;
  const std::string name = p.script_name.empty() ? "script" : BaseName(p.script_name);
  if (interp[0].empty() || (!shell && !python))
    return InvalidArgument(fmt::format("{}: arguments after a script work for sh, bash, zsh, ksh and python scripts, "
                                       "not for '{}'; run `kojo submit [options] -- INTERPRETER SCRIPT ARGS...` instead",
                                       name, interp[0]));
  if (p.script.size() > 65536)
    return InvalidArgument(fmt::format("{}: a script with arguments must be at most 64 KiB (it is {} bytes); "
                                       "pass the values with --env instead",
                                       name, p.script.size()));
  std::vector<std::string> cmd = interp;  // "#!/usr/bin/env bash", "#!/bin/bash -l": as the kernel splits them
  cmd.push_back("-c");
  cmd.push_back(p.script);
  if (shell) cmd.push_back(name);  // $0
  cmd.insert(cmd.end(), p.script_args.begin(), p.script_args.end());
  return cmd;
}

}  // namespace

// ---- directives ----

Result<std::vector<std::string>> SplitDirectiveArgs(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (true) {
    while (i < text.size() && IsSpace(text[i])) ++i;
    if (i >= text.size()) break;
    std::string arg;
    bool have = false, escape = false;
    char quote = 0;
    for (; i < text.size() && (quote || !IsSpace(text[i])); ++i) {
      const char c = text[i];
      if (escape) {
        escape = false;
      } else if (c == '\\') {
        escape = true;
        have = true;
        continue;
      } else if (quote) {
        if (c == quote) {
          quote = 0;
          continue;
        }
      } else if (c == '"' || c == '\'') {
        quote = c;
        have = true;
        continue;
      } else if (c == '#') {
        // An unescaped '#' starts a comment: the rest of the line is ignored.
        if (have || !arg.empty()) out.push_back(std::move(arg));
        return out;
      }
      arg += c;
      have = true;
    }
    if (quote) return InvalidArgument(fmt::format("unmatched {} in {}", quote, Quoted(text)));
    if (have) out.push_back(std::move(arg));
  }
  return out;
}

Result<std::vector<Directive>> ReadDirectives(std::string_view script) {
  std::vector<Directive> out;
  int lineno = 0;
  while (!script.empty()) {
    const size_t nl = script.find('\n');
    std::string_view line = script.substr(0, nl);
    script = nl == std::string_view::npos ? std::string_view() : script.substr(nl + 1);
    ++lineno;
    Origin origin;
    std::string_view rest;
    if (line.rfind("#SBATCH", 0) == 0) {
      origin = Origin::kSbatchDirective;
      rest = line.substr(7);
    } else if (line.rfind("#SLURM", 0) == 0) {
      origin = Origin::kSbatchDirective;
      rest = line.substr(6);
    } else if (line.rfind("#KOJO", 0) == 0) {
      origin = Origin::kKojoDirective;
      rest = line.substr(5);
    } else {
      // Blank lines and comments (even indented ones) go on; anything else
      // is the first command, where sbatch stops reading directives.
      size_t k = 0;
      while (k < line.size() && IsSpace(line[k])) ++k;
      if (k < line.size() && line[k] != '#') break;
      continue;
    }
    auto args = SplitDirectiveArgs(rest);
    if (!args.ok()) return InvalidArgument(fmt::format("line {}: {}", lineno, args.error().message));
    if (!args->empty()) out.push_back(Directive{lineno, origin, std::move(*args)});
  }
  return out;
}

// ---- formats ----

Result<std::optional<Seconds>> ParseTimeLimit(std::string_view text) {
  auto bad = [&] {
    return InvalidArgument(fmt::format("expected minutes, minutes:seconds, hours:minutes:seconds, days-hours, "
                                       "days-hours:minutes, days-hours:minutes:seconds, 0 or UNLIMITED, got {}",
                                       Quoted(text)));
  };
  if (text == "-1" || EqualsNoCase(text, "INFINITE") || EqualsNoCase(text, "UNLIMITED"))
    return std::optional<Seconds>();
  std::int64_t days = 0;
  std::string_view rest = text;
  const bool has_days = text.find('-') != std::string_view::npos;
  if (has_days) {
    const size_t dash = text.find('-');
    auto d = ParseCount(text.substr(0, dash), 100000);
    if (!d) return bad();
    days = *d;
    rest = text.substr(dash + 1);
  }
  std::vector<std::int64_t> parts;
  while (true) {
    const size_t colon = rest.find(':');
    auto v = ParseCount(rest.substr(0, colon), 1'000'000'000);
    if (!v) return bad();
    parts.push_back(*v);
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  if (parts.size() > 3) return bad();
  std::int64_t s = 0;
  if (has_days) {
    // days-hours, days-hours:minutes, days-hours:minutes:seconds
    s = days * 86400 + parts[0] * 3600;
    if (parts.size() > 1) s += parts[1] * 60;
    if (parts.size() > 2) s += parts[2];
  } else if (parts.size() == 1) {
    s = parts[0] * 60;  // minutes
  } else if (parts.size() == 2) {
    s = parts[0] * 60 + parts[1];  // minutes:seconds
  } else {
    s = parts[0] * 3600 + parts[1] * 60 + parts[2];  // hours:minutes:seconds
  }
  if (s > kMaxTimeLimit) return InvalidArgument(fmt::format("{} is more than 100 years", Quoted(text)));
  if (s == 0) return std::optional<Seconds>();  // "a time limit of zero requests that no time limit be imposed"
  return std::optional<Seconds>(s);
}

Result<MiB> ParseMemory(std::string_view text) {
  // What sbatch 22.05 accepts (measured with `sbatch --test-only`, see
  // docs/cli.md): optional leading white space, an optional sign, decimal
  // digits, then nothing or one unit letter K, M, G or T (either case) that
  // may be followed by one B or b. "-0" is 0; other negative numbers, "1.5G",
  // "16GiB", "16B", "16 G", trailing space and "" are refused.
  auto bad = [&](std::string_view hint = {}) {
    return InvalidArgument(fmt::format("expected a whole number with an optional unit K, M, G or T (default M; "
                                       "either case, optionally followed by B: 16G, 16GB, 16gb), got {}{}",
                                       Quoted(text), hint));
  };
  std::string_view t = text;
  while (!t.empty() && IsSpace(t.front())) t.remove_prefix(1);
  bool negative = false;
  if (!t.empty() && (t.front() == '+' || t.front() == '-')) {
    negative = t.front() == '-';
    t.remove_prefix(1);
  }
  size_t n = 0;
  while (n < t.size() && t[n] >= '0' && t[n] <= '9') ++n;
  std::string_view digits = t.substr(0, n), suffix = t.substr(n);
  if (digits.empty()) return bad();
  char unit = 'M';
  if (!suffix.empty()) {
    unit = static_cast<char>(std::toupper(static_cast<unsigned char>(suffix.front())));
    std::string_view rest = suffix.substr(1);
    if ((unit != 'K' && unit != 'M' && unit != 'G' && unit != 'T') || !(rest.empty() || rest == "B" || rest == "b")) {
      if (suffix.front() == '.') return bad("; fractions are refused, as sbatch refuses them (write 1536M, not 1.5G)");
      if (rest == "iB" || rest == "ib" || rest == "i") return bad("; sbatch refuses the \"iB\" spellings (write 16G)");
      return bad();
    }
  }
  // Digits beyond 4 PiB in any unit are refused below; strip leading zeros so
  // that "016" is 16, as in sbatch (decimal, never octal).
  while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
  auto v = ParseCount(digits, 1LL << 50);
  if (!v) return InvalidArgument(fmt::format("{} is more than 4 PiB", Quoted(text)));
  if (negative && *v != 0) return bad("; negative sizes are refused, as sbatch refuses them");
  std::int64_t mib = 0;
  switch (unit) {
    case 'K': mib = (*v + 1023) / 1024; break;  // rounds up, as Slurm does
    case 'M': mib = *v; break;
    case 'G': mib = *v > (kMaxMem >> 10) ? kMaxMem + 1 : *v * 1024; break;
    case 'T': mib = *v > (kMaxMem >> 20) ? kMaxMem + 1 : *v * 1024 * 1024; break;
  }
  if (mib > kMaxMem) return InvalidArgument(fmt::format("{} is more than 4 PiB", Quoted(text)));
  return mib;
}

Result<GpuCount> ParseGpuCount(std::string_view text) {
  GpuCount g;
  std::string_view count = text;
  if (size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    g.type = std::string(text.substr(0, colon));
    count = text.substr(colon + 1);
    if (g.type.empty() || g.type.find(':') != std::string::npos || g.type.find(',') != std::string::npos)
      return InvalidArgument(fmt::format("expected [TYPE:]COUNT, e.g. 2 or h100:2, got {}", Quoted(text)));
  }
  if (text.find(',') != std::string_view::npos)
    return InvalidArgument(fmt::format("one GPU type per job: got {}", Quoted(text)));
  auto v = ParseCount(count, kMaxCount);
  if (!v) return InvalidArgument(fmt::format("expected [TYPE:]COUNT, e.g. 2 or h100:2, got {}", Quoted(text)));
  g.count = static_cast<int>(*v);
  return g;
}

Result<GpuCount> ParseGres(std::string_view text) {
  if (EqualsNoCase(text, "none")) return GpuCount{};
  std::optional<GpuCount> found;
  std::string_view rest = text;
  while (true) {
    const size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    if (item.rfind("gres/", 0) == 0 || item.rfind("gres:", 0) == 0) item.remove_prefix(5);
    std::vector<std::string_view> parts;
    for (std::string_view p = item;;) {
      const size_t c = p.find(':');
      parts.push_back(p.substr(0, c));
      if (c == std::string_view::npos) break;
      p.remove_prefix(c + 1);
    }
    if (parts[0] != "gpu") {
      if (parts[0].empty()) return InvalidArgument(fmt::format("expected gpu[:TYPE][:COUNT], got {}", Quoted(text)));
      return InvalidArgument(fmt::format("generic resource '{}' is not supported: kojo schedules GPUs only (gpu[:TYPE][:COUNT])"
                                         "{}",
                                         parts[0],
                                         parts[0] == "shard" || parts[0] == "mps" ? "; for a share of a GPU use --gpu-milli" : ""));
    }
    if (found) return InvalidArgument(fmt::format("gpu appears twice in {}", Quoted(text)));
    GpuCount g;
    g.count = 1;
    if (parts.size() > 3) return InvalidArgument(fmt::format("expected gpu[:TYPE][:COUNT], got {}", Quoted(text)));
    if (parts.size() >= 2) {
      const std::string_view last = parts.back();
      if (AllDigits(last)) {
        auto v = ParseCount(last, kMaxCount);
        if (!v) return InvalidArgument(fmt::format("GPU count in {} is out of range", Quoted(text)));
        g.count = static_cast<int>(*v);
        if (parts.size() == 3) g.type = std::string(parts[1]);
      } else {
        if (parts.size() == 3)
          return InvalidArgument(fmt::format("expected gpu[:TYPE][:COUNT] with an integer count, got {}", Quoted(text)));
        g.type = std::string(last);
      }
      if (parts.size() == 3 && parts[1].empty())
        return InvalidArgument(fmt::format("expected gpu[:TYPE][:COUNT], got {}", Quoted(text)));
      if (parts.size() == 2 && last.empty())
        return InvalidArgument(fmt::format("expected gpu[:TYPE][:COUNT], got {}", Quoted(text)));
    }
    found = g;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return *found;
}

// ---- options ----

Result<size_t> ApplyOptions(const std::vector<std::string>& args, Origin origin, SubmitOptions& opts,
                            SourceState& state, const std::string& where) {
  size_t i = 0;
  while (i < args.size()) {
    const std::string& a = args[i];
    if (a == "--") {
      if (origin != Origin::kCommandLine)
        return InvalidArgument(fmt::format("{}'--' is not allowed in a directive", where));
      return i + 1;
    }
    if (a.size() < 2 || a[0] != '-') {
      if (origin == Origin::kCommandLine) return i;
      return InvalidArgument(fmt::format("{}{}: not an option (a directive holds options only)", where, Quoted(a)));
    }
    if (a[1] == '-') {
      const size_t eq = a.find('=');
      const std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      auto def = FindLong(name, where);
      if (!def.ok()) return def.error();
      const OptionDef& d = **def;
      std::string value;
      if (eq != std::string::npos) {
        if (d.arg == Arg::kNone)
          return InvalidArgument(fmt::format("{}--{}: takes no value, got {}", where, d.name, Quoted(a.substr(eq + 1))));
        value = a.substr(eq + 1);
      } else if (d.arg == Arg::kRequired) {
        if (i + 1 >= args.size()) return InvalidArgument(fmt::format("{}--{}: needs a value", where, d.name));
        value = args[++i];
      }
      if (auto s = Apply(d, value, origin, opts, state, where); !s.ok()) return s.error();
      ++i;
      continue;
    }
    // One or more short options: "-H", "-t10", "-t 10", "-Hv".
    for (size_t k = 1; k < a.size(); ++k) {
      const OptionDef* d = FindShort(a[k], origin);
      if (!d) return InvalidArgument(fmt::format("{}-{}: unknown option (see kojo submit --help)", where, a[k]));
      std::string value;
      if (d->arg != Arg::kNone) {
        if (k + 1 < a.size()) {
          value = a.substr(k + 1);
        } else if (d->arg == Arg::kRequired) {
          if (i + 1 >= args.size()) return InvalidArgument(fmt::format("{}-{}: needs a value", where, a[k]));
          value = args[++i];
        }
        if (auto s = Apply(*d, value, origin, opts, state, where); !s.ok()) return s.error();
        break;
      }
      if (auto s = Apply(*d, value, origin, opts, state, where); !s.ok()) return s.error();
    }
    ++i;
  }
  return args.size();
}

// ---- the job ----

Result<api::JobSpec> ResolveJob(SubmitOptions& o, const Payload& p, const SubmitContext& ctx) {
  api::JobSpec s;
  std::string default_name;
  if (o.wrap) {
    if (!p.command.empty() || !p.script.empty())
      return InvalidArgument("--wrap: give either --wrap or a script/command, not both");
    s.script = "#!/bin/sh\n" + *o.wrap + "\n";
    default_name = "wrap";
  } else if (!p.command.empty()) {
    s.command = p.command;
    default_name = BaseName(p.command[0]);
  } else if (!p.script.empty()) {
    if (p.script_args.empty()) {
      s.script = p.script;
    } else {
      auto cmd = ScriptCommand(p);
      if (!cmd.ok()) return cmd.error();
      s.command = std::move(*cmd);
    }
    default_name = p.script_name.empty() ? "stdin" : BaseName(p.script_name);
  } else {
    return InvalidArgument("nothing to run: give a command (kojo submit [options] -- COMMAND [ARGS...]), "
                           "a script file, or --wrap");
  }
  s.name = o.name.value_or(default_name);
  // The API takes names of up to 256 characters: a longer one is cut there,
  // between two characters (a cut inside one leaves text that is not UTF-8).
  if (api::Utf8Length(s.name) > 256) {
    size_t chars = 0, cut = 0;
    while (cut < s.name.size() &&
           ((static_cast<unsigned char>(s.name[cut]) & 0xC0) == 0x80 || ++chars <= 256))
      ++cut;
    s.name.resize(cut);
  }
  s.user = ctx.user;
  s.project = o.project.value_or("");

  // Nodes and tasks. kojo's gang size (`tasks`) is the number of nodes: one
  // task per node, each with gpus / tasks GPUs.
  const int nodes = o.nodes.value_or(0);
  int ntasks = 1;
  if (o.ntasks) ntasks = *o.ntasks;
  else if (o.ntasks_per_node) ntasks = *o.ntasks_per_node * std::max(nodes, 1);
  else ntasks = std::max(nodes, 1);
  if (o.ntasks && nodes > *o.ntasks)
    return InvalidArgument(fmt::format("--ntasks={} is less than --nodes={}: every node needs a task", *o.ntasks, nodes));
  const int gang = nodes > 0 ? nodes : (o.ntasks ? *o.ntasks : 1);

  // GPUs: per node, per task or in total -> kojo's total.
  int gpus = 0;
  std::string type;
  if (o.gpus) {
    const auto& g = *o.gpus;
    type = g.count.type;
    std::int64_t total = g.count.count;
    switch (g.scope) {
      case SubmitOptions::GpuScope::kTotal: break;
      case SubmitOptions::GpuScope::kPerNode: total *= std::max(nodes, 1); break;
      case SubmitOptions::GpuScope::kPerTask: total *= ntasks; break;
    }
    if (total > kMaxCount) return InvalidArgument(fmt::format("{}: {} GPUs in all is more than {}", g.flag, total, kMaxCount));
    gpus = static_cast<int>(total);
  }
  if (gang > 1 && gpus % gang != 0) {
    const std::string flag = o.gpus ? o.gpus->flag : "--gpus";
    return InvalidArgument(fmt::format("{}: {} GPUs cannot be split evenly over {} {} (kojo runs one task per node, "
                                       "each with the same number of GPUs)",
                                       flag, gpus, gang, nodes > 0 ? "nodes (--nodes)" : "tasks (--ntasks)"));
  }
  s.demand.gpus = gpus;
  s.demand.tasks = gang;
  s.demand.distinct_nodes = nodes > 1;  // -N: exactly that many nodes, as in Slurm
  if (o.gpu_milli) {
    if (!o.gpus) s.demand.gpus = 1;
    if (*o.gpu_milli < 1000 && s.demand.gpus != 1)
      return InvalidArgument(fmt::format("--gpu-milli={}: a share of a GPU needs exactly one GPU, got {}", *o.gpu_milli,
                                         s.demand.gpus));
    s.demand.gpu_milli = *o.gpu_milli;
  }
  if (o.gpu_models) s.demand.gpu_models = *o.gpu_models;
  else if (!type.empty()) s.demand.gpu_models = {type};

  // Where it may run: features, partitions, node lists.
  if (o.constraint)
    if (auto st = s.demand.nodes.SetConstraint(*o.constraint); !st.ok()) return InvalidArgument(st.error().message);
  if (o.partitions) s.demand.nodes.partitions = *o.partitions;
  if (o.nodelist) {
    s.demand.nodes.nodelist = *o.nodelist;
    if (static_cast<int>(o.nodelist->size()) > std::max(1, gang))
      o.warnings.push_back(fmt::format("--nodelist names {} nodes for a job of {}: kojo runs it on nodes of the list, "
                                       "not on all of them",
                                       o.nodelist->size(), std::max(1, gang)));
  }
  if (o.exclude) s.demand.nodes.exclude = *o.exclude;

  // CPUs.
  std::int64_t cpus = 0;
  if (o.cpus) {
    if (o.cpus->scope == SubmitOptions::CpuScope::kPerTask) {
      cpus = static_cast<std::int64_t>(o.cpus->count) * ntasks;
    } else {
      if (s.demand.gpus == 0) return InvalidArgument("--cpus-per-gpu: the job asks for no GPUs");
      cpus = static_cast<std::int64_t>(o.cpus->count) * s.demand.gpus;
    }
  }
  s.demand.cpu_milli = cpus * 1000;

  // Memory: --mem is per node, --mem-per-cpu per CPU (one per task when no
  // CPU count is given, as in Slurm), --mem-per-gpu per GPU.
  if (o.mem) {
    std::int64_t mib = o.mem->mib;
    switch (o.mem->scope) {
      case SubmitOptions::MemScope::kPerNode:
        mib *= std::max(nodes, 1);
        break;
      case SubmitOptions::MemScope::kPerCpu: mib *= cpus > 0 ? cpus : ntasks; break;
      case SubmitOptions::MemScope::kPerGpu:
        if (s.demand.gpus == 0 && mib != 0) return InvalidArgument("--mem-per-gpu: the job asks for no GPUs");
        mib *= s.demand.gpus;
        break;
    }
    // sbatch 22.05 gives a job all of each node's memory for --mem=0,
    // --mem-per-cpu=0 and --mem-per-gpu=0 alike (scontrol shows mem=<the
    // node's RealMemory>); kojo cannot reserve "all", so it asks for none.
    if (o.mem->mib == 0)
      o.warnings.push_back(fmt::format("{}=0 (all of a node's memory in sbatch) is not supported; "
                                       "no memory amount is requested",
                                       o.mem->flag));
    if (mib > kMaxMem) return InvalidArgument(fmt::format("{}: {} MiB in all is more than 4 PiB", o.mem->flag, mib));
    s.demand.mem_mib = mib;
  }

  if (o.time_limit) s.time_limit_s = *o.time_limit;

  // Working directory: --chdir, relative to where kojo runs; default there.
  std::filesystem::path wd = o.chdir ? std::filesystem::path(*o.chdir) : std::filesystem::path(ctx.cwd);
  if (wd.is_relative()) wd = std::filesystem::path(ctx.cwd) / wd;
  s.workdir = wd.lexically_normal().string();
  if (s.workdir.size() > 1 && s.workdir.back() == '/') s.workdir.pop_back();

  if (o.output) {
    auto out = OutputPattern(*o.output, "--output", ctx.user);
    if (!out.ok()) return out.error();
    s.stdout_path = *out;
  }
  if (o.error) {
    auto err = OutputPattern(*o.error, "--error", ctx.user);
    if (!err.ok()) return err.error();
    s.stderr_path = *err;
  }
  if (o.array) s.array = *o.array;
  s.hold = o.hold.value_or(false);
  s.requeue = o.requeue.value_or(true);
  s.demand.nodes.no_rent = o.no_rent;

  // Environment: --export (kojo's default is NONE), then --env.
  if (o.export_spec) {
    std::string_view rest = *o.export_spec;
    bool first = true;
    while (true) {
      const size_t comma = rest.find(',');
      const std::string item(rest.substr(0, comma));
      if (item == "ALL" || item == "NIL" || item == "NONE") {
        if (!first || comma != std::string_view::npos) {
          if (item != "ALL")
            return InvalidArgument(fmt::format("--export: {} cannot be combined with variables", item));
        }
        if (item == "ALL")
          for (const auto& [k, v] : ctx.environment)
            if (k != "KOJO_TOKEN") s.env[k] = v;
      } else if (!item.empty()) {
        const size_t eq = item.find('=');
        if (eq == 0) return InvalidArgument(fmt::format("--export: expected NAME or NAME=VALUE, got {}", Quoted(item)));
        if (eq != std::string::npos) {
          s.env[item.substr(0, eq)] = item.substr(eq + 1);
        } else if (auto v = ctx.getenv ? ctx.getenv(item) : std::nullopt) {
          s.env[item] = *v;
        } else {
          o.warnings.push_back(fmt::format("--export: {} is not set here; not exported", item));
        }
      }
      first = false;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  for (const auto& [k, v] : o.env) s.env[k] = v;

  // The API's own decoder is the last word on what is valid.
  auto checked = api::JobSpecFromJson(api::ToJson(s));
  if (!checked.ok()) return InvalidArgument(fmt::format("the job is not valid: {}", checked.error().message));
  return std::move(*checked);
}

std::string SubmitHelp() {
  return R"(Submit a job to the kojo controller.

Usage:
  kojo submit [options] [--] COMMAND [ARGS...]   run a command (found on PATH where it runs)
  kojo submit [options] SCRIPT [ARGS...]         run a script file; its #KOJO and #SBATCH lines set options
  kojo submit [options] --wrap 'COMMAND LINE'    run a shell command line
  kojo submit [options] < SCRIPT                 a script from standard input

The first argument that is not an option is the script or command: options
after it are its own arguments. A file name is a script when the file holds
text; "--" forces a command. The command line overrides directives.

Resources:
  -G, --gpus=[TYPE:]N          GPUs in total
      --gpus-per-node=[TYPE:]N GPUs on each node (times --nodes)
      --gres=gpu[:TYPE][:N]    the same, sbatch's spelling (N defaults to 1)
      --gpus-per-task=[TYPE:]N GPUs for each task (times --ntasks)
      --gpu-model=M[,M...]     allowed GPU models, as `kojo nodes` shows them
      --gpu-milli=N            a share of one GPU, in thousandths (500 = half)
  -N, --nodes=N                nodes: the job runs as a gang of N tasks, one per node
  -n, --ntasks=N               tasks (one per node when --nodes is not given)
      --ntasks-per-node=N      tasks on each node
  -c, --cpus-per-task=N        CPUs for each task
      --cpus-per-gpu=N         CPUs for each GPU
      --mem=SIZE               memory per node; SIZE is a whole number, unit M (default), K, G or T,
                               either case, optionally with B (16G = 16GB = 16gb); no 1.5G, no GiB
      --mem-per-cpu=SIZE       memory per CPU
      --mem-per-gpu=SIZE       memory per GPU
  -t, --time=TIME              time limit: MIN, MIN:SEC, H:MIN:SEC, D-H, D-H:MIN, D-H:MIN:SEC;
                               0 or UNLIMITED = none
Where:
  -C, --constraint=EXPR        node features: a100|h100, nvlink&ib, [rack1|rack2] (the GPU model is one)
      --partition=P[,P...]     any of these partitions (default: the default ones)
  -w, --nodelist=LIST          only these nodes (gpu[01-04],gpu07)
  -x, --exclude=LIST           never these nodes
Job:
  -J, --job-name=NAME          default: the script's or command's name
  -p, --project=NAME           the project to charge; also -A/--account
  -a, --array=SPEC             0-99, 1,3,5, 0-15:2, optionally %N (at most N running)
  -o, --output=PATTERN         stdout file; %j (or %J) job, %A array job, %a index, %x name,
                               %t (or %n) rank, %N node, %u user, %%; relative to --chdir
  -e, --error=PATTERN          stderr file (default: with stdout)
  -D, --chdir=DIR              working directory (default: the current one)
      --export=ALL|NONE|VAR[=VALUE],...   pass variables from here (default NONE)
      --env NAME=VALUE         set a variable (repeatable)
  -H, --hold                   submit held; `kojo release` queues it
      --requeue, --no-requeue  when its node is lost: requeue (default) or fail
      --no-rent                never on a node rented from a partner (data that stays on site)
Output:
      --dry-run                print the job as it would be submitted; contact nothing
      --json                   print JSON
      --parsable               print only the job id
  -Q, --quiet                  no warnings
      --server=URL, --token=T  the controller (default: see `kojo --help`)

Directives: lines at the top of a script that start with #SBATCH (sbatch's
options and meanings; -p there is --partition) or #KOJO (kojo's).
Reading stops at the first line that is neither blank nor a comment.
Options sbatch has that kojo cannot honour are ignored with a warning that
says what kojo does instead (--mail-user, --licenses, ...), or refused,
naming the option, where running the script would be wrong (--dependency).
See docs/cli.md for the full table.
)";
}

}  // namespace kojo::cli
