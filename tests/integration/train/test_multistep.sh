#!/usr/bin/env bash
# docs/design.md, "Multi-step sampler": on a tiny Navier-Stokes model (32x32, 8 of 9 blocks of a 3x3 grid missing,
# block strategy, as test_beats_harmonic.sh) the multi-step sampler, both updates, must not be worse than the
# single-step K-ensemble by more than 5 % in missing-entry MSE, and must beat harmonic interpolation. The sampler
# that drew its contexts over the whole field and let observed entries drift from x_obs scored 3-9x the single-step
# MSE on the README demo's model.
source "$(dirname "$0")/common.sh"
train_block_ns
mse() { mse_missing_vs test_truth.h5 "$1"; }
impute() { "$DYNFILL" impute --ckpt run/ckpt.h5 --in test_obs.h5 --out "$@" -K 10 --quiet || fail "impute $*"; }
impute single.h5
impute ddim.h5 --steps 4 --update ddim
impute x0.h5 --steps 4 --update x0
"$DYNFILL" impute --method harmonic --in test_obs.h5 --out harmonic.h5 --quiet || fail "harmonic"
single=$(mse single.h5); ddim=$(mse ddim.h5); x0=$(mse x0.h5); harm=$(mse harmonic.h5)
echo "missing-entry MSE: single step $single, --steps 4 ddim $ddim, --steps 4 x0 $x0, harmonic $harm"
for u in ddim x0; do
  m=${!u}
  $PY -c "import sys; m, s = map(float, sys.argv[1:]); sys.exit(0 if 0 < m <= 1.05 * s else 1)" "$m" "$single" \
    || fail "--steps 4 --update $u ($m) is worse than single step ($single) by more than 5 %"
  $PY -c "import sys; m, h = map(float, sys.argv[1:]); sys.exit(0 if m < h else 1)" "$m" "$harm" \
    || fail "--steps 4 --update $u ($m) does not beat harmonic ($harm)"
done
echo "PASS"
