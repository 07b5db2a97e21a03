#!/usr/bin/env bash
# Every CUDA path of mrstnet in one command (docs/gpu.md): PASS/FAIL per check, speed, memory,
# benchmarks/results/gpu.json. On a GPU: scripts/gpu_check.sh (<= 8 minutes);
# on the CPU at tiny sizes (what CI runs): scripts/gpu_check.sh --device cpu --tiny
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
exec "${PYTHON:-python3}" scripts/gpu_check.py "$@"
