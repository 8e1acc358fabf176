#!/usr/bin/python3
"""Step-time and scaling model of dynfill data-parallel training
(benchmarks/SCALING.md explains every term and assumption).

  scaling_model.py                      the ERA5 0.25 deg tables of SCALING.md
  scaling_model.py --count C H W BASE MULT NRES ATTN
                                        parameters and forward GFLOP/sample of one
                                        dfl-unet v1 shape, counted exactly as
                                        host/model/unet.c counts them (compare with
                                        `dynfill bench train`)

The network walk mirrors host/model/unet.c (build_graph, assign_buffers): every
convolution and linear layer contributes 2 * MACs to the forward count;
normalisation and elementwise work is modelled as memory traffic instead.
"""
import math
import sys

# ---------------------------------------------------------------- network --


def unet_counts(C, H, W, base, mult, nres, attention):
    """Parameters, forward FLOPs per sample, and fp32 activation floats per
    sample kept for the backward pass (the plan's arena without scratch)."""
    L = len(mult)
    T = 4 * base
    params = 0
    flops = 0.0
    act = 0.0

    def conv(cin, cout, k, h, w):
        nonlocal params, flops
        params += cout * cin * k * k + cout
        flops += 2.0 * h * w * cin * cout * k * k

    def linear(i, o):
        nonlocal params, flops
        params += o * i + o
        flops += 2.0 * i * o

    def norm(c):
        nonlocal params
        params += 2 * c

    step = 2 ** (L - 1)
    h = -(-H // step) * step  # padded to a multiple of 2^(L-1)
    w = -(-W // step) * step
    hp, wp = h, w
    linear(base, T)
    linear(T, T)
    conv(2 * C, base, 3, h, w)
    act += h * w * (2 * C + base)

    def resblock(cin, cout, h, w, popped):
        nonlocal act
        norm(cin)
        conv(cin, cout, 3, h, w)
        linear(T, cout)
        norm(cout)
        conv(cout, cout, 3, h, w)
        if cin != cout:
            conv(cin, cout, 1, h, w)
        act += h * w * ((cin if popped else 0) + cin + 3 * cout)

    skips = [base]
    ch = base
    for lv in range(L):
        cl = base * mult[lv]
        for _ in range(nres):
            resblock(ch, cl, h, w, False)
            ch = cl
            skips.append(ch)
        if lv < L - 1:
            h //= 2
            w //= 2
            conv(ch, ch, 3, h, w)
            act += h * w * ch
            skips.append(ch)
    resblock(ch, ch, h, w, False)
    if attention:
        norm(ch)
        params += 3 * ch * ch + 3 * ch + ch * ch + ch
        p = h * w
        flops += 2.0 * p * ch * 3 * ch + 2.0 * p * ch * ch + 4.0 * p * p * ch
        act += p * ch * 6 + p * p
    resblock(ch, ch, h, w, False)
    for lv in reversed(range(L)):
        cl = base * mult[lv]
        for _ in range(nres + 1):
            sk = skips.pop()
            resblock(ch + sk, cl, h, w, True)
            ch = cl
        if lv > 0:
            h *= 2
            w *= 2
            conv(ch, ch, 3, h, w)
            act += h * w * 2 * ch
    norm(base)
    conv(base, C, 3, hp, wp)
    act += hp * wp * (base + C)
    return params, flops, act


# --------------------------------------------------------------- hardware --
# H200 SXM (NVIDIA H200 datasheet; measured figures: one H200, see SCALING.md section 2).
H200 = dict(
    bf16_peak=989e12,  # dense bf16 tensor-core FLOP/s (datasheet: 1979 with sparsity)
    bf16_gemm_measured=780e12,  # 8192^3 bf16 GEMM through PyTorch on one H200: 769-798
    hbm=4.8e12,  # B/s datasheet
    hbm_copy_measured=4.3e12,  # device-to-device copy on one H200 (bench kernels: 4.23e12, tests/device/results/)
    nvlink_uni=450e9,  # NVLink 4: 900 GB/s per GPU both directions together
    nic=50e9,  # one ConnectX-7 NDR 400 Gb/s port per GPU (HGX H200 reference design)
    nics_per_node=8,
    gpus_per_node=8,
    memory=141e9,
)

# Assumptions (SCALING.md, "Assumptions").
A = dict(
    eta_conv=0.45,  # achieved fraction of dense bf16 peak in cuDNN convolutions (fwd + both bwd)
    kappa=13.0,  # fp32 passes over every stored activation per training step (fwd + bwd, non-conv ops)
    hbm_eff=0.8,  # fraction of the measured copy bandwidth the elementwise kernels reach
    busbw_eff_nvlink=0.8,  # NCCL all-reduce busbw / NVLink unidirectional bandwidth, one node
    busbw_eff_net=0.8,  # NCCL all-reduce busbw / (NICs per node x NIC bandwidth), several nodes
    alpha_node=20e-6,  # latency of one all-reduce inside a node (s)
    alpha_net=30e-6,  # latency of one all-reduce over 2 nodes (s) ...
    alpha_net_per_doubling=10e-6,  # ... plus this per doubling of the node count (tree depth)
    host_syncs=3,  # host round trips per step (query count, loss, gradient norm)
    sync_cost=60e-6,  # GPU idle per host round trip (s)
    mpi_small_node=5e-6,  # MPI all-reduce of one double inside a node (s)
    mpi_small_per_doubling=4e-6,  # ... per doubling of the node count
    bucket_bytes=25 * 2 ** 20,  # dist.bucket_mb
)


def busbw(n, hw=H200, a=A):
    if n <= hw["gpus_per_node"]:
        return a["busbw_eff_nvlink"] * hw["nvlink_uni"]
    return min(a["busbw_eff_nvlink"] * hw["nvlink_uni"], a["busbw_eff_net"] * hw["nics_per_node"] * hw["nic"])


def allreduce_time(n, nbytes, hw=H200, a=A):
    """Bucketed NCCL all-reduce of nbytes (seconds); 0 for one GPU."""
    if n <= 1:
        return 0.0
    nodes = math.ceil(n / hw["gpus_per_node"])
    if nodes == 1:
        alpha = a["alpha_node"]
    else:
        alpha = a["alpha_net"] + a["alpha_net_per_doubling"] * math.log2(nodes / 2) if nodes > 2 else a["alpha_net"]
    buckets = math.ceil(nbytes / a["bucket_bytes"])
    return buckets * alpha + 2.0 * (n - 1) / n * nbytes / busbw(n, hw, a)


def host_sync_time(n, hw=H200, a=A):
    nodes = math.ceil(n / hw["gpus_per_node"])
    mpi = 0.0 if n == 1 else a["mpi_small_node"] + a["mpi_small_per_doubling"] * math.log2(max(nodes, 1))
    return a["host_syncs"] * (a["sync_cost"] + mpi)


def step_time(n, batch, params, flops, act, hw=H200, a=A, overlap=0.0):
    """Seconds per optimiser step on n GPUs with per-GPU batch `batch`.
    overlap: fraction of the backward pass the all-reduce may hide behind
    (0: the all-reduce starts after the backward pass)."""
    t_conv = 3.0 * flops * batch / (a["eta_conv"] * hw["bf16_peak"])
    t_elem = a["kappa"] * 4.0 * act * batch / (a["hbm_eff"] * hw["hbm_copy_measured"])
    t_comp = t_conv + t_elem
    t_ar = allreduce_time(n, 4.0 * params, hw, a)
    t_bwd = 2.0 / 3.0 * t_comp
    exposed = max(t_ar - overlap * t_bwd, t_ar * a["bucket_bytes"] / max(4.0 * params, a["bucket_bytes"])) \
        if overlap > 0 else t_ar
    return dict(t_conv=t_conv, t_elem=t_elem, t_ar=t_ar, t_exposed=exposed, t_sync=host_sync_time(n, hw, a),
                t=t_comp + exposed + host_sync_time(n, hw, a))


# ------------------------------------------------------------------- ERA5 --
ERA5 = dict(C=10, H=721, W=1440, patch=256, mask_c=1, base=128, mult=(1, 2, 2, 4), nres=2, attention=1)


def loader_bytes_per_sample(d):
    """File bytes one crop reads: the contiguous-dataset path reads, per
    channel, the full-width band of `patch` rows (host/data/data_dataset.c
    direct_crop) and cuts the crop out of it."""
    return d["patch"] * d["W"] * (4 * d["C"] + d["mask_c"])


def model_counts(d, patch=None):
    p = patch or d["patch"]
    return unet_counts(d["C"], p, p, d["base"], list(d["mult"]), d["nres"], d["attention"])


def memory_bytes(batch, params, act):
    """fp32 activations kept for backward (x 1.25: backward scratch) plus
    weights, gradients, AdamW m and v and the EMA copy."""
    return 4 * act * batch * 1.25 + 20 * params


def row_header():
    return (f"{'GPUs':>5} {'nodes':>5} {'global':>6} {'t_conv':>7} {'t_elem':>7} {'t_ar':>7} {'exposed':>7} "
            f"{'t_step':>7} {'samples/s':>9} {'eff':>6} {'file/node':>10} {'file/all':>9}")


def tables():
    d = ERA5
    params, flops, act = model_counts(d)
    print(f"ERA5 model: C {d['C']}, patch {d['patch']}, base {d['base']}, mult {d['mult']}, nres {d['nres']}, "
          f"attention {d['attention']}")
    print(f"  parameters {params / 1e6:.2f} M (gradients {4 * params / 2**20:.0f} MiB fp32), "
          f"forward {flops / 1e9:.1f} GFLOP/sample, training {3 * flops / 1e9:.1f} GFLOP/sample, "
          f"stored activations {4 * act / 2**30:.2f} GiB/sample fp32")
    rd = loader_bytes_per_sample(d)
    print(f"  file bytes per sample {rd / 2**20:.1f} MiB (the crop itself "
          f"{d['patch']**2 * (4 * d['C'] + d['mask_c']) / 2**20:.2f} MiB)")
    batch = 8
    for label, overlap in (("no overlap: all-reduce after the backward pass", 0.0),
                           ("with the backward hook (overlap)", 1.0)):
        print(f"\nweak scaling, per-GPU batch {batch}, {label} (times in ms)")
        print(row_header())
        base_t = step_time(1, batch, params, flops, act, overlap=overlap)["t"]
        for n in (1, 8, 16, 32, 64, 128, 256):
            s = step_time(n, batch, params, flops, act, overlap=overlap)
            nodes = math.ceil(n / 8)
            per_node = min(n, 8) * batch * rd / s["t"]
            print(f"{n:>5} {nodes:>5} {n * batch:>6} {s['t_conv'] * 1e3:>7.1f} {s['t_elem'] * 1e3:>7.1f} "
                  f"{s['t_ar'] * 1e3:>7.2f} {s['t_exposed'] * 1e3:>7.2f} {s['t'] * 1e3:>7.1f} "
                  f"{n * batch / s['t']:>9.0f} {base_t / s['t']:>6.3f} {per_node / 1e9:>6.1f}GB/s "
                  f"{n * batch * rd / s['t'] / 1e9:>5.0f}GB/s")
    gb = 512
    print(f"\nstrong scaling, global batch {gb}, no overlap (times in ms)")
    print(f"{'GPUs':>5} {'batch/GPU':>9} {'t_step':>7} {'t_ar':>7} {'samples/s':>9} {'speed-up':>8} {'eff':>6} "
          f"{'memory':>7}")
    t8 = None
    for n in (8, 16, 32, 64, 128, 256):
        b = gb // n
        s = step_time(n, b, params, flops, act)
        t8 = t8 or s["t"]
        mem = memory_bytes(b, params, act)
        print(f"{n:>5} {b:>9} {s['t'] * 1e3:>7.1f} {s['t_ar'] * 1e3:>7.2f} {gb / s['t']:>9.0f} "
              f"{t8 / s['t']:>8.2f} {t8 / s['t'] * 8 / n:>6.3f} {mem / 1e9:>5.0f}GB"
              + ("  > 141 GB: does not fit" if mem > H200["memory"] else ""))
    print("\nsensitivity: weak-scaling efficiency at 256 GPUs (32 nodes), no overlap")
    print(f"{'patch':>5} {'batch':>5} {'eta_conv':>8} {'kappa':>5} {'t_comp':>7} {'t_ar':>6} {'eff':>6}")
    for patch, b, eta, kappa in ((256, 8, 0.45, 13), (256, 8, 0.7, 4), (256, 2, 0.45, 13), (128, 8, 0.45, 13),
                                 (128, 8, 0.7, 4), (64, 8, 0.45, 13), (64, 8, 0.7, 4), (64, 32, 0.45, 13)):
        a = dict(A, eta_conv=eta, kappa=kappa)
        p2, f2, a2 = model_counts(d, patch)
        one = step_time(1, b, p2, f2, a2, a=a)
        s = step_time(256, b, p2, f2, a2, a=a)
        print(f"{patch:>5} {b:>5} {eta:>8.2f} {kappa:>5.0f} {(one['t_conv'] + one['t_elem']) * 1e3:>7.1f} "
              f"{s['t_ar'] * 1e3:>6.2f} {one['t'] / s['t']:>6.3f}")
    mem = memory_bytes(batch, params, act)
    bmax = int((H200["memory"] - 16 * params) / (4 * act * 1.25))
    print(f"\nmemory at batch {batch}: ~{mem / 1e9:.0f} GB of 141 (activations x 1.25 for backward scratch, "
          f"20 B/parameter: weights, gradients, AdamW m and v, EMA); largest per-GPU batch ~{bmax}")


def main(argv):
    if len(argv) > 1 and argv[1] == "--count":
        C, H, W, base = (int(x) for x in argv[2:6])
        mult = [int(x) for x in argv[6].split(",")]
        nres, attn = int(argv[7]), int(argv[8])
        p, f, a = unet_counts(C, H, W, base, mult, nres, attn)
        print(f"params {p} forward_gflop_per_sample {f / 1e9:.4f} activations_mib_per_sample {4 * a / 2**20:.2f}")
        return 0
    tables()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
