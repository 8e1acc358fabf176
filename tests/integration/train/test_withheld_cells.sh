#!/usr/bin/env bash
# data.withhold_cells (docs/design.md, "Withheld cells"): on a station
# network (80 fixed cells of 16x16, 69 % of the cells never observed)
#  - `auto` (the default) keeps 8 of the 80 out of training, says so, and
#    stores them as /withheld_cells, all at station cells;
#  - the calibration hides the entries at those cells of 64 samples spread
#    over the whole file (64 x 8; every sample is held out there) and says
#    so; `impute --calibrate` on a file with the
#    same stations does the same, on one whose stations sit elsewhere it
#    hides as training does, keeping the checkpoint's spline weights and
#    fitting the spread; a plain impute does the same on that file (bit for
#    bit), not on the other, nor on two samples of the training's stations,
#    where --calibrate keeps the checkpoint's calibration (too few entries);
#  - `none`, and `auto` on scattered pixels, withhold nothing (auto there
#    trains the weights of none bit for bit);
#  - --resume with another data.withhold_cells exits 2 and leaves the
#    checkpoint; 30 steps, stop, --resume to 60 equals 60 in one go bit for
#    bit, the cells kept.
source "$(dirname "$0")/common.sh"
make_data 200 16 stations:80
"$DYNFILL" mask --in truth.h5 --pattern pixel:0.3 --seed 4 --out pixel_obs.h5 >/dev/null 2>&1
"$DYNFILL" gen --kind advection --n 24 --size 16 --seed 9 --out test_truth.h5 >/dev/null 2>&1
"$DYNFILL" mask --in test_truth.h5 --pattern stations:80 --seed 4 --out test_same.h5 >/dev/null 2>&1
"$DYNFILL" mask --in test_truth.h5 --pattern stations:80 --seed 5 --out test_other.h5 >/dev/null 2>&1
"$DYNFILL" gen --kind advection --n 2 --size 16 --seed 10 --out few_truth.h5 >/dev/null 2>&1
"$DYNFILL" mask --in few_truth.h5 --pattern stations:80 --seed 4 --out test_few.h5 >/dev/null 2>&1
write_tiny_config 60

"$DYNFILL" train --config tiny.ini --out r_auto 2> auto.txt || { cat auto.txt; fail "train, withhold auto"; }
grep -q "data.withhold_cells = auto: 8 of the 80 cells that some sample observes are kept out of training" auto.txt ||
  { cat auto.txt; fail "no withheld-cells line"; }
grep -q "calibration on 64 samples spread over the whole file" auto.txt ||
  { cat auto.txt; fail "the calibration did not spread over the file"; }
grep -q "calibration hides the 512 observed entries of the held-out samples at the cells training withheld" auto.txt ||
  { cat auto.txt; fail "the calibration did not hide the withheld cells"; }
$PY - <<'PY'
import h5py, numpy as np
f = h5py.File("r_auto/ckpt.h5", "r")
assert "withheld_cells" in f, "no /withheld_cells"
wc = f["withheld_cells"][:]
assert wc.shape == (16, 16) and wc.dtype == np.uint8, (wc.shape, wc.dtype)
stations = h5py.File("obs.h5", "r")["mask"][:].any(axis=(0, 1))
assert wc.sum() == 8 and stations[wc != 0].all(), (wc.sum(), stations[wc != 0])
print("8 withheld cells, all stations")
PY

# impute --calibrate: the same stations -> the withheld cells; other stations -> as training hides
"$DYNFILL" impute --ckpt r_auto/ckpt.h5 --in test_same.h5 --out p_same.h5 -K 4 --calibrate 2> cal_same.txt ||
  { cat cal_same.txt; fail "impute --calibrate, same stations"; }
grep -q "calibration hides the 192 observed entries of the input samples at the cells training withheld" \
  cal_same.txt || { cat cal_same.txt; fail "impute --calibrate did not hide the withheld cells"; }
"$DYNFILL" impute --ckpt r_auto/ckpt.h5 --in test_other.h5 --out p_other.h5 -K 4 --calibrate 2> cal_other.txt ||
  { cat cal_other.txt; fail "impute --calibrate, other stations"; }
grep -q "calibration hides entries as training does" cal_other.txt ||
  { cat cal_other.txt; fail "impute --calibrate on other stations did not fall back"; }
# there the spline weights stay the checkpoint's (fitted on the withheld cells), the spread is fitted
grep -q "the spline weights stay the checkpoint's" cal_other.txt ||
  { cat cal_other.txt; fail "impute --calibrate on other stations refitted the spline weights"; }
! grep -q "stay the checkpoint's" cal_same.txt || { cat cal_same.txt; fail "same stations kept the weights"; }
$PY - <<'PY'
import h5py, re, numpy as np
a = {k: np.atleast_1d(v)[0] for k, v in h5py.File("r_auto/ckpt.h5", "r").attrs.items() if k.startswith(("spline", "std_s"))}
want = "weight %.3f (order 2), %.3f (order 3) (the checkpoint's)" % (a["spline_weight"], a["spline3_weight"])
assert want in open("cal_other.txt").read(), (want, open("cal_other.txt").read())
scale = re.search(r"std_scale ([0-9.e+-]+), std_floor [0-9.e+-]+ \(the checkpoint's", open("cal_other.txt").read())
assert scale and abs(float(scale.group(1)) - a["std_scale"]) > 1e-3 * a["std_scale"], "spread not refitted"
print("other stations: the checkpoint's spline weights, the spread refitted")
PY
# a plain impute fits the spread on the input where its stations are not the training's, exactly as
# --calibrate does there, and only there
"$DYNFILL" impute --ckpt r_auto/ckpt.h5 --in test_other.h5 --out p_other_plain.h5 -K 4 2> plain_other.txt ||
  { cat plain_other.txt; fail "impute, other stations"; }
