#!/usr/bin/env bash
# The ERA5-shaped reduced case end to end (docs/scaling.md):
#  1. a truth file of 24 smooth fields at 1.5 degrees (121 x 240, latitudes
#     90 .. -90, global longitude: periodic x), 14 channels;
#  2. `mask --pattern stations` and `swath` observations;
#  3. `train` on 2 MPI ranks x batch 2 with micro-batches of 1 and 40 x 40
#     crops, with method.lat_weight: equals 1 rank x batch 4 unsplit (the
#     same loss at every step, weights within a relative 1e-4: Adam's first
#     steps divide each gradient element by its own size, so round-off in
#     near-zero components shows at the scale of the learning rate), and the
#     crops never wrap (periodic none while training, x for imputation);
#  4. `impute` in passes of 3 network rows equals one pass of all rows, bit
#     for bit;
#  5. `eval` reports the latitude-weighted RMSE.
source "$(dirname "$0")/../dist/common.sh"
cd "$WORK"
"$PY" - <<'PY'
import h5py, numpy as np
n, c, h, w = 24, 14, 121, 240
lat = np.linspace(90, -90, h)
lon = np.arange(w) * 1.5
y, x = np.meshgrid(np.radians(lat), np.radians(lon), indexing="ij")
truth = np.empty((n, c, h, w), np.float32)
for s in range(n):
    for ch in range(c):
        truth[s, ch] = (10 * ch + np.cos(y) * np.sin((ch % 4 + 1) * x + 0.3 * s)
                        + 0.5 * np.sin(2 * y + 0.1 * s * (ch + 1)))
with h5py.File("truth.h5", "w") as f:
    f["truth"] = truth
    f.attrs["channels"] = ",".join(f"v{k}" for k in range(c))
    f.attrs["periodic"] = "x"
    f.attrs["lat"] = lat
    f.attrs["lon"] = lon
PY
"$DYNFILL" mask --in truth.h5 --pattern stations:900:0.1 --seed 5 --out stations.h5 >/dev/null 2>&1 \
  || fail "mask stations"
"$DYNFILL" mask --in truth.h5 --pattern swath:6:0.3 --seed 6 --out swath.h5 >/dev/null 2>&1 || fail "mask swath"
"$PY" - <<'PY' || fail "masks"
import h5py
for name, lo, hi in (("stations.h5", 0.01, 0.05), ("swath.h5", 0.2, 0.4)):
    with h5py.File(name, "r") as f:
        frac = f["mask"][...].mean()
        assert lo < frac < hi, (name, frac)
        assert f.attrs["lat"].shape == (121,)
PY
cat > era5.ini <<'INI'
[data]
val_fraction = 0.1
patch = 40
[model]
base = 8
mult = 1,2
nres = 1
[method]
strategy = pixel
lat_weight = true
[train]
steps = 3
lr = 1e-4
warmup = 1
ckpt_every = 0
val_every = 1000
log_every = 1
seed = 3
# fp32: with the default precision auto an AMX CPU runs bf16 convolutions,
# whose oneDNN kernels block a batch of 1 differently from one of 4
# (rounding, not a rank or micro-batch error); the comparison is in fp32
precision = fp32
INI
mpi 2 "$DYNFILL" train --config era5.ini --data swath.h5 --set train.batch=2 --set train.micro_batch=1 \
  --set data.patch=40 --out two 2>two.log || fail "2-rank training: $(tail -3 two.log)"
"$DYNFILL" train --config era5.ini --data swath.h5 --set train.batch=4 --out one 2>one.log \
  || fail "1-rank training: $(tail -3 one.log)"
compare two/ckpt.h5 one/ckpt.h5 1e-4 step=3 world_size=2 || fail "2 ranks x micro-batches differ from 1 rank"
"$PY" - <<'PY' || fail "losses differ"
import json
loss = lambda d: [json.loads(l)["loss"] for l in open(d + "/metrics.jsonl") if '"loss"' in l]
a, b = loss("two"), loss("one")
assert len(a) == 3 and a == b, (a, b)
PY
grep -q "crops do not wrap: periodic none while training, x for imputation" two.log \
  || fail "crop periodicity: $(grep crops two.log)"
"$DYNFILL" impute --ckpt two/ckpt.h5 --in stations.h5 --out p_all.h5 -K 3 --batch 1000 --quiet || fail "impute"
"$DYNFILL" impute --ckpt two/ckpt.h5 --in stations.h5 --out p_chunk.h5 -K 3 --batch 3 --quiet || fail "impute chunks"
"$PY" - <<'PY' || fail "chunked imputation differs"
import h5py
a, b = h5py.File("p_all.h5", "r"), h5py.File("p_chunk.h5", "r")
for k in ("pred", "std"):
    assert a[k][...].tobytes() == b[k][...].tobytes(), k
PY
"$DYNFILL" eval --pred p_chunk.h5 --truth truth.h5 --json > eval.json || fail "eval"
"$PY" - <<'PY' || fail "latitude-weighted eval: $(cat eval.json)"
import json, math
j = json.load(open("eval.json"))
keys = [k for k in j if "lat" in k]
assert keys, sorted(j)
assert all(j[k] is None or math.isfinite(j[k]) for k in keys if not isinstance(j[k], (dict, list)))
PY
echo "PASS: ERA5-shaped reduced case"
