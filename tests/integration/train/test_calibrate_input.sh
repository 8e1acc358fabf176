#!/usr/bin/env bash
# impute --calibrate (docs/design.md, "Calibrated spread"): the spline
# weights and the spread calibration are fitted again on the input's own
# observations, as train fits them on its held-out samples, and replace the
# checkpoint's for this run. Checked: on observations four times sparser
# than the training data's, the refitted spread is nearer spread-skill 1
# than the checkpoint's; the calibration reads the input in the
# checkpoint's normalisation (a copy of the input with other mean/std
# attributes gives the same /pred and /std); bad combinations exit 2 and
# write nothing.
source "$(dirname "$0")/common.sh"
make_data 64 16 pixel:0.4
write_tiny_config 200
"$DYNFILL" train --config tiny.ini --out run 2> err.txt || { cat err.txt; fail "train failed"; }
"$DYNFILL" gen --kind advection --n 48 --size 16 --seed 5 --out sparse_truth.h5 >/dev/null 2>&1
"$DYNFILL" mask --in sparse_truth.h5 --pattern pixel:0.1 --seed 6 --out sparse.h5 >/dev/null 2>&1
"$DYNFILL" impute --ckpt run/ckpt.h5 --in sparse.h5 --out ckpt_cal.h5 -K 8 --quiet
"$DYNFILL" impute --ckpt run/ckpt.h5 --in sparse.h5 --out input_cal.h5 -K 8 --calibrate 2> cal_err.txt ||
  { cat cal_err.txt; fail "impute --calibrate failed"; }
grep -q "impute: spread calibration, channel" cal_err.txt || { cat cal_err.txt; fail "no calibration line"; }
grep -q "impute: --calibrate: fitting on 48 of the 48 samples" cal_err.txt || { cat cal_err.txt; fail "no sample count"; }
"$DYNFILL" eval --pred ckpt_cal.h5 --truth sparse_truth.h5 --json > ckpt_cal.json
"$DYNFILL" eval --pred input_cal.h5 --truth sparse_truth.h5 --json > input_cal.json
# the same observations under other normalisation attributes (values untouched)
cp sparse.h5 renorm.h5
$PY - <<'PY'
import h5py, numpy as np
with h5py.File("renorm.h5", "a") as f:
    f.attrs["mean"] = np.atleast_1d(f.attrs["mean"]) + 0.75
    f.attrs["std"] = np.atleast_1d(f.attrs["std"]) * 3.0
PY
"$DYNFILL" impute --ckpt run/ckpt.h5 --in renorm.h5 --out renorm_cal.h5 -K 8 --calibrate --quiet
$PY - <<'PY'
import h5py, json, math, numpy as np
jk, ji = json.load(open("ckpt_cal.json")), json.load(open("input_cal.json"))
rk, ri = jk["spread_skill_missing"], ji["spread_skill_missing"]
print("sparser input: spread-skill %.3f (checkpoint's calibration) -> %.3f (--calibrate), +-2 std %.3f -> %.3f, "
      "mse %.4g -> %.4g" % (rk, ri, jk["coverage_2std_missing"], ji["coverage_2std_missing"], jk["mse_missing"],
                            ji["mse_missing"]))
assert abs(math.log(ri)) < abs(math.log(rk)), (rk, ri)
assert 0.7 < ri < 1.4, ri
a, b = h5py.File("input_cal.h5", "r"), h5py.File("renorm_cal.h5", "r")
assert "calibrated-on=input" in (lambda v: v.decode() if isinstance(v, bytes) else str(v))(a.attrs["method"])
# float rounding of the two normalisations only (the network runs in float32); a calibration that
# read the copy in its own normalisation would feed the network inputs 3 times too small and off by
# 0.25 of the data's std
for k in ("pred", "std"):
    x, y = a[k][:].astype(np.float64), b[k][:].astype(np.float64)
    rel = np.abs(x - y).max() / (x.max() - x.min())
    print("%s: largest difference %.2g of the range" % (k, rel))
    assert rel < 1e-3, (k, rel)
PY
for bad in "--method harmonic --calibrate" "--raw-std --calibrate"; do
  # shellcheck disable=SC2086
  impute_refuses sparse.h5 --calibrate $bad
done
echo "PASS"
