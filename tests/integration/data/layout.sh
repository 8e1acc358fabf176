#!/bin/bash
# Storage layouts from the command line: mask/gen/import --layout chunked
# --compress K write one chunk per sample with shuffle + deflate (checked
# with h5py), hold the same values as the contiguous file, still open in
# xarray, and train to the same logged losses (the loader batches are
# bit-identical: tests/unit/data/test_layout.c); bench io
# makes chunked synthetic files; bad values exit 2 and write nothing.
set -euo pipefail
: "${DYNFILL:?}"
PY=/usr/bin/python3
W=$(mktemp -d /tmp/dfl_layout.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$W"
export DFL_PROGRESS_INTERVAL=0

"$DYNFILL" gen --kind ns --n 24 --size 16 --seed 1 --spinup 1 --samples-per-run 12 --out truth.h5 2>/dev/null
"$DYNFILL" gen --kind ns --n 24 --size 16 --seed 1 --spinup 1 --samples-per-run 12 --compress 1 \
  --out truth_z.h5 2>/dev/null
"$DYNFILL" mask --in truth.h5 --pattern block:2x2:3 --seed 2 --out obs.h5 2>/dev/null
"$DYNFILL" mask --in truth.h5 --pattern block:2x2:3 --seed 2 --layout chunked --compress 4 --out obs_z.h5 2>/dev/null
"$DYNFILL" mask --in truth.h5 --pattern block:2x2:3 --seed 2 --layout chunked --out obs_c.h5 2>/dev/null

$PY - <<'PYEOF'
import h5py, numpy as np, xarray as xr
def layout(path, name):
    d = h5py.File(path, "r")[name]
    return d.chunks, d.compression, d.compression_opts, d.shuffle
assert layout("obs.h5", "obs") == (None, None, None, False), layout("obs.h5", "obs")
assert layout("obs_z.h5", "obs") == ((1, 1, 16, 16), "gzip", 4, True), layout("obs_z.h5", "obs")
assert layout("obs_z.h5", "mask") == ((1, 1, 16, 16), "gzip", 4, True), layout("obs_z.h5", "mask")
assert layout("obs_c.h5", "obs") == ((1, 1, 16, 16), None, None, False), layout("obs_c.h5", "obs")
assert layout("truth_z.h5", "truth") == ((1, 1, 16, 16), "gzip", 1, True), layout("truth_z.h5", "truth")
for a, b, n in [("obs.h5", "obs_z.h5", "obs"), ("obs.h5", "obs_z.h5", "mask"), ("obs.h5", "obs_c.h5", "obs"),
                ("truth.h5", "truth_z.h5", "truth")]:
    assert np.array_equal(h5py.File(a, "r")[n][:], h5py.File(b, "r")[n][:]), (a, b, n)
x = xr.open_dataset("obs_z.h5", engine="h5netcdf")
assert x["obs"].dims == ("sample", "channel", "y", "x")
assert np.array_equal(x["obs"].values, h5py.File("obs.h5", "r")["obs"][:])
print("layout checks passed")
PYEOF

"$DYNFILL" info obs_z.h5 > info_z.txt
grep "valid: yes" info_z.txt >/dev/null
grep -E "^  /obs +float32 +\[24, 1, 16, 16\]  chunked, deflate 4$" info_z.txt >/dev/null
cat > tiny.ini <<INI
[model]
base = 8
mult = 1
nres = 1

[train]
steps = 4
batch = 4
log_every = 1
ckpt_every = 0
seed = 5
INI
"$DYNFILL" train --config tiny.ini --data obs.h5 --out run_contig --quiet 2>/dev/null
"$DYNFILL" train --config tiny.ini --data obs_z.h5 --out run_deflate --quiet 2>/dev/null
$PY - <<'PYEOF'
import json
def losses(run):
    return [(r["step"], r["loss"]) for r in map(json.loads, open(f"{run}/metrics.jsonl")) if "loss" in r]
a, b = losses("run_contig"), losses("run_deflate")
assert len(a) >= 4 and a == b, (a, b)
print("training on the compressed file matches:", a[-1])
PYEOF

# import: the same options
cat > small.cdl <<'CDL'
netcdf small {
dimensions: time = 2 ; lat = 2 ; lon = 3 ;
variables:
  double time(time) ; time:units = "days since 2000-01-01" ;
  float lat(lat) ; lat:units = "degrees_north" ;
  float lon(lon) ; lon:units = "degrees_east" ;
  float sst(time, lat, lon) ; sst:units = "K" ;
data: time = 0, 1 ; lat = 10, 20 ; lon = 0, 1, 2 ; sst = 1, 2, 3, 4, 5, NaN, 6, 7, 8, 9, 10, 11 ;
}
CDL
ncgen -k nc4 -o small.nc small.cdl
"$DYNFILL" import --in small.nc --var sst --compress 9 --out sst_z.h5 2>/dev/null
$PY -c "
import h5py; f = h5py.File('sst_z.h5', 'r')
assert f['obs'].chunks == (1, 1, 2, 3) and f['obs'].compression_opts == 9 and f['mask'].chunks == (1, 1, 2, 3)
assert f['obs'][1, 0, 1, 2] == 11.0 and f['mask'][0, 0, 1, 2] == 0"

# bench io writes its synthetic file in the layout asked for
"$DYNFILL" bench io --gb 0.002 --size 16 --seconds 0.1 --layout chunked --compress 1 --json > bio.json
$PY -c "
import json; r = json.load(open('bio.json'))
assert r['layout'] == 'chunked' and r['compress'] == 1 and not r['direct_reads'] and r['gb_per_s'] > 0, r"

# bad values: exit 2, one message naming the option, no output file
for bad in "--layout tiled" "--compress 10" "--layout contiguous --compress 3"; do
  set +e
  "$DYNFILL" mask --in truth.h5 --pattern pixel:0.5 $bad --out bad.h5 2> err.txt
  rc=$?
  set -e
  [ $rc -eq 2 ] || { echo "mask $bad: exit $rc"; exit 1; }
  grep -q "option --" err.txt || { echo "mask $bad: $(cat err.txt)"; exit 1; }
  [ ! -e bad.h5 ] || { echo "mask $bad wrote a file"; exit 1; }
done
echo "layout: ok"
