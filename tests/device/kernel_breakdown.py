#!/usr/bin/env python3
"""Aggregates an `ncu --csv --metrics gpu__time_duration.sum` log of
`dynfill bench train --steps 1 --warmup 1` (tests/device/run.sh, stage
profile) into time per kernel family, largest first. The first step also
holds cuDNN's start-up work, so the table is per run, not per step.

    python3 tests/device/kernel_breakdown.py ncu.csv
"""
import csv
import re
import sys
from collections import defaultdict

FAMILIES = [  # (label, regex on the kernel name), first match wins; dynfill's kernels are dfl_*
    ("bf16/fp32 conversions, halo, KRSC", r"dfl_(convert|conv_prep_input|conv_fold_halo|conv_output|to_type|oihw_to_krsc|krsc_to_oihw)"),
    ("group norm (+SiLU)", r"dfl_gn"),
    ("optimizer (AdamW, EMA, sumsq)", r"dfl_\w*(adamw|ema|sumsq|sum_squares|multi_tensor|param)"),
    ("method ops (noise/context, qmse)", r"dfl_\w*(context|qmse|noise|ensemble)"),
    ("layout (concat, up/down, pad)", r"dfl_\w*(concat|upsample|downsample|pad|crop|transpose)"),
    ("attention / time embedding", r"dfl_\w*(attn|attention|softmax|time_emb)"),
    ("other dynfill elementwise (add, bias, colsum, SiLU)", r"dfl_"),
    ("cuDNN / cuBLAS library kernels", r"."),
]


def main():
    rows = []
    with open(sys.argv[1], newline="") as f:
        lines = [l for l in f if l.startswith('"')]
    for r in csv.DictReader(lines):
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        try:
            v = float(r["Metric Value"].replace(",", ""))
        except (KeyError, ValueError):
            continue
        unit = r.get("Metric Unit", "nsecond")
        ns = v * {"nsecond": 1, "ns": 1, "usecond": 1e3, "us": 1e3, "msecond": 1e6, "ms": 1e6}.get(unit, 1)
        rows.append((r["Kernel Name"], ns))
    fam, names = defaultdict(float), defaultdict(float)
    count = defaultdict(int)
    for name, ns in rows:
        label = next((l for l, rx in FAMILIES if re.search(rx, name, re.I)), "other")
        fam[label] += ns
        count[label] += 1
        names[name[:90]] += ns
    total = sum(fam.values()) or 1.0
    print("kernel time by family (%d kernels, %.2f ms in all)" % (len(rows), total / 1e6))
    for label, ns in sorted(fam.items(), key=lambda kv: -kv[1]):
        print("  %-38s %8.2f ms  %5.1f%%  %5d launches" % (label, ns / 1e6, 100 * ns / total, count[label]))
    print("top kernels:")
    for name, ns in sorted(names.items(), key=lambda kv: -kv[1])[:12]:
        print("  %8.2f ms  %s" % (ns / 1e6, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
