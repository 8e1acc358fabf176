#!/usr/bin/env bash
# docs/design.md, "Testing": a tiny training run's loss falls and its imputation beats harmonic interpolation.
# Navier-Stokes (Kolmogorov) 32x32 with 8 of 9 blocks of a 3x3 grid missing, the block strategy,
# a base-8 two-level network, 400 steps of 8: the K=10 ensemble must score a lower missing-entry
# MSE than Laplace interpolation on 32 held-out fields (measured here: about 10 % lower), and the
# training loss of the last 100 steps must be below that of the first 100.
source "$(dirname "$0")/common.sh"
train_block_ns
"$DYNFILL" impute --ckpt run/ckpt.h5 --in test_obs.h5 --out pred.h5 -K 10 >/dev/null || fail "impute"
"$DYNFILL" impute --method harmonic --in test_obs.h5 --out harmonic.h5 >/dev/null || fail "harmonic"
mse() { mse_missing_vs test_truth.h5 "$1"; }
model=$(mse pred.h5)
harm=$(mse harmonic.h5)
echo "missing-entry MSE: dfl-unet K=10 $model, harmonic $harm"
awk -v m="$model" -v h="$harm" 'BEGIN { exit !(m > 0 && m < h) }' || fail "the model ($model) does not beat harmonic ($harm)"
"$PY" - run/metrics.jsonl <<'PY' || fail "training loss did not fall"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"loss"' in l]
first = [r["loss"] for r in rows if r["step"] <= 100]
last = [r["loss"] for r in rows if r["step"] > 300]
a, b = sum(first) / len(first), sum(last) / len(last)
print("mean training loss: steps 1-100 %.4f, steps 301-400 %.4f" % (a, b))
sys.exit(0 if b < a else 1)
PY
echo "PASS"
