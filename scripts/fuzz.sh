#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang, only the targets
# and the code they test) and runs each one for SECONDS_PER_TARGET (default
# 20) on its seed corpus, after replaying its regression inputs. Exits
# non-zero if any target crashes, leaks, trips a sanitizer, hangs (> 5 s on
# one input) or exceeds 2 GiB. New corpus entries go to a temporary folder:
# the committed corpus is not modified. A failing input is kept under
# build/fuzz/artifacts/; add it to fuzz/regressions/TARGET/ with the fix.
#
#   bash scripts/fuzz.sh            # 20 s per target
#   bash scripts/fuzz.sh 600        # longer
#   KOJO_FUZZ_TARGETS="sbatch_fuzz" bash scripts/fuzz.sh 60
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
read -r -a targets <<<"${KOJO_FUZZ_TARGETS:-api_codec_fuzz sbatch_fuzz org_config_fuzz heartbeat_fuzz trace_reader_fuzz}"
declare -A dicts=([api_codec_fuzz]=api [org_config_fuzz]=api [heartbeat_fuzz]=api [sbatch_fuzz]=sbatch
                  [trace_reader_fuzz]=trace)

bash scripts/deps.sh --fuzz  # clang and libFuzzer's runtime, if missing
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/kojo-ccache}
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"

bin=build/fuzz/fuzz
artifacts=build/fuzz/artifacts
mkdir -p "$artifacts"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
for t in "${targets[@]}"; do
  opts=(-timeout=5 -rss_limit_mb=2048 -artifact_prefix="$artifacts/$t-")
  [[ -n ${dicts[$t]:-} ]] && opts+=(-dict="fuzz/dicts/${dicts[$t]}.dict")
  # Every input that once failed must pass now.
  shopt -s nullglob
  regressions=(fuzz/regressions/"$t"/*)
  shopt -u nullglob
  if ((${#regressions[@]})); then
    if ! "$bin/$t" "${opts[@]}" "${regressions[@]}" >"$work/$t.replay.log" 2>&1; then
      tail -n 40 "$work/$t.replay.log" >&2
      echo "kojo fuzz: $t: a regression input fails again" >&2
      failed+=("$t")
      continue
    fi
  fi
  mkdir "$work/$t"
  if "$bin/$t" "${opts[@]}" -max_total_time="$seconds" -print_final_stats=1 \
      "$work/$t" "fuzz/corpus/$t" >"$work/$t.log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t.log")
    cov=$(grep -o 'cov: [0-9]*' "$work/$t.log" | tail -n 1)
    echo "kojo fuzz: $t: ok, ${#regressions[@]} regression inputs, $execs runs in ${seconds} s ($rate/s), $cov" >&2
  else
    tail -n 60 "$work/$t.log" >&2
    echo "kojo fuzz: $t: FAILED; the input is in $artifacts/" >&2
    failed+=("$t")
  fi
done
if ((${#failed[@]})); then
  echo "kojo fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
