#!/bin/bash
# dynfill's output files as netCDF-4 readers see them: a gen+mask dataset,
# a harmonic prediction and an imported NetCDF (lat/lon/time, units) opened
# with xarray.open_dataset(engine="h5netcdf") show named dimensions and CF
# coordinates; h5py still reads the same paths; info, eval and plot still
# work on them. Needs Debian's python3-xarray and python3-h5netcdf.
set -euo pipefail
: "${DYNFILL:?}"
PY=/usr/bin/python3
$PY -c "import xarray, h5netcdf" 2>/dev/null || { echo "python3-xarray/python3-h5netcdf missing"; exit 77; }
command -v ncgen >/dev/null || { echo "ncgen (netcdf-bin) missing"; exit 77; }
W=$(mktemp -d /tmp/dfl_xarray.XXXXXX)
trap 'rm -rf "$W"' EXIT
export DFL_PROGRESS_INTERVAL=0

# synthetic: truth -> dataset -> harmonic prediction
"$DYNFILL" gen --kind advection --n 6 --size 16 --frames 2 --seed 1 --out "$W/truth.h5" 2>/dev/null
"$DYNFILL" mask --in "$W/truth.h5" --pattern pixel:0.4 --seed 2 --out "$W/obs.h5" 2>/dev/null
"$DYNFILL" impute --method harmonic --in "$W/obs.h5" --out "$W/pred.h5" --quiet 2>/dev/null

# an ERA5-like NetCDF: 2 m temperature on a 4 x 8 global grid, 3 hourly steps, one value missing (first step, last cell)
cat > "$W/era5.cdl" <<'CDL'
netcdf era5 {
dimensions:
  time = 3 ; latitude = 4 ; longitude = 8 ;
variables:
  double time(time) ; time:units = "hours since 2020-01-01 00:00:00" ; time:calendar = "gregorian" ;
  float latitude(latitude) ; latitude:units = "degrees_north" ;
  float longitude(longitude) ; longitude:units = "degrees_east" ;
  float t2m(time, latitude, longitude) ; t2m:units = "K" ; t2m:long_name = "2 metre temperature" ;
    t2m:_FillValue = -9999.f ;
data:
  time = 0, 1, 2 ;
  latitude = 67.5, 22.5, -22.5, -67.5 ;
  longitude = 0, 45, 90, 135, 180, 225, 270, 315 ;
  t2m = 250, 251, 252, 253, 254, 255, 256, 257, 280, 281, 282, 283, 284, 285, 286, 287,
        281, 282, 283, 284, 285, 286, 287, 288, 251, 252, 253, 254, 255, 256, 257, -9999,
        251, 252, 253, 254, 255, 256, 257, 258, 281, 282, 283, 284, 285, 286, 287, 288,
        282, 283, 284, 285, 286, 287, 288, 289, 252, 253, 254, 255, 256, 257, 258, 259,
        252, 253, 254, 255, 256, 257, 258, 259, 282, 283, 284, 285, 286, 287, 288, 289,
        283, 284, 285, 286, 287, 288, 289, 290, 253, 254, 255, 256, 257, 258, 259, 260 ;
}
CDL
ncgen -k nc4 -o "$W/era5.nc" "$W/era5.cdl"
"$DYNFILL" import --in "$W/era5.nc" --var t2m --out "$W/era5_obs.h5" 2>/dev/null
"$DYNFILL" impute --method harmonic --in "$W/era5_obs.h5" --out "$W/era5_pred.h5" --quiet 2>/dev/null
# a truth file of the complete steps 1 and 2, observed by mask: the time axis and units carry over
"$DYNFILL" import --in "$W/era5.nc" --var t2m --time 1:3 --truth --out "$W/era5_truth.h5" 2>/dev/null
"$DYNFILL" mask --in "$W/era5_truth.h5" --pattern pixel:0.5 --seed 1 --out "$W/era5_masked.h5" 2>/dev/null

$PY - "$W" <<'PYEOF'
import sys, h5py, numpy as np, xarray as xr
w = sys.argv[1]
def opened(name):
    ds = xr.open_dataset(f"{w}/{name}", engine="h5netcdf")
    for v in ds.variables.values():
        assert not any(d.startswith("phony_dim") for d in v.dims), (name, v.dims)
    return ds

t = opened("truth.h5")
assert t["truth"].dims == ("sample", "channel", "y", "x"), t["truth"].dims
assert list(t["channel"].values) == ["u_t0", "u_t1"], t["channel"].values
assert (t["sample"].values == np.arange(6)).all()
with h5py.File(f"{w}/truth.h5", "r") as f:
    assert np.array_equal(t["truth"].values, f["truth"][:])

