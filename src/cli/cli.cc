#include "cli/cli.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <new>
#include <string_view>

#include <fmt/format.h>

#include "cli/auth_commands.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/job_commands.h"
#include "cli/org_commands.h"
#include "cli/run_commands.h"

namespace kojo::cli {

namespace {

// CLI11 reports "a subcommand is required" for a mistyped command; name the
// word and the commands that exist instead.
void CheckCommandNames(const CLI::App& app, int argc, char** argv) {
  const CLI::App* level = &app;
  for (int i = 1; i < argc; ++i) {
    std::string word = argv[i];
    if (word.empty() || word[0] == '-') return;  // options: CLI11 checks them
    auto subs = level->get_subcommands([](const CLI::App*) { return true; });
    if (subs.empty()) return;
    const CLI::App* next = nullptr;
    std::string names;
    for (const CLI::App* sub : subs) {
      if (sub->get_name() == word) next = sub;
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (!next)
      throw CliError(kExitUsage, fmt::format("unknown command '{}' (expected one of: {})", word, names));
    level = next;
  }
}

// `--ca-cert FILE` (or `--ca-cert=FILE`) anywhere before a lone `--`, for
// every command: taken out of argv and passed on as KOJO_CA_CERT, which
// ResolveServer reads.
void TakeCaCert(int& argc, char** argv) {
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--") {
      while (i < argc) argv[out++] = argv[i++];
      break;
    }
    if (a == "--ca-cert") {
      if (i + 1 >= argc) throw CliError(kExitUsage, "--ca-cert: expected a file (the PEM CA certificate)");
      setenv("KOJO_CA_CERT", argv[++i], 1);
      continue;
    }
    if (a.rfind("--ca-cert=", 0) == 0) {
      setenv("KOJO_CA_CERT", argv[i] + 10, 1);
      continue;
    }
    argv[out++] = argv[i];
  }
  argc = out;
  argv[argc] = nullptr;
}

int Run(int argc, char** argv) {
  TakeCaCert(argc, argv);
  if (int rc = 0; MaybeRunSubmit(argc, argv, rc)) return rc;
  if (int rc = 0; MaybeRunTerminal(argc, argv, rc)) return rc;
  CLI::App app{"kojo: the scheduler of a shared GPU cluster.\n"
               "`kojo sim` replays real GPU-cluster traces with the scheduler's own code.",
               "kojo"};
  app.set_version_flag("--version", "kojo 0.1.0");
  app.require_subcommand(1);
  CLI::App* sim = app.add_subcommand("sim", "Trace replay and placement experiments (simulated clock)");
  sim->require_subcommand(1);
  AddSimReplayCommands(*sim);
  AddSimPackCommands(*sim);
  AddJobCommands(app);
  // Listed for --help; run by MaybeRunTerminal.
  app.add_subcommand("run", "Run a command as a job and wait for it: its output here, or with --pty an interactive "
                            "terminal (see kojo run --help)")
      ->allow_extras();
  app.add_subcommand("attach", "Reconnect to the terminal of a `kojo run --pty` job (see kojo attach --help)")
      ->allow_extras();
  app.add_subcommand("notebook", "Start a Jupyter server as a job, reached through kojod; prints its URL (see kojo "
                                 "notebook --help)")
      ->allow_extras();
  AddOrgCommands(app);  // before AddAuthCommands, which adds to its `admin`
  AddAuthCommands(app);
  app.footer(app.get_footer() + "\nHTTPS: `--ca-cert FILE` (or KOJO_CA_CERT, or \"ca_cert\" in the config file) names the CA certificate "
             "that signed the controller's; without it the system's CAs are used.");
  CheckCommandNames(app, argc, argv);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::CallForVersion&) {
    std::cout << "kojo 0.1.0\n";
    return 0;
  } catch (const CLI::ParseError& e) {
    // --help on a subcommand is reported as CallForHelp from that
    // subcommand; everything else is a usage error.
    std::string what = e.what();
    std::fprintf(stderr, "kojo: error: %s (see --help)\n", what.c_str());
    return kExitUsage;
  }
  return 0;
}

}  // namespace

int Main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const CliError& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "kojo: error: %s\n", e.what());
    return e.exit_code();
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "kojo: error: out of memory\n");
    return kExitRuntime;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kojo: error: %s\n", e.what());
    return kExitRuntime;
  } catch (...) {
    std::fprintf(stderr, "kojo: error: unexpected failure\n");
    return kExitRuntime;
  }
}

}  // namespace kojo::cli
