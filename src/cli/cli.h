// The `kojo` command line: argument parsing and the commands. Main() never
// lets an exception out: every failure becomes one line on stderr and an
// exit code (0 ok, 1 runtime failure, 2 usage or input error).
#pragma once

namespace kojo::cli {

int Main(int argc, char** argv);

}  // namespace kojo::cli
