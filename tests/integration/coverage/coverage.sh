#!/usr/bin/env bash
# dynfill coverage end to end (Theorem 1): on block-missing data
# (block:3x3:8: one of nine blocks missing per sample), pixel contexts
# leave the missing block's interior never queried -> a "warning:" line;
# block contexts cover every entry -> no warning. The map file holds
# /coverage [1, H, W]. Bad input exits 2 with one message.
set -uo pipefail
: "${DYNFILL:?}" "${DFL_SOURCE_DIR:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
PY=/usr/bin/python3

$PY "$DFL_SOURCE_DIR/tests/integration/coverage/make_block_data.py" "$work/obs.h5" block 48 24 || fail "could not write the dataset"

# pixel strategy from a config file: warns
cat > "$work/pixel.ini" <<INI
[method]
strategy = pixel
context_ratio = 0.7
INI
"$DYNFILL" coverage --data "$work/obs.h5" --config "$work/pixel.ini" --samples 500 --out "$work/pixel_map.h5" \
    >"$work/pixel.out" 2>&1
rc=$?
cat "$work/pixel.out"
[ $rc -eq 0 ] || fail "pixel: exit $rc"
grep -q '^warning:' "$work/pixel.out" || fail "pixel strategy on block-missing data did not warn"
grep -q 'never queried' "$work/pixel.out" || fail "pixel: warning does not say 'never queried'"
grep -q 'min 0 ' "$work/pixel.out" || fail "pixel: min of the map is not 0"

# block strategy by --set on top of the same config: no warning
"$DYNFILL" coverage --data "$work/obs.h5" --config "$work/pixel.ini" --set method.strategy=block --samples 500 \
    --out "$work/block_map.h5" >"$work/block.out" 2>&1
rc=$?
cat "$work/block.out"
[ $rc -eq 0 ] || fail "block: exit $rc"
grep -q 'warning' "$work/block.out" && fail "block strategy on block-missing data warned"
grep -q '0 of 576 entries (0.00%) below threshold' "$work/block.out" || fail "block: entries below the threshold"

# the maps: shape [1, 24, 24]; pixel has zeros inside the missing blocks, block none
$PY - "$work/pixel_map.h5" "$work/block_map.h5" <<'PYEOF' || fail "map contents"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    p = f["coverage"][...]
    assert p.shape == (1, 24, 24), p.shape
    assert f["query_rate"].shape == (1, 24, 24)
    assert (p[0, 10:14, 10:14] == 0).all(), p[0, 10:14, 10:14]   # core of the centre block
    assert f.attrs["below"] > 0
with h5py.File(sys.argv[2], "r") as f:
    b = f["coverage"][...]
    assert np.isfinite(b).all() and b.min() > 0.2, b.min()
print("maps ok: pixel min %.3g mean %.3g, block min %.3g mean %.3g" % (p.min(), p.mean(), b.min(), b.mean()))
PYEOF

# fewer draws than samples read one mask per equal stretch: on masks of period two (even samples miss
# one block, odd ones another), 20 draws of 40 samples see both blocks missing (a stride of two saw one)
$PY "$DFL_SOURCE_DIR/tests/integration/coverage/make_block_data.py" "$work/alt.h5" alternating 40 24 ||
    fail "could not write the alternating dataset"
"$DYNFILL" coverage --data "$work/alt.h5" --set method.strategy=block --samples 20 >"$work/alt.out" 2>&1 ||
    { cat "$work/alt.out"; fail "alternating: exit $?"; }
cat "$work/alt.out"
grep -q 'the draws read 20 of the 40 masks' "$work/alt.out" || fail "alternating: the draws' masks are not said"
grep -q 'over 128 of 576 entries' "$work/alt.out" || fail "alternating: the draws did not see both missing blocks"

# with the data helper's `dynfill mask`, when present: the same verdicts on its block:3x3:8 output
if "$DYNFILL" gen --help >/dev/null 2>&1 && "$DYNFILL" mask --help >/dev/null 2>&1; then
    if "$DYNFILL" gen --kind advection --n 24 --size 24 --seed 1 --out "$work/truth.h5" >/dev/null 2>&1 &&
        "$DYNFILL" mask --in "$work/truth.h5" --pattern block:3x3:8 --seed 2 --out "$work/masked.h5" >/dev/null 2>&1; then
        "$DYNFILL" coverage --data "$work/masked.h5" --set method.strategy=pixel --samples 500 >"$work/m1.out" 2>&1 ||
            fail "coverage on dynfill mask output"
        grep -q '^warning:' "$work/m1.out" || { cat "$work/m1.out"; fail "pixel on 'dynfill mask' block data did not warn"; }
        "$DYNFILL" coverage --data "$work/masked.h5" --set method.strategy=block --samples 500 >"$work/m2.out" 2>&1 ||
            fail "coverage on dynfill mask output"
        grep -q 'warning' "$work/m2.out" && { cat "$work/m2.out"; fail "block on 'dynfill mask' block data warned"; }
        echo "dynfill mask block:3x3:8 data: same verdicts"
    fi
fi

# bad input: exit 2 with one message naming the problem
"$DYNFILL" coverage --data "$work/missing.h5" >"$work/e1.out" 2>&1
rc=$?
[ $rc -eq 2 ] || fail "missing file: exit $rc"
grep -q 'missing.h5' "$work/e1.out" || fail "missing file: message does not name it"
[ "$(wc -l <"$work/e1.out")" -eq 1 ] || fail "missing file: more than one line"
"$DYNFILL" coverage --data "$work/obs.h5" --set method.strategy=blocks >"$work/e2.out" 2>&1
[ $? -eq 2 ] || fail "bad strategy: not exit 2"
grep -q 'method.strategy' "$work/e2.out" || fail "bad strategy: message does not name the key"
"$DYNFILL" coverage --data "$work/obs.h5" --set method.grid=30x30 --set method.strategy=block >"$work/e3.out" 2>&1
[ $? -eq 2 ] || fail "grid larger than the field: not exit 2"
"$DYNFILL" coverage --data "$work/obs.h5" --samples 0 >/dev/null 2>&1
[ $? -eq 2 ] || fail "--samples 0: not exit 2"
echo "coverage: all checks passed"
