#!/usr/bin/env bash
# Crops never wrap (docs/design.md, "Configuration keys", data.patch): on
# 16x32 fields periodic along x and y, 16x16 crops span every row but cut
# the columns, so the network trains periodic along y only: its weights
# equal, bit for bit, those of a run with model.periodic = y, and differ
# from a run with model.periodic = none (control). The checkpoint keeps the
# data's axes (xy) for imputation, and the model imputes whole 16x32 fields.
source "$(dirname "$0")/common.sh"
COMPARE="$PY $DFL_SOURCE_DIR/tests/mpi/dist/compare_ckpt.py"
$PY - <<'PY'
import h5py, numpy as np
rng = np.random.default_rng(5)
n, h, w = 24, 16, 32
y, x = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
obs = np.zeros((n, 1, h, w), np.float32)
for i in range(n):
    obs[i, 0] = np.sin(2 * np.pi * (x / w + rng.uniform())) * np.cos(2 * np.pi * (y / h + rng.uniform()))
mask = (rng.uniform(size=obs.shape) < 0.5).astype(np.uint8)
mask[:, :, 0, 0] = 1
with h5py.File("obs.h5", "w") as f:
    f["obs"] = obs * mask
    f["mask"] = mask
    f.attrs["periodic"] = "xy"
PY
write_tiny_config 4
run() { "$DYNFILL" train --config tiny.ini --set data.patch=16 --set model.base=16 --set train.threads=1 --out "$@"; }
run auto > auto.log 2>&1 || { cat auto.log; fail "crop run"; }
grep -q "16x16 crops do not wrap: periodic y while training, xy for imputation" auto.log \
  || { cat auto.log; fail "no crop line"; }
[ "$(h5attr auto/ckpt.h5 periodic)" = xy ] || fail "checkpoint periodic is $(h5attr auto/ckpt.h5 periodic), not xy"
run y --set model.periodic=y --quiet || fail "model.periodic=y run"
$COMPARE auto/ckpt.h5 y/ckpt.h5 0 || fail "crops of a periodic-xy dataset did not train like model.periodic = y"
run none --set model.periodic=none --quiet || fail "model.periodic=none run"
if $COMPARE auto/ckpt.h5 none/ckpt.h5 1e-6; then fail "control: periodic y matched periodic none"; fi
"$DYNFILL" impute --ckpt auto/ckpt.h5 --in obs.h5 --out pred.h5 -K 2 --quiet || fail "impute from a crop-trained model"
$PY - <<'PY' || fail "prediction shape"
import h5py, numpy as np
p = h5py.File("pred.h5", "r")
assert p["/pred"].shape == (24, 1, 16, 32), p["/pred"].shape
assert np.all(np.isfinite(p["/pred"][:]))
PY
echo ok
