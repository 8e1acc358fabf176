#!/usr/bin/env bash
# Spline correction (docs/design.md, "Spline correction"): training fits a
# weight w per channel on calibration's hidden entries and stores it as
# spline_weight; impute moves the network's ensemble mean P by w (S - P)
# towards the spline S through the observed entries (--raw-pred: P):
#   - on smooth advection fields and a barely trained network the spline is
#     the better estimate: w > 0.5 and the corrected MSE is below P's;
#   - the correction is linear in w: with w set to 0 in a copy of the
#     checkpoint impute gives P exactly, with 1 it gives S, and the fitted w
#     gives P + w (S - P); observed entries stay the observations;
#   - the members move with /pred (their mean is /pred);
#   - an older checkpoint without spline_weight imputes P.
source "$(dirname "$0")/common.sh"
make_data 48 16 pixel:0.4
write_tiny_config 40
"$DYNFILL" train --config tiny.ini --out run 2> err.txt || { cat err.txt; fail "train failed"; }
grep -q "spline correction, channel" err.txt || { cat err.txt; fail "no spline correction line"; }
"$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out cor.h5 -K 4 --members --quiet
"$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out raw.h5 -K 4 --raw-pred --quiet
$PY - <<'PY'
import h5py, shutil
for w, name in ((0.0, "w0"), (1.0, "w1")):
    shutil.copy("run/ckpt.h5", name + ".h5")
    with h5py.File(name + ".h5", "a") as f:
        f.attrs["spline_weight"] = [w]
shutil.copy("run/ckpt.h5", "old.h5")
with h5py.File("old.h5", "a") as f:
    del f.attrs["spline_weight"]
PY
for name in w0 w1 old; do
    "$DYNFILL" impute --ckpt $name.h5 --in obs.h5 --out pred_$name.h5 -K 4 --quiet
done
"$DYNFILL" eval --pred cor.h5 --truth truth.h5 --json > cor.json
"$DYNFILL" eval --pred raw.h5 --truth truth.h5 --json > raw.json
$PY - <<'PY'
import h5py, json, numpy as np
w = np.atleast_1d(h5py.File("run/ckpt.h5", "r").attrs["spline_weight"])
assert w.shape == (1,) and 0.5 < w[0] <= 1.0, w
read = lambda p: h5py.File(p, "r")["pred"][:].astype(np.float64)
cor, raw, p0, p1, old = (read(p) for p in ("cor.h5", "raw.h5", "pred_w0.h5", "pred_w1.h5", "pred_old.h5"))
f = h5py.File("cor.h5", "r")
miss = f["mask"][:] == 0
obs = h5py.File("obs.h5", "r")["obs"][:]
text = lambda v: v.decode() if isinstance(v, bytes) else str(v)
assert "pred=spline-corrected" in text(f.attrs["method"]), text(f.attrs["method"])
assert "spline" not in text(h5py.File("raw.h5", "r").attrs["method"])
assert (cor[~miss] == obs[~miss]).all() and (raw[~miss] == obs[~miss]).all(), "observed entries must stay"
assert np.abs(p0 - raw).max() < 1e-6 * (1 + np.abs(raw).max()), "weight 0 must give P"
assert old.tobytes() == raw.tobytes(), "a checkpoint without spline_weight must impute P"
d = p1 - raw
assert np.abs(d[miss]).max() > 1e-3, "the spline must differ from P"
err = np.abs(cor - (raw + w[0] * d))[miss].max()
assert err < 1e-4 * (1 + np.abs(d).max()), ("P + w (S - P)", err)
members = f["members"][:].astype(np.float64)
assert np.abs(members.mean(axis=1) - cor)[miss].max() < 1e-4, "members' mean must be /pred"
jc, jr = json.load(open("cor.json")), json.load(open("raw.json"))
assert jc["mse_missing"] < jr["mse_missing"], (jc["mse_missing"], jr["mse_missing"])
print("spline_weight %.3f: missing-entry MSE %.4g -> %.4g" % (w[0], jr["mse_missing"], jc["mse_missing"]))
PY
echo "PASS"
