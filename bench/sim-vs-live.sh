#!/usr/bin/env bash
# Replays a small trace through the live system (kojod + kojo-agents with
# emulated GPUs, jobs as real `sleep` processes) and through `kojo sim` with
# the same scheduler settings, and prints both schedules side by side; the
# last two lines are `order_agreement: X` and `max_start_diff_s: Y`
# (bench/sim_vs_live.cc says how they are counted).
#
#   bash bench/sim-vs-live.sh [TRACE [CLUSTER]] [-- more options of kojo_sim_vs_live]
#   bash bench/sim-vs-live.sh data/samples/philly-scaled-300.csv 6x8xH100 -- --policy fairshare
#
# Default: the shipped sample data/samples/philly-scaled-300.csv (300 Philly
# jobs, times already scaled to about a minute of submissions) on 6 nodes of
# 8 emulated H100s, fifo + EASY backfill, bestfit, seed 1: about 2 minutes.
# Uses the release build (build/release; `bash scripts/build.sh release`),
# building the driver there if it is missing. Everything runs on 127.0.0.1
# in a temporary folder that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
trace=data/samples/philly-scaled-300.csv
cluster=6x8xH100
if [[ $# -gt 0 && $1 != -- ]]; then trace=$1; shift; fi
if [[ $# -gt 0 && $1 != -- ]]; then cluster=$1; shift; fi
if [[ $# -gt 0 && $1 == -- ]]; then shift; fi
build=build/release
if [[ ! -d $build ]]; then
  echo "no $build: build first with 'bash scripts/build.sh release'" >&2
  exit 2
fi
if [[ ! -x $build/bench/kojo_sim_vs_live || ! -x $build/src/kojod || ! -x $build/src/kojo-agent ]]; then
  cmake --build "$build" -j "$(nproc)" --target kojo_sim_vs_live >&2
fi
# Bounded: the driver gives up on the live run by itself; this is the backstop.
exec timeout -k 10 600 "$build/bench/kojo_sim_vs_live" --kojod "$build/src/kojod" --agent "$build/src/kojo-agent" \
  --trace "$trace" --cluster "$cluster" "$@"
