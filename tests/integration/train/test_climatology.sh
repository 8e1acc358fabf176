#!/usr/bin/env bash
# data.climatology (docs/design.md, "Climatology"): the model works on
# anomalies from the training data's per-pixel mean field.
#  - advection fields plus a fixed pattern: `mean` and `auto` take the field;
#    the checkpoint's /climatology follows the pattern (correlation > 0.95)
#    and its data_std is the anomalies' (below the file's std);
#  - impute puts the field back: the missing-entry MSE on other fields is
#    under 0.3 of the pattern's variance (without it, at least the variance);
#  - `train --dry-run` names the estimate's memory (not with `none`);
#  - with augmentation and 8x8 crops the run trains on it too (finite losses);
#  - impute on fields of another size exits 2 naming the climatology, and
#    writes nothing;
#  - --resume with another data.climatology exits 2 and leaves the checkpoint;
#  - 30 steps, stop, --resume to 60 equals 60 in one go bit for bit, and the
#    field is kept byte for byte;
#  - on the plain advection fields `auto` leaves it out: no /climatology and
#    the weights of `none` bit for bit.
source "$(dirname "$0")/common.sh"
make_data 64 16 pixel:0.3
"$DYNFILL" gen --kind advection --n 16 --size 16 --seed 5 --out test_truth.h5 >/dev/null 2>&1
$PY - <<'PY'
import h5py, numpy as np, shutil
for src, dst in (("truth.h5", "ptruth.h5"), ("test_truth.h5", "ptest_truth.h5")):
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        n, c, h, w = f["truth"].shape
        y, x = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        pat = 4.0 * np.sin(2 * np.pi * x / w) * np.cos(np.pi * y / h) + 0.3 * y
        f["truth"][...] = f["truth"][...] + pat.astype(np.float32)
np.save("pattern.npy", pat)
PY
"$DYNFILL" mask --in ptruth.h5 --pattern pixel:0.3 --seed 4 --out pobs.h5 >/dev/null 2>&1
"$DYNFILL" mask --in ptest_truth.h5 --pattern pixel:0.3 --seed 6 --out ptest_obs.h5 >/dev/null 2>&1
write_tiny_config 60
sed -i 's/^lr = 3e-3/lr = 3e-3\nema = 0.9/' tiny.ini

"$DYNFILL" train --config tiny.ini --data pobs.h5 --set data.climatology=mean --out r_mean 2> mean.txt ||
  { cat mean.txt; fail "train, data.climatology = mean"; }
grep -q "data.climatology = mean: anomalies from the mean field of 58 training samples in 1 of 1 channel" mean.txt ||
  { cat mean.txt; fail "no climatology line"; }
"$DYNFILL" train --config tiny.ini --data pobs.h5 --set data.climatology=auto --out r_auto 2> auto.txt ||
  { cat auto.txt; fail "train, data.climatology = auto"; }
grep -q "in 1 of 1 channel" auto.txt || { cat auto.txt; fail "auto did not take the pattern's mean field"; }
$PY - <<'PY'
import h5py, numpy as np
pat = np.load("pattern.npy")
for run in ("r_mean", "r_auto"):
    f = h5py.File(run + "/ckpt.h5", "r")
    assert "climatology" in f, run + ": no /climatology"
    cl = f["climatology"][:]
    assert cl.shape == (1,) + pat.shape, cl.shape
    r = np.corrcoef(cl[0].ravel(), pat.ravel())[0, 1]
    assert r > 0.95, (run, r)
    file_std = np.ravel(h5py.File("pobs.h5", "r").attrs["std"])[0]
    assert np.ravel(f.attrs["data_std"])[0] < 0.6 * file_std, (run, f.attrs["data_std"], file_std)
print("climatology follows the pattern")
PY
"$DYNFILL" impute --ckpt r_mean/ckpt.h5 --in ptest_obs.h5 --out pred.h5 -K 4 --quiet
mse=$(mse_missing_vs ptest_truth.h5 pred.h5)
$PY -c "
import numpy as np, sys
v = np.load('pattern.npy').var(); m = float(sys.argv[1])
assert m < 0.3 * v, f'missing-entry MSE {m:.3f} against the pattern variance {v:.3f}'
print(f'missing-entry MSE {m:.3f}, pattern variance {v:.3f}')" "$mse"

# the dry run's plan names the estimate's memory (48 bytes an entry), only where there is one
"$DYNFILL" train --config tiny.ini --data pobs.h5 --set data.climatology=mean --out dry --dry-run > dry.txt ||
  fail "--dry-run with data.climatology"
grep -q "climatology estimate" dry.txt || { cat dry.txt; fail "the plan lacks the climatology estimate"; }
"$DYNFILL" train --config tiny.ini --data pobs.h5 --out dry --dry-run > dry_none.txt || fail "--dry-run"
! grep -q "climatology" dry_none.txt || { cat dry_none.txt; fail "data.climatology = none: the plan names an estimate"; }

# crops and augmentation
"$DYNFILL" train --config tiny.ini --data pobs.h5 --set data.climatology=mean --set data.patch=8 \
  --set data.augment_shift=true --set data.augment_symmetry=true --out r_crop --quiet || fail "crops"
$PY - <<'PY'
import json, math
rows = [json.loads(l) for l in open("r_crop/metrics.jsonl") if '"loss"' in l]
assert rows and all(math.isfinite(r["loss"]) for r in rows), rows
PY

# another field size: refused, nothing written
"$DYNFILL" gen --kind advection --n 4 --size 12 --seed 7 --out small_truth.h5 >/dev/null 2>&1
"$DYNFILL" mask --in small_truth.h5 --pattern pixel:0.3 --seed 8 --out small_obs.h5 >/dev/null 2>&1
cp -r r_mean run
impute_refuses small_obs.h5 "climatology"

# resume: bit for bit, the field kept
"$DYNFILL" train --config tiny.ini --data pobs.h5 --set data.climatology=mean --set train.steps=30 --out r_split --quiet
# a resumed run cannot change its units: exit 2 naming the key, the checkpoint untouched
resume_refuses r_split data.climatology none
"$DYNFILL" train --resume --set train.steps=60 --out r_split --quiet
$PY - <<'PY'
import h5py
a, b = h5py.File("r_mean/ckpt.h5", "r"), h5py.File("r_split/ckpt.h5", "r")
assert a["climatology"][:].tobytes() == b["climatology"][:].tobytes(), "resume changed the field"
assert (a.attrs["data_std"] == b.attrs["data_std"]).all()
for g in ("params", "ema"):
    for k in a[g]:
        assert a[g][k][:].tobytes() == b[g][k][:].tobytes(), (g, k)
print("resumed run bit-identical")
PY

# plain advection: auto leaves it out
"$DYNFILL" train --config tiny.ini --set data.climatology=auto --out r_plain_auto 2> plain.txt || { cat plain.txt; fail "auto"; }
grep -q "in 0 of 1 channel" plain.txt || { cat plain.txt; fail "auto took a mean field on stationary fields"; }
"$DYNFILL" train --config tiny.ini --set data.climatology=none --out r_plain_none --quiet
$PY - <<'PY'
import h5py
a, b = h5py.File("r_plain_auto/ckpt.h5", "r"), h5py.File("r_plain_none/ckpt.h5", "r")
assert "climatology" not in a and "climatology" not in b
for k in a["params"]:
    assert a["params"][k][:].tobytes() == b["params"][k][:].tobytes(), k
print("auto without a mean field = none")
PY
echo ok
