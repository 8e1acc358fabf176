#!/usr/bin/env bash
# model.channels = shared (docs/design.md, "Shared channels"), end to end:
#  - training a shared network on [N, C, H, W] is training the same
#    one-channel network on the reshaped file [N*C, 1, H, W] (normalisation
#    made equal): parameters and EMA bit-identical, and so are `impute`'s
#    /pred, raw /std and /members on the test file and on its reshape (the
#    calibrations differ: they hide entries per sample);
#  - the network has one channel (stem 2 -> base) and the checkpoint keeps C;
#  - --resume continues the stream of (sample, channel) pairs bit-exactly;
#  - impute writes [N, C, H, W], keeps the observations, --members
#    [N, K, C, H, W], and beats mean filling on the missing entries;
#  - model.channels = auto (the default) trains shared on channels drawn
#    from different samples and joint on a channel with its affine copies,
#    says so, stores the choice, and `info` names it.
source "$(dirname "$0")/common.sh"
"$DYNFILL" gen --kind advection --frames 3 --n 48 --size 16 --seed 3 --out truth.h5 >/dev/null
"$DYNFILL" gen --kind advection --frames 3 --n 8 --size 16 --seed 103 --out test_truth.h5 >/dev/null
"$DYNFILL" mask --in truth.h5 --pattern pixel:0.4 --per-channel --seed 4 --out obs.h5 >/dev/null
"$DYNFILL" mask --in test_truth.h5 --pattern pixel:0.4 --per-channel --seed 104 --out test_obs.h5 >/dev/null
write_tiny_config 16
# val_fraction 0.125: 6 of 48 samples, 18 of the 144 fields of the reshape
sed -i 's/^val_fraction = .*/val_fraction = 0.125/' tiny.ini
# one mean and std for every channel, and the reshaped files with the same statistics
$PY - <<'PY'
import h5py, numpy as np
for name in ("obs", "test_obs"):
    with h5py.File(name + ".h5", "r+") as f, h5py.File(name + "_flat.h5", "w") as g:
        obs, mask = f["/obs"][:], f["/mask"][:]
        n, c, h, w = obs.shape
        m = mask.astype(bool)
        mean, std = float(obs[m].mean()), float(obs[m].std())
        f.attrs["mean"] = np.full(c, mean)
        f.attrs["std"] = np.full(c, std)
        g.create_dataset("/obs", data=obs.reshape(n * c, 1, h, w))
        g.create_dataset("/mask", data=mask.reshape(n * c, 1, h, w))
        for k, v in f.attrs.items():
            g.attrs[k] = v
        g.attrs["channels"] = np.array([b"field"])
        g.attrs["mean"] = np.array([mean])
        g.attrs["std"] = np.array([std])
with h5py.File("test_truth.h5", "r") as f, h5py.File("test_truth_flat.h5", "w") as g:
    t = f["/truth"][:]
    g.create_dataset("/truth", data=t.reshape(-1, 1, *t.shape[2:]))
    for k, v in f.attrs.items():
        g.attrs[k] = v
    g.attrs["channels"] = np.array([b"field"])
PY
"$DYNFILL" train --config tiny.ini --set model.channels=shared --out shared > shared.log 2>&1
grep -q "model.channels = shared: one one-channel network for the 3 channels" shared.log ||
  fail "train does not say the channels are shared: $(cat shared.log)"
"$DYNFILL" train --config tiny.ini --data obs_flat.h5 --out flat --quiet
"$DYNFILL" train --config tiny.ini --set model.channels=shared --set train.steps=8 --out split --quiet
"$DYNFILL" train --resume --set train.steps=16 --out split --quiet
grep -q "channels = shared" shared/config.ini || fail "config.ini lacks model.channels"
$PY - <<'PY'
import h5py
a, b, c = (h5py.File(p + "/ckpt.h5", "r") for p in ("shared", "flat", "split"))
assert a.attrs["channels"] == 3 and b.attrs["channels"] == 1, (a.attrs["channels"], b.attrs["channels"])
n = 0
for g in ("params", "ema"):
    for name in a[g]:
        assert a[g][name].shape == b[g][name].shape, (name, a[g][name].shape, b[g][name].shape)
        assert a[g][name][:].tobytes() == b[g][name][:].tobytes(), (g, name, "shared differs from the reshape")
        assert a[g][name][:].tobytes() == c[g][name][:].tobytes(), (g, name, "resume differs")
        n += 1
