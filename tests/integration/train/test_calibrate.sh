#!/usr/bin/env bash
# Calibrated spread (docs/design.md, "Calibrated spread"): training ends by
# fitting std_scale on held-out entries of the validation samples and stores
# it in the checkpoint; impute multiplies /std by it (--raw-std does not), so
# eval's spread-skill ratio moves towards 1; a checkpoint without it (older,
# or data.val_fraction = 0) imputes with scale 1 and says so.
source "$(dirname "$0")/common.sh"
make_data 48 16 pixel:0.4
write_tiny_config 40
"$DYNFILL" train --config tiny.ini --out run 2> err.txt || { cat err.txt; fail "train failed"; }
grep -q "spread calibration, channel" err.txt || { cat err.txt; fail "no calibration line"; }
"$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out cal.h5 -K 8 --quiet
"$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out raw.h5 -K 8 --raw-std --quiet
"$DYNFILL" eval --pred cal.h5 --truth truth.h5 --json > cal.json
"$DYNFILL" eval --pred raw.h5 --truth truth.h5 --json > raw.json
$PY - <<'PY'
import h5py, json, math, numpy as np
s = np.atleast_1d(h5py.File("run/ckpt.h5", "r").attrs["std_scale"])  # one channel: a scalar attribute
assert s.shape == (1,) and np.isfinite(s).all() and s[0] > 0, s
cal, raw = h5py.File("cal.h5", "r"), h5py.File("raw.h5", "r")
assert cal["pred"][:].tobytes() == raw["pred"][:].tobytes()
text = lambda v: v.decode() if isinstance(v, bytes) else str(v)
assert "calibrated" in text(cal.attrs["method"]) and "raw" in text(raw.attrs["method"])
m = cal["mask"][:] == 0
a, b = cal["std"][:][m], raw["std"][:][m]
assert (b > 0).all()
assert np.allclose(a / b, s[0], rtol=1e-5), (s[0], (a / b).min(), (a / b).max())
jc, jr = json.load(open("cal.json")), json.load(open("raw.json"))
for k in ("crps_missing", "spread_skill_missing", "coverage_1std_missing", "coverage_2std_missing"):
    assert jc[k] is not None and jr[k] is not None, k
assert abs(jc["spread_skill_missing"] / jr["spread_skill_missing"] - s[0]) < 1e-4 * s[0]
assert abs(math.log(jc["spread_skill_missing"])) < abs(math.log(jr["spread_skill_missing"])), (jc, jr)
assert jc["coverage_2std_missing"] > jr["coverage_2std_missing"]
print("std_scale %.4g: spread-skill %.3f -> %.3f, +-2 std %.3f -> %.3f" % (s[0], jr["spread_skill_missing"],
      jc["spread_skill_missing"], jr["coverage_2std_missing"], jc["coverage_2std_missing"]))
# an older checkpoint: no std_scale
import shutil
shutil.copy("run/ckpt.h5", "old.h5")
with h5py.File("old.h5", "a") as f:
    del f.attrs["std_scale"]
PY
"$DYNFILL" impute --ckpt old.h5 --in obs.h5 --out old_pred.h5 -K 8 2> err.txt
grep -q "no spread calibration" err.txt || { cat err.txt; fail "no note for an uncalibrated checkpoint"; }
$PY -c "
import h5py
assert h5py.File('old_pred.h5','r')['std'][:].tobytes() == h5py.File('raw.h5','r')['std'][:].tobytes()"
# baselines have no /std: the uncertainty keys are null
"$DYNFILL" impute --method harmonic --in obs.h5 --out harm.h5 --quiet
"$DYNFILL" eval --pred harm.h5 --truth truth.h5 --json | $PY -c "
import json, sys
r = json.load(sys.stdin)
assert r['crps_missing'] is None and r['spread_skill_missing'] is None, r"
# no held-out samples: nothing to calibrate on
"$DYNFILL" train --config tiny.ini --set data.val_fraction=0 --set train.steps=5 --out noval 2> err.txt
grep -q "not calibrated" err.txt || { cat err.txt; fail "no note without validation samples"; }
$PY -c "import h5py; assert 'std_scale' not in h5py.File('noval/ckpt.h5','r').attrs"
echo ok
