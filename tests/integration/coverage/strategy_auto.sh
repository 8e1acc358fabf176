#!/usr/bin/env bash
# method.strategy = auto end to end: `dynfill train` (the default strategy)
# chooses from the training file's masks and stores the choice in the
# checkpoint; `dynfill coverage` makes the same choice:
#   pixel:0.3 and stations -> pixel, swath strips -> empirical,
#   block:3x3:8 -> block (on a 4x4 grid: empirical);
# dynfill info says what auto would choose;
# a named strategy is kept (no choice logged); impute reads the stored one;
# empirical contexts work for a one-sample file and a batch of one (the
# sample's own mask, shifted).
set -uo pipefail
: "${DYNFILL:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
PY=/usr/bin/python3

"$DYNFILL" gen --kind advection --n 24 --size 24 --seed 1 --out "$work/truth.h5" >/dev/null 2>&1 || fail "gen"
cat > "$work/tiny.ini" <<INI
[model]
base = 8
mult = 1,2
nres = 1
[train]
steps = 2
batch = 4
threads = 1
val_every = 0
[infer]
# the impute checks below draw the empirical contexts: train keeps them (no context choice)
context = trained
INI

stored() { # the strategy in a checkpoint's stored config
    $PY - "$1" <<'PYEOF'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    text = f.attrs["config"]
    text = text.decode() if isinstance(text, bytes) else text
for line in text.splitlines():
    if line.replace(" ", "").startswith("strategy="):
        print(line.split("=", 1)[1].strip())
PYEOF
}

check() { # pattern, expected strategy, extra train options
    local pattern=$1 want=$2
    shift 2
    local tag=${pattern//[:.]/_}
    "$DYNFILL" mask --in "$work/truth.h5" --pattern "$pattern" --seed 2 --out "$work/$tag.h5" >/dev/null 2>&1 ||
        fail "mask $pattern"
    "$DYNFILL" train --config "$work/tiny.ini" --data "$work/$tag.h5" --out "$work/run_${tag}_$want" "$@" \
        >"$work/$tag.log" 2>&1 || { cat "$work/$tag.log"; fail "$pattern: train exit $?"; }
    grep "method.strategy = auto" "$work/$tag.log"
    grep -q "method.strategy = auto: $want: " "$work/$tag.log" || { cat "$work/$tag.log"; fail "$pattern: not $want"; }
    local got
    got=$(stored "$work/run_${tag}_$want/ckpt.h5")
    [ "$got" = "$want" ] || fail "$pattern: checkpoint stores '$got', not '$want'"
    "$DYNFILL" coverage --data "$work/$tag.h5" "$@" --samples 50 >"$work/$tag.cov" 2>&1 || fail "$pattern: coverage"
    grep -q "method.strategy = auto: $want: " "$work/$tag.cov" || { cat "$work/$tag.cov"; fail "$pattern: coverage chose otherwise"; }
    grep -q "^coverage: strategy $want" "$work/$tag.cov" || fail "$pattern: coverage did not estimate for $want"
}

check pixel:0.3 pixel
check stations:40:0.1 pixel
check swath:4:0.3 empirical
check block:3x3:8 block
check block:3x3:8 empirical --set method.grid=4x4

# dynfill info says what auto would choose
"$DYNFILL" info "$work/swath_4_0_3.h5" >"$work/info.out" 2>&1 || fail "info"
grep -q "method.strategy = auto would train with empirical: the missing entries come in patches" "$work/info.out" ||
    { cat "$work/info.out"; fail "info does not name auto's choice"; }

# a named strategy is kept, without a choice in the log
"$DYNFILL" train --config "$work/tiny.ini" --data "$work/swath_4_0_3.h5" --out "$work/named" \
    --set method.strategy=pixel >"$work/named.log" 2>&1 || fail "named: train"
grep -q "method.strategy = auto" "$work/named.log" && fail "named strategy: auto choice logged"
[ "$(stored "$work/named/ckpt.h5")" = pixel ] || fail "named strategy not stored"

# impute uses the stored choice: empirical needs two samples per batch, and says so for one
"$DYNFILL" impute --ckpt "$work/run_swath_4_0_3_empirical/ckpt.h5" --in "$work/swath_4_0_3.h5" --out "$work/pred.h5" -K 2 \
    --quiet >/dev/null 2>&1 || fail "impute with the chosen empirical strategy"
# by default an empirical pass holds 64 samples (partners from all 24 here), not 64 rows (6 samples at
# K 10): the same as --batch 640, not as passes of two samples
for b in default 640 20; do
    opt=(); [ "$b" = default ] || opt=(--batch "$b")
    "$DYNFILL" impute --ckpt "$work/run_swath_4_0_3_empirical/ckpt.h5" --in "$work/swath_4_0_3.h5" \
        --out "$work/pool_$b.h5" -K 10 "${opt[@]}" --quiet >/dev/null 2>&1 || fail "impute --batch $b"
done
$PY - "$work" <<'PYEOF' || fail "an empirical pass of 64 samples by default"
import sys, h5py
p = lambda b: h5py.File(f"{sys.argv[1]}/pool_{b}.h5", "r")["pred"][...].tobytes()
assert p("default") == p("640"), "default pass differs from 64 samples per pass"
assert p("default") != p("20"), "passes of two samples gave the same partners"
PYEOF
# a one-sample file: its empirical contexts pair its mask with itself, shifted
"$DYNFILL" gen --kind advection --n 1 --size 24 --seed 9 --out "$work/one_truth.h5" >/dev/null 2>&1 || fail "gen one"
"$DYNFILL" mask --in "$work/one_truth.h5" --pattern swath:4:0.3 --seed 3 --out "$work/one.h5" >/dev/null 2>&1 ||
    fail "mask one"
"$DYNFILL" impute --ckpt "$work/run_swath_4_0_3_empirical/ckpt.h5" --in "$work/one.h5" --out "$work/one_pred.h5" -K 4 \
    --quiet >"$work/one.log" 2>&1 || { cat "$work/one.log"; fail "impute of a one-sample file with empirical contexts"; }
$PY - "$work/one_pred.h5" "$work/one.h5" <<'PYEOF' || fail "one-sample prediction"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f, h5py.File(sys.argv[2], "r") as g:
    pred, std, m, obs = f["pred"][...], f["std"][...], g["mask"][...] != 0, g["obs"][...]
assert pred.shape == (1, 1, 24, 24) and np.isfinite(pred).all() and np.isfinite(std).all()
assert (pred[m] == obs[m]).all()            # observed entries returned exactly
assert (std[~m] > 0).all()                  # the K shifted contexts differ
PYEOF
# training with a batch of one: each sample pairs with its own shifted mask
"$DYNFILL" train --config "$work/tiny.ini" --data "$work/swath_4_0_3.h5" --out "$work/batch1" --set train.batch=1 \
    >"$work/batch1.log" 2>&1 || { cat "$work/batch1.log"; fail "empirical training with a batch of one"; }
grep -q "method.strategy = auto: empirical" "$work/batch1.log" || fail "batch 1: not empirical"
echo "strategy_auto: ok"
