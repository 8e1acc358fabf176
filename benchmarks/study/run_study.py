#!/usr/bin/env python3
"""The paper study: regenerate the structure of the tables of "Incomplete
Data, Complete Dynamics" (ICLR 2026) on data dynfill generates.

  * Table 1 layout: Navier-Stokes (Kolmogorov) with pixel observation rates
    80/60/20/5/1 %; rows = methods, columns = rates.
  * Table 2 layout: block masks 8/9 and 5/9 (block:3x3:8, block:3x3:5) on
    shallow water, advection and Navier-Stokes, with dynfill's matched
    strategy (block) and the mismatched one (pixel): the context ablation.
  * the error-versus-K curve of one trained model (K = 1 ... 32).

Every diffusion variant of a mode (dynfill's strategy, empirical, missdiff,
ambient) trains with the same network, steps, batch and learning rate
(benchmarks/study/study.ini plus the mode's --set overrides). Classical
peers: harmonic (dynfill impute --method harmonic), OpenCV inpainting (TELEA
and NS, float32 input with the observed mean under the mask) and scipy's
RBFInterpolator (thin-plate spline, 50 neighbours, periodic axes wrapped by
tiling the observed points). Everything is scored on a held-out test set
(other generator seed, masked the same way) with `dynfill eval --json`
(MSE on the missing entries). Every dynfill prediction is imputed with
`--members`, and the tables get the uncertainty of dynfill's matched
strategy next to the MSE (CRPS from /std and from the members, spread-skill,
+-1/2 sigma coverage, flagged outside the issue-15 targets), the best
classical peer per column and dynfill's ratio to it.

Run it with the virtual environment of this folder (README.md):
  benchmarks/study/.venv/bin/python benchmarks/study/run_study.py --smoke
  ... --quick          about 1.8 h on an idle 2-core CPU (50 trainings x 100 s of
                       training time, train.time_budget)
  ... --full           GPU (train.backend=cuda), bigger network and budget
  ... --gpu            one 10-minute window on one H200: the matched strategy
                       in all 11 columns, block vs pixel, peers, K = 1, 4, 16
  ... --reduced-ablation   NS 8/9 block data only: block vs pixel (+ peers, K curve)
  ... --<mode> --dry-run   the steps still to run and their estimated wall time
  ... --<mode> --render    RESULTS.md again from the work folder's results.json
A mode that trains on the GPU (--full, --gpu) refuses with exit code 2
before its first step when the binary or the machine has no CUDA device.

Outputs under --work (default benchmarks/study/work/<mode>; git-ignored):
datasets, run directories, predictions, results.json. RESULTS.md and the
charts go to --results-dir (default benchmarks/study for quick/full/
reduced-ablation, the work folder for smoke). A step whose output exists
with a marker recording the same command is not run again (resume by
re-running the same command line; --force to redo); a step also runs again
when a step it reads from ran after it (an imputation after its training, an
evaluation after its imputation), and a training when study.ini changed
after it.
"""
import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

# ----------------------------------------------------------- step costs ----
# Expected wall times of the steps, for --dry-run's estimate and for sizing a
# mode to a time window (window_s). Figures measured on the study's machines:
#   CPU_2CORES: 2 cores of the AMD EPYC (AVX2), idle, the base-16 network at
#     64x64: 4.7 steps/s x batch 8 = 37.6 samples/s (README); imputation
#     640 network rows in 6-9 s (--quick run, RESULTS.md) -> 100 rows/s; a
#     dynfill command costs ~0.2 s to start and read its files (mask, eval,
#     coverage in the --smoke and --quick runs).
#   peers and data generation (Python peers single-threaded, gen on 2
#     threads), per 64x64 sample, from the --quick run's wall times (load
#     average 1-4 on the 2 cores): RBF
#     101.5 s over 5 pixel columns and 46.9 s over 6 block columns of 64
#     samples (0.32 / 0.12 s per sample), OpenCV and harmonic 0.1-0.4 s per
#     column, gen ns 8.9 s for 400 samples, the others < 0.6 s.
#   H200_*: training rates of `dynfill bench train --backend cuda --precision
#     bf16` on one H200 (docs/benchmarks.md, tests/device/results/
#     h200-2026-11-28): config A (64x64, base 32, mult 1,2,2, nres 2, batch
#     16) 685-1168 samples/s over three runs, config B (base 64, 4 levels,
#     batch 32) 493-817 samples/s; the lowest is used. The end-to-end demo
#     (1400 x 8 in 17.4 s at ~690 samples/s) leaves ~1.2 s of start-up per
#     training. Imputation is not measured on the GPU: a forward pass is a
#     third of a training step's work and the step is host-bound, so it is
#     taken at the training rate (likely an overestimate of its time).
# Peers and gen run on the host CPU in every mode; their figures scale with
# the pixel count ((size/64)^2).
CPU_2CORES = dict(train_samples_per_s=37.6, train_startup_s=1.5, impute_rows_per_s=100.0,
                  command_s=0.2)
SMOKE_CPU = dict(CPU_2CORES, train_samples_per_s=150.0)    # base 8 at 32x32: 6 x 4 in 1-2.6 s
H200_CONFIG_A = dict(train_samples_per_s=685.0, train_startup_s=1.2, impute_rows_per_s=685.0,
                     command_s=0.2)
H200_CONFIG_B = dict(H200_CONFIG_A, train_samples_per_s=493.0, impute_rows_per_s=493.0)
GEN_S_PER_SAMPLE = {"ns": 0.022, "shallow-water": 0.0015, "advection": 0.0015}
PEER_S_PER_SAMPLE = {"harmonic": 0.005, "telea": 0.005, "cvns": 0.005,
                     "rbf|pixel": 0.32, "rbf|block": 0.12}


# ---------------------------------------------------------------- modes ----

MODES = {
    "smoke": dict(
        size=32, n_train=32, n_test=8,
        pixel_rates=[0.8, 0.6, 0.2, 0.05, 0.01],
        block_kinds=["shallow-water", "advection", "ns"], block_ks=[8, 5],
        sets=["model.base=8", "model.mult=1,2", "model.nres=1", "train.steps=6",
              "train.batch=4", "train.warmup=2", "train.log_every=2",
              "train.val_every=1000", "train.threads=2"],
        k_values=[1, 2, 4, 8, 16, 32], K=4, sections=["pixel", "block", "k", "budget", "multistep"],
        budget=("train.steps", ["6", "12"]), threads=2, cost=SMOKE_CPU),
    "quick": dict(
        size=64, n_train=400, n_test=64,
        pixel_rates=[0.8, 0.6, 0.2, 0.05, 0.01],
        block_kinds=["shallow-water", "advection", "ns"], block_ks=[8, 5],
        # Each training gets 100 s of training time on the machine it runs on
        # (train.time_budget: the cosine schedule laid over the clock), about
        # the 106 s mean wall time of the 50 trainings of the --quick run of
        # 2026-11-28 (500 steps each on the 2-core EPYC, 81-171 s), against
        # which issue 15 set its "same CPU budget" targets. The step count
        # reached depends on the machine and its load; the wall-time table
        # reports it per training.
        sets=["train.time_budget=100s", "train.batch=8", "train.threads=2"],
        k_values=[1, 2, 4, 8, 16, 32], K=10, sections=["pixel", "block", "k", "budget", "multistep"],
        budget=("train.time_budget", ["100s", "200s", "400s"]), threads=2, cost=CPU_2CORES),
    "full": dict(
        size=64, n_train=2000, n_test=256,
        pixel_rates=[0.8, 0.6, 0.2, 0.05, 0.01],
        block_kinds=["shallow-water", "advection", "ns"], block_ks=[8, 5],
        sets=["model.base=64", "model.mult=1,2,2,2", "model.nres=2",
              "train.steps=20000", "train.batch=32", "train.lr=2e-4",
              "train.warmup=1000", "train.ema=0.999", "train.log_every=100",
              "train.val_every=1000", "train.ckpt_every=2000",
              "train.backend=cuda", "train.precision=bf16", "train.threads=0"],
        k_values=[1, 2, 4, 8, 16, 32], K=10, sections=["pixel", "block", "k", "budget", "multistep"],
        budget=("train.steps", ["20000", "40000"]), threads=0, impute_backend="cuda",
        cost=H200_CONFIG_B),
    # One 10-minute window on one H200 (the size a lent GPU allows), for
    # everything: data, trainings, imputation, peers, eval. Same data as
    # --quick (400/64 samples of 64x64), so its columns compare with quick's.
    # Sizing (H200_CONFIG_A: the config-A network at 685 samples/s, the
    # lowest of three H200 runs, and 1.2 s start-up per training):
    #   17 trainings: the matched strategy in all 11 columns and the
    #   mismatched pixel contexts in the 6 block columns (the context
    #   ablation). MissDiff, AmbientDiff and empirical are left to --quick
    #   and --full: with them (50 trainings) a training would get ~4 s,
    #   fewer samples than --quick's.
    #   Everything but training, by the plan (`--gpu --dry-run`): ~215 s,
    #   of which RBF ~150 s (single-threaded on the host CPU, at the loaded
    #   EPYC's rate); 600 s - 215 s = 385 s; keeping ~20 % of the window
    #   for the spread of the GPU rates leaves ~275 s = 16 s per training:
    #   1.2 s + 640 steps x batch 16 / 685 samples/s = 16.1 s (10240
    #   samples; --quick: 4000 samples through a smaller network). Plan:
    #   ~490 s in all.
    # When the plan does not fit the window, the RBF peer is left out (the
    # run says so and RESULTS.md notes it).
    "gpu": dict(
        size=64, n_train=400, n_test=64,
        pixel_rates=[0.8, 0.6, 0.2, 0.05, 0.01],
        block_kinds=["shallow-water", "advection", "ns"], block_ks=[8, 5],
        pixel_strategies=["pixel"], block_strategies=["block", "pixel"],
        sets=["model.base=32", "model.mult=1,2,2", "model.nres=2",
              "train.steps=640", "train.batch=16", "train.log_every=40",
              "train.val_every=1000", "train.backend=cuda", "train.precision=bf16",
              "train.threads=0"],
        k_values=[1, 4, 16], K=10, sections=["pixel", "block", "k"],
        threads=0, impute_backend="cuda", cost=H200_CONFIG_A, window_s=600),
    # The budget that fitted a shared machine: NS 8/9 blocks only, block vs
    # pixel contexts (the paper's ablation), peers for reference, K curve.
    "reduced-ablation": dict(
        size=64, n_train=400, n_test=64,
        pixel_rates=[],
        block_kinds=["ns"], block_ks=[8],
        sets=["train.steps=800", "train.batch=8", "train.threads=1"],
        k_values=[1, 2, 4, 8, 16, 32], K=10, sections=["block", "k"],
        block_strategies=["block", "pixel"], threads=1, cost=CPU_2CORES),
}

