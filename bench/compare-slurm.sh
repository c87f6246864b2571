#!/usr/bin/env bash
# Slurm and kojo side by side on this machine, one after the other in one
# run, on the same shape: 16 emulated nodes of 8 typed GPUs each, all on
# 127.0.0.1. Figures, each the median of --reps repetitions:
#   - submit-to-start on an idle cluster: from just before the CLI is run
#     (`sbatch` / `kojo submit`) to the job's own process writing the time
#     (median of --latency-runs per repetition);
#   - CLI submissions from a shell loop while the jobs run: N trivial
#     1-GPU jobs, one `sbatch --wrap true` / `kojo submit -- true` each;
#   - end to end: those N singles, and an array of N, from the first
#     submission until every job has ended (all must complete);
#   - CPU per job of the whole process tree during the array run (each
#     system's daemons, job launchers, jobs and CLI run in a cgroup of
#     their own), and the same less the CPU of the jobs' own processes
#     (N `true`, measured alone).
# It ends with `min_ratio: X`: the smallest of kojo's advantages in CLI
# submissions, end-to-end rate (singles and array) and submit-to-start.
#
#   bench/compare-slurm.sh [N] [--reps R] [--latency-runs L] [--check] [--keep]
#
# Slurm: Debian's packages (slurmctld slurmd slurm-client munge), installed
# with apt-get when missing (as root; their services are not started). The
# script runs its own munged (own key and socket) and its own slurmctld and
# slurmd's with a configuration in its temporary folder (SLURM_CONF): it
# neither reads nor changes the system's. kojo: build/release (or
# $KOJO_BIN_DIR; $KOJO_CLI for another `kojo`) -- `bash scripts/build.sh
# release` first.
#
# Slurm is measured twice, with batch_sched_delay=3 (its default: a batch
# job's scheduling may wait up to 3 s, so that a burst of submissions is
# taken in first) and =0 (each job scheduled at once); the ratios are
# against the better of the two in each figure.
#
# Environment: SLURM_DELAYS ("3 0") the batch_sched_delay values to run;
# SLURM_SCHED the rest of SchedulerParameters (below); SKIP_SLURM=1
# measures kojo alone (e.g. two builds of the CLI, KOJO_CLI).
# --check: a short run (N=20, one repetition, Slurm with batch_sched_delay=0
# only) that checks that both systems run every job; it installs nothing
# and exits 77 (skipped) when Slurm is absent (ctest compare_slurm_check).
# The script stops every process it started (everything in its cgroups, or
# the ones it started by pid where it has no cgroup), also on failure or
# interruption; every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

N=300 REPS=3 LAT_RUNS=5 CHECK=0 KEEP=0
while (($#)); do
  case $1 in
    --reps) REPS=$2; shift 2 ;;
    --latency-runs) LAT_RUNS=$2; shift 2 ;;
    --check) CHECK=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    [0-9]*) N=$1; shift ;;
    *) echo "compare-slurm: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if ((CHECK)); then N=20 REPS=1 LAT_RUNS=2 SLURM_DELAYS=0; fi
BIN=${KOJO_BIN_DIR:-$ROOT/build/release/src}
KOJO_CLI=${KOJO_CLI:-$BIN/kojo}  # another build of the CLI, to compare two
GPUS_PER_NODE=8 NODES=16
SLURM_SCHED=${SLURM_SCHED-default_queue_depth=1000,partition_job_depth=0,max_rpc_cnt=150,sched_min_interval=10000,bf_continue}
SLURM_DELAYS=${SLURM_DELAYS:-3 0}
SKIP_SLURM=${SKIP_SLURM:-0}

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- Slurm present, or installed from Debian's packages -----------------
slurm_missing() {
  local b
  for b in slurmctld slurmd sbatch squeue sinfo munged; do command -v $b >/dev/null || return 0; done
  return 1
}
if ((SKIP_SLURM == 0)) && slurm_missing; then
  ((CHECK)) && { echo "compare-slurm: Slurm is not installed; skipped"; exit 77; }
  if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
    die "Slurm is not installed: apt-get install slurmctld slurmd slurm-client munge (as root)"
  fi
  log "installing Slurm from Debian's packages (services not started)"
  # policy-rc.d 101: the packages' services are installed, not started.
  made_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  rc=0
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q slurmctld slurmd slurm-client munge >&2 || rc=$?
  ((made_policy)) && rm -f /usr/sbin/policy-rc.d
  ((rc == 0)) && ! slurm_missing || die "installing Slurm failed"
