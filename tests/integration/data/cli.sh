#!/bin/bash
# dynfill gen / mask / info end to end: every generator and mask pattern
# from the command line, determinism by seed, the observed file's content
# and attributes checked with h5py, and no /truth in the observed file.
set -euo pipefail
: "${DYNFILL:?}"
PY=/usr/bin/python3
W=$(mktemp -d /tmp/dfl_data_cli.XXXXXX)
trap 'rm -rf "$W"' EXIT
export DFL_PROGRESS_INTERVAL=0.5

for cmd in gen mask import info; do
  "$DYNFILL" $cmd --help | grep -q "usage: dynfill $cmd" || { echo "no --help for $cmd"; exit 1; }
done
"$DYNFILL" bench io --help | grep -q "usage: dynfill bench io"

# generators (small, fast settings)
"$DYNFILL" gen --kind ns --n 12 --size 32 --seed 3 --spinup 2 --samples-per-run 6 --out "$W/ns.h5" 2> "$W/gen.log"
grep -q "gen ns 12/12 samples" "$W/gen.log"   # plain progress lines when not a terminal
"$DYNFILL" gen --kind ns --n 12 --size 32 --seed 3 --spinup 2 --samples-per-run 6 --threads 1 --out "$W/ns_again.h5" 2>/dev/null
"$DYNFILL" gen --kind ns --n 12 --size 32 --seed 4 --spinup 2 --samples-per-run 6 --out "$W/ns_other.h5" 2>/dev/null
"$DYNFILL" gen --kind ns --flow fno --n 4 --size 32 --seed 1 --spinup 1 --out "$W/ns_fno.h5" 2>/dev/null
"$DYNFILL" gen --kind advection --n 20 --size 32 --frames 3 --seed 1 --out "$W/adv.h5" 2>/dev/null
"$DYNFILL" gen --kind shallow-water --n 8 --size 32 --seed 1 --samples-per-run 4 --out "$W/sw.h5" 2>/dev/null

$PY - "$W" <<'PYEOF'
import sys, h5py, numpy as np
w = sys.argv[1]
def load(n):
    f = h5py.File(f"{w}/{n}.h5", "r"); return f, f["truth"][:]
f, ns = load("ns")
assert ns.shape == (12, 1, 32, 32) and ns.dtype == np.float32, ns.shape
assert list(f.attrs["channels"].astype(str)) == ["vorticity"]
assert f.attrs["periodic"] in (b"xy", "xy")
_, again = load("ns_again"); _, other = load("ns_other")
assert np.array_equal(ns, again), "same seed, any thread count: identical"
assert not np.array_equal(ns, other), "another seed differs"
assert np.isfinite(ns).all() and ns.std() > 0.5
# Kolmogorov flow decorrelates: frames of different runs are nearly uncorrelated
c = np.corrcoef(ns[0].ravel(), ns[6].ravel())[0, 1]
assert abs(c) < 0.6, c
f, fno = load("ns_fno"); assert fno.shape == (4, 1, 32, 32) and f.attrs["gen_flow"] in (b"fno", "fno")
f, adv = load("adv")
assert adv.shape == (20, 3, 32, 32)
assert list(f.attrs["channels"].astype(str)) == ["u_t0", "u_t1", "u_t2"]
# advection conserves the field's values (a pure shift): same sorted values frame to frame
assert np.allclose(np.sort(adv[0, 0].ravel()), np.sort(adv[0, 2].ravel()), atol=0.2)
assert abs(adv.std() - 1) < 0.05
f, sw = load("sw")
assert sw.shape == (8, 1, 32, 32) and f.attrs["periodic"] in (b"none", "none")
mass = sw.sum(axis=(1, 2, 3))
assert np.allclose(mass[:4], mass[0], rtol=1e-6) and np.allclose(mass[4:], mass[4], rtol=1e-6), mass  # per run
assert mass[0] != mass[4]   # runs have different dam radii
assert np.array_equal(sw, sw[..., ::-1]) and np.array_equal(sw, np.swapaxes(sw, -1, -2))
print("generators ok")
PYEOF