KIND_LABEL = {"ns": "NS", "shallow-water": "Shallow water", "advection": "Advection"}
KIND_TAG = {"ns": "ns", "shallow-water": "sw", "advection": "adv"}
SEED_TRAIN, SEED_TEST = 1, 101          # generator seeds (different trajectories)
MASK_SEED_TRAIN, MASK_SEED_TEST = 2, 102

DIFFUSION_LABEL = {
    "pixel": "dynfill pixel", "block": "dynfill block", "empirical": "dynfill empirical",
    "missdiff": "MissDiff (missdiff)", "ambient": "AmbientDiff (ambient)"}
PEER_LABEL = {
    "harmonic": "Harmonic (Laplace)", "telea": "OpenCV TELEA (fast marching)",
    "cvns": "OpenCV NS inpaint", "rbf": "RBF thin-plate (50 nbrs)"}
CLASSICAL = ("harmonic", "telea", "cvns", "rbf")
CLASSICAL_SHORT = {"harmonic": "harmonic", "telea": "TELEA", "cvns": "NS", "rbf": "RBF"}
PIXEL_STRATEGIES = ["pixel", "empirical", "missdiff", "ambient"]
# Per-strategy keys on top of study.ini: the pixel strategy's loss on the
# observed entries outside its context (the README demo's recipe); the
# others keep their own query (block and empirical: complement already;
# missdiff and ambient: the observed entries, by definition).
STRATEGY_SETS = {"pixel": ["method.query=complement"]}
BLOCK_STRATEGIES = ["block", "pixel", "empirical", "missdiff", "ambient"]

# `dynfill eval --json` keys of the uncertainty of the missing entries
# (docs/eval.md, "Uncertainty"), as the study reports them
UNCERTAINTY_ROWS = [
    ("crps_missing", "CRPS, Gaussian N(pred, std²)"),
    ("crps_ensemble_missing", "CRPS, ensemble of the K members"),
    ("spread_skill_missing", "spread–skill RMS(std) / RMSE (target 0.8–1.25)"),
    ("spread_skill_p05_missing", "spread–skill, 5th percentile of a bootstrap over the test's trajectories"),
    ("spread_skill_p95_missing", "spread–skill, 95th percentile"),
    ("largest_sample_share_missing", "the largest test sample's share of the squared error"),
    ("coverage_1std_missing", "±1σ coverage (Gaussian: 68.3 %)"),
    ("coverage_2std_missing", "±2σ coverage (target 90–98 %)")]
UNCERTAINTY_KEYS = [k for k, _ in UNCERTAINTY_ROWS]
SPREAD_SKILL_TARGET = (0.8, 1.25)
COVERAGE_2STD_TARGET = (0.90, 0.98)
RATIO_TARGET, RATIO_TARGET_NS20 = 0.90, 0.80     # matched / best classical (issue 15)
MULTISTEP_STEPS = 5                              # the multi-step section's impute --steps


# --------------------------------------------------------------- runner ----

class Runner:
    """Runs commands from the repository root, records them with wall times,
    and skips a command whose marker file says it already ran."""

    def __init__(self, work, force, log, dry_run=False, verbose=True):
        self.work, self.force, self.log = work, force, log
        self.dry_run, self.verbose = dry_run, verbose
        self.records = []
        self.planned = set()     # --dry-run: markers of the steps planned so far

    def rel(self, p):
        return os.path.relpath(p, ROOT)

    def cached(self, marker, shown, inputs):
        """The marker of a step that already ran with this command, or None.
        A step is stale when one of its inputs' markers (a step it reads the
        output of) was rewritten after it."""
        if not marker or self.force or not os.path.exists(marker):
            return None
        with open(marker) as f:
            m = json.load(f)
        if m.get("cmd") != shown:
            return None
        if any(i in self.planned or
               os.path.exists(i) and os.path.getmtime(i) > os.path.getmtime(marker)
               for i in inputs):
            return None
        return m

    def plan(self, marker, shown, label, estimate_s):
        """--dry-run: record the step with its estimated wall time instead
        (once: a step the plan already holds is not planned again)."""
        if marker in self.planned:
            return
        self.planned.add(marker)
        if self.verbose:
            print(f"[plan] {estimate_s:7.1f} s  {shown}", flush=True)
        self.records.append(dict(cmd=shown, wall_s=estimate_s, label=label, cached=False,
                                 planned=True, stdout="", started=None, load1=None))

    def run(self, argv, marker, env=None, capture=False, label="", inputs=(), estimate_s=0.0):
        cmd = " ".join(shlex.quote(a) for a in argv)
        shown = cmd if not env else " ".join(f"{k}={v}" for k, v in env.items()) + " " + cmd
        m = self.cached(marker, shown, inputs)
        if m is not None:
            self.records.append(dict(cmd=shown, wall_s=m["wall_s"], label=label,
                                     cached=True, stdout=m.get("stdout", ""),
                                     note=m.get("note", ""),
                                     started=marker_start(marker, m),
                                     load1=m.get("load1")))
            return m.get("stdout", "")
        if self.dry_run:
            self.plan(marker, shown, label, estimate_s)
            return ""
        print(f"[study] {shown}", flush=True)
        started, load1 = time.time(), os.getloadavg()[0]
        e = dict(os.environ)
        if env:
            e.update(env)
        t0 = time.time()
        p = subprocess.run(argv, cwd=ROOT, env=e, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT if not capture else subprocess.PIPE,
                           text=True)
        wall = time.time() - t0
        out = p.stdout
        if p.returncode != 0:
            sys.stderr.write(out + (p.stderr or "") + "\n")
            raise SystemExit(f"run_study: command failed (exit {p.returncode}): {shown}")
        if not capture:
            with open(self.log, "a") as f:
                f.write(f"$ {shown}\n{out}\n")
        rec = dict(cmd=shown, wall_s=wall, label=label, cached=False,
                   stdout=out if capture else "", started=started, load1=load1)
        self.records.append(rec)
        if marker:
            with open(marker, "w") as f:
                json.dump(dict(cmd=shown, wall_s=wall, stdout=rec["stdout"],
                               started=started, load1=load1), f)
        return out

    def timed_python(self, what, fn, marker, estimate_s=0.0):
        """A peer computed in this process; cached like a command."""
        m = self.cached(marker, what, ())
        if m is not None:
            self.records.append(dict(cmd=what, wall_s=m["wall_s"], label="peer", cached=True,
                                     started=marker_start(marker, m),
                                     load1=m.get("load1")))
            return
        if self.dry_run:
            self.plan(marker, what, "peer", estimate_s)
            return
        print(f"[study] {what}", flush=True)
        t0, load1 = time.time(), os.getloadavg()[0]
        fn()
        wall = time.time() - t0
        self.records.append(dict(cmd=what, wall_s=wall, label="peer", cached=False,
                                 started=t0, load1=load1))
        with open(marker, "w") as f:
            json.dump(dict(cmd=what, wall_s=wall, started=t0, load1=load1), f)


