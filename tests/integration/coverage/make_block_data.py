"""Writes a small dataset with block-missing masks (block:3x3:8: a 3x3 grid
of blocks, 8 observed and 1 missing per sample, as in the paper's 8/9
setting), or pixel masks, for the coverage test.

usage: make_block_data.py OUT.h5 [block|alternating|pixel] [N] [SIZE]"""
import sys

import h5py
import numpy as np

out = sys.argv[1]
kind = sys.argv[2] if len(sys.argv) > 2 else "block"
n = int(sys.argv[3]) if len(sys.argv) > 3 else 48
size = int(sys.argv[4]) if len(sys.argv) > 4 else 24
rng = np.random.default_rng(5)
obs = rng.standard_normal((n, 1, size, size)).astype(np.float32)
mask = np.ones((n, 1, size, size), dtype=np.uint8)
if kind == "alternating":
    # a period of two: even samples miss the top-left block, odd ones the bottom-right
    third = size // 3
    mask[0::2, 0, :third, :third] = 0
    mask[1::2, 0, size - third:, size - third:] = 0
    pattern = "block:3x3:8"
elif kind == "block":
    edges = [0, size // 3, 2 * (size // 3), size]  # the last block takes the remainder
    for i in range(n):
        b = rng.integers(9)
        by, bx = divmod(b, 3)
        mask[i, 0, edges[by]:edges[by + 1], edges[bx]:edges[bx + 1]] = 0
    pattern = "block:3x3:8"
else:
    mask[...] = rng.random(mask.shape) < 0.2
    pattern = "pixel:0.2"
obs[mask == 0] = 0.0
with h5py.File(out, "w") as f:
    f["obs"] = obs
    f["mask"] = mask
    f.attrs["mask_pattern"] = pattern
    f.attrs["source"] = "tests/integration/coverage"
