#!/usr/bin/env python3
"""Where the squared error of an imputation sits, and what follows it.

For a prediction file of `dynfill impute` and the truth it imputes, on the
missing entries:
  - each sample's share of the squared error, its MSE and its own
    spread-skill ratio (RMS /std over RMSE), largest shares first;
  - the column's spread-skill with and without the largest sample;
  - how well three per-entry quantities follow the squared error e^2:
    the calibrated spread /std^2, the squared gradient of /pred (central
    differences), and the roughness of the sample's observed entries (mean
    squared difference of observed neighbours). Pearson correlation with
    e^2, and with log e^2 of the log of each.

With --split-fit, a power of the spread: v = A s^(2p) + B fitted on one
half of the samples by the rule of `dfl_spread_fit` (mean v = mean e^2;
among the floor shares whose +-2 sigma coverage is within 2 % of 95.45 %,
the most likely), scored on the other half, for p = 1 (dynfill's
calibration, refitted), 1.5 and 2, and four splits (even/odd samples,
first/second half, each way round). s is the calibrated /std, a monotone
function of the raw spread.

With --scale-scan, whether the Gaussian /std's width is the one its own
CRPS prefers: the mean CRPS of N(pred, (f /std)^2) for f from 0.4 to 2
(81 steps, geometric), the best f with the spread-skill, +-1 sigma and
+-2 sigma coverage there, and the kurtosis of the standardised error
e / std (3 for a Gaussian; heavier tails make a spread matched to the RMS
error too wide for most entries). Needs scipy.

With --groups G, how sure the spread-skill figure is: the samples in runs
of G consecutive ones (one trajectory each, as `dynfill gen
--samples-per-run`), each group's own spread-skill, and a 90 % interval
from resampling whole groups with replacement (4000 draws, seed 0).

RESULTS.md ("Why shallow water 8/9 stays too narrow") cites it: a feature
that a variance model v = a s^2 + b + c f could use has to follow the
error where the spread does not.

    error_tail.py --pred P.h5 --truth TRUTH.h5 [--top 8] [--split-fit] [--scale-scan] [--groups G]
"""
import argparse

import h5py
import numpy as np


def correlations(e2, x):
    tiny = 1e-30
    pearson = np.corrcoef(e2, x)[0, 1]
    logs = np.corrcoef(np.log(e2 + tiny), np.log(x + tiny))[0, 1]
    return pearson, logs


COVER2 = 0.9544997361036416  # P(|z| <= 2), z ~ N(0, 1)


def fit_power(e2, s2, p):
    """(A, B) of v = A s2^p + B by dfl_spread_fit's rule, None if no share is within 2 %."""
    sp = s2**p
    me, ms = e2.mean(), sp.mean()
    best = None
    for phi in np.linspace(0.0, 1.0, 201):
        A, B = (1 - phi) * me / ms, phi * me
        v = np.maximum(A * sp + B, 1e-12 * me)
        if abs((e2 <= 4 * v).mean() - COVER2) > 0.02:
            continue
        nll = np.mean(np.log(v) + e2 / v)
        if best is None or nll < best[0]:
            best = (nll, A, B)
    return None if best is None else best[1:]