def marker_start(path, m):
    """Start time (epoch s) of a step: from its marker, else the marker's
    mtime less the wall time (markers of older versions of this script)."""
    if m.get("started") is not None:
        return float(m["started"])
    return os.path.getmtime(path) - float(m["wall_s"])


# ------------------------------------------------------------- peers -------

def read_obs(path):
    import h5py
    import numpy as np
    with h5py.File(path, "r") as f:
        obs = f["/obs"][...].astype(np.float32)
        mask = f["/mask"][...]
        attrs = {k: f.attrs[k] for k in f.attrs}
    return obs, mask, attrs


def write_pred(path, pred, mask, attrs, method):
    import h5py
    import numpy as np
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.create_dataset("/pred", data=pred.astype(np.float32))
        f.create_dataset("/mask", data=mask.astype(np.uint8))
        for k in ("channels", "periodic", "lat", "lon", "source", "mask_pattern"):
            if k in attrs:
                f.attrs[k] = attrs[k]
        f.attrs["method"] = method
    os.replace(tmp, path)


def periodic_axes(attrs):
    p = attrs.get("periodic", "none")
    if isinstance(p, bytes):
        p = p.decode()
    p = str(p)
    return ("y" in p and p != "none"), ("x" in p and p != "none")


def peer_opencv(obs_path, out_path, flag_name):
    """cv2.inpaint on float32 with the observed mean under the mask (radius 3).
    OpenCV does not wrap periodic axes."""
    import cv2
    import numpy as np
    obs, mask, attrs = read_obs(obs_path)
    flag = cv2.INPAINT_TELEA if flag_name == "telea" else cv2.INPAINT_NS
    pred = obs.copy()
    n, c = obs.shape[:2]
    for i in range(n):
        for ch in range(c):
            m = mask[i, min(ch, mask.shape[1] - 1)] != 0
            if m.all():
                continue
            img = obs[i, ch].copy()
            fill = float(img[m].mean()) if m.any() else 0.0
            img[~m] = fill
            if not m.any():
                pred[i, ch] = fill
                continue
            r = cv2.inpaint(img.astype(np.float32), (~m).astype(np.uint8), 3, flag)
            pred[i, ch] = np.where(m, obs[i, ch], r)
    write_pred(out_path, pred, mask, attrs, "opencv-" + flag_name)


def peer_rbf(obs_path, out_path):
    """scipy RBFInterpolator, thin-plate spline, 50 nearest neighbours; a
    periodic axis is wrapped by tiling the observed points one period to
    each side."""
    import numpy as np
    from scipy.interpolate import RBFInterpolator
    obs, mask, attrs = read_obs(obs_path)
    py, px = periodic_axes(attrs)
    n, c, h, w = obs.shape
    yy, xx = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64),
                         indexing="ij")
    shifts = [(dy * h, dx * w) for dy in ((-1, 0, 1) if py else (0,))
              for dx in ((-1, 0, 1) if px else (0,))]
    pred = obs.copy()
    for i in range(n):
        for ch in range(c):
            m = mask[i, min(ch, mask.shape[1] - 1)] != 0
            if m.all():
                continue
            if m.sum() < 4:      # too few points for a thin-plate spline
                pred[i, ch][~m] = obs[i, ch][m].mean() if m.any() else 0.0
                continue
            pts = np.stack([yy[m], xx[m]], 1)
            vals = obs[i, ch][m].astype(np.float64)
            P = np.concatenate([pts + np.array(s) for s in shifts], 0)
            V = np.concatenate([vals] * len(shifts), 0)
            k = min(50, len(P))
            f = RBFInterpolator(P, V, neighbors=k, kernel="thin_plate_spline")
            q = np.stack([yy[~m], xx[~m]], 1)
            pred[i, ch][~m] = f(q).astype(np.float32)
    write_pred(out_path, pred, mask, attrs, "rbf-tps")


# -------------------------------------------------------------- study ------

