#!/usr/bin/env bash
# docs/design.md, "Testing": a tiny training run's loss falls and its imputation beats harmonic interpolation.
# Navier-Stokes (Kolmogorov) 32x32 with 8 of 9 blocks of a 3x3 grid missing, the block strategy,
# a base-8 two-level network, 400 steps of 8: the K=10 ensemble must score a lower missing-entry
# MSE than Laplace interpolation on 32 held-out fields (measured here: about 10 % lower), and the
# training loss of the last 100 steps must be below that of the first 100.
source "$(dirname "$0")/common.sh"
"$DYNFILL" gen --kind ns --n 200 --size 32 --seed 1 --out truth.h5 >/dev/null
"$DYNFILL" gen --kind ns --n 32 --size 32 --seed 101 --out test_truth.h5 >/dev/null
"$DYNFILL" mask --in truth.h5 --pattern block:3x3:8 --seed 2 --out obs.h5 >/dev/null
"$DYNFILL" mask --in test_truth.h5 --pattern block:3x3:8 --seed 102 --out test_obs.h5 >/dev/null
cat > block.ini <<'INI'
[data]
val_fraction = 0.05
[model]
base = 8
mult = 1,2
nres = 1
[method]
strategy = block
[train]
steps = 400
batch = 8
lr = 3e-3
warmup = 50
schedule = cosine
ema = 0.99
log_every = 10
val_every = 0
ckpt_every = 0
INI
"$DYNFILL" train --config block.ini --data obs.h5 --out run --quiet || fail "train"
"$DYNFILL" impute --ckpt run/ckpt.h5 --in test_obs.h5 --out pred.h5 -K 10 >/dev/null || fail "impute"
"$DYNFILL" impute --method harmonic --in test_obs.h5 --out harmonic.h5 >/dev/null || fail "harmonic"
mse() { "$DYNFILL" eval --pred "$1" --truth test_truth.h5 --json | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["mse_missing"])'; }
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
