#!/usr/bin/env bash
# Configures and builds one CMake preset (default: release).
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
bash scripts/deps.sh
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/kojo-ccache}
# Paths relative to the checkout, so another clone of the same sources hits the cache.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
