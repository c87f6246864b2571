#!/usr/bin/env bash
# `kojo run --pty` in a real terminal: tmux runs a local shell, which runs
# `kojo run --pty bash` against a `kojod --dev` with emulated GPUs on
# 127.0.0.1; keys go in with send-keys, the screen comes back with
# capture-pane. Checks the prompt, CUDA_VISIBLE_DEVICES, Ctrl-C of a sleep,
# a window resize seen by `stty size`, a detach (the client killed) and
# `kojo attach` back to the same shell, `exit 3` as kojo's status, the
# time-limit warning, and `kojo run` without --pty. Prints the time from
# `kojo run --pty` to the remote prompt and the round trip of a typed
# command (medians of 5).
# With SLURM_BIN (the build's folder of Slurm commands), `srun --pty` too.
# Usage: pty_test.sh KOJOD KOJO [SLURM_BIN]
KOJO_BIN_DIR=$(dirname "$(realpath "$2")")
SRUN_DIR=${3:-}
source "$(dirname "$0")/../slurm/live_lib.sh" "$1" "$2" "${SRUN_DIR:-$KOJO_BIN_DIR}"
command -v tmux >/dev/null || { echo "tmux is not installed: skipped"; exit 77; }
TMUX_SOCK=$WORK/tmux.sock
unset TMUX
tm() { tmux -S "$TMUX_SOCK" "$@"; }
cleanup() {
  tm kill-server 2>/dev/null || true
  # Sessions outlive their clients and agents: end the test's jobs first.
  if [[ -n $KOJOD_PID ]]; then
    for job in $("$KOJO" queue --json 2>/dev/null | grep -o '"id": [0-9]*' | grep -o '[0-9]*'); do
      "$KOJO" cancel "$job" >/dev/null 2>&1 || true
    done
    for _ in $(seq 50); do
      "$KOJO" queue --json 2>/dev/null | grep -q '"state": "\(RUNNING\|STOPPING\)"' || break
      sleep 0.1
    done
  fi
  stop_kojod
}
trap cleanup EXIT
start_kojod

# The local shell: a prompt of its own, kojo first on PATH.
cat >"$WORK/rc" <<EOF
PS1='local\$ '
export PATH=$KOJO_BIN_DIR:\$PATH XDG_CONFIG_HOME=$XDG_CONFIG_HOME XDG_DATA_HOME=$XDG_DATA_HOME
EOF
tm -f /dev/null new-session -d -s t -x 100 -y 30 "bash --rcfile $WORK/rc --noprofile -i"
tm set -g status off
tm set -g window-size manual
screen() { tm capture-pane -p -J -t t -S -200; }
# wait_for REGEX [SECONDS]: until the screen matches.
wait_for() {
  local re=$1 secs=${2:-15}
  for _ in $(seq $((secs * 100))); do
    grep -Eq -- "$re" <<<"$(screen)" && return 0
    sleep 0.01
  done
  screen >&2
  fail "the terminal never showed /$re/"
}
keys() { tm send-keys -t t "$@"; }
run_line() { keys -l "$1"; keys Enter; }
# A clean screen for the next step, at the local prompt (tmux keeps what a
# clear scrolls away: dropped too, so that no old prompt matches).
fresh() {
  keys C-l
  sleep 0.2
  tm clear-history -t t
}
wait_for '^local\$ '

REMOTE="kojo run --gpus 2 --time 10 --pty -- env PS1='remote\$ ' bash --norc --noprofile"
# The time to the remote prompt, five times (each shell left with `exit 0`).
times=()
for i in 1 2 3 4 5; do
  fresh
  start=$(date +%s%N)
  run_line "$REMOTE"
  wait_for '^remote\$ '
  times+=($(( ($(date +%s%N) - start) / 1000000 )))
  run_line "exit 0"
  wait_for '^local\$ $'
  run_line "echo status=\$?"
  wait_for '^status=0'
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
echo "time from kojo run --pty to the remote prompt, idle cluster: median ${median} ms of 5 (${times[*]})"

fresh
run_line "$REMOTE"
wait_for '^remote\$ '
run_line 'echo "gpus=$CUDA_VISIBLE_DEVICES job=$KOJO_JOB_ID tty=$(tty)"'
wait_for '^gpus=0,1 job=[0-9]+ tty=/dev/pts/'
id=$(grep -Eo '^gpus=0,1 job=[0-9]+' <<<"$(screen)" | tail -1 | sed 's/.*job=//')
# A command's round trip: its keys in through kojod, its output back.
trips=()
for i in 1 2 3 4 5; do
  start=$(date +%s%N)
  run_line "echo trip-$i-done"
  wait_for "^trip-$i-done"
  trips+=($(( ($(date +%s%N) - start) / 1000000 )))
