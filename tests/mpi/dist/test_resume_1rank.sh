#!/usr/bin/env bash
# docs/design.md, "Distributed training": a 2-rank run checkpointed at step 3 resumes on 1 rank.
# The checkpoint keeps the global stream cursor (epoch, position); the
# loader of the resumed run continues the stream from it with its own
# global batch (world x train.batch).
#  (a) --set train.batch=4 keeps the global batch of 4: the result equals
#      an uninterrupted 1-rank batch-4 run (relative error <= 1e-5).
#  (b) train.batch unchanged (2): the global batch halves; the run finishes
#      with the right step count and the cursor where 3x4 + 3x2 = 18
#      samples put it (epoch 1, position 0 of an 18-sample split).
source "$(dirname "$0")/common.sh"

make_data "$WORK/data.h5" 18
train --data "$WORK/data.h5" --set train.batch=4 --out "$WORK/ref" || fail "reference run exited $?"

for run in a b; do
  mpi 2 "$DYNFILL" train --config "$HERE/tiny.ini" --quiet --data "$WORK/data.h5" --set train.batch=2 \
    --set train.steps=3 --out "$WORK/$run" || fail "2-rank run ($run) exited $?"
  compare "$WORK/$run/ckpt.h5" "$WORK/$run/ckpt.h5" 0 step=3 world_size=2 data_epoch=0 data_position=12 \
    || fail "2-rank checkpoint ($run) attributes"
done

"$DYNFILL" train --resume --quiet --out "$WORK/a" --set train.steps=6 --set train.batch=4 \
  || fail "1-rank resume (a) exited $?"
compare "$WORK/a/ckpt.h5" "$WORK/ref/ckpt.h5" 1e-5 step=6 world_size=1 data_epoch=1 data_position=6 \
  || fail "2-rank run resumed on 1 rank with the same global batch differs from the 1-rank run"

"$DYNFILL" train --resume --quiet --out "$WORK/b" --set train.steps=6 || fail "1-rank resume (b) exited $?"
compare "$WORK/b/ckpt.h5" "$WORK/ref/ckpt.h5" 1 step=6 world_size=1 data_epoch=1 data_position=0 \
  || fail "1-rank resume with the per-rank batch kept: step count or cursor wrong"
echo "PASS: 2-rank checkpoint resumed on 1 rank"
