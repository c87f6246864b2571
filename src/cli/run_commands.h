// `kojo run` and `kojo attach` (internal to the cli module).
//
// `kojo run [submit options] [--pty] [--] COMMAND [ARGS...]` submits the
// command as a job (kojo submit's options; the caller's environment goes
// with it, as with srun) and waits for it to start. Without --pty it then
// prints the job's output and error as they come; with --pty the job runs
// in a terminal on its node and this one is relayed to it through kojod
// (raw mode, window size, every key including Ctrl-C and Ctrl-D). Either
// way `kojo run` exits with the job's status (128+N when a signal N ended
// it). `kojo attach JOB` reconnects to the terminal of a running --pty
// job: a session outlives its client (it runs until it ends or reaches its
// time limit).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/units.h"

namespace kojo::cli {

// When argv is `run`, `attach` or `notebook`, runs it, sets `rc` and
// returns true.
bool MaybeRunTerminal(int argc, char** argv, int& rc);
// `kojo notebook` (notebook_command.cc).
int RunNotebook(std::vector<std::string> args);

struct ServerConfig;
class ApiClient;

// Where a reader of a job's output (kojo run, srun) has got to in its
// stdout (0) and stderr (1).
struct OutputCursor {
  std::int64_t offset[2] = {0, 0};
  bool eof[2] = {false, false};
  bool Done() const { return eof[0] && eof[1]; }
};
// Writes what job `id` has added to its stdout and stderr since `cur` to
// this process's stdout and stderr, and moves `cur` on. `ended`: the job
// has ended, so a stream whose log says it is complete (or is gone) is
// done. Returns whether any bytes came.
bool CopyJobOutput(ApiClient& client, JobId id, bool ended, OutputCursor& cur);
// Relays this terminal to the terminal of the --pty job `id` until it ends
// (returns the job's status), or until a signal stops this client (then
// the session runs on and the process exits 128+signal). Throws CliError
// (exit 2) when standard input is not a terminal or the job has none.
int RelayTerminal(const ServerConfig& config, JobId id, bool quiet);

}  // namespace kojo::cli