done
echo "round trip of a typed command (keys in, output back): median $(printf '%s\n' "${trips[@]}" | sort -n | sed -n 3p) ms of 5 (${trips[*]})"

# Ctrl-C reaches the remote sleep (not the local client), the shell goes on.
run_line "sleep 100"
sleep 0.5
keys C-c
wait_for '^remote\$ $'
run_line 'echo interrupted=$?'
wait_for '^interrupted=130'

# The window's size follows.
tm resize-window -t t -x 91 -y 27
sleep 0.3
run_line "stty size"
wait_for '^27 91'

# Detach: the client killed; the shell runs on and `kojo attach` gets it back.
run_line "MARK=kept-$id"
client=$(pgrep -P "$(tm display -p -t t '#{pane_pid}')" | head -1)
[[ -n $client ]] || fail "no kojo client under the local shell"
kill -TERM "$client"
wait_for "detached from job $id"
wait_for '^local\$ $'
[[ $("$KOJO" show "$id" --json | grep -o '"state": "[A-Z]*"') == '"state": "RUNNING"' ]] ||
  fail "job $id did not keep running after its client went"
fresh
run_line "kojo attach $id"
sleep 0.5
run_line 'echo "mark=$MARK"'
wait_for "^mark=kept-$id"

# Ctrl-D at an empty prompt... is bash's exit; `exit 3` is kojo run's status.
run_line "exit 3"
wait_for '^local\$ $'
run_line 'echo attach_status=$?'
wait_for '^attach_status=3'
expect_eq "$("$KOJO" show "$id" --json | grep -o '"exit_code": [0-9]*')" '"exit_code": 3' "job $id's exit code"

# Ctrl-D ends a shell too (once it reads keys through its line editor: a
# Ctrl-D typed while bash still starts is taken by the terminal's own line
# discipline, as on any terminal).
fresh
run_line "$REMOTE"
wait_for '^remote\$ '
sleep 1
keys C-d
wait_for '^local\$ $'
run_line 'echo eof_status=$?'
wait_for '^eof_status=0'

# The time limit: a warning in the terminal (a tenth of a 10 s limit
# before), then the end of the session.
fresh
run_line "kojo run --time 0:10 --pty -- env PS1='remote\$ ' bash --norc --noprofile"
wait_for '^remote\$ '
wait_for 'its time limit ends this session in 1 s' 20
wait_for '^local\$ $' 30
run_line 'echo timeout_status=$?'
wait_for '^timeout_status=1[0-9][0-9]'

# srun --pty outside a job: the same terminal.
if [[ -n $SRUN_DIR && -x $SRUN_DIR/srun ]]; then
  fresh
  run_line "$SRUN_DIR/srun --pty -G 1 env PS1='srun\$ ' bash --norc --noprofile"
  wait_for '^srun\$ '
  run_line 'echo "srun_gpus=$CUDA_VISIBLE_DEVICES"; exit 4'
  wait_for '^srun_gpus=[0-9]$'
  wait_for '^local\$ $'
  run_line 'echo srun_status=$?'
  wait_for '^srun_status=4'
fi

# Not a terminal: refused in one line.
set +e
err=$("$KOJO" run --pty -- bash </dev/null 2>&1)
rc=$?
set -e
expect_eq "$rc" 2 "kojo run --pty without a terminal: exit code"
expect_match "$err" 'standard input is not a terminal' "kojo run --pty without a terminal"

# Without --pty: the output as it comes, the job's status.
set +e
out=$("$KOJO" run -- sh -c 'echo out-line; echo err-line >&2; exit 5' 2>"$WORK/run.err")
rc=$?
set -e
expect_eq "$rc" 5 "kojo run without --pty: exit code"
expect_eq "$out" "out-line" "kojo run without --pty: output"
expect_eq "$(cat "$WORK/run.err")" "err-line" "kojo run without --pty: errors"

# Without --pty, Ctrl-C cancels the job.
fresh
run_line "kojo run -- sh -c 'echo started; sleep 100'"
wait_for '^started'
keys C-c
wait_for 'kojo: cancelling job [0-9]+'
wait_for 'was cancelled'
wait_for '^local\$ $'
run_line 'echo cancel_status=$?'
wait_for '^cancel_status=(1|143)$'

echo "kojo run --pty in tmux: ok"
