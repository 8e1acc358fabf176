#!/usr/bin/env bash
# Creates .venv-peers/ (ignored by git) with a pinned PyTorch 2.x from PyPI,
# numpy and h5py: the strong peer of benchmarks/peers/train_throughput.py.
# PyPI's Linux wheel carries its CUDA libraries (~5 GB on disk), so the same
# environment also serves a GPU machine. As root on Debian it also installs
# the second peer, Debian's python3-torch with OpenBLAS (without
# libopenblas0 Debian's torch falls back to the reference BLAS).
# Idempotent; VENV=path overrides the place, DEBIAN_PEER=0 skips apt.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${VENV:-.venv-peers}
TORCH_VERSION=${TORCH_VERSION:-2.15.0}
PY=${PYTHON:-python3}
if [ "${DEBIAN_PEER:-1}" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null \
  && ! /usr/bin/python3 -c "import torch, h5py" 2>/dev/null; then
  apt-get update -q >/dev/null && apt-get install -y -q python3-torch python3-h5py libopenblas0-pthread >/dev/null
fi
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
