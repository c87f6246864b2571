#!/usr/bin/env bash
# Renting partner capacity, live on this machine (docs/renting.md): kojod on
# 127.0.0.1 with a small owned pool (one agent, 2 emulated GPUs) and a
# partner, "local", whose nodes are local kojo-agents
# (scripts/providers/local-agent: 1 GPU each, 2.00 a GPU-hour, at most 2
# nodes, given back after 10 s idle). More 1-GPU jobs than the pool holds
# are submitted to a project with a budget and a high value of waiting; the
# demo waits for them to end and for the rented nodes to be given back, and
# ends with one line:
#   rented: N released: M jobs_completed: K budget_spent: X budget: Y
# Builds release first only when build/release lacks kojod, kojo-agent or kojo.
# Stops everything it started on exit. Settings: JOBS (default 6),
# JOB_SECONDS (default 20), KEEP=1 keeps its folder.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=$root/build/release/src
if [[ ! -x $bin/kojod || ! -x $bin/kojo-agent || ! -x $bin/kojo ]]; then
  bash scripts/build.sh release kojod kojo-agent kojo
fi
JOBS=${JOBS:-6}
JOB_SECONDS=${JOB_SECONDS:-20}
work=$(mktemp -d "${TMPDIR:-/tmp}/kojo-rent-demo.XXXXXX")
export KOJO_RENT_DIR=$work/rented KOJO_AGENT_BIN=$bin/kojo-agent
kojod_pid= agent_pid=
cleanup() {
  set +e
  [[ -n $kojod_pid ]] && kill -TERM "$kojod_pid" 2>/dev/null
  [[ -n $agent_pid ]] && kill -TERM "$agent_pid" 2>/dev/null
  for _ in $(seq 50); do
    kill -0 "$kojod_pid" 2>/dev/null || kill -0 "$agent_pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n $kojod_pid ]] && kill -KILL "$kojod_pid" 2>/dev/null
  [[ -n $agent_pid ]] && kill -KILL "$agent_pid" 2>/dev/null
  # Whatever kojod did not give back (it gives back nothing once stopped).
  "$root/scripts/providers/local-agent" stop-all >/dev/null 2>&1
  if [[ -n ${KEEP:-} ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
fail() {
  echo "rent-demo: $*" >&2
  tail -n 20 "$work/kojod.log" >&2 || true
  exit 1
}
# until SECONDS COMMAND...: polls COMMAND every 0.5 s until it succeeds.
until_ok() {
  local secs=$1
  shift
  for _ in $(seq $((secs * 2))); do
    "$@" && return 0
    sleep 0.5
  done
  return 1
}

iso() { date -u -d "@$1" +%FT%TZ; }
now=$(date +%s)
cat >"$work/org.json" <<JSON
{
  "programmes": [{"name": "research"}],
  "organisations": [{"name": "lab", "programme": "research"}],
  "projects": [{"name": "vision", "organisation": "lab",
                "rent": {"budget": 20, "value_per_gpu_hour": 1000}}],
  "grants": [{"id": "vision-2026", "project": "vision", "gpu_hours": 1000,
              "start": "$(iso $((now - 3600)))", "end": "$(iso $((now + 30 * 86400)))"}],
  "providers": [{"name": "local", "gpu_model": "H100", "gpus_per_node": 1,
                 "price_per_gpu_hour": 2.00, "max_nodes": 2, "startup_s": 5, "timeout_s": 30,
                 "idle_timeout_s": 10,
                 "start_program": "$root/scripts/providers/local-agent start",
                 "stop_program": "$root/scripts/providers/local-agent stop"}]
}
JSON

"$bin/kojod" --data-dir "$work/kojod" --listen 127.0.0.1:0 --org "$work/org.json" --node-timeout 5 \
  --kill-grace 1 >"$work/kojod.log" 2>&1 &
kojod_pid=$!
until_ok 20 test -s "$work/kojod/kojod.addr" || fail "kojod did not start"
export KOJO_SERVER=$(<"$work/kojod/kojod.addr") KOJO_TOKEN=
"$bin/kojo-agent" --server "$KOJO_SERVER" --name owned-1 --state-dir "$work/owned-1" --listen 127.0.0.1:0 \
  --emulate-gpus 2xH100 --kill-grace 1 >"$work/owned-1.log" 2>&1 &
agent_pid=$!
node_up() { "$bin/kojo" nodes --json | grep -q '"state": "UP"'; }
until_ok 20 node_up || fail "the owned node did not come up"
echo "kojod at $KOJO_SERVER; owned pool: 2 GPUs; provider local: 2.00 a GPU-hour, at most 2 nodes"

ids=()
t0=$(date +%s)
for i in $(seq "$JOBS"); do
  ids+=("$("$bin/kojo" submit --project vision --gpus 1 --time 1 --job-name "demo-$i" --parsable -- sleep "$JOB_SECONDS")")
done
echo "submitted ${#ids[@]} jobs of 1 GPU, $JOB_SECONDS s each: ${ids[*]}"
sleep 3
"$bin/kojo" nodes --all || true

all_ended() {
  local out
  out=$("$bin/kojo" queue --all --json)
  ! grep -qE '"state": "(PENDING|STARTING|RUNNING|STOPPING)"' <<<"$out"
}
until_ok $((JOBS * JOB_SECONDS + 120)) all_ended || fail "the jobs did not end in time"
t1=$(date +%s)
all_off() {
  ! "$bin/kojo" nodes --all --json | grep -qE '"rent_state": "(starting|up|stopping)"'
}
until_ok 90 all_off || fail "the rented nodes were not given back in time"
"$bin/kojo" nodes --all || true
"$bin/kojo" usage --rent || true

completed=$("$bin/kojo" queue --all --json | grep -c '"state": "COMPLETED"' || true)
rented=$(grep -c '^.* start .*: agent pid' "$KOJO_RENT_DIR/actions.log" || true)
released=$(grep -c ' stop .*: stopped' "$KOJO_RENT_DIR/actions.log" || true)
rent_json=$("$bin/kojo" usage --json || echo "{}")
spent=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("%.2f" % next((a["spent"] for a in d.get("rent",[]) if a.get("kind")=="project" and a.get("name")=="vision"), float("nan")))' "$rent_json")
budget=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("%.2f" % next((a["budget"] for a in d.get("rent",[]) if a.get("kind")=="project" and a.get("name")=="vision"), float("nan")))' "$rent_json")
echo "all $JOBS jobs ended $((t1 - t0)) s after the first was submitted (the 2 owned GPUs alone need at least $(((JOBS + 1) / 2 * JOB_SECONDS)) s)"
echo "rented: $rented released: $released jobs_completed: $completed budget_spent: $spent budget: $budget"
