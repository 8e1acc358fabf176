#!/usr/bin/env bash
# End to end on a GPU machine (run by tests/device/run.sh, stage e2e): the README demo's data and
# config (configs/demo_ns_pixel.ini) through the command line with the CUDA backend.
#
#   tests/device/e2e.sh DYNFILL OUT_DIR
#
#   1. gen + mask: Navier-Stokes (Kolmogorov) 64x64, 600 train / 64 test, 20 % pixel observations
#      (the same commands and seeds as scripts/demo.sh, so the figures compare with the CPU demo);
#   2. train --set train.backend="$BACKEND" for the demo's 1400 steps; then the same run stopped with
#      SIGTERM part way and continued with --resume: its final parameters must equal the
#      uninterrupted run's (printed as the max abs difference; 0 = bit-identical);
#   3. impute --backend "$BACKEND" -K 10, harmonic and mean; eval of each on the missing entries;
#   4. the same training for 8x the steps (what the GPU buys in the same minutes).
# Prints lines starting "e2e:" and a markdown table; exits non-zero on any failed command or a
# resume mismatch. DYNFILL must run as is (run.sh passes a wrapper that sets LD_LIBRARY_PATH).
set -uo pipefail
D=${1:?usage: e2e.sh DYNFILL OUT_DIR}
OUT=${2:?usage: e2e.sh DYNFILL OUT_DIR}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CFG=$ROOT/configs/demo_ns_pixel.ini
LIMIT=${DFL_STEP_LIMIT:-200}
PY=${PYTHON:-python3}
STEPS=${E2E_STEPS:-1400}
NTRAIN=${E2E_NTRAIN:-600}
BACKEND=${E2E_BACKEND:-cuda} # cpu: checks this script on any machine
LONG=${E2E_LONG_STEPS:-$((8 * STEPS))}
mkdir -p "$OUT"
W=$(mktemp -d /tmp/dfl_e2e.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$W" || exit 1
FAIL=0

run() { # label command...: runs with a time limit, logs, counts failures
  local label=$1 t0 rc
  shift
  t0=$(date +%s%N)
  timeout -k 5 "$LIMIT" "$@" >"$W/$label.log" 2>&1
  rc=$?
  printf 'e2e: %-22s exit %3d  %6d ms\n' "$label" "$rc" $((($(date +%s%N) - t0) / 1000000))
  if [ "$rc" != 0 ]; then FAIL=1; tail -n 15 "$W/$label.log" | sed 's/^/    /'; fi
  return "$rc"
}

mse() { # pred.h5 -> mse_missing
  "$D" eval --pred "$1" --truth test_truth.h5 --json 2>/dev/null |
    "$PY" -c 'import json, sys; v = json.load(sys.stdin)["mse_missing"]; print("n/a" if v is None else v)' 2>/dev/null
}

run gen_train "$D" gen --kind ns --n "$NTRAIN" --size 64 --seed 1 --out train_truth.h5
run mask_train "$D" mask --in train_truth.h5 --pattern pixel:0.2 --seed 2 --out train_obs.h5
run gen_test "$D" gen --kind ns --n 64 --size 64 --seed 101 --out test_truth.h5
run mask_test "$D" mask --in test_truth.h5 --pattern pixel:0.2 --seed 102 --out test_obs.h5

# 2. the demo's training on the GPU, then the kill-and-resume twin
run train "$D" train --config "$CFG" --data train_obs.h5 --set train.backend="$BACKEND" \
  --set train.steps="$STEPS" --out run --quiet
"$D" train --config "$CFG" --data train_obs.h5 --set train.backend="$BACKEND" --set train.steps="$STEPS" \
  --out run_resume --quiet >"$W/train_killed.log" 2>&1 &
pid=$!
# stop it once it has logged a step past a third of the run (or after 60 s)
for _ in $(seq 600); do
  last=$(tail -n 1 run_resume/metrics.jsonl 2>/dev/null | sed -n 's/.*"step": *\([0-9][0-9]*\).*/\1/p')
  [ -n "$last" ] && [ "$last" -ge $((STEPS / 3)) ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill -TERM "$pid" 2>/dev/null
wait "$pid"
killed_rc=$?
echo "e2e: SIGTERM at logged step ${last:-?}: exit $killed_rc"
[ "$killed_rc" = 0 ] || FAIL=1
run train_resume "$D" train --config "$CFG" --data train_obs.h5 --set train.backend="$BACKEND" \
  --set train.steps="$STEPS" --out run_resume --resume --quiet
RESUME_DIFF=$("$PY" - run/ckpt.h5 run_resume/ckpt.h5 <<'EOF' 2>&1
import sys
import h5py
import numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
worst, n = 0.0, 0
for name in a["params"]:
    x, y = a["params"][name][...], b["params"][name][...]
    worst = max(worst, float(np.max(np.abs(x.astype(np.float64) - y))))
    n += 1
print("%d tensors, max abs diff %.3g" % (n, worst))
EOF
)
echo "e2e: resume vs uninterrupted: $RESUME_DIFF"
case "$RESUME_DIFF" in *"max abs diff 0"*) ;; *) FAIL=1 ;; esac

# 3. impute and score
run impute "$D" impute --ckpt run/ckpt.h5 --in test_obs.h5 --out pred_diffusion.h5 -K 10 --backend "$BACKEND"
run impute_harmonic "$D" impute --method harmonic --in test_obs.h5 --out pred_harmonic.h5
run impute_mean "$D" impute --method mean --in test_obs.h5 --out pred_mean.h5

# 4. 8x the steps
run train_long "$D" train --config "$CFG" --data train_obs.h5 --set train.backend="$BACKEND" \
  --set train.steps="$LONG" --out run_long --quiet
run impute_long "$D" impute --ckpt run_long/ckpt.h5 --in test_obs.h5 --out pred_long.h5 -K 10 --backend "$BACKEND"

sps() { # run dir -> median samples/s of the logged steps
  "$PY" - "$1/metrics.jsonl" <<'EOF' 2>/dev/null || echo "n/a"
import json, sys
v = sorted(r["samples_per_s"] for r in map(json.loads, open(sys.argv[1])) if r.get("samples_per_s") is not None)
print(v[(len(v) - 1) // 2] if v else "n/a")
EOF
}
echo
echo "| run | steps x batch | train samples/s (median of logged) | missing-entry MSE (64 test fields) |"
echo "|---|---:|---:|---:|"
echo "| dfl-unet K=10, $BACKEND | $STEPS x 8 | $(sps run) | $(mse pred_diffusion.h5) |"
echo "| dfl-unet K=10, $BACKEND | $LONG x 8 | $(sps run_long) | $(mse pred_long.h5) |"
echo "| harmonic | - | - | $(mse pred_harmonic.h5) |"
echo "| mean | - | - | $(mse pred_mean.h5) |"
cp run/metrics.jsonl "$OUT/e2e_metrics_${STEPS}.jsonl" 2>/dev/null
cp run_long/metrics.jsonl "$OUT/e2e_metrics_${LONG}.jsonl" 2>/dev/null
exit "$FAIL"
