#include "cli/org_commands.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include <fmt/format.h>

#include "api/roster.h"
#include "cli/client.h"
#include "cli/common.h"

namespace kojo::cli {

namespace {

using api::Json;

std::string Dump(const Json& j) { return j.dump(2, ' ', false, Json::error_handler_t::replace); }

struct Conn {
  std::string server, token;
  ServerConfig Config() const { return ResolveServer(server, token, ProcessEnv()); }
};

void AddConn(CLI::App* sub, Conn& c) {
  sub->add_option("--server", c.server, "Controller URL, e.g. http://127.0.0.1:7100");
  sub->add_option("--token", c.token, "Bearer token");
}

struct Format {
  bool json = false, csv = false;
};

void AddFormat(CLI::App* sub, Format& f) {
  auto* j = sub->add_flag("--json", f.json, "Print JSON (the API's document)");
  auto* c = sub->add_flag("--csv", f.csv, "Print CSV, for funders' spreadsheets");
  j->excludes(c);
}

std::string Cell(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
}

std::string CsvOf(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::string out;
  auto line = [&](const std::vector<std::string>& r) {
    for (size_t i = 0; i < r.size(); ++i) out += (i ? "," : "") + Cell(r[i]);
    out += "\n";
  };
  line(header);
  for (const auto& r : rows) line(r);
  return out;
}

std::string TableOf(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w(header.size());
  for (size_t i = 0; i < header.size(); ++i) w[i] = header[i].size();
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
  std::string out;
  auto line = [&](const std::vector<std::string>& r) {
    std::string l;
    for (size_t i = 0; i < r.size(); ++i) l += i + 1 == r.size() ? r[i] : r[i] + std::string(w[i] - r[i].size() + 2, ' ');
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  line(header);
  for (const auto& r : rows) line(r);
  return out;
}

std::string Hours(const Json& v) { return fmt::format("{:.3f}", v.is_number() ? v.get<double>() : 0.0); }
std::string Str(const Json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<std::vector<std::string>> UsageRows(const Json& report, bool with_total) {
  std::vector<std::vector<std::string>> rows;
  for (const Json& r : report.value("rows", Json::array()))
    rows.push_back({Str(r, "key").empty() ? "-" : Str(r, "key"), Hours(r["raw_gpu_hours"]), Hours(r["norm_gpu_hours"]),
                    std::to_string(r.value("runs", 0))});
  if (with_total && report.contains("total"))
    rows.push_back({"TOTAL", Hours(report["total"]["raw_gpu_hours"]), Hours(report["total"]["norm_gpu_hours"]), ""});
  return rows;
}

std::vector<std::string> UsageHeader(const Json& report) {
  std::string by = Str(report, "by");
  return {by.empty() ? "key" : by, "raw_gpu_hours", "norm_gpu_hours", "runs"};
}

// Rented capacity's money: by provider, programme and project.
std::vector<std::string> RentHeader() {
  return {"kind", "name", "spent", "reserved", "budget", "left", "gpu_hours", "rented_now"};
}

std::vector<std::vector<std::string>> RentRows(const Json& report) {
  auto money = [](const Json& r, const char* k) {
    return r.contains(k) && r[k].is_number() ? fmt::format("{:.2f}", r[k].get<double>()) : std::string("-");
  };
  std::vector<std::vector<std::string>> rows;
  for (const Json& r : report.value("rent", Json::array()))
    rows.push_back({Str(r, "kind"), Str(r, "name"), money(r, "spent"), money(r, "reserved"), money(r, "budget"),
                    money(r, "left"), r.contains("gpu_hours") ? Hours(r["gpu_hours"]) : "-",
                    std::to_string(r.value("rented_now", 0))});
  return rows;
}

std::vector<std::string> GrantsHeader() {
  return {"grant", "project", "programme", "start", "end", "active", "awarded", "used", "reserved", "left", "runs_out"};
}

std::vector<std::vector<std::string>> GrantRows(const Json& grants) {
  std::vector<std::vector<std::string>> rows;
  for (const Json& g : grants.value("grants", Json::array()))
    rows.push_back({Str(g, "id"), Str(g, "project"), Str(g, "programme"), Str(g, "start"), Str(g, "end"),
                    g.value("active", false) ? "yes" : "no", Hours(g["awarded_gpu_hours"]), Hours(g["used_gpu_hours"]),
                    Hours(g["reserved_gpu_hours"]), Hours(g["left_gpu_hours"]),
                    g.contains("runs_out") && g["runs_out"].is_string() ? g["runs_out"].get<std::string>() : "-"});
  return rows;
}

std::string ReadInput(const std::string& path) {
  if (path == "-") return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  std::ifstream in(path);
  if (!in) UsageError(fmt::format("-f {}: cannot read the file", path));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void Print(const std::string& s) { std::fputs(s.c_str(), stdout); }

struct UsageArgs {
  Conn conn;
  Format fmt;
  std::string by = "project", from, to, project;
  bool rent = false;  // only the money spent on rented capacity
};

struct GrantsArgs {
  Conn conn;
  Format fmt;
  std::string project;
};

struct AdminArgs {
  Conn conn;
  bool json = false;
  std::string file;
};

struct GrantAddArgs {
  Conn conn;
  bool json = false;
  std::string id, project, programme, start, end;
  double gpu_hours = 0;
};

void RunUsage(const UsageArgs& a) {
  std::string path = "/api/v1/usage?by=" + UrlEscape(a.by);
  if (!a.from.empty()) path += "&from=" + UrlEscape(a.from);
  if (!a.to.empty()) path += "&to=" + UrlEscape(a.to);
  if (!a.project.empty()) path += "&project=" + UrlEscape(a.project);
  ApiClient client(a.conn.Config());
  const Json report = client.GetJson(path);
  if (a.fmt.json) return Print(Dump(report) + "\n");
  if (a.rent) {
    if (a.fmt.csv) return Print(CsvOf(RentHeader(), RentRows(report)));
    if (!report.contains("rent")) return Print("no providers: nothing is rented (docs/renting.md)\n");
    return Print(TableOf(RentHeader(), RentRows(report)));
  }
  if (a.fmt.csv) return Print(UsageCsv(report));
  Print(UsageTable(report));
  // Rented capacity (its GPU-hours are in the rows above, like owned ones).
  if (report.contains("rent")) Print("\nrented capacity (money):\n" + TableOf(RentHeader(), RentRows(report)));
}

void RunGrants(const GrantsArgs& a) {
  std::string path = "/api/v1/grants";
  if (!a.project.empty()) path += "?project=" + UrlEscape(a.project);
  ApiClient client(a.conn.Config());
  const Json grants = client.GetJson(path);
  if (a.fmt.json) Print(Dump(grants) + "\n");
  else if (a.fmt.csv) Print(GrantsCsv(grants));
  else Print(GrantsTable(grants));
}

std::string Summary(const Json& org) {
  auto n = [&](const char* k) { return org.contains(k) ? org[k].size() : 0; };
  return fmt::format("{} programmes, {} organisations, {} projects, {} grants, {} members", n("programmes"),
                     n("organisations"), n("projects"), n("grants"), n("members"));
}

void RunApply(const AdminArgs& a) {
  const std::string text = ReadInput(a.file);
  auto parsed = api::ParseJson(text);
  if (!parsed.ok()) UsageError(fmt::format("{}: {}", a.file, parsed.error().message));
  ApiClient client(a.conn.Config());
  const Json org = client.PutJson("/api/v1/org", text);
  if (a.json) Print(Dump(org) + "\n");
  else Print(fmt::format("applied: {}\n", Summary(org)));
}

void RunShow(const AdminArgs& a) {
  ApiClient client(a.conn.Config());
  const Json org = client.GetJson("/api/v1/org");
  if (a.json) return Print(Dump(org) + "\n");
  Print(Summary(org) + "\n");
  const Json projects = client.GetJson("/api/v1/projects");
  std::vector<std::vector<std::string>> rows;
  for (const Json& p : projects.value("projects", Json::array())) {
    std::string members;
    for (const Json& m : p.value("members", Json::array()))
      members += (members.empty() ? "" : " ") + Str(m, "user") + (Str(m, "role") == "lead" ? "*" : "");
    std::string grants;
    for (const Json& g : p.value("grants", Json::array())) grants += (grants.empty() ? "" : " ") + g.get<std::string>();
    const std::string limit = p.contains("borrow_limit") ? std::to_string(p["borrow_limit"].get<int>()) : "-";
    rows.push_back({Str(p, "name"), Str(p, "organisation"), Str(p, "programme"), fmt::format("{:g}", p.value("share", 1.0)),
                    std::to_string(p.value("guaranteed_gpus", 0)), limit, members.empty() ? "-" : members,
                    grants.empty() ? "-" : grants});
  }
  Print(TableOf({"project", "organisation", "programme", "share", "guaranteed", "borrow", "members (*lead)", "grants"}, rows));
}

void RunGrantAdd(const GrantAddArgs& a) {
  Json g{{"project", a.project}, {"gpu_hours", a.gpu_hours}, {"start", a.start}, {"end", a.end}};
  g["id"] = a.id.empty() ? fmt::format("{}-{}", a.project, a.start.substr(0, 10)) : a.id;
  if (!a.programme.empty()) g["programme"] = a.programme;
  ApiClient client(a.conn.Config());
  const Json view = client.PostJson("/api/v1/grants", g.dump());
  if (a.json) return Print(Dump(view) + "\n");
  Print(GrantsTable(Json{{"grants", Json::array({view})}}));
}

struct RosterArgs {
  Conn conn;
  bool json = false;
  std::string project, file;
};

void RunRosterImport(const RosterArgs& a) {
  std::ifstream in(a.file);
  if (!in) UsageError(fmt::format("{}: cannot read the file", a.file));
  std::string text(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>{});
  auto roster = api::RosterFromCsv(std::move(text), a.file, a.project);
  if (!roster.ok()) UsageError(roster.error().message);
  ApiClient client(a.conn.Config());
  const Json r = client.PostJson("/api/v1/projects/" + UrlEscape(a.project) + "/roster", api::RosterJson(*roster).dump());
  if (a.json) return Print(Dump(r) + "\n");
  Print(fmt::format("{} added, {} removed, {} updated; project {} has {} members (leads included)\n",
                    r.value("added", 0), r.value("removed", 0), r.value("updated", 0), a.project, r.value("members", 0)));
}

struct ReservationArgs {
  Conn conn;
  bool json = false;
  std::string name, project, gpu_model, start, duration;
  int gpus = 0;
  bool weekly = false;
};

std::string ReservationWindow(const Json& r) {
  auto it = r.find("next_window");
  if (it == r.end() || !it->is_object()) return "ended";
  return Str(*it, "start") + " .. " + Str(*it, "end");
}

std::vector<std::vector<std::string>> ReservationRows(const Json& list) {
  std::vector<std::vector<std::string>> rows;
  for (const Json& r : list.value("reservations", Json::array())) {
    std::string nodes;
    for (const Json& n : r.value("nodes", Json::array())) nodes += (nodes.empty() ? "" : ",") + n.get<std::string>();
    if (!r.value("held", false)) nodes = "- (" + (Str(r, "not_held").empty() ? "not held" : Str(r, "not_held")) + ")";
    rows.push_back({Str(r, "name"), Str(r, "project"), std::to_string(r.value("gpus", 0)),
                    Str(r, "gpu_model").empty() ? "any" : Str(r, "gpu_model"), ReservationWindow(r),
                    Duration(r.value("duration_s", Seconds{0})), r.value("weekly", false) ? "yes" : "no", nodes});
  }
  return rows;
}

void RunReservationCreate(const ReservationArgs& a) {
  auto duration = ParseSpan(a.duration);
  if (!duration.ok()) UsageError(fmt::format("--duration: {}", duration.error().message));
  Json r{{"name", a.name}, {"project", a.project}, {"gpus", a.gpus}, {"start", a.start},
         {"duration_s", *duration}, {"weekly", a.weekly}};
  if (!a.gpu_model.empty()) r["gpu_model"] = a.gpu_model;
  ApiClient client(a.conn.Config());
  const Json view = client.PostJson("/api/v1/reservations", r.dump());
  if (a.json) return Print(Dump(view) + "\n");
  Print(TableOf(ReservationsHeader(), ReservationRows(Json{{"reservations", Json::array({view})}})));
}

void RunReservationList(const ReservationArgs& a) {
  ApiClient client(a.conn.Config());
  const Json list = client.GetJson("/api/v1/reservations");
  if (a.json) return Print(Dump(list) + "\n");
  if (list.value("reservations", Json::array()).empty()) return Print("no reservations\n");
  Print(ReservationsTable(list));
}

void RunReservationDelete(const ReservationArgs& a) {
  ApiClient client(a.conn.Config());
  const Json view = client.DeleteJson("/api/v1/reservations/" + UrlEscape(a.name));
  if (a.json) return Print(Dump(view) + "\n");
  Print(fmt::format("deleted reservation {}\n", a.name));
}

}  // namespace

std::vector<std::string> ReservationsHeader() {
  return {"name", "project", "gpus", "gpu_model", "next window (UTC)", "duration", "weekly", "nodes"};
}
std::string ReservationsTable(const Json& list) { return TableOf(ReservationsHeader(), ReservationRows(list)); }

Result<Seconds> ParseSpan(std::string_view text) {
  // "7200", "120m", "2h", "1h30m", "90s", "1d": units s, m, h, d; a bare number is seconds.
  if (text.empty()) return InvalidArgument("expected a duration such as 2h, 120m, 1h30m or 7200 (seconds), got \"\"");
  auto bad = [&] {
    return InvalidArgument(fmt::format("expected a duration such as 2h, 120m, 1h30m or 7200 (seconds), got \"{}\"", text));
  };
  Seconds total = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] < '0' || text[i] > '9') return bad();
    Seconds n = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      n = n * 10 + (text[i] - '0');
      if (n > Seconds{366} * 86400) return bad();
    }
    Seconds unit = 1;
    if (i < text.size()) {
      switch (text[i]) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        default: return bad();
      }
      ++i;
    } else if (total != 0) {
      return bad();  // "1h30": a unit is needed after the first part
    }
    total += n * unit;
    if (total > Seconds{366} * 86400) return bad();
  }
  if (total <= 0) return bad();
  return total;
}

