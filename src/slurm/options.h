// A getopt_long-style reader for the Slurm commands' options: "--name=v",
// "--name v", "-x v", "-xv", clustered flags "-hP", unique prefixes of long
// names, "--" ends the options. `stop_at_command` (srun, sbatch): the first
// argument that is not an option ends them, as with "+" in getopt.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace kojo::slurm {

enum class ArgKind { kNone, kRequired, kOptional };

struct OptSpec {
  std::string_view name;  // long name, without "--"
  char short_name = 0;    // 0 = none
  ArgKind arg = ArgKind::kNone;
};

struct ParsedOpt {
  std::string name;   // the long name of its spec
  std::string value;  // empty for flags
  std::string given;  // as written, e.g. "-o" or "--format", for messages
};

struct ParsedArgs {
  std::vector<ParsedOpt> opts;
  std::vector<std::string> positional;
};

Result<ParsedArgs> ParseArgs(const std::vector<std::string>& args, const std::vector<OptSpec>& specs,
                             bool stop_at_command);

}  // namespace kojo::slurm
