#!/usr/bin/env bash
# The Slurm commands against a live kojod: sbatch (--parsable, --wrap, a
# script's directives, partitions), squeue (-h -o, -j, -t, -u), sacct
# (-X -P -n --format, -j), scancel, scontrol show job, sinfo -o %P,
# sacctmgr show user, srun outside a job (output and exit status) and
# inside one (ranks on this node, --label, the first failing status),
# salloc with a command, and its refusal without one.
source "$(dirname "$0")/live_lib.sh" "$@"
start_kojod
cd "$WORK"
me=$(id -un)

# sinfo: one default partition, marked with '*'.
out=$(sinfo -o %P)
expect_eq "$out" $'PARTITION\ngpu*' "sinfo -o %P"
out=$(sinfo -h -o '%R %D %t %G')
expect_eq "$out" "gpu 1 idle gpu:h100:4" "sinfo -h -o"

# sacctmgr: the account is the kojo project (`kojod --dev` makes "default").
out=$(sacctmgr show user "$me" format=DefaultAccount -P -n)
expect_eq "$out" "default" "sacctmgr DefaultAccount"
out=$(sacctmgr -n -s list user "$me" format=account%20)
expect_match "$out" '^ +default $' "sacctmgr -s list user"

# sbatch --wrap --parsable, then sacct and squeue.
id=$(sbatch --parsable -J wrapped -p gpu -t 5 --mem 100 --gres=gpu:1 --wrap 'echo wrapped-ok; exit 0')
expect_match "$id" '^[0-9]+$' "sbatch --parsable"
wait_state "$id" COMPLETED
out=$(sacct -X -P -n --format=JobIdRaw,JobName,State,ExitCode,Partition,Account -j "$id")
expect_eq "$out" "$id|wrapped|COMPLETED|0:0|gpu|default" "sacct -P"
out=$(sacct -P --format=JobID,State -j "$id")
expect_eq "$out" $'JobID|State\n'"$id|COMPLETED" "sacct -P with header"
out=$(squeue -h -o '%i %T' -j "$id" -t all)
expect_eq "$out" "$id COMPLETED" "squeue -j -t all on an ended job"
out=$(squeue -h -j "$id")
expect_eq "$out" "" "squeue -j on an ended job, as squeue: not listed"
if squeue -j 999999 2>"$WORK/err"; then fail "squeue -j on a missing job succeeded"; fi
expect_eq "$(cat "$WORK/err")" "slurm_load_jobs error: Invalid job id specified" "squeue -j on a missing job"
out=$(scontrol show job "$id")
expect_match "$out" "^JobId=$id JobName=wrapped" "scontrol show job"
expect_match "$out" 'JobState=COMPLETED Reason=None' "scontrol JobState"
expect_match "$out" 'ExitCode=0:0' "scontrol ExitCode"
out=$(scontrol show jobid -dd "$id")
expect_match "$out" 'DerivedExitCode=0:0' "scontrol -dd"
if scontrol show job 999999 2>"$WORK/err"; then fail "scontrol on a missing job succeeded"; fi
expect_match "$(cat "$WORK/err")" 'Invalid job id specified' "scontrol missing job"

# As sbatch: the environment goes with the job (--export=ALL) and its
# output goes to slurm-%j.out where it was submitted.
id5=$(FROM_SUBMIT=carried sbatch --parsable --wrap 'echo "env=$FROM_SUBMIT"')
id6=$(FROM_SUBMIT=carried sbatch --parsable --export=NONE --wrap 'echo "env=$FROM_SUBMIT"')
wait_state "$id5" COMPLETED
wait_state "$id6" COMPLETED
expect_eq "$(cat "slurm-$id5.out")" "env=carried" "sbatch's default --export=ALL"
expect_eq "$(cat "slurm-$id6.out")" "env=" "sbatch --export=NONE"

