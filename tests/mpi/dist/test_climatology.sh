#!/usr/bin/env bash
# data.climatology on two ranks (docs/design.md, "Climatology"): rank 0
# estimates the mean field and sends it to rank 1. Two ranks with per-rank
# batch B and `mean` train to the weights of one rank with batch 2B and
# `mean` (norm-wise relative error of /params <= 1e-5), with the same
# /climatology and data_std; and the field changed the run (the weights
# differ from `none`'s).
source "$(dirname "$0")/common.sh"

make_data "$WORK/data.h5" 18
mpi 2 "$DYNFILL" train --config "$HERE/tiny.ini" --quiet --data "$WORK/data.h5" --set train.batch=2 \
  --set data.climatology=mean --out "$WORK/two" || fail "2-rank run exited $?"
train --data "$WORK/data.h5" --set train.batch=4 --set data.climatology=mean --out "$WORK/one" ||
  fail "1-rank run exited $?"
train --data "$WORK/data.h5" --set train.batch=4 --set data.climatology=none --out "$WORK/none" ||
  fail "1-rank run without the field exited $?"
compare "$WORK/two/ckpt.h5" "$WORK/one/ckpt.h5" 1e-5 step=6 world_size=2 ||
  fail "2 ranks x batch 2 differ from 1 rank x batch 4 with data.climatology = mean"
if compare "$WORK/one/ckpt.h5" "$WORK/none/ckpt.h5" 1e-5 >/dev/null; then
  fail "data.climatology = mean trained the weights of none"
fi
"$PY" - "$WORK/two/ckpt.h5" "$WORK/one/ckpt.h5" <<'PYEOF' || fail "the field differs"
import h5py, sys
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert "climatology" in a and "climatology" in b
assert a["climatology"][:].tobytes() == b["climatology"][:].tobytes()
assert (a.attrs["data_std"] == b.attrs["data_std"]).all()
print("the same /climatology on 2 ranks and on 1")
PYEOF
echo ok
