#!/usr/bin/python3
"""Compare the /params of two dynfill checkpoints.

Usage: compare_ckpt.py A.h5 B.h5 TOL [key=value ...]
Prints the norm-wise relative error ||a - b|| / ||b|| over all parameters
(and the largest per-tensor one); exits 1 when it exceeds TOL, when the
parameter sets differ, or when a root attribute of A given as key=value
(e.g. step=8 world_size=2) has another value."""
import sys

import h5py
import numpy as np

a_path, b_path, tol = sys.argv[1], sys.argv[2], float(sys.argv[3])
ok = True
with h5py.File(a_path, "r") as a, h5py.File(b_path, "r") as b:
    for kv in sys.argv[4:]:
        key, want = kv.split("=", 1)
        got = a.attrs.get(key)
        if got is None or str(int(got)) != want:
            print(f"{a_path}: attribute {key} = {got}, expected {want}")
            ok = False
    names_a, names_b = set(a["params"].keys()), set(b["params"].keys())
    if names_a != names_b or not names_a:
        print(f"parameter sets differ: {sorted(names_a ^ names_b)[:5]}")
        sys.exit(1)
    diff2 = ref2 = 0.0
    worst, worst_name = 0.0, ""
    for name in sorted(names_a):
        x = a["params"][name][...].astype(np.float64)
        y = b["params"][name][...].astype(np.float64)
        if x.shape != y.shape:
            print(f"{name}: shapes {x.shape} and {y.shape} differ")
            sys.exit(1)
        d2, r2 = float(np.sum((x - y) ** 2)), float(np.sum(y ** 2))
        diff2 += d2
        ref2 += r2
        rel = np.sqrt(d2 / max(r2, 1e-30))
        if rel > worst:
            worst, worst_name = rel, name
    rel = np.sqrt(diff2 / max(ref2, 1e-30))
    print(f"params: {len(names_a)} tensors, relative error {rel:.3e} (worst tensor {worst_name}: {worst:.3e}), "
          f"tolerance {tol:.1e}")
    if not np.isfinite(rel) or rel > tol:
        ok = False
sys.exit(0 if ok else 1)
