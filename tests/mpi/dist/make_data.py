#!/usr/bin/python3
"""Tiny incomplete-observation dataset for the distributed tests:
/obs float32 [N, 1, H, W] (smooth random fields), /mask uint8 [N, 1, H, W]
(about half the entries observed). Usage: make_data.py OUT.h5 [N] [SIZE]."""
import sys

import h5py
import numpy as np

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 32
size = int(sys.argv[3]) if len(sys.argv) > 3 else 16
rng = np.random.default_rng(1234)
y, x = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
obs = np.zeros((n, 1, size, size), np.float32)
for i in range(n):
    kx, ky = rng.integers(1, 4, size=2)
    phase = rng.uniform(0, 2 * np.pi, size=2)
    obs[i, 0] = (np.sin(2 * np.pi * kx * x / size + phase[0]) * np.cos(2 * np.pi * ky * y / size + phase[1])
                 + 0.1 * rng.standard_normal((size, size)))
mask = (rng.uniform(size=(n, 1, size, size)) < 0.5).astype(np.uint8)
mask[:, :, 0, 0] = 1  # every sample has an observed entry
obs *= mask
with h5py.File(out, "w") as f:
    f.create_dataset("obs", data=obs)
    f.create_dataset("mask", data=mask)
    f.attrs["periodic"] = "xy"
    f.attrs["mask_pattern"] = "pixel:0.5"
    f.attrs["source"] = "tests/mpi/dist/make_data.py"
