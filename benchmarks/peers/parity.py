#!/usr/bin/python3
"""Forward parity of dynfill's dfl-unet v1 against the PyTorch mirror.

For each config: `dynfill bench train ... --steps 1 --warmup 0 --save-ckpt`
writes a freshly initialised model; the GroupNorm affine parameters (which
dynfill initialises to 1 and 0) are then randomised in the checkpoint so the
check covers them too; a random /input [N, 2C, H, W] and /t [N] go through
`dynfill forward` and through dfl_unet_torch.DflUNet loaded from the same
checkpoint. Reports max|a-b|/max|b| (b = dynfill), fp32 against fp32 (the
pass criterion, <= 1e-4) and, for diagnosis, a float64 PyTorch reference
against dynfill. Exit 0 if every config passes, 1 if one fails, 2 on bad use.

    /usr/bin/python3 benchmarks/peers/parity.py --dynfill build/dynfill
    /usr/bin/python3 benchmarks/peers/parity.py --configs small,periodic_xy_odd
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dfl_unet_torch as dut  # noqa: E402
from train_throughput import find_dynfill  # noqa: E402 (the same binary search as the benchmark)

import h5py  # noqa: E402
import torch  # noqa: E402

TOLERANCE = 1e-4

# name: (C, H, W, N, base, mult, nres, attention, periodic)
CONFIGS = {
    "small": (1, 16, 16, 2, 16, "1,2", 1, 0, "none"),
    "tiny_attn_xy_odd": (2, 14, 22, 2, 8, "1,2,2", 1, 1, "xy"),
    "attn_periodic_x": (2, 16, 24, 2, 16, "1,2,2", 1, 1, "x"),
    "periodic_xy_odd": (1, 30, 50, 2, 16, "1,2,2", 2, 0, "xy"),
    "periodic_y_attn_odd": (3, 30, 50, 2, 16, "1,2,2", 1, 1, "y"),
    "issue7_a": (1, 64, 64, 2, 32, "1,2,2", 2, 0, "none"),
    "issue7_b": (2, 32, 64, 2, 64, "1,2,2,2", 2, 0, "x"),
}
DEFAULT = ["small", "attn_periodic_x", "periodic_xy_odd", "periodic_y_attn_odd", "issue7_a", "issue7_b"]


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise RuntimeError("command failed (exit %d): %s\n%s" % (r.returncode, " ".join(cmd), r.stdout))
    return r.stdout


def randomise_norms(ckpt, rng):
    """GroupNorm affine parameters in /params and /ema get non-trivial values."""
    with h5py.File(ckpt, "r+") as f:
        for group in ("params", "ema"):
            g = f[group]
            names = []
            g.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) and "norm" in n else None)
            for n in names:
                d = g[n]
                base = 1.0 if n.endswith(".weight") else 0.0
                d[...] = (base + 0.2 * rng.standard_normal(d.shape)).astype(np.float32)


def check(name, dynfill, workdir, seed):
    C, H, W, N, base, mult, nres, attn, periodic = CONFIGS[name]
    ckpt = os.path.join(workdir, name + "_ckpt.h5")
    xin = os.path.join(workdir, name + "_in.h5")
    yout = os.path.join(workdir, name + "_out.h5")
    run([dynfill, "bench", "train", "--C", str(C), "--size", "%dx%d" % (H, W), "--batch", "1", "--base", str(base),
         "--mult", mult, "--nres", str(nres), "--attention", str(attn), "--periodic", periodic, "--steps", "1",
         "--warmup", "0", "--seed", str(seed), "--save-ckpt", ckpt])
    rng = np.random.default_rng(seed)
    randomise_norms(ckpt, rng)
    mask = (rng.random((N, C, H, W)) < 0.7).astype(np.float32)
    vals = rng.standard_normal((N, C, H, W)).astype(np.float32) * mask
    x = np.concatenate([vals, mask], axis=1).astype(np.float32)
    t = np.concatenate([[dut.T_EPS, 1.0], rng.uniform(dut.T_EPS, 1.0, max(N - 2, 0))])[:N].astype(np.float32)
    with h5py.File(xin, "w") as f:
        f["/input"] = x
        f["/t"] = t
    run([dynfill, "forward", "--ckpt", ckpt, "--in", xin, "--out", yout])
    with h5py.File(yout, "r") as f:
        ref = f["/output"][...]

    model = dut.load_dynfill_checkpoint(ckpt)
    model.eval()
    with torch.no_grad():
        y32 = model(torch.from_numpy(x), torch.from_numpy(t)).numpy()
        y64 = model.double()(torch.from_numpy(x).double(), torch.from_numpy(t)).numpy()
    if y32.shape != ref.shape:
        raise RuntimeError("%s: dynfill output %s, PyTorch output %s" % (name, ref.shape, y32.shape))
    scale = float(np.max(np.abs(ref)))
    err32 = float(np.max(np.abs(y32 - ref))) / scale
    err64 = float(np.max(np.abs(y64 - ref))) / scale
    err_torch = float(np.max(np.abs(y32 - y64))) / float(np.max(np.abs(y64)))
    return dict(name=name, shape="C%d %dx%d base %d mult %s nres %d attn %d periodic %s" % (
        C, H, W, base, mult, nres, attn, periodic), err32=err32, err64=err64, err_torch=err_torch, scale=scale,
        ok=bool(np.isfinite(err32) and err32 <= TOLERANCE))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dynfill", help="dynfill binary (default: $DYNFILL, build/dynfill, PATH)")
    ap.add_argument("--configs", default=",".join(DEFAULT),
                    help="comma-separated subset of: %s" % ", ".join(CONFIGS))
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--workdir", help="keep the files here (default: a temporary folder, removed)")
    args = ap.parse_args()
    dynfill = find_dynfill(args.dynfill)
    if not dynfill or not os.access(dynfill, os.X_OK):
        print("parity.py: no dynfill binary (use --dynfill or set DYNFILL)", file=sys.stderr)
        return 2
    names = [n for n in args.configs.split(",") if n]
    bad = [n for n in names if n not in CONFIGS]
    if bad:
        print("parity.py: unknown config(s) %s (known: %s)" % (", ".join(bad), ", ".join(CONFIGS)), file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    workdir = args.workdir or tempfile.mkdtemp(prefix="dfl_parity_")
    os.makedirs(workdir, exist_ok=True)
    failed = 0
    try:
        print("%-20s %-52s %12s %12s %12s  %s" % ("config", "shape", "rel_err_fp32", "rel_err_f64", "torch32-64", "result"))
        for n in names:
            r = check(n, dynfill, workdir, args.seed)
            print("%-20s %-52s %12.3e %12.3e %12.3e  %s" % (r["name"], r["shape"], r["err32"], r["err64"],
                                                             r["err_torch"], "ok" if r["ok"] else "FAIL"))
            sys.stdout.flush()
            failed += not r["ok"]
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print("parity: %d of %d configs within %.0e (max|torch - dynfill| / max|dynfill|, fp32)" % (
        len(names) - failed, len(names), TOLERANCE))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
