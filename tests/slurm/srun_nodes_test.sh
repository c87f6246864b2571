#!/usr/bin/env bash
# srun across two emulated nodes: a job of two nodes whose script runs
# `srun -n 4`; each node's srun starts its share of the ranks (block
# distribution), and every rank sees the step's world and one rendezvous.
# Usage: srun_nodes_test.sh KOJOD KOJO SLURM_BIN
source "$(dirname "$0")/live_lib.sh"
start_kojod
AGENT=$(dirname "$KOJOD")/kojo-agent
url=$(sed -E 's/.*"server": *"([^"]*)".*/\1/' "$XDG_CONFIG_HOME/kojo/dev.json")
token=$("$KOJO" admin token create --node second | grep -o 'kojo_[0-9a-f]*' | head -1)
[[ -n $token ]] || fail "no node token for the second agent"
setsid "$AGENT" --server "$url" --token "$token" --name second --state-dir "$WORK/second" --listen 127.0.0.1:0 \
  --emulate-gpus 4xH100-80GB --kill-grace 1 --heartbeat-wait-ms 500 >"$WORK/second.log" 2>&1 &
SECOND_PID=$!
trap 'kill -TERM $SECOND_PID 2>/dev/null; stop_kojod' EXIT
for _ in $(seq 300); do
  [[ $("$KOJO" nodes --json 2>/dev/null | grep -c '"state": "UP"') == 2 ]] && break
  sleep 0.1
done
[[ $("$KOJO" nodes --json | grep -c '"state": "UP"') == 2 ]] || fail "the second node did not come up"

cd "$WORK"
# 3 GPUs on each node: the two tasks cannot share one 4-GPU node.
id=$(sbatch --parsable -N 2 --gpus-per-node=3 -t 5 -o "$WORK/step-%j-%t.out" --wrap \
  'srun -n 4 --label sh -c "echo rank=\$RANK local=\$LOCAL_RANK node=\$SLURM_NODEID world=\$WORLD_SIZE step=\$SLURM_STEP_TASKS_PER_NODE at=\$MASTER_ADDR:\$MASTER_PORT"')
wait_state "$id" COMPLETED
out=$(cat "$WORK/step-$id-0.out" "$WORK/step-$id-1.out" | sort)
masters=$(grep -o 'at=[^ ]*' <<<"$out" | sort -u)
[[ $(wc -l <<<"$masters") == 1 ]] || fail "the ranks disagree on the rendezvous: $masters"
lines=$(sed 's/ at=.*//' <<<"$out")
expect_eq "$lines" "0: rank=0 local=0 node=0 world=4 step=2(x2)
1: rank=1 local=1 node=0 world=4 step=2(x2)
2: rank=2 local=0 node=1 world=4 step=2(x2)
3: rank=3 local=1 node=1 world=4 step=2(x2)" "four ranks over two nodes"
echo "srun across two nodes: ok"
