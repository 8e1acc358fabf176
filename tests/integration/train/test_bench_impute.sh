#!/usr/bin/env bash
# `dynfill bench impute`: times the imputer on a fresh model and on a checkpoint; its JSON is
# consistent (rows per call = n (steps - 1) + n K: the multi-step sampler's S - 1 single-draw
# passes and the last K-ensemble; rows/s = rows / call_s, GFLOP/s = rows/s x GFLOP/row); bad input exits 2
# with one message naming the option or file; no temporary checkpoint is left behind. The
# --json lines of bench kernels (CPU) and bench train are one line each, read strictly.
source "$(dirname "$0")/common.sh"
export TMPDIR=$WORK/tmp
mkdir -p "$TMPDIR"

check_json() { # json K steps
  "$PY" - "$1" "$2" "$3" <<'PY' || fail "inconsistent bench impute JSON: $1"
import json, math, sys
r, K, steps = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
assert r["K"] == K and r["steps"] == steps, r
assert r["call_s"] > 0 and r["samples_per_s"] > 0, r
assert math.isclose(r["samples_per_s"], r["n"] / r["call_s"], rel_tol=1e-3), r
assert r["rows"] == r["n"] * (steps - 1) + r["n"] * K, r
assert math.isclose(r["rows_per_s"], r["samples_per_s"] * (steps - 1 + K), rel_tol=1e-3), r
assert math.isclose(r["gflops"], r["rows_per_s"] * r["fwd_gflop_per_row"], rel_tol=2e-3), r
PY
}

# a fresh model: single step and a 3-step sampler
j=$("$DYNFILL" bench impute --json --base 8 --mult 1,2 --nres 1 --size 24x16 --n 3 -K 4 --reps 2) || fail "fresh model"
check_json "$j" 4 1
jkey() { "$PY" -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; } # json key
[ "$(jkey "$j" H)x$(jkey "$j" W)" = 24x16 ] || fail "size not honoured: $j"
j=$("$DYNFILL" bench impute --json --base 8 --mult 1,2 --nres 1 --size 16 --n 2 -K 3 --steps 3 --reps 1) || fail "3 steps"
check_json "$j" 3 3
# model options last (after every other option), and a periodic axis
j=$("$DYNFILL" bench impute --json --n 1 -K 2 --reps 1 --size 12x8 --base 8 --nres 1 --mult 1 --periodic x) \
  || fail "model options last"
check_json "$j" 2 1

# a checkpoint: C comes from it (2 channels here)
"$DYNFILL" bench train --C 2 --size 16 --batch 2 --base 8 --mult 1,2 --nres 1 --steps 1 --warmup 0 \
  --save-ckpt c2.h5 >/dev/null || fail "bench train --save-ckpt"
j=$("$DYNFILL" bench impute --json --ckpt c2.h5 --size 16 --n 2 -K 2 --reps 1) || fail "--ckpt"
check_json "$j" 2 1
[ "$(jkey "$j" C)" = 2 ] || fail "channels not taken from the checkpoint: $j"
[ -z "$(ls -A "$TMPDIR")" ] || fail "temporary files left: $(ls "$TMPDIR")"

# every bench --json output is exactly one line that a strict JSON parser reads (no NaN)
strict_line() { # label: stdin is the output
  "$PY" -c '
import json, sys
text = sys.stdin.read()
assert text.endswith("\n") and text.count("\n") == 1, "not one line: %r" % text
def constant(c): raise ValueError("non-JSON constant " + c)
r = json.loads(text, parse_constant=constant)
if sys.argv[1] == "kernels":
    assert r["backend"] == "cpu" and r["copy_gbs"] > 0 and len(r["kernels"]) > 5, r
    assert all(type(k["bytes"]) is int and k["bytes"] > 0 for k in r["kernels"]), r
else:
    assert r["backend"] == "cpu" and type(r["params"]) is int and r["samples_per_s"] > 0, r' "$1" \
    || fail "bench $1 --json"
}
"$DYNFILL" bench kernels --backend cpu --json --n 1 --C 1 --size 16 --channels 8 --params 1024 --iters 1 --reps 1 \
  2>/dev/null | strict_line kernels
"$DYNFILL" bench train --json --C 1 --size 16 --batch 2 --base 8 --mult 1,2 --nres 1 --steps 1 --warmup 0 \
  2>/dev/null | strict_line train

expect2() { # pattern command...
  local pat=$1 out rc
  shift
  set +e
  out=$("$@" 2>&1)
  rc=$?
  set -e
  [ "$rc" = 2 ] || fail "exit $rc (want 2): $*"
  echo "$out" | grep -q -- "$pat" || fail "message lacks '$pat': $out"
}
expect2 "missing.h5" "$DYNFILL" bench impute --ckpt missing.h5
expect2 "option --precision: 'fp16'" "$DYNFILL" bench impute --precision fp16
expect2 "option -K" "$DYNFILL" bench impute -K 0
expect2 "option --bogus: unknown option" "$DYNFILL" bench impute --bogus
expect2 "option --base: needs a value" "$DYNFILL" bench impute --base
# bench train shares the option parsing; an unknown precision is an error, not fp32
expect2 "option --precision: 'fp16'" "$DYNFILL" bench train --precision fp16
echo "PASS"
