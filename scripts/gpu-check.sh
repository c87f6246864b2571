#!/usr/bin/env bash
# On a machine with NVIDIA GPUs: what the driver reports, then kojo's GPU
# tests (ctest label `gpu`, skipped elsewhere) run straight from a build:
#   GpuNvml.*  the agent's NVML discovery, and a job started on the last GPU
#   GpuLive.*  `kojod --dev` on the real GPUs: CUDA jobs submitted with the
#              CLI see exactly the GPUs kojo placed them on, and NVML's
#              utilisation of a busy GPU reaches the controller
# Usage: scripts/gpu-check.sh [BUILD_DIR]   (default build/release; builds
# nothing: run scripts/build.sh release first). Exit status: the tests'.
set -u
build=${1:-build/release}
for t in agent_test controller_test kojo-cuda-probe; do
  if [ ! -x "$build/tests/$t" ]; then
    echo "gpu-check: $build/tests/$t is missing (build with scripts/build.sh release)" >&2
    exit 2
  fi
done
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=index,name,uuid,memory.total,driver_version,mig.mode.current --format=csv
  nvidia-smi -L
else
  echo "gpu-check: no nvidia-smi on this machine; the tests below skip without NVML"
fi
rc=0
"$build/tests/agent_test" --gtest_filter='GpuNvml.*' || rc=1
"$build/tests/controller_test" --gtest_filter='GpuLive.*' || rc=1
echo "gpu-check: $([ $rc = 0 ] && echo passed || echo FAILED)"
exit $rc
