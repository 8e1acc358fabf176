#!/usr/bin/env bash
# The README demo (command one): builds everything, then on the CPU
#   1. generates Navier-Stokes (Kolmogorov flow) fields, a training set and a test set,
#   2. keeps 20 % of the pixels of each (the only thing training ever sees),
#   3. trains a small dfl-unet for a few minutes on the incomplete training set,
#   4. imputes the test set with a K = 10 ensemble, and with mean and harmonic filling,
#   5. evaluates all three against the test truth and writes figures.
# Output in ${DEMO_OUT:-demo_out}/. DEMO_STEPS overrides the training steps.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/build.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
ROOT=$PWD
D=$ROOT/build/dynfill
OUT=${DEMO_OUT:-demo_out}
STEPS=${DEMO_STEPS:-1400}
mkdir -p "$OUT"
cd "$OUT"

echo "== 1. data: Navier-Stokes (Kolmogorov, Re 1000) 64x64, 20 % pixel observations"
"$D" gen --kind ns --n 600 --size 64 --seed 1 --out train_truth.h5
"$D" mask --in train_truth.h5 --pattern pixel:0.2 --seed 2 --out train_obs.h5
"$D" gen --kind ns --n 64 --size 64 --seed 101 --out test_truth.h5
"$D" mask --in test_truth.h5 --pattern pixel:0.2 --seed 102 --out test_obs.h5

echo "== 2. train on the incomplete training set only ($STEPS steps)"
rm -rf run
"$D" train --config "$ROOT/configs/demo_ns_pixel.ini" --data train_obs.h5 --set train.steps="$STEPS" --out run

echo "== 3. impute the test set"
"$D" impute --ckpt run/ckpt.h5 --in test_obs.h5 --out pred_diffusion.h5 -K 10
"$D" impute --method harmonic --in test_obs.h5 --out pred_harmonic.h5
"$D" impute --method mean --in test_obs.h5 --out pred_mean.h5

echo "== 4. evaluate"
row() { # method file (a null score, e.g. nothing missing, prints as n/a)
  "$D" eval --pred "$2" --truth test_truth.h5 --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
cell = lambda k: "%14s" % ("n/a" if r[k] is None else "%.6g" % r[k])
print("%-22s %s %s %s" % (sys.argv[1], cell("mse_missing"), cell("rmse_missing"), cell("mse_all")))' "$1"
}
{
  printf '%-22s %14s %14s %14s\n' method mse_missing rmse_missing mse_all
  row "dfl-unet K=10" pred_diffusion.h5
  row "harmonic" pred_harmonic.h5
  row "mean" pred_mean.h5
} | tee results.txt

echo "== 5. figures"
"$D" plot --pred pred_diffusion.h5 --truth test_truth.h5 --index 0 --out fig_diffusion.png
"$D" plot --pred pred_harmonic.h5 --truth test_truth.h5 --index 0 --out fig_harmonic.png
"$D" plot --metrics run/metrics.jsonl --out loss.png
echo "demo done in $(( $(date +%s) - start )) s; results in $OUT/results.txt, figures $OUT/*.png"
