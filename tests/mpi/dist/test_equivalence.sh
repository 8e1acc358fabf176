#!/usr/bin/env bash
# docs/design.md, "Distributed training": two ranks with per-rank batch B train to the weights one rank
# trains with batch 2B from the same seed and data order (norm-wise relative
# error of /params <= 1e-5). Control: one rank with batch B (half the global
# batch) must NOT match, so the tolerance can tell the runs apart.
# 18 samples and a global batch of 4 over 6 steps: the stream straddles an
# epoch boundary inside a batch.
source "$(dirname "$0")/common.sh"

make_data "$WORK/data.h5" 18
mpi 2 "$DYNFILL" train --config "$HERE/tiny.ini" --quiet --data "$WORK/data.h5" --set train.batch=2 \
  --out "$WORK/two" || fail "2-rank run exited $?"
train --data "$WORK/data.h5" --set train.batch=4 --out "$WORK/one" || fail "1-rank run exited $?"

compare "$WORK/two/ckpt.h5" "$WORK/one/ckpt.h5" 1e-5 step=6 world_size=2 data_epoch=1 data_position=6 \
  || fail "2 ranks x batch 2 differ from 1 rank x batch 4"
compare "$WORK/one/ckpt.h5" "$WORK/two/ckpt.h5" 1e-5 world_size=1 || fail "1-rank checkpoint attributes"

# the per-step losses of the two runs agree as well
"$PY" - "$WORK/two/metrics.jsonl" "$WORK/one/metrics.jsonl" <<'PYEOF' || fail "losses differ"
import json, sys
def losses(p):
    return [json.loads(l)["loss"] for l in open(p) if '"loss"' in l]
a, b = losses(sys.argv[1]), losses(sys.argv[2])
print("losses 2 ranks:", a)
print("losses 1 rank: ", b)
assert len(a) == len(b) == 6, (len(a), len(b))
assert all(abs(x - y) <= 1e-5 * abs(y) for x, y in zip(a, b))
PYEOF

# the gradient sum overlapped with backward in many small buckets (the
# gradient-ready hook begins one non-blocking sum per ~40 KB of final
# gradients) gives the same weights
mpi 2 "$DYNFILL" train --config "$HERE/tiny.ini" --quiet --data "$WORK/data.h5" --set train.batch=2 \
  --set dist.bucket_mb=0.04 --out "$WORK/two_buckets" || fail "2-rank bucketed run exited $?"
compare "$WORK/two_buckets/ckpt.h5" "$WORK/one/ckpt.h5" 1e-5 step=6 world_size=2 \
  || fail "2 ranks with small buckets differ from 1 rank x batch 4"

train --data "$WORK/data.h5" --set train.batch=2 --out "$WORK/half"
if compare "$WORK/two/ckpt.h5" "$WORK/half/ckpt.h5" 1e-5; then
  fail "control: a run with half the global batch matched the 2-rank run"
fi

# model.channels = shared: the ranks split the stream of (sample, channel) pairs the same way
# (the 18 fields as 6 samples of 3 channels, a mask per channel; epoch boundary inside a batch again)
"$PY" - "$WORK/data.h5" "$WORK/data3.h5" <<'PYEOF'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f, h5py.File(sys.argv[2], "w") as g:
    for name in ("obs", "mask"):
        a = f[name][:]
        g.create_dataset(name, data=a.reshape(a.shape[0] // 3, 3, *a.shape[2:]))
    for k, v in f.attrs.items():
        g.attrs[k] = v
PYEOF
mpi 2 "$DYNFILL" train --config "$HERE/tiny.ini" --quiet --data "$WORK/data3.h5" --set train.batch=2 \
  --set model.channels=shared --out "$WORK/two_shared" || fail "2-rank shared run exited $?"
train --data "$WORK/data3.h5" --set train.batch=4 --set model.channels=shared --out "$WORK/one_shared" ||
  fail "1-rank shared run exited $?"
compare "$WORK/two_shared/ckpt.h5" "$WORK/one_shared/ckpt.h5" 1e-5 step=6 world_size=2 data_epoch=1 data_position=6 \
  || fail "shared channels: 2 ranks x batch 2 differ from 1 rank x batch 4"
echo "PASS: 2 ranks x batch 2 == 1 rank x batch 4 (joint and shared channels)"