class Study:
    def __init__(self, args, mode):
        self.a, self.mode, self.M = args, mode, MODES[mode]
        self.dry_run = args.dry_run
        self.work = work_dir(args, mode)
        self.results_dir = results_dir(args, mode, self.work)
        if not self.dry_run:
            os.makedirs(self.work, exist_ok=True)
            os.makedirs(self.results_dir, exist_ok=True)
        self.dyn = os.path.relpath(os.path.abspath(args.dynfill), ROOT)
        self.cfg = os.path.relpath(os.path.join(HERE, "study.ini"), ROOT)
        self.R = Runner(self.work, args.force, os.path.join(self.work, "commands.log"),
                        dry_run=self.dry_run)
        self.res_path = os.path.join(self.work, "results.json")
        self.res = new_results()
        self.threads = self.M["threads"]
        self.cost = self.M["cost"]
        self.peer_methods = list(CLASSICAL)

    def p(self, name):
        return os.path.join(self.work, name)

    def rp(self, name):
        return os.path.relpath(self.p(name), ROOT)

    def env(self):
        return {"OMP_NUM_THREADS": str(self.threads)} if self.threads > 0 else None

    # estimated wall times (--dry-run, window_s) -----------------------
    def pixel_scale(self):
        return (self.M["size"] / 64) ** 2

    def train_estimate(self, sets):
        c = self.cost
        budget = setting_value(sets, "train.time_budget")
        if budget and duration_seconds(budget) > 0:
            # the clock stops the run; start-up, the last checkpoint and the
            # calibration come on top (~4 s in the --quick runs)
            return c["train_startup_s"] + duration_seconds(budget) + 2.5
        steps = int(setting_value(sets, "train.steps"))
        batch = int(setting_value(sets, "train.batch"))
        return c["train_startup_s"] + steps * batch / c["train_samples_per_s"]

    def impute_estimate(self, K):
        c = self.cost
        return c["command_s"] + self.M["n_test"] * K / c["impute_rows_per_s"]

    # data ------------------------------------------------------------
    def truth(self, kind, split):
        name = f"{KIND_TAG[kind]}_truth_{split}.h5"
        n = self.M["n_train"] if split == "train" else self.M["n_test"]
        seed = SEED_TRAIN if split == "train" else SEED_TEST
        argv = [self.dyn, "gen", "--kind", kind, "--n", str(n), "--size", str(self.M["size"]),
                "--seed", str(seed), "--out", self.rp(name)]
        if self.threads > 0:
            argv += ["--threads", str(self.threads)] if kind == "ns" else []
        self.R.run(argv, self.p(name + ".done"), label="gen",
                   estimate_s=self.cost["command_s"]
                   + n * GEN_S_PER_SAMPLE[kind] * self.pixel_scale())
        return name

    def masked(self, kind, pattern, tag, split):
        truth = self.truth(kind, split)
        name = f"{KIND_TAG[kind]}_{tag}_{split}.h5"
        seed = MASK_SEED_TRAIN if split == "train" else MASK_SEED_TEST
        self.R.run([self.dyn, "mask", "--in", self.rp(truth), "--pattern", pattern,
                    "--seed", str(seed), "--out", self.rp(name)],
                   self.p(name + ".done"), label="mask", inputs=[self.p(truth + ".done")],
                   estimate_s=self.cost["command_s"])
        return name

    # methods ---------------------------------------------------------
    def train(self, data, strategy, run, sets=None):
        sets = self.M["sets"] if sets is None else sets
        argv = [self.dyn, "train", "--config", self.cfg, "--data", self.rp(data),
                "--out", self.rp(run), "--set", f"method.strategy={strategy}"]
        for s in STRATEGY_SETS.get(strategy, []) + list(sets):
            argv += ["--set", s]
        self.R.run(argv, self.p(run + ".done"), label="train",
                   inputs=[self.p(data + ".done"), os.path.join(ROOT, self.cfg)],
                   estimate_s=self.train_estimate(sets))
        w = [r for r in self.R.records if r["cmd"].find(f"--out {self.rp(run)} ") >= 0]
        self.res["train_wall"][run] = w[-1]["wall_s"]
        steps = steps_trained(self.p(run))
        if steps is not None:
            self.res.setdefault("train_steps", {})[run] = steps

    def impute(self, run, test, pred, K, seed=0, steps=1):
        """The K-ensemble prediction with its K members (/members), so that
        eval scores the ensemble CRPS next to the Gaussian one of /std;
        steps > 1: the multi-step sampler."""
        argv = [self.dyn, "impute", "--ckpt", self.rp(os.path.join(run, "ckpt.h5")),
                "--in", self.rp(test), "--out", self.rp(pred), "-K", str(K),
                "--seed", str(seed), "--members"]
        if steps > 1:
            argv += ["--steps", str(steps)]
        if self.M.get("impute_backend"):
            argv += ["--backend", self.M["impute_backend"]]
        self.R.run(argv, self.p(pred + ".done"), env=self.env(), label="impute",
                   inputs=[self.p(run + ".done")], estimate_s=self.impute_estimate(K))

    def evaluate(self, pred, truth):
        """`dynfill eval --json` of a prediction: its JSON object ({} when
        --dry-run plans it instead)."""
        out = self.R.run([self.dyn, "eval", "--pred", self.rp(pred), "--truth", self.rp(truth),
                          "--json"], self.p(pred + ".eval.done"), capture=True, label="eval",
                         inputs=[self.p(pred + ".done")], estimate_s=self.cost["command_s"])
        return json.loads(out.strip().splitlines()[-1]) if out.strip() else {}

    def peer(self, method, test, pred, family):
        estimate = (self.cost["command_s"] if method == "harmonic" else 0.0) + \
            self.M["n_test"] * self.pixel_scale() * PEER_S_PER_SAMPLE.get(
                method, PEER_S_PER_SAMPLE.get(f"{method}|{family}"))
        test_marker = [self.p(test + ".done")]
        if method == "harmonic":
            self.R.run([self.dyn, "impute", "--method", "harmonic", "--in", self.rp(test),
                        "--out", self.rp(pred)], self.p(pred + ".done"), env=self.env(),
                       label="peer", inputs=test_marker, estimate_s=estimate)
        elif method in ("telea", "cvns"):
            self.R.timed_python(
                f"python: cv2.inpaint({'INPAINT_TELEA' if method == 'telea' else 'INPAINT_NS'}, "
                f"radius 3, float32, observed mean under the mask) {self.rp(test)} -> {self.rp(pred)}",
                lambda: peer_opencv(self.p(test), self.p(pred), method), self.p(pred + ".done"),
                estimate_s=estimate)
        elif method == "rbf":
            self.R.timed_python(
                f"python: scipy RBFInterpolator(thin_plate_spline, neighbors=50, periodic axes tiled) "
                f"{self.rp(test)} -> {self.rp(pred)}",
                lambda: peer_rbf(self.p(test), self.p(pred)), self.p(pred + ".done"),
                estimate_s=estimate)

    def coverage(self, data, strategy):
        extra = [a for s in STRATEGY_SETS.get(strategy, []) for a in ("--set", s)]
        out = self.R.run([self.dyn, "coverage", "--data", self.rp(data), "--config", self.cfg,
                          "--set", f"method.strategy={strategy}"] + extra,
                         self.p(f"{data}.cov_{strategy}.done"), capture=True, label="coverage",
                         inputs=[self.p(data + ".done"), os.path.join(ROOT, self.cfg)],
                         estimate_s=self.cost["command_s"])
        lines = [ln for ln in out.splitlines() if "min" in ln and "mean" in ln
                 or ln.startswith("warning")]
        return lines

    # one setting: data, every method, scores ------------------------
    def setting(self, kind, pattern, tag, strategies, key):
        tr = self.masked(kind, pattern, tag, "train")
        te = self.masked(kind, pattern, tag, "test")
        truth_te = f"{KIND_TAG[kind]}_truth_test.h5"
        scores = self.res["scores"].setdefault(key, {})
        spread = self.res["uncertainty"].setdefault(key, {})
        for s in strategies:
            run = f"{KIND_TAG[kind]}_{tag}_{s}"
            self.train(tr, s, run)
            pred = f"{run}_pred_K{self.M['K']}.h5"
            self.impute(run, te, pred, self.M["K"])
            j = self.evaluate(pred, truth_te)
            scores[s], spread[s] = j.get("mse_missing"), uncertainty_of(j)
            self.save()
        family = "pixel" if pattern.startswith("pixel") else "block"
        for m in self.peer_methods:
            pred = f"{KIND_TAG[kind]}_{tag}_{m}_pred.h5"
            self.peer(m, te, pred, family)
            scores[m] = self.evaluate(pred, truth_te).get("mse_missing")
            self.save()
        return tr

    def budget(self):
        """Error versus training budget: the NS 20 % pixel model (pixel
        strategy) retrained with each of the mode's budget values (train.steps
        or train.time_budget), everything else as in the tables; the value
        the tables use reuses the table's run."""
        M = self.M
        key, values = M["budget"]
        tr = self.masked("ns", "pixel:0.2", "pix20", "train")
        te = self.masked("ns", "pixel:0.2", "pix20", "test")
        base = [s.split("=", 1)[1] for s in M["sets"] if s.startswith(key + "=")]
        curve = {}
        for value in values:
            if base and value == base[-1]:
                run, sets = "ns_pix20_pixel", None
            else:
                tag = "steps" if key == "train.steps" else "time"
                run = f"ns_pix20_pixel_{tag}{value}"
                sets = [s for s in M["sets"] if not s.startswith(key + "=")] + [f"{key}={value}"]
            self.train(tr, "pixel", run, sets)
            pred = f"{run}_pred_K{M['K']}.h5"
            self.impute(run, te, pred, M["K"])
            j = self.evaluate(pred, "ns_truth_test.h5")
            curve[value] = dict(mse=j.get("mse_missing"), wall_s=self.res["train_wall"].get(run),
                                steps=self.res.get("train_steps", {}).get(run),
                                uncertainty=uncertainty_of(j))
            self.res["budget"] = dict(model="ns|pix20|pixel", key=key, curve=curve)
            self.save()

    def save(self):
        if self.R.dry_run:
            return
        self.res["records"] = self.R.records
        with open(self.res_path, "w") as f:
            json.dump(self.res, f, indent=1)

    def sections(self):
        return self.a.sections.split(",") if self.a.sections else self.M["sections"]

    def execute(self, sections):
        """Every step of the sections, in order (planned instead of run
        when self.R is a dry runner)."""
        M = self.M
        if "pixel" in sections:
            strategies = (self.a.pixel_strategies.split(",") if self.a.pixel_strategies else
                          M.get("pixel_strategies", PIXEL_STRATEGIES))
            for r in M["pixel_rates"]:
                tag = f"pix{round(r * 100)}"
                self.setting("ns", f"pixel:{r:g}", tag, strategies, f"ns|{tag}")
        if "block" in sections:
            strategies = (self.a.block_strategies.split(",") if self.a.block_strategies else
                          M.get("block_strategies", BLOCK_STRATEGIES))
            for kind in M["block_kinds"]:
                for k in M["block_ks"]:
                    tag = f"block{k}"
                    tr = self.setting(kind, f"block:3x3:{k}", tag, strategies,
                                      f"{KIND_TAG[kind]}|{tag}")
                    for s in strategies:
                        self.res["coverage"][f"{KIND_TAG[kind]}|{tag}|{s}"] = self.coverage(tr, s)
                    self.save()
        if "k" in sections:
            # one trained model: NS pixel 20 % (pixel strategy) where that
            # table ran, else NS 8/9 blocks (block strategy)
            if "pixel" in sections and 0.2 in M["pixel_rates"]:
                run, te, key = "ns_pix20_pixel", "ns_pix20_test.h5", "ns|pix20|pixel"
            else:
                run, te, key = "ns_block8_block", "ns_block8_test.h5", "ns|block8|block"
            curve, spread = {}, {}
            for K in M["k_values"]:
                pred = f"{run}_kcurve_K{K}.h5"
                self.impute(run, te, pred, K)
                j = self.evaluate(pred, "ns_truth_test.h5")
                curve[K], spread[K] = j.get("mse_missing"), uncertainty_of(j)
                self.res["kcurve"] = dict(model=key, curve=curve, uncertainty=spread)
                self.save()
        if "budget" in sections and M.get("budget"):
            self.budget()
        if "multistep" in sections:
            self.multistep(sections)

    def multistep(self, sections):
        """The multi-step sampler (impute --steps MULTISTEP_STEPS, DDIM
        update) against single step, on every column's matched model."""
        M, out = self.M, self.res.setdefault("multistep", {})
        cols = []
        if "pixel" in sections:
            cols += [("ns", f"pix{round(r * 100)}", "pixel") for r in M["pixel_rates"]]
        if "block" in sections:
            cols += [(KIND_TAG[kind], f"block{k}", "block") for kind in M["block_kinds"]
                     for k in M["block_ks"]]
        for kt, tag, s in cols:
            run = f"{kt}_{tag}_{s}"
            pred = f"{run}_pred_K{M['K']}_steps{MULTISTEP_STEPS}.h5"
            self.impute(run, f"{kt}_{tag}_test.h5", pred, M["K"], steps=MULTISTEP_STEPS)
            j = self.evaluate(pred, f"{kt}_truth_test.h5")
            out[f"{kt}|{tag}"] = dict(strategy=s, single=self.res["scores"].get(f"{kt}|{tag}", {}).get(s),
                                     multi=j.get("mse_missing"), uncertainty=uncertainty_of(j))
            self.save()

    def planned_seconds(self, sections):
        """Estimated wall time of the steps still to run: a quiet dry pass
        over the sections (steps with a valid marker count 0)."""
        real = self.R, self.res
        self.R = Runner(self.work, self.a.force, None, dry_run=True, verbose=False)
        self.res = new_results()
        try:
            self.execute(sections)
            return sum(r["wall_s"] for r in self.R.records if r.get("planned"))
        finally:
            self.R, self.res = real

    def fit_window(self, sections):
        """A mode with window_s: leave the RBF peer out when the plan does
        not fit the window with it."""
        window = self.M.get("window_s")
        if not window:
            return
        estimate = self.planned_seconds(sections)
        if estimate > window and "rbf" in self.peer_methods:
            self.peer_methods.remove("rbf")
            without = self.planned_seconds(sections)
            note = (f"RBF peer skipped: the plan's estimate is {estimate:.0f} s with it, "
                    f"{without:.0f} s without, for a window of {window:.0f} s")
            self.res["notes"].append(note)
            print(f"[study] {note}", flush=True)
            estimate = without
        if estimate > window:
            print(f"[study] warning: the plan's estimate ({estimate:.0f} s) exceeds the "
                  f"{window:.0f} s window of --{self.mode}", flush=True)

    def uses_cuda(self):
        return "train.backend=cuda" in self.M["sets"]

    def require_cuda(self):
        """Refuse (exit 2) before the first step when the binary or the
        machine has no CUDA device, rather than failing halfway."""
        probe = [self.dyn, "bench", "train", "--backend", "cuda", "--steps", "1",
                 "--warmup", "1", "--size", "16", "--batch", "1", "--base", "8",
                 "--mult", "1", "--nres", "1"]
        p = subprocess.run(probe, cwd=ROOT, capture_output=True, text=True)
        if p.returncode != 0:
            said = ((p.stderr or "") + (p.stdout or "")).strip().splitlines()
            sys.stderr.write(f"run_study: --{self.mode} trains on the GPU (train.backend=cuda) "
                             f"and needs a CUDA device; {self.dyn} has none here"
                             + (f" ({said[-1]})" if said else "") + "\n")
            raise SystemExit(2)

    def report_plan(self, sections):
        recs = self.R.records
        planned = [r for r in recs if r.get("planned")]
        total = sum(r["wall_s"] for r in planned)
        by_label = {}
        for r in planned:
            n, t = by_label.get(r["label"], (0, 0.0))
            by_label[r["label"]] = (n + 1, t + r["wall_s"])
        print(f"\n[plan] --{self.mode}, sections {','.join(sections)}: {len(planned)} steps to run, "
              f"{len(recs) - len(planned)} already done (markers in {self.work})")
        for label, (n, t) in sorted(by_label.items(), key=lambda x: -x[1][1]):
            print(f"[plan]   {label:9s} {n:4d} steps  {t:8.1f} s")
        print(f"[plan] estimated wall time: {total:.0f} s ({total / 60:.1f} min), from the "
              "step costs at the top of run_study.py (rates measured on idle machines)")
        if self.M.get("window_s"):
            print(f"[plan] window of --{self.mode}: {self.M['window_s']} s"
                  + ("" if "rbf" in self.peer_methods else "; RBF peer skipped to fit it"))
        if self.uses_cuda():
            print("[plan] needs a CUDA device (train.backend=cuda); not checked in a dry run")

    def run(self):
        M = self.M
        sections = self.sections()
        if self.dry_run:
            self.fit_window(sections)
            self.execute(sections)
            self.report_plan(sections)
            return
        if self.uses_cuda():
            self.require_cuda()
        self.fit_window(sections)
        self.res.update(mode=self.mode, machine=machine_info(self.dyn), started=now(),
                        argv=" ".join(shlex.quote(x) for x in sys.argv[1:]),
                        sets=M["sets"], config=open(os.path.join(HERE, "study.ini")).read(),
                        K=M["K"], size=M["size"], n_train=M["n_train"], n_test=M["n_test"],
                        load_start=os.getloadavg(), sections=sections)
        self.execute(sections)
        self.res["finished"] = now()
        self.res["load_end"] = os.getloadavg()
        self.save()
        write_results(self.res, self.results_dir, self.mode, self.a)


