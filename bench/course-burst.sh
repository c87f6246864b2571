#!/usr/bin/env bash
# A course's burst: N students (default 300) log on at once and each starts
# a session of a quarter GPU, on 10 emulated nodes of 8 GPUs (kojod --dev
# with its own agent plus 9 kojo-agents, all on 127.0.0.1). The project
# `course` caps each student at one session and one GPU at once
# (member_max_jobs, member_max_gpus); every student then asks for a second
# session, which must wait with a Quota reason. Prints the time from the
# first submission until every first session runs, and ends with
#   students: N running: R second_sessions_waiting: W burst_s: S
# It fails (exit 1) unless all N run and all N second sessions wait.
# Everything it starts is stopped on exit. Uses the release build
# (scripts/build.sh release), building it if absent.
#
#   bench/course-burst.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-300}
((n >= 1 && n <= 320)) || { echo "N must be 1..320 (10 nodes x 8 GPUs x 4 quarters)" >&2; exit 2; }
# The binaries: $KOJOD, $KOJO and $KOJO_AGENT when set (ctest's CourseBurst
# test gives its build's), else the release build's.
bin=build/release/src
if [[ -z ${KOJOD:-} || -z ${KOJO:-} || -z ${KOJO_AGENT:-} ]]; then
  [[ -x $bin/kojod && -x $bin/kojo && -x $bin/kojo-agent ]] || bash scripts/build.sh release kojod kojo kojo-agent >/dev/null
fi
KOJOD=$(realpath "${KOJOD:-$bin/kojod}") KOJO=$(realpath "${KOJO:-$bin/kojo}") AGENT=$(realpath "${KOJO_AGENT:-$bin/kojo-agent}")
work=$(mktemp -d "${TMPDIR:-/tmp}/kojo-burst.XXXXXX")
export XDG_CONFIG_HOME=$work/config XDG_DATA_HOME=$work/share
unset KOJO_SERVER KOJO_TOKEN
pids=()
cleanup() {
  # The sessions first: tasks outlive their agent by design (the next agent
  # adopts them), so they are cancelled while kojod and the agents run.
  if [[ -n ${url:-} ]]; then
    ids=$("$KOJO" queue --json 2>/dev/null | grep -o '"id": [0-9]*' | grep -o '[0-9]*' || true)
    [[ -n $ids ]] && "$KOJO" cancel $ids >/dev/null 2>&1 || true
    for _ in $(seq 100); do
      "$KOJO" queue --json 2>/dev/null | grep -q '"state": "\(RUNNING\|STOPPING\|STARTING\)"' || break
      sleep 0.1
    done
  fi
  for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 50); do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true; done
  [[ -n ${KOJO_BENCH_KEEP:-} ]] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
die() { echo "course-burst: $*" >&2; [[ -f $work/kojod.log ]] && tail -20 "$work/kojod.log" >&2; exit 1; }
now_ms() { date +%s%3N; }

mkdir -p "$work/data"
setsid "$KOJOD" --dev --data-dir "$work/data" --listen 127.0.0.1:0 --gpus 8xA100-80GB --kill-grace 1 \
  >"$work/kojod.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do [[ -s $work/data/kojod.addr ]] && break; sleep 0.1; done
[[ -s $work/data/kojod.addr ]] || die "kojod did not start"
url=$(<"$work/data/kojod.addr")
for _ in $(seq 300); do "$KOJO" nodes --json 2>/dev/null | grep -q '"state": "UP"' && break; sleep 0.1; done

# Nine more nodes.
for i in $(seq 2 10); do
  tok=$("$KOJO" admin token create --node "burst-$i" 2>/dev/null)
  mkdir -p "$work/agent-$i"
  KOJO_TOKEN=$tok setsid "$AGENT" --server "$url" --name "burst-$i" --state-dir "$work/agent-$i" \
    --listen 127.0.0.1:0 --emulate-gpus 8xA100-80GB --kill-grace 1 >"$work/agent-$i.log" 2>&1 &
  pids+=($!)
done
for _ in $(seq 300); do
  up=$("$KOJO" nodes --json 2>/dev/null | grep -c '"state": "UP"' || true)
  ((up >= 10)) && break
  sleep 0.1
done
((up >= 10)) || die "only $up of 10 nodes came up"

# The course and its students (the local user stays lead of `default`).
me=$(id -un)
{
  echo '{"programmes": [{"name": "default"}, {"name": "training"}],'
  echo ' "organisations": [{"name": "default", "programme": "default"}, {"name": "academy", "programme": "training"}],'
  echo ' "projects": [{"name": "default", "organisation": "default"},'
  echo '   {"name": "course", "organisation": "academy", "member_max_jobs": 1, "member_max_gpus": 1}],'
  echo " \"grants\": [{\"id\": \"default\", \"project\": \"default\", \"gpu_hours\": 1000000, \"start\": \"2020-01-01\", \"end\": \"2099-01-01\"},"
  echo "   {\"id\": \"course\", \"project\": \"course\", \"gpu_hours\": 100000, \"start\": \"2020-01-01\", \"end\": \"2099-01-01\"}],"
  echo " \"members\": [{\"project\": \"default\", \"user\": \"$me\", \"role\": \"lead\"},"
  echo "   {\"project\": \"course\", \"user\": \"$me\", \"role\": \"lead\"}"
  for s in $(seq -f 's%03g' 1 "$n"); do echo "  ,{\"project\": \"course\", \"user\": \"$s\"}"; done
  echo ' ]}'
} >"$work/org.json"
"$KOJO" admin apply -f "$work/org.json" >/dev/null
for s in $(seq -f 's%03g' 1 "$n"); do
  "$KOJO" admin user add "$s" >/dev/null
  "$KOJO" admin token create --user "$s" >"$work/$s.token" 2>/dev/null
done

# The burst: every student starts a session at once (8 at a time from this
# machine's two cores), each a quarter GPU.
submit() {
  KOJO_SERVER=$url KOJO_TOKEN=$(<"$work/$1.token") \
    "$KOJO" submit -p course --gpus 1 --gpu-milli 250 -t 30 -J "session-$1" -- sleep 600 >"$work/$1.$2.id"
}
export -f submit
export KOJO work url
t0=$(now_ms)
seq -f 's%03g' 1 "$n" | xargs -P 8 -I{} bash -c 'submit {} 1'
t_sub=$(now_ms)
running=0
for _ in $(seq 1200); do
  running=$("$KOJO" queue --json 2>/dev/null | grep -c '"state": "RUNNING"' || true)
  ((running >= n)) && break
  sleep 0.05
done
t_run=$(now_ms)
# A second session for each: the cap holds.
seq -f 's%03g' 1 "$n" | xargs -P 8 -I{} bash -c 'submit {} 2'
sleep 1
waiting=0
for s in $(seq -f 's%03g' 1 "$n"); do
  id=$(awk '{print $NF}' "$work/$s.2.id")
  "$KOJO" why "$id" 2>/dev/null | grep -q "Quota" && waiting=$((waiting + 1))
done
running2=$("$KOJO" queue --json 2>/dev/null | grep -c '"state": "RUNNING"' || true)
echo "submissions: $(( (t_sub - t0) )) ms for $n students; every first session running after $(( (t_run - t0) )) ms"
echo "students: $n running: $running2 second_sessions_waiting: $waiting burst_s: $(awk "BEGIN{printf \"%.2f\", ($t_run - $t0)/1000}")"
((running2 == n && waiting == n)) || { echo "course-burst: expected $n sessions running and $n second ones waiting on the cap" >&2; exit 1; }
