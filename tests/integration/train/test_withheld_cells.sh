#!/usr/bin/env bash
# data.withhold_cells (docs/design.md, "Withheld cells"): on a station
# network (80 fixed cells of 16x16, 69 % of the cells never observed)
#  - `auto` (the default) keeps 8 of the 80 out of training, says so, and
#    stores them as /withheld_cells, all at station cells;
#  - the calibration hides the entries at those cells of 64 samples spread
#    over the whole file (64 x 8; every sample is held out there) and says
#    so; `impute --calibrate` on a file with the
#    same stations does the same, on one whose stations sit elsewhere it
#    hides as training does and refits the spline weights and the spread;
#    a plain impute on that file fits the spread alone (its /pred is the
#    checkpoint's: that of --raw-std, bit for bit), not on the other file,
#    nor on two samples of the training's stations, where --calibrate
#    keeps the checkpoint's calibration (too few entries);
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
# the coverage warning of the cells no station observes: their error is measured at the withheld stations
grep -q "observed in no sample.*the spread calibration measures its error there at the station cells" auto.txt ||
  { cat auto.txt; fail "the coverage warning does not say the withheld stations measure the unseen cells' error"; }
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

# impute --calibrate: the same stations -> the withheld cells; other stations -> as training hides.
# The tiny run's spline weights sit at a bound (order 2: 0, order 3: 1), where a refit on other
# stations lands too; a copy with other weights tells kept weights from refitted ones.
mkdir -p r_moved && cp r_auto/ckpt.h5 r_moved/ckpt.h5
$PY - <<'PY'
import h5py
f = h5py.File("r_moved/ckpt.h5", "r+")
f.attrs["spline_weight"], f.attrs["spline3_weight"] = 0.5, 0.2
PY
"$DYNFILL" impute --ckpt r_auto/ckpt.h5 --in test_same.h5 --out p_same.h5 -K 4 --calibrate 2> cal_same.txt ||
  { cat cal_same.txt; fail "impute --calibrate, same stations"; }
grep -q "calibration hides the 192 observed entries of the input samples at the cells training withheld" \
  cal_same.txt || { cat cal_same.txt; fail "impute --calibrate did not hide the withheld cells"; }
"$DYNFILL" impute --ckpt r_moved/ckpt.h5 --in test_other.h5 --out p_other.h5 -K 4 --calibrate 2> cal_other.txt ||
  { cat cal_other.txt; fail "impute --calibrate, other stations"; }
grep -q "calibration hides entries as training does" cal_other.txt ||
  { cat cal_other.txt; fail "impute --calibrate on other stations did not fall back"; }
# there both the spline weights and the spread are refitted on the input's hidden stations
! grep -q "weights stay the checkpoint's\|(kept)" cal_other.txt ||
  { cat cal_other.txt; fail "impute --calibrate on other stations kept the spline weights"; }
$PY - <<'PY'
import h5py, re, numpy as np
a = {k: np.atleast_1d(v)[0] for k, v in h5py.File("r_moved/ckpt.h5", "r").attrs.items() if k.startswith(("spline", "std_s"))}
w = re.search(r"weight ([0-9.e+-]+) \(order 2\), ([0-9.e+-]+) \(order 3\), hidden", open("cal_other.txt").read())
assert w, open("cal_other.txt").read()
assert "%.3f %.3f" % (float(w.group(1)), float(w.group(2))) != "%.3f %.3f" % (a["spline_weight"], a["spline3_weight"]), \
    ("--calibrate kept the checkpoint's weights", w.groups())
print("other stations, --calibrate: spline weights refitted", w.groups())
PY
# a plain impute fits the spread alone on the input where its stations are not the training's, and
# only there
"$DYNFILL" impute --ckpt r_moved/ckpt.h5 --in test_other.h5 --out p_other_plain.h5 -K 4 2> plain_other.txt ||
  { cat plain_other.txt; fail "impute, other stations"; }
grep -q "impute: test_other.h5 observes [0-9]* of the 8 cells the training kept out of its stations" \
  plain_other.txt || { cat plain_other.txt; fail "a plain impute did not see other stations"; }
grep -q "the spline weights stay the checkpoint's" plain_other.txt ||
  { cat plain_other.txt; fail "a plain impute on other stations did not keep the spline weights"; }
"$DYNFILL" impute --ckpt r_moved/ckpt.h5 --in test_other.h5 --out p_other_raw.h5 -K 4 --raw-std 2> raw_other.txt ||
  { cat raw_other.txt; fail "impute --raw-std, other stations"; }
! grep -q "kept out of its stations" raw_other.txt || { cat raw_other.txt; fail "--raw-std calibrated"; }
$PY - <<'PY'
import h5py, re, numpy as np
a = {k: np.atleast_1d(v)[0] for k, v in h5py.File("r_moved/ckpt.h5", "r").attrs.items() if k.startswith(("spline", "std_s"))}
log = open("plain_other.txt").read()
want = "weight %.3f (order 2), %.3f (order 3) (kept)" % (a["spline_weight"], a["spline3_weight"])
assert want in log, (want, log)
scale = re.search(r"std_scale ([0-9.e+-]+), std_floor [0-9.e+-]+ \(the checkpoint's", log)
assert scale and abs(float(scale.group(1)) - a["std_scale"]) > 1e-3 * a["std_scale"], "spread not refitted"
plain, raw, cal = (h5py.File(f, "r") for f in ("p_other_plain.h5", "p_other_raw.h5", "p_other.h5"))
assert np.array_equal(plain["pred"][:], raw["pred"][:]), "the plain run's /pred is not the checkpoint's"
assert not np.array_equal(plain["std"][:], raw["std"][:]), "the plain run's /std is the raw spread"
assert not np.array_equal(plain["pred"][:], cal["pred"][:]), "--calibrate's /pred is the checkpoint's"
print("other stations, plain: the checkpoint's spline weights and /pred, the spread refitted")
PY
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
same, same_cal = h5py.File("p_same_plain.h5", "r"), h5py.File("p_same.h5", "r")
assert not np.array_equal(same["std"][:], same_cal["std"][:]), "same stations: the checkpoint's spread expected"
print("same stations: a plain impute keeps the checkpoint's calibration")
PY

# none, and scattered pixels: nothing withheld
"$DYNFILL" train --config tiny.ini --set data.withhold_cells=none --out r_none 2> none.txt ||
  { cat none.txt; fail "train, withhold none"; }
"$DYNFILL" train --config tiny.ini --data pixel_obs.h5 --out r_pixel 2> pixel.txt ||
  { cat pixel.txt; fail "train, pixels"; }
! grep -q "withh" none.txt pixel.txt || { grep withh none.txt pixel.txt; fail "cells withheld without a station network"; }
grep -q "observed in no sample.*/std is too narrow at them" none.txt ||
  { cat none.txt; fail "withhold none: the coverage warning does not say /std is too narrow at unseen cells"; }
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
