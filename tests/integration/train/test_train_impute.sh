#!/usr/bin/env bash
# A tiny training run: the loss falls, the checkpoint carries the run's
# metadata, and the model's K-ensemble imputation beats mean filling on
# the missing entries; /std is positive off the mask and 0 on it.
source "$(dirname "$0")/common.sh"
make_data 96 32 pixel:0.3
write_tiny_config 150
"$DYNFILL" train --config tiny.ini --out run --quiet
test -f run/ckpt.h5 || fail "no checkpoint"
test -f run/config.ini || fail "no config.ini"
$PY - <<'PY'
import json
def constant(c): raise ValueError("metrics.jsonl holds " + c)  # JSON has no NaN
rows = [json.loads(l, parse_constant=constant) for l in open("run/metrics.jsonl")]
for r in rows:  # the record layout docs/eval.md describes; other_cpu_load once 2 s or more have passed
    assert set(r) - {"other_cpu_load"} in ({"step", "loss", "lr", "grad_norm", "samples_per_s"}, {"step", "val_loss"}), r
    assert "other_cpu_load" not in r or ("loss" in r and 0 <= r["other_cpu_load"]), r
    assert type(r["step"]) is int, r
loss = [r["loss"] for r in rows if "loss" in r]
val = [r["val_loss"] for r in rows if "val_loss" in r]
assert len(loss) == 30, len(loss)
first, last = sum(loss[:3]) / 3, sum(loss[-3:]) / 3
print("loss first %.4f last %.4f, val %s" % (first, last, val))
assert last < 0.7 * first, (first, last)
assert len(val) >= 2 and all(v == v for v in val)
PY
"$DYNFILL" plot --metrics run --out loss.png > /dev/null || fail "plot cannot read the run's metrics.jsonl"
[ "$(h5attr run/ckpt.h5 step)" = 150 ] || fail "checkpoint step"
[ "$(h5attr run/ckpt.h5 world_size)" = 1 ] || fail "world size"
"$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out pred.h5 -K 6 --quiet
"$DYNFILL" impute --method mean --in obs.h5 --out mean.h5 --quiet
m_model=$(mse_missing pred.h5); m_mean=$(mse_missing mean.h5)
echo "mse_missing model $m_model mean-fill $m_mean"
$PY -c "import sys; a,b=map(float,sys.argv[1:]); sys.exit(0 if a < 0.8*b else 1)" "$m_model" "$m_mean" \
  || fail "model ($m_model) does not beat mean filling ($m_mean)"
$PY - <<'PY'
import h5py, numpy as np
p = h5py.File("pred.h5", "r"); o = h5py.File("obs.h5", "r")
pred, std, mask, obs = p["/pred"][:], p["/std"][:], p["/mask"][:].astype(bool), o["/obs"][:]
m = np.broadcast_to(mask, pred.shape)
assert np.array_equal(pred[m], obs[m]), "observed entries must be kept exactly"
assert np.all(std[m] == 0) and np.all(std[~m] > 0), "spread: 0 on observed, > 0 elsewhere"
assert np.all(np.isfinite(pred))
PY
echo "ok"