def work_dir(args, mode):
    return os.path.abspath(args.work or os.path.join(HERE, "work", mode))


def results_dir(args, mode, work):
    """RESULTS.md and charts: the work folder for --smoke, else this folder."""
    return os.path.abspath(args.results_dir or (work if mode == "smoke" else HERE))


def new_results():
    return dict(scores={}, uncertainty={}, coverage={}, kcurve={}, train_wall={}, train_steps={},
                notes=[])


def uncertainty_of(evaluation):
    """The uncertainty keys of one `dynfill eval --json` object (None where
    it has none: a prediction without /std or /members, a dry run)."""
    return {k: evaluation.get(k) for k in UNCERTAINTY_KEYS}


def duration_seconds(text):
    """A dynfill duration (90s, 20m, 6h, 2d; a bare number is seconds) in
    seconds, as train.time_budget reads it."""
    text = text.strip()
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}.get(text[-1:], None)
    return float(text[:-1]) * unit if unit else float(text)


def steps_trained(run_dir):
    """The last optimiser step a run's metrics.jsonl records (None when the
    run is only planned or wrote no metrics)."""
    last = None
    try:
        with open(os.path.join(run_dir, "metrics.jsonl")) as f:
            for line in f:
                if '"step"' in line:
                    last = json.loads(line).get("step", last)
    except (OSError, ValueError):
        return None
    return last


def setting_value(sets, key):
    """The value of KEY under the --set overrides SETS, else study.ini's."""
    for s in reversed(sets):
        if s.startswith(key + "="):
            return s.split("=", 1)[1]
    import configparser
    ini = configparser.ConfigParser(inline_comment_prefixes=("#", ";"))
    ini.read(os.path.join(HERE, "study.ini"))
    section, name = key.split(".", 1)
    return ini[section].get(name) if ini.has_section(section) else None


def now():
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def cpu_precision(dyn):
    """oneDNN's ISA on this CPU and what train.precision = auto resolves to
    there (the CPU backend decides; a one-step bench asks it)."""
    try:
        out = subprocess.run([os.path.join(ROOT, dyn), "bench", "train", "--precision", "auto", "--steps",
                              "1", "--warmup", "0", "--size", "16", "--base", "8", "--batch", "1", "--json"],
                             capture_output=True, text=True, timeout=120).stdout
        j = json.loads([ln for ln in out.splitlines() if ln.startswith("{")][-1])
        return j.get("isa", "?"), j.get("precision", "?")
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return "?", "?"


def machine_info(dyn):
    isa, auto_precision = cpu_precision(dyn)
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    model = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    gpu = ""
    try:
        gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    import cv2
    import numpy
    import scipy
    return dict(nproc=os.cpu_count(), cpu=model, isa=isa, auto_precision=auto_precision,
                mem=mem, gpu=gpu or "none",
                python=platform.python_version(), opencv=cv2.__version__,
                numpy=numpy.__version__, scipy=scipy.__version__,
                git=subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                   capture_output=True, text=True).stdout.strip())


# ------------------------------------------------------------ RESULTS.md ---

def fmt(v):
    return "n/a" if v is None else f"{v:.4g}"


