#!/usr/bin/env bash
# Creates .venv-peers/ (ignored by git) with a pinned PyTorch 2.x from PyPI,
# numpy and h5py: the strong peer of benchmarks/peers/train_throughput.py.
# PyPI's Linux wheel carries its CUDA libraries (~5 GB on disk), so the same
# environment also serves a GPU machine. Idempotent; VENV=path overrides the place.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${VENV:-.venv-peers}
TORCH_VERSION=${TORCH_VERSION:-2.15.0}
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q "torch==$TORCH_VERSION" numpy h5py
fi
"$VENV/bin/python" - <<'PYEOF'
import re, torch
show = torch.__config__.show()
blas = re.search(r"BLAS_INFO=(\w+)", show)
dnnl = re.search(r"(?:oneDNN\)|MKL-DNN) v?([0-9][0-9.]*)", show)
print("peers venv: torch %s, BLAS %s, oneDNN %s, CPU capability %s" % (
    torch.__version__, blas.group(1) if blas else "?", dnnl.group(1) if dnnl else "?",
    torch.backends.cpu.get_cpu_capability()))
PYEOF
