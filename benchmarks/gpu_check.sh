#!/usr/bin/env bash
# The GPU check of issue 16, in one go on a machine with an NVIDIA GPU and a CUDA toolkit
# (about 10 minutes on an H200, most of it compiling llama.cpp for that one architecture):
#   1. builds llama-cpp-python for CUDA through the Makefile's own set-up (GPU=cuda), in $VENV;
#   2. runs benchmarks/gpu_check.py: a real load of SmolLM2 with a forced partial offload,
#      generation, NVML's numbers against the estimate, the GPU monitor's data.
# Exits non-zero when anything fails. VENV (default .venv-gpu) is kept: a second run skips the build.
# Offline: point pip at a wheelhouse first (PIP_NO_INDEX=1 PIP_FIND_LINKS=/path/to/wheels).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv-gpu}

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L; then
    echo "gpu_check: nvidia-smi finds no NVIDIA GPU here: nothing to check" >&2
    exit 2
fi
nvidia-smi --query-gpu=index,name,compute_cap,memory.total,memory.used --format=csv

start=$(date +%s)
make --no-print-directory VENV="$VENV" GPU=cuda "$VENV/.installed"
echo "gpu_check: set-up took $(($(date +%s) - start)) s"
"$VENV/bin/jupyter-ollama" system
"$VENV/bin/python" benchmarks/gpu_check.py
echo "gpu_check: $(($(date +%s) - start)) s in all"
