#!/usr/bin/env bash
# Create .venv in the repository root and install coexplore with its test tools.
# torch is installed first as a CPU build (a bare `torch` requirement would pull a multi-GB CUDA
# build on Linux); set COEXPLORE_TORCH_SPEC to choose another build, e.g. "torch" for CUDA.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${COEXPLORE_TORCH_SPEC:-torch==2.13.0}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=".venv/bin/python -m pip --disable-pip-version-check -q"
$PIP install --upgrade pip >/dev/null 2>&1 || true
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  echo "setup: installing $TORCH_SPEC (CPU build)"
  if ! $PIP install "$TORCH_SPEC" 2>/dev/null; then
    $PIP install "$TORCH_SPEC" --index-url https://download.pytorch.org/whl/cpu
  fi
fi
echo "setup: installing coexplore and its dependencies"
$PIP install -e ".[dev,grpc]"
echo "setup: done (.venv)"
