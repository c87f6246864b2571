#!/usr/bin/env bash
# Acceptance: Snakemake's Slurm executor (`snakemake --slurm`, Snakemake
# 7.21 from Debian) drives kojo through the Slurm commands. A workflow of
# rules with their own resources (GPUs, memory, run time) and one failing
# rule: every rule runs as a kojo job, the outputs appear, the failing rule
# is reported failed; then SIGINT to snakemake cancels the job it runs.
# Exits 77 (skipped) when snakemake is not installed.
command -v snakemake >/dev/null 2>&1 || { echo "snakemake not installed: skipped"; exit 77; }
source "$(dirname "$0")/live_lib.sh" "$@"
start_kojod
mkdir -p "$WORK/flow"
cd "$WORK/flow"
export USER=${USER:-$(id -un)}

cat >Snakefile <<'SNAKE'
rule all:
    input: "out/gpu1.txt", "out/gpu2.txt", "out/cpu.txt", "out/broken.txt"

rule gpu1:
    output: "out/gpu1.txt"
    resources: mem_mb=100, runtime=5, slurm_extra="--gres=gpu:1"
    shell: "echo job=$SLURM_JOB_ID gpus=$CUDA_VISIBLE_DEVICES > {output}"

rule gpu2:
    output: "out/gpu2.txt"
    resources: mem_mb=200, runtime=2, slurm_extra="--gpus=2"
    shell: "echo job=$SLURM_JOB_ID gpus=$CUDA_VISIBLE_DEVICES > {output}"

rule cpu:
    input: "out/gpu1.txt"
    output: "out/cpu.txt"
    resources: mem_mb=50, runtime=1
    shell: "cat {input} > {output}; echo cpu-rule >> {output}"

rule broken:
    output: "out/broken.txt"
    resources: mem_mb=50, runtime=1
    shell: "echo about to fail; exit 3"
SNAKE

set +e
timeout -k 10 ${SNAKE_TIMEOUT:-120} snakemake --slurm --jobs 4 --keep-going --latency-wait 5 --max-status-checks-per-second 1 \
  --default-resources slurm_account=default >"$WORK/snakemake.log" 2>&1
rc=$?
set -e
log=$(cat "$WORK/snakemake.log")
[[ $rc -ne 0 ]] || fail "snakemake succeeded although rule broken fails"
[[ $rc -ne 124 ]] || { echo "$log" | tail -40 >&2; fail "snakemake did not finish within 120 s"; }
for f in gpu1 gpu2 cpu; do
  [[ -s out/$f.txt ]] || { echo "$log" | tail -40 >&2; fail "out/$f.txt is missing"; }
done
[[ ! -e out/broken.txt ]] || fail "out/broken.txt exists"
expect_match "$(cat out/gpu1.txt)" '^job=[0-9]+ gpus=[0-3]$' "rule gpu1 saw one GPU"
expect_match "$(cat out/gpu2.txt)" '^job=[0-9]+ gpus=[0-3],[0-3]$' "rule gpu2 saw two GPUs"
expect_match "$(cat out/cpu.txt)" 'cpu-rule' "rule cpu ran"
expect_match "$log" "SLURM-job '[0-9]+' failed, SLURM status is: 'FAILED'" "snakemake reports the failed job"
expect_match "$log" "Error in rule broken" "snakemake names the failing rule"

# Every rule ran as a kojo job with its resources.
jobs=$("$KOJO" queue --all --json)
python3 - "$jobs" <<'PY' || fail "the rules' kojo jobs"
import json, sys
jobs = json.loads(sys.argv[1])["jobs"]
by_rule = {}
for j in jobs:
    for rule in ("gpu1", "gpu2", "cpu", "broken"):
        if f"_{rule}_" in j["spec"]["name"] or j["spec"]["name"].endswith(f"_{rule}"):
            by_rule[rule] = j
want = {"gpu1": (1, 100, 300, "COMPLETED"), "gpu2": (2, 200, 120, "COMPLETED"),
        "cpu": (0, 50, 60, "COMPLETED"), "broken": (0, 50, 60, "FAILED")}
missing = set(want) - set(by_rule)
if missing:
    sys.exit(f"no kojo job for rules {sorted(missing)}: {[j['spec']['name'] for j in jobs]}")
for rule, (gpus, mem, limit, state) in want.items():
    j = by_rule[rule]
    d = j["spec"]
    got = (d.get("gpus", 0), d.get("mem_mib", 0), j["spec"].get("time_limit_s"), j["state"])
    if got != (gpus, mem, limit, state):
        sys.exit(f"rule {rule}: (gpus, mem, time limit, state) = {got}, expected {(gpus, mem, limit, state)}")
print(f"ok: {len(by_rule)} rules ran as kojo jobs")
PY

# Cancelling the workflow cancels its jobs.
cat >Snakefile <<'SNAKE'
rule slow:
    output: "out/slow.txt"
    resources: mem_mb=50, runtime=5
    shell: "sleep 120; touch {output}"
SNAKE
# Snakemake 7.21 takes its jobs out of its list while it checks their
# status, and its SIGINT handler cancels only the jobs on the list: a SIGINT
# during a check cancels nothing (Snakemake's race, not kojo's). A scancel
# wrapper on PATH records whether Snakemake asked; when it did not, the
# scenario runs again (at most 3 times). Status checks are rare here (one
# every 10 s), so the race is rare too.
mkdir -p "$WORK/wrap"
cat >"$WORK/wrap/scancel" <<WRAP
#!/bin/sh
echo "\$*" >>"$WORK/scancel.calls"
exec "$SLURM_BIN/scancel" "\$@"
WRAP
chmod +x "$WORK/wrap/scancel"
for attempt in 1 2 3; do
  rm -f "$WORK/scancel.calls" out/slow.txt
  # --foreground: the SIGINT below reaches snakemake once; without it timeout
  # also signals its whole process group, and a second SIGINT interrupts
  # snakemake's own scancel.
  PATH="$WORK/wrap:$PATH" timeout --foreground -k 10 120 snakemake --slurm --jobs 1 --max-status-checks-per-second 0.1 --rerun-incomplete \
    >"$WORK/cancel.log" 2>&1 &
  snake=$!
  slow=
  for _ in $(seq 300); do
    slow=$(squeue -h -t R -o '%i %j' | awk '/slow/ {print $1}')
    [[ -n $slow ]] && break
    sleep 0.1
  done
  [[ -n $slow ]] || { cat "$WORK/cancel.log" >&2; fail "the slow rule's job did not start"; }
  # Snakemake cancels the jobs it knows: wait until it has noted this one (on
  # a busy machine the job can be running before sbatch's answer is read).
  for _ in $(seq 300); do
    grep -q "submitted with SLURM jobid $slow" "$WORK/cancel.log" && break
    sleep 0.1
  done
  kill -INT "$snake"
  wait "$snake" || true
  if [[ -s $WORK/scancel.calls ]]; then break; fi
  echo "snakemake did not call scancel (attempt $attempt: its status-check race); again" >&2
  scancel "$slow"
  wait_state "$slow" CANCELLED 20
done
[[ -s $WORK/scancel.calls ]] || fail "snakemake never called scancel on SIGINT"
expect_match "$(cat "$WORK/scancel.calls")" "(^| )$slow( |$)" "snakemake's scancel names the job"
wait_state "$slow" CANCELLED 20
expect_match "$(cat "$WORK/cancel.log")" "Terminating processes on user request|Cancelling snakemake on user request|KeyboardInterrupt|Will exit after finishing" \
  "snakemake stopped on SIGINT"
echo "ok: snakemake --slurm against kojo"
