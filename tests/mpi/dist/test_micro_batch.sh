#!/usr/bin/env bash
# train.micro_batch across ranks (docs/design.md, "Configuration keys"):
# 2 ranks x batch 4 in micro-batches of 2, the gradient sum begun in small
# buckets by the hook during the last micro-batch's backward, train to the
# weights of 1 rank x batch 8 unsplit (norm-wise relative error <= 1e-5).
# Control: the same 2-rank run with another seed must NOT match.
source "$(dirname "$0")/common.sh"

make_data "$WORK/data.h5" 18
mpi 2 "$DYNFILL" train --config "$HERE/tiny.ini" --quiet --data "$WORK/data.h5" --set train.batch=4 \
  --set train.micro_batch=2 --set dist.bucket_mb=0.04 --out "$WORK/two" || fail "2-rank micro-batch run exited $?"
train --data "$WORK/data.h5" --set train.batch=8 --out "$WORK/one" || fail "1-rank run exited $?"
compare "$WORK/two/ckpt.h5" "$WORK/one/ckpt.h5" 1e-5 step=6 world_size=2 \
  || fail "2 ranks x batch 4 (micro-batches of 2) differ from 1 rank x batch 8"

mpi 2 "$DYNFILL" train --config "$HERE/tiny.ini" --quiet --data "$WORK/data.h5" --set train.batch=4 \
  --set train.micro_batch=2 --set train.seed=8 --out "$WORK/other" || fail "control run exited $?"
if compare "$WORK/other/ckpt.h5" "$WORK/one/ckpt.h5" 1e-5; then
  fail "control: a run with another seed matched"
fi
echo "PASS: 2 ranks x batch 4 in micro-batches of 2 == 1 rank x batch 8"
