# Shared set-up for the train/impute integration tests: a temporary
# directory, a small observed advection dataset (truth kept aside) and a
# tiny network config. Sourced by the test scripts.
set -euo pipefail
: "${DYNFILL:?DYNFILL must point at the dynfill binary}"
PY=/usr/bin/python3
# the tests' shared Python helpers (gap_bins.py), importable from the temporary directory
export PYTHONPATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)${PYTHONPATH:+:$PYTHONPATH}"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
export DFL_PROGRESS=off
WORK=$(mktemp -d /tmp/dfl_train_test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

fail() { echo "FAIL: $*" >&2; exit 1; }

# make_data N SIZE PATTERN: truth.h5 + obs.h5
make_data() {
  "$DYNFILL" gen --kind advection --n "$1" --size "$2" --seed 3 --out truth.h5 >/dev/null 2>&1
  "$DYNFILL" mask --in truth.h5 --pattern "$3" --seed 4 --out obs.h5 >/dev/null 2>&1
}

write_tiny_config() {
  cat > tiny.ini <<INI
[data]
path = obs.h5
val_fraction = 0.1

[model]
base = 8
mult = 1,2
nres = 1

[method]
strategy = pixel

[train]
steps = ${1:-40}
batch = 8
lr = 3e-3
warmup = 5
schedule = constant
log_every = 5
val_every = 20
ckpt_every = 0
seed = 11
INI
}

# impute_refuses INPUT NEEDLE ARGS...: impute with run/ckpt.h5 on INPUT and ARGS exits 2, its
# message names NEEDLE and it writes nothing
impute_refuses() {
  local in=$1 needle=$2 rc
  shift 2
  set +e
  "$DYNFILL" impute --ckpt run/ckpt.h5 --in "$in" --out bad.h5 "$@" 2> bad_err.txt
  rc=$?
  set -e
  [ "$rc" = 2 ] || { cat bad_err.txt; fail "impute $*: exit $rc, want 2"; }
  grep -q -- "$needle" bad_err.txt || { cat bad_err.txt; fail "impute $*: message does not name $needle"; }
  [ ! -e bad.h5 ] || fail "impute $* wrote bad.h5"
}

# resume_refuses RUN_DIR KEY VALUE: `train --resume --set KEY=VALUE` on RUN_DIR exits 2, its message
# names KEY, and the checkpoint is byte for byte what it was (a resumed run cannot change KEY)
resume_refuses() {
  local dir=$1 key=$2 value=$3 rc=0 before
  before=$(md5sum "$dir/ckpt.h5")
  "$DYNFILL" train --resume --set train.steps=60 --set "$key=$value" --out "$dir" 2> resume_refused.txt || rc=$?
  [ "$rc" = 2 ] || { cat resume_refused.txt; fail "resume with another $key: exit $rc, want 2"; }
  grep -q -- "$key" resume_refused.txt || { cat resume_refused.txt; fail "the refusal does not name $key"; }
  [ "$(md5sum "$dir/ckpt.h5")" = "$before" ] || fail "the refused resume with another $key changed the checkpoint"
}

# h5attr FILE NAME: print a root attribute
h5attr() { $PY -c "import h5py,sys; v=h5py.File(sys.argv[1],'r').attrs[sys.argv[2]]; print(v.decode() if isinstance(v,bytes) else v)" "$1" "$2"; }

# eval_json PRED: print mse_missing from dynfill eval --json
mse_missing() { "$DYNFILL" eval --pred "$1" --truth truth.h5 --json | $PY -c "import json,sys; print(json.load(sys.stdin)['mse_missing'])"; }

# train_block_ns: Navier-Stokes (Kolmogorov) 32x32 with 8 of 9 blocks of a 3x3 grid missing:
# truth.h5/obs.h5 (200 training fields), test_truth.h5/test_obs.h5 (32 held-out fields),
# and run/ckpt.h5, a base-8 two-level network trained with the block strategy for 400 steps of 8.
train_block_ns() {
  "$DYNFILL" gen --kind ns --n 200 --size 32 --seed 1 --out truth.h5 >/dev/null
  "$DYNFILL" gen --kind ns --n 32 --size 32 --seed 101 --out test_truth.h5 >/dev/null
  "$DYNFILL" mask --in truth.h5 --pattern block:3x3:8 --seed 2 --out obs.h5 >/dev/null
  "$DYNFILL" mask --in test_truth.h5 --pattern block:3x3:8 --seed 102 --out test_obs.h5 >/dev/null
  cat > block.ini <<'INI'
[data]
val_fraction = 0.05
[model]
base = 8
mult = 1,2
nres = 1
[method]
strategy = block
[train]
steps = 400
batch = 8
lr = 3e-3
warmup = 50
schedule = cosine
ema = 0.99
log_every = 10
val_every = 0
ckpt_every = 0
INI
  "$DYNFILL" train --config block.ini --data obs.h5 --out run --quiet || fail "train"
}

# mse_missing_vs TRUTH PRED: mse_missing of PRED against TRUTH
mse_missing_vs() { "$DYNFILL" eval --pred "$2" --truth "$1" --json | $PY -c "import json,sys; print(json.load(sys.stdin)['mse_missing'])"; }
