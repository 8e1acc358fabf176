#!/usr/bin/env python3
"""Training throughput of dynfill against PyTorch on the same network
(dfl-unet v1) and the same training step, same machine, one command.

Every measurement is its own process, so each side gets a fresh process
and its own interpreter and environment:
  dynfill        `dynfill bench train --json` (median step after warm-up; a step is forward + backward +
                 clipping + AdamW + EMA on random inputs)
  torch-eager    dfl_unet_torch.Trainer.step in PyTorch eager mode
  torch-compile  the same with the network under torch.compile (inductor)
  debian-eager   Debian's python3-torch (/usr/bin/python3), eager
The PyTorch sides use fused AdamW where the build has it, and on the GPU
channels_last and bf16 autocast with cudnn.benchmark (on the CPU the
contiguous format, which runs faster there than channels_last); with --precision bf16 on
the CPU they use bf16 autocast and dynfill `--precision bf16`.

Rounds are interleaved: for each config, round r runs every side once (in
an order rotated by r); the table gives the median over rounds and the
min-max spread. Each PyTorch worker prints what it runs on: version, BLAS,
oneDNN version, the CPU capability it dispatched, the oneDNN kernel of its
first convolution, and for OpenBLAS builds the core OpenBLAS detected.

Debian's OpenBLAS 0.3.21 misdetects AVX-512 Xeons as Prescott (sgemm at a
few GFLOP/s). So that this peer is not a weak one, its worker is started
with OPENBLAS_CORETYPE=SkylakeX on AVX-512 CPUs (Haswell on AVX2) unless
the caller set it; the worker reports the core that OpenBLAS then uses.

Configs (issue 7):
  a  --C 1 --size 64    --batch 16 --base 32 --mult 1,2,2   --nres 2
  b  --C 2 --size 32x64 --batch 32 --base 64 --mult 1,2,2,2 --nres 2 --periodic x
  c  --C 1 --size 128   --batch 8  --base 64 --mult 1,2,2,2 --nres 2

    bash benchmarks/peers/setup_venv.sh          # PyTorch 2.x from PyPI into .venv-peers (once)
    python3 benchmarks/peers/train_throughput.py --rounds 3
    python3 benchmarks/peers/train_throughput.py --configs a --sides dynfill,torch-eager --rounds 5
    python3 benchmarks/peers/train_throughput.py --precision bf16 --json bf16.json
"""

import argparse
import ctypes
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

CONFIGS = {
    "a": dict(C=1, H=64, W=64, batch=16, base=32, mult=(1, 2, 2), nres=2, periodic="none"),
    "b": dict(C=2, H=32, W=64, batch=32, base=64, mult=(1, 2, 2, 2), nres=2, periodic="x"),
    "c": dict(C=1, H=128, W=128, batch=8, base=64, mult=(1, 2, 2, 2), nres=2, periodic="none"),
}
SIDES = ("dynfill", "torch-eager", "torch-compile", "debian-eager")
DEBIAN_PYTHON = "/usr/bin/python3"


def dynfill_args(cfg):
    return ["--C", str(cfg["C"]), "--size", "%dx%d" % (cfg["H"], cfg["W"]), "--batch", str(cfg["batch"]),
            "--base", str(cfg["base"]), "--mult", ",".join(map(str, cfg["mult"])), "--nres", str(cfg["nres"]),
            "--periodic", cfg["periodic"]]


# ---------------------------------------------------------------- worker (runs inside the peer's interpreter)

def openblas_corename():
    """The core the loaded OpenBLAS runs (None when PyTorch does not use OpenBLAS)."""
    try:
        with open("/proc/self/maps") as f:
            libs = sorted({ln.split()[-1] for ln in f if "blas" in ln.lower() and ".so" in ln.split()[-1]})
    except OSError:
        return None
    for lib in libs:
        try:
            fn = ctypes.CDLL(lib).openblas_get_corename
            fn.restype = ctypes.c_char_p
            return fn().decode()
        except (OSError, AttributeError):
            continue
    return None


def first_conv_kernel(torch, model, inp, t):
    """oneDNN's implementation string for the first convolution of a forward
    pass (from oneDNN's verbose output, captured at the file-descriptor level)."""
    try:
        fd, path = tempfile.mkstemp()
        saved = os.dup(1)
        sys.stdout.flush()
        os.dup2(fd, 1)
        try:
            with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
                with torch.no_grad():
                    model(inp, t)
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
            os.close(fd)
        with open(path) as f:
            text = f.read()
        os.unlink(path)
        for ln in text.splitlines():
            if ",exec," in ln and ",convolution," in ln:
                parts = ln.split(",")
                return parts[parts.index("convolution") + 1]
    except Exception as e:  # noqa: BLE001 (a report field, never a failure)
        return "unknown (%s)" % type(e).__name__
    return "none seen"


