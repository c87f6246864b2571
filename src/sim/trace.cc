#include "sim/trace.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>
#include <unordered_set>

#include <fmt/format.h>

namespace kojo {

namespace {

constexpr std::string_view kFormatNames[] = {"philly", "tiresias", "openb", "kojo"};

// ceil(seconds), at least 1: a job always runs for some time.
Seconds CeilSeconds(double s) {
  double c = std::ceil(s);
  return c < 1 ? 1 : static_cast<Seconds>(c);
}

std::optional<Seconds> Estimate(Seconds duration, double factor) {
  if (factor <= 0) return std::nullopt;
  double e = std::ceil(static_cast<double>(duration) * factor);
  if (e < 1) e = 1;
  if (e > static_cast<double>(kForever)) e = static_cast<double>(kForever);
  return static_cast<Seconds>(e);
}

// Parses exactly `n` digits at s[pos..pos+n).
bool Digits(std::string_view s, size_t pos, size_t n, unsigned& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + static_cast<unsigned>(s[i] - '0');
  }
  return true;
}

bool IsLeap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(std::int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reader of one format: the table's rows -> jobs in file order.
using RowReader = Result<Job> (*)(const CsvTable&, const CsvRow&, const std::vector<int>&,
                                  const TraceOptions&);

struct Columns {
  std::vector<int> index;  // -1 = optional column absent
};

Result<Columns> Resolve(const CsvTable& t, std::initializer_list<std::string_view> required,
                        std::initializer_list<std::string_view> optional) {
  Columns c;
  for (auto name : required) {
    auto i = t.Require(name);
    if (!i.ok()) return i.error();
    c.index.push_back(*i);
  }
  for (auto name : optional) c.index.push_back(t.Find({name}).value_or(-1));
  return c;
}

Result<Job> CheckDemand(const CsvTable& t, const CsvRow& row, Job job) {
  if (auto why = ValidateDemand(job.demand)) return t.ErrorAt(row.line(), *why);
  return job;
}

// timestamp,duration,num_gpus,gpu_time,cluster
Result<Job> PhillyRow(const CsvTable& t, const CsvRow& row, const std::vector<int>& c,
                      const TraceOptions& opt) {
  Job job;
  auto ts = ParseUtcTimestamp(row.Text(c[0]));
  if (!ts)
    return t.ErrorAt(row.line(), fmt::format("column 'timestamp': expected 'YYYY-MM-DD HH:MM:SS', got '{}'",
                                             row.Text(c[0])));
  job.submit_time = *ts;
  auto d = row.Double(c[1], 0, static_cast<double>(kMaxTraceDuration));
  if (!d.ok()) return d.error();
  auto g = row.Int(c[2], 0, kMaxTraceGpus);
  if (!g.ok()) return g.error();
  job.demand.gpus = static_cast<int>(*g);
  job.true_duration = CeilSeconds(*d);
  job.time_limit = Estimate(*job.true_duration, opt.estimate_factor);
  if (c[3] >= 0) job.project = std::string(row.Text(c[3]));
  job.name = fmt::format("philly-{}", row.line());
  return CheckDemand(t, row, std::move(job));
}

// job_id,num_gpu,submit_time,iterations,model_name,duration,interval
Result<Job> TiresiasRow(const CsvTable& t, const CsvRow& row, const std::vector<int>& c,
                        const TraceOptions& opt) {
  Job job;
  auto id = row.Int(c[0], 0, INT64_MAX / 2);
  if (!id.ok()) return id.error();
  job.id = *id;
  auto g = row.Int(c[1], 0, kMaxTraceGpus);
  if (!g.ok()) return g.error();
  job.demand.gpus = static_cast<int>(*g);
  auto s = row.Int(c[2], 0, kMaxTraceSubmit);
  if (!s.ok()) return s.error();
  job.submit_time = *s;
  auto d = row.Double(c[3], 0, static_cast<double>(kMaxTraceDuration));
  if (!d.ok()) return d.error();
  job.true_duration = CeilSeconds(*d);
  job.time_limit = Estimate(*job.true_duration, opt.estimate_factor);
  job.name = c[4] >= 0 ? std::string(row.Text(c[4])) : fmt::format("job-{}", job.id);
  return CheckDemand(t, row, std::move(job));
}

// name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,...,creation_time,deletion_time,scheduled_time
Result<Job> OpenbRow(const CsvTable& t, const CsvRow& row, const std::vector<int>& c,
                     const TraceOptions& opt) {
  Job job;
  job.name = std::string(row.Text(c[0]));
  auto cpu = row.Int(c[1], 0, 1'000'000'000);
  if (!cpu.ok()) return cpu.error();
  auto mem = row.Int(c[2], 0, 1'000'000'000);
  if (!mem.ok()) return mem.error();
  auto g = row.Int(c[3], 0, kMaxTraceGpus);
  if (!g.ok()) return g.error();
  auto milli = row.Int(c[4], 0, kWholeGpu);
  if (!milli.ok()) return milli.error();
  auto created = row.Int(c[5], 0, kMaxTraceSubmit);
  if (!created.ok()) return created.error();
  auto deleted = row.Int(c[6], 0, kMaxTraceSubmit);
  if (!deleted.ok()) return deleted.error();
  Seconds start = *created;
  if (c[8] >= 0 && !row.Text(c[8]).empty()) {
    auto sched = row.Int(c[8], 0, kMaxTraceSubmit);
    if (!sched.ok()) return sched.error();
    if (*sched >= *created) start = *sched;
  }
  if (*deleted < start)
    return t.ErrorAt(row.line(), fmt::format("column 'deletion_time': expected a time after the pod started ({}), got {}",
                                             start, *deleted));
  if (*deleted - start > kMaxTraceDuration)
    return t.ErrorAt(row.line(), fmt::format("column 'deletion_time': run time {} s is longer than {} s",
                                             *deleted - start, kMaxTraceDuration));
  job.submit_time = *created;
  job.true_duration = std::max<Seconds>(1, *deleted - start);
  job.time_limit = Estimate(*job.true_duration, opt.estimate_factor);
  job.demand.gpus = static_cast<int>(*g);
  job.demand.cpu_milli = *cpu;
  job.demand.mem_mib = *mem;
  job.demand.gpu_milli = (*g == 1 && *milli > 0) ? static_cast<MilliGpu>(*milli) : kWholeGpu;
  if (c[7] >= 0 && !row.Text(c[7]).empty()) job.project = std::string(row.Text(c[7]));
  if (c[9] >= 0) {
    std::string_view spec = row.Text(c[9]);
    while (!spec.empty()) {
      size_t bar = spec.find('|');
      std::string_view m = spec.substr(0, bar);
      if (!m.empty()) job.demand.gpu_models.emplace_back(m);
      if (bar == std::string_view::npos) break;
      spec.remove_prefix(bar + 1);
    }
  }
  return CheckDemand(t, row, std::move(job));
}

// id,submit_s,duration_s,gpus[,gpu_milli,cpu_milli,mem_mib,tasks,gpu_models,project,user,time_limit_s,name,
// constraint,partitions]
Result<Job> KojoRow(const CsvTable& t, const CsvRow& row, const std::vector<int>& c,
                    const TraceOptions& opt) {
  Job job;
  auto present = [&](int i) { return c[i] >= 0 && !row.Text(c[i]).empty(); };
  if (present(0)) {
    auto id = row.Int(c[0], 0, INT64_MAX / 2);
    if (!id.ok()) return id.error();
    job.id = *id;
  } else {
    job.id = -1;  // assigned from the line later
  }
  auto s = row.Int(c[1], 0, kMaxTraceSubmit);
  if (!s.ok()) return s.error();
  job.submit_time = *s;
  auto d = row.Int(c[2], 1, kMaxTraceDuration);
  if (!d.ok()) return d.error();
  job.true_duration = *d;
  auto g = row.Int(c[3], 0, kMaxTraceGpus);
  if (!g.ok()) return g.error();
  job.demand.gpus = static_cast<int>(*g);
  if (present(4)) {
    auto m = row.Int(c[4], 1, kWholeGpu);
    if (!m.ok()) return m.error();
    job.demand.gpu_milli = static_cast<MilliGpu>(*m);
  }
  if (present(5)) {
    auto v = row.Int(c[5], 0, 1'000'000'000);
    if (!v.ok()) return v.error();
    job.demand.cpu_milli = *v;
  }
  if (present(6)) {
    auto v = row.Int(c[6], 0, 1'000'000'000);
    if (!v.ok()) return v.error();
    job.demand.mem_mib = *v;
  }
  if (present(7)) {
    auto v = row.Int(c[7], 1, kMaxTraceGpus);
    if (!v.ok()) return v.error();
    job.demand.tasks = static_cast<int>(*v);
  }
  if (present(8)) {
    std::string_view spec = row.Text(c[8]);
    while (!spec.empty()) {
      size_t bar = spec.find('|');
      std::string_view m = spec.substr(0, bar);
      if (!m.empty()) job.demand.gpu_models.emplace_back(m);
      if (bar == std::string_view::npos) break;
      spec.remove_prefix(bar + 1);
    }
  }
  if (present(9)) job.project = std::string(row.Text(c[9]));
  if (present(10)) job.user = std::string(row.Text(c[10]));
  if (present(11)) {
    auto v = row.Int(c[11], 1, kMaxTraceDuration);
    if (!v.ok()) return v.error();
    job.time_limit = *v;
  } else {
    job.time_limit = Estimate(*job.true_duration, opt.estimate_factor);
  }
  if (present(12)) job.name = std::string(row.Text(c[12]));
  if (present(13))
    if (auto st = job.demand.nodes.SetConstraint(std::string(row.Text(c[13]))); !st.ok())
      return t.ErrorAt(row.line(), fmt::format("column 'constraint': {}", st.error().message));
  if (present(14)) {
    std::string_view list = row.Text(c[14]);
    while (!list.empty()) {
      size_t bar = list.find('|');
      std::string_view p = list.substr(0, bar);
      if (!p.empty()) job.demand.nodes.partitions.emplace_back(p);
      if (bar == std::string_view::npos) break;
      list.remove_prefix(bar + 1);
    }
  }
  return CheckDemand(t, row, std::move(job));
}

}  // namespace

std::string_view ToString(TraceFormat f) { return kFormatNames[static_cast<int>(f)]; }

std::vector<std::string> TraceFormatNames() {
  return {std::begin(kFormatNames), std::end(kFormatNames)};
}

Result<TraceFormat> ParseTraceFormat(std::string_view name) {
  for (size_t i = 0; i < std::size(kFormatNames); ++i)
    if (kFormatNames[i] == name) return static_cast<TraceFormat>(i);
  return InvalidArgument(fmt::format("unknown trace format '{}': expected one of {}", name,
                                     fmt::join(kFormatNames, ", ")));
}

std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  // H. Hinnant's days_from_civil: exact for every proleptic Gregorian date.
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::optional<Seconds> ParseUtcTimestamp(std::string_view s) {
  // YYYY-MM-DD HH:MM:SS, optionally followed by a fraction of a second.
  unsigned y, mo, d, h, mi, se;
  if (s.size() < 19 || !Digits(s, 0, 4, y) || s[4] != '-' || !Digits(s, 5, 2, mo) || s[7] != '-' ||
      !Digits(s, 8, 2, d) || (s[10] != ' ' && s[10] != 'T') || !Digits(s, 11, 2, h) ||
      s[13] != ':' || !Digits(s, 14, 2, mi) || s[16] != ':' || !Digits(s, 17, 2, se))
    return std::nullopt;
  if (s.size() > 19) {
    if (s[19] != '.' || s.size() == 20) return std::nullopt;
    for (size_t i = 20; i < s.size(); ++i)
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > DaysInMonth(y, mo) || h > 23 || mi > 59 || se > 59)
    return std::nullopt;
  return DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
}

Result<TraceFormat> DetectTraceFormat(const CsvTable& t) {
  auto has = [&](std::initializer_list<std::string_view> cols) {
    for (auto c : cols)
      if (!t.Find({c})) return false;
    return true;
  };
  if (has({"submit_s", "duration_s", "gpus"})) return TraceFormat::kKojo;
  if (has({"job_id", "num_gpu", "submit_time", "duration"})) return TraceFormat::kTiresias;
  if (has({"timestamp", "duration", "num_gpus"})) return TraceFormat::kPhilly;
  if (has({"name", "num_gpu", "gpu_milli", "creation_time"})) return TraceFormat::kOpenb;
  return t.ErrorAt(1, "unknown trace header: expected the columns of a philly (timestamp,duration,num_gpus,...), "
                      "tiresias (job_id,num_gpu,submit_time,...,duration), openb (name,...,num_gpu,gpu_milli,"
                      "creation_time,...) or kojo (id,submit_s,duration_s,gpus,...) trace");
}

Result<std::vector<Job>> ParseTrace(const CsvTable& t, std::optional<TraceFormat> format,
                                    const TraceOptions& opt) {
  if (!format) {
    auto f = DetectTraceFormat(t);
    if (!f.ok()) return f.error();
    format = *f;
  }
  Result<Columns> cols = Columns{};
  RowReader reader = nullptr;
  switch (*format) {
    case TraceFormat::kPhilly:
      cols = Resolve(t, {"timestamp", "duration", "num_gpus"}, {"cluster"});
      reader = PhillyRow;
      break;
    case TraceFormat::kTiresias:
      cols = Resolve(t, {"job_id", "num_gpu", "submit_time", "duration"}, {"model_name"});
      reader = TiresiasRow;
      break;
    case TraceFormat::kOpenb:
      cols = Resolve(t, {"name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "creation_time",
                         "deletion_time"},
                     {"qos", "scheduled_time", "gpu_spec"});
      reader = OpenbRow;
      break;
    case TraceFormat::kKojo:
      cols = Resolve(t, {"submit_s", "duration_s", "gpus"}, {});
      if (cols.ok()) {
        // id first, then the optional columns in KojoRow's order.
        std::vector<int> idx = {t.Find({"id"}).value_or(-1)};
        idx.insert(idx.end(), cols->index.begin(), cols->index.end());
        for (auto name : {"gpu_milli", "cpu_milli", "mem_mib", "tasks", "gpu_models", "project", "user",
                          "time_limit_s", "name", "constraint", "partitions"})
          idx.push_back(t.Find({name}).value_or(-1));
        // `tenant` is the old name of `project`, still read so that older
        // files keep working; a file may not have both.
        if (auto tenant = t.Find({"tenant"})) {
          if (idx[9] >= 0)
            cols = t.ErrorAt(1, "columns 'project' and 'tenant' are both present: 'tenant' is the old name of "
                                "'project', expected only one of them");
          else
            idx[9] = *tenant;
        }
        if (cols.ok()) cols->index = std::move(idx);
      }
      reader = KojoRow;
      break;
  }
  if (!cols.ok()) return cols.error();
  if (t.rows().empty()) return t.ErrorAt(2, "no jobs: expected at least one record after the header");

  std::vector<Job> jobs;
  jobs.reserve(t.rows().size());
  std::unordered_set<JobId> ids;
  const bool keep_ids = *format == TraceFormat::kTiresias || *format == TraceFormat::kKojo;
  for (const CsvRow& row : t.rows()) {
    auto job = reader(t, row, cols->index, opt);
    if (!job.ok()) return job.error();
    if (!keep_ids || job->id < 0) job->id = static_cast<JobId>(jobs.size());
    else if (!ids.insert(job->id).second)
      return t.ErrorAt(row.line(), fmt::format("duplicate job id {}: expected unique ids", job->id));
    jobs.push_back(std::move(*job));
  }
  if (keep_ids) {
    // Jobs without an id column got their position; make sure none collides.
    std::unordered_set<JobId> seen;
    for (const Job& j : jobs)
      if (!seen.insert(j.id).second)
        return t.ErrorAt(1, fmt::format("job id {} is used twice (some rows have no id): give every row an id",
                                        j.id));
  }
  std::stable_sort(jobs.begin(), jobs.end(),
                   [](const Job& a, const Job& b) { return a.submit_time < b.submit_time; });
  if (opt.limit_jobs > 0 && jobs.size() > opt.limit_jobs) jobs.resize(opt.limit_jobs);
  const Seconds first = jobs.front().submit_time;
  for (Job& j : jobs) j.submit_time -= first;
  return jobs;
}

Result<std::vector<Job>> ReadTrace(const std::string& path, std::optional<TraceFormat> format,
                                   const TraceOptions& options) {
  auto table = CsvTable::Read(path);
  if (!table.ok()) return table.error();
  return ParseTrace(*table, format, options);
}

}  // namespace kojo
