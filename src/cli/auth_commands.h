// `kojo whoami` and `kojo admin user|token ...` (internal to the cli module).
#pragma once

#include <CLI/CLI.hpp>

namespace kojo::cli {

// Registers `whoami` and, under `admin` (added if not there yet), `user`
// and `token`.
void AddAuthCommands(CLI::App& app);

}  // namespace kojo::cli
