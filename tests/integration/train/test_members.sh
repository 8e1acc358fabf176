#!/usr/bin/env bash
# impute --members (docs/design.md, "Files"; docs/eval.md, "Uncertainty"): /members [N, K, C, H, W]
# holds the K single-draw predictions of the last ensemble pass in the data's units, observed
# entries the observations; their mean is /pred; /pred is the same with and without --members;
# eval reports their ensemble CRPS (null without /members); a last pass of one sample (strategy
# empirical) keeps its own members; the baselines refuse --members; the members' host memory
# counts in impute's memory check.
source "$(dirname "$0")/common.sh"
# two channels (consecutive frames), so that the network's NHWC rows must be transposed right
"$DYNFILL" gen --kind advection --n 24 --size 16 --frames 2 --seed 3 --out truth.h5 >/dev/null 2>&1
"$DYNFILL" mask --in truth.h5 --pattern pixel:0.4 --seed 4 --out obs.h5 >/dev/null 2>&1
write_tiny_config 10
"$DYNFILL" train --config tiny.ini --out run --quiet 2> err.txt || { cat err.txt; fail "train failed"; }
"$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out members.h5 -K 4 --members --quiet
"$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out plain.h5 -K 4 --quiet
"$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out steps.h5 -K 4 --steps 3 --members --quiet
"$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out raw.h5 -K 4 --members --raw-std --quiet
"$DYNFILL" eval --pred members.h5 --truth truth.h5 --json > members.json
"$DYNFILL" eval --pred plain.h5 --truth truth.h5 --json > plain.json
"$DYNFILL" eval --pred members.h5 --truth truth.h5 > members.txt
grep -q "crps_ens" members.txt || { cat members.txt; fail "no crps_ens column in the table"; }
$PY - <<'PY'
import h5py, json, math, numpy as np
import xarray as xr
obs = h5py.File("obs.h5", "r")["obs"][:]
truth = h5py.File("truth.h5", "r")["truth"][:]
for name in ("members.h5", "steps.h5", "raw.h5"):
    f = h5py.File(name, "r")
    pred, mask, members = f["pred"][:], f["mask"][:], f["members"][:]
    n, c, h, w = pred.shape
    assert c == 2 and members.shape == (n, 4, c, h, w) and members.dtype == np.float32, (name, members.shape)
    observed = np.broadcast_to(mask != 0, pred.shape)
    for k in range(4):
        assert (members[:, k][observed] == obs[observed]).all(), (name, k)
    mean = members.astype(np.float64).mean(axis=1)
    # to the members' float rounding (calibrated members lie std_scale times further from /pred and
    # carry the floor's centred noise)
    err = np.abs(mean - pred)[~observed].max() / np.abs(members.max(axis=1)[~observed]).max()
    assert err < 1e-5, (name, err)
    assert members.std(axis=1)[~observed].max() > 0, name  # the draws differ
    # calibrated like /std: the members' population variance is /std^2 (exactly without a floor; in
    # expectation with one, so on average over the missing entries)
    var = members.astype(np.float64).var(axis=1)[~observed]
    std = f["std"][:][~observed].astype(np.float64)
    ratio = var.mean() / (std ** 2).mean()
    assert abs(ratio - 1) < 0.05, (name, "members' variance / std^2", ratio)
plain = h5py.File("plain.h5", "r")
assert "members" not in plain
# --raw-std: raw draws and raw spread; the checkpoint's std_scale scales the deviations from /pred,
# and std_floor (in normalised units: times data_std) adds centred noise of that size, both times
# the factor std_gap_factor of the entry's gap bin (wrapping along the checkpoint's periodic axes)
from gap_bins import gap_bins
ck = h5py.File("run/ckpt.h5", "r").attrs
scale, floor, factor = ck.get("std_scale"), ck.get("std_floor"), ck.get("std_gap_factor")
periodic = ck["periodic"].decode() if isinstance(ck["periodic"], bytes) else str(ck["periodic"])
with h5py.File("members.h5", "r") as f, h5py.File("raw.h5", "r") as r:
    assert f["pred"][:].tobytes() == r["pred"][:].tobytes()
    assert scale is not None and floor is not None and factor is not None
    n, c = f["pred"].shape[:2]
    miss = np.broadcast_to(f["mask"][:] == 0, f["pred"].shape)
    bins = np.broadcast_to(gap_bins(f["mask"][:] != 0, periodic), f["pred"].shape)
    fg = np.asarray(factor, dtype=np.float64).reshape(c, 7)[np.arange(c)[None, :, None, None], bins]
    dev_cal = f["members"][:].astype(np.float64) - f["pred"][:][:, None]
    dev_raw = r["members"][:].astype(np.float64) - r["pred"][:][:, None]
    noise = dev_cal - dev_raw * (fg * np.asarray(scale, dtype=np.float64)[None, :, None, None])[:, None]
    assert np.abs(noise.mean(axis=1)).max() <= 1e-4 * np.abs(dev_cal).max(), "floor noise not centred"
    b = np.asarray(floor, dtype=np.float64) * np.asarray(ck["data_std"], dtype=np.float64)
    unit = noise / fg[:, None]  # the floor's noise before the gap factor
    for ch in range(len(b)):
        # each member gets b sqrt(K/(K-1)) (z_k - mean z): mean square b^2
        got = np.sqrt((unit[:, :, ch][np.broadcast_to(miss[:, None, ch], unit[:, :, ch].shape)] ** 2).mean())
        assert abs(got - b[ch]) <= 0.05 * b[ch] + 1e-6, ("floor noise", ch, got, b[ch])
    print("std_scale", list(scale), "std_floor", list(floor))