o = opened("obs.h5")
assert o["obs"].dims == ("sample", "channel", "y", "x"), o["obs"].dims
assert o["mask"].dims == ("sample", "mask_channel", "y", "x"), o["mask"].dims  # one mask for both channels
with h5py.File(f"{w}/obs.h5", "r") as f:
    assert np.array_equal(o["obs"].values, f["obs"][:]) and np.array_equal(o["mask"].values, f["mask"][:])
    assert list(f.attrs["channels"].astype(str)) == ["u_t0", "u_t1"] and f.attrs["std"].shape == (2,)

p = opened("pred.h5")
assert p["pred"].dims == ("sample", "channel", "y", "x"), p["pred"].dims
assert "std" not in p.variables  # harmonic has no spread: /std unlinked, its scales detached
assert p["mask"].dims == ("sample", "mask_channel", "y", "x"), p["mask"].dims
with h5py.File(f"{w}/pred.h5", "r") as f:
    assert np.array_equal(p["pred"].values, f["pred"][:]) and f.attrs["method"] in (b"harmonic", "harmonic")

e = opened("era5_obs.h5")
assert e["obs"].dims == ("time", "channel", "lat", "lon"), e["obs"].dims
assert e["mask"].dims == ("time", "channel", "lat", "lon")
assert np.allclose(e["lat"].values, [67.5, 22.5, -22.5, -67.5]) and e["lat"].attrs["units"] == "degrees_north"
assert e["lat"].attrs["standard_name"] == "latitude"
assert np.allclose(e["lon"].values, np.arange(8) * 45.0) and e["lon"].attrs["units"] == "degrees_east"
assert e["lon"].attrs["standard_name"] == "longitude"
want = np.array(["2020-01-01T00", "2020-01-01T01", "2020-01-01T02"], dtype="datetime64[ns]")
assert (e["time"].values == want).all(), e["time"].values
assert e["obs"].attrs["units"] == "K" and e["obs"].attrs["long_name"] == "2 metre temperature", e["obs"].attrs
assert list(e["channel"].values) == ["t2m"]
assert e["obs"].sel(time="2020-01-01T00", lat=-67.5, lon=315.0).item() == 0.0
assert e["mask"].sel(time="2020-01-01T00", lat=-67.5, lon=315.0).item() == 0
assert e["obs"].sel(time="2020-01-01T02", lat=67.5, lon=0.0).item() == 252.0
with h5py.File(f"{w}/era5_obs.h5", "r") as f:
    assert f["obs"].shape == (3, 1, 4, 8) and np.allclose(f.attrs["lat"], [67.5, 22.5, -22.5, -67.5])
    assert f.attrs["periodic"] in (b"x", "x")

ep = opened("era5_pred.h5")
assert ep["pred"].dims == ("time", "channel", "lat", "lon") and (ep["time"].values == want).all()
assert ep["pred"].attrs["units"] == "K"
assert np.allclose(ep["lat"].values, e["lat"].values)
for name, var in [("era5_truth.h5", "truth"), ("era5_masked.h5", "obs")]:
    m = opened(name)
    assert m[var].dims == ("time", "channel", "lat", "lon"), (name, m[var].dims)
    assert (m["time"].values == want[1:]).all(), (name, m["time"].values)
    assert m[var].attrs["units"] == "K" and list(m["channel"].values) == ["t2m"], (name, m[var].attrs)
    assert np.allclose(m["lon"].values, np.arange(8) * 45.0)
print("xarray checks passed")
PYEOF

# netCDF-C (ncdump) sees the same dimensions
ncdump -h "$W/era5_obs.h5" > "$W/era5_obs.cdl"
grep -q "float obs(time, channel, lat, lon)" "$W/era5_obs.cdl"
ncdump -h "$W/pred.h5" > "$W/pred.cdl"
grep -q "float pred(sample, channel, y, x)" "$W/pred.cdl"

# dynfill's own readers on the same files
"$DYNFILL" info "$W/obs.h5" | grep "valid: yes" >/dev/null
"$DYNFILL" info "$W/era5_obs.h5" | grep "valid: yes" >/dev/null
"$DYNFILL" info "$W/pred.h5" >/dev/null
"$DYNFILL" info "$W/truth.h5" >/dev/null
"$DYNFILL" eval --pred "$W/pred.h5" --truth "$W/truth.h5" --json > "$W/eval.json"
$PY -c "import json,sys; r=json.load(open(sys.argv[1])); assert r" "$W/eval.json"
"$DYNFILL" plot --pred "$W/pred.h5" --truth "$W/truth.h5" --out "$W/fig.png" 2>/dev/null
"$DYNFILL" plot --pred "$W/era5_pred.h5" --out "$W/fig_era5.png" 2>/dev/null
test -s "$W/fig.png" && test -s "$W/fig_era5.png"
echo "xarray_out: ok"
