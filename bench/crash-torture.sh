#!/usr/bin/env bash
# Crash torture, longer than CI's: the two CrashTorture tests of
# tests/controller/torture_test.cc (a real kojod and kojo-agent with
# emulated GPUs under a mixed load, kojod killed with SIGKILL at random
# moments and restarted, the agent now and then too; in the second test one
# round in three freezes the agent past the node timeout instead; the
# invariants checked after every round) with N rounds each and a seed.
#
#   bench/crash-torture.sh [N] [--seed S] [--build DIR]
#
# N defaults to 100; the seed to one made from the time (printed, so a
# failure can be replayed with --seed). Builds the release preset's
# controller tests first. Ends with each test's summary line:
#   seed: S kojod_kills: N agent_kills: K agent_freezes: F requests: R
#   acknowledged: A jobs: J cancels: C checks: X lost: 0 ran_twice: 0
#   stuck: 0; grant_used_gpu_hours=G STATE=count ...
set -euo pipefail
cd "$(dirname "$0")/.."
kills=100
seed=$(( $(date +%s) % 100000 ))
build=build/release
while (($#)); do
  case $1 in
    --seed) seed=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n "2,16p" "$0"; exit 0 ;;
    *) kills=$1; shift ;;
  esac
done
if [[ $build == build/release ]]; then
  bash scripts/build.sh release >/dev/null
fi
echo "crash torture: $kills kills, seed $seed" >&2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
start=$(date +%s)
status=0
KOJO_TORTURE_KILLS=$kills KOJO_TORTURE_SEED=$seed \
  "$build/tests/controller_test" --gtest_filter='CrashTorture.*' >"$out" 2>&1 || status=$?
cat "$out" >&2
echo "seconds: $(( $(date +%s) - start ))"
grep '^seed:' "$out" || true
exit "$status"
