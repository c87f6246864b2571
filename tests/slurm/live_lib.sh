# Shared by the live tests of the Slurm commands: a `kojod --dev` with four
# emulated GPUs on 127.0.0.1 (its own config and data folders, stopped on
# exit), and the Slurm commands of the build tree first on PATH.
# Usage: source live_lib.sh KOJOD KOJO SLURM_BIN
set -euo pipefail
KOJOD=$(realpath "$1") KOJO=$(realpath "$2") SLURM_BIN=$(realpath "$3")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kojo-slurm-test.XXXXXX")
export XDG_CONFIG_HOME=$WORK/config XDG_DATA_HOME=$WORK/share
unset KOJO_SERVER KOJO_TOKEN SLURM_JOB_ID SLURM_JOBID KOJO_JOB_ID
export PATH=$SLURM_BIN:$PATH
KOJOD_PID=
stop_kojod() {
  if [[ -n $KOJOD_PID ]]; then
    kill -TERM "$KOJOD_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$KOJOD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$KOJOD_PID" 2>/dev/null || true
  fi
  [[ -n ${KOJO_TEST_KEEP:-} ]] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap stop_kojod EXIT
fail() {
  echo "FAIL: $*" >&2
  [[ -f $WORK/kojod.log ]] && tail -30 "$WORK/kojod.log" >&2
  exit 1
}
# A kojod with one agent; waits until its node is up.
start_kojod() {
  mkdir -p "$WORK/data"
  setsid "$KOJOD" --dev --data-dir "$WORK/data" --listen 127.0.0.1:0 --gpus 4xH100-80GB --kill-grace 1 \
    >"$WORK/kojod.log" 2>&1 &
  KOJOD_PID=$!
  for _ in $(seq 200); do [[ -s $WORK/data/kojod.addr ]] && break; sleep 0.1; done
  [[ -s $WORK/data/kojod.addr ]] || fail "kojod did not start"
  for _ in $(seq 300); do
    "$KOJO" nodes --json 2>/dev/null | grep -q '"state": "UP"' && return 0
    sleep 0.1
  done
  fail "the agent's node did not come up"
}
# wait_state ID STATE [SECONDS]: sacct's state for job ID becomes STATE.
wait_state() {
  local id=$1 want=$2 secs=${3:-30} got=
  for _ in $(seq $((secs * 10))); do
    got=$(sacct -X -P -n --format=State -j "$id" 2>/dev/null || true)
    [[ $got == "$want" ]] && return 0
    sleep 0.1
  done
  fail "job $id: state '$got', expected $want"
}
expect_eq() { [[ $1 == "$2" ]] || fail "$3: got '$1', expected '$2'"; }
expect_match() { [[ $1 =~ $2 ]] || fail "$3: '$1' does not match /$2/"; }
