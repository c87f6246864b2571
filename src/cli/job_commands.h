// The user commands of `kojo` that talk to the controller: submit, queue,
// show, cancel, hold, release, logs, nodes, drain, resume (internal to the
// cli module).
#pragma once

#include <CLI/CLI.hpp>

namespace kojo::cli {

// Registers the commands on the top-level app (and its help footer: exit
// codes and where the controller's address comes from).
void AddJobCommands(CLI::App& app);

// `kojo submit` has sbatch's option grammar (sbatch.h), which CLI11 does not
// speak: when argv is a submit, runs it, sets `rc` and returns true.
bool MaybeRunSubmit(int argc, char** argv, int& rc);

}  // namespace kojo::cli
