#!/usr/bin/env bash
# dynfill forward against dfl_unet_torch.DflUNet on the same checkpoint, two
# small configs: plain zero padding, and attention + periodic xy + a size
# that is not a multiple of 2^(L-1). parity.py exits 1 when the max relative
# error exceeds 1e-4.
set -euo pipefail
PY=/usr/bin/python3
if ! "$PY" -c "import torch, h5py" >/dev/null 2>&1; then
  echo "peers_forward_parity: /usr/bin/python3 has no torch/h5py; skipping"
  exit 77
fi
: "${DYNFILL:?DYNFILL must name the dynfill binary}"
: "${DFL_SOURCE_DIR:?DFL_SOURCE_DIR must name the source tree}"
out=$("$PY" "$DFL_SOURCE_DIR/benchmarks/peers/parity.py" --dynfill "$DYNFILL" \
  --configs small,tiny_attn_xy_odd 2>&1) || { echo "$out"; echo "peers_forward_parity: parity failed"; exit 1; }
echo "$out"
grep -q "parity: 2 of 2 configs within" <<<"$out" || { echo "peers_forward_parity: unexpected report"; exit 1; }