grep -q "impute: test_other.h5 observes [0-9]* of the 8 cells the training kept out of its stations" \
  plain_other.txt || { cat plain_other.txt; fail "a plain impute did not see other stations"; }
"$DYNFILL" impute --ckpt r_auto/ckpt.h5 --in test_same.h5 --out p_same_plain.h5 -K 4 2> plain_same.txt ||
  { cat plain_same.txt; fail "impute, same stations"; }
! grep -q "kept out of its stations\|calibration on the input" plain_same.txt ||
  { cat plain_same.txt; fail "a plain impute calibrated on the same stations"; }
# two hours of the training's stations: most withheld cells, too few entries to fit on; not another network
"$DYNFILL" impute --ckpt r_auto/ckpt.h5 --in test_few.h5 --out p_few.h5 -K 4 2> plain_few.txt ||
  { cat plain_few.txt; fail "impute, two samples of the same stations"; }
! grep -q "kept out of its stations\|calibration on the input" plain_few.txt ||
  { cat plain_few.txt; fail "a plain impute calibrated on two samples of the same stations"; }
# and --calibrate there keeps the checkpoint's calibration too (too few entries at the withheld cells)
"$DYNFILL" impute --ckpt r_auto/ckpt.h5 --in test_few.h5 --out p_few_cal.h5 -K 4 --calibrate 2> cal_few.txt ||
  { cat cal_few.txt; fail "impute --calibrate, two samples of the same stations"; }
grep -q "observes the training's stations (.* of the 8 withheld cells) but .* the checkpoint's calibration" \
  cal_few.txt || { cat cal_few.txt; fail "--calibrate on two samples of the same stations fitted"; }
$PY - <<'PY'
import h5py, numpy as np
a, b = h5py.File("p_few.h5", "r"), h5py.File("p_few_cal.h5", "r")
for k in ("pred", "std"):
    assert np.array_equal(a[k][:], b[k][:]), k
print("two samples of the same stations: --calibrate = the checkpoint's calibration bit for bit")
PY
$PY - <<'PY'
import h5py, numpy as np
plain, cal = h5py.File("p_other_plain.h5", "r"), h5py.File("p_other.h5", "r")
for k in ("pred", "std"):
    assert np.array_equal(plain[k][:], cal[k][:]), k
same, same_cal = h5py.File("p_same_plain.h5", "r"), h5py.File("p_same.h5", "r")
assert not np.array_equal(same["std"][:], same_cal["std"][:]), "same stations: the checkpoint's spread expected"
print("other stations: a plain impute = --calibrate bit for bit; same stations: the checkpoint's calibration")
PY

# none, and scattered pixels: nothing withheld
"$DYNFILL" train --config tiny.ini --set data.withhold_cells=none --out r_none 2> none.txt ||
  { cat none.txt; fail "train, withhold none"; }
"$DYNFILL" train --config tiny.ini --data pixel_obs.h5 --out r_pixel 2> pixel.txt ||
  { cat pixel.txt; fail "train, pixels"; }
! grep -q "withh" none.txt pixel.txt || { grep withh none.txt pixel.txt; fail "cells withheld without a station network"; }
"$DYNFILL" train --config tiny.ini --data pixel_obs.h5 --set data.withhold_cells=none --out r_pixel_none --quiet
$PY - <<'PY'
import h5py
for run in ("r_none", "r_pixel"):
    assert "withheld_cells" not in h5py.File(run + "/ckpt.h5", "r"), run
a, b = h5py.File("r_pixel/ckpt.h5", "r"), h5py.File("r_pixel_none/ckpt.h5", "r")
for g in ("params", "ema"):
    for k in a[g]:
        assert a[g][k][:].tobytes() == b[g][k][:].tobytes(), (g, k)
print("none and pixels: no /withheld_cells; auto on pixels = none bit for bit")
PY

# resume: another value refused, the checkpoint untouched; 30 + 30 = 60 bit for bit
"$DYNFILL" train --config tiny.ini --set train.steps=30 --out r_split --quiet
resume_refuses r_split data.withhold_cells none
"$DYNFILL" train --resume --set train.steps=60 --out r_split --quiet
$PY - <<'PY'
import h5py
a, b = h5py.File("r_auto/ckpt.h5", "r"), h5py.File("r_split/ckpt.h5", "r")
assert a["withheld_cells"][:].tobytes() == b["withheld_cells"][:].tobytes(), "resume changed the cells"
for g in ("params", "ema"):
    for k in a[g]:
        assert a[g][k][:].tobytes() == b[g][k][:].tobytes(), (g, k)
print("resumed run bit-identical")
PY
echo ok
