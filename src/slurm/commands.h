// Slurm's client commands, speaking kojo's REST API: sbatch, squeue,
// scancel, sacct, sacctmgr, sinfo, srun, salloc and scontrol
// (docs/slurm.md). One executable, kojo-slurm, runs the command its name
// (argv[0], through a symlink) or its first argument names.
#pragma once

#include <string>
#include <vector>

namespace kojo::slurm {

// The commands, in the order `kojo-slurm --help` lists them.
const std::vector<std::string>& CommandNames();

// Runs `command` with `args` (argv after the command's name); returns the
// exit code. Errors are printed as "<command>: error: ..." on stderr.
int RunCommand(const std::string& command, const std::vector<std::string>& args);

// The entry point: dispatches on argv[0]'s base name, else argv[1].
int Main(int argc, char** argv);

}  // namespace kojo::slurm
