#!/usr/bin/env bash
# Builds and runs every test: the optimised build, then the same tests under
# AddressSanitizer + UndefinedBehaviorSanitizer, then the controller's and the
# agent's tests (their daemons included) under ThreadSanitizer (KOJO_TSAN=0
# skips them), then every libFuzzer target
# (clang, installed if missing) for KOJO_FUZZ_SECONDS (default 20; 0 skips)
# on its seed corpus and regression inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
for preset in release asan; do
  echo "== kojo tests: $preset ==" >&2
  bash scripts/build.sh "$preset"
  ctest --preset "$preset" -j "$(nproc)"
done

if [[ ${KOJO_TSAN:-1} != 0 ]]; then
  # Only what the concurrent tests need: the other modules' tests are not
  # built, and ctest lists them as *_NOT_BUILT.
  echo "== kojo tests: tsan (the controller's and the agent's tests) ==" >&2
  bash scripts/build.sh tsan controller_test agent_test
  ctest --preset tsan -j "$(nproc)" -E '_NOT_BUILT$'
fi

fuzz_seconds=${KOJO_FUZZ_SECONDS:-20}
if ((fuzz_seconds > 0)); then
  echo "== kojo tests: fuzz, ${fuzz_seconds} s per target ==" >&2
  bash scripts/fuzz.sh "$fuzz_seconds"
fi
