#include <csignal>

#include "cli/cli.h"

int main(int argc, char** argv) {
  // A server that closes a connection early (a refused body) is an error
  // to report, not a signal that ends the CLI without a word.
  std::signal(SIGPIPE, SIG_IGN);
  return kojo::cli::Main(argc, argv);
}