with h5py.File("members.h5", "r") as f:
    assert f["pred"][:].tobytes() == plain["pred"][:].tobytes()
    assert f["std"][:].tobytes() == plain["std"][:].tobytes()
    members, mask = f["members"][:].astype(np.float64), f["mask"][:]
# the ensemble CRPS, by its definition, against eval's
def ensemble_crps(miss):
    x = np.moveaxis(members, 1, -1)[miss]  # [entries, K]
    y = truth[miss].astype(np.float64)
    K = x.shape[1]
    abs_err = np.abs(x - y[:, None]).mean(axis=1)
    pairs = np.abs(x[:, :, None] - x[:, None, :]).sum(axis=(1, 2))
    return (abs_err - pairs / (2 * K * K)).mean(), (abs_err - pairs / (2 * K * (K - 1))).mean()
miss = np.broadcast_to(mask == 0, truth.shape)
crps, fair = ensemble_crps(miss)
j, p = json.load(open("members.json")), json.load(open("plain.json"))
assert math.isfinite(j["crps_ensemble_missing"]) and j["crps_ensemble_missing"] > 0, j
assert abs(j["crps_ensemble_missing"] / crps - 1) < 1e-6, (j["crps_ensemble_missing"], crps)
assert abs(j["crps_ensemble_fair_missing"] / fair - 1) < 1e-6, (j["crps_ensemble_fair_missing"], fair)
for ch in range(2):
    only = miss.copy()
    only[:, 1 - ch] = False
    c_crps, c_fair = ensemble_crps(only)
    got = j["per_channel"][ch]
    assert abs(got["crps_ensemble_missing"] / c_crps - 1) < 1e-6, (ch, got, c_crps)
    assert abs(got["crps_ensemble_fair_missing"] / c_fair - 1) < 1e-6, (ch, got, c_fair)
assert j["crps_missing"] is not None and j["mse_missing"] == p["mse_missing"]
assert p["crps_ensemble_missing"] is None and p["crps_ensemble_fair_missing"] is None, p
assert all(c["crps_ensemble_missing"] is None for c in p["per_channel"])
ds = xr.open_dataset("members.h5", engine="h5netcdf")
assert ds["members"].dims == ("sample", "member", "channel", "y", "x"), ds["members"].dims
assert list(ds["member"].values) == [0, 1, 2, 3]
print("ensemble CRPS %.4f (fair %.4f), Gaussian CRPS %.4f" % (crps, fair, j["crps_missing"]))
PY
# strategy empirical: a last pass of one sample runs with its predecessor and keeps only its own
# row (--batch 92, K 4: passes of 23 samples, then sample 23 alone); its members are its own
"$DYNFILL" train --config tiny.ini --set method.strategy=empirical --set infer.context=trained --out run_emp --quiet 2> err.txt \
  || { cat err.txt; fail "empirical train failed"; }
"$DYNFILL" impute --ckpt run_emp/ckpt.h5 --in obs.h5 --out emp.h5 -K 4 --batch 92 --members --quiet
$PY - <<'PY'
import h5py, numpy as np
obs = h5py.File("obs.h5", "r")["obs"][:]
f = h5py.File("emp.h5", "r")
pred, mask, members = f["pred"][:], f["mask"][:], f["members"][:]
assert pred.shape[0] == 24 and members.shape == (24, 4) + pred.shape[1:], members.shape
observed = np.broadcast_to(mask != 0, pred.shape)
mean = members.astype(np.float64).mean(axis=1)
for i in (22, 23):
    miss = ~observed[i]
    err = np.abs(mean[i] - pred[i])[miss].max() / np.abs(members[i]).max(axis=0)[miss].max()
    assert err < 1e-5, (i, err)
    assert all((members[i, k][~miss] == obs[i][~miss]).all() for k in range(4)), i
PY
# the baselines have no members: exit 2 naming the option, nothing written
for m in harmonic mean; do
  set +e
  "$DYNFILL" impute --method $m --in obs.h5 --out base.h5 --members 2> err.txt
  rc=$?
  set -e
  [ $rc -eq 2 ] || fail "--members --method $m exited $rc"
  grep -q -- "--members" err.txt || { cat err.txt; fail "message does not name --members"; }
  [ ! -e base.h5 ] || fail "--members --method $m wrote a file"
done
# memory: with a limit below the smallest pass, the need without and with --members differs by
# exactly the members of one sample (K x C x H x W floats); between the two, only --members fails
need() { grep -o '([0-9]* bytes)' | tr -dc 0-9; }
set +e
DFL_MEMORY_LIMIT_BYTES=1000 "$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out lim.h5 -K 64 2> err.txt
rc1=$?; without=$(need < err.txt)
DFL_MEMORY_LIMIT_BYTES=1000 "$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out lim.h5 -K 64 --members 2> err.txt
rc2=$?; with=$(need < err.txt)
set -e
[ $rc1 -eq 2 ] && [ $rc2 -eq 2 ] || fail "a 1000-byte limit did not exit 2 ($rc1, $rc2)"
grep -q "leave out --members" err.txt || { cat err.txt; fail "the message does not name --members"; }
[ $((with - without)) -eq $((64 * 2 * 16 * 16 * 4)) ] || fail "members counted as $((with - without)) bytes"
limit=$(((with + without) / 2))
DFL_MEMORY_LIMIT_BYTES=$limit "$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out lim.h5 -K 64 --quiet \
  || fail "without --members, $limit bytes should fit"
set +e
DFL_MEMORY_LIMIT_BYTES=$limit "$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out lim_m.h5 -K 64 --members 2> err.txt
rc=$?
set -e
[ $rc -eq 2 ] || { cat err.txt; fail "--members over the limit exited $rc"; }
grep -q "leave out --members" err.txt || { cat err.txt; fail "the message does not name --members"; }
[ ! -e lim_m.h5 ] || fail "a refused --members run wrote a file"
echo ok
