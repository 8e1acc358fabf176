#!/usr/bin/env bash
# method.strategy = auto on two ranks: every rank reads the same masks and
# makes the same choice, rank 0 logs it once, the checkpoint stores it.
# Masks of observed strips (swath-like) -> empirical; with a per-rank batch
# of one each sample pairs with its own mask, shifted (docs/method.md).
source "$(dirname "$0")/common.sh"

make_data "$WORK/data.h5" 12
"$PY" - "$WORK/data.h5" <<'PYEOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f:
    n, _, h, w = f["mask"].shape
    x = np.arange(w)
    m = np.zeros((n, 1, h, w), np.uint8)
    for i in range(n):
        m[i, 0] = ((x + 5 * i) % 12 < 3)[None, :]    # strips 3 wide, gaps of 9, a phase per sample
    f["obs"][...] = f["obs"][...] * m
    f["mask"][...] = m
    f.attrs["mask_pattern"] = "strips"
PYEOF
mpi 2 "$DYNFILL" train --config "$HERE/tiny.ini" --data "$WORK/data.h5" --set method.strategy=auto \
  --set train.batch=1 --out "$WORK/two" >"$WORK/two.log" 2>&1 || { cat "$WORK/two.log"; fail "2-rank auto run exited $?"; }
cat "$WORK/two.log" | grep "method.strategy" || true
[ "$(grep -c 'method.strategy = auto: empirical: the missing entries come in patches' "$WORK/two.log")" = 1 ] ||
  fail "the choice is not logged exactly once as empirical"
"$PY" - "$WORK/two/ckpt.h5" <<'PYEOF' || fail "checkpoint"
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    text = f.attrs["config"]
    text = text.decode() if isinstance(text, bytes) else text
    assert int(f.attrs["step"]) == 6, f.attrs["step"]
    assert int(f.attrs["world_size"]) == 2
lines = [l.replace(" ", "") for l in text.splitlines()]
assert "strategy=empirical" in lines, [l for l in lines if l.startswith("strategy")]
print("checkpoint: step 6, 2 ranks, strategy = empirical")
PYEOF
echo "dist_mpi_strategy_auto: ok"
