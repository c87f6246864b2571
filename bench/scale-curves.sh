#!/usr/bin/env bash
# Scale curves of kojod's controller, in process (bench/controller_mem.cc
# with --busy: a Controller on SQLite, nodes registered through the agent
# protocol with no agents behind them, 1-GPU jobs submitted in batches of
# 10,000). Two series: the queue grows (1k, 10k, 100k pending on 1,000
# nodes x 8 GPUs, the cluster full) and the cluster grows (100, 1,000,
# 10,000 nodes x 8 GPUs, each full and with 10,000 jobs waiting).
# For each point: the mean scheduling pass (over the passes of --settle-ms,
# once the cluster is full), the controller's heap and the process's RSS.
# Prints a Markdown table. With --svg DIR it also measures the API's
# throughput against concurrent clients (kojod --dev with 10,000 held jobs,
# bench/api_load.cc --mode read for 5 s at 1, 2, 4, 8, 16, 32 and 64
# clients) and writes five line plots there (kojo_plot): scale-pass-queue,
# scale-memory-queue, scale-pass-nodes, scale-memory-nodes, api-throughput.
#
#   bench/scale-curves.sh [--settle-ms 5000] [--quick] [--svg docs/img]
set -euo pipefail
cd "$(dirname "$0")/.."
settle=5000
quick=0
svg=
while (($#)); do
  case $1 in
    --settle-ms) settle=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --svg) svg=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
bin=build/release/bench/kojo_controller_mem
if [[ ! -x $bin || ( -n $svg && ! -x build/release/bench/kojo_plot ) ]]; then
  bash scripts/build.sh release kojo_controller_mem kojo_plot kojo_api_load kojod kojo-agent >/dev/null
fi
queue_rows=() node_rows=()
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
  ((nodes == 1000)) && queue_rows+=("$pending $(get pass_ms) $(get heap_mib) $(get rss_mib)")
  ((pending == 10000)) && node_rows+=("$nodes $(get pass_ms) $(get heap_mib) $(get rss_mib)")
done
[[ -z $svg ]] && exit 0

# The API's throughput against concurrent clients (read-only: list and show).
tmp=$(mktemp -d /tmp/kojo-scale.XXXXXX)
pid=
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
XDG_CONFIG_HOME=$tmp/config build/release/src/kojod --dev --data-dir "$tmp/data" --listen 127.0.0.1:0 2>>"$tmp/kojod.log" &
pid=$!
for _ in $(seq 100); do [[ -s $tmp/data/kojod.addr ]] && break; sleep 0.1; done
sleep 2
port=$(sed 's/.*://' "$tmp/data/kojod.addr")
token=$(sed 's/.*"token": "\([^"]*\)".*/\1/' "$tmp/config/kojo/dev.json")
build/release/bench/kojo_api_load --port "$port" --token "$token" --prefill 10000 --requests 1 >/dev/null
api_rows=()
echo
echo "| clients | requests/s | p50 (ms) | p99 (ms) |"
echo "| ---: | ---: | ---: | ---: |"
for c in 1 2 4 8 16 32 64; do
  line=$(build/release/bench/kojo_api_load --port "$port" --token "$token" --mode read --clients "$c" --seconds 5 --json)
  rate=$(sed 's/.*"rps":\([0-9.]*\).*/\1/' <<<"$line")
  p50=$(sed 's/.*"p50_ms":\([0-9.]*\).*/\1/' <<<"$line")
  p99=$(sed 's/.*"p99_ms":\([0-9.]*\).*/\1/' <<<"$line")
  echo "| $c | $rate | $p50 | $p99 |"
  api_rows+=("$c $rate")
done

mkdir -p "$svg"
plot=build/release/bench/kojo_plot
credit="kojo bench/scale-curves.sh, $(date -u +%Y-%m-%d), $(nproc) CPUs"
printf '%s\n' "${queue_rows[@]}" | awk '{print $1, $2}' |
  "$plot" --title "Scheduling pass as the queue grows (1,000 nodes x 8 GPUs, full)" --x-label "pending jobs" \
    --y-label "mean pass (ms)" --series "pass" --log-x --credit "$credit" >"$svg/scale-pass-queue.svg"
printf '%s\n' "${queue_rows[@]}" | awk '{print $1, $3, $4}' |
  "$plot" --title "Controller memory as the queue grows (1,000 nodes x 8 GPUs)" --x-label "pending jobs" \
    --y-label "MiB" --series "heap" --series "RSS" --log-x --credit "$credit" >"$svg/scale-memory-queue.svg"
printf '%s\n' "${node_rows[@]}" | sort -n | awk '{print $1, $2}' |
  "$plot" --title "Scheduling pass as the cluster grows (10,000 jobs waiting)" --x-label "nodes (8 GPUs each)" \
    --y-label "mean pass (ms)" --series "pass" --log-x --credit "$credit" >"$svg/scale-pass-nodes.svg"
printf '%s\n' "${node_rows[@]}" | sort -n | awk '{print $1, $3, $4}' |
  "$plot" --title "Controller memory as the cluster grows (10,000 jobs waiting)" --x-label "nodes (8 GPUs each)" \
    --y-label "MiB" --series "heap" --series "RSS" --log-x --credit "$credit" >"$svg/scale-memory-nodes.svg"
printf '%s\n' "${api_rows[@]}" |
  "$plot" --title "API throughput against clients (half lists of 100-10,000 jobs, half shows)" --x-label "clients" \
    --y-label "requests/s" --series "requests/s" --log-x --credit "$credit" >"$svg/api-throughput.svg"
echo "plots written to $svg"