# An array: tasks as ARRAYJOB_INDEX, output in slurm-%A_%a.out.
ida=$(sbatch --parsable -a 0-2 --wrap 'echo "task=$SLURM_ARRAY_TASK_ID"')
for _ in $(seq 300); do
  [[ $(sacct -X -P -n --format=State -j "$ida" | sort -u) == COMPLETED ]] && break
  sleep 0.1
done
out=$(sacct -X -P -n --format=JobID,State -j "$ida")
expect_eq "$out" "${ida}_0|COMPLETED"$'\n'"${ida}_1|COMPLETED"$'\n'"${ida}_2|COMPLETED" "sacct -j ARRAYJOB"
raw2=$(sacct -X -P -n --format=JobIDRaw -j "${ida}_2")
expect_match "$raw2" '^[0-9]+$' "sacct -j ARRAYJOB_INDEX"
expect_eq "$(scontrol show job "${ida}_2" | head -1)" "JobId=$raw2 ArrayJobId=$ida ArrayTaskId=2 JobName=wrap" "scontrol show job ARRAYJOB_INDEX"
expect_eq "$(cat "slurm-${ida}_2.out")" "task=2" "an array task's slurm-%A_%a.out"

# An unknown partition is refused, as sbatch does.
if sbatch -p nosuch --wrap true 2>"$WORK/err"; then fail "sbatch -p nosuch succeeded"; fi
expect_match "$(cat "$WORK/err")" '^sbatch: error: invalid partition specified: nosuch' "sbatch -p nosuch"
# An option kojo cannot honour: one line naming it.
if sbatch --dependency=afterok:1 --wrap true 2>"$WORK/err"; then fail "sbatch --dependency succeeded"; fi
expect_match "$(cat "$WORK/err")" '^sbatch: error: .*--dependency' "sbatch --dependency"

