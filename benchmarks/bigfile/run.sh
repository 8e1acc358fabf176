#!/usr/bin/env bash
# bench io and import on files larger than the machine's RAM (24 GiB): peak RSS with /usr/bin/time.
# DYNFILL=build/dynfill WORK=<a folder with 60 GB free> bash benchmarks/bigfile/run.sh
set -u
W=${WORK:-/tmp}
D=${DYNFILL:?path of the dynfill binary}
export DFL_PROGRESS=off
free -g | head -2
echo "== bench io, synthetic 26 GB dataset (written first, then read for 60 s)"
TMPDIR=$W /usr/bin/time -v $D bench io --gb 26 --size 64 --seconds 60 --json > benchio.json 2> benchio.time
cat benchio.json; grep -E "Maximum resident|Elapsed" benchio.time
rm -f $W/dynfill_bench_io_*.h5
echo "== import of a 26 GB HDF5 array [T, 256, 512] float32"
/usr/bin/python3 - "$W/src.h5" <<'PY'
import h5py, numpy as np, sys
h, w = 256, 512
t = 26 * 10**9 // (h * w * 4)
with h5py.File(sys.argv[1], "w") as f:
    d = f.create_dataset("sst", (t, h, w), np.float32)
    rng = np.random.default_rng(0)
    block = rng.standard_normal((512, h, w), dtype=np.float32)
    block[:, :8, :] = np.nan
    for i in range(0, t, 512):
        n = min(512, t - i)
        d[i:i + n] = block[:n] + i
print("src", t, "steps")
PY
ls -la $W/src.h5
/usr/bin/time -v $D import --in $W/src.h5 --var sst --out $W/imported.h5 2> import.time
grep -E "Maximum resident|Elapsed" import.time; tail -3 import.time | head -1
ls -la $W/imported.h5
rm -f $W/src.h5 $W/imported.h5
echo done
