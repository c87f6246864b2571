// The `kojo sim` subcommands (internal to the cli module).
#pragma once

#include <CLI/CLI.hpp>

namespace kojo::cli {

// Adds `run` and `compare` (trace replay) to the `sim` command.
void AddSimReplayCommands(CLI::App& sim);
// Adds `pack` (the FGD packing experiment) to the `sim` command; `compare`
// also accepts its inputs (--nodes/--pods), see AddSimReplayCommands.
void AddSimPackCommands(CLI::App& sim);

// Runs the pack variant of `kojo sim compare`.
void RunPackCompare(const std::string& nodes, const std::string& pods, const std::string& placers,
                    const std::string& seeds, double inflate, const std::string& out, bool json);

}  // namespace kojo::cli
