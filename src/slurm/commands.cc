#include "slurm/commands.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <functional>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "api/codec.h"
#include "cli/client.h"
#include "cli/common.h"
#include "cli/job_commands.h"
#include "cli/run_commands.h"
#include "cli/sbatch.h"
#include "slurm/format.h"
#include "api/slurm_env.h"
#include "slurm/options.h"

extern char** environ;

namespace kojo::slurm {

namespace {

using api::Json;
using cli::ApiClient;
using cli::CliError;

[[noreturn]] void Die(const std::string& message) { throw CliError(1, message); }

void Warn(const std::string& prog, const std::string& message) {
  std::fprintf(stderr, "%s: warning: %s\n", prog.c_str(), message.c_str());
}

Seconds Now() { return static_cast<Seconds>(std::time(nullptr)); }

ApiClient Client() { return ApiClient(cli::ResolveServer("", "", cli::ProcessEnv())); }

ParsedArgs Parse(const std::vector<std::string>& args, const std::vector<OptSpec>& specs, bool stop_at_command,
                 const std::string& prog) {
  auto p = ParseArgs(args, specs, stop_at_command);
  if (!p.ok())
    Die(fmt::format("{} (kojo's {} supports the options in `{} --help`; see docs/slurm.md)", p.error().message, prog,
                    prog));
  return std::move(*p);
}

// "1,2,3" and repeated options -> items.
std::vector<std::string> Items(const std::string& s) { return cli::SplitList(s); }

// The selection squeue, scancel and sacct share: job states (Slurm's names),
// job names, accounts (the job's project, "default" when it names none) and
// partitions (InPartitions); an empty one matches every job.
struct JobFilter {
  std::set<std::string> states, names, accounts;
  std::vector<std::string> partitions;

  static std::set<std::string> SetOf(const std::string& list) {
    auto v = Items(list);
    return {v.begin(), v.end()};
  }
  bool Matches(const api::JobView& v) const {
    if (!states.empty() && !states.count(StateName(v))) return false;
    if (!names.empty() && !names.count(v.spec.name)) return false;
    if (!accounts.empty() && !accounts.count(v.spec.project.empty() ? "default" : v.spec.project)) return false;
    return partitions.empty() || InPartitions(v, partitions);
  }
};

// A job id as Slurm's commands take it: "123", "123.batch" or "123.0" (a
// step of job 123: kojo has none but the job itself), or "12_3" (index 3
// of array 12), which `array_task` resolves.
JobId ParseId(const std::string& s,
              const std::function<std::optional<JobId>(JobId, int)>& array_task = nullptr) {
  std::string text = s;
  if (const size_t dot = text.find('.'); dot != std::string::npos) text = text.substr(0, dot);
  auto number = [](std::string_view t) -> std::optional<JobId> {
    JobId v = 0;
    if (t.empty() || t.size() >= 19) return std::nullopt;
    for (char c : t) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + (c - '0');
    }
    return v;
  };
  if (const size_t us = text.find('_'); us != std::string::npos && array_task) {
    auto array = number(std::string_view(text).substr(0, us));
    auto index = number(std::string_view(text).substr(us + 1));
    if (!array || !index || *index > 100000000)
      Die(fmt::format("{}: expected ARRAYJOB_INDEX, e.g. 12_3 (ranges like 12_[1-3] are not supported)", s));
    auto id = array_task(*array, static_cast<int>(*index));
    if (!id) Die(fmt::format("Invalid job id specified: {}", s));
    return *id;
  }
  auto v = number(text);
  if (!v || *v < 1) Die(fmt::format("Invalid job id: {}", s));
  return *v;
}

api::JobView Decode(const Json& j) {
  auto v = api::JobViewFromJson(j);
  if (!v.ok()) Die(fmt::format("unexpected job in the controller's reply: {}", v.error().message));
  return std::move(*v);
}

std::optional<api::JobView> GetJob(ApiClient& client, JobId id) {
  cli::HttpReply r = client.Get(fmt::format("/api/v1/jobs/{}", id));
  if (r.status == 404) return std::nullopt;
  if (r.status < 200 || r.status >= 300) client.Fail(r);
  auto j = api::ParseJson(r.body);
  if (!j.ok()) Die("unexpected reply from the controller: not JSON");
  return Decode(*j);
}

// Every job the caller may see, optionally only `user`'s, in `kojo_states`
// (kojo's names, comma-separated; empty = all).
std::vector<api::JobView> ListJobs(ApiClient& client, const std::string& kojo_states, const std::string& user) {
  std::vector<api::JobView> out;
  JobId after = 0;
  for (int page = 0; page < 100000; ++page) {
    std::string path = fmt::format("/api/v1/jobs?limit=1000&after={}", after);
    if (!kojo_states.empty()) path += "&state=" + cli::UrlEscape(kojo_states);
    if (!user.empty()) path += "&user=" + cli::UrlEscape(user);
    Json r = client.GetJson(path);
    if (!r.is_object() || !r.contains("jobs") || !r["jobs"].is_array())
      Die("unexpected reply to GET /api/v1/jobs: no \"jobs\" list");
    for (const auto& j : r["jobs"]) out.push_back(Decode(j));
    if (!r.contains("next_after") || !r["next_after"].is_number_integer()) break;
    const JobId next = r["next_after"].get<JobId>();
    if (next <= after) break;
    after = next;
  }
  return out;
}

// Finds array tasks by (array job id, index), listing the jobs once.
class ArrayTasks {
 public:
  explicit ArrayTasks(ApiClient& client) : client_(client) {}
  std::optional<JobId> operator()(JobId array, int index) {
    if (!loaded_) {
      for (const auto& v : ListJobs(client_, "", ""))
        if (v.array_id && v.array_index) tasks_[{*v.array_id, *v.array_index}] = v.id;
      loaded_ = true;
    }
    auto it = tasks_.find({array, index});
    if (it == tasks_.end()) return std::nullopt;
    return it->second;
  }
  std::function<std::optional<JobId>(JobId, int)> Fn() {
    return [this](JobId a, int i) { return (*this)(a, i); };
  }

