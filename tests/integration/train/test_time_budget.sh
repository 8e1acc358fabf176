#!/usr/bin/env bash
# train.time_budget / --minutes under the injectable clock
# (DFL_FAKE_SECONDS_PER_STEP: every step counts that many seconds):
#   - the run stops at exactly ceil(budget / s) steps, the checkpoint holds
#     the training seconds, and the logged learning rate is the warm-up times
#     the cosine of elapsed / budget at every step;
#   - SIGTERM + --resume ends identical (bit for bit) to an uninterrupted run;
#   - bad values exit 2 naming the key or option.
source "$(dirname "$0")/common.sh"
make_data 48 16 pixel:0.4
write_tiny_config 7
sed -i 's/schedule = constant/schedule = cosine/; s/log_every = 5/log_every = 1/' tiny.ini

# 0.5 s per step, 20 s: steps 0..39 start before the budget is spent
DFL_FAKE_SECONDS_PER_STEP=0.5 "$DYNFILL" train --config tiny.ini --set train.time_budget=20s --out a --quiet 2> err.txt \
  || { cat err.txt; fail "budget run failed"; }
[ "$(h5attr a/ckpt.h5 step)" = 40 ] || fail "budget run stopped at step $(h5attr a/ckpt.h5 step), not 40"
$PY - <<'PY'
import h5py, json, math
f = h5py.File("a/ckpt.h5", "r")
assert abs(float(f.attrs["train_seconds"][()]) - 20.0) < 1e-12, f.attrs["train_seconds"]
rows = [json.loads(l) for l in open("a/metrics.jsonl") if '"lr"' in l]
assert [r["step"] for r in rows] == list(range(1, 41)), [r["step"] for r in rows]
for r in rows:
    k = r["step"] - 1  # 0-based update, elapsed k * 0.5 s before it
    want = 3e-3 * min(1.0, (k + 1) / 5) * 0.5 * (1 + math.cos(math.pi * k * 0.5 / 20))
    assert abs(r["lr"] - want) <= 1e-5 * 3e-3 + 1e-9, (r, want)
    assert abs(r["train_seconds"] - (k + 1) * 0.5) < 1e-9, r
print("lr over the budget as predicted; 40 steps")
PY
# a budget that ends before log_every and val_every come round: its last step is logged and validated
# all the same (its metrics.jsonl was empty)
DFL_FAKE_SECONDS_PER_STEP=0.5 "$DYNFILL" train --config tiny.ini --set train.time_budget=20s --set train.log_every=100 \
  --set train.val_every=1000 --out c --quiet 2> err.txt || { cat err.txt; fail "budget run with sparse logging failed"; }
$PY - <<'PY'
import json
rows = [json.loads(l) for l in open("c/metrics.jsonl")]
train = [r for r in rows if "loss" in r]
val = [r for r in rows if "val_loss" in r]
assert [r["step"] for r in train] == [40] and abs(train[0]["train_seconds"] - 20.0) < 1e-9, rows
assert [r["step"] for r in val] == [40] and val[0]["val_loss"] > 0, rows
print("a budget shorter than log_every: the last step's record and validation", train[0]["loss"], val[0]["val_loss"])
PY
# --minutes: 0.5 min at 0.75 s per step is 40 steps too; train.steps plays no part
DFL_FAKE_SECONDS_PER_STEP=0.75 "$DYNFILL" train --config tiny.ini --minutes 0.5 --set train.steps=3 --out b --quiet
[ "$(h5attr b/ckpt.h5 step)" = 40 ] || fail "--minutes run stopped at step $(h5attr b/ckpt.h5 step)"

# SIGTERM somewhere in the middle, then --resume: the same end as one uninterrupted run
export DFL_FAKE_SECONDS_PER_STEP=0.1
BUDGET=train.time_budget=20s # 200 steps
sed -i 's/log_every = 1/log_every = 10/' tiny.ini
"$DYNFILL" train --config tiny.ini --set $BUDGET --out straight --quiet
[ "$(h5attr straight/ckpt.h5 step)" = 200 ] || fail "straight run: step $(h5attr straight/ckpt.h5 step)"
"$DYNFILL" train --config tiny.ini --set $BUDGET --out split --quiet 2> err.txt &
pid=$!
for _ in $(seq 1 600); do
  [ -s split/metrics.jsonl ] && break
  sleep 0.05
done
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" = 0 ] || { cat err.txt; fail "SIGTERM: exit code $rc"; }
stopped=$(h5attr split/ckpt.h5 step)
[ "$stopped" -lt 200 ] || fail "the run finished (step $stopped) before SIGTERM; raise the budget"
"$DYNFILL" train --resume --out split --quiet
STOPPED=$stopped $PY - <<'PY'
import h5py, os
a, b = h5py.File("straight/ckpt.h5", "r"), h5py.File("split/ckpt.h5", "r")
assert a.attrs["step"] == b.attrs["step"] == 200, (a.attrs["step"], b.attrs["step"])
assert a.attrs["train_seconds"] == b.attrs["train_seconds"]
n = 0
for g in ("params", "ema", "adam_m", "adam_v"):
    for name in a[g]:
        assert a[g][name][:].tobytes() == b[g][name][:].tobytes(), (g, name)
        n += 1
assert a.attrs["std_scale"].tobytes() == b.attrs["std_scale"].tobytes()
print("stopped at", os.environ["STOPPED"], "resumed to 200: bit-identical tensors:", n)
PY
unset DFL_FAKE_SECONDS_PER_STEP

rc=0; "$DYNFILL" train --config tiny.ini --set train.time_budget=5x --out bad 2> err.txt || rc=$?
[ "$rc" = 2 ] && grep -q "train.time_budget" err.txt || { cat err.txt; fail "bad budget: rc $rc"; }
rc=0; "$DYNFILL" train --config tiny.ini --minutes -1 --out bad 2> err.txt || rc=$?
[ "$rc" = 2 ] && grep -q -- "--minutes" err.txt || { cat err.txt; fail "bad --minutes: rc $rc"; }
rc=0; DFL_FAKE_SECONDS_PER_STEP=fast "$DYNFILL" train --config tiny.ini --out bad 2> err.txt || rc=$?
[ "$rc" = 2 ] && grep -q "DFL_FAKE_SECONDS_PER_STEP" err.txt || { cat err.txt; fail "bad fake clock: rc $rc"; }
echo ok
