# Shared set-up for the train/impute integration tests: a temporary
# directory, a small observed advection dataset (truth kept aside) and a
# tiny network config. Sourced by the test scripts.
set -euo pipefail
: "${DYNFILL:?DYNFILL must point at the dynfill binary}"
PY=/usr/bin/python3
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

# h5attr FILE NAME: print a root attribute
h5attr() { $PY -c "import h5py,sys; v=h5py.File(sys.argv[1],'r').attrs[sys.argv[2]]; print(v.decode() if isinstance(v,bytes) else v)" "$1" "$2"; }

# eval_json PRED: print mse_missing from dynfill eval --json
mse_missing() { "$DYNFILL" eval --pred "$1" --truth truth.h5 --json | $PY -c "import json,sys; print(json.load(sys.stdin)['mse_missing'])"; }