fi
for b in kojod kojo-agent kojo; do
  [[ -x $BIN/$b ]] || die "$BIN/$b missing: bash scripts/build.sh release (or set KOJO_BIN_DIR)"
done
command -v curl >/dev/null || die "curl is needed"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kojo-vs-slurm.XXXXXX")
chmod 755 "$WORK"

# --- Processes: each system's in a cgroup of its own ---------------------
# cgroup v2 (cpu.stat) or v1 cpuacct (cpuacct.usage): every process the
# script starts, and everything they start (slurmstepd, jobs, tasks), is in
# it, which gives the CPU of the whole tree and the list to stop.
CG_BASE=""
if [[ -w /sys/fs/cgroup/cgroup.procs && -e /sys/fs/cgroup/cgroup.controllers ]]; then
  CG_BASE=/sys/fs/cgroup/kojo-vs-slurm.$$ CG_KIND=v2
elif [[ -d /sys/fs/cgroup/unified && -w /sys/fs/cgroup/unified/cgroup.procs ]]; then
  CG_BASE=/sys/fs/cgroup/unified/kojo-vs-slurm.$$ CG_KIND=v2
elif [[ -d /sys/fs/cgroup/cpuacct && -w /sys/fs/cgroup/cpuacct/cgroup.procs ]]; then
  CG_BASE=/sys/fs/cgroup/cpuacct/kojo-vs-slurm.$$ CG_KIND=v1
fi
if [[ -n $CG_BASE ]] && ! mkdir "$CG_BASE" 2>/dev/null; then CG_BASE=""; fi
[[ -n $CG_BASE ]] || log "no writable cgroup: no CPU figures; processes stopped by pid"

PIDS=()          # started by this script, for the case without cgroups
CUR_CG=""        # the running system's cgroup

cg_make() { [[ -n $CG_BASE ]] && mkdir -p "$CG_BASE/$1"; CUR_CG=${CG_BASE:+$CG_BASE/$1}; }
# CPU seconds used so far by the current system's cgroup ("" without one).
cg_cpu() {
  [[ -n $CUR_CG ]] || { echo ""; return; }
  if [[ $CG_KIND == v2 ]]; then awk '$1=="usage_usec"{printf "%.6f", $2/1e6}' "$CUR_CG/cpu.stat"
  else awk '{printf "%.6f", $1/1e9}' "$CUR_CG/cpuacct.usage"; fi
}
# Runs "$@" in the background inside the current cgroup; its pid in PIDS.
start() {
  local out=$1; shift
  ( [[ -n $CUR_CG ]] && echo $BASHPID > "$CUR_CG/cgroup.procs"; exec "$@" ) > "$out" 2>&1 &
  PIDS+=($!)
}
# Runs "$@" in the foreground inside the current cgroup.
in_cg() { ( [[ -n $CUR_CG ]] && echo $BASHPID > "$CUR_CG/cgroup.procs"; "$@" ); }