stem = [a["params"][k].shape for k in a["params"] if k.startswith("stem") and k.endswith("weight")]
assert stem and stem[0][1] == 2, stem  # [base, 2, 3, 3]: one channel and its mask
assert a.attrs["data_position"] == c.attrs["data_position"] and a.attrs["data_epoch"] == c.attrs["data_epoch"]
print("bit-identical tensors:", n)
PY
"$DYNFILL" impute --ckpt shared/ckpt.h5 --in test_obs.h5 --out pred.h5 -K 4 --members --raw-std --quiet
"$DYNFILL" impute --ckpt flat/ckpt.h5 --in test_obs_flat.h5 --out pred_flat.h5 -K 4 --members --raw-std --quiet
"$DYNFILL" impute --ckpt shared/ckpt.h5 --in test_obs_flat.h5 --out bad.h5 --quiet 2> bad.err && fail "1-channel data accepted"
grep -q "trained on 3" bad.err || fail "the channel error does not name the counts: $(cat bad.err)"
test ! -e bad.h5 || fail "a refused impute left bad.h5"
$PY - <<'PY'
import h5py, numpy as np
p, q, o = h5py.File("pred.h5", "r"), h5py.File("pred_flat.h5", "r"), h5py.File("test_obs.h5", "r")
pred, mem, obs, mask = p["/pred"][:], p["/members"][:], o["/obs"][:], o["/mask"][:].astype(bool)
n, c, h, w = obs.shape
assert pred.shape == (n, c, h, w) and mem.shape == (n, 4, c, h, w), (pred.shape, mem.shape)
assert np.array_equal(pred[mask], obs[mask]), "observed entries must be kept exactly"
flat = q["/pred"][:].reshape(n, c, h, w)
assert pred.tobytes() == flat.tobytes(), np.abs(pred - flat).max()
fm = q["/members"][:].reshape(n, c, 4, h, w).transpose(0, 2, 1, 3, 4)
assert mem.tobytes() == fm.tobytes(), "members: [N, K, C, H, W] of the reshape's"
assert p["/std"][:].tobytes() == q["/std"][:].reshape(n, c, h, w).tobytes(), "the ensemble spread"
print("impute: the reshape's prediction, spread and members")
PY
# a longer run beats mean filling
write_tiny_config 150
"$DYNFILL" train --config tiny.ini --set model.channels=shared --out long --quiet
"$DYNFILL" impute --ckpt long/ckpt.h5 --in test_obs.h5 --out pred_long.h5 -K 6 --quiet
"$DYNFILL" impute --method mean --in test_obs.h5 --out mean.h5 --quiet
m_model=$(mse_missing_vs test_truth.h5 pred_long.h5); m_mean=$(mse_missing_vs test_truth.h5 mean.h5)
echo "mse_missing shared $m_model mean-fill $m_mean"
$PY -c "import sys; a,b=map(float,sys.argv[1:]); sys.exit(0 if a < 0.8*b else 1)" "$m_model" "$m_mean" \
  || fail "shared model ($m_model) does not beat mean filling ($m_mean)"
# model.channels = auto: unrelated channels -> shared, a channel and its affine copies -> joint
$PY - <<'PY'
import h5py, numpy as np
with h5py.File("obs.h5", "r") as f:
    obs, mask, attrs = f["/obs"][:], f["/mask"][:], dict(f.attrs)
n = obs.shape[0]
for name in ("weak", "strong"):
    o = obs.copy()
    for k in (1, 2):
        if name == "weak":  # channel k of sample i: channel 0 of sample i + 7k
            o[:, k] = obs[(np.arange(n) + 7 * k) % n, 0]
        else:               # 2 x channel 0 + 1, and minus channel 0
            o[:, k] = 2.0 * obs[:, 0] + 1.0 if k == 1 else -obs[:, 0]
    with h5py.File(name + ".h5", "w") as g:
        g.create_dataset("/obs", data=o)
        g.create_dataset("/mask", data=mask[:, :1])  # one mask for the channels
        for key, v in attrs.items():
            if key not in ("mean", "std"):
                g.attrs[key] = v
PY
write_tiny_config 2
for case in weak:shared strong:joint; do
  file=${case%%:*} want=${case##*:}
  "$DYNFILL" train --config tiny.ini --data "$file.h5" --out "auto_$file" > "auto_$file.log" 2>&1 ||
    fail "auto on $file: $(cat "auto_$file.log")"
  grep -q "model.channels = auto: $want: " "auto_$file.log" || fail "auto on $file is not $want: $(cat "auto_$file.log")"
  grep -q "^channels = $want" "auto_$file/config.ini" || fail "auto on $file: config.ini does not store $want"
  "$DYNFILL" info "$file.h5" | grep -q "model.channels = auto would train $want: " || fail "info on $file is not $want"
done
"$DYNFILL" train --config tiny.ini --data weak.h5 --set model.channels=joint --out named > named.log 2>&1 ||
  fail "named joint: $(cat named.log)"
grep -q "model.channels = auto" named.log && fail "a named model.channels was chosen again"
echo ok
