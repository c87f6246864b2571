// The user commands of `kojo` that talk to the controller: submit, queue,
// show, cancel, hold, release, logs, nodes, drain, resume (internal to the
// cli module).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "api/codec.h"
#include "cli/sbatch.h"

namespace kojo::cli {

// Registers the commands on the top-level app (and its help footer: exit
// codes and where the controller's address comes from).
void AddJobCommands(CLI::App& app);

// `kojo submit` has sbatch's option grammar (sbatch.h), which CLI11 does not
// speak: when argv is a submit, runs it, sets `rc` and returns true.
bool MaybeRunSubmit(int argc, char** argv, int& rc);

class ApiClient;

// How a submitting command reads its command line: `kojo submit` speaks
// kojo's dialect (-p is --project); the `sbatch` and `srun` commands speak
// sbatch's (Origin::kSbatchDirective: -p is --partition, kojo's own options
// are refused). `command_only`: the first argument is always a command to
// run (srun), never a script read for directives.
struct SubmitDialect {
  Origin command_line = Origin::kCommandLine;
  std::string program = "kojo";  // prefixes warnings on stderr
  bool command_only = false;
  // --export when neither the command line nor a directive gives one:
  // kojo submit's default is NONE, sbatch's and srun's is ALL.
  std::optional<std::string> default_export;
  // sbatch writes a job's output to slurm-%j.out (an array task's to
  // slurm-%A_%a.out) in the working directory when no -o is given.
  bool slurm_output_default = false;
};

struct PreparedSubmit {
  bool help = false;  // --help was asked for: nothing else is set
  SubmitOptions opts;
  Payload payload;
  api::JobSpec spec;
};

// Reads a submit's command line, the script and its directives (sbatch.h)
// into the job to submit; prints the options' warnings; throws CliError
// (exit 2) for anything invalid.
PreparedSubmit PrepareSubmit(const std::vector<std::string>& args, const SubmitDialect& dialect);

// POST /api/v1/jobs with a fresh Idempotency-Key: the reply and its ids.
std::pair<api::Json, std::vector<JobId>> PostJob(ApiClient& client, const api::JobSpec& spec);

}  // namespace kojo::cli
