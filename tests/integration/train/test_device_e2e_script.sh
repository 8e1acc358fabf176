#!/usr/bin/env bash
# tests/device/e2e.sh (the end-to-end stage of tests/device/run.sh, written for a GPU) on the CPU
# backend with a tiny budget, so the script keeps working between GPU sessions: every command in
# it must succeed, the stopped-and-resumed run must end bit-identical to the uninterrupted one,
# and its table must hold a finite missing-entry MSE for each row.
set -euo pipefail
: "${DYNFILL:?}" "${DFL_SOURCE_DIR:?}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if ! E2E_BACKEND=cpu E2E_STEPS=45 E2E_LONG_STEPS=60 E2E_NTRAIN=24 PYTHON=/usr/bin/python3 OMP_NUM_THREADS=2 \
  bash "$DFL_SOURCE_DIR/tests/device/e2e.sh" "$DYNFILL" "$out/e2e" >"$out/log" 2>&1; then
  cat "$out/log"
  echo "FAIL: e2e.sh exited non-zero"
  exit 1
fi
cat "$out/log"
grep -q "resume vs uninterrupted: 142 tensors, max abs diff 0$" "$out/log" || { echo "FAIL: resume check"; exit 1; }
for row in "dfl-unet K=10, cpu | 45 x 8" "dfl-unet K=10, cpu | 60 x 8" "harmonic" "mean"; do
  mse=$(grep -F "| $row |" "$out/log" | awk -F'|' '{print $(NF-1)}' | tr -d ' ')
  awk -v m="$mse" 'BEGIN { exit !(m + 0 > 0 && m + 0 < 1e6) }' || { echo "FAIL: row '$row' has MSE '$mse'"; exit 1; }
done
[ -s "$out/e2e/e2e_metrics_45.jsonl" ] || { echo "FAIL: no metrics copied"; exit 1; }
echo "PASS"
