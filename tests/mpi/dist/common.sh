# Shared helpers of the distributed (mpi label) tests. Sourced by each test
# with DFL_HAVE_MPI as $1; needs $DYNFILL and $DFL_SOURCE_DIR (ctest sets them).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
export OMP_NUM_THREADS=1

if [ "${1:-ON}" != "ON" ]; then
  echo "SKIP: dynfill was built without MPI"
  exit 77
fi
MPIRUN=$(command -v mpirun || true)
if [ -z "$MPIRUN" ]; then
  echo "SKIP: no mpirun on PATH"
  exit 77
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dfl-dist.XXXXXX")
# A launcher started in the background (tests set $launcher) never outlives
# the test: on any exit it is stopped before the work folder goes.
launcher=""
cleanup() {
  if [ -n "$launcher" ] && kill -0 "$launcher" 2>/dev/null; then
    kill -TERM "$launcher" 2>/dev/null || true
    wait "$launcher" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# mpirun with N ranks, one thread each. --allow-run-as-root: CI runs as
# root; --oversubscribe: 2 ranks on a machine that may report fewer slots.
mpi() {
  local n=$1
  shift
  "$MPIRUN" --allow-run-as-root --oversubscribe -np "$n" -x OMP_NUM_THREADS=1 \
    --mca btl_vader_single_copy_mechanism none "$@"
}

# The same in the background; $launcher is mpirun's own pid (exec), so a
# signal sent to it reaches mpirun, not a wrapping shell.
mpi_bg() {
  local n=$1
  shift
  ( exec "$MPIRUN" --allow-run-as-root --oversubscribe -np "$n" -x OMP_NUM_THREADS=1 \
    --mca btl_vader_single_copy_mechanism none "$@" ) &
  launcher=$!
}

make_data() { "$PY" "$HERE/make_data.py" "$@"; }

compare() { "$PY" "$HERE/compare_ckpt.py" "$@"; }

train() { "$DYNFILL" train --config "$HERE/tiny.ini" --quiet "$@"; }

fail() {
  echo "FAIL: $*"
  exit 1
}
