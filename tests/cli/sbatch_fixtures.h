// The submitting side the sbatch tests resolve jobs from (sbatch_test.cc,
// sbatch_corpus_test.cc): a fixed user, working directory and environment.
#pragma once

#include <optional>
#include <string>

#include "cli/sbatch.h"

namespace kojo::cli::fixtures {

inline SubmitContext Ctx() {
  SubmitContext c;
  c.cwd = "/home/ada/proj";
  c.user = "ada";
  c.getenv = [](const std::string& k) -> std::optional<std::string> {
    if (k == "HOME") return std::string("/home/ada");
    return std::nullopt;
  };
  c.environment = {{"HOME", "/home/ada"}, {"PATH", "/usr/bin"}, {"KOJO_TOKEN", "secret"}};
  return c;
}

}  // namespace kojo::cli::fixtures