 private:
  ApiClient& client_;
  bool loaded_ = false;
  std::map<std::pair<JobId, int>, JobId> tasks_;
};

struct Whoami {
  std::string name, role;
  std::vector<std::string> projects;
};

Whoami GetWhoami(ApiClient& client) {
  Json j = client.GetJson("/api/v1/whoami");
  Whoami w;
  w.name = j.value("name", "");
  w.role = j.value("role", "");
  if (j.contains("projects") && j["projects"].is_array())
    for (const auto& p : j["projects"])
      if (p.is_object() && p.contains("project") && p["project"].is_string()) w.projects.push_back(p["project"]);
  return w;
}

// The project a job without one goes to (docs/api.md): the caller's only
// project, else "default".
std::string DefaultAccount(const std::vector<std::string>& projects) {
  return projects.size() == 1 ? projects[0] : "default";
}

std::set<std::string> StateSet(const std::string& list, const std::string& flag) {
  std::set<std::string> out;
  for (const auto& w : Items(list)) {
    auto names = ParseStateFilter(w);
    if (!names) Die(fmt::format("{}: invalid job state '{}' (e.g. PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, PD, R, CD)", flag, w));
    out.insert(names->begin(), names->end());
  }
  return out;
}

// ---- sbatch ----

constexpr const char* kSbatchUsage =
    "Usage: sbatch [OPTIONS] [script [args...]] | sbatch [OPTIONS] --wrap=\"command\"\n"
    "kojo's sbatch: submits the job to kojo; prints \"Submitted batch job ID\" (--parsable: the id).\n"
    "Options and #SBATCH directives are those of `kojo submit` in sbatch's spelling (-p is --partition,\n"
    "-A/--account is the kojo project); see docs/slurm.md and docs/cli.md.\n";

// The partitions a job names must exist, as sbatch requires: the
// organisation's, or DefaultPartition() when it defines none. (When it
// cannot be read, kojod checks the names itself.)
void CheckPartitions(ApiClient& client, const std::vector<std::string>& named) {
  if (named.empty()) return;
  cli::HttpReply r = client.Get("/api/v1/org");
  if (r.status != 200) return;
  std::vector<std::string> known;
  api::Json org = api::Json::parse(r.body, nullptr, false);
  if (org.is_object() && org.contains("partitions") && org["partitions"].is_array())
    for (const auto& pj : org["partitions"])
      if (pj.is_object() && pj.contains("name") && pj["name"].is_string()) known.push_back(pj["name"]);
  if (known.empty()) known.push_back(DefaultPartition());
  for (const auto& name : named)
    if (std::find(known.begin(), known.end(), name) == known.end())
      Die(fmt::format("invalid partition specified: {} (kojo's partitions: {})", name, fmt::join(known, ", ")));
}

int Sbatch(const std::vector<std::string>& args) {
  const std::vector<std::string>& rest = args;
  cli::PreparedSubmit p = cli::PrepareSubmit(rest, cli::SubmitDialect{cli::Origin::kSbatchDirective, "sbatch", false, "ALL", true});
  if (p.help) {
    std::fputs(kSbatchUsage, stdout);
    return 0;
  }
  if (p.opts.dry_run) {  // --test-only
    std::fprintf(stderr, "sbatch: Job would be submitted to partition %s (kojo checked the options only)\n",
                 p.spec.demand.nodes.partitions.empty() ? DefaultPartition().c_str()
                                                        : p.spec.demand.nodes.partitions.front().c_str());
    return 0;
  }
  ApiClient client = Client();
  CheckPartitions(client, p.spec.demand.nodes.partitions);
  auto [reply, ids] = cli::PostJob(client, p.spec);
  if (p.opts.parsable) std::printf("%lld\n", static_cast<long long>(ids.front()));
  else std::printf("Submitted batch job %lld\n", static_cast<long long>(ids.front()));
  return 0;
}

// ---- squeue ----

const std::vector<OptSpec> kSqueueOpts = {
    {"noheader", 'h', ArgKind::kNone},   {"format", 'o', ArgKind::kRequired}, {"Format", 'O', ArgKind::kRequired},
    {"user", 'u', ArgKind::kRequired},   {"jobs", 'j', ArgKind::kRequired},   {"states", 't', ArgKind::kRequired},
    {"long", 'l', ArgKind::kNone},       {"all", 'a', ArgKind::kNone},        {"account", 'A', ArgKind::kRequired},
    {"partition", 'p', ArgKind::kRequired}, {"name", 'n', ArgKind::kRequired}, {"array", 'r', ArgKind::kNone},
    {"me", 0, ArgKind::kNone},           {"sort", 'S', ArgKind::kRequired},   {"help", 0, ArgKind::kNone},
    {"usage", 0, ArgKind::kNone},        {"verbose", 'v', ArgKind::kNone},    {"iterate", 'i', ArgKind::kRequired},
    {"steps", 's', ArgKind::kOptional},  {"start", 0, ArgKind::kNone},        {"version", 'V', ArgKind::kNone},
};

// squeue -O's field names, as format letters.
char FormatLetterOf(std::string_view name) {
  static const std::map<std::string, char> kNames = {
      {"account", 'a'},   {"arrayjobid", 'F'}, {"arraytaskid", 'K'}, {"command", 'o'},  {"endtime", 'e'},
      {"jobarrayid", 'i'}, {"jobid", 'A'},     {"minmemory", 'm'},   {"name", 'j'},     {"nodelist", 'N'},
      {"numcpus", 'C'},   {"numnodes", 'D'},   {"partition", 'P'},   {"reason", 'r'},   {"reasonlist", 'R'},
      {"starttime", 'S'}, {"state", 'T'},      {"statecompact", 't'}, {"submittime", 'V'}, {"timeleft", 'L'},
      {"timelimit", 'l'}, {"timeused", 'M'},   {"username", 'u'},    {"workdir", 'Z'},  {"mincpus", 'c'},
  };
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto it = kNames.find(lower);
  return it == kNames.end() ? 0 : it->second;
}

std::vector<FormatField> LongFormat(const std::string& text) {
  std::vector<FormatField> out;
  for (const auto& item : Items(text)) {
    const size_t colon = item.find(':');
    const std::string name = item.substr(0, colon);
    const char letter = FormatLetterOf(name);
    if (letter == 0) Die(fmt::format("-O/--Format: field '{}' not supported by kojo's squeue", name));
    FormatField f;
    f.letter = letter;
    f.width = 20;
    if (colon != std::string::npos) {
      std::string w = item.substr(colon + 1);
      if (!w.empty() && w[0] == '.') {
        f.right = true;
        w = w.substr(1);
      }
      if (!w.empty()) f.width = std::atoi(w.c_str());
    }
    out.push_back(f);
  }
  return out;
}

int Squeue(const std::vector<std::string>& args) {
  ParsedArgs p = Parse(args, kSqueueOpts, false, "squeue");
  bool header = true, long_form = false, me = false;
  std::vector<std::string> partitions;
  std::string format, users, states, accounts, names;
  std::vector<FormatField> fields;
  std::set<JobId> jobs;
  std::vector<std::string> job_items;
  bool jobs_given = false;
  for (const auto& o : p.opts) {
    if (o.name == "noheader") header = false;
    else if (o.name == "format") format = o.value;
    else if (o.name == "Format") fields = LongFormat(o.value);
    else if (o.name == "user") users += (users.empty() ? "" : ",") + o.value;
    else if (o.name == "jobs") {
      jobs_given = true;
      for (const auto& j : Items(o.value)) job_items.push_back(j);
    } else if (o.name == "states") states += (states.empty() ? "" : ",") + o.value;
    else if (o.name == "long") long_form = true;
    else if (o.name == "account") accounts += (accounts.empty() ? "" : ",") + o.value;
    else if (o.name == "partition") {
      for (const auto& part : Items(o.value)) partitions.push_back(part);
    } else if (o.name == "name") names += (names.empty() ? "" : ",") + o.value;
    else if (o.name == "me") me = true;
    else if (o.name == "help" || o.name == "usage") {
      std::puts("Usage: squeue [-h] [-o FORMAT | -O FIELDS] [-u USERS] [-j IDS] [-t STATES] [-A ACCOUNTS] [-n NAMES] "
                "[-p PARTITION] [-l] [--me]  (kojo's squeue; see docs/slurm.md)");
      return 0;
    } else if (o.name == "version") {
      std::puts("slurm 22.05 (kojo)");
      return 0;
    } else if (o.name == "sort") Warn("squeue", "--sort ignored: kojo lists jobs by id");
    else if (o.name == "iterate") Die("--iterate: not supported by kojo's squeue (run it in a loop, e.g. with watch)");
    else if (o.name == "steps") Die("--steps: not supported: kojo keeps no job steps");
    else if (o.name == "start") Die("--start: not supported: use `kojo why JOB` for a pending job's estimated start");
  }
  for (const auto& j : p.positional) Die(fmt::format("unexpected argument '{}'", j));
  std::set<std::string> want_states;
  if (!states.empty()) want_states = StateSet(states, "--states");
  if (fields.empty()) {
    auto f = ParseFormat(format.empty() ? (long_form ? kSqueueLong : kSqueueDefault) : std::string_view(format),
                         kSqueueLetters);
    if (!f.ok()) Die("--format: " + f.error().message);
    fields = std::move(*f);
  }
  ApiClient client = Client();
  {
    ArrayTasks tasks(client);
    for (const auto& j : job_items) jobs.insert(ParseId(j, tasks.Fn()));
  }
  if (me) users += (users.empty() ? "" : ",") + GetWhoami(client).name;
  // Not ended, unless -t asks for more (kojo keeps ended jobs); with -j all
  // of them are fetched, to tell an ended job from one that does not exist.
  const bool all_states = !want_states.empty() || jobs_given;
  if (want_states.empty())
    want_states = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED"};
  std::vector<api::JobView> list;
  const std::vector<std::string> user_list = users.empty() ? std::vector<std::string>{""} : Items(users);
  for (const auto& u : user_list) {
    auto some = ListJobs(client, all_states ? "" : "PENDING,HELD,STARTING,RUNNING,STOPPING", u);
    list.insert(list.end(), some.begin(), some.end());
  }
  std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  const JobFilter filter{want_states, JobFilter::SetOf(names), JobFilter::SetOf(accounts), partitions};
  std::set<JobId> seen;
  const Seconds now = Now();
  std::string out;
  auto render = [&](const std::function<std::string(const FormatField&)>& value) {
    std::string line;
    for (const auto& f : fields) {
      line += f.literal;
      if (f.letter != 0) line += Fit(f, value(f));
    }
    out += line + "\n";
  };
  if (long_form && header) {  // squeue -l starts with the time
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a %b %d %H:%M:%S %Y", &tm);
    out += std::string(buf) + "\n";
  }
  if (header) render([](const FormatField& f) { return SqueueHeader(f.letter); });
  std::set<JobId> found;
  for (const auto& v : list) {
    if (!seen.insert(v.id).second) continue;
    if (jobs_given && !jobs.count(v.id) && !(v.array_id && jobs.count(*v.array_id))) continue;
    found.insert(v.id);
    if (!filter.Matches(v)) continue;
    render([&](const FormatField& f) { return SqueueValue(f.letter, v, now); });
  }
  if (jobs_given && found.empty()) {  // as squeue: only when no job given exists
    std::fprintf(stderr, "slurm_load_jobs error: Invalid job id specified\n");
    return 1;
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

// ---- scancel ----

const std::vector<OptSpec> kScancelOpts = {
    {"user", 'u', ArgKind::kRequired},  {"name", 'n', ArgKind::kRequired},   {"state", 't', ArgKind::kRequired},
    {"quiet", 'Q', ArgKind::kNone},     {"verbose", 'v', ArgKind::kNone},    {"signal", 's', ArgKind::kRequired},
    {"interactive", 'i', ArgKind::kNone}, {"batch", 'b', ArgKind::kNone},    {"full", 'f', ArgKind::kNone},
    {"account", 'A', ArgKind::kRequired}, {"partition", 'p', ArgKind::kRequired}, {"me", 0, ArgKind::kNone},
    {"help", 0, ArgKind::kNone},        {"usage", 0, ArgKind::kNone},        {"jobname", 0, ArgKind::kRequired},
};

int Scancel(const std::vector<std::string>& args) {
  ParsedArgs p = Parse(args, kScancelOpts, false, "scancel");
  bool quiet = false, verbose = false, me = false;
  std::string user, names, states, accounts;
  std::vector<std::string> partitions;
  for (const auto& o : p.opts) {
    if (o.name == "user") user = o.value;
    else if (o.name == "name" || o.name == "jobname") names += (names.empty() ? "" : ",") + o.value;
    else if (o.name == "state") states = o.value;
    else if (o.name == "quiet") quiet = true;
    else if (o.name == "verbose") verbose = true;
    else if (o.name == "account") accounts = o.value;
    else if (o.name == "me") me = true;
    else if (o.name == "partition") {
      for (const auto& part : Items(o.value)) partitions.push_back(part);
    } else if (o.name == "signal") Die("--signal: not supported by kojo: a cancel sends SIGTERM, then SIGKILL");
    else if (o.name == "interactive") Die("--interactive: not supported by kojo's scancel");
    else if (o.name == "batch" || o.name == "full")
      Warn("scancel", o.given + " ignored: kojo signals all of a job's processes");
    else if (o.name == "help" || o.name == "usage") {
      std::puts("Usage: scancel [-u USER] [-n NAME] [-t STATE] [-A ACCOUNT] [--me] [-Q] [JOBID...]  (kojo's scancel)");
      return 0;
    }
  }
  std::vector<std::string> items;
  for (const auto& a : p.positional)
    for (const auto& item : Items(a)) items.push_back(item);
  for (const auto& item : items) ParseId(item, [](JobId, int) { return std::optional<JobId>(1); });  // syntax
  const bool filters =
      !user.empty() || !names.empty() || !states.empty() || !accounts.empty() || me || !partitions.empty();
  if (items.empty() && !filters) Die("No job identification provided");
  ApiClient client = Client();
  std::vector<JobId> ids;
  {
    ArrayTasks tasks(client);
    for (const auto& item : items) ids.push_back(ParseId(item, tasks.Fn()));
  }
  if (me) user = GetWhoami(client).name;
  if (filters) {
    const JobFilter filter{states.empty() ? std::set<std::string>{} : StateSet(states, "--state"),
                           JobFilter::SetOf(names), JobFilter::SetOf(accounts), partitions};
    std::set<JobId> given(ids.begin(), ids.end());
    std::vector<JobId> chosen;
    for (const auto& v : ListJobs(client, "PENDING,HELD,STARTING,RUNNING,STOPPING", user)) {
      if (!given.empty() && !given.count(v.id)) continue;
      if (filter.Matches(v)) chosen.push_back(v.id);
    }
    ids = chosen;
  }
  for (JobId id : ids) {
    cli::HttpReply r = client.Post(fmt::format("/api/v1/jobs/{}/cancel", id), "");
    if (r.status >= 200 && r.status < 300) {
      if (verbose) std::fprintf(stderr, "scancel: Terminating job %lld\n", static_cast<long long>(id));
      continue;
    }
    // As Slurm 22.05's scancel, neither a job that has ended nor an unknown
    // id fails the command; the first is said with -v, the second unless -Q.
    if (r.status == 409) {
      if (verbose)
        std::fprintf(stderr, "scancel: error: Kill job error on job id %lld: Job/step already completing or completed\n",
                     static_cast<long long>(id));
      continue;
    }
    if (r.status == 404) {
      if (!quiet)
        std::fprintf(stderr, "scancel: error: Kill job error on job id %lld: Invalid job id specified\n",
                     static_cast<long long>(id));
      continue;
    }
    client.Fail(r);
  }
  return 0;
}

// sacct's -S/-E: slurm::ParseSlurmTime, failing as a usage error.
Seconds SacctTime(const std::string& text, const std::string& flag) {
  auto t = slurm::ParseSlurmTime(text, Now());
  if (!t.ok()) Die(fmt::format("{}: {}", flag, t.error().message));
  return *t;
}

// ---- sacct ----

const std::vector<OptSpec> kSacctOpts = {
    {"allocations", 'X', ArgKind::kNone}, {"parsable", 'p', ArgKind::kNone},   {"parsable2", 'P', ArgKind::kNone},
    {"noheader", 'n', ArgKind::kNone},    {"format", 'o', ArgKind::kRequired}, {"jobs", 'j', ArgKind::kRequired},
    {"user", 'u', ArgKind::kRequired},    {"uid", 0, ArgKind::kRequired},      {"allusers", 'a', ArgKind::kNone},
    {"state", 's', ArgKind::kRequired},   {"starttime", 'S', ArgKind::kRequired}, {"endtime", 'E', ArgKind::kRequired},
    {"name", 0, ArgKind::kRequired},      {"accounts", 'A', ArgKind::kRequired}, {"brief", 'b', ArgKind::kNone},
    {"long", 'l', ArgKind::kNone},        {"duplicates", 'D', ArgKind::kNone}, {"truncate", 'T', ArgKind::kNone},
    {"partition", 'r', ArgKind::kRequired}, {"delimiter", 0, ArgKind::kRequired}, {"help", 'h', ArgKind::kNone},
    {"usage", 0, ArgKind::kNone},         {"units", 0, ArgKind::kRequired},    {"clusters", 'M', ArgKind::kRequired},
    {"allclusters", 'L', ArgKind::kNone}, {"helpformat", 'e', ArgKind::kNone}, {"array", 0, ArgKind::kNone},
    {"json", 0, ArgKind::kNone},          {"yaml", 0, ArgKind::kNone},         {"verbose", 'v', ArgKind::kNone},
};

constexpr const char* kSacctLong =
    "JobID,JobIDRaw,JobName,Partition,Account,AllocCPUS,State,ExitCode,DerivedExitCode,Submit,Start,End,Elapsed,"
    "Timelimit,NNodes,NodeList,ReqMem,ReqTRES,AllocTRES,User,WorkDir";

int Sacct(const std::vector<std::string>& args) {
  ParsedArgs p = Parse(args, kSacctOpts, false, "sacct");
  bool header = true, parsable = false, trailing = false, all_users = false;
  std::string format(kSacctDefault), users, states, names, accounts, delimiter = "|";
  std::vector<std::string> partitions;
  std::set<JobId> jobs;
  std::vector<std::string> job_items;
  std::optional<Seconds> start, end;
  for (const auto& o : p.opts) {
    if (o.name == "allocations" || o.name == "duplicates" || o.name == "truncate" || o.name == "array" ||
        o.name == "verbose" || o.name == "allclusters") {
      // kojo keeps no steps (-X is what is shown anyway), no duplicates, one cluster.
    } else if (o.name == "parsable") {
      parsable = trailing = true;
    } else if (o.name == "parsable2") {
      parsable = true;
      trailing = false;
    } else if (o.name == "noheader") header = false;
    else if (o.name == "format") format = o.value;
    else if (o.name == "brief") format = "JobID,State,ExitCode";
    else if (o.name == "long") format = kSacctLong;
    else if (o.name == "jobs") {
      for (const auto& j : Items(o.value)) job_items.push_back(j);
    } else if (o.name == "user" || o.name == "uid") users += (users.empty() ? "" : ",") + o.value;
    else if (o.name == "allusers") all_users = true;
    else if (o.name == "state") states += (states.empty() ? "" : ",") + o.value;
    else if (o.name == "starttime") start = SacctTime(o.value, "--starttime");
    else if (o.name == "endtime") end = SacctTime(o.value, "--endtime");
    else if (o.name == "name") names += (names.empty() ? "" : ",") + o.value;
    else if (o.name == "accounts") accounts += (accounts.empty() ? "" : ",") + o.value;
    else if (o.name == "delimiter") delimiter = o.value;
    else if (o.name == "partition") {
      for (const auto& part : Items(o.value)) partitions.push_back(part);
    } else if (o.name == "units") Warn("sacct", "--units ignored: memory is shown in megabytes");
    else if (o.name == "clusters") {
      for (const auto& c : Items(o.value))
        if (c != "kojo" && c != "all") Die(fmt::format("--clusters: kojo has one cluster, kojo; not '{}'", c));
    } else if (o.name == "helpformat") {
      auto f = ParseSacctFormat(kSacctLong);
      for (const auto& field : *f) std::printf("%s\n", field.name.c_str());
      return 0;
    } else if (o.name == "json" || o.name == "yaml") {
      Die(o.given + ": not supported by kojo's sacct (use `kojo queue --all --json`)");
    } else if (o.name == "help" || o.name == "usage") {
      std::puts("Usage: sacct [-X] [-P|-p] [-n] [-o FIELDS] [-j IDS] [-u USERS|-a] [-s STATES] [-S TIME] [-E TIME] "
                "[--name NAMES] [-A ACCOUNTS] [-b] [-l]  (kojo's sacct; see docs/slurm.md, `sacct -e` lists fields)");
      return 0;
    }
  }
  for (const auto& a : p.positional) Die(fmt::format("unexpected argument '{}'", a));
  auto fields = ParseSacctFormat(format);
  if (!fields.ok()) Die(fields.error().message);
  std::set<std::string> want_states;
  if (!states.empty()) want_states = StateSet(states, "--state");
  ApiClient client = Client();
  {
    ArrayTasks tasks(client);
    for (const auto& j : job_items) jobs.insert(ParseId(j, tasks.Fn()));
  }
  if (users.empty() && !all_users && jobs.empty()) users = GetWhoami(client).name;
  // As sacct: without -j (or -s), jobs since midnight.
  if (!start && jobs.empty()) start = SacctTime("midnight", "--starttime");
  if (!end) end = Now();
  std::vector<api::JobView> list;
  const std::vector<std::string> user_list = users.empty() ? std::vector<std::string>{""} : Items(users);
  for (const auto& u : user_list) {
    if (jobs.size() == 1 && u.empty()) {  // one job: ask for it alone, unless it is an array's
      auto v = GetJob(client, *jobs.begin());
      if (!v || !v->array_id || *v->array_id != v->id) {
        if (v) list.push_back(std::move(*v));
        continue;
      }
    }
    auto some = ListJobs(client, "", u);
    list.insert(list.end(), some.begin(), some.end());
  }
  std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  const JobFilter filter{want_states, JobFilter::SetOf(names), JobFilter::SetOf(accounts), partitions};
  const Seconds now = Now();
  std::string out;
  auto emit = [&](const std::vector<std::string>& values) {
    std::string line = SacctLine(*fields, values, parsable, trailing);
    if (parsable && delimiter != "|") {
      std::string swapped;
      for (char c : line) swapped += c == '|' ? delimiter : std::string(1, c);
      line = swapped;
    }
    out += line + "\n";
  };
  if (header) {
    std::vector<std::string> names_row, dashes;
    for (const auto& f : *fields) {
      names_row.push_back(f.name);
      const int w = f.width > 0 ? f.width : SacctDefaultWidth(f.name);
      dashes.push_back(std::string(static_cast<size_t>(w), '-'));
    }
    emit(names_row);
    if (!parsable) {
      std::string line;
      for (const auto& d : dashes) line += d + " ";
      out += line + "\n";
    }
  }
  std::set<JobId> seen;
  for (const auto& v : list) {
    if (!seen.insert(v.id).second) continue;
    if (!jobs.empty() && !jobs.count(v.id) && !(v.array_id && jobs.count(*v.array_id))) continue;
    if (!filter.Matches(v)) continue;
    if (start && v.end_time && *v.end_time < *start) continue;
    if (end && v.submit_time > *end) continue;
    std::vector<std::string> values;
    for (const auto& f : *fields) values.push_back(SacctValue(f, v, now));
    emit(values);
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

// ---- sacctmgr ----

struct Association {
  std::string user, account;
  bool is_default = false;
};

int Sacctmgr(const std::vector<std::string>& args) {
  bool header = true, parsable = false, trailing = false, with_assoc = false;
  std::vector<std::string> words;
  for (const auto& a : args) {
    if (a == "-n" || a == "--noheader") header = false;
    else if (a == "-P" || a == "--parsable2") parsable = true, trailing = false;
    else if (a == "-p" || a == "--parsable") parsable = trailing = true;
    else if (a == "-s" || a == "--associations") with_assoc = true;
    else if (a == "-i" || a == "--immediate" || a == "-Q" || a == "--quiet" || a == "-v" || a == "--verbose") {
    } else if (a == "-h" || a == "--help" || a == "--usage") {
      std::puts("Usage: sacctmgr [-n] [-P|-p] [-s] {show|list} {user|account|association} [NAME] "
                "[where] [name=...] [user=...] [format=FIELDS] [withassoc]  (kojo's sacctmgr: read-only)");
      return 0;
    } else if (!a.empty() && a[0] == '-' && a.find('=') == std::string::npos) {
      Die(fmt::format("unrecognized option '{}' (kojo's sacctmgr takes -n, -P, -p, -s)", a));
    } else {
      // "-nP"-style clusters.
      bool cluster = a.size() > 1 && a[0] == '-' && a[1] != '-' && a.find('=') == std::string::npos;
      if (cluster) continue;
      words.push_back(a);
    }
  }
  if (words.empty()) Die("expected a command, e.g. `sacctmgr show user NAME format=DefaultAccount -P -n`");
  std::string verb = words[0];
  for (char& c : verb) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (verb != "show" && verb != "list")
    Die(fmt::format("'{}': kojo's sacctmgr only shows (show, list); projects and members are managed with "
                    "`kojo admin`",
                    words[0]));
  if (words.size() < 2) Die("expected what to show: user, account or association");
  std::string entity = words[1];
  for (char& c : entity) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!entity.empty() && entity.back() == 's') entity.pop_back();
  if (entity != "user" && entity != "account" && entity != "association")
    Die(fmt::format("'{}': kojo's sacctmgr shows user, account and association only", words[1]));
  std::vector<std::string> names;
  std::string format;
  for (size_t i = 2; i < words.size(); ++i) {
    std::string w = words[i];
    std::string lower = w;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "where" || lower == "withassoc") {
      with_assoc = with_assoc || lower == "withassoc";
      continue;
    }
    const size_t eq = w.find('=');
    if (eq == std::string::npos) {
      for (const auto& n : Items(w)) names.push_back(n);
      continue;
    }
    const std::string key = lower.substr(0, eq), value = w.substr(eq + 1);
    if (key == "format" || key == "formats") format = value;
    else if (key == "name" || key == "names" || key == "user" || key == "users" ||
             ((key == "account" || key == "accounts") && entity == "account"))
      for (const auto& n : Items(value)) names.push_back(n);
    else if (key == "cluster" || key == "clusters") {
    } else if (key == "account" || key == "accounts") {
      // filter associations by account: handled below
      for (const auto& n : Items(value)) names.push_back("account:" + n);
    } else {
      Die(fmt::format("'{}': condition not supported by kojo's sacctmgr", key));
    }
  }
  ApiClient client = Client();
  const Whoami me = GetWhoami(client);
  // Associations: the caller's projects; for other users, the projects'
  // member lists (readable by those allowed to).
  std::vector<Association> assocs;
  std::vector<std::string> users, account_filter;
  for (const auto& n : names) {
    if (n.rfind("account:", 0) == 0) account_filter.push_back(n.substr(8));
    else users.push_back(n);
  }
  if (entity == "account") {
    account_filter = users;
    users.clear();
  }
  if (users.empty()) users.push_back(me.name);
  for (const auto& u : users) {
    std::vector<std::string> projects;
    if (u == me.name) {
      projects = me.projects;
    } else {
      cli::HttpReply r = client.Get("/api/v1/projects");
      if (r.status == 403) Die(fmt::format("user {}: kojo shows a user their own associations only", u));
      if (r.status < 200 || r.status >= 300) client.Fail(r);
      auto j = api::ParseJson(r.body);
      if (j.ok() && j->contains("projects") && (*j)["projects"].is_array())
        for (const auto& proj : (*j)["projects"])
          if (proj.contains("members") && proj["members"].is_array())
            for (const auto& m : proj["members"])
              if (m.value("user", "") == u) projects.push_back(proj.value("name", ""));
    }
    if (projects.empty()) projects.push_back("default");
    const std::string def = DefaultAccount(projects);
    for (const auto& proj : projects) assocs.push_back(Association{u, proj, proj == def});
  }
  if (!account_filter.empty())
    assocs.erase(std::remove_if(assocs.begin(), assocs.end(),
                                [&](const Association& a) {
                                  return std::find(account_filter.begin(), account_filter.end(), a.account) ==
                                         account_filter.end();
                                }),
                 assocs.end());

  // Fields: name -> header and value.
  struct Field {
    std::string key, header;
    int width;
  };
  std::vector<Field> fields;
  auto add_field = [&](const std::string& spec) {
    std::string name = spec;
    int width = 10;
    if (const size_t pct = spec.find('%'); pct != std::string::npos) {
      name = spec.substr(0, pct);
      width = std::atoi(spec.c_str() + pct + 1);
      if (width <= 0) width = 10;
    }
    std::string key = name;
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    static const std::map<std::string, std::string> kHeaders = {
        {"user", "User"},       {"defaultaccount", "Def Acct"}, {"account", "Account"}, {"admin", "Admin"},
        {"cluster", "Cluster"}, {"partition", "Partition"},     {"descr", "Descr"},     {"org", "Org"},
        {"share", "Share"},     {"qos", "QOS"},                 {"defaultqos", "Def QOS"},
    };
    auto it = kHeaders.find(key);
    if (it == kHeaders.end()) Die(fmt::format("format: field '{}' not supported by kojo's sacctmgr", name));
    fields.push_back(Field{key, it->second, width});
  };
  if (format.empty()) {
    if (entity == "user" && !with_assoc) format = "User,DefaultAccount,Admin";
    else if (entity == "account") format = "Account,Descr,Org";
    else format = "Cluster,Account,User,Partition,Share,QOS,DefaultQOS";
  }
  for (const auto& f : Items(format)) add_field(f);
  auto value = [&](const std::string& key, const Association& a) -> std::string {
    if (key == "user") return a.user;
    if (key == "defaultaccount") {
      for (const auto& b : assocs)
        if (b.user == a.user && b.is_default) return b.account;
      return "default";
    }
    if (key == "account" || key == "descr" || key == "org") return a.account;
    if (key == "admin") return a.user == me.name && me.role == "admin" ? "Administrator" : "None";
    if (key == "cluster") return "kojo";
    if (key == "partition") return "";
    if (key == "share") return "1";
    if (key == "qos" || key == "defaultqos") return "normal";
    return "";
  };
  std::vector<std::vector<std::string>> rows;
  std::set<std::string> seen;
  const bool per_assoc = with_assoc || entity != "user";
  for (const auto& a : assocs) {
    if (!per_assoc && !seen.insert(a.user).second) continue;
    if (entity == "account" && !seen.insert(a.account).second) continue;
    std::vector<std::string> row;
    for (const auto& f : fields) row.push_back(value(f.key, a));
    rows.push_back(std::move(row));
  }
  std::string out;
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (parsable) {
        line += (i ? "|" : "") + row[i];
        continue;
      }
      const size_t w = static_cast<size_t>(fields[i].width);
      std::string cell = row[i].size() > w ? row[i].substr(0, w - 1) + "+" : row[i];
      line += std::string(w - cell.size(), ' ') + cell + " ";
    }
    if (parsable && trailing) line += "|";
    out += line + "\n";
  };
  if (header) {
    std::vector<std::string> h;
    for (const auto& f : fields) h.push_back(f.header);
    emit(h);
    if (!parsable) {
      std::string line;
      for (const auto& f : fields) line += std::string(static_cast<size_t>(f.width), '-') + " ";
      out += line + "\n";
    }
  }
  for (const auto& r : rows) emit(r);
  std::fputs(out.c_str(), stdout);
  return 0;
}

// ---- sinfo ----

const std::vector<OptSpec> kSinfoOpts = {
    {"noheader", 'h', ArgKind::kNone}, {"format", 'o', ArgKind::kRequired}, {"Node", 'N', ArgKind::kNone},
    {"partition", 'p', ArgKind::kRequired}, {"all", 'a', ArgKind::kNone},   {"exact", 'e', ArgKind::kNone},
    {"long", 'l', ArgKind::kNone},     {"summarize", 's', ArgKind::kNone},  {"responding", 'r', ArgKind::kNone},
    {"dead", 'd', ArgKind::kNone},     {"help", 0, ArgKind::kNone},         {"usage", 0, ArgKind::kNone},
    {"Format", 'O', ArgKind::kRequired}, {"version", 'V', ArgKind::kNone},  {"verbose", 'v', ArgKind::kNone},
    {"states", 't', ArgKind::kRequired}, {"nodes", 'n', ArgKind::kRequired}, {"list-reasons", 'R', ArgKind::kNone},
};

int Sinfo(const std::vector<std::string>& args) {
  ParsedArgs p = Parse(args, kSinfoOpts, false, "sinfo");
  bool header = true, by_node = false, responding = false, dead = false;
  std::vector<std::string> partitions;
  std::string format;
  std::set<std::string> node_states;
  for (const auto& o : p.opts) {
    if (o.name == "noheader") header = false;
    else if (o.name == "format") format = o.value;
    else if (o.name == "Node") by_node = true;
    else if (o.name == "partition") {
      for (const auto& part : Items(o.value)) partitions.push_back(part);
    } else if (o.name == "long") format = "%#P %.5a %.10l %.6D %.9T %N";
    else if (o.name == "summarize") format = "%#P %.5a %.10l %.16F  %N";
    else if (o.name == "responding") responding = true;
    else if (o.name == "dead") dead = true;
    else if (o.name == "states") {
      for (auto s : Items(o.value)) {
        for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        node_states.insert(s);
      }
    } else if (o.name == "list-reasons") format = "%20E %9u %19H %N";
    else if (o.name == "Format") Die("-O/--Format: not supported by kojo's sinfo; use -o with % letters");
    else if (o.name == "nodes") Die("--nodes: not supported by kojo's sinfo (use `kojo nodes`)");
    else if (o.name == "version") {
      std::puts("slurm 22.05 (kojo)");
      return 0;
    } else if (o.name == "help" || o.name == "usage") {
      std::puts("Usage: sinfo [-h] [-o FORMAT] [-N] [-p PARTITION] [-l] [-s] [-r] [-d] [-t STATES]  (kojo's sinfo)");
      return 0;
    }
  }
  for (const auto& a : p.positional) Die(fmt::format("unexpected argument '{}'", a));
  std::string_view fmt_text = format.empty() ? (by_node ? std::string_view("%#N %.6D %#P %6t") : kSinfoDefault)
                                             : std::string_view(format);
  std::string letters(kSinfoLetters);
  letters += "uH";
  auto fields = ParseFormat(fmt_text, letters);
  if (!fields.ok()) Die("--format: " + fields.error().message);
  ApiClient client = Client();
  Json r = client.GetJson("/api/v1/nodes");
  std::vector<api::NodeView> nodes;
  if (r.is_object() && r.contains("nodes") && r["nodes"].is_array())
    for (const auto& j : r["nodes"]) {
      auto n = api::NodeViewFromJson(j);
      if (!n.ok()) Die("unexpected node in the controller's reply: " + n.error().message);
      const bool down = n->state == api::NodeState::kDown || n->state == api::NodeState::kUnknown;
      if (responding && down) continue;
      if (dead && !down) continue;
      if (!node_states.empty()) {
        std::string st = NodeStateName(*n);
        // -t idle includes rented nodes that are off or coming up (idle~, idle#).
        const std::string base = !st.empty() && (st.back() == '~' || st.back() == '#' || st.back() == '%')
                                     ? st.substr(0, st.size() - 1) : st;
        if (!node_states.count(st) && !node_states.count(CompactNodeState(st)) && !node_states.count(base) &&
            !node_states.count(CompactNodeState(base)))
          continue;
      }
      nodes.push_back(std::move(*n));
    }
  // The organisation's partitions, each with its nodes; without any, one
  // default partition holds every node.
  std::vector<NodeGroup> groups;
  Json org = client.GetJson("/api/v1/org");
  const bool defined = org.is_object() && org.contains("partitions") && org["partitions"].is_array() &&
                       !org["partitions"].empty();
  if (!defined) {
    if (partitions.empty() || std::find(partitions.begin(), partitions.end(), DefaultPartition()) != partitions.end())
      groups = GroupNodes(nodes, by_node);
  } else {
    for (const auto& pj : org["partitions"]) {
      const std::string name = pj.value("name", "");
      if (!partitions.empty() && std::find(partitions.begin(), partitions.end(), name) == partitions.end()) continue;
      std::vector<api::NodeView> held;
      for (const auto& n : nodes)
        if (std::find(n.partitions.begin(), n.partitions.end(), name) != n.partitions.end()) held.push_back(n);
      std::vector<NodeGroup> part_groups = GroupNodes(held, by_node);
      if (part_groups.empty() && !by_node) part_groups.push_back(NodeGroup{{}, "n/a"});
      for (NodeGroup& g : part_groups) {
        g.partition = name;
        g.is_default = pj.value("default", false);
        if (pj.contains("max_time_s") && pj["max_time_s"].is_number_integer())
          g.time_limit = pj["max_time_s"].get<Seconds>();
        groups.push_back(std::move(g));
      }
    }
  }
  if (groups.empty() && !by_node && !defined) {
    NodeGroup none;
    none.state = "n/a";
    groups.push_back(none);
  }
  // "%#X": as wide as the column's longest value (and its header).
  for (auto& f : *fields) {
    if (!f.fit_column || f.letter == 0) continue;
    size_t w = header ? SinfoHeader(f.letter).size() : 0;
    for (const auto& g : groups) w = std::max(w, SinfoValue(f.letter, g).size());
    f.width = static_cast<int>(w);
  }
  std::string out;
  auto render = [&](const std::function<std::string(char)>& value) {
    std::string line;
    for (const auto& f : *fields) {
      line += f.literal;
      if (f.letter != 0) line += Fit(f, value(f.letter));
    }
    out += line + "\n";
  };
  if (header) render([](char c) { return SinfoHeader(c); });
  for (const auto& g : groups)
    render([&](char c) {
      if (c == 'u') return std::string("(null)");
      if (c == 'H') return std::string("Unknown");
      if (g.state == "n/a" && (c == 't' || c == 'T')) return std::string("n/a");
      return SinfoValue(c, g);
    });
  std::fputs(out.c_str(), stdout);
  return 0;
}

// ---- scontrol ----

int Scontrol(const std::vector<std::string>& args) {
  bool details = false, oneliner = false;
  std::vector<std::string> words;
  for (const auto& a : args) {
    if (a == "-d" || a == "--details") details = true;
    else if (a == "-dd") details = true;
    else if (a == "-o" || a == "--oneliner") oneliner = true;
    else if (a == "-Q" || a == "--quiet" || a == "-v" || a == "--verbose" || a == "-a" || a == "--all") {
    } else if (a == "-h" || a == "--help" || a == "--usage") {
      std::puts("Usage: scontrol [-d|-dd] [-o] show job|jobid [ID...] | hold ID... | release ID...  "
                "(kojo's scontrol; see docs/slurm.md)");
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      Die(fmt::format("unrecognized option '{}' (kojo's scontrol takes -d, -dd, -o)", a));
    } else {
      words.push_back(a);
    }
  }
  if (words.empty()) Die("expected a command: show job [ID], hold ID, release ID");
  std::string verb = words[0];
  for (char& c : verb) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  ApiClient client = Client();
  ArrayTasks tasks(client);
  if (verb == "hold" || verb == "uhold" || verb == "release") {
    if (words.size() < 2) Die(fmt::format("{}: expected job ids", verb));
    int rc = 0;
    for (size_t i = 1; i < words.size(); ++i)
      for (const auto& item : Items(words[i])) {
        const JobId id = ParseId(item, tasks.Fn());
        cli::HttpReply r = client.Post(fmt::format("/api/v1/jobs/{}/{}", id, verb == "release" ? "release" : "hold"), "");
        if (r.status >= 200 && r.status < 300) continue;
        if (r.status == 404) {
          std::fprintf(stderr, "Invalid job id specified for job %lld\n", static_cast<long long>(id));
          rc = 1;
          continue;
        }
        if (r.status == 409) {
          std::fprintf(stderr, "Job is no longer pending execution for job %lld\n", static_cast<long long>(id));
          rc = 1;
          continue;
        }
        client.Fail(r);
      }
    return rc;
  }
  if (verb != "show") {
    Die(fmt::format("'{}': not supported by kojo's scontrol (it shows jobs, holds and releases them; "
                    "use `kojo` for the rest)",
                    words[0]));
  }
  if (words.size() < 2) Die("show: expected job or jobid");
  std::string what = words[1];
  for (char& c : what) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (what != "job" && what != "jobs" && what != "jobid")
    Die(fmt::format("show {}: not supported by kojo's scontrol (show job only; `sinfo` or `kojo nodes` for nodes)",
                    words[1]));
  std::vector<api::JobView> list;
  if (words.size() == 2) {
    list = ListJobs(client, "", "");
  } else {
    for (size_t i = 2; i < words.size(); ++i)
      for (const auto& item : Items(words[i])) {
        const JobId id = ParseId(item, tasks.Fn());
        auto v = GetJob(client, id);
        if (!v) {
          std::fprintf(stderr, "slurm_load_jobs error: Invalid job id specified\n");
          return 1;
        }
        list.push_back(std::move(*v));
      }
  }
  if (list.empty()) {
    std::puts("No jobs in the system");
    return 0;
  }
  const Seconds now = Now();
  std::string out;
  for (const auto& v : list) {
    std::string text = ScontrolJob(v, now, details);
    if (oneliner) {
      std::string line;
      size_t pos = 0;
      while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string::npos) nl = text.size();
        std::string part = text.substr(pos, nl - pos);
        const size_t first = part.find_first_not_of(' ');
        if (first != std::string::npos) line += (line.empty() ? "" : " ") + part.substr(first);
        pos = nl + 1;
      }
      out += line + "\n";
    } else {
      out += text + "\n";
    }
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

// ---- srun ----

// srun's options: those that describe the job pass on to the sbatch
// grammar (outside a job); the others are srun's own.
const std::vector<OptSpec> kSrunOpts = {
    // The job's.
    {"account", 'A', ArgKind::kRequired},    {"cpus-per-task", 'c', ArgKind::kRequired},
    {"chdir", 'D', ArgKind::kRequired},      {"error", 'e', ArgKind::kRequired},
    {"export", 0, ArgKind::kRequired},       {"gpus", 'G', ArgKind::kRequired},
    {"gpus-per-node", 0, ArgKind::kRequired}, {"gpus-per-task", 0, ArgKind::kRequired},
    {"gres", 0, ArgKind::kRequired},         {"job-name", 'J', ArgKind::kRequired},
    {"mem", 0, ArgKind::kRequired},          {"mem-per-cpu", 0, ArgKind::kRequired},
    {"mem-per-gpu", 0, ArgKind::kRequired},  {"nodes", 'N', ArgKind::kRequired},
    {"ntasks", 'n', ArgKind::kRequired},     {"ntasks-per-node", 0, ArgKind::kRequired},
    {"output", 'o', ArgKind::kRequired},     {"partition", 'p', ArgKind::kRequired},
    {"time", 't', ArgKind::kRequired},       {"qos", 'q', ArgKind::kRequired},
    {"cpus-per-gpu", 0, ArgKind::kRequired}, {"constraint", 'C', ArgKind::kRequired},
    {"exclusive", 0, ArgKind::kOptional},    {"comment", 0, ArgKind::kRequired},
    {"mail-type", 0, ArgKind::kRequired},    {"mail-user", 0, ArgKind::kRequired},
    {"hint", 0, ArgKind::kRequired},         {"distribution", 'm', ArgKind::kRequired},
    {"overlap", 0, ArgKind::kNone},          {"exact", 0, ArgKind::kNone},
    // srun's own.
    {"label", 'l', ArgKind::kNone},          {"cpu-bind", 0, ArgKind::kRequired},
    {"mpi", 0, ArgKind::kRequired},          {"unbuffered", 'u', ArgKind::kNone},
    {"kill-on-bad-exit", 'K', ArgKind::kOptional}, {"wait", 'W', ArgKind::kRequired},
    {"quiet", 'Q', ArgKind::kNone},          {"verbose", 'v', ArgKind::kNone},
    {"pty", 0, ArgKind::kNone},              {"input", 'i', ArgKind::kRequired},
    {"het-group", 0, ArgKind::kRequired},    {"multi-prog", 0, ArgKind::kNone},
    {"jobid", 0, ArgKind::kRequired},        {"help", 'h', ArgKind::kNone},
    {"usage", 0, ArgKind::kNone},            {"accel-bind", 0, ArgKind::kRequired},
    {"gpu-bind", 0, ArgKind::kRequired},     {"mem-bind", 0, ArgKind::kRequired},
    {"disable-status", 'X', ArgKind::kNone}, {"propagate", 0, ArgKind::kOptional},
};

const std::set<std::string> kSrunJobOpts = {
    "account", "cpus-per-task", "chdir", "error", "export", "gpus", "gpus-per-node", "gpus-per-task", "gres",
    "job-name", "mem", "mem-per-cpu", "mem-per-gpu", "nodes", "ntasks", "ntasks-per-node", "output", "partition",
    "time", "qos", "cpus-per-gpu", "constraint", "exclusive", "comment", "mail-type", "mail-user", "hint",
    "distribution",
};

// Inside a job, these would change the step's resources, which kojo does
// not divide: the step uses what the job holds.
const std::set<std::string> kStepResourceOpts = {
    "cpus-per-task", "gpus", "gpus-per-node", "gpus-per-task", "gres", "mem", "mem-per-cpu", "mem-per-gpu",
    "cpus-per-gpu", "exclusive", "constraint", "time", "account", "qos", "partition", "hint", "distribution",
    "comment", "mail-type", "mail-user",
};

std::atomic<int> g_signal{0};
void OnSignal(int sig) { g_signal.store(sig); }

// SIGINT and SIGTERM set g_signal and interrupt a blocking wait (no
// SA_RESTART), so that they can be passed on.
void CatchSignals() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 29500;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  int port = 29500;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

int StatusToExit(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

// A step on this node: `plan.ntasks` processes of `command`.
int RunLocalStep(const std::vector<std::string>& command, const StepPlan& plan, bool label, bool kill_on_bad_exit,
                 const std::string& job_name, int gpus_per_task) {
  const int n = plan.local;  // this node's share of the step
  if (n <= 0) return 0;      // a node past the step's: nothing runs here
  auto env_or = [](const char* name, const std::string& fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::string(v) : fallback;
  };
  const std::string node = env_or("KOJO_NODE", env_or("SLURMD_NODENAME", "localhost"));
  const std::string job_id = env_or("SLURM_JOB_ID", env_or("KOJO_JOB_ID", "0"));
  // One step over several nodes: every node's srun must agree on the
  // rendezvous without talking, so the address is rank 0's node and the port
  // comes from the job id; on one node, any free port.
  const bool spread = plan.nodes > 1;
  const std::string master_addr =
      env_or("MASTER_ADDR", spread ? env_or("KOJO_MASTER_ADDR", "127.0.0.1") : std::string("127.0.0.1"));
  const std::string master_port =
      env_or("MASTER_PORT", spread ? std::to_string(20000 + std::strtoll(job_id.c_str(), nullptr, 10) % 40000)
                                   : std::to_string(FreePort()));
  std::string step_nodes = node;
  if (spread) {
    auto all = api::ExpandHostlist(env_or("SLURM_JOB_NODELIST", node));
    if (all.ok() && static_cast<int>(all->size()) >= plan.nodes)
      step_nodes = api::CompressHostlist(std::vector<std::string>(all->begin(), all->begin() + plan.nodes));
  }
  const std::string tasks_per_node = api::TasksPerNode(plan.per_node.empty() ? std::vector<int>{n} : plan.per_node);
  const int label_width = static_cast<int>(std::to_string(std::max(0, plan.ntasks - 1)).size());
  // --gpus-per-task: task r sees GPUs r*G .. r*G+G-1 of the job's on this node.
  std::vector<std::string> task_gpus;
  if (gpus_per_task > 0) {
    std::vector<std::string> have;
    const std::string visible = env_or("CUDA_VISIBLE_DEVICES", "");
    for (size_t at = 0; at < visible.size();) {
      const size_t comma = std::min(visible.find(',', at), visible.size());
      if (comma > at) have.push_back(visible.substr(at, comma - at));
      at = comma + 1;
    }
    if (static_cast<int>(have.size()) < gpus_per_task * n)
      Die(fmt::format("--gpus-per-task={}: {} tasks on this node need {} GPUs; the job has {} here", gpus_per_task, n,
                      gpus_per_task * n, have.size()));
    for (int r = 0; r < n; ++r) {
      std::string list;
      for (int g = 0; g < gpus_per_task; ++g) list += (g ? "," : "") + have[static_cast<size_t>(r * gpus_per_task + g)];
      task_gpus.push_back(list);
    }
  }

  struct Child {
    pid_t pid = -1;
    int out = -1, err = -1;
    std::string out_buf, err_buf;
    std::optional<int> exit;
  };
  std::vector<Child> children(static_cast<size_t>(n));
  CatchSignals();
  std::fflush(stdout);
  std::fflush(stderr);
  for (int r = 0; r < n; ++r) {
    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    if (label && (pipe(out_pipe) != 0 || pipe(err_pipe) != 0)) Die(std::string("pipe: ") + std::strerror(errno));
    const pid_t pid = fork();
    if (pid < 0) Die(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      // The tasks stay in the job's process group: the agent's SIGTERM and
      // SIGKILL for the job reach them directly.
      std::signal(SIGINT, SIG_DFL);
      std::signal(SIGTERM, SIG_DFL);
      if (label) {
        dup2(out_pipe[1], 1);
        dup2(err_pipe[1], 2);
        close(out_pipe[0]);
        close(out_pipe[1]);
        close(err_pipe[0]);
        close(err_pipe[1]);
      }
      const std::string rank = std::to_string(plan.first_rank + r), total = std::to_string(plan.ntasks);
      const std::map<std::string, std::string> vars = {
          {"SLURM_PROCID", rank},                  {"SLURM_LOCALID", std::to_string(r)},
          {"SLURM_NODEID", std::to_string(plan.node_index)},
          {"SLURM_STEP_NUM_TASKS", total},         {"SLURM_STEP_NUM_NODES", std::to_string(plan.nodes)},
          {"SLURM_STEP_NODELIST", step_nodes},     {"SLURM_STEP_TASKS_PER_NODE", tasks_per_node},
          {"SLURM_NTASKS", total},                 {"SLURM_NPROCS", total},
          {"SLURM_STEP_ID", "0"},                  {"SLURM_STEPID", "0"},
          {"SLURM_TASK_PID", std::to_string(getpid())},
          {"RANK", rank},                          {"LOCAL_RANK", std::to_string(r)},
          {"WORLD_SIZE", total},                   {"LOCAL_WORLD_SIZE", std::to_string(n)},
          {"GROUP_RANK", std::to_string(plan.node_index)}, {"MASTER_ADDR", master_addr},
          {"MASTER_PORT", master_port},            {"SLURM_JOB_ID", job_id},
          {"SLURM_JOBID", job_id},
      };
      for (const auto& [k, v] : vars) setenv(k.c_str(), v.c_str(), 1);
      if (!job_name.empty()) setenv("SLURM_JOB_NAME", job_name.c_str(), 1);
      if (!task_gpus.empty()) {
        const std::string mine = task_gpus[static_cast<size_t>(r)];
        for (const char* k : {"CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "SLURM_STEP_GPUS", "KOJO_GPUS"})
          setenv(k, mine.c_str(), 1);
      }
      std::vector<char*> argv;
      for (const auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execvp(argv[0], argv.data());
      std::fprintf(stderr, "slurmstepd: error: execve(): %s: %s\n", command[0].c_str(), std::strerror(errno));
      _exit(errno == ENOENT ? 2 : 126);
    }
    Child& c = children[static_cast<size_t>(r)];
    c.pid = pid;
    if (label) {
      close(out_pipe[1]);
      close(err_pipe[1]);
      c.out = out_pipe[0];
      c.err = err_pipe[0];
    }
  }
  auto flush_lines = [&](std::string& buf, int rank, FILE* to, bool all) {
    size_t pos = 0;
    while (true) {
      const size_t nl = buf.find('\n', pos);
      if (nl == std::string::npos) break;
      std::fprintf(to, "%*d: %.*s\n", label_width, rank, static_cast<int>(nl - pos), buf.data() + pos);
      pos = nl + 1;
    }
    buf.erase(0, pos);
    if (all && !buf.empty()) {
      std::fprintf(to, "%*d: %s\n", label_width, rank, buf.c_str());
      buf.clear();
    }
    std::fflush(to);
  };
  int first_failure = 0;
  bool killed = false;
  int forwarded = 0;
  size_t running = children.size();
  while (running > 0 || std::any_of(children.begin(), children.end(), [](const Child& c) { return c.out >= 0 || c.err >= 0; })) {
    if (const int sig = g_signal.load(); sig != 0 && sig != forwarded) {
      for (const auto& c : children)
        if (!c.exit && c.pid > 0) ::kill(c.pid, sig);
      forwarded = sig;
    }
    if (label) {
      std::vector<pollfd> fds;
      std::vector<std::pair<size_t, bool>> who;
      for (size_t i = 0; i < children.size(); ++i) {
        if (children[i].out >= 0) fds.push_back({children[i].out, POLLIN, 0}), who.push_back({i, true});
        if (children[i].err >= 0) fds.push_back({children[i].err, POLLIN, 0}), who.push_back({i, false});
      }
      if (!fds.empty() && ::poll(fds.data(), fds.size(), 100) > 0) {
        for (size_t k = 0; k < fds.size(); ++k) {
          if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
          Child& c = children[who[k].first];
          char buf[8192];
          const ssize_t got = ::read(fds[k].fd, buf, sizeof buf);
          std::string& b = who[k].second ? c.out_buf : c.err_buf;
          FILE* to = who[k].second ? stdout : stderr;
          if (got > 0) {
            b.append(buf, static_cast<size_t>(got));
            flush_lines(b, plan.first_rank + static_cast<int>(who[k].first), to, false);
          } else if (got == 0 || errno != EINTR) {
            flush_lines(b, plan.first_rank + static_cast<int>(who[k].first), to, true);
            ::close(fds[k].fd);
            (who[k].second ? c.out : c.err) = -1;
          }
        }
      }
    }
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, label ? WNOHANG : 0);
    if (pid > 0) {
      for (size_t i = 0; i < children.size(); ++i) {
        Child& c = children[i];
        if (c.pid != pid) continue;
        c.exit = StatusToExit(status);
        --running;
        if (*c.exit != 0) {
          if (WIFSIGNALED(status))
            std::fprintf(stderr, "srun: error: %s: task %zu: %s\n", node.c_str(), i, strsignal(WTERMSIG(status)));
          else
            std::fprintf(stderr, "srun: error: %s: task %zu: Exited with exit code %d\n", node.c_str(), i, *c.exit);
          if (first_failure == 0) first_failure = *c.exit;
          if (kill_on_bad_exit && !killed) {
            for (const auto& o : children)
              if (!o.exit && o.pid > 0) ::kill(o.pid, SIGKILL);
            killed = true;
          }
        }
      }
    } else if (pid < 0 && errno == ECHILD) {
      running = 0;
    } else if (!label && pid < 0 && errno == EINTR) {
      continue;
    } else if (label && pid == 0 && std::none_of(children.begin(), children.end(),
                                                  [](const Child& c) { return c.out >= 0 || c.err >= 0; })) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  return first_failure;
}

// Follows a job's stdout and stderr until it has ended and both are read.
int FollowJob(ApiClient& client, JobId id, bool quiet) {
  CatchSignals();
  int idle_after_end = 0;  // polls without news once the job has ended
  cli::OutputCursor cur;
  bool said_waiting = false, cancelled = false;
  const auto begun = std::chrono::steady_clock::now();
  std::optional<api::JobView> v;
  while (true) {
    if (g_signal.load() != 0 && !cancelled) {
      std::fprintf(stderr, "srun: Cancelling job %lld\n", static_cast<long long>(id));
      client.Post(fmt::format("/api/v1/jobs/{}/cancel", id), "");
      cancelled = true;
    }
    v = GetJob(client, id);
    if (!v) Die(fmt::format("job {} is gone", id));
    const bool ended = api::IsTerminal(v->state);
    const bool started = v->start_time.has_value() || !v->placement.empty();
    if (!started && !ended) {
      if (!said_waiting && !quiet && std::chrono::steady_clock::now() - begun > std::chrono::seconds(1)) {
        std::fprintf(stderr, "srun: job %lld queued and waiting for resources\n", static_cast<long long>(id));
        said_waiting = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    if (said_waiting) {
      std::fprintf(stderr, "srun: job %lld has been allocated resources\n", static_cast<long long>(id));
      said_waiting = false;
    }
    const bool progress = cli::CopyJobOutput(client, id, ended, cur);
    if (cur.Done()) break;
    // An ended job whose logs say no end (its agent gone): give up after 10 s.
    if (ended && !progress && ++idle_after_end > 50) {
      std::fprintf(stderr, "srun: warning: job %lld ended; the rest of its output cannot be read\n",
                   static_cast<long long>(id));
      break;
    }
    if (progress) idle_after_end = 0;
    if (!progress) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  switch (v->state) {
    case api::JobState::kCompleted: return 0;
    case api::JobState::kCancelled:
      std::fprintf(stderr, "srun: error: job %lld was cancelled\n", static_cast<long long>(id));
      return 1;
    case api::JobState::kTimeout:
      std::fprintf(stderr, "srun: error: job %lld: time limit reached\n", static_cast<long long>(id));
      return 1;
    default: break;
  }
  if (v->signal) {
    std::fprintf(stderr, "srun: error: job %lld: %s\n", static_cast<long long>(id), strsignal(*v->signal));
    return 128 + *v->signal;
  }
  if (v->exit_code && *v->exit_code != 0) {
    std::fprintf(stderr, "srun: error: %s: task 0: Exited with exit code %d\n",
                 v->placement.empty() ? "?" : v->placement.front().node.c_str(), *v->exit_code);
    return *v->exit_code;
  }
  std::fprintf(stderr, "srun: error: job %lld ended %s%s%s\n", static_cast<long long>(id), StateName(*v).c_str(),
               v->message.empty() ? "" : ": ", v->message.c_str());
  return 1;
}

bool InsideJob() {
  for (const char* name : {"KOJO_JOB_ID", "SLURM_JOB_ID"}) {
    const char* v = std::getenv(name);
    if (v && *v) return true;
  }
  return false;
}

int ParseCountOpt(const ParsedOpt& o) {
  char* end = nullptr;
  const long v = std::strtol(o.value.c_str(), &end, 10);
  if (o.value.empty() || *end != '\0' || v < 1 || v > 100000)
    Die(fmt::format("{}: expected a positive integer, got '{}'", o.given, o.value));
  return static_cast<int>(v);
}

constexpr const char* kSrunUsage =
    "Usage: srun [OPTIONS] command [args...]\n"
    "kojo's srun. Outside a job: submits `command` as a kojo job, prints its output as it runs and exits with\n"
    "its exit status (Ctrl-C cancels it). Inside a job (KOJO_JOB_ID or SLURM_JOB_ID set): runs a step of\n"
    "-n N tasks on this node, each with SLURM_PROCID, SLURM_LOCALID, RANK, LOCAL_RANK, WORLD_SIZE,\n"
    "MASTER_ADDR and MASTER_PORT; -l/--label prefixes each line with its task's rank. See docs/slurm.md.\n";

int Srun(const std::vector<std::string>& args) {
  ParsedArgs p = Parse(args, kSrunOpts, true, "srun");
  const bool inside = InsideJob();
  bool label = false, kill_bad = false, quiet = false, pty = false;
  int ntasks = 0, per_node = 0, nodes = 0, gpus_per_task = 0;
  std::string job_name;
  std::vector<std::string> job_args;
  for (const auto& o : p.opts) {
    if (o.name == "help" || o.name == "usage") {
      std::fputs(kSrunUsage, stdout);
      return 0;
    }
    if (o.name == "label") label = true;
    else if (o.name == "kill-on-bad-exit") kill_bad = o.value.empty() || o.value != "0";
    else if (o.name == "quiet") quiet = true;
    else if (o.name == "verbose" || o.name == "unbuffered" || o.name == "cpu-bind" || o.name == "disable-status" ||
             o.name == "overlap" || o.name == "exact" || o.name == "accel-bind" || o.name == "gpu-bind" ||
             o.name == "mem-bind" || o.name == "propagate") {
      // Binding and buffering: kojo's tasks see their GPUs and CPUs already.
    } else if (o.name == "mpi") {
      if (o.value != "none" && o.value != "pmi2" && o.value != "pmix")
        Die(fmt::format("--mpi={}: not supported by kojo's srun (none, pmi2, pmix are accepted; no PMI is provided)",
                        o.value));
    } else if (o.name == "wait") {
      // How long to wait for the other tasks after one ends: kojo waits for all.
    } else if (o.name == "pty") {
      if (inside) Die("--pty: not supported inside a job (a step runs no terminal); outside one, srun --pty starts an interactive job");
      pty = true;
    }
    else if (o.name == "input") Die("--input: not supported by kojo's srun (tasks read no standard input)");
    else if (o.name == "het-group") Die("--het-group: kojo has no heterogeneous jobs");
    else if (o.name == "multi-prog") Die("--multi-prog: not supported by kojo's srun");
    else if (o.name == "jobid") Die("--jobid: kojo's srun cannot join another job's allocation");
    if (o.name == "ntasks") ntasks = ParseCountOpt(o);
    if (o.name == "ntasks-per-node") per_node = ParseCountOpt(o);
    if (o.name == "nodes") {
      const std::string v = o.value.substr(0, o.value.find('-'));  // "2-4": the minimum
      ParsedOpt copy = o;
      copy.value = v;
      nodes = ParseCountOpt(copy);
    }
    if (o.name == "job-name") job_name = o.value;
    if (kSrunJobOpts.count(o.name)) {
      if (inside && o.name == "gpus-per-task") {
        // Binds each task to its own GPUs among the job's on this node.
        gpus_per_task = ParseCountOpt(o);
        continue;
      }
      if (inside && kStepResourceOpts.count(o.name)) {
        if (!quiet) Warn("srun", o.given + " ignored inside a job: the step uses the job's resources");
        continue;
      }
      job_args.push_back("--" + o.name + (o.value.empty() ? "" : "=" + o.value));
    }
  }
  if (p.positional.empty()) Die("no command to run (see srun --help)");
  if (inside) {
    int job_nodes = 1;
    if (const char* n = std::getenv("SLURM_JOB_NUM_NODES"); n && *n) job_nodes = std::max(1, std::atoi(n));
    else if (const char* n2 = std::getenv("SLURM_NNODES"); n2 && *n2) job_nodes = std::max(1, std::atoi(n2));
    int node_index = 0;
    if (const char* id = std::getenv("SLURM_NODEID"); id && *id) node_index = std::max(0, std::atoi(id));
    const StepPlan plan = PlanStep(ntasks, per_node, nodes, job_nodes, node_index);
    if (!plan.error.empty()) Die(plan.error);
    return RunLocalStep(p.positional, plan, label, kill_bad, job_name, gpus_per_task);
  }
  // Outside a job: a job of its own.
  if (label) Warn("srun", "--label ignored outside a job: the job's output is shown as it is");
  std::vector<std::string> submit = job_args;
  submit.push_back("--");
  submit.insert(submit.end(), p.positional.begin(), p.positional.end());
  const std::vector<std::string>& kept = submit;
  // As srun, the caller's environment goes with the job unless --export says otherwise.
  cli::PreparedSubmit prep =
      cli::PrepareSubmit(kept, cli::SubmitDialect{cli::Origin::kSbatchDirective, "srun", true, "ALL"});
  if (pty && !isatty(STDIN_FILENO))
    Die("--pty: standard input is not a terminal (run it in one, or leave out --pty)");
  prep.spec.pty = pty;
  if (winsize ws{}; pty && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
    prep.spec.pty_rows = ws.ws_row;
    prep.spec.pty_cols = ws.ws_col;
  }
  ApiClient client = Client();
  CheckPartitions(client, prep.spec.demand.nodes.partitions);
  auto [reply, ids] = cli::PostJob(client, prep.spec);
  // --pty: the job's terminal relayed to this one, as `kojo run --pty`.
  if (pty) return cli::RelayTerminal(client.config(), ids.front(), quiet);
  return FollowJob(client, ids.front(), quiet);
}

// ---- salloc ----

// salloc COMMAND: kojo holds no allocation apart from a running job, so the
// command runs as the job, on the allocated node (where `srun` inside it
// starts the steps), with its output here and its exit status; it is what
// `salloc ... srun prog` and `salloc ... script-with-sruns` do in Slurm. An
// interactive shell (salloc without a command) needs a terminal on the
// node, which kojo's commands do not relay yet.
int Salloc(const std::vector<std::string>& args) {
  for (const auto& a : args)
    if (a == "-h" || a == "--help" || a == "--usage") {
      std::puts("Usage: salloc [srun's job options] COMMAND [ARGS...]  (kojo's salloc: the command runs as the job, "
                "on its node; see docs/slurm.md)");
      return 0;
    }
  ParsedArgs p = Parse(args, kSrunOpts, true, "salloc");
  if (p.positional.empty())
    Die("an interactive allocation (salloc without a command) is not supported by kojo yet: give the command to "
        "run in the allocation (salloc [options] COMMAND), or use sbatch");
  bool quiet = false;
  for (const auto& o : p.opts) quiet = quiet || o.name == "quiet";
  if (!quiet)
    Warn("salloc", "kojo runs the command as the job, on the allocated node (its srun steps run there too), "
                   "not on this machine");
  return Srun(args);
}

}  // namespace

const std::vector<std::string>& CommandNames() {
  static const std::vector<std::string> kNames = {"sbatch", "squeue", "scancel", "sacct", "sacctmgr",
                                                  "sinfo",  "srun",   "salloc",  "scontrol"};
  return kNames;
}

int RunCommand(const std::string& command, const std::vector<std::string>& args) {
  try {
    if (command == "sbatch") return Sbatch(args);
    if (command == "squeue") return Squeue(args);
    if (command == "scancel") return Scancel(args);
    if (command == "sacct") return Sacct(args);
    if (command == "sacctmgr") return Sacctmgr(args);
    if (command == "sinfo") return Sinfo(args);
    if (command == "srun") return Srun(args);
    if (command == "salloc") return Salloc(args);
    if (command == "scontrol") return Scontrol(args);
    std::fprintf(stderr, "kojo-slurm: unknown command '%s' (one of: sbatch, squeue, scancel, sacct, sacctmgr, sinfo, "
                 "srun, salloc, scontrol)\n", command.c_str());
    return 2;
  } catch (const CliError& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: error: %s\n", command.c_str(), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: error: %s\n", command.c_str(), e.what());
    return 1;
  }
}

int Main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  std::string self = argc > 0 ? argv[0] : "kojo-slurm";
  if (const size_t slash = self.rfind('/'); slash != std::string::npos) self = self.substr(slash + 1);
  const auto& names = CommandNames();
  if (std::find(names.begin(), names.end(), self) != names.end())
    return RunCommand(self, std::vector<std::string>(argv + 1, argv + argc));
  if (argc < 2 || std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h") {
    std::puts("Usage: kojo-slurm COMMAND [ARGS...], or run it through a symlink named after the command.\n"
              "Slurm's client commands, speaking kojo's API: sbatch, squeue, scancel, sacct, sacctmgr, sinfo, srun,\n"
              "salloc, scontrol. Put <prefix>/libexec/kojo/slurm-bin on PATH to use them by name (docs/slurm.md).");
    return argc < 2 ? 2 : 0;
  }
  return RunCommand(argv[1], std::vector<std::string>(argv + 2, argv + argc));
}

}  // namespace kojo::slurm
