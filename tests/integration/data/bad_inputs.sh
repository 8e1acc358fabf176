#!/bin/bash
# Bad input never crashes: each case exits 2 with one message naming the
# file and the problem (issue 3): missing dataset, obs/mask shape
# mismatch, non-finite observed value, mask values other than 0/1, a
# sample with no observed entry, a truncated or non-HDF5 file, an unknown
# mask pattern.
set -uo pipefail
: "${DYNFILL:?}"
PY=/usr/bin/python3
W=$(mktemp -d /tmp/dfl_data_bad.XXXXXX)
trap 'rm -rf "$W"' EXIT
fail=0

expect() { # expect <pattern in message> <command...>
  local want="$1"; shift
  local out rc
  out=$("$@" 2>&1 >/dev/null); rc=$?
  local lines; lines=$(printf '%s\n' "$out" | grep -c .)
  if [ "$rc" -ne 2 ] || ! grep -qF -- "$want" <<< "$out" || [ "$lines" -ne 1 ]; then
    echo "FAIL: '$*' -> rc $rc, message: $out (wanted exit 2 and one line with '$want')"; fail=1
  else
    echo "ok: $want"
  fi
}

$PY - "$W" <<'PYEOF'
import sys, h5py, numpy as np
w = sys.argv[1]
rng = np.random.default_rng(0)
obs = rng.normal(size=(5, 2, 6, 7)).astype(np.float32)
mask = (rng.random((5, 1, 6, 7)) < 0.5).astype(np.uint8); mask[:, 0, 0, 0] = 1
def write(name, **ds):
    with h5py.File(f"{w}/{name}.h5", "w") as f:
        for k, v in ds.items(): f[k] = v
write("good", obs=obs, mask=mask)
with h5py.File(f"{w}/good.h5", "a") as f:   # h5py's variable-length UTF-8 string attributes
    f.attrs["channels"] = ["u", "v"]; f.attrs["periodic"] = "x"; f.attrs["source"] = "h5py, by hand"
write("boolmask", obs=obs, mask=mask.astype(bool))   # h5py stores numpy bool as an enum
o = obs.copy(); o[mask.repeat(2, axis=1) == 0] = np.nan
write("boolnan", obs=o, mask=mask.astype(bool), truth=np.full(obs.shape, 1e30, np.float32))
write("nomask", obs=obs)
write("plain", obs=obs, mask=mask)
write("shape", obs=obs, mask=mask[:, :, :, :5])
o = obs.copy(); o[3, 1, 2, 4] = np.nan; m = mask.copy(); m[3, 0, 2, 4] = 1
write("nonfinite", obs=o, mask=m)
m = mask.copy(); m[1, 0, 3, 3] = 7
write("maskvalue", obs=obs, mask=m)
m = mask.copy(); m[4] = 0
write("empty", obs=obs, mask=m)
data = open(f"{w}/plain.h5", "rb").read()
open(f"{w}/truncated.h5", "wb").write(data[: len(data) // 2])
open(f"{w}/text.h5", "w").write("not hdf5\n")
PYEOF

"$DYNFILL" info "$W/good.h5" > "$W/good.txt" || { echo "FAIL: good file"; fail=1; }
grep -q "valid: yes" "$W/good.txt" && grep -q "periodic x" "$W/good.txt" && grep -q "^  v  .*observed" "$W/good.txt" ||
  { echo "FAIL: h5py attributes not read"; cat "$W/good.txt"; fail=1; }
"$DYNFILL" info "$W/boolmask.h5" | grep -q "valid: yes" || { echo "FAIL: bool mask"; fail=1; }
"$DYNFILL" bench io --data "$W/boolnan.h5" --seconds 0.2 | grep -q "GB/s" || { echo "FAIL: bool mask, NaN unobserved"; fail=1; }
expect "$W/nomask.h5: dataset /mask is missing" "$DYNFILL" info "$W/nomask.h5"
expect "$W/shape.h5: /obs has shape [5, 2, 6, 7] but /mask has shape [5, 1, 6, 5]" "$DYNFILL" info "$W/shape.h5"
expect "$W/nonfinite.h5: /obs has a non-finite value (nan) at observed entry: sample 3, channel 1, row 2, column 4" "$DYNFILL" info "$W/nonfinite.h5"
expect "$W/maskvalue.h5: /mask has value 7 at sample 1, channel 0, row 3, column 3; mask values must be 0 or 1" "$DYNFILL" info "$W/maskvalue.h5"
expect "$W/empty.h5: sample 4 has no observed entry" "$DYNFILL" info "$W/empty.h5"
expect "$W/truncated.h5:" "$DYNFILL" info "$W/truncated.h5"
expect "truncated" "$DYNFILL" info "$W/truncated.h5"
expect "$W/text.h5: not an HDF5 file" "$DYNFILL" info "$W/text.h5"
expect "$W/missing.h5: cannot read file" "$DYNFILL" info "$W/missing.h5"
# the same problems through the loader path of the benchmark
expect "$W/empty.h5: sample 4 has no observed entry" "$DYNFILL" bench io --data "$W/empty.h5" --seconds 0.1
# mask: unknown pattern, bad pattern values, missing /truth, file: with a bad mask
"$DYNFILL" gen --kind advection --n 5 --size 6 --seed 1 --out "$W/truth.h5" 2>/dev/null
expect "mask pattern 'cloud:0.3': unknown kind 'cloud'" "$DYNFILL" mask --in "$W/truth.h5" --pattern cloud:0.3 --out "$W/o.h5"
expect "mask pattern 'pixel:2': p = 2 must be in (0, 1]" "$DYNFILL" mask --in "$W/truth.h5" --pattern pixel:2 --out "$W/o.h5"
expect "mask pattern 'block:7x7:3': a 7x7 block grid is finer than the 6x6 field" "$DYNFILL" mask --in "$W/truth.h5" --pattern block:7x7:3 --out "$W/o.h5"
expect "$W/good.h5: dataset /truth is missing" "$DYNFILL" mask --in "$W/good.h5" --pattern pixel:0.5 --out "$W/o.h5"
expect "$W/maskvalue.h5: /mask fields are 6x7 but the data is 6x6" "$DYNFILL" mask --in "$W/truth.h5" --pattern "file:$W/maskvalue.h5" --out "$W/o.h5"
expect "$W/text.h5: not an HDF5 file" "$DYNFILL" mask --in "$W/text.h5" --pattern pixel:0.5 --out "$W/o.h5"
[ ! -e "$W/o.h5" ] || { echo "FAIL: a failed mask left an output file"; fail=1; }
expect "$W/./truth.h5: --out is the input file" "$DYNFILL" mask --in "$W/truth.h5" --pattern pixel:0.5 --out "$W/./truth.h5"
"$DYNFILL" info "$W/truth.h5" | grep -q "/truth" || { echo "FAIL: the truth file was damaged"; fail=1; }
# gen / import usage errors
expect "--kind 'turbulence' is unknown" "$DYNFILL" gen --kind turbulence --n 2 --out "$W/x.h5"
expect "option --n: 'many' is not an integer" "$DYNFILL" gen --kind ns --n many --out "$W/x.h5"
expect "$W/text.h5: neither NetCDF, HDF5 nor GRIB" "$DYNFILL" import --in "$W/text.h5" --var z --out "$W/x.h5"
expect "expected one file" "$DYNFILL" info
exit $fail
