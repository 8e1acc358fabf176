#!/usr/bin/env bash
# On a fixed model, the variance of the K-ensemble mean (over independent
# context draws, i.e. imputation seeds) falls like 1/K: fit the slope of
# log variance against log K over K = 1..16 and require -1 +- 0.15. The
# network's own mean (--raw-pred): the spline correction moves it towards a
# spline that does not depend on the draws (docs/design.md, "Spline correction").
source "$(dirname "$0")/common.sh"
make_data 64 16 pixel:0.3
write_tiny_config 40
"$DYNFILL" train --config tiny.ini --out run --quiet
for K in 1 2 4 8 16; do
  for seed in 1 2 3 4 5 6 7 8; do
    "$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out "p_${K}_${seed}.h5" -K "$K" --seed "$seed" --raw-pred --quiet
  done
done
$PY - <<'PY'
import h5py, numpy as np
Ks = [1, 2, 4, 8, 16]
V = []
for K in Ks:
    preds = np.stack([h5py.File(f"p_{K}_{s}.h5", "r")["/pred"][:] for s in range(1, 9)])
    mask = h5py.File(f"p_{K}_1.h5", "r")["/mask"][:].astype(bool)
    missing = ~np.broadcast_to(mask, preds.shape[1:])
    V.append(preds.var(axis=0, ddof=1)[missing].mean())
slope = np.polyfit(np.log(Ks), np.log(V), 1)[0]
print("K", Ks, "variance", ["%.3g" % v for v in V], "slope %.3f" % slope)
assert abs(slope + 1) < 0.15, slope
PY
echo ok
