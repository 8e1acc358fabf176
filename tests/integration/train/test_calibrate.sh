#!/usr/bin/env bash
# Calibrated spread (docs/design.md, "Calibrated spread"): training ends by
# fitting std_scale, std_floor and std_gap_factor on held-out entries of the
# validation samples and stores them in the checkpoint; impute writes
# /std = f_g sqrt((std_scale spread)^2 + std_floor^2), f_g the factor of the
# entry's gap bin (a checkpoint without factors: 1; --raw-std: the spread), so
# eval's spread-skill ratio moves towards 1 from that of the network's own
# prediction and spread (--raw-pred --raw-std); a checkpoint without them
# (older, or data.val_fraction = 0) imputes with the raw spread and says so.
source "$(dirname "$0")/common.sh"
make_data 48 16 pixel:0.4
write_tiny_config 40
DFL_PROGRESS=lines DFL_PROGRESS_INTERVAL=0.001 "$DYNFILL" train --config tiny.ini --out run 2> err.txt ||
    { cat err.txt; fail "train failed"; }
grep -q "spread calibration, channel" err.txt || { cat err.txt; fail "no calibration line"; }
# the calibration's rounds show progress (samples imputed of those its rounds will take) and end in one line
grep -qE "^train calibration [0-9]+/[0-9]+ samples .* round [0-9]+, hidden entries" err.txt ||
    { cat err.txt; fail "no calibration progress line"; }
grep -qE "^train calibration ([0-9]+)/\1 samples .* done in" err.txt || { cat err.txt; fail "no final calibration line"; }
"$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out cal.h5 -K 8 --quiet
"$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out raw.h5 -K 8 --raw-std --quiet
"$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out net.h5 -K 8 --raw-std --raw-pred --quiet
"$DYNFILL" eval --pred cal.h5 --truth truth.h5 --json > cal.json
"$DYNFILL" eval --pred net.h5 --truth truth.h5 --json > raw.json
$PY - <<'PY'
import h5py, json, math, numpy as np
from gap_bins import gap_bins
ck = h5py.File("run/ckpt.h5", "r").attrs
s = np.atleast_1d(ck["std_scale"])  # one channel: a scalar attribute
fl = np.atleast_1d(ck["std_floor"]) * np.atleast_1d(ck["data_std"])  # in the data's units
# a scale of 0 is a floor-only fit: the spread says nothing of the (spline-corrected) error
assert s.shape == (1,) and np.isfinite(s).all() and s[0] >= 0, s
assert fl.shape == (1,) and np.isfinite(fl).all() and fl[0] >= 0, fl
cal, raw = h5py.File("cal.h5", "r"), h5py.File("raw.h5", "r")
assert cal["pred"][:].tobytes() == raw["pred"][:].tobytes()
text = lambda v: v.decode() if isinstance(v, bytes) else str(v)
assert "calibrated" in text(cal.attrs["method"]) and "raw" in text(raw.attrs["method"])
m = cal["mask"][:] == 0
a, b = cal["std"][:][m], raw["std"][:][m]
assert (b > 0).all()
gf = np.atleast_1d(ck["std_gap_factor"])
assert gf.shape == (7,) and (gf > 0).all(), gf
f = gf[gap_bins(cal["mask"][:] != 0, text(ck["periodic"]))[m]]
want = f * np.sqrt((s[0] * b.astype(np.float64)) ** 2 + fl[0] ** 2)
assert np.allclose(a, want, rtol=1e-5), (s[0], fl[0], np.abs(a / want - 1).max())
assert (cal["std"][:][~m] == 0).all(), "observed entries must keep std 0"
jc, jr = json.load(open("cal.json")), json.load(open("raw.json"))
for k in ("crps_missing", "spread_skill_missing", "coverage_1std_missing", "coverage_2std_missing"):
    assert jc[k] is not None and jr[k] is not None, k
assert abs(math.log(jc["spread_skill_missing"])) < abs(math.log(jr["spread_skill_missing"])), (jc, jr)
assert jc["coverage_2std_missing"] > jr["coverage_2std_missing"]
print("std_scale %.4g std_floor %.4g gap factors %s: spread-skill %.3f -> %.3f, +-2 std %.3f -> %.3f" % (s[0], fl[0],
      np.round(gf, 2), jr["spread_skill_missing"], jc["spread_skill_missing"], jr["coverage_2std_missing"],
      jc["coverage_2std_missing"]))
# an older checkpoint: no std_scale; one calibrated before the gap factors: none
import shutil
shutil.copy("run/ckpt.h5", "nogap.h5")
with h5py.File("nogap.h5", "a") as f:
    del f.attrs["std_gap_factor"]
shutil.copy("run/ckpt.h5", "old.h5")
with h5py.File("old.h5", "a") as f:
    del f.attrs["std_scale"]
    del f.attrs["std_floor"]
PY
# factors that differ by bin, on a mask with wide gaps (every other 4 x 4 tile hidden)
$PY - <<'PY'
import h5py, numpy as np, shutil
shutil.copy("run/ckpt.h5", "gaps.h5")
with h5py.File("gaps.h5", "a") as f:
    f.attrs["std_gap_factor"] = np.arange(1.0, 8.0)