std::string UsageTable(const Json& report) { return TableOf(UsageHeader(report), UsageRows(report, true)); }
std::string UsageCsv(const Json& report) { return CsvOf(UsageHeader(report), UsageRows(report, false)); }
std::string GrantsTable(const Json& grants) { return TableOf(GrantsHeader(), GrantRows(grants)); }
std::string GrantsCsv(const Json& grants) { return CsvOf(GrantsHeader(), GrantRows(grants)); }

void AddOrgCommands(CLI::App& app) {
  {
    auto a = std::make_shared<UsageArgs>();
    CLI::App* sub = app.add_subcommand("usage", "GPU usage in raw and normalised GPU-hours (running jobs to date included)");
    sub->add_option("--by", a->by, "Group by: programme, organisation, project, user or gpu_model")
        ->check(CLI::IsMember({"programme", "organisation", "project", "user", "gpu_model"}))
        ->capture_default_str();
    sub->add_option("--from", a->from, "Start of the range: 2026-01-01, 2026-01-01T00:00:00Z or Unix seconds");
    sub->add_option("--to", a->to, "End of the range (exclusive); runs across its ends are pro-rated");
    sub->add_option("--project", a->project, "Only this project's usage (e.g. --project P --by user: each student's)");
    sub->add_flag("--rent", a->rent,
                  "Only the money spent on rented capacity, by provider, programme and project (since the start; "
                  "--from/--to do not apply)");
    AddFormat(sub, a->fmt);
    AddConn(sub, a->conn);
    sub->callback([a] { RunUsage(*a); });
  }
  {
    auto a = std::make_shared<GrantsArgs>();
    CLI::App* sub = app.add_subcommand("grants", "Grants: awarded, used, reserved and left normalised GPU-hours, and when "
                                                 "each runs out at the current rate");
    sub->add_option("--project", a->project, "Only this project's grants");
    AddFormat(sub, a->fmt);
    AddConn(sub, a->conn);
    sub->callback([a] { RunGrants(*a); });
  }
  CLI::App* admin = app.add_subcommand("admin", "Administration: the organisation model (programmes, projects, grants, members), users and tokens");
  admin->require_subcommand(1);
  {
    auto a = std::make_shared<AdminArgs>();
    CLI::App* sub = admin->add_subcommand("apply", "Replace the organisation model with a document (docs/org-config.md)");
    sub->add_option("-f,--file", a->file, "The JSON document ('-' reads standard input)")->required();
    sub->add_flag("--json", a->json, "Print the model as applied");
    AddConn(sub, a->conn);
    sub->callback([a] { RunApply(*a); });
  }
  {
    auto a = std::make_shared<AdminArgs>();
    CLI::App* sub = admin->add_subcommand("show", "Show the organisation model (--json: the document, for apply)");
    sub->add_flag("--json", a->json, "Print the document");
    AddConn(sub, a->conn);
    sub->callback([a] { RunShow(*a); });
  }
  {
    CLI::App* roster = admin->add_subcommand("roster", "A course's roster: a project's members from a CSV file");
    roster->require_subcommand(1);
    auto a = std::make_shared<RosterArgs>();
    CLI::App* sub = roster->add_subcommand(
        "import", "Make PROJECT's members exactly the logins of FILE (CSV with the header login,name,email; email "
                  "optional): absent ones are added, members not in it removed (leads never are). The same file again "
                  "changes nothing");
    sub->add_option("project", a->project, "The project")->required();
    sub->add_option("file", a->file, "The roster (CSV)")->required();
    sub->add_flag("--json", a->json, "Print JSON");
    AddConn(sub, a->conn);
    sub->callback([a] { RunRosterImport(*a); });
  }
  {
    CLI::App* res = admin->add_subcommand("reservation", "Reservations: whole nodes held for a project during a window "
                                                          "(a course's lab), optionally every week");
    res->require_subcommand(1);
    auto c = std::make_shared<ReservationArgs>();
    CLI::App* sub = res->add_subcommand("create", "Reserve GPUs (on whole nodes) for a project from --start for --duration");
    sub->add_option("--name", c->name, "The reservation's name")->required();
    sub->add_option("--project", c->project, "The project whose jobs use the reserved nodes")->required();
    sub->add_option("--gpus", c->gpus, "GPUs to hold (whole nodes, as few as hold this many)")->required();
    sub->add_option("--gpu-model", c->gpu_model, "Only nodes of this GPU model, e.g. H100");
    sub->add_option("--start", c->start, "The (first) window's start, ISO 8601 UTC, e.g. 2026-01-06T14:00:00Z")->required();
    sub->add_option("--duration", c->duration, "The window's length: 2h, 120m, 1h30m or seconds (7200)")->required();
    sub->add_flag("--weekly", c->weekly, "Repeat every 7 days");
    sub->add_flag("--json", c->json, "Print JSON");
    AddConn(sub, c->conn);
    sub->callback([c] { RunReservationCreate(*c); });
    auto l = std::make_shared<ReservationArgs>();
    sub = res->add_subcommand("list", "Reservations with their next window and the nodes they hold");
    sub->add_flag("--json", l->json, "Print JSON");
    AddConn(sub, l->conn);
    sub->callback([l] { RunReservationList(*l); });
    auto d = std::make_shared<ReservationArgs>();
    sub = res->add_subcommand("delete", "Remove a reservation; its nodes are free at once");
    sub->add_option("name", d->name, "The reservation's name")->required();
    sub->add_flag("--json", d->json, "Print the removed reservation as JSON");
    AddConn(sub, d->conn);
    sub->callback([d] { RunReservationDelete(*d); });
  }
  {
    CLI::App* grant = admin->add_subcommand("grant", "Grants");
    grant->require_subcommand(1);
    auto a = std::make_shared<GrantAddArgs>();
    CLI::App* sub = grant->add_subcommand("add", "Award normalised GPU-hours to a project for [start, end)");
    sub->add_option("--project", a->project, "The project")->required();
    sub->add_option("--gpu-hours", a->gpu_hours, "Normalised GPU-hours awarded")->required()->check(CLI::PositiveNumber);
    sub->add_option("--start", a->start, "First day, e.g. 2026-01-01 (ISO 8601 UTC)")->required();
    sub->add_option("--end", a->end, "End (exclusive), e.g. 2027-01-01")->required();
    sub->add_option("--id", a->id, "Grant id (default: PROJECT-START)");
    sub->add_option("--programme", a->programme, "Funding programme (default: the project's)");
    sub->add_flag("--json", a->json, "Print JSON");
    AddConn(sub, a->conn);
    sub->callback([a] { RunGrantAdd(*a); });
  }
}

}  // namespace kojo::cli
