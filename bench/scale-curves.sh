#!/usr/bin/env bash
# Scale curves of kojod's controller, in process (bench/controller_mem.cc
# with --busy: a Controller on SQLite, nodes registered through the agent
# protocol with no agents behind them, 1-GPU jobs submitted in batches of
# 10,000). Two series: the queue grows (1k, 10k, 100k pending on 1,000
# nodes x 8 GPUs, the cluster full) and the cluster grows (100, 1,000,
# 10,000 nodes x 8 GPUs, each full and with 10,000 jobs waiting).
# For each point: the mean scheduling pass (over the passes of --settle-ms,
# once the cluster is full), the controller's heap and the process's RSS.
# Prints a Markdown table.
#
#   bench/scale-curves.sh [--settle-ms 5000] [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
settle=5000
quick=0
while (($#)); do
  case $1 in
    --settle-ms) settle=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
bin=build/release/bench/kojo_controller_mem
if [[ ! -x $bin ]]; then
  bash scripts/build.sh release kojo_controller_mem >/dev/null
fi
points=("1000 1000" "1000 10000" "1000 100000" "100 10000" "10000 10000")
((quick)) && points=("100 1000" "1000 10000")
echo "| nodes x 8 GPUs | jobs submitted | pending once full | passes | mean pass (ms) | heap (MiB) | RSS (MiB) |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for p in "${points[@]}"; do
  read -r nodes pending <<<"$p"
  # Every GPU busy, then `pending` waiting.
  jobs=$((nodes * 8 + pending))
  line=$("$bin" --busy --nodes "$nodes" --jobs "$jobs" --settle-ms "$settle" | grep '^scale:')
  get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
  echo "| $nodes | $jobs | $pending | $(get passes) | $(get pass_ms) | $(get heap_mib) | $(get rss_mib) |"
done