def split_fit(e2, sd, miss):
    n = e2.shape[0]
    idx = np.arange(n)
    splits = {
        "even -> odd": (idx % 2 == 0, idx % 2 == 1),
        "odd -> even": (idx % 2 == 1, idx % 2 == 0),
        "first -> second half": (idx < n // 2, idx >= n // 2),
        "second -> first half": (idx >= n // 2, idx < n // 2),
    }
    print("split-half fit of v = A s^(2p) + B: spread-skill / +-2 sigma coverage on the held-out half")
    print("split                    " + "".join(f"{'p = ' + str(p):>18s}" for p in (1, 1.5, 2)))
    for name, (fit_on, score_on) in splits.items():
        cells = []
        for p in (1, 1.5, 2):
            ab = fit_power(e2[fit_on][miss[fit_on]], sd[fit_on][miss[fit_on]] ** 2, p)
            if ab is None:
                cells.append(f"{'no fit':>18s}")
                continue
            et, st = e2[score_on][miss[score_on]], sd[score_on][miss[score_on]] ** 2
            v = ab[0] * st**p + ab[1]
            cells.append(f"{np.sqrt(v.mean() / et.mean()):11.3f} / {100 * (et <= 4 * v).mean():4.1f}%")
        print(f"{name:25s}" + "".join(cells))


def group_bootstrap(per_sample, group, draws=4000):
    """Spread-skill per group of `group` consecutive samples, and its 90 % bootstrap interval over groups."""
    idx = np.array([r[0] for r in per_sample]) // group
    se = np.bincount(idx, weights=[r[1] for r in per_sample])
    ss = np.bincount(idx, weights=[r[2] for r in per_sample])
    keep = se > 0  # groups with missing entries and some error
    se, ss = se[keep], ss[keep]
    print(f"{len(se)} groups of up to {group} samples; spread-skill per group: "
          + ", ".join(f"{x:.2f}" for x in np.sqrt(ss / se)))
    pick = np.random.default_rng(0).integers(0, len(se), size=(draws, len(se)))
    boot = np.sqrt(ss[pick].sum(1) / se[pick].sum(1))
    lo, med, hi = np.percentile(boot, [5, 50, 95])
    print(f"bootstrap over groups ({draws} draws): median {med:.3f}, 90 % interval {lo:.3f} - {hi:.3f}")


def scale_scan(e, sd):
    """The CRPS of N(pred, (f sd)^2) over f; e = pred - truth, sd = /std, on the missing entries."""
    from scipy.special import erf
    sd = np.maximum(sd.astype(np.float64), 1e-30)
    e = e.astype(np.float64)

    def crps(f):
        z = e / (f * sd)
        return float(np.mean(f * sd * (z * erf(z / np.sqrt(2)) + 2 * np.exp(-z * z / 2) / np.sqrt(2 * np.pi)
                                        - 1 / np.sqrt(np.pi))))

    fs = np.exp(np.linspace(np.log(0.4), np.log(2.0), 81))
    c = np.array([crps(f) for f in fs])
    k = int(c.argmin())
    z = e / sd
    ss = np.sqrt(np.mean(sd**2) / np.mean(e**2))
    print(f"kurtosis of e / std {np.mean(z**4) / np.mean(z**2) ** 2:.1f} (Gaussian 3); at f = 1: spread-skill {ss:.3f}, "
          f"+-1 sigma {np.mean(np.abs(z) <= 1):.1%}, +-2 sigma {np.mean(np.abs(z) <= 2):.1%}, CRPS {crps(1.0):.4g}")
    f = fs[k]
    print(f"CRPS-optimal width f = {f:.2f}: CRPS {c[k] / crps(1.0):.3f} x that at f = 1, spread-skill {f * ss:.3f}, "
          f"+-1 sigma {np.mean(np.abs(z) <= f):.1%}, +-2 sigma {np.mean(np.abs(z) <= 2 * f):.1%}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pred", required=True, help="prediction file of dynfill impute (/pred, /std, /mask)")
    ap.add_argument("--truth", required=True, help="truth file of dynfill gen (/truth)")
    ap.add_argument("--top", type=int, default=8, help="samples to list (default 8)")
    ap.add_argument("--split-fit", action="store_true", help="also fit a power of the spread on half the samples")
    ap.add_argument("--scale-scan", action="store_true",
                    help="the CRPS over widths f x /std, its optimum and the error's kurtosis (needs scipy)")
    ap.add_argument("--groups", type=int, default=0,
                    help="samples per trajectory: bootstrap the spread-skill over whole trajectories")
    a = ap.parse_args()
    with h5py.File(a.pred, "r") as p, h5py.File(a.truth, "r") as t:
        if "std" not in p:
            ap.error(f"{a.pred}: no /std (a classical method's prediction has no spread)")
        pred, sd, mask = p["pred"][:], p["std"][:], p["mask"][:] > 0
        first = int(p.attrs.get("source_start", 0))
        truth = t["truth"][first : first + pred.shape[0]]
        names = [[n.decode() if isinstance(n, bytes) else str(n) for n in np.atleast_1d(f.attrs.get("channels", []))]
                 for f in (p, t)]
    if truth.shape != pred.shape:
        ap.error(f"{a.truth}: /truth {truth.shape} does not match /pred {pred.shape} of {a.pred}")
    if all(names) and names[0] != names[1]:
        ap.error(f"{a.truth}: channels {names[1]} differ from {a.pred}'s {names[0]}: is this the truth of that prediction?")
    if mask.shape[1] == 1 and pred.shape[1] > 1:
        mask = np.broadcast_to(mask, pred.shape)
    miss = ~mask
    e2 = (pred - truth) ** 2
    # squared gradient of the prediction along both axes (edges: one-sided)
    gy, gx = np.gradient(pred, axis=(2, 3))
    g2 = gx**2 + gy**2
    # roughness of each sample's observed entries, per channel
    rough = np.zeros(pred.shape[:2])
    for i in range(pred.shape[0]):
        for c in range(pred.shape[1]):
            x, m = pred[i, c], mask[i, c]
            pairs = [(x[:, 1:] - x[:, :-1], m[:, 1:] & m[:, :-1]), (x[1:] - x[:-1], m[1:] & m[:-1])]
            n = sum(int(pm.sum()) for _, pm in pairs)
            rough[i, c] = sum(float((d[pm] ** 2).sum()) for d, pm in pairs) / max(n, 1)
    rough_e = np.broadcast_to(rough[:, :, None, None], pred.shape)

    per_sample = []
    for i in range(pred.shape[0]):
        mm = miss[i]
        if not mm.any():
            continue
        se, ss = e2[i][mm].sum(), (sd[i][mm] ** 2).sum()
        per_sample.append((i, se, ss, int(mm.sum())))
    tot_e = sum(r[1] for r in per_sample)
    tot_s = sum(r[2] for r in per_sample)
    print(f"{a.pred}: {len(per_sample)} samples with missing entries, spread-skill {np.sqrt(tot_s / tot_e):.3f}")
    print("sample  share of e^2   mse        spread-skill")
    for i, se, ss, n in sorted(per_sample, key=lambda r: -r[1])[: a.top]:
        print(f"{i:6d}  {se / tot_e:11.3f}   {se / n:.4g}  {np.sqrt(ss / se):12.3f}")
    top = max(per_sample, key=lambda r: r[1])
    print(f"without sample {top[0]}: spread-skill {np.sqrt((tot_s - top[2]) / (tot_e - top[1])):.3f}")
    ratios = [np.sqrt(ss / se) for _, se, ss, _ in per_sample if se > 0]
    print(f"median per-sample spread-skill {np.median(ratios):.3f}")
    print("feature          pearson(e^2, f)  pearson(log e^2, log f)")
    for name, f in (("/std^2", sd**2), ("|grad pred|^2", g2), ("roughness", rough_e)):
        pe, lg = correlations(e2[miss], f[miss])
        print(f"{name:15s}  {pe:15.3f}  {lg:23.3f}")
    if a.split_fit:
        split_fit(e2, sd, miss)
    if a.scale_scan:
        scale_scan((pred - truth)[miss], sd[miss])
    if a.groups > 0:
        group_bootstrap(per_sample, a.groups)


if __name__ == "__main__":
    main()
