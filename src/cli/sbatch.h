// `kojo submit`'s options and job scripts, without I/O: the option grammar
// (shared by the command line, `#KOJO` and `#SBATCH` directives), sbatch's
// rules for reading directives, its time, memory and GPU formats, and the
// conversion of everything into the api::JobSpec that is submitted.
//
// sbatch's rules followed here (see docs/cli.md for the full table):
//  * directives are lines that begin, in column 0, with "#SBATCH" (or
//    "#KOJO" for kojo's own options); "# SBATCH", "#sbatch" and an indented
//    "#SBATCH" are comments;
//  * reading stops at the first line whose first non-blank character is not
//    '#': blank lines and comments do not stop it;
//  * a directive's text is split like sbatch does: whitespace separates
//    arguments, '...' and "..." group, a backslash escapes the next
//    character (but, as in sbatch, whitespace still ends the argument), an
//    unescaped '#' starts a comment;
//  * options are getopt_long's: "--opt=value", "--opt value", "-o value",
//    "-ovalue", unambiguous prefixes of long names, "--" ends the options;
//    on the command line the first argument that is not an option is the
//    script or command, and everything after it is its arguments;
//  * the command line overrides the directives.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/types.h"
#include "common/result.h"

namespace kojo::cli {

// Where an option came from. The command line and #KOJO lines speak kojo's
// dialect (-p is --project); #SBATCH lines speak sbatch's (-p is
// --partition, and kojo-only options are refused).
enum class Origin { kCommandLine, kKojoDirective, kSbatchDirective };

// The arguments of one directive line.
struct Directive {
  int line = 0;  // 1-based
  Origin origin = Origin::kSbatchDirective;
  std::vector<std::string> args;
};

// Splits the text after "#SBATCH" into arguments with sbatch's rules.
Result<std::vector<std::string>> SplitDirectiveArgs(std::string_view text);

// The directives at the top of `script` (up to the first command line).
// "#SLURM" lines (an old spelling) count as #SBATCH lines.
Result<std::vector<Directive>> ReadDirectives(std::string_view script);

// sbatch's --time: "minutes", "minutes:seconds", "hours:minutes:seconds",
// "days-hours", "days-hours:minutes", "days-hours:minutes:seconds"; "0",
// "-1", "INFINITE" and "UNLIMITED" mean no limit (nullopt). Unlike Slurm,
// which rounds up to whole minutes, kojo keeps the seconds.
Result<std::optional<Seconds>> ParseTimeLimit(std::string_view text);

// sbatch's memory sizes, as Slurm 22.05's sbatch parses them: optional
// leading white space and sign, a decimal integer, and an optional unit K, M,
// G or T (either case) optionally followed by B or b ("16GB" = "16G"). The
// default unit is megabytes (MiB, as in Slurm); kilobytes round up to whole
// MiB. "-0" is 0; fractions, "iB" units, other negative numbers and anything
// after the unit are refused, as sbatch refuses them; so is more than 4 PiB.
Result<MiB> ParseMemory(std::string_view text);

struct GpuCount {
  std::string type;  // empty = any
  int count = 0;
};
// "[type:]N" (--gpus, --gpus-per-node, --gpus-per-task).
Result<GpuCount> ParseGpuCount(std::string_view text);
// --gres: "gpu", "gpu:N", "gpu:type", "gpu:type:N", or a comma list where
// only one item names gpu; "none" = no GPUs. Other generic resources are
// refused.
Result<GpuCount> ParseGres(std::string_view text);

// Everything the options say. Unset = not given by any source so far.
struct SubmitOptions {
  enum class GpuScope { kTotal, kPerNode, kPerTask };
  struct Gpus {
    GpuScope scope = GpuScope::kTotal;
    GpuCount count;
    std::string flag;  // the option that set it, for messages
  };
  enum class MemScope { kPerNode, kPerCpu, kPerGpu };
  struct Mem {
    MemScope scope = MemScope::kPerNode;
    MiB mib = 0;
    std::string flag;
  };
  enum class CpuScope { kPerTask, kPerGpu };
  struct Cpus {
    CpuScope scope = CpuScope::kPerTask;
    int count = 0;
    std::string flag;
  };

  std::optional<std::string> name, output, error, array, chdir, project, wrap, export_spec;
  std::optional<std::optional<Seconds>> time_limit;
  std::optional<int> nodes, ntasks, ntasks_per_node, gpu_milli;
  std::optional<Gpus> gpus;
  std::optional<Mem> mem;
  std::optional<Cpus> cpus;
  std::optional<std::vector<std::string>> gpu_models;
  std::optional<std::string> constraint;
  std::optional<std::vector<std::string>> partitions, nodelist, exclude;
  std::optional<bool> hold, requeue;
  bool no_rent = false;  // --no-rent (#KOJO only): owned nodes only
  std::vector<std::pair<std::string, std::string>> env;  // --env K=V, in order

  // Command-line only.
  bool dry_run = false, json = false, parsable = false, quiet = false, help = false;
  std::optional<std::string> server, token;

  std::vector<std::string> warnings;  // ignored options, for stderr
};

// Which options one source (the command line, or all the directives of a
// script) has set: within one source --mem/--mem-per-cpu/--mem-per-gpu,
// the GPU forms and -c/--cpus-per-gpu are mutually exclusive, as in sbatch;
// a later source replaces an earlier one's choice.
struct SourceState {
  std::string mem_flag, gpu_flag, cpu_flag;
};

// Applies `args` to `opts`. On the command line it stops at the first
// argument that is not an option (after "--", at the next one) and returns
// its index (args.size() when there is none); a directive's arguments must
// all be options. `where` prefixes messages, e.g. "job.sh:3: ".
Result<size_t> ApplyOptions(const std::vector<std::string>& args, Origin origin, SubmitOptions& opts,
                            SourceState& state, const std::string& where = "");

// What runs: a command (argv) or a script (text, with its arguments).
struct Payload {
  std::vector<std::string> command;
  std::string script;
  std::string script_name;               // the file's name, for the default job name
  std::vector<std::string> script_args;  // after the script name on the command line
};

// The submitting side: needed to resolve relative paths, %u, --export.
struct SubmitContext {
  std::string cwd;   // absolute
  std::string user;
  std::function<std::optional<std::string>(const std::string&)> getenv;
  std::vector<std::pair<std::string, std::string>> environment;  // for --export=ALL
};

// The job as it will be submitted, validated by the API's own decoder.
// Conversions that lose something add to opts.warnings.
Result<api::JobSpec> ResolveJob(SubmitOptions& opts, const Payload& payload, const SubmitContext& ctx);

// The usage text of `kojo submit`.
std::string SubmitHelp();

}  // namespace kojo::cli
