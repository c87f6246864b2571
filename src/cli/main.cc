// The `kojo` executable.
#include "cli/cli.h"

int main(int argc, char** argv) { return kojo::cli::Main(argc, argv); }