# Stops what runs in cgroup $1 (or, without cgroups, the PIDS): SIGTERM,
# up to 10 s, then SIGKILL.
stop_all() {
  local cg=${1:-} procs p i
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  if [[ -n $cg && -d $cg ]]; then
    procs=$(cat "$cg/cgroup.procs" 2>/dev/null || true)
    [[ -n $procs ]] && kill -TERM $procs 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      [[ -z $(cat "$cg/cgroup.procs" 2>/dev/null) ]] && break
      sleep 0.1
    done
    procs=$(cat "$cg/cgroup.procs" 2>/dev/null || true)
    [[ -n $procs ]] && kill -KILL $procs 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do [[ -z $(cat "$cg/cgroup.procs" 2>/dev/null) ]] && break; sleep 0.1; done
    rmdir "$cg" 2>/dev/null || true
  fi
  for p in "${PIDS[@]}"; do
    for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  PIDS=()
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_all "$CUR_CG"
  if [[ -n $CG_BASE ]]; then
    local d
    for d in "$CG_BASE"/*/; do [[ -d $d ]] && stop_all "${d%/}"; done
    rmdir "$CG_BASE" 2>/dev/null || true
  fi
  if ((KEEP)) || ((rc != 0)); then log "logs and state kept in $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Helpers --------------------------------------------------------------
now_us() { echo "${EPOCHREALTIME/./}"; }
# nap SECONDS: sleep without starting a process (a read that times out on
# a pipe nobody writes to), so that polling every millisecond costs little.
exec {NAP_FD}<> <(:)
nap() { read -rt "$1" -u "$NAP_FD" || true; }
# wait_until SECONDS STEP COMMAND...: true once COMMAND succeeds, false at the deadline.
wait_until() {
  local limit=$1 step=$2; shift 2
  local end=$(($(now_us) + limit * 1000000))
  until "$@"; do
    (($(now_us) > end)) && return 1
    nap "$step"
  done
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END{if(NR==0){print "nan"; exit} print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
fmt1() { awk -v x="$1" 'BEGIN{ if (x=="" || x=="nan") print "n/a"; else if (x>=100) printf "%.0f\n", x; else if (x>=10) printf "%.1f\n", x; else printf "%.2f\n", x }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a=="" || b=="" || a=="nan" || b=="nan" || b==0) print "nan"; else printf "%.4g", a/b }'; }
# CPU seconds of N `true` processes started from a shell loop (their own
# CPU only: the children's line of `times`).
true_cpu() {
  local n=$1
  (for ((i = 0; i < n; i++)); do /bin/true; done; times) | awk 'NR==2{
      split($1,u,"m"); split($2,s,"m"); sub("s","",u[2]); sub("s","",s[2]);
      printf "%.6f", u[1]*60+u[2]+s[1]*60+s[2] }'
}

free_ports() {  # free_ports COUNT: a base port with COUNT free ports after it
  local count=$1 base used p ok
  used=$(ss -Htan 2>/dev/null | awk '{n=split($4,a,":"); print a[n]}' | sort -u)
  for ((try = 0; try < 50; try++)); do
    base=$((20000 + RANDOM % 30000)) ok=1
    for ((p = base; p < base + count; p++)); do grep -qx "$p" <<< "$used" && { ok=0; break; }; done
    ((ok)) && { echo $base; return; }
  done
  die "no $count free ports"
}

declare -A R   # R[system.figure] = "v1 v2 ..." (one per repetition)
add() { R[$1]="${R[$1]:-} $2"; }

# --- Slurm ------------------------------------------------------------------
slurm_setup() {
  SL=$WORK/slurm-delay$DELAY
  mkdir -p "$SL"/{munge,munge-sock,ctld,spool,log,gpu,jobs}
  chmod 700 "$SL/munge"; chmod 755 "$SL/munge-sock"
  dd if=/dev/urandom of="$SL/munge/key" bs=128 count=1 status=none
  chmod 600 "$SL/munge/key"
  local g host base
  for ((g = 0; g < GPUS_PER_NODE; g++)); do : > "$SL/gpu/gpu$g"; done
  host=$(hostname -s)
  base=$(free_ports $((NODES + 2)))
  cat > "$SL/slurm.conf" <<EOF
# Written by bench/compare-slurm.sh for one run; see docs/results.md.
ClusterName=kojobench
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$base-$((base + 1))
SlurmUser=$(id -un)
SlurmdUser=$(id -un)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SL/munge-sock/munge.socket
StateSaveLocation=$SL/ctld
SlurmdSpoolDir=$SL/spool/%n
SlurmctldPidFile=$SL/slurmctld.pid
SlurmdPidFile=$SL/slurmd-%n.pid
SlurmctldLogFile=$SL/log/slurmctld.log
SlurmdLogFile=$SL/log/slurmd-%n.log
MailProg=/bin/true
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
GresTypes=gpu
SlurmdParameters=config_overrides
ReturnToService=2
# The high-throughput tuning of Slurm's guide (high_throughput.html): no
# accounting or job completion records, little logging, more jobs kept,
# a wider scheduling depth, RPC back-pressure, two controller ports, and
# munged with more threads (below); batch_sched_delay: see the top.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SlurmctldDebug=error
SlurmdDebug=error
MaxJobCount=200000
MinJobAge=300
MessageTimeout=30
SchedulerParameters=batch_sched_delay=$DELAY,$SLURM_SCHED
PartitionName=gpu Nodes=node-[00-$(printf %02d $((NODES - 1)))] Default=YES MaxTime=INFINITE State=UP
EOF
  local i
  for ((i = 0; i < NODES; i++)); do
    printf 'NodeName=node-%02d NodeHostname=%s NodeAddr=127.0.0.1 Port=%d CPUs=64 RealMemory=256000 Gres=gpu:h100:%d State=UNKNOWN\n' \
      "$i" "$host" $((base + 2 + i)) "$GPUS_PER_NODE" >> "$SL/slurm.conf"
    mkdir -p "$SL/spool/$(printf node-%02d "$i")"
  done
  printf 'AutoDetect=off\nNodeName=node-[00-%02d] Name=gpu Type=h100 File=%s/gpu/gpu[0-%d]\n' \
    $((NODES - 1)) "$SL" $((GPUS_PER_NODE - 1)) > "$SL/gres.conf"
  export SLURM_CONF=$SL/slurm.conf
}
slurm_up() {
  cg_make slurm-delay$DELAY
  start "$SL/log/munged.out" munged -F --num-threads=10 --socket="$SL/munge-sock/munge.socket" \
    --key-file="$SL/munge/key" --pid-file="$SL/munge/munged.pid" --log-file="$SL/log/munged.log" \
    --seed-file="$SL/munge/seed"
  wait_until 10 0.05 test -S "$SL/munge-sock/munge.socket" || die "munged did not start: $(cat "$SL/log/munged.out")"
  start "$SL/log/slurmctld.out" slurmctld -D -i
  local i
  for ((i = 0; i < NODES; i++)); do start "$SL/log/slurmd-$i.out" slurmd -D -N "$(printf node-%02d "$i")"; done
  idle16() { [[ $(sinfo -h -t idle -o '%D' 2>/dev/null | awk '{s+=$1} END{print s+0}') == "$NODES" ]]; }
  wait_until 60 0.2 idle16 || die "Slurm's $NODES nodes are not idle after 60 s (logs in $SL/log)"
}
slurm_open() { [[ -z $(squeue -h -t PD,CF,R,CG,S -o %i 2>/dev/null | head -1) ]]; }
slurm_latency() {
  local mark=$SL/jobs/start-$1 t0 t1
  t0=$(now_us)
  sbatch -Q -o /dev/null --gres=gpu:1 --wrap "date +%s%N > $mark.tmp && mv $mark.tmp $mark" >/dev/null
  wait_until 60 0.01 test -s "$mark" || die "Slurm: a job did not start within 60 s"
  t1=$(($(cat "$mark") / 1000))
  wait_until 60 0.05 slurm_open || die "Slurm: a job did not end within 60 s"
  echo "$(((t1 - t0) / 1000)).$(printf %03d $(((t1 - t0) % 1000)))"
}
slurm_rep() {
  local rep=$1 i lat=() first last t0 t1 t2 c0 c1 done_n aid
  for ((i = 0; i < LAT_RUNS; i++)); do lat+=("$(slurm_latency "$rep-$i")"); done
  add $SP.latency "$(echo "${lat[*]}" | median)"
  # Singles from a shell loop of the CLI, the jobs running meanwhile.
  c0=$(cg_cpu); t0=$(now_us)
  in_cg bash -c 'for ((i = 0; i < $1; i++)); do sbatch --parsable -o /dev/null --gres=gpu:1 --wrap true; done' _ "$N" \
    > "$SL/jobs/singles-$rep"
  t1=$(now_us)
  wait_until 600 0.1 slurm_open || die "Slurm: singles not done within 600 s"
  t2=$(now_us); c1=$(cg_cpu)
  first=$(head -1 "$SL/jobs/singles-$rep"); last=$(tail -1 "$SL/jobs/singles-$rep")
  done_n=$(squeue -h -t CD -o %i | awk -v a="$first" -v b="$last" '$1>=a && $1<=b' | wc -l)
  ((done_n == N)) || die "Slurm: $done_n of $N singles COMPLETED"
  add $SP.submit "$(awk -v n="$N" -v d=$((t1 - t0)) 'BEGIN{printf "%.2f", n*1e6/d}')"
  add $SP.singles "$(awk -v n="$N" -v d=$((t2 - t0)) 'BEGIN{printf "%.2f", n*1e6/d}')"
  add $SP.singles_cpu "$(awk -v a="$c0" -v b="$c1" -v n="$N" 'BEGIN{if(a=="") print ""; else printf "%.4f", (b-a)*1000/n}')"
  # One array of N.
  c0=$(cg_cpu); t0=$(now_us)
  aid=$(in_cg sbatch --parsable -o /dev/null --gres=gpu:1 --array=0-$((N - 1)) --wrap true)
  wait_until 600 0.1 slurm_open || die "Slurm: array not done within 600 s"
  t2=$(now_us); c1=$(cg_cpu)
  done_n=$(squeue -h -r -t CD -j "$aid" -o %i | wc -l)
  ((done_n == N)) || die "Slurm: $done_n of $N array tasks COMPLETED"
  add $SP.array "$(awk -v n="$N" -v d=$((t2 - t0)) 'BEGIN{printf "%.2f", n*1e6/d}')"
  add $SP.cpu "$(awk -v a="$c0" -v b="$c1" -v n="$N" 'BEGIN{if(a=="") print ""; else printf "%.4f", (b-a)*1000/n}')"
}

# --- kojo -------------------------------------------------------------------
KJ=$WORK/kojo
URL=""
kojo_up() {
  cg_make kojo
  mkdir -p "$KJ/jobs"
  start "$KJ/kojod.log" "$BIN/kojod" --data-dir "$KJ/kojod" --listen 127.0.0.1:0
  wait_until 20 0.02 test -s "$KJ/kojod/kojod.addr" || die "kojod did not start: $(tail -5 "$KJ/kojod.log")"
  URL=$(tr -d '\n ' < "$KJ/kojod/kojod.addr")
  local i
  for ((i = 0; i < NODES; i++)); do
    start "$KJ/agent-$i.log" "$BIN/kojo-agent" --server "$URL" --name "$(printf node-%02d "$i")" \
      --state-dir "$KJ/agent-$i" --listen 127.0.0.1:0 --emulate-gpus "${GPUS_PER_NODE}xH100-80GB" --quiet
  done
  up16() { [[ $(curl -sf "$URL/api/v1/nodes" | grep -o '"state":"UP"' | wc -l) == "$NODES" ]]; }
  wait_until 60 0.1 up16 || die "kojo's $NODES agents are not up after 60 s (logs in $KJ)"
  export KOJO_SERVER=$URL
}
kojo_open() { curl -sf "$URL/api/v1/jobs?state=PENDING,STARTING,RUNNING,STOPPING&limit=1" | grep -q '"jobs":\[\]'; }
kojo_completed() {  # ids after $1 that COMPLETED (one page: N <= 10000)
  curl -sf "$URL/api/v1/jobs?state=COMPLETED&after=$1&limit=10000" | grep -o '"state":"COMPLETED"' | wc -l
}
kojo_latency() {
  local mark=$KJ/jobs/start-$1 t0 t1
  t0=$(now_us)
  "$KOJO_CLI" submit --gpus 1 -- sh -c "date +%s%N > $mark.tmp && mv $mark.tmp $mark" >/dev/null
  wait_until 60 0.001 test -s "$mark" || die "kojo: a job did not start within 60 s"
  t1=$(($(cat "$mark") / 1000))
  wait_until 60 0.01 kojo_open || die "kojo: a job did not end within 60 s"
  echo "$(((t1 - t0) / 1000)).$(printf %03d $(((t1 - t0) % 1000)))"
}
kojo_rep() {
  local rep=$1 i lat=() first t0 t1 t2 c0 c1 done_n
  for ((i = 0; i < LAT_RUNS; i++)); do lat+=("$(kojo_latency "$rep-$i")"); done
  add kojo.latency "$(echo "${lat[*]}" | median)"
  c0=$(cg_cpu); t0=$(now_us)
  in_cg bash -c 'for ((i = 0; i < $2; i++)); do "$1" submit --gpus 1 -- true; done' _ "$KOJO_CLI" "$N" \
    > "$KJ/jobs/singles-$rep"
  t1=$(now_us)
  wait_until 600 0.02 kojo_open || die "kojo: singles not done within 600 s"
  t2=$(now_us); c1=$(cg_cpu)
  first=$(head -1 "$KJ/jobs/singles-$rep" | grep -o '[0-9]*$')
  done_n=$(kojo_completed $((first - 1)))
  ((done_n == N)) || die "kojo: $done_n of $N singles COMPLETED"
  add kojo.submit "$(awk -v n="$N" -v d=$((t1 - t0)) 'BEGIN{printf "%.2f", n*1e6/d}')"
  add kojo.singles "$(awk -v n="$N" -v d=$((t2 - t0)) 'BEGIN{printf "%.2f", n*1e6/d}')"
  add kojo.singles_cpu "$(awk -v a="$c0" -v b="$c1" -v n="$N" 'BEGIN{if(a=="") print ""; else printf "%.4f", (b-a)*1000/n}')"
  c0=$(cg_cpu); t0=$(now_us)
  first=$(in_cg "$KOJO_CLI" submit --gpus 1 --array 0-$((N - 1)) -- true | grep -o '[0-9][0-9]*' | head -1)
  wait_until 600 0.02 kojo_open || die "kojo: array not done within 600 s"
  t2=$(now_us); c1=$(cg_cpu)
  done_n=$(kojo_completed $((first - 1)))
  ((done_n == N)) || die "kojo: $done_n of $N array tasks COMPLETED"
  add kojo.array "$(awk -v n="$N" -v d=$((t2 - t0)) 'BEGIN{printf "%.2f", n*1e6/d}')"
  add kojo.cpu "$(awk -v a="$c0" -v b="$c1" -v n="$N" 'BEGIN{if(a=="") print ""; else printf "%.4f", (b-a)*1000/n}')"
}

# --- The run --------------------------------------------------------------------
log "work folder $WORK; N=$N, $REPS repetitions, $LAT_RUNS latency runs each; $NODES nodes x $GPUS_PER_NODE GPUs"
SPS=()
if ((SKIP_SLURM == 0)); then
  for DELAY in $SLURM_DELAYS; do
    SP=slurm$DELAY SPS+=("$SP")
    slurm_setup
    log "Slurm $(slurmctld -V | awk '{print $2}'), batch_sched_delay=$DELAY: starting munged, slurmctld, $NODES slurmd"
    slurm_up
    slurm_latency warm >/dev/null
    for ((r = 1; r <= REPS; r++)); do log "Slurm (batch_sched_delay=$DELAY) repetition $r"; slurm_rep "$r"; done
    stop_all "$CUR_CG"; CUR_CG=""
  done
fi
log "kojo: starting kojod, $NODES kojo-agents"
kojo_up
kojo_latency warm >/dev/null
for ((r = 1; r <= REPS; r++)); do log "kojo repetition $r"; kojo_rep "$r"; done
stop_all "$CUR_CG"; CUR_CG=""
true_ms=$(awk -v c="$(true_cpu "$N")" -v n="$N" 'BEGIN{printf "%.4f", c*1000/n}')

# --- The table ------------------------------------------------------------------
m() { echo "${R[$1]:-}" | median; }
vals() { echo "${R[$1]:-}" | xargs -n1 2>/dev/null | while read -r v; do fmt1 "$v"; done | paste -sd, | sed 's/,/, /g'; }
# Slurm's better median of a figure over its configurations: min or max.
best() {
  local fig=$1 how=$2 sp
  for sp in "${SPS[@]}"; do m "$sp.$fig"; done | grep -v nan |
    sort -g | { if [[ $how == min ]]; then head -1; else tail -1; fi; } | grep . || echo nan
}
less_true() { awk -v c="$1" -v t="$true_ms" 'BEGIN{ if (c=="" || c=="nan") print "nan"; else printf "%.4f", c-t }'; }
# row LABEL UNIT FIGURE min|max: kojo's advantage is Slurm/kojo for min
# (times, CPU), kojo/Slurm for max (rates).
row() {
  local label=$1 unit=$2 fig=$3 how=$4 sp line k b r
  line="| $label |"
  for sp in "${SPS[@]}"; do line+=" $(fmt1 "$(m "$sp.$fig")") $unit |"; done
  k=$(m "kojo.$fig") b=$(best "$fig" "$how")
  if [[ $how == min ]]; then r=$(ratio "$b" "$k"); else r=$(ratio "$k" "$b"); fi
  echo "$line $(fmt1 "$k") $unit | $(fmt1 "$r")x |"
  RATIO[$fig]=$r
}
declare -A RATIO
for sp in "${SPS[@]}" kojo; do R[$sp.own]=$(less_true "$(m "$sp.cpu")"); done
header="| figure (median of $REPS) |" rule="|---|"
for sp in "${SPS[@]}"; do header+=" Slurm, batch_sched_delay=${sp#slurm} |"; rule+="---|"; done
header+=" kojo | kojo's advantage over Slurm's better |" rule+="---|---|"

echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo); Slurm $( ((SKIP_SLURM)) && echo skipped || slurmctld -V | awk '{print $2}'); kojo $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'); $NODES nodes x $GPUS_PER_NODE GPUs on 127.0.0.1; N=$N; medians of $REPS repetitions"
echo
echo "$header"
echo "$rule"
row "submit-to-start, idle cluster, CLI to the job's first instruction (median of $LAT_RUNS each)" ms latency min
row "CLI submissions from a shell loop while the jobs run ($N \`sbatch\` / \`kojo submit\`)" /s submit max
row "end to end, $N singles from that loop, first submission to last end" jobs/s singles max
row "end to end, one array of $N" jobs/s array max
row "CPU per job, whole process tree, array run" ms cpu min
row "the same less the job's own process ($(fmt1 "$true_ms") ms: N \`true\` alone)" ms own min
row "CPU per job, whole process tree, singles run (CLI loop included)" ms singles_cpu min
echo
echo "Each repetition (${SPS[*]} kojo):"
for fig in latency submit singles array cpu; do
  line="  $fig:"
  for sp in "${SPS[@]}" kojo; do line+=" $(vals "$sp.$fig") |"; done
  echo "${line% |}"
done
min=$(printf '%s\n' "${RATIO[submit]}" "${RATIO[singles]}" "${RATIO[array]}" "${RATIO[latency]}" | { grep -v nan || true; } | sort -g | head -1)
echo
echo "min_ratio: $(fmt1 "$min")"
