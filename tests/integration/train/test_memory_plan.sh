#!/usr/bin/env bash
# Memory planning (docs/scaling.md, "Memory"): `train --dry-run` prints the plan and writes
# nothing; a plan larger than the available memory (DFL_MEMORY_LIMIT_BYTES forces it) exits 2
# naming the knob, in train, bench train, bench impute and impute, before allocating; impute in
# passes of any size (--batch, or the automatic choice under a memory limit) gives bit-identical
# /pred and /std.
source "$(dirname "$0")/common.sh"
make_data 20 16 pixel:0.3
write_tiny_config 6
sed -i 's/^val_fraction = 0.1/val_fraction = 0/' tiny.ini

expect2() { # pattern command...
  local pat=$1 out rc
  shift
  set +e
  out=$("$@" 2>&1)
  rc=$?
  set -e
  [ "$rc" = 2 ] || fail "exit $rc (want 2): $* -> $out"
  echo "$out" | grep -q -- "$pat" || fail "message lacks '$pat': $out"
}
line() { echo "$1" | grep -- "$2" | head -1; } # text pattern

# --dry-run: the plan, no run directory
out=$("$DYNFILL" train --config tiny.ini --out dry --dry-run) || fail "--dry-run"
echo "$out"
[ ! -e dry ] || fail "--dry-run created the run directory"
for k in "parameters" "activations/sample" "optimizer (m, v, EMA)" "largest buffer" "total fp32" "total bf16" \
         "available"; do
  line "$out" "$k" | grep -q . || fail "--dry-run lacks '$k'"
done
# activations scale with the micro-batch: 8 samples per pass hold more than 2
out2=$("$DYNFILL" train --config tiny.ini --dry-run --set train.micro_batch=2) || fail "--dry-run micro_batch"
total() { line "$1" "total fp32" | sed 's/.*(\([0-9]*\) bytes).*/\1/'; }
[ "$(total "$out2")" -lt "$(total "$out")" ] || fail "micro_batch 2 does not lower the plan"
line "$out2" "activations (x2)" | grep -q . || fail "micro-batch not in the plan: $out2"
per=$(line "$out" "activations/sample" | awk '{print $2, $3}')
[ "$per" = "$(line "$out2" "activations/sample" | awk '{print $2, $3}')" ] || fail "per-sample activations differ"

# refusals, exit 2 naming the knob; nothing trained
export DFL_MEMORY_LIMIT_BYTES=1000
expect2 "train.micro_batch, train.batch, data.patch or model.base" "$DYNFILL" train --config tiny.ini --dry-run
expect2 "train.micro_batch" "$DYNFILL" train --config tiny.ini --out refused --quiet
[ ! -e refused/ckpt.h5 ] || fail "a refused run wrote a checkpoint"
expect2 "lower --batch, --size or --base" "$DYNFILL" bench train --C 2 --size 16 --batch 2 --base 8 --mult 1,2 \
  --nres 1 --steps 1
expect2 "lower --n or -K" "$DYNFILL" bench impute --base 8 --mult 1,2 --nres 1 --size 16 --n 2 -K 2 --reps 1
unset DFL_MEMORY_LIMIT_BYTES

# impute in passes: 12 samples x K 3, in one pass, in passes of one sample, automatically
"$DYNFILL" train --config tiny.ini --out run --quiet || fail "train"
"$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out one.h5 -K 3 --batch 1000 --quiet || fail "impute --batch 1000"
"$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out small.h5 -K 3 --batch 3 --quiet || fail "impute --batch 3"
"$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out multi1.h5 -K 3 --steps 3 --batch 1000 --quiet
"$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out multi2.h5 -K 3 --steps 3 --batch 7 --quiet
# passes of 7 samples (21 rows) and of 1 refused under 1000 bytes: the messages give their sizes;
# between the two, the automatic choice takes fewer samples per pass, still K rows per forward
need() { # rows
  local msg
  msg=$(DFL_MEMORY_LIMIT_BYTES=1000 "$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out x.h5 -K 3 --batch "$1" \
    --quiet 2>&1) && fail "impute under 1000 bytes ran"
  echo "$msg" | grep -q "lower --batch (rows per pass) or -K" || fail "impute refusal lacks the knob: $msg"
  [ ! -e x.h5 ] || fail "a refused impute wrote x.h5"
  echo "$msg" | sed 's/.*(\([0-9]*\) bytes).*/\1/'
}
n7=$(need 21); n1=$(need 3)
[ "$n7" -gt "$n1" ] || fail "7 samples per pass ($n7 bytes) need no more than 1 ($n1)"
limit=$(( (n7 + n1) / 2 ))
auto=$(DFL_MEMORY_LIMIT_BYTES=$limit "$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out auto.h5 -K 3 2>&1) \
  || fail "automatic passes under $limit bytes: $auto"
echo "$auto" | grep -q "per pass, 3 network rows per forward fit the available memory" || fail "no automatic split: $auto"
"$PY" - <<'PY'
import h5py, numpy as np
def load(p):
    f = h5py.File(p, "r")
    return f["/pred"][:], f["/std"][:]
a = load("one.h5")
for p in ("small.h5", "auto.h5"):
    b = load(p)
    assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes(), p + " differs from one pass"
m1, m2 = load("multi1.h5"), load("multi2.h5")
assert m1[0].tobytes() == m2[0].tobytes() and m1[1].tobytes() == m2[1].tobytes(), "multi-step passes differ"
assert not np.array_equal(a[0], m1[0]), "the multi-step run is the single step"
print("bit-identical across pass sizes")
PY

# forward: refused before allocating (exit 2, the knob), runs under no limit; a --batch over the
# file's samples allocates for the samples only
"$PY" - <<'PY'
import h5py, numpy as np
with h5py.File("truth.h5", "r") as f:
    x = f["/truth"][:4].astype(np.float32)
with h5py.File("fwd_in.h5", "w") as f:
    f["input"] = np.concatenate([x, np.zeros_like(x)], axis=1)
    f["t"] = np.full(len(x), 0.5, np.float32)
PY
expect2 "lower --batch" env DFL_MEMORY_LIMIT_BYTES=1000 "$DYNFILL" forward --ckpt run/ckpt.h5 --in fwd_in.h5 \
  --out fwd_x.h5 --batch 2
[ ! -e fwd_x.h5 ] || fail "a refused forward wrote fwd_x.h5"
"$DYNFILL" forward --ckpt run/ckpt.h5 --in fwd_in.h5 --out fwd_a.h5 --batch 2 || fail "forward --batch 2"
"$DYNFILL" forward --ckpt run/ckpt.h5 --in fwd_in.h5 --out fwd_b.h5 --batch 100000 || fail "forward --batch 100000"
echo "PASS"