def table(scores, cols, col_labels, rows):
    """rows = [(key, label)]; bold the lowest per column; one line per column
    naming every method that beats dynfill's matched strategy."""
    out = ["| method | " + " | ".join(col_labels) + " |",
           "|---|" + "---:|" * len(cols)]
    best = {c: min((v for v in scores.get(c, {}).values() if v is not None), default=None)
            for c in cols}
    for key, label in rows:
        if not any(key in scores.get(c, {}) for c in cols):
            continue
        cells = []
        for c in cols:
            v = scores.get(c, {}).get(key)
            s = fmt(v)
            cells.append(f"**{s}**" if v is not None and v == best[c] else s)
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def beaten_lines(scores, cols, col_labels, matched, labels):
    lines = []
    for c, cl in zip(cols, col_labels):
        sc = {k: v for k, v in scores.get(c, {}).items() if v is not None}
        s = matched(c)
        if s not in sc:
            continue
        better = sorted((v, k) for k, v in sc.items() if v < sc[s] and k != s)
        rank = 1 + len(better)
        who = ", ".join(f"{labels.get(k, k)} ({fmt(v)})" for v, k in better) or "nobody"
        best = best_classical(sc)
        ratio = "" if best is None else (
            f"; dynfill {s} / best classical ({CLASSICAL_SHORT[best[1]]} {fmt(best[0])}) = "
            f"{sc[s] / best[0]:.2f}")
        lines.append(f"- {cl}: dynfill {s} ({fmt(sc[s])}) ranks {rank} of {len(sc)}; "
                     f"beaten by: {who}{ratio}.")
    return "\n".join(lines)


def best_classical(column):
    """(value, method) of the lowest classical peer of a column, or None."""
    return min(((column[k], k) for k in CLASSICAL if column.get(k) is not None), default=None)


def classical_rows(scores, cols, matched):
    """Two table rows: the best classical peer per column and dynfill's
    matched strategy divided by it."""
    best, ratio = [], []
    for c in cols:
        col = scores.get(c, {})
        b = best_classical(col)
        m = col.get(matched(c))
        best.append("n/a" if b is None else f"{fmt(b[0])} ({CLASSICAL_SHORT[b[1]]})")
        ratio.append("n/a" if b is None or m is None or b[0] == 0 else f"{m / b[0]:.2f}")
    return [f"| best classical ({', '.join(CLASSICAL_SHORT[k] for k in CLASSICAL)}) | "
            + " | ".join(best) + " |",
            "| dynfill matched / best classical | " + " | ".join(ratio) + " |"]


def summary_line(scores, columns):
    """columns = [(key, matched strategy)] of both tables: how often dynfill's
    matched strategy is the lowest row, its ratio to the best classical
    peer, and the NS 20 % pixel ratio against their issue-15 targets."""
    scored = [(c, m) for c, m in columns if scores.get(c, {}).get(m) is not None]
    n_best = n_ratio = 0
    ns20 = None
    for c, m in scored:
        col = {k: v for k, v in scores[c].items() if v is not None}
        n_best += col[m] <= min(col.values())
        b = best_classical(col)
        if b is not None and b[0] > 0:
            r = col[m] / b[0]
            n_ratio += r <= RATIO_TARGET
            if c == "ns|pix20":
                ns20 = r
    y = len(scored)
    return (f"**Summary**: dynfill matched is best in {n_best} of {y} columns (among the rows "
            f"this run has); ratio to the best classical ≤ {RATIO_TARGET:.2f} in {n_ratio} of "
            f"{y}; NS 20 % pixel ratio {'n/a' if ns20 is None else f'{ns20:.2f}'} (target ≤ "
            f"{RATIO_TARGET_NS20:.2f}).\n")


def outside(key, v):
    """Whether an uncertainty score misses its issue-15 target."""
    if v is None:
        return False
    if key == "spread_skill_missing":
        return not SPREAD_SKILL_TARGET[0] <= v <= SPREAD_SKILL_TARGET[1]
    if key == "coverage_2std_missing":
        return not COVERAGE_2STD_TARGET[0] <= v <= COVERAGE_2STD_TARGET[1]
    return False


def fmt_uncertainty(key, v):
    if v is None:
        return "n/a"
    s = f"{v * 100:.1f} %" if key.startswith(("coverage", "largest")) else \
        f"{v:.3f}" if key.startswith("spread_skill") else fmt(v)
    return s + (" ✗" if outside(key, v) else "")


def uncertainty_table(uncertainty, cols, col_labels, matched):
    """One row per uncertainty score of dynfill's matched strategy, the
    table's columns; ✗ marks a score outside its target."""
    out = ["| uncertainty of dynfill's matched strategy | " + " | ".join(col_labels) + " |",
           "|---|" + "---:|" * len(cols)]
    for key, label in UNCERTAINTY_ROWS:
        cells = [fmt_uncertainty(key, uncertainty.get(c, {}).get(matched(c), {}).get(key))
                 for c in cols]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    counts = []
    for key, (lo, hi), what in (
            ("spread_skill_missing", SPREAD_SKILL_TARGET, "spread–skill within {:.2f}–{:.2f}"),
            ("coverage_2std_missing", (COVERAGE_2STD_TARGET[0] * 100, COVERAGE_2STD_TARGET[1] * 100),
             "±2σ coverage within {:.0f}–{:.0f} %")):
        vals = [uncertainty.get(c, {}).get(matched(c), {}).get(key) for c in cols]
        vals = [v for v in vals if v is not None]
        counts.append(what.format(lo, hi) + f" in {sum(not outside(key, v) for v in vals)} of "
                      f"{len(vals)} columns")
    def score(c, key):
        return uncertainty.get(c, {}).get(matched(c), {}).get(key)
    spans = [(score(c, "spread_skill_p05_missing"), score(c, "spread_skill_p95_missing")) for c in cols]
    spans = [(lo, hi) for lo, hi in spans if lo is not None and hi is not None]
    if spans:
        counts.append(f"the spread–skill's 90 % bootstrap interval reaches the band in "
                      f"{sum(lo <= SPREAD_SKILL_TARGET[1] and hi >= SPREAD_SKILL_TARGET[0] for lo, hi in spans)}"
                      f" of {len(spans)} columns")
    out.append("")
    out.append("✗: outside the target. From `dynfill eval` on the missing entries of the test "
               "set: the Gaussian CRPS of N(pred, std²) with the calibrated `/std`, the ensemble "
               "CRPS of the K calibrated members (`impute --members`), spread–skill "
               "RMS(std)/RMSE with its 5th and 95th percentiles over 2000 resamples of the test's "
               "trajectories, each drawn whole (its `gen --samples-per-run` frames), the share of "
               "the squared error in the sample that holds most, and the share of entries within "
               "±1σ, ±2σ. "
               + "; ".join(counts) + ".")
    return "\n".join(out)


def charts(res, outdir, prefix):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    made = []
    import numpy as np
    kc = res.get("kcurve", {}).get("curve")
    if kc:
        ks = sorted(int(k) for k in kc)
        v = [kc[str(k)] if str(k) in kc else kc[k] for k in ks]
        a, b = fit_k(ks, v)
        fig, ax = plt.subplots(figsize=(5, 3.6))
        ax.semilogx(ks, v, "o-", label="dynfill, ensemble of K contexts")
        kf = np.geomspace(ks[0], ks[-1], 100)
        ax.semilogx(kf, a + b / kf, "--", color="gray", label=f"fit {a:.4g} + {b:.3g}/K")
        ax.set_xlabel("K (context masks averaged)")
        ax.set_ylabel("MSE on missing entries (test)")
        ax.set_title(f"Error vs K — {res['kcurve']['model']}")
        ax.set_xticks(ks)
        ax.set_xticklabels([str(k) for k in ks])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        name = f"{prefix}k_curve.png"
        fig.savefig(os.path.join(outdir, name), dpi=110)
        plt.close(fig)
        made.append(name)
    bkeys = [k for k in res["scores"] if "|block" in k]
    if bkeys:
        methods = [m for m in ("block", "pixel", "harmonic") if any(m in res["scores"][k] for k in bkeys)]
        # one panel per setting: the datasets' scales differ by orders of magnitude
        fig, axs = plt.subplots(1, len(bkeys), figsize=(max(7.0, 1.2 + 2.4 * len(bkeys)), 3.4),
                                squeeze=False)
        names = {"block": "dynfill block (matched)", "pixel": "dynfill pixel (mismatched)",
                 "harmonic": "harmonic"}
        colors = {"block": "tab:blue", "pixel": "tab:orange", "harmonic": "tab:gray"}
        for ax, k in zip(axs[0], bkeys):
            vals = [res["scores"][k].get(m, np.nan) for m in methods]
            ax.bar(np.arange(len(methods)), vals, 0.7, color=[colors[m] for m in methods])
            for j, v in enumerate(vals):
                ax.text(j, v, f"{v:.3g}", ha="center", va="bottom", fontsize=7)
            ax.set_xticks([])
            ax.set_title(col_label(k), fontsize=9)
            ax.margins(y=0.15)
        axs[0][0].set_ylabel("MSE on missing entries (test)")
        handles = [plt.Rectangle((0, 0), 1, 1, color=colors[m]) for m in methods]
        fig.legend(handles, [names[m] for m in methods], loc="lower center",
                   ncol=len(methods), fontsize=8)
        fig.suptitle("Context ablation on block-missing data", fontsize=10)
        fig.tight_layout(rect=(0, 0.1, 1, 0.95))
        name = f"{prefix}block_vs_pixel.png"
        fig.savefig(os.path.join(outdir, name), dpi=110)
        plt.close(fig)
        made.append(name)
    return made