# every mask pattern
"$DYNFILL" mask --in "$W/adv.h5" --pattern pixel:0.3 --seed 5 --out "$W/pixel.h5" 2>/dev/null
"$DYNFILL" mask --in "$W/adv.h5" --pattern pixel:0.3 --seed 5 --per-channel --out "$W/pixel_pc.h5" 2>/dev/null
"$DYNFILL" mask --in "$W/adv.h5" --pattern block:3x3:8 --seed 5 --out "$W/block.h5" 2>/dev/null
"$DYNFILL" mask --in "$W/adv.h5" --pattern stations:40:0.1 --seed 5 --out "$W/stations.h5" 2>/dev/null
"$DYNFILL" mask --in "$W/adv.h5" --pattern swath:3:0.25:10 --seed 5 --out "$W/swath.h5" 2>/dev/null
"$DYNFILL" mask --in "$W/adv.h5" --pattern "file:$W/block.h5" --out "$W/file.h5" 2>/dev/null
"$DYNFILL" mask --in "$W/adv.h5" --pattern pixel:0.3 --seed 5 --out "$W/pixel_again.h5" 2>/dev/null

$PY - "$W" <<'PYEOF'
import sys, h5py, numpy as np
w = sys.argv[1]
truth = h5py.File(f"{w}/adv.h5", "r")["truth"][:]
for name, pattern, frac, mc in [("pixel", "pixel:0.3", 0.3, 1), ("pixel_pc", "pixel:0.3", 0.3, 3),
                                ("block", "block:3x3:8", None, 1), ("stations", "stations:40:0.1", None, 1),
                                ("swath", "swath:3:0.25:10", 0.25, 1), ("file", None, None, 1)]:
    f = h5py.File(f"{w}/{name}.h5", "r")
    coords = {"sample", "channel", "y", "x"} | ({"mask_channel"} if mc == 1 else set())  # named dimensions
    assert set(f.keys()) == {"obs", "mask"} | coords, (name, list(f.keys()))   # never a /truth
    obs, mask = f["obs"][:], f["mask"][:]
    assert obs.shape == truth.shape and mask.shape == (20, mc, 32, 32) and mask.dtype == np.uint8
    m = np.broadcast_to(mask, obs.shape).astype(bool)
    assert np.array_equal(obs[m], truth[m]) and (obs[~m] == 0).all(), name
    assert mask.reshape(20, -1).sum(1).min() > 0
    mean, std = f.attrs["mean"], f.attrs["std"]
    vals = [truth[:, c][m[:, c]] for c in range(3)]
    assert np.allclose(mean, [v.mean() for v in vals], atol=1e-6), (name, mean)
    assert np.allclose(std, [v.std() for v in vals], rtol=1e-5), (name, std)
    assert list(f.attrs["channels"].astype(str)) == ["u_t0", "u_t1", "u_t2"]
    assert f.attrs["periodic"] in (b"xy", "xy")
    if pattern: assert f.attrs["mask_pattern"].decode() == pattern, f.attrs["mask_pattern"]
    if frac: assert abs(mask.mean() - frac) < 0.03, (name, mask.mean())
    if name == "block":
        # 8 of 9 blocks: 32 = 10 + 10 + 12 rows/columns, so one 10x10..12x12 block is missing
        missing = 32 * 32 - mask.reshape(20, -1).sum(1)
        assert set(missing) <= {100, 120, 144}, set(missing)
    if name == "stations":
        assert (mask.reshape(20, -1).sum(1) <= 40).all()
        union = mask.max(0)
        assert union.sum() == 40   # fixed station cells
    if name == "file":
        assert np.array_equal(mask, h5py.File(f"{w}/block.h5", "r")["mask"][:])
a = h5py.File(f"{w}/pixel.h5", "r")["mask"][:]; b = h5py.File(f"{w}/pixel_again.h5", "r")["mask"][:]
assert np.array_equal(a, b), "masks are deterministic by seed"
pc = h5py.File(f"{w}/pixel_pc.h5", "r")["mask"][:]
assert not np.array_equal(pc[:, 0], pc[:, 1])
print("masks ok")
PYEOF

# info: describes and validates
"$DYNFILL" info "$W/block.h5" > "$W/info.txt"
grep -q "valid: yes" "$W/info.txt"
grep -q "/obs .*float32 .*\[20, 3, 32, 32\]" "$W/info.txt"
grep -q "u_t0 .*observed" "$W/info.txt"
grep -q "mask_pattern .*block:3x3:8" "$W/info.txt"
"$DYNFILL" info "$W/ns.h5" | grep -q "/truth per channel"
echo "data cli: all checks passed"
