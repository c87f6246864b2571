#!/usr/bin/env bash
# Configures and builds one CMake preset (default: release); targets after
# the preset's name build only those (scripts/build.sh tsan agent_test).
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
targets=()
for t in "${@:2}"; do targets+=(--target "$t"); done
bash scripts/deps.sh
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/kojo-ccache}
# Paths relative to the checkout, so another clone of the same sources hits the cache.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)" "${targets[@]}"
