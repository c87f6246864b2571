#!/usr/bin/env bash
# The kojo sim demo: build, then replay the shipped Philly
# sample with the scheduler under several policies and print the comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh release
kojo=build/release/src/kojo
out=${KOJO_OUT:-out/demo}
mkdir -p "$out"
echo "== kojo sim compare: Philly sample (Jeon et al., ATC'19, CC-BY-4.0) on 12x8xV100 =="
"$kojo" sim compare --trace data/samples/philly-sample.csv --format philly \
  --cluster 12x8xV100 --policy fifo,sjf,tiresias,fairshare --backfill --out "$out"
echo
echo "== kojo sim pack: FGD experiment on the shipped Alibaba openb sample (Weng et al., ATC'23) =="
"$kojo" sim pack --nodes data/samples/openb-nodes-sample.csv \
  --pods data/samples/openb-pods-sample.csv --placer fgd
echo
echo "Plots and per-job CSV are in $out/. Try: $kojo sim --help"
