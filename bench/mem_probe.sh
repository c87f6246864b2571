#!/usr/bin/env bash
# kojod's memory under a bounded API load: starts `kojod --dev` (8 emulated
# GPUs, its own state and config folders under a temporary directory, a free
# port on 127.0.0.1), records its RSS at start, right after the load
# (bench/api_load.cc) and after --idle seconds without requests, then
# restarts it on the same state and records the RSS of the restart.
#
#   bash bench/mem_probe.sh [--mode mixed|read] [--seconds 30] [--idle 30] [--seed 1] [--prefill N]
#                           [--bin build/release] [-- extra kojod flags]
# Prints one line: RSS (VmRSS, MiB) at start, after the load, its peak (VmHWM),
# after the idle time (and RssAnon then), after a restart; and the load's figures.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/release mode=mixed seconds=30 idle=30 seed=1 prefill=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --mode) mode=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --idle) idle=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --prefill) prefill=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
tmp=$(mktemp -d /tmp/kojo-mem.XXXXXX)
pid=
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  [[ -n ${KOJO_MEM_LOG:-} ]] && cp "$tmp/kojod.log" "$KOJO_MEM_LOG"
  rm -rf "$tmp"
}
trap cleanup EXIT

rss() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
start() {
  rm -f "$tmp/data/kojod.addr"
  XDG_CONFIG_HOME=$tmp/config "$bin/src/kojod" --dev --data-dir "$tmp/data" --listen 127.0.0.1:0 "$@" \
    2>>"$tmp/kojod.log" &
  pid=$!
  for _ in $(seq 100); do [[ -s $tmp/data/kojod.addr ]] && break; sleep 0.1; done
  sleep 2  # the agent registers
  port=$(sed 's/.*://' "$tmp/data/kojod.addr")
  token=$(sed 's/.*"token": "\([^"]*\)".*/\1/' "$tmp/config/kojo/dev.json")  # a new one at every start
}
stop() { kill "$pid"; wait "$pid" || true; pid=; }

start "$@"
if [[ $prefill -gt 0 ]]; then  # jobs for a read-only load, then a fresh process on them
  "$bin/bench/kojo_api_load" --port "$port" --token "$token" --prefill "$prefill" --requests 1 >/dev/null
  stop; start "$@"
fi
r0=$(rss "$pid" VmRSS)
load=$("$bin/bench/kojo_api_load" --port "$port" --token "$token" --mode "$mode" --seconds "$seconds" --seed "$seed" --json) || true  # errors are counted in its figures
r1=$(rss "$pid" VmRSS) hwm=$(rss "$pid" VmHWM)
sleep "$idle"
r2=$(rss "$pid" VmRSS) a2=$(rss "$pid" RssAnon)
# A command to look at the idle process (e.g. gdb), given its pid.
[[ -n ${KOJO_MEM_HOOK:-} ]] && KOJOD_PID=$pid bash -c "$KOJO_MEM_HOOK" >&2
stop; start "$@"
r3=$(rss "$pid" VmRSS)
echo "mode=$mode rss_start=$r0 rss_load=$r1 rss_peak=$hwm rss_idle=$r2 anon_idle=$a2 rss_restart=$r3 load=$load"
