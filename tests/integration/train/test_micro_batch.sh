#!/usr/bin/env bash
# train.micro_batch through `dynfill train`: batch 8 run as micro-batches of
# 2 and of 4 ends at the weights of the unsplit run (norm-wise relative
# error of /params <= 1e-5), with the same per-step losses and validation
# losses; control: a run with another seed does NOT match.
source "$(dirname "$0")/common.sh"
COMPARE="$PY $DFL_SOURCE_DIR/tests/mpi/dist/compare_ckpt.py"
make_data 40 16 pixel:0.5
write_tiny_config 6
# base 16: two channels per GroupNorm group, so every parameter has a real
# gradient (tests/mpi/dist/tiny.ini says why base 8 is too noisy for 1e-5).
# fp32: with train.precision = auto an AMX CPU runs bf16 convolutions, whose
# oneDNN kernels block a batch of 2 differently from one of 8 (rounding
# differences of ~1e-3 after 6 steps, not a micro-batching error)
run() { "$DYNFILL" train --config tiny.ini --set model.base=16 --set train.val_every=3 --set train.log_every=1 \
  --set train.threads=1 --set train.precision=fp32 --out "$@"; }
run whole > whole.log 2>&1 || { cat whole.log; fail "unsplit run"; }
run micro2 --set train.micro_batch=2 > micro2.log 2>&1 || { cat micro2.log; fail "micro_batch 2 run"; }
run micro4 --set train.micro_batch=4 --quiet || fail "micro_batch 4 run"
grep -q "micro-batches of 2, 4 passes per step" micro2.log || { cat micro2.log; fail "no micro-batch line"; }
$COMPARE micro2/ckpt.h5 whole/ckpt.h5 1e-5 step=6 || fail "micro_batch 2 differs from the unsplit run"
$COMPARE micro4/ckpt.h5 whole/ckpt.h5 1e-5 step=6 || fail "micro_batch 4 differs from the unsplit run"
$PY - <<'PY' || fail "losses differ"
import json
def rows(p, key):
    return [json.loads(l)[key] for l in open(p) if '"%s"' % key in l]
for key in ("loss", "val_loss"):
    ref = rows("whole/metrics.jsonl", key)
    for run in ("micro2", "micro4"):
        got = rows(run + "/metrics.jsonl", key)
        print(key, run, got, "unsplit", ref)
        assert len(got) == len(ref) > 0, (len(got), len(ref))
        assert all(abs(a - b) <= 1e-5 * abs(b) for a, b in zip(got, ref))
PY
[ "$(grep -c '^micro_batch = 2$' micro2/config.ini)" = 1 ] || fail "config.ini lacks micro_batch"
run other --set train.micro_batch=2 --set train.seed=12 --quiet || fail "control run"
if $COMPARE other/ckpt.h5 whole/ckpt.h5 1e-5; then fail "control: a run with another seed matched"; fi
echo ok
