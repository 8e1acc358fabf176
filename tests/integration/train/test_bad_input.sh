#!/usr/bin/env bash
# Bad configs and inputs exit 2 with one message naming the file and line or key.
source "$(dirname "$0")/common.sh"
make_data 16 16 pixel:0.5
expect2() { # expect2 PATTERN cmd...
  local pat=$1; shift
  local rc=0
  "$@" > out.txt 2> err.txt || rc=$?
  [ "$rc" = 2 ] || { cat err.txt; fail "exit $rc (expected 2) for: $*"; }
  [ "$(wc -l < err.txt)" = 1 ] || { cat err.txt; fail "expected one message line for: $*"; }
  grep -q -- "$pat" err.txt || { cat err.txt; fail "message lacks '$pat' for: $*"; }
}
write_tiny_config 10
printf '[model]\nbase = 8\n\n[train]\nlearning_rate = 1\n' > bad_key.ini
expect2 "bad_key.ini:5: unknown key 'learning_rate' in section \[train\]" "$DYNFILL" train --config bad_key.ini --data obs.h5 --out r1
printf '[modle]\nbase = 8\n' > bad_section.ini
expect2 "bad_section.ini:1: unknown section \[modle\]" "$DYNFILL" train --config bad_section.ini --data obs.h5 --out r1
printf '[train]\nbatch = -3\n' > bad_value.ini
expect2 "bad_value.ini:2: train.batch = -3 is outside" "$DYNFILL" train --config bad_value.ini --data obs.h5 --out r1
printf '[method]\nstrategy = magic\n' > bad_strategy.ini
expect2 "bad_strategy.ini:2: method.strategy = 'magic'" "$DYNFILL" train --config bad_strategy.ini --data obs.h5 --out r1
expect2 "unknown key 'stepz'" "$DYNFILL" train --config tiny.ini --set train.stepz=3 --out r1
expect2 "model.base = 12 must be a positive multiple of 8" "$DYNFILL" train --config tiny.ini --set model.base=12 --out r1
expect2 "missing.ini: cannot open config file" "$DYNFILL" train --config missing.ini --out r1
expect2 "nothere.h5" "$DYNFILL" train --config tiny.ini --data nothere.h5 --out r1
expect2 "larger than the 16x16 fields" "$DYNFILL" train --config tiny.ini --set data.patch=32 --out r1
expect2 "train.micro_batch = 3 must divide train.batch = 8" "$DYNFILL" train --config tiny.ini --set train.micro_batch=3 --out r1
expect2 "train.micro_batch = -1 is outside" "$DYNFILL" train --config tiny.ini --set train.micro_batch=-1 --out r1
expect2 "no checkpoint to resume" "$DYNFILL" train --resume --out fresh_dir
expect2 "option --bogus: unknown option" "$DYNFILL" train --bogus
expect2 "ckpt is required" "$DYNFILL" impute --in obs.h5 --out p.h5
expect2 "nothere.h5" "$DYNFILL" impute --ckpt nothere.h5 --in obs.h5 --out p.h5
expect2 "-K: 0 is outside" "$DYNFILL" impute --method mean -K 0 --in obs.h5 --out p.h5
# --help everywhere exits 0
for c in gen mask import info coverage train impute eval plot forward; do
  "$DYNFILL" "$c" --help > /dev/null || fail "$c --help"
done
"$DYNFILL" bench train --help > /dev/null || fail "bench train --help"
echo ok
