#!/usr/bin/env python3
"""PyTorch peer of `dynfill bench train` for tests/device/run.sh: the same
dfl-unet v1 (benchmarks/peers/dfl_unet_torch.py, the PyTorch mirror with
dynfill's parameter names) and the same training step (noise, pixel
context/query masks, forward, query-masked MSE, backward, clipping, AdamW,
EMA), on the GPU with bf16 autocast, channels_last and cudnn.benchmark.
Prints one JSON line like `dynfill bench train --json`:

    python3 tests/device/torch_peer.py --C 4 --size 128 --batch 32 --base 64 --mult 1,2,2,2 --nres 2

Median step time over --steps timed steps after --warmup untimed ones.
"""

import argparse
import json
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "benchmarks", "peers"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--C", type=int, default=1)
    ap.add_argument("--size", default="64", help="S or HxW")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--base", type=int, default=32)
    ap.add_argument("--mult", default="1,2,2")
    ap.add_argument("--nres", type=int, default=2)
    ap.add_argument("--periodic", default="none")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--precision", default="bf16", choices=["bf16", "fp32", "tf32"])
    ap.add_argument("--compile", action="store_true", help="also torch.compile the model")
    a = ap.parse_args()
    try:
        import torch
        import dfl_unet_torch as dut
    except ImportError as e:
        print("torch_peer.py: %s (needs PyTorch and benchmarks/peers/dfl_unet_torch.py)" % e, file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("torch_peer.py: no CUDA device visible to PyTorch", file=sys.stderr)
        return 2
    h, w = (int(v) for v in a.size.split("x")) if "x" in a.size else (int(a.size), int(a.size))
    mult = tuple(int(v) for v in a.mult.split(","))
    dev = "cuda"
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = a.precision == "tf32"
    torch.backends.cudnn.allow_tf32 = a.precision == "tf32"
    torch.manual_seed(0)
    model = dut.DflUNet(channels=a.C, base=a.base, mult=mult, nres=a.nres, periodic=a.periodic).to(dev)
    model = model.to(memory_format=torch.channels_last)
    if a.compile:
        model = torch.compile(model)
    trainer = dut.Trainer(model, amp_dtype=torch.bfloat16 if a.precision == "bf16" else None)
    x_obs = torch.randn(a.batch, a.C, h, w, device=dev).contiguous(memory_format=torch.channels_last)
    mask = torch.rand(a.batch, 1, h, w, device=dev) < 0.2
    times = []
    for i in range(a.warmup + a.steps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        trainer.step(x_obs, mask)
        torch.cuda.synchronize()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    base_model = model._orig_mod if a.compile else model
    fwd = dut.forward_flops_per_sample(base_model, h, w)
    print(json.dumps(dict(backend="torch-%s" % a.precision, C=a.C, H=h, W=w, batch=a.batch,
                          params=sum(p.numel() for p in base_model.parameters()), step_s=med,
                          samples_per_s=a.batch / med, gflops=3.0 * fwd * a.batch / med / 1e9,
                          fwd_gflop_per_sample=fwd / 1e9, torch=torch.__version__,
                          device=torch.cuda.get_device_name(0), min_s=min(times), max_s=max(times))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
