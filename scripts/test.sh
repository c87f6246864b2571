#!/usr/bin/env bash
# Builds and runs every test: the optimised build, then the same tests under
# AddressSanitizer + UndefinedBehaviorSanitizer, then the controller's and the
# agent's tests (their daemons included) under ThreadSanitizer (KOJO_TSAN=0
# skips them), then every libFuzzer target
# (clang, installed if missing) for KOJO_FUZZ_SECONDS (default 20; 0 skips)
# on its seed corpus and regression inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --test  # the browser, promtool, snakemake and Jupyter, if missing
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
  # kojod and kojo-agent are built with ThreadSanitizer too: every process's
  # reports go to files, so that a report in a daemon fails the run even
  # where no test noticed it.
  reports=$PWD/build/tsan/reports
  rm -rf "$reports" && mkdir -p "$reports"
  status=0
  TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp:log_path=$reports/tsan" \
    ctest --test-dir build/tsan -j "$(nproc)" -E '_NOT_BUILT$|^SlurmLive' --timeout 600 --output-on-failure --no-tests=error ||
    status=$?
  if compgen -G "$reports/tsan*" >/dev/null; then
    cat "$reports"/tsan* >&2
    echo "ThreadSanitizer reports above (from $reports)" >&2
    status=1
  fi
  ((status == 0)) || exit "$status"
fi

fuzz_seconds=${KOJO_FUZZ_SECONDS:-20}
if ((fuzz_seconds > 0)); then
  echo "== kojo tests: fuzz, ${fuzz_seconds} s per target ==" >&2
  bash scripts/fuzz.sh "$fuzz_seconds"
fi
