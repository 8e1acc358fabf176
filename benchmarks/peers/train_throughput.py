#!/usr/bin/python3
"""Training throughput of dynfill against PyTorch on the same network
(dfl-unet v1), same machine, same environment, one command.

dynfill side: `dynfill bench train --json` with the config's flags (median
step time after warm-up; a step is forward + backward + clipping + AdamW +
EMA on random inputs). PyTorch side: dfl_unet_torch.Trainer.step, the whole
training step of docs/design.md, "The method" (noise, pixel context/query masks, forward,
query-masked MSE, backward, clipping, AdamW, EMA), median over the timed
steps after warm-up. On the CPU PyTorch gets torch.set_num_threads(2) (the
OpenBLAS/OpenMP environment is left as it is); with a GPU
(torch.cuda.is_available()) PyTorch runs bf16 autocast + channels_last with
cudnn.benchmark, and dynfill `--backend cuda --precision bf16`.

Configs (issue 7):
  a  --C 1 --size 64    --batch 16 --base 32 --mult 1,2,2   --nres 2
  b  --C 2 --size 32x64 --batch 32 --base 64 --mult 1,2,2,2 --nres 2 --periodic x
  c  --C 1 --size 128   --batch 8  --base 64 --mult 1,2,2,2 --nres 2

    /usr/bin/python3 benchmarks/peers/train_throughput.py --configs a
    /usr/bin/python3 benchmarks/peers/train_throughput.py --rounds 3 --json out.json
"""

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dfl_unet_torch as dut  # noqa: E402

import torch  # noqa: E402

CONFIGS = {
    "a": dict(C=1, H=64, W=64, batch=16, base=32, mult=(1, 2, 2), nres=2, periodic="none"),
    "b": dict(C=2, H=32, W=64, batch=32, base=64, mult=(1, 2, 2, 2), nres=2, periodic="x"),
    "c": dict(C=1, H=128, W=128, batch=8, base=64, mult=(1, 2, 2, 2), nres=2, periodic="none"),
}


def find_dynfill(arg):
    if arg:
        return arg
    if os.environ.get("DYNFILL"):
        return os.environ["DYNFILL"]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for cand in ("build/dynfill", "build-peers/dynfill"):
        p = os.path.join(root, cand)
        if os.access(p, os.X_OK):
            return p
    return shutil.which("dynfill")


def dynfill_args(cfg):
    return ["--C", str(cfg["C"]), "--size", "%dx%d" % (cfg["H"], cfg["W"]), "--batch", str(cfg["batch"]),
            "--base", str(cfg["base"]), "--mult", ",".join(map(str, cfg["mult"])), "--nres", str(cfg["nres"]),
            "--periodic", cfg["periodic"]]


def time_dynfill(dynfill, cfg, steps, warmup, gpu):
    cmd = [dynfill, "bench", "train", "--json", "--steps", str(steps), "--warmup", str(warmup)] + dynfill_args(cfg)
    if gpu:
        cmd += ["--backend", "cuda", "--precision", "bf16"]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise RuntimeError("dynfill failed (exit %d): %s\n%s" % (r.returncode, " ".join(cmd), r.stderr.strip()))
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("{")][-1]
    out = json.loads(line)
    out["command"] = " ".join(cmd)
    # CPU seconds of the whole process (start-up, init, warm-up and timed steps) per sample trained
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    out["cpu_s_per_sample"] = cpu / ((steps + warmup) * cfg["batch"])
    return out


def time_torch(cfg, steps, warmup, device):
    gpu = device == "cuda"
    torch.manual_seed(0)
    model = dut.DflUNet(channels=cfg["C"], base=cfg["base"], mult=cfg["mult"], nres=cfg["nres"],
                        periodic=cfg["periodic"]).to(device)
    fmt = torch.channels_last if gpu else torch.contiguous_format
    model = model.to(memory_format=fmt)
    trainer = dut.Trainer(model, amp_dtype=torch.bfloat16 if gpu else None)
    n, C, H, W = cfg["batch"], cfg["C"], cfg["H"], cfg["W"]
    x_obs = torch.randn(n, C, H, W, device=device).contiguous(memory_format=fmt)
    mask = torch.rand(n, 1, H, W, device=device) < 0.8
    times = []
    cpu0 = time.process_time()
    for i in range(warmup + steps):
        if gpu:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss = trainer.step(x_obs, mask)
        if gpu:
            torch.cuda.synchronize()
        else:
            loss.item()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    cpu = time.process_time() - cpu0
    med = statistics.median(times)
    fwd = dut.forward_flops_per_sample(model, H, W)
    return dict(step_s=med, samples_per_s=n / med, gflops=3.0 * fwd * n / med / 1e9, fwd_gflop_per_sample=fwd / 1e9,
                params=sum(p.numel() for p in model.parameters()), min_s=min(times), max_s=max(times),
                cpu_s_per_sample=cpu / ((warmup + steps) * n))