# A script with directives; it fails with status 3.
cat >"$WORK/job.sh" <<'SCRIPT'
#!/bin/bash
#SBATCH --job-name=scripted
#SBATCH --output=scripted-%j.out
#SBATCH --time=00:05:00
echo "job $SLURM_JOB_ID on $SLURM_JOB_NODELIST"
exit 3
SCRIPT
out=$(sbatch "$WORK/job.sh")
expect_match "$out" '^Submitted batch job [0-9]+$' "sbatch script"
id2=${out##* }
wait_state "$id2" FAILED
out=$(sacct -X -P -n --format=JobName,State,ExitCode -j "$id2")
expect_eq "$out" "scripted|FAILED|3:0" "sacct failed job"
expect_match "$(cat "$WORK/scripted-$id2.out")" "^job $id2 on " "the script's output file"

# A long job: squeue shows it running, scancel cancels it.
id3=$(sbatch --parsable -J sleeper --wrap 'sleep 60')
for _ in $(seq 100); do [[ $(squeue -h -o %t -j "$id3") == R ]] && break; sleep 0.1; done
out=$(squeue -h -o '%.8i|%-8j|%t|%u|%P' -t R)
expect_match "$out" "^ +$id3\|sleeper \|R\|$me\|gpu$" "squeue -t R"
expect_eq "$(squeue -h -t all -p other)" "" "squeue -p of another partition"
expect_eq "$(squeue -t all -p other -o '%i %j')" "JOBID NAME" "squeue -p of another partition: the header"
out=$(squeue -h -u "$me" -o %i)
expect_match "$out" "$id3" "squeue -u"
out=$(squeue)
expect_match "$out" '^ +JOBID PARTITION +NAME +USER ST +TIME +NODES NODELIST\(REASON\)' "squeue's default header"
scancel "$id3"
wait_state "$id3" CANCELLED
scancel "$id3" 2>/dev/null || fail "scancel on an ended job must succeed"
scancel 999999 2>"$WORK/err" || fail "scancel on a missing job must exit 0, as Slurm's"
expect_match "$(cat "$WORK/err")" 'Invalid job id specified' "scancel missing job"

# srun outside a job: the job's output, and its exit status.
out=$(srun -J inline -t 5 sh -c 'echo out-line; echo err-line >&2; exit 0' 2>"$WORK/err")
expect_eq "$out" "out-line" "srun stdout"
expect_match "$(cat "$WORK/err")" 'err-line' "srun stderr"
set +e
srun sh -c 'exit 7' 2>/dev/null
rc=$?
set -e
expect_eq "$rc" 7 "srun exit status"

# srun inside a job: four ranks on this node, labelled; the first failing
# status is the step's.
cat >"$WORK/step.sh" <<'SCRIPT'
#!/bin/bash
#SBATCH -J stepper
#SBATCH -o step-%j.out
srun -n 4 --label sh -c 'echo "rank=$SLURM_PROCID local=$SLURM_LOCALID RANK=$RANK LOCAL_RANK=$LOCAL_RANK WORLD_SIZE=$WORLD_SIZE master=$MASTER_ADDR:$MASTER_PORT"'
echo "first=$?"
srun -n 3 sh -c 'exit $((SLURM_PROCID == 1 ? 5 : 0))'
echo "second=$?"
srun -N 2 true
echo "multinode=$?"
SCRIPT
id4=$(sbatch --parsable "$WORK/step.sh")
wait_state "$id4" COMPLETED
log=$(cat "$WORK/step-$id4.out")
for r in 0 1 2 3; do
  grep -Eq "^$r: rank=$r local=$r RANK=$r LOCAL_RANK=$r WORLD_SIZE=4 master=127.0.0.1:[0-9]+$" "$WORK/step-$id4.out" ||
    fail "rank $r's line in: $log"
done
expect_match "$log" 'first=0' "the step's status"
expect_match "$log" 'task 1: Exited with exit code 5' "the failing task"
expect_match "$log" 'second=5' "the failing step's status"
expect_match "$log" 'srun: error: .*2 nodes' "a multi-node step is refused"
expect_match "$log" 'multinode=1' "the refused step's status"

# --gpus-per-task binds each task to its own GPUs of the job's.
idg=$(sbatch --parsable -J bind --gres=gpu:2 -o "$WORK/bind-%j.out" \
  --wrap 'srun -n 2 --gpus-per-task=1 --label sh -c "echo gpus=\$CUDA_VISIBLE_DEVICES"')
wait_state "$idg" COMPLETED
bind=$(sort "$WORK/bind-$idg.out")
expect_match "$bind" '^0: gpus=[0-9]+'$'\n''1: gpus=[0-9]+$' "one GPU per task"
[[ $(sed 's/.*gpus=//' <<<"$bind" | sort -u | wc -l) == 2 ]] || fail "the two tasks share a GPU: $bind"

# Cancelling a job cancels its step's tasks too.
id7=$(sbatch --parsable -J stepsleep --wrap 'srun -n 2 sleep 61.5')
for _ in $(seq 100); do pgrep -f "^sleep 61.5" >/dev/null && break; sleep 0.1; done
[[ $(pgrep -fc "^sleep 61.5") == 2 ]] || fail "the step's two tasks did not start"
scancel "$id7"
wait_state "$id7" CANCELLED
for _ in $(seq 50); do pgrep -f "^sleep 61.5" >/dev/null || break; sleep 0.1; done
if pgrep -f "^sleep 61.5" >/dev/null; then fail "the step's tasks outlived their cancelled job"; fi

# salloc COMMAND runs the command as the job, on its node, with a warning;
# an interactive salloc (no command) is refused, clearly.
out=$(salloc -N1 -t 5 sh -c 'srun -n 2 --label sh -c "echo alloc=\$SLURM_JOB_ID"' 2>"$WORK/err" | sort)
expect_match "$out" '^0: alloc=[0-9]+'$'\n''1: alloc=[0-9]+$' "salloc's command and its srun step"
expect_match "$(cat "$WORK/err")" 'salloc: warning: kojo runs the command as the job' "salloc's warning"
if salloc -N1 2>"$WORK/err"; then fail "salloc without a command succeeded"; fi
expect_match "$(cat "$WORK/err")" '^salloc: error: an interactive allocation' "salloc without a command"
echo "ok: Slurm commands against kojod"
