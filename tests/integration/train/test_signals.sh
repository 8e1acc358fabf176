#!/usr/bin/env bash
# SIGTERM (and SIGUSR1) during training write a loadable checkpoint and
# exit 0; a non-finite loss stops with exit 1 and a clear message while
# the last good checkpoint stays intact.
source "$(dirname "$0")/common.sh"
make_data 48 16 pixel:0.4
write_tiny_config 100000
for sig in TERM USR1; do
  rm -rf run
  "$DYNFILL" train --config tiny.ini --out run --quiet 2> err.txt &
  pid=$!
  for _ in $(seq 1 600); do
    [ -s run/metrics.jsonl ] && break
    sleep 0.1
  done
  [ -s run/metrics.jsonl ] || fail "training produced no metrics"
  kill -"$sig" "$pid"
  rc=0; wait "$pid" || rc=$?
  [ "$rc" = 0 ] || { cat err.txt; fail "SIG$sig: exit code $rc"; }
  step=$(h5attr run/ckpt.h5 step)
  [ "$step" -ge 5 ] && [ "$step" -lt 100000 ] || fail "SIG$sig: checkpoint step $step"
  grep -q "stopped by signal" err.txt || fail "SIG$sig: no message"
  "$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out pred.h5 -K 2 --quiet || fail "checkpoint not loadable"
done
# non-finite loss: resume the stopped run with an absurd learning rate
good_step=$(h5attr run/ckpt.h5 step)
cp run/ckpt.h5 good.h5
rc=0
"$DYNFILL" train --resume --set train.lr=1e30 --set train.clip=0 --set train.ckpt_every=1 --out run --quiet 2> err.txt || rc=$?
[ "$rc" = 1 ] || { cat err.txt; fail "non-finite loss: exit code $rc"; }
grep -q "non-finite loss" err.txt || { cat err.txt; fail "no non-finite message"; }
$PY - <<'PY'
import h5py, numpy as np
f = h5py.File("run/ckpt.h5", "r")
for name in f["params"]:
    assert np.all(np.isfinite(f["params"][name][:])), name
print("checkpoint step", f.attrs["step"], "finite")
PY
"$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out pred.h5 -K 2 --quiet || fail "last checkpoint not loadable"
# SIGTERM during the spread calibration after training: it stops at its next pass, exits 0 and says
# so; the checkpoint holds the trained model, uncalibrated, and --resume calibrates it
mkdir cal && cd cal
make_data 400 32 pixel:0.05
write_tiny_config 20
DFL_PROGRESS=lines DFL_PROGRESS_INTERVAL=0.001 "$DYNFILL" train --config tiny.ini --out run 2> err.txt &
pid=$!
for _ in $(seq 1 1200); do
  grep -q "^train calibration" err.txt && break
  sleep 0.05
done
grep -q "^train calibration" err.txt || { cat err.txt; fail "no calibration progress"; }
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" = 0 ] || { cat err.txt; fail "SIGTERM in the calibration: exit code $rc"; }
grep -q "stopped by signal during the spread calibration" err.txt || { cat err.txt; fail "calibration stop: no message"; }
grep -q "train: done" err.txt && { cat err.txt; fail "calibration stop: said done"; }
[ "$(h5attr run/ckpt.h5 step)" = 20 ] || fail "calibration stop: checkpoint step"
$PY -c "import h5py, sys; sys.exit('std_scale' in h5py.File('run/ckpt.h5', 'r').attrs)" ||
  fail "calibration stop: the checkpoint holds a calibration"
"$DYNFILL" train --resume --out run --quiet 2> err2.txt || { cat err2.txt; fail "resume after the calibration stop"; }
$PY -c "import h5py, sys; sys.exit('std_scale' not in h5py.File('run/ckpt.h5', 'r').attrs)" ||
  fail "resume after the calibration stop: no calibration"
"$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out pred.h5 -K 2 --quiet || fail "calibrated checkpoint not loadable"
echo ok
