#!/usr/bin/python3
"""Checks that two dynfill checkpoints hold the same training state, bit for bit.

Usage: same_ckpt.py A.h5 B.h5 [key=value ...]
Every dataset of either file (the weights /params, the EMA weights, the AdamW
moments) must exist in both with the same shape, dtype and bytes, and the
training cursor attributes (step, optimizer_step, data_epoch, data_position,
world_size, data_mean, data_std) must be equal. key=value pairs check root
attributes of A (e.g. step=300 world_size=2). Exits 1 naming the first
differences, 0 when the files agree."""
import sys

import h5py
import numpy as np

CURSOR = ("step", "optimizer_step", "data_epoch", "data_position", "world_size", "data_mean", "data_std")


def datasets(f):
    out = {}
    f.visititems(lambda name, obj: out.__setitem__(name, obj) if isinstance(obj, h5py.Dataset) else None)
    return out


a_path, b_path = sys.argv[1], sys.argv[2]
problems = []
with h5py.File(a_path, "r") as a, h5py.File(b_path, "r") as b:
    for kv in sys.argv[3:]:
        key, want = kv.split("=", 1)
        got = a.attrs.get(key)
        if got is None or str(int(got)) != want:
            problems.append(f"{a_path}: attribute {key} = {got}, expected {want}")
    for key in CURSOR:
        x, y = a.attrs.get(key), b.attrs.get(key)
        if x is None or y is None or not np.array_equal(np.asarray(x), np.asarray(y)):
            problems.append(f"attribute {key}: {x} vs {y}")
    da, db = datasets(a), datasets(b)
    if set(da) != set(db):
        problems.append(f"dataset sets differ: {sorted(set(da) ^ set(db))[:5]}")
    if not da:
        problems.append("no datasets")
    ndiff = 0
    for name in sorted(set(da) & set(db)):
        x, y = da[name][...], db[name][...]
        if x.shape != y.shape or x.dtype != y.dtype or x.tobytes() != y.tobytes():
            ndiff += 1
            if ndiff <= 5:
                d = (float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64))))
                     if x.shape == y.shape else float("nan"))
                problems.append(f"{name}: differs (shapes {x.shape} {y.shape}, max |a-b| {d:.3e})")
    if ndiff > 5:
        problems.append(f"... {ndiff} datasets differ in all")
    print(f"{a_path} vs {b_path}: {len(da)} datasets, step {a.attrs.get('step')} vs {b.attrs.get('step')}: "
          + ("bit-identical" if not problems else "DIFFERENT"))
for p in problems:
    print("  " + p)
sys.exit(1 if problems else 0)
