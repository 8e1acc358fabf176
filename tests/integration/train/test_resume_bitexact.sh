#!/usr/bin/env bash
# Resume continues bit-exactly: 16 steps in one go equal 8 steps, stop,
# --resume to 16 (parameters, EMA and Adam moments compared bit for bit).
source "$(dirname "$0")/common.sh"
make_data 48 16 pixel:0.4
write_tiny_config 16
"$DYNFILL" train --config tiny.ini --out straight --quiet
"$DYNFILL" train --config tiny.ini --set train.steps=8 --out split --quiet
[ "$(h5attr split/ckpt.h5 step)" = 8 ] || fail "first half did not stop at step 8"
"$DYNFILL" train --resume --set train.steps=16 --out split --quiet
$PY - <<'PY'
import h5py, numpy as np
a, b = h5py.File("straight/ckpt.h5", "r"), h5py.File("split/ckpt.h5", "r")
assert a.attrs["step"] == b.attrs["step"] == 16
n = 0
for g in ("params", "ema", "adam_m", "adam_v"):
    for name in a[g]:
        x, y = a[g][name][:], b[g][name][:]
        assert x.tobytes() == y.tobytes(), (g, name, np.abs(x - y).max())
        n += 1
assert a.attrs["data_epoch"] == b.attrs["data_epoch"] and a.attrs["data_position"] == b.attrs["data_position"]
print("bit-identical tensors:", n)
PY
# metrics.jsonl of the split run holds both halves, and the last step logs the same loss
$PY - <<'PY'
import json
rows = lambda p: [json.loads(l) for l in open(p) if '"loss"' in l]
a, b = rows("straight/metrics.jsonl"), rows("split/metrics.jsonl")
assert [r["step"] for r in b] == [5, 8, 10, 15, 16], [r["step"] for r in b]
assert a[-1]["step"] == b[-1]["step"] == 16 and a[-1]["loss"] == b[-1]["loss"], (a[-1], b[-1])
PY
# The same with the recipe keys away from their defaults: the training-time
# distribution (method.t_sampling) and the symmetry augmentation
# (data.augment_*; advection declares shifts, flips and rot90) come back from
# the checkpoint's configuration and continue the same draws.
[ "$(h5attr obs.h5 symmetry)" = "shift_x,shift_y,flip_x,flip_y,rot90" ] || fail "mask did not carry gen's symmetry"
KEYS=(--set method.t_sampling=low_share --set method.t_low_share=0.3 --set data.augment_shift=true
  --set data.augment_symmetry=true)
"$DYNFILL" train --config tiny.ini "${KEYS[@]}" --out straight_aug --quiet
"$DYNFILL" train --config tiny.ini "${KEYS[@]}" --set train.steps=8 --out split_aug --quiet
"$DYNFILL" train --resume --set train.steps=16 --out split_aug --quiet
grep -q "t_sampling = low_share" split_aug/config.ini || fail "config.ini lacks method.t_sampling"
grep -q "augment_symmetry = 1" split_aug/config.ini || fail "config.ini lacks data.augment_symmetry"
$PY - <<'PY'
import h5py
a, b, c = (h5py.File(p + "/ckpt.h5", "r") for p in ("straight_aug", "split_aug", "straight"))
for name in a["params"]:
    assert a["params"][name][:].tobytes() == b["params"][name][:].tobytes(), name
assert any(a["params"][n][:].tobytes() != c["params"][n][:].tobytes() for n in a["params"]), "the keys changed nothing"
print("augmented, low_share: resume bit-identical")
PY
echo ok
