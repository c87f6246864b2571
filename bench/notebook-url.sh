#!/usr/bin/env bash
# Time from `kojo notebook` to a usable URL on an idle cluster: `kojod
# --dev` with its own agent (8 emulated A100s) on 127.0.0.1; N times
# (default 7), one after the other, `kojo notebook --gpus 0 --time 10`
# until it prints the URL (it has then seen Jupyter's /api/status answer
# 200 through kojod's proxy), then the session is cancelled and has ended
# before the next run. Needs jupyter-notebook (scripts/deps.sh --test).
# Prints each run and ends with
#   runs: N median_ms: M min_ms: A max_ms: B
# Everything it starts is stopped on exit. Uses the release build
# (scripts/build.sh release), building it if absent.
#
#   bench/notebook-url.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-7}
((n >= 1 && n <= 100)) || { echo "N must be 1..100" >&2; exit 2; }
command -v jupyter-notebook >/dev/null || { echo "notebook-url: jupyter-notebook is not installed (scripts/deps.sh --test)" >&2; exit 2; }
bin=build/release/src
[[ -x $bin/kojod && -x $bin/kojo && -x $bin/kojo-agent ]] || bash scripts/build.sh release kojod kojo kojo-agent >/dev/null
KOJOD=$(realpath "$bin/kojod") KOJO=$(realpath "$bin/kojo")
work=$(mktemp -d "${TMPDIR:-/tmp}/kojo-notebook.XXXXXX")
export XDG_CONFIG_HOME=$work/config XDG_DATA_HOME=$work/share
export JUPYTER_RUNTIME_DIR=$work/jupyter/runtime JUPYTER_DATA_DIR=$work/jupyter/data IPYTHONDIR=$work/ipython
unset KOJO_SERVER KOJO_TOKEN
pid=
cleanup() {
  if [[ -n ${url:-} ]]; then
    ids=$("$KOJO" queue --json 2>/dev/null | grep -o '"id": [0-9]*' | grep -o '[0-9]*' || true)
    [[ -n $ids ]] && "$KOJO" cancel $ids >/dev/null 2>&1 || true
    for _ in $(seq 100); do
      "$KOJO" queue --json 2>/dev/null | grep -q '"state": "\(RUNNING\|STOPPING\|STARTING\)"' || break
      sleep 0.1
    done
  fi
  if [[ -n $pid ]]; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  [[ -n ${KOJO_BENCH_KEEP:-} ]] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
die() { echo "notebook-url: $*" >&2; [[ -f $work/kojod.log ]] && tail -20 "$work/kojod.log" >&2; exit 1; }
now_ms() { date +%s%3N; }

mkdir -p "$work/data" "$work/nb"
setsid "$KOJOD" --dev --data-dir "$work/data" --listen 127.0.0.1:0 --gpus 8xA100-80GB --kill-grace 1 \
  >"$work/kojod.log" 2>&1 &
pid=$!
for _ in $(seq 200); do [[ -s $work/data/kojod.addr ]] && break; sleep 0.1; done
[[ -s $work/data/kojod.addr ]] || die "kojod did not start"
url=$(<"$work/data/kojod.addr")
for _ in $(seq 300); do "$KOJO" nodes --json 2>/dev/null | grep -q '"state": "UP"' && break; sleep 0.1; done

times=()
for i in $(seq "$n"); do
  t0=$(now_ms)
  out=$(cd "$work/nb" && "$KOJO" notebook --gpus 0 --time 10 -Q 2>"$work/run-$i.err") || die "run $i: $(cat "$work/run-$i.err")"
  t1=$(now_ms)
  [[ $out =~ /sessions/([0-9]+)/\?token=[0-9a-f]{64}$ ]] || die "run $i: no URL in '$out'"
  id=${BASH_REMATCH[1]}
  times+=($((t1 - t0)))
  echo "run $i: job $id, URL after $((t1 - t0)) ms"
  "$KOJO" cancel "$id" >/dev/null
  for _ in $(seq 300); do "$KOJO" show "$id" 2>/dev/null | grep -q CANCELLED && break; sleep 0.1; done
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
echo "runs: $n median_ms: ${sorted[$(( (n - 1) / 2 ))]} min_ms: ${sorted[0]} max_ms: ${sorted[$((n - 1))]}"