def load_avg():
    try:
        return os.getloadavg()
    except OSError:
        return (float("nan"),) * 3


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dynfill", help="dynfill binary (default: $DYNFILL, build/dynfill, PATH)")
    ap.add_argument("--configs", default="a,b,c", help="comma-separated subset of a, b, c (default a,b,c)")
    ap.add_argument("--steps", type=int, help="timed steps per measurement (default 6 CPU, 30 GPU)")
    ap.add_argument("--warmup", type=int, help="untimed warm-up steps (default 2 CPU, 10 GPU)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="alternate dynfill / PyTorch this many times per config and take the median of the rounds")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads on the CPU (default 2)")
    ap.add_argument("--cpu", action="store_true", help="stay on the CPU even when a GPU is present")
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args()

    dynfill = find_dynfill(args.dynfill)
    if not dynfill or not os.access(dynfill, os.X_OK):
        print("train_throughput.py: no dynfill binary (use --dynfill or set DYNFILL)", file=sys.stderr)
        return 2
    names = [c.strip() for c in args.configs.split(",") if c.strip()]
    bad = [c for c in names if c not in CONFIGS]
    if bad or not names:
        print("train_throughput.py: unknown config(s) %s (a, b, c)" % ", ".join(bad), file=sys.stderr)
        return 2
    if args.rounds < 1 or (args.steps is not None and args.steps < 1) or (args.warmup is not None and args.warmup < 0):
        print("train_throughput.py: --rounds and --steps must be >= 1, --warmup >= 0", file=sys.stderr)
        return 2
    gpu = torch.cuda.is_available() and not args.cpu
    device = "cuda" if gpu else "cpu"
    steps = args.steps or (30 if gpu else 6)
    warmup = args.warmup if args.warmup is not None else (10 if gpu else 2)
    if gpu:
        torch.backends.cudnn.benchmark = True
        where = "GPU %s, PyTorch %s bf16 autocast + channels_last; dynfill --backend cuda --precision bf16" % (
            torch.cuda.get_device_name(0), torch.__version__)
    else:
        torch.set_num_threads(args.threads)
        where = "CPU %s (%d cores visible), PyTorch %s fp32 with %d threads; dynfill cpu fp32" % (
            platform.processor() or platform.machine(), os.cpu_count(), torch.__version__, torch.get_num_threads())
    env = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS_", "OMP_", "DNNL_", "ONEDNN_"))}
    la0 = load_avg()
    print("train throughput: %s" % where)
    print("  %d warm-up + %d timed steps, median; %d round(s); load average before %.2f %.2f %.2f; env %s" % (
        warmup, steps, args.rounds, la0[0], la0[1], la0[2], env or "{}"))
    results = []
    for name in names:
        cfg = CONFIGS[name]
        dyn, tor = [], []
        for _ in range(args.rounds):
            dyn.append(time_dynfill(dynfill, cfg, steps, warmup, gpu))
            tor.append(time_torch(cfg, steps, warmup, device))
        d = sorted(dyn, key=lambda r: r["samples_per_s"])[len(dyn) // 2]
        t = sorted(tor, key=lambda r: r["samples_per_s"])[len(tor) // 2]
        if d["params"] != t["params"]:
            print("warning: config %s: dynfill has %d parameters, PyTorch %d" % (name, d["params"], t["params"]),
                  file=sys.stderr)
        results.append(dict(config=name, flags=" ".join(dynfill_args(cfg)), dynfill=d, torch=t,
                            ratio=d["samples_per_s"] / t["samples_per_s"],
                            dynfill_rounds=[r["samples_per_s"] for r in dyn],
                            torch_rounds=[r["samples_per_s"] for r in tor]))
    la1 = load_avg()
    print()
    print("| config | flags | params | GFLOP fwd/sample | dynfill samples/s | PyTorch samples/s | dynfill/PyTorch | "
          "dynfill GFLOP/s | PyTorch GFLOP/s | CPU-s/sample dynfill | CPU-s/sample PyTorch | PyTorch/dynfill CPU-s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        d, t = r["dynfill"], r["torch"]
        print("| %s | `%s` | %d | %.3f | %.2f | %.2f | **%.2f** | %.1f | %.1f | %.3f | %.3f | %.2f |" % (
            r["config"], r["flags"], d["params"], d["fwd_gflop_per_sample"], d["samples_per_s"],
            t["samples_per_s"], r["ratio"], d["gflops"], t["gflops"], d["cpu_s_per_sample"],
            t["cpu_s_per_sample"], t["cpu_s_per_sample"] / d["cpu_s_per_sample"]))
    print()
    print("(samples/s: median step wall time; CPU-s/sample: process CPU time over warm-up + timed steps, dynfill's "
          "including its start-up; on a busy machine the CPU-time ratio is the steadier of the two)")
    print()
    print("load average after %.2f %.2f %.2f" % la1)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(device=where, steps=steps, warmup=warmup, rounds=args.rounds, load_before=la0,
                           load_after=la1, env=env, results=results), f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