def fit_k(ks, v):
    """Least-squares a + b/K (Theorem 2: the ensemble removes the variance
    term like 1/K, leaving the bias a)."""
    import numpy as np
    A = np.stack([np.ones(len(ks)), 1.0 / np.asarray(ks, float)], 1)
    (a, b), *_ = np.linalg.lstsq(A, np.asarray(v, float), rcond=None)
    return float(a), float(b)


def col_label(key):
    kind, tag = key.split("|")[:2]
    name = {"ns": "NS", "sw": "SW", "adv": "Adv"}[kind]
    if tag.startswith("pix"):
        return f"{name} {tag[3:]} %"
    return f"{name} {tag[5:]}/9"


def write_results(res, outdir, mode, args):
    prefix = "" if mode in ("quick", "full") else f"{mode}_"
    made = charts(res, outdir, prefix)
    m = res["machine"]
    labels = dict(DIFFUSION_LABEL)
    labels.update(PEER_LABEL)
    L = []
    title = {"reduced-ablation": "Block vs pixel ablation (reduced budget)"}.get(
        mode, f"Paper study, --{mode} run")
    L.append(f"## {title}\n")
    if mode == "smoke":
        L.append("*Smoke run: checks the script end to end; the budget is far too small for the "
                 "numbers to mean anything.*\n")
    recs = res["records"]
    t0 = min(r["started"] for r in recs if r.get("started") is not None)
    t1 = max(r["started"] + r["wall_s"] for r in recs if r.get("started") is not None)
    iso = lambda t: datetime.datetime.fromtimestamp(t).astimezone().isoformat(timespec="minutes")
    loads = [r["load1"] for r in recs if r.get("load1") is not None]
    L.append(f"Written by `benchmarks/study/run_study.py {res.get('argv', '--' + mode)}` "
             f"at {res['finished']} (repository HEAD `{m['git']}`); its steps ran between "
             f"{iso(t0)} and {iso(t1)} (a step that ran in an earlier invocation is reused, "
             "with its first wall time).\n")
    isa = (f" (oneDNN ISA `{m['isa']}`: `train.precision = auto` runs the CPU's convolutions in "
           f"{m['auto_precision']})") if m.get("isa") else ""
    L.append("**Machine**: " + f"{m['nproc']} CPUs (`nproc`), {m['cpu']}{isa}, {m['mem']} RAM, GPU: "
             f"{m['gpu']}. 1-minute load average at the start of the steps that recorded it "
             f"({len(loads)} of {len(recs)}): "
             + (f"{min(loads):.1f} – {max(loads):.1f}" if loads else "none")
             + " — the cores may have been shared with other work, so wall times are upper "
             "bounds.\n")
    L.append(f"**Software**: Python {m['python']}, opencv-python-headless {m['opencv']}, "
             f"numpy {m['numpy']}, scipy {m['scipy']} (the virtual environment of README.md).\n")
    L.append(f"**Data**: {res['size']}×{res['size']} fields; training sets of {res['n_train']} "
             f"samples (generator seed {SEED_TRAIN}, mask seed {MASK_SEED_TRAIN}), test sets of "
             f"{res['n_test']} samples (generator seed {SEED_TEST}, mask seed {MASK_SEED_TEST}), "
             "masked with the same pattern. Training never reads a truth file.\n")
    L.append("**Training budget** (identical for every diffusion variant): "
             "`benchmarks/study/study.ini` with " + ", ".join(f"`{s}`" for s in res["sets"]) +
             f". Imputation: single step at t = 1e-3, K = {res['K']} context masks, seed 0, EMA "
             "weights. Score: `dynfill eval --json` → `mse_missing` (mean squared error over the "
             "entries missing in the test observations, data units). Lower is better; the best "
             "per column is bold.\n")
    unc = res.get("uncertainty", {})
    if unc:
        L.append("**Uncertainty**: every dynfill prediction is imputed with `--members`; "
                 "`dynfill eval --json` gives the CRPS (Gaussian from `/pred` and the calibrated "
                 "`/std`, and of the K members), the spread–skill ratio and the ±1σ/±2σ coverage "
                 "of the missing entries (docs/eval.md, \"Uncertainty\"). The classical peers "
                 "have no spread.\n")
    for note in res.get("notes", []):
        L.append(f"**Note**: {note}.\n")
    sc = res["scores"]
    pix_matched, block_matched = (lambda c: "pixel"), (lambda c: "block")
    summary_cols = [(k, "pixel") for k in sc if "|pix" in k] + \
                   [(k, "block") for k in sc if "|block" in k]
    if summary_cols:
        L.append(summary_line(sc, summary_cols))
    pkeys = [k for k in sc if "|pix" in k]
    if pkeys:
        L.append("### Pixel observations (paper Table 1 layout), Navier–Stokes\n")
        cl = [col_label(k) for k in pkeys]
        rows = [(k, PEER_LABEL[k]) for k in ("harmonic", "telea", "cvns", "rbf")] + \
               [("missdiff", labels["missdiff"]), ("ambient", labels["ambient"]),
                ("empirical", labels["empirical"]), ("pixel", "**dynfill pixel (matched)**")]
        L.append(table(sc, pkeys, cl, rows) + "\n"
                 + "\n".join(classical_rows(sc, pkeys, pix_matched)) + "\n")
        L.append(uncertainty_table(unc, pkeys, cl, pix_matched) + "\n")
        L.append("Where dynfill's matched strategy stands:\n")
        L.append(beaten_lines(sc, pkeys, cl, pix_matched, labels) + "\n")
    bkeys = [k for k in sc if "|block" in k]
    if bkeys:
        L.append("### Block observations (paper Table 2 layout, with the context ablation)\n")
        cl = [col_label(k) for k in bkeys]
        rows = [(k, PEER_LABEL[k]) for k in ("harmonic", "telea", "cvns", "rbf")] + \
               [("missdiff", labels["missdiff"]), ("ambient", labels["ambient"]),
                ("empirical", labels["empirical"]),
                ("pixel", "dynfill pixel (mismatched contexts)"),
                ("block", "**dynfill block (matched)**")]
        L.append(table(sc, bkeys, cl, rows) + "\n"
                 + "\n".join(classical_rows(sc, bkeys, block_matched)) + "\n")
        L.append(uncertainty_table(unc, bkeys, cl, block_matched) + "\n")
        L.append("Where dynfill's matched strategy stands:\n")
        L.append(beaten_lines(sc, bkeys, cl, block_matched, labels) + "\n")
        abl = []
        for k in bkeys:
            s = sc[k]
            if "block" in s and "pixel" in s:
                abl.append(f"- {col_label(k)}: block {fmt(s['block'])} vs pixel {fmt(s['pixel'])} "
                           f"(block/pixel = {s['block'] / s['pixel']:.3f})"
                           + (f"; harmonic {fmt(s['harmonic'])}" if "harmonic" in s else ""))
        if abl:
            L.append("Block versus pixel contexts on the same block-missing data, same network "
                     "and budget:\n")
            L.append("\n".join(abl) + "\n")
        if res["coverage"]:
            L.append("`dynfill coverage` on the training data (Theorem 1: query probability of "
                     "entries missing in the data, given contexts like theirs):\n")
            L.append("```")
            for k, lines in res["coverage"].items():
                for ln in lines:
                    L.append(f"{k}: {ln}")
            L.append("```\n")
    kc = res.get("kcurve", {}).get("curve")
    if kc:
        L.append(f"### Error versus K (model {res['kcurve']['model']})\n")
        ks = sorted(kc, key=lambda x: int(x))
        L.append("| K | " + " | ".join(str(k) for k in ks) + " |")
        L.append("|---|" + "---:|" * len(ks))
        L.append("| mse_missing | " + " | ".join(fmt(kc[k]) for k in ks) + " |")
        kunc = {str(k): v for k, v in res["kcurve"].get("uncertainty", {}).items()}
        for key, label in UNCERTAINTY_ROWS:
            if any(kunc.get(str(k), {}).get(key) is not None for k in ks):
                L.append(f"| {label} | " + " | ".join(
                    fmt_uncertainty(key, kunc.get(str(k), {}).get(key)) for k in ks) + " |")
        L.append("")
        a, b = fit_k([int(k) for k in ks], [kc[k] for k in ks])
        L.append(f"Least-squares fit mse(K) = a + b/K: a = {a:.4g} (what K → ∞ leaves: bias and "
                 f"the context/observation information gap), b = {b:.4g} (the single-context "
                 f"variance term); K = 1 → 32 removes {(kc[ks[0]] - kc[ks[-1]]) / kc[ks[0]] * 100:.1f} % "
                 "of the K = 1 error.\n")
    ms = res.get("multistep")
    if ms:
        L.append("### Multi-step sampler against single step (matched models)\n")
        L.append(f"Every column's matched model imputed again with `impute --steps {MULTISTEP_STEPS}` "
                 "(the DDIM update, K and seed as in the tables); mse_missing:\n")
        L.append(f"| column | strategy | single step | --steps {MULTISTEP_STEPS} | ratio | "
                 "±2σ coverage (--steps) |\n|---|---|---:|---:|---:|---:|")
        for key, v in ms.items():
            r = (v["multi"] / v["single"]) if v.get("single") and v.get("multi") is not None else None
            L.append(f"| {col_label(key)} | {v['strategy']} | {fmt(v.get('single'))} | {fmt(v.get('multi'))} | "
                     f"{'n/a' if r is None else f'{r:.3f}'} | "
                     f"{fmt_uncertainty('coverage_2std_missing', v.get('uncertainty', {}).get('coverage_2std_missing'))} |")
        L.append("")
    bud = res.get("budget", {}).get("curve")
    if bud:
        L.append("### Error versus training budget (NS 20 % pixel, dynfill pixel)\n")
        timed = res["budget"].get("key") == "train.time_budget"
        L.append("The same network and data as the 20 % column of the pixel table, trained "
                 + ("for a longer time budget (`train.time_budget`; the learning-rate schedule "
                    "follows the clock)" if timed else
                    "for more steps (the learning-rate schedule stretches with the steps)")
                 + ", batch and every other setting unchanged:\n")
        L.append(f"| {'training time budget' if timed else 'training steps'} | steps reached | "
                 "mse_missing | CRPS (members) | spread–skill | ±2σ coverage "
                 "| training wall (s) |\n|---:|---:|---:|---:|---:|---:|---:|")
        for st in sorted(bud, key=lambda x: duration_seconds(x)):
            w = bud[st].get("wall_s")
            u = bud[st].get("uncertainty", {})
            n = bud[st].get("steps")
            L.append(f"| {st} | {'n/a' if n is None else n} | {fmt(bud[st]['mse'])} | "
                     + " | ".join(fmt_uncertainty(k, u.get(k)) for k in
                                  ("crps_ensemble_missing", "spread_skill_missing",
                                   "coverage_2std_missing"))
                     + f" | {'n/a' if w is None else f'{w:.0f}'} |")
        ref = sc.get("ns|pix20", {})
        refs = [f"{labels.get(k, k)} {fmt(ref[k])}" for k in ("harmonic", "rbf", "ambient", "missdiff")
                if k in ref]
        L.append("")
        if refs:
            L.append("For reference, on the same test set: " + ", ".join(refs) + ".\n")
    if made:
        L.append("Charts: " + ", ".join(f"[`{n}`]({n})" for n in made) + "\n")
        for n in made:
            L.append(f"![{n}]({n})\n")
    # the hand-written reading of the run whose charts and RESULTS.md live in
    # outdir (benchmarks/study's notes describe the committed run, not one
    # written elsewhere, on another machine)
    notes = os.path.join(outdir, f"notes_{mode}.md")
    if os.path.exists(notes):
        L.append(open(notes).read().rstrip() + "\n")
    tw = res["train_wall"]
    if tw:
        L.append("### Wall times\n")
        ts = res.get("train_steps", {})
        L.append("| training run | wall (s) | steps |\n|---|---:|---:|")
        for k, v in tw.items():
            L.append(f"| `{k}` | {v:.0f} | {ts.get(k, 'n/a')} |")
        L.append("")
    tot = sum(r["wall_s"] for r in res["records"])
    L.append(f"Sum of the wall times of all steps: {tot / 60:.1f} min "
             "(a cached step counts its first run).\n")
    L.append("### Commands\n")
    L.append("From the repository root, in order (each with its wall time; "
             "`python:` lines are computed inside run_study.py):\n")
    L.append("<details><summary>all commands</summary>\n\n```sh")
    for r in res["records"]:
        L.append(f"{r['cmd']}    # {r['wall_s']:.1f} s" +
                 (f"; {r['note']}" if r.get("note") else ""))
    L.append("```\n</details>\n")
    text = "\n".join(L)
    path = args.results or os.path.join(outdir, "RESULTS.md")
    head = ("# dynfill paper study — results\n\n"
            "Regenerated by `benchmarks/study/run_study.py` (see README.md there and "
            "docs/study.md). Each section below is one run of the script.\n\n")
    # keep the other modes' sections of an existing RESULTS.md, replace this one
    old = open(path).read() if os.path.exists(path) else head
    if not old.startswith("# dynfill paper study"):
        old = head
    parts = old.split("\n## ")
    kept = [parts[0].rstrip() + "\n"] + ["## " + p.rstrip() + "\n" for p in parts[1:]
                                         if not p.startswith(title)]
    with open(path, "w") as f:
        f.write("\n".join(kept) + "\n" + text)
    print(f"[study] wrote {os.path.relpath(path, ROOT)}" +
          "".join(f", {os.path.relpath(os.path.join(outdir, n), ROOT)}" for n in made))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--smoke", action="store_true", help="minutes: checks the script")
    g.add_argument("--quick", action="store_true",
                   help="about 1.8 h on a free 2-core CPU (100 s of training time per training)")
    g.add_argument("--full", action="store_true", help="GPU: bigger network and budget")
    g.add_argument("--gpu", action="store_true", help="one 10-minute window on one H200: "
                   "matched strategy (and block vs pixel) in every column, peers, K = 1, 4, 16")
    g.add_argument("--reduced-ablation", action="store_true",
                   help="NS 8/9 blocks only: block vs pixel contexts, peers, K curve")
    ap.add_argument("--dynfill", default=None, help="the binary (default: $DYNFILL, "
                    "build-study/dynfill, build/dynfill)")
    ap.add_argument("--work", help="folder for data, runs, predictions (default "
                    "benchmarks/study/work/<mode>)")
    ap.add_argument("--results-dir", help="folder for charts (default benchmarks/study; "
                    "the work folder for --smoke)")
    ap.add_argument("--results", help="RESULTS.md path (default <results-dir>/RESULTS.md)")
    ap.add_argument("--sections", help="comma list of pixel,block,k,budget,multistep (default: the mode's)")
    ap.add_argument("--pixel-strategies", help="dynfill strategies of the pixel table (default: "
                    "pixel,empirical,missdiff,ambient; --gpu: pixel)")
    ap.add_argument("--block-strategies", help="dynfill strategies of the block table (default: "
                    "block,pixel,empirical,missdiff,ambient; --reduced-ablation: block,pixel)")
    ap.add_argument("--force", action="store_true", help="rerun steps that already ran")
    ap.add_argument("--dry-run", action="store_true", help="print the steps still to run and "
                    "their estimated wall time; run nothing, write nothing")
    ap.add_argument("--render", action="store_true", help="only rewrite RESULTS.md and the "
                    "charts from the work folder's results.json")
    a = ap.parse_args()
    for opt, known in (("pixel_strategies", PIXEL_STRATEGIES), ("block_strategies", BLOCK_STRATEGIES)):
        chosen = getattr(a, opt)
        for s in chosen.split(",") if chosen is not None else []:
            if s not in known:
                ap.error(f"--{opt.replace('_', '-')}: unknown strategy '{s}' (one of {','.join(known)})")
    mode = ("smoke" if a.smoke else "quick" if a.quick else "full" if a.full
            else "gpu" if a.gpu else "reduced-ablation")
    if a.render:
        work = work_dir(a, mode)
        with open(os.path.join(work, "results.json")) as f:
            res = json.load(f)
        write_results(res, results_dir(a, mode, work), mode, a)
        return
    if a.dynfill is None:
        for c in (os.environ.get("DYNFILL"), os.path.join(ROOT, "build-study", "dynfill"),
                  os.path.join(ROOT, "build", "dynfill")):
            if c and os.access(c, os.X_OK):
                a.dynfill = c
                break
        else:
            raise SystemExit("run_study: no dynfill binary; build one or pass --dynfill")
    Study(a, mode).run()


if __name__ == "__main__":
    main()
