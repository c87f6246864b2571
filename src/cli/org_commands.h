// The organisation and accounting commands of `kojo` (internal to the cli
// module): usage, grants, and admin apply / show / grant add.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "api/codec.h"

namespace kojo::cli {

// Registers `usage`, `grants` and `admin` on the top-level app.
void AddOrgCommands(CLI::App& app);

// Rendering, for tests: a usage report or grant list (the API's JSON) as
// a table or as CSV (header line first; RFC 4180 quoting).
std::string UsageTable(const api::Json& report);
std::string UsageCsv(const api::Json& report);
std::string GrantsTable(const api::Json& grants);
std::string GrantsCsv(const api::Json& grants);

}  // namespace kojo::cli
