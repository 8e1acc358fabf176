#!/usr/bin/env bash
# Files larger than memory (docs/data.md, "Bounded memory"): in a memory
# cgroup capped at CAP (page cache included), on files 4x the cap,
#  - `import` of an HDF5 array converts it (one time step in memory),
#  - `train` runs its steps (lazy open, the loader reads samples as needed),
#  - `bench io` reads through the whole file,
# each ending with exit 0 rather than being killed by the kernel's OOM
# killer; the cgroup's peak usage is printed. Root and the cgroup v1 memory
# controller are needed (exit 77 = skipped otherwise).
set -euo pipefail
: "${DYNFILL:?}"
PY=/usr/bin/python3
CAP_MB=${CAP_MB:-640}
CG=/sys/fs/cgroup/memory/dfl-bounded-$$
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dfl_bounded.XXXXXX")
cleanup() {
  if [ -d "$CG" ]; then
    while read -r p; do kill -9 "$p" 2>/dev/null || true; done <"$CG/cgroup.procs"
    sleep 0.2
    rmdir "$CG" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
if [ "$(id -u)" != 0 ] || ! mkdir "$CG" 2>/dev/null; then
  echo "SKIP: needs root and a writable cgroup v1 memory controller"
  exit 77
fi
echo $((CAP_MB * 1024 * 1024)) >"$CG/memory.limit_in_bytes"
export DFL_PROGRESS=off OMP_NUM_THREADS=2
cd "$WORK"
capped() { # run a command inside the capped cgroup; prints its peak usage
  echo 0 >"$CG/memory.max_usage_in_bytes" 2>/dev/null || true
  local rc=0
  sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$CG" "$@" || rc=$?
  echo "  peak $(($(cat "$CG/memory.max_usage_in_bytes") / 1048576)) MB of $CAP_MB MB: $*" >&2
  return $rc
}
fail() { echo "FAIL: $*" >&2; exit 1; }
file_mb=$((CAP_MB * 4))

# a dataset file of 4 x CAP, written outside the cgroup
"$DYNFILL" bench io --gb "$(echo "scale=3; $file_mb / 1000" | bc)" --size 64 --seconds 0.1 --keep >mk.txt 2>&1 || fail "bench io: $(cat mk.txt)"
# the file bench io names (not the newest *.h5 in TMPDIR: tests running
# alongside write their own there)
made=$(sed -n 's/^bench io: \([^,]*\.h5\), .*/\1/p' mk.txt | head -1)
[ -n "$made" ] && [ -f "$made" ] || fail "bench io did not name the file it kept: $(cat mk.txt)"
mv "$made" big.h5
size=$(stat -c %s big.h5)
[ "$size" -gt $((CAP_MB * 3 * 1048576)) ] || fail "test file of $size bytes is not several times the cap"

capped "$DYNFILL" bench io --data big.h5 --seconds 2 || fail "bench io under the cap"
cat > tiny.ini <<INI
[data]
val_fraction = 0.001
[model]
base = 8
mult = 1,2
nres = 1
[train]
steps = 20
batch = 16
ckpt_every = 0
val_every = 10
INI
capped "$DYNFILL" train --config tiny.ini --data big.h5 --out run --quiet || fail "train under the cap (exit $?)"

# an HDF5 array source of 4 x CAP [T, H, W] float32, imported under the cap
$PY - "$file_mb" <<'PY'
import h5py, numpy as np, sys
mb = int(sys.argv[1]); h, w = 128, 256
t = mb * 1048576 // (h * w * 4)
with h5py.File("src.h5", "w") as f:
    d = f.create_dataset("sst", (t, h, w), np.float32)
    for i in range(0, t, 256):
        n = min(256, t - i)
        block = np.random.default_rng(i).standard_normal((n, h, w), dtype=np.float32)
        block[:, :4, :] = np.nan
        d[i:i + n] = block
PY
capped "$DYNFILL" import --in src.h5 --var sst --out imported.h5 || fail "import under the cap (exit $?)"
"$DYNFILL" info imported.h5 >info.txt || fail "imported file: $(cat info.txt)"
grep -q "valid: yes" info.txt || fail "imported file: $(cat info.txt)"
echo "ok: import, train and bench io of files of 4 x $CAP_MB MB in a $CAP_MB MB cgroup"
