#!/usr/bin/env bash
# Builds and runs every test: the optimised build, then the same tests under
# AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
for preset in release asan; do
  echo "== kojo tests: $preset ==" >&2
  bash scripts/build.sh "$preset"
  ctest --preset "$preset" -j "$(nproc)"
done
