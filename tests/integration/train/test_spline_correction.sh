#!/usr/bin/env bash
# Spline correction (docs/design.md, "Spline correction"): training fits
# weights a, b per channel on calibration's hidden entries and stores them
# as spline_weight and spline3_weight; impute moves the network's ensemble
# mean P by a (S2 - P) + b (S3 - P) towards the order-2 and order-3 grid
# splines through the observed entries (--raw-pred: P):
#   - on smooth advection fields and a barely trained network the splines
#     are the better estimate: a + b > 0.5, a, b >= 0, a + b <= 1, and the
#     corrected MSE is below P's;
#   - the correction is linear in the weights: with (0, 0) in a copy of
#     the checkpoint impute gives P exactly, with (1, 0) S2, with (0, 1) S3,
#     and the fitted weights give P + a (S2 - P) + b (S3 - P); observed
#     entries stay the observations;
#   - the members move with /pred (their mean is /pred);
#   - an older checkpoint without the weights imputes P.
source "$(dirname "$0")/common.sh"
make_data 48 16 pixel:0.4
write_tiny_config 40
"$DYNFILL" train --config tiny.ini --out run 2> err.txt || { cat err.txt; fail "train failed"; }
grep -q "spline correction, channel" err.txt || { cat err.txt; fail "no spline correction line"; }
"$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out cor.h5 -K 4 --members --quiet
"$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out raw.h5 -K 4 --raw-pred --quiet
$PY - <<'PY'
import h5py, shutil
for a, b, name in ((0.0, 0.0, "w00"), (1.0, 0.0, "w10"), (0.0, 1.0, "w01")):
    shutil.copy("run/ckpt.h5", name + ".h5")
    with h5py.File(name + ".h5", "a") as f:
        f.attrs["spline_weight"] = [a]
        f.attrs["spline3_weight"] = [b]
shutil.copy("run/ckpt.h5", "old.h5")
with h5py.File("old.h5", "a") as f:
    del f.attrs["spline_weight"]
    del f.attrs["spline3_weight"]
PY
for name in w00 w10 w01 old; do
    "$DYNFILL" impute --ckpt $name.h5 --in obs.h5 --out pred_$name.h5 -K 4 --quiet
done
"$DYNFILL" eval --pred cor.h5 --truth truth.h5 --json > cor.json
"$DYNFILL" eval --pred raw.h5 --truth truth.h5 --json > raw.json
$PY - <<'PY'
import h5py, json, numpy as np
attrs = h5py.File("run/ckpt.h5", "r").attrs
a, b = np.atleast_1d(attrs["spline_weight"]), np.atleast_1d(attrs["spline3_weight"])
assert a.shape == (1,) and b.shape == (1,) and a[0] >= 0 and b[0] >= 0 and 0.5 < a[0] + b[0] <= 1 + 1e-12, (a, b)
read = lambda p: h5py.File(p, "r")["pred"][:].astype(np.float64)
cor, raw, p0, p2, p3, old = (read(p) for p in ("cor.h5", "raw.h5", "pred_w00.h5", "pred_w10.h5", "pred_w01.h5",
                                               "pred_old.h5"))
f = h5py.File("cor.h5", "r")
miss = f["mask"][:] == 0
obs = h5py.File("obs.h5", "r")["obs"][:]
text = lambda v: v.decode() if isinstance(v, bytes) else str(v)
assert "pred=spline-corrected" in text(f.attrs["method"]), text(f.attrs["method"])
assert "spline" not in text(h5py.File("raw.h5", "r").attrs["method"])
assert (cor[~miss] == obs[~miss]).all() and (raw[~miss] == obs[~miss]).all(), "observed entries must stay"
assert np.abs(p0 - raw).max() < 1e-6 * (1 + np.abs(raw).max()), "weights 0 must give P"
assert old.tobytes() == raw.tobytes(), "a checkpoint without the weights must impute P"
d2, d3 = p2 - raw, p3 - raw
assert np.abs(d2[miss]).max() > 1e-3 and np.abs(d3[miss]).max() > 1e-3, "the splines must differ from P"
assert np.abs(d2 - d3)[miss].max() > 1e-4, "the order-2 and order-3 splines must differ"
err = np.abs(cor - (raw + a[0] * d2 + b[0] * d3))[miss].max()
assert err < 1e-4 * (1 + np.abs(d2).max() + np.abs(d3).max()), ("P + a (S2 - P) + b (S3 - P)", err)
members = f["members"][:].astype(np.float64)
assert np.abs(members.mean(axis=1) - cor)[miss].max() < 1e-4, "members' mean must be /pred"
jc, jr = json.load(open("cor.json")), json.load(open("raw.json"))
assert jc["mse_missing"] < jr["mse_missing"], (jc["mse_missing"], jr["mse_missing"])
print("spline weights %.3f, %.3f: missing-entry MSE %.4g -> %.4g" % (a[0], b[0], jr["mse_missing"], jc["mse_missing"]))
PY
echo "PASS"