def torch_environment(torch):
    show = torch.__config__.show()
    env = dict(torch=torch.__version__, python=platform.python_version())
    m = re.search(r"BLAS_INFO=(\w+)", show)
    env["blas"] = m.group(1) if m else "unknown"
    m = re.search(r"(?:oneDNN\)|MKL-DNN) v?([0-9][0-9.]*)", show)
    env["onednn"] = m.group(1) if m else "unknown"
    m = re.search(r"Math Kernel Library Version ([0-9.]+)", show)
    if m:
        env["mkl"] = m.group(1)
    try:
        env["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    except AttributeError:
        m = re.search(r"CPU capability usage: (\w+)", show)
        env["cpu_capability"] = m.group(1) if m else "unknown"
    core = openblas_corename()
    if core:
        env["openblas_core"] = core
    env["threads"] = torch.get_num_threads()
    return env


def worker(args):
    import torch

    sys.path.insert(0, HERE)
    import dfl_unet_torch as dut

    cfg = CONFIGS[args.config]
    gpu = args.device == "cuda"
    if not gpu:
        torch.set_num_threads(args.threads)
    else:
        torch.backends.cudnn.benchmark = True
    device = args.device
    bf16 = gpu or args.precision == "bf16"
    torch.manual_seed(0)
    model = dut.DflUNet(channels=cfg["C"], base=cfg["base"], mult=cfg["mult"], nres=cfg["nres"],
                        periodic=cfg["periodic"]).to(device)
    fmt = torch.channels_last if args.format == "channels_last" else torch.contiguous_format
    model = model.to(memory_format=fmt)
    trainer = dut.Trainer(model, amp_dtype=torch.bfloat16 if bf16 else None, fused=True)
    n, C, H, W = cfg["batch"], cfg["C"], cfg["H"], cfg["W"]
    x_obs = torch.randn(n, C, H, W, device=device).contiguous(memory_format=fmt)
    mask = torch.rand(n, 1, H, W, device=device) < 0.8
    env = torch_environment(torch)
    env["format"] = args.format
    env["fused_adamw"] = trainer.fused
    env["autocast"] = "bf16" if bf16 else "off"
    if gpu:
        env["device"] = torch.cuda.get_device_name(0)
    else:
        inp, t, _ = trainer.method_inputs(x_obs, mask)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            env["onednn_conv"] = first_conv_kernel(torch, model, inp, t)
    compile_s = 0.0
    if args.mode == "compile":
        trainer.model = torch.compile(model)
        t0 = time.perf_counter()
        trainer.step(x_obs, mask)  # compiles
        if gpu:
            torch.cuda.synchronize()
        compile_s = time.perf_counter() - t0
    times = []
    for i in range(args.warmup + args.steps):
        if gpu:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss = trainer.step(x_obs, mask)
        if gpu:
            torch.cuda.synchronize()
        else:
            loss.item()
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    fwd = dut.forward_flops_per_sample(model, H, W)
    print(json.dumps(dict(step_s=med, samples_per_s=n / med, gflops=3.0 * fwd * n / med / 1e9,
                          fwd_gflop_per_sample=fwd / 1e9, params=sum(p.numel() for p in model.parameters()),
                          min_s=min(times), max_s=max(times), compile_s=compile_s, env=env)))
    return 0


# ---------------------------------------------------------------- driver

def find_dynfill(arg):
    if arg:
        return arg
    if os.environ.get("DYNFILL"):
        return os.environ["DYNFILL"]
    for cand in ("build/dynfill", "build-peers/dynfill"):
        p = os.path.join(ROOT, cand)
        if os.access(p, os.X_OK):
            return p
    return shutil.which("dynfill")


def venv_python(arg):
    """The interpreter of the PyPI PyTorch: --torch-python, $DFL_PEERS_PYTHON,
    .venv-peers (benchmarks/peers/setup_venv.sh), else this interpreter."""
    for cand in (arg, os.environ.get("DFL_PEERS_PYTHON"), os.path.join(ROOT, ".venv-peers", "bin", "python")):
        if cand and os.access(cand, os.X_OK):
            return cand
    return sys.executable


def has_torch(python):
    r = subprocess.run([python, "-c", "import torch"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return r.returncode == 0


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("flags"):
                    return set(ln.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_isa_summary(flags):
    names = [f for f in ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16") if f in flags]
    return ", ".join(names) or "no AVX2"


def run_dynfill(dynfill, cfg, args, gpu):
    cmd = [dynfill, "bench", "train", "--json", "--steps", str(args.steps), "--warmup", str(args.warmup)]
    cmd += dynfill_args(cfg)
    if gpu:
        cmd += ["--backend", "cuda", "--precision", "bf16"]
    else:
        cmd += ["--precision", args.precision]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("dynfill failed (exit %d): %s\n%s" % (r.returncode, " ".join(cmd), r.stderr.strip()))
    out = json.loads([ln for ln in r.stdout.splitlines() if ln.startswith("{")][-1])
    out["command"] = repo_relative(cmd)
    return out


def run_worker(python, side, name, args, gpu, env):
    mode = "compile" if side.endswith("compile") else "eager"
    cmd = [python, os.path.abspath(__file__), "--worker", "--config", name, "--mode", mode, "--device",
           "cuda" if gpu else "cpu", "--precision", args.precision, "--steps", str(args.steps), "--warmup",
           str(args.warmup), "--threads", str(args.threads), "--format", args.torch_format]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if r.returncode != 0 or not lines:
        raise RuntimeError("%s failed (exit %d): %s\n%s" % (side, r.returncode, " ".join(cmd), r.stderr.strip()[-3000:]))
    out = json.loads(lines[-1])
    out["command"] = repo_relative(cmd)
    return out


def repo_relative(cmd):
    """A command line with paths inside the repository written relative to
    its root, so that recorded results do not name one machine's paths."""
    return " ".join(os.path.relpath(a, ROOT) if os.path.isabs(a) and a.startswith(ROOT + os.sep) else a
                    for a in cmd)


def spread(values):
    return "%.2f–%.2f" % (min(values), max(values)) if len(values) > 1 else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dynfill", help="dynfill binary (default: $DYNFILL, build/dynfill, PATH)")
    ap.add_argument("--configs", default="a,b,c", help="comma-separated subset of a, b, c (default a,b,c)")
    ap.add_argument("--sides", help="comma-separated subset of %s (default: all that exist here; on a GPU "
                    "dynfill, torch-eager, torch-compile)" % ", ".join(SIDES))
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16"),
                    help="CPU: fp32 (default) or bf16 (dynfill --precision bf16, PyTorch bf16 autocast); "
                    "the GPU always runs bf16")
    ap.add_argument("--steps", type=int, help="timed steps per measurement (default 6 CPU, 30 GPU)")
    ap.add_argument("--warmup", type=int, help="untimed warm-up steps (default 2 CPU, 10 GPU)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds per config (default 3; the median)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads on the CPU (default 2)")
    ap.add_argument("--torch-format", default="auto", choices=("auto", "channels_last", "contiguous"),
                    help="PyTorch memory format; auto (default): channels_last on the GPU, contiguous on the CPU, "
                    "PyTorch's faster one on each (measured on config a: 6.2 contiguous against 4.2 channels_last "
                    "samples/s on the CPU)")
    ap.add_argument("--torch-python", help="interpreter with PyPI PyTorch (default $DFL_PEERS_PYTHON, "
                    ".venv-peers/bin/python, else this one)")
    ap.add_argument("--cpu", action="store_true", help="stay on the CPU even when a GPU is present")
    ap.add_argument("--json", help="also write the results to this JSON file")
    # internal: one PyTorch measurement in this interpreter
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--config", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="eager", help=argparse.SUPPRESS)
    ap.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    ap.add_argument("--format", default="channels_last", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        return worker(args)

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
    tpy = venv_python(args.torch_python)
    if not has_torch(tpy):
        print("train_throughput.py: %s cannot import torch (run benchmarks/peers/setup_venv.sh, or give "
              "--torch-python)" % tpy, file=sys.stderr)
        return 2
    probe = subprocess.run([tpy, "-c", "import torch; print(int(torch.cuda.is_available()))"],
                           stdout=subprocess.PIPE, text=True)
    gpu = probe.stdout.strip() == "1" and not args.cpu
    if args.sides:
        sides = [s.strip() for s in args.sides.split(",") if s.strip()]
        bad = [s for s in sides if s not in SIDES]
        if bad:
            print("train_throughput.py: unknown side(s) %s (%s)" % (", ".join(bad), ", ".join(SIDES)), file=sys.stderr)
            return 2
    else:
        sides = ["dynfill", "torch-eager", "torch-compile"]
        if not gpu and os.access(DEBIAN_PYTHON, os.X_OK) and has_torch(DEBIAN_PYTHON):
            sides.append("debian-eager")
    if gpu and "debian-eager" in sides:
        sides.remove("debian-eager")
    if args.torch_format == "auto":
        args.torch_format = "channels_last" if gpu else "contiguous"
    args.steps = args.steps or (30 if gpu else 6)
    args.warmup = args.warmup if args.warmup is not None else (10 if gpu else 2)

    flags = cpu_flags()
    base_env = dict(os.environ)
    debian_env = dict(os.environ)
    if "OPENBLAS_CORETYPE" not in debian_env:
        if "avx512f" in flags:
            debian_env["OPENBLAS_CORETYPE"] = "SkylakeX"
        elif "avx2" in flags:
            debian_env["OPENBLAS_CORETYPE"] = "Haswell"
    machine = dict(cpu=cpu_model(), isa=cpu_isa_summary(flags), cores=os.cpu_count(),
                   precision="bf16" if gpu else args.precision, gpu=gpu)
    print("train throughput: %s (%s), %d cores visible; %s; %d warm-up + %d timed steps per measurement, "
          "%d interleaved round(s)" % (machine["cpu"], machine["isa"], machine["cores"],
                                        "GPU, bf16" if gpu else "CPU, %s, %d threads" % (args.precision, args.threads),
                                        args.warmup, args.steps, args.rounds))
    print("sides: %s; PyPI PyTorch from %s" % (", ".join(sides), repo_relative([tpy])), flush=True)
    la0 = os.getloadavg()
    results = []
    peer_envs = {}
    for name in names:
        cfg = CONFIGS[name]
        rounds = {s: [] for s in sides}
        for r in range(args.rounds):
            order = sides[r % len(sides):] + sides[:r % len(sides)]
            for side in order:
                if side == "dynfill":
                    out = run_dynfill(dynfill, cfg, args, gpu)
                elif side == "debian-eager":
                    out = run_worker(DEBIAN_PYTHON, side, name, args, gpu, debian_env)
                else:
                    out = run_worker(tpy, side, name, args, gpu, base_env)
                rounds[side].append(out)
                if "env" in out:
                    peer_envs[side] = out["env"]
                others = (", other processes %.2f CPUs" % out["other_cpu_load"]) if "other_cpu_load" in out else ""
                print("  %s round %d: %-13s %.2f samples/s%s" % (name, r + 1, side, out["samples_per_s"], others),
                      flush=True)
        row = dict(config=name, flags=" ".join(dynfill_args(cfg)), sides={})
        for side in sides:
            sps = [o["samples_per_s"] for o in rounds[side]]
            row["sides"][side] = dict(median=statistics.median(sps), rounds=sps, runs=rounds[side])
        d = row["sides"].get("dynfill")
        peers = [s for s in sides if s != "dynfill"]
        if d and peers:
            best = max(peers, key=lambda s: row["sides"][s]["median"])
            row["strongest_peer"] = best
            row["ratio_to_strongest"] = d["median"] / row["sides"][best]["median"]
            # the spread of the ratio over rounds (round r's dynfill over round r's strongest peer)
            row["ratio_rounds"] = [a / b for a, b in zip(d["rounds"], row["sides"][best]["rounds"])]
        results.append(row)
    la1 = os.getloadavg()

    print()
    for side, env in peer_envs.items():
        print("- %s: %s" % (side, ", ".join("%s %s" % (k, v) for k, v in env.items())))
    dyn_env = [o for r in results for o in r["sides"].get("dynfill", {}).get("runs", [])]
    if dyn_env and "isa" in dyn_env[0]:
        print("- dynfill: precision %s, oneDNN ISA %s, matrix-multiply peak measured in its runs %.0f–%.0f GFLOP/s"
              % (dyn_env[0].get("precision"), dyn_env[0]["isa"], min(o["gemm_peak_gflops"] for o in dyn_env),
                 max(o["gemm_peak_gflops"] for o in dyn_env)))
    busy = [o["other_cpu_load"] for o in dyn_env if "other_cpu_load" in o]
    if busy:  # a figure taken next to other work is not the machine's (docs/cpu-backend.md)
        print("- other processes' load on the CPUs during dynfill's timed steps: %.2f–%.2f CPUs" % (min(busy), max(busy)))
    print()
    head = "| config | " + " | ".join("%s samples/s (spread)" % s for s in sides)
    head += " | dynfill / strongest peer (spread) |"
    print(head)
    print("|---|" + "---:|" * (len(sides) + 1))
    for r in results:
        cells = ["%.2f (%s)" % (r["sides"][s]["median"], spread(r["sides"][s]["rounds"])) for s in sides]
        ratio = ("**%.2f×** vs %s (%s)" % (r["ratio_to_strongest"], r["strongest_peer"], spread(r["ratio_rounds"]))
                 if "ratio_to_strongest" in r else "-")
        print("| %s | %s | %s |" % (r["config"], " | ".join(cells), ratio))
    print()
    print("(median over %d interleaved rounds of the median step time; spread = min–max over rounds; load average "
          "%.2f before, %.2f after)" % (args.rounds, la0[0], la1[0]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(machine=machine, steps=args.steps, warmup=args.warmup, rounds=args.rounds,
                           threads=args.threads, torch_format=args.torch_format, load_before=la0, load_after=la1,
                           peer_envs=peer_envs, results=results), f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