shutil.copy("obs.h5", "tiles.h5")
with h5py.File("tiles.h5", "a") as f:
    m = f["mask"][:]
    y, x = np.indices(m.shape[-2:])
    m[...] = (((y // 4) + (x // 4)) % 2 == 0) | ((y % 13 == 0) & (x % 11 == 0))
    f["mask"][...] = m
    f["obs"][...] = f["obs"][:] * m
PY
"$DYNFILL" impute --ckpt gaps.h5 --in tiles.h5 --out gaps_pred.h5 -K 8 --quiet
"$DYNFILL" impute --ckpt run/ckpt.h5 --in tiles.h5 --out tiles_raw.h5 -K 8 --raw-std --quiet
$PY - <<'PY'
import h5py, numpy as np
from gap_bins import gap_bins
ck = h5py.File("run/ckpt.h5", "r").attrs
s, fl = np.atleast_1d(ck["std_scale"])[0], np.atleast_1d(ck["std_floor"])[0] * np.atleast_1d(ck["data_std"])[0]
p, r = h5py.File("gaps_pred.h5", "r"), h5py.File("tiles_raw.h5", "r")
known = p["mask"][:] != 0
periodic = ck["periodic"].decode() if isinstance(ck["periodic"], bytes) else str(ck["periodic"])
m, bins = ~known, gap_bins(known, periodic)
assert len(set(bins[m].tolist())) >= 2, "the tiles make more than one gap bin"
want = (bins[m] + 1.0) * np.sqrt((s * r["std"][:][m].astype(np.float64)) ** 2 + fl ** 2)
assert np.allclose(p["std"][:][m], want, rtol=1e-5), np.abs(p["std"][:][m] / want - 1).max()
PY
"$DYNFILL" impute --ckpt nogap.h5 --in obs.h5 --out nogap_pred.h5 -K 8 --quiet
$PY -c "
import h5py, numpy as np
ck = h5py.File('run/ckpt.h5', 'r').attrs
s, fl = np.atleast_1d(ck['std_scale'])[0], np.atleast_1d(ck['std_floor'])[0] * np.atleast_1d(ck['data_std'])[0]
p, r = h5py.File('nogap_pred.h5', 'r'), h5py.File('raw.h5', 'r')
m = p['mask'][:] == 0
want = np.sqrt((s * r['std'][:][m].astype(np.float64)) ** 2 + fl ** 2)
assert np.allclose(p['std'][:][m], want, rtol=1e-5), 'without std_gap_factor the factor is 1'"
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
# a block model (the default hide 2) calibrates on ONE hidden observed block per
# sample and round: 24x24 fields on a 3x3 grid have 8x8 blocks, so rounds x
# samples x 64 hidden entries (hiding method.hide = 2 blocks would give twice
# as many per round, and with the rounds' cap of 32 a different total)
mkdir blk && cd blk
make_data 48 24 block:3x3:8
write_tiny_config 10
"$DYNFILL" train --config tiny.ini --set method.strategy=block --out run 2> err.txt || { cat err.txt; fail "block train failed"; }
grep "spread calibration, channel" err.txt > cal_line.txt || { cat err.txt; fail "no block calibration line"; }
$PY - <<'PY'
import math, re
line = open("cal_line.txt").read()
m = re.search(r"([0-9]+) hidden entries of ([0-9]+) held-out samples", line)
assert m, line
n, s = int(m.group(1)), int(m.group(2))
rounds = min(32, math.ceil(20000 / (s * 64)))
assert n == rounds * s * 64, (line, rounds)
print("block calibration: %d hidden entries = %d rounds x %d samples x one 8x8 block" % (n, rounds, s))
PY
cd ..
# two observed blocks per field (block:3x3:2): hiding one for calibration leaves one, so a sample's K
# contexts are one and show no spread, while the test's contexts (either block) differ; the floor alone
# is fitted (std_scale 0), not a scale blown up from spreads near 0
mkdir blk2 && cd blk2
make_data 48 24 block:3x3:2
write_tiny_config 10
"$DYNFILL" train --config tiny.ini --set method.strategy=block --out run 2> err.txt || { cat err.txt; fail "block:3x3:2 train failed"; }
grep -q "keep a single observed block once one is hidden.*the floor alone (std_scale 0)" err.txt ||
    { cat err.txt; fail "no floor-only note for two observed blocks"; }
$PY -c "
import h5py, numpy as np
a = h5py.File('run/ckpt.h5', 'r').attrs
assert np.atleast_1d(a['std_scale'])[0] == 0 and np.atleast_1d(a['std_floor'])[0] > 0, (a['std_scale'], a['std_floor'])"
# every other field with eight observed blocks: the fit leaves the two-block fields out and fits the rest
"$DYNFILL" mask --in truth.h5 --pattern block:3x3:8 --seed 5 --out obs8.h5 >/dev/null 2>&1
$PY - <<'PY'
import h5py, shutil
shutil.copy("obs.h5", "mixed.h5")
with h5py.File("mixed.h5", "a") as f, h5py.File("obs8.h5", "r") as g:
    for k in ("obs", "mask"):
        d = f[k][...]
        d[1::2] = g[k][1::2]
        f[k][...] = d
PY
"$DYNFILL" train --config tiny.ini --set method.strategy=block --set data.path=mixed.h5 --out run_mixed 2> err.txt ||
    { cat err.txt; fail "mixed block train failed"; }
grep -q "keep a single observed block once one is hidden.*the fit leaves their entries out" err.txt ||
    { cat err.txt; fail "no note that the two-block fields are left out"; }
grep "spread calibration, channel" err.txt > cal_line.txt
$PY - <<'PY'
import math, re
text = open("cal_line.txt").read()
fixed, samples = map(int, re.search(r"([0-9]+) of ([0-9]+) held-out samples keep", text).groups())
n = int(re.search(r"([0-9]+) hidden entries of", text).group(1))
rounds = min(32, math.ceil(20000 / (samples * 64)))  # every field hides one 8x8 block a round
assert 0 < fixed < samples and n == rounds * (samples - fixed) * 64, (text, rounds)
print("mixed blocks: %d hidden entries fitted = %d rounds x %d eight-block fields x 64" % (n, rounds, samples - fixed))
PY
cd ..
echo ok
