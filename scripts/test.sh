#!/usr/bin/env bash
# Builds and runs every test: the optimised build, then the same tests under
# AddressSanitizer + UndefinedBehaviorSanitizer, then every libFuzzer target
# (clang, installed if missing) for KOJO_FUZZ_SECONDS (default 20; 0 skips)
# on its seed corpus and regression inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --test  # the browser, promtool and snakemake, if missing
for preset in release asan; do
  echo "== kojo tests: $preset ==" >&2
  bash scripts/build.sh "$preset"
  ctest --preset "$preset" -j "$(nproc)"
done

fuzz_seconds=${KOJO_FUZZ_SECONDS:-20}
if ((fuzz_seconds > 0)); then
  echo "== kojo tests: fuzz, ${fuzz_seconds} s per target ==" >&2
  bash scripts/fuzz.sh "$fuzz_seconds"
fi
