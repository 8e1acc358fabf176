#!/usr/bin/env bash
# Threads on a shared machine (docs/cpu-backend.md): next to as many busy
# processes as it has CPUs, a CPU training run with a thread per CPU logs
# the others' load on its CPUs ("other_cpu_load" in metrics.jsonl) and warns
# once that it has more threads than the cores left to it, naming the
# train.threads that fit; with train.threads = 1 it measures the same load
# and does not warn. impute (768 samples, K 10, a thread per CPU) warns
# once too, naming OMP_NUM_THREADS, and bench train and bench impute report
# the load during their timed steps. Each training run trains for 6 s (two
# measures at least) and has no held-out split (no calibration to wait for).
source "$(dirname "$0")/common.sh"
cpus=$(nproc)
[ "$cpus" -ge 2 ] || { echo "one CPU: no thread count to warn about"; exit 77; }
make_data 64 16 swath:3:0.4
write_tiny_config
printf 'time_budget = 6s\n' >> tiny.ini
busy=()
for _ in $(seq "$cpus"); do
  (while :; do :; done) &
  busy+=($!)
done
trap 'kill "${busy[@]}" 2> /dev/null || true; rm -rf "$WORK"' EXIT
OMP_NUM_THREADS=$cpus "$DYNFILL" train --config tiny.ini --out run_all --set data.val_fraction=0 2> all.txt ||
  { cat all.txt; fail "train with $cpus threads failed"; }
OMP_NUM_THREADS=$cpus "$DYNFILL" train --config tiny.ini --out run_one --set data.val_fraction=0 --set train.threads=1 2> one.txt ||
  { cat one.txt; fail "train with one thread failed"; }
"$DYNFILL" gen --kind advection --n 768 --size 16 --seed 5 --out test_truth.h5 > /dev/null 2>&1
"$DYNFILL" mask --in test_truth.h5 --pattern swath:3:0.4 --seed 6 --out test.h5 > /dev/null 2>&1
OMP_NUM_THREADS=$cpus "$DYNFILL" impute --ckpt run_all/ckpt.h5 --in test.h5 --out pred.h5 -K 10 2> impute.txt ||
  { cat impute.txt; fail "impute failed"; }
OMP_NUM_THREADS=$cpus "$DYNFILL" bench train --size 16 --batch 8 --base 8 --mult 1,2 --nres 1 --steps 200 \
  --json > bench_train.json 2> /dev/null || fail "bench train failed"
OMP_NUM_THREADS=$cpus "$DYNFILL" bench impute --size 16 --base 8 --mult 1,2 --nres 1 --n 8 -K 4 --reps 200 \
  --json > bench_impute.json 2> /dev/null || fail "bench impute failed"
kill "${busy[@]}"
grep "impute: other processes kept .* set OMP_NUM_THREADS = [0-9]" impute.txt ||
  { cat impute.txt; fail "impute did not warn"; }
[ "$(grep -c "other processes kept" impute.txt)" = 1 ] || fail "impute warned more than once"
grep "other processes kept" all.txt || { cat all.txt; fail "no warning with $cpus threads next to $cpus busy processes"; }
[ "$(grep -c "other processes kept" all.txt)" = 1 ] || fail "warned more than once"
grep -q "with $cpus threads .*set train.threads = [0-9]" all.txt || fail "the warning names no thread counts"
! grep "other processes kept" one.txt || fail "warned with one thread"
$PY - <<'PY'
import json
for run in ("run_all", "run_one"):
    loads = [r["other_cpu_load"] for r in map(json.loads, open(run + "/metrics.jsonl")) if "other_cpu_load" in r]
    print(run, "other_cpu_load", loads)
    assert loads, run + ": no other_cpu_load measured"
    assert min(loads) >= 0.5, (run, loads)
for bench in ("bench_train", "bench_impute"):
    load = json.loads(open(bench + ".json").read().strip().splitlines()[-1]).get("other_cpu_load")
    print(bench, "other_cpu_load", load)
    assert load is not None and load >= 0.5, (bench, load)
PY
echo "ok"
