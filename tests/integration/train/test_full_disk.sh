#!/usr/bin/env bash
# A full disk loses nothing: on a small tmpfs, a checkpoint, a prediction
# or a dataset that does not fit fails with exit 1 and a message naming the
# path and "No space left on device", leaves no temporary or partial file,
# and the last good checkpoint stays readable and resumable. Needs root (to
# mount the tmpfs): skipped (77) otherwise.
source "$(dirname "$0")/common.sh"
[ "$(id -u)" = 0 ] || { echo "skip: mounting a tmpfs needs root"; exit 77; }
FULL=$WORK/full
mkdir -p "$FULL"
mount -t tmpfs -o size=600k tmpfs "$FULL" 2>/dev/null || { echo "skip: cannot mount a tmpfs"; exit 77; }
trap 'umount "$FULL" 2>/dev/null || umount -l "$FULL"; rm -rf "$WORK"' EXIT
make_data 48 16 pixel:0.4
write_tiny_config 20

# resize FULL to $1 KiB, empty
resize() {
  rm -rf "${FULL:?}"/* "${FULL:?}"/.[!.]* 2>/dev/null || true
  mount -o remount,size="$1"k "$FULL" || fail "cannot resize the tmpfs to $1k"
}
no_tmp() { [ -z "$(find "$FULL" -name '*.tmp*')" ] || fail "$1: temporary file left: $(find "$FULL" -name '*.tmp*')"; }
# expect_msg WHAT PATH: err.txt names PATH and the error, and is no panic
expect_msg() {
  grep -q "$2: No space left on device" err.txt || { cat err.txt; fail "$1: message does not name $2 and the error"; }
  if grep -q "internal error" err.txt; then cat err.txt; fail "$1: panicked"; fi
}

# 1. no room for the first checkpoint: exit 1, nothing left behind
rc=0
"$DYNFILL" train --config tiny.ini --out "$FULL/run" --quiet 2> err.txt || rc=$?
[ "$rc" = 1 ] || { cat err.txt; fail "train, first checkpoint: exit $rc, expected 1"; }
expect_msg "train, first checkpoint" "$FULL/run/ckpt.h5"
no_tmp "train, first checkpoint"
[ ! -e "$FULL/run/ckpt.h5" ] || fail "train, first checkpoint: a ckpt.h5 appeared"

# 2. room for one checkpoint but not for its successor (written beside it):
# the step-5 checkpoint survives the failed step-10 one and resumes elsewhere
"$DYNFILL" train --config tiny.ini --set train.steps=1 --out ref --quiet || fail "reference run"
kib=$(( $(stat -c %s ref/ckpt.h5) * 3 / 2 / 1024 ))
resize "$kib"
rc=0
"$DYNFILL" train --config tiny.ini --set train.ckpt_every=5 --out "$FULL/run" --quiet 2> err.txt || rc=$?
[ "$rc" = 1 ] || { cat err.txt; fail "train, second checkpoint (tmpfs ${kib}k): exit $rc, expected 1"; }
expect_msg "train, second checkpoint" "$FULL/run/ckpt.h5"
grep -q "of step 5 is intact" err.txt || { cat err.txt; fail "train: message does not say the step-5 checkpoint is kept"; }
no_tmp "train, second checkpoint"
"$DYNFILL" info "$FULL/run/ckpt.h5" > /dev/null || fail "the last good checkpoint is not readable"
[ "$(h5attr "$FULL/run/ckpt.h5" step)" = 5 ] || fail "the last good checkpoint is not step 5"
cp -r "$FULL/run" moved
"$DYNFILL" train --resume --out moved --quiet || fail "resume from the kept checkpoint exited $?"
[ "$(h5attr moved/ckpt.h5 step)" = 20 ] || fail "resume did not reach step 20"

# 3. prediction and datasets on a nearly full tmpfs (32 KiB left)
resize 600
head -c $(( (600 - 32) * 1024 )) /dev/zero > "$FULL/filler"
for cmd in "impute --ckpt moved/ckpt.h5 --in obs.h5 -K 2 --quiet" "impute --method harmonic --in obs.h5 --quiet" \
           "mask --in truth.h5 --pattern pixel:0.4 --seed 4" "gen --kind advection --n 48 --size 16 --seed 3"; do
  name=${cmd%% *}
  rc=0
  # shellcheck disable=SC2086
  "$DYNFILL" $cmd --out "$FULL/$name.h5" 2> err.txt || rc=$?
  [ "$rc" = 1 ] || { cat err.txt; fail "$cmd: exit $rc, expected 1"; }
  expect_msg "$cmd" "$FULL/$name.h5"
  no_tmp "$cmd"
  [ ! -e "$FULL/$name.h5" ] || fail "$cmd: partial $name.h5 left"
done

# 4. not a byte left: the file cannot even be created (exit 1 all the same)
head -c 64k /dev/zero > "$FULL/filler2" 2>/dev/null || true
rc=0
"$DYNFILL" mask --in truth.h5 --pattern pixel:0.4 --seed 4 --out "$FULL/mask.h5" 2> err.txt || rc=$?
[ "$rc" = 1 ] || { cat err.txt; fail "mask on a full tmpfs: exit $rc, expected 1"; }
expect_msg "mask on a full tmpfs" "$FULL/mask.h5"
no_tmp "mask on a full tmpfs"
echo ok
