#!/usr/bin/env bash
# kojo's main job on this machine: build, then run a local controller with
# one agent (kojod --dev) on the embedded store, with the real GPUs if NVML
# finds any and emulated ones otherwise. Extra arguments go to kojod, e.g.
#   bash scripts/run.sh --listen 127.0.0.1:7100 --gpus 4xA100
# In another terminal: build/release/src/kojo submit --gpus 1 -- nvidia-smi
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh release
export PATH="$PWD/build/release/src:$PATH"
exec kojod --dev "$@"
