#!/usr/bin/env bash
# A run directory belongs to one run: a fresh start refuses an existing
# checkpoint (exit 2, checkpoint untouched) unless --resume, or --force,
# which keeps the old files aside; a second training on a directory in use
# exits 2 naming the holder's pid while the first goes on undisturbed.
source "$(dirname "$0")/common.sh"
make_data 48 16 pixel:0.4
write_tiny_config 20
sha() { sha256sum "$1" | awk '{print $1}'; }

"$DYNFILL" train --config tiny.ini --out run --quiet || fail "first run"
before=$(sha run/ckpt.h5)
metrics_before=$(sha run/metrics.jsonl)

# 1. a fresh start on it is refused
rc=0
"$DYNFILL" train --config tiny.ini --set train.steps=3 --out run --quiet 2> err.txt || rc=$?
[ "$rc" = 2 ] || { cat err.txt; fail "existing checkpoint: exit $rc, expected 2"; }
for word in run/ckpt.h5 --resume --force; do
  grep -q -- "$word" err.txt || { cat err.txt; fail "refusal does not name $word"; }
done
[ "$(sha run/ckpt.h5)" = "$before" ] || fail "refused run changed the checkpoint"
[ "$(sha run/metrics.jsonl)" = "$metrics_before" ] || fail "refused run changed metrics.jsonl"
[ "$(find run -name '*.tmp*' | wc -l)" = 0 ] || fail "refused run left a temporary file"

# 2. --force keeps the old checkpoint and metrics aside and says so
rc=0
"$DYNFILL" train --config tiny.ini --set train.steps=4 --out run --force --quiet 2> err.txt || rc=$?
[ "$rc" = 0 ] || { cat err.txt; fail "--force: exit $rc"; }
old=$(ls run/ckpt.h5.old-* 2>/dev/null | head -1)
[ -n "$old" ] || fail "--force: no ckpt.h5.old-*"
[ "$(sha "$old")" = "$before" ] || fail "--force: $old is not the previous checkpoint"
oldm=$(ls run/metrics.jsonl.old-* 2>/dev/null | head -1)
[ -n "$oldm" ] && [ "$(sha "$oldm")" = "$metrics_before" ] || fail "--force: previous metrics.jsonl not kept"
grep -q "kept the previous run/ckpt.h5 as $old" err.txt || { cat err.txt; fail "--force does not say where"; }
[ "$(h5attr run/ckpt.h5 step)" = 4 ] || fail "--force: the new run did not start over"
[ "$(grep -c '"loss"' run/metrics.jsonl)" = 1 ] || fail "--force: metrics.jsonl not started afresh"

# 3. --resume still works; --resume with --force is a usage error
"$DYNFILL" train --resume --set train.steps=8 --out run --quiet || fail "--resume exited $?"
[ "$(h5attr run/ckpt.h5 step)" = 8 ] || fail "--resume did not continue to step 8"
rc=0
"$DYNFILL" train --resume --force --out run --quiet 2> err.txt || rc=$?
[ "$rc" = 2 ] || fail "--resume --force: exit $rc, expected 2"

# 4. a second run on a directory in use exits 2 naming the holder
"$DYNFILL" train --config tiny.ini --set train.steps=100000 --set train.ckpt_every=7 --out busy --quiet 2> first.txt &
pid=$!
for _ in $(seq 1 600); do
  [ -s busy/metrics.jsonl ] && break
  sleep 0.1
done
[ -s busy/metrics.jsonl ] || fail "first run produced no metrics"
grep -q "^$pid " busy/.lock || fail "busy/.lock does not hold the first run's pid: $(cat busy/.lock)"
for args in "--config tiny.ini --set train.steps=3" "--config tiny.ini --force" "--resume"; do
  rc=0
  # shellcheck disable=SC2086
  "$DYNFILL" train $args --out busy --quiet 2> err.txt || rc=$?
  [ "$rc" = 2 ] || { cat err.txt; fail "second run ($args): exit $rc, expected 2"; }
  grep -q "pid $pid on host $(hostname)" err.txt || { cat err.txt; fail "second run ($args): holder not named"; }
done
kill -0 "$pid" 2>/dev/null || { cat first.txt; fail "first run ended early"; }
[ "$(ls busy | grep -c old-)" = 0 ] || fail "second run with --force moved the first run's files"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" = 0 ] || { cat first.txt; fail "first run: exit $rc"; }
$PY - <<'PY' || fail "first run's metrics.jsonl is not one run's"
import json
steps = [json.loads(l)["step"] for l in open("busy/metrics.jsonl") if '"loss"' in l]
assert steps == sorted(set(steps)) and steps[0] == 5, steps
PY
# the lock went with the first run (stopped by a signal): resuming works
step=$(h5attr busy/ckpt.h5 step)
"$DYNFILL" train --resume --set train.steps=$((step + 2)) --out busy --quiet || fail "resume after the holder ended"
[ "$(h5attr busy/ckpt.h5 step)" = $((step + 2)) ] || fail "resume after the holder ended: wrong step"
[ ! -s busy/.lock ] || fail "busy/.lock still names a holder: $(cat busy/.lock)"
echo ok
