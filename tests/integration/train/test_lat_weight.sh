#!/usr/bin/env bash
# method.lat_weight (docs/design.md, "The method"): cos(latitude) row weights
# in the training loss, normalised to mean 1 over the field's rows.
#  - on data without latitudes it is refused (exit 2, naming the key and the file);
#  - latitudes all 0 give weights of exactly 1: the run equals the unweighted one bit for bit;
#  - real latitudes (-80..80) give another run, with finite losses;
#  - on 8x8 crops of the 16-row field the weights apply as well (the run differs from equator weights).
source "$(dirname "$0")/common.sh"
make_data 48 16 pixel:0.4
write_tiny_config 6
cp obs.h5 noLat.h5
lat_attr() { # FILE expression-of-y
  $PY - "$1" "$2" <<'PY'
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], "r+") as f:
    y = np.arange(f["obs"].shape[2], dtype=np.float64)
    f.attrs["lat"] = eval(sys.argv[2])
PY
}
set +e
"$DYNFILL" train --config tiny.ini --data noLat.h5 --set method.lat_weight=true --out r_nolat --quiet 2>err.txt
rc=$?
set -e
[ $rc -eq 2 ] || fail "lat_weight without latitudes: exit $rc, want 2"
grep -q "method.lat_weight" err.txt && grep -q "noLat.h5" err.txt || fail "message: $(cat err.txt)"

cp obs.h5 eq.h5 && lat_attr eq.h5 "0.0 * y"
cp obs.h5 geo.h5 && lat_attr geo.h5 "-80.0 + 160.0 * y / (len(y) - 1)"
"$DYNFILL" train --config tiny.ini --data eq.h5 --out r_plain --quiet
"$DYNFILL" train --config tiny.ini --data eq.h5 --set method.lat_weight=true --out r_eq --quiet
"$DYNFILL" train --config tiny.ini --data geo.h5 --set method.lat_weight=true --out r_geo --quiet
$PY - <<'PY'
import h5py, json, math
def params(d):
    f = h5py.File(d + "/ckpt.h5", "r")
    return {k: f["params"][k][:].tobytes() for k in f["params"]}
def losses(d):
    return [json.loads(l)["loss"] for l in open(d + "/metrics.jsonl") if '"loss"' in l]
assert params("r_plain") == params("r_eq"), "equator weights must equal the unweighted run"
assert params("r_geo") != params("r_plain"), "latitude weights changed nothing"
assert all(math.isfinite(x) for x in losses("r_geo")), losses("r_geo")
PY
# crops: rows of the crop's place in the field
cat tiny.ini > crop.ini && sed -i 's/^val_fraction = 0.1/val_fraction = 0.1\npatch = 8/' crop.ini
"$DYNFILL" train --config crop.ini --data geo.h5 --set method.lat_weight=true --out r_crop --quiet
"$DYNFILL" train --config crop.ini --data eq.h5 --set method.lat_weight=true --out r_crop_eq --quiet
$PY - <<'PY'
import h5py
p = lambda d: {k: h5py.File(d + "/ckpt.h5", "r")["params"][k][:].tobytes() for k in h5py.File(d + "/ckpt.h5", "r")["params"]}
assert p("r_crop") != p("r_crop_eq"), "crops ignored the latitude weights"
PY
echo ok
