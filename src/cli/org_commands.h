// The organisation and accounting commands of `kojo` (internal to the cli
// module): usage, grants, and admin apply / show / grant add /
// reservation create, list, delete.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "api/codec.h"
#include "common/result.h"
#include "model/units.h"

namespace kojo::cli {

// Registers `usage`, `grants` and `admin` on the top-level app.
void AddOrgCommands(CLI::App& app);

// Rendering, for tests: a usage report or grant list (the API's JSON) as
// a table or as CSV (header line first; RFC 4180 quoting).
std::string UsageTable(const api::Json& report);
std::string UsageCsv(const api::Json& report);
std::string GrantsTable(const api::Json& grants);
std::string GrantsCsv(const api::Json& grants);
// GET /reservations as a table.
std::vector<std::string> ReservationsHeader();
std::string ReservationsTable(const api::Json& list);

// A duration: "7200" (seconds), "120m", "2h", "1h30m", "90s", "1d"; above 0
// and at most 366 days.
Result<Seconds> ParseSpan(std::string_view text);

}  // namespace kojo::cli
