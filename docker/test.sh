#!/usr/bin/env bash
# Builds the CPU image of docker/Dockerfile (CUDA_FROM=none) with buildah and
# tests it, without Docker or network access beyond Debian's mirrors:
#
#   1. base: localhost/debian:bookworm, made with mmdebstrap (minbase) when no
#      such image is in buildah's storage yet; kept there, so later runs on
#      the same machine start from it (DFL_REBASE=1 makes it again);
#   2. build: `buildah bud --layers` of the build stage (tagged
#      localhost/dynfill-build:cpu) and of the runtime stage
#      (localhost/dynfill:cpu); the layer cache keeps the Debian packages of
#      both between runs, so a source change recompiles dynfill only;
#   3. in the runtime image (buildah run --isolation chroot, as its user
#      dynfill): `dynfill --help`; a short demo (gen, mask, train 20 steps on
#      the image's configs/demo_ns_pixel.ini, impute K=4 and mean filling,
#      eval; the MSE on the missing entries must be finite; both printed); a
#      2-rank `mpirun` training run through dynfill-rank (6 steps, world 2);
#   4. in the build image: a named subset of the CI tests, ctest -R
#      "$DFL_IMAGE_TESTS" (data, train, impute, eval and the MPI tests).
#
# Prints the time of each part and the image sizes. Needs root (buildah's
# storage in /var/lib/containers); installs buildah and mmdebstrap with
# apt-get when missing. Exit 77 (skip) when they cannot be installed.
# Options (environment): DFL_IMAGE (localhost/dynfill:cpu), DFL_BASE_IMAGE
# (localhost/debian:bookworm), DFL_MIRROR (http://deb.debian.org/debian),
# DFL_REBASE=1, DFL_IMAGE_TESTS (ctest -R regex), DFL_NO_CACHE=1 (cold build),
# DFL_IMAGE_PRUNE=0 (keep the images a rebuild replaced; by default they are
# removed with `buildah rmi --prune`).
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${DFL_IMAGE:-localhost/dynfill:cpu}
BUILD_IMAGE=${IMAGE%:*}-build:${IMAGE##*:}
BASE=${DFL_BASE_IMAGE:-localhost/debian:bookworm}
MIRROR=${DFL_MIRROR:-http://deb.debian.org/debian}
TESTS=${DFL_IMAGE_TESTS:-^(data_|eval_|train_train_impute|train_resume_bitexact|train_signals|dist_mpi_)}
export BUILDAH_ISOLATION=chroot

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: docker/test.sh needs root (buildah's storage, mmdebstrap)"
  exit 77
fi
need=()
command -v buildah >/dev/null || need+=(buildah)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
if [ ${#need[@]} -gt 0 ]; then
  echo "image: installing ${need[*]}"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${need[@]}" uidmap; } >/dev/null 2>&1 || { echo "SKIP: could not install ${need[*]}"; exit 77; }
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dfl-image.XXXXXX")
containers=()
cleanup() {
  local rc=$? c
  for c in "${containers[@]}"; do buildah rm "$c" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
  [ "$rc" -eq 0 ] || echo "FAIL: docker/test.sh (exit $rc); log of the failing part above"
  exit "$rc"
}
trap cleanup EXIT

t_all=$(date +%s)
step() { echo "== $* ($(date -u +%T))"; }
took() { echo "   took $(($(date +%s) - $1)) s"; }
size_of() { buildah images --format '{{.Size}}' "$1" 2>/dev/null | head -n 1; }

# ---- 1. base image
if [ "${DFL_REBASE:-0}" = 1 ] || ! buildah inspect --type image "$BASE" >/dev/null 2>&1; then
  step "base: mmdebstrap --variant=minbase bookworm -> $BASE"
  t=$(date +%s)
  mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$WORK/rootfs.tar" \
    "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" \
    "deb ${MIRROR%/debian}/debian-security bookworm-security main"
  c=$(buildah from scratch)
  containers+=("$c")
  buildah add --quiet "$c" "$WORK/rootfs.tar" / >/dev/null
  buildah config --cmd /bin/bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$c"
  buildah commit --quiet --rm "$c" "$BASE" >/dev/null
  containers=()
  rm -f "$WORK/rootfs.tar"
  took "$t"
else
  echo "== base: $BASE is present (DFL_REBASE=1 makes it again)"
fi

# ---- 2. build and runtime images
bud=(buildah bud --isolation chroot --layers --force-rm -f docker/Dockerfile --ignorefile docker/Dockerfile.dockerignore
     --build-arg BASE_IMAGE="$BASE" --build-arg CUDA_FROM=none)
[ "${DFL_NO_CACHE:-0}" = 1 ] && bud+=(--no-cache)
step "build stage -> $BUILD_IMAGE"
t=$(date +%s)
"${bud[@]}" --target build -t "$BUILD_IMAGE" . >"$WORK/build.log" 2>&1 || { tail -n 60 "$WORK/build.log"; exit 1; }
took "$t"
step "runtime stage -> $IMAGE"
t=$(date +%s)
"${bud[@]}" -t "$IMAGE" . >"$WORK/runtime.log" 2>&1 || { tail -n 60 "$WORK/runtime.log"; exit 1; }
took "$t"
echo "   sizes: $BASE $(size_of "$BASE"), $BUILD_IMAGE $(size_of "$BUILD_IMAGE"), $IMAGE $(size_of "$IMAGE")"

run_in() { # [buildah run options] CONTAINER -- COMMAND...
  buildah run --isolation chroot "$@"
}

# ---- 3. the runtime image
rt=$(buildah from "$IMAGE")
containers+=("$rt")
step "runtime: dynfill --help"
run_in "$rt" -- dynfill --help >"$WORK/help.txt"
grep -q "train" "$WORK/help.txt" || { cat "$WORK/help.txt"; echo "FAIL: dynfill --help lists no train"; exit 1; }
echo "   $(head -n 1 "$WORK/help.txt")"
[ "$(run_in "$rt" -- id -u)" = 1000 ] || { echo "FAIL: the runtime image does not run as uid 1000"; exit 1; }

step "runtime: demo (gen, mask, train 20 steps, impute, eval)"
t=$(date +%s)
run_in "$rt" -- bash -c '
  set -euo pipefail
  export OMP_NUM_THREADS=2
  cd "$(mktemp -d)"
  dynfill gen --kind ns --n 48 --size 32 --seed 1 --out truth.h5
  dynfill mask --in truth.h5 --pattern pixel:0.2 --seed 2 --out obs.h5
  dynfill gen --kind ns --n 8 --size 32 --seed 101 --out test_truth.h5
  dynfill mask --in test_truth.h5 --pattern pixel:0.2 --seed 102 --out test_obs.h5
  dynfill train --config /usr/local/share/dynfill/configs/demo_ns_pixel.ini --data obs.h5 --quiet \
    --set train.steps=20 --set train.batch=4 --set train.val_every=0 --out run
  dynfill impute --ckpt run/ckpt.h5 --in test_obs.h5 --out pred.h5 -K 4
  dynfill impute --method mean --in test_obs.h5 --out mean.h5
  dynfill eval --pred pred.h5 --truth test_truth.h5 --json > eval_model.json
  dynfill eval --pred mean.h5 --truth test_truth.h5 --json > eval_mean.json
  python3 - <<"PYEOF"
import json, math
m = json.load(open("eval_model.json"))["mse_missing"]
b = json.load(open("eval_mean.json"))["mse_missing"]
print(f"   demo: mse_missing model (20 steps, K=4) {m:.4g}, mean filling {b:.4g}")
assert math.isfinite(m) and m > 0, m
PYEOF
' || { echo "FAIL: demo in the runtime image"; exit 1; }
took "$t"

step "runtime: mpirun -np 2 dynfill train (6 steps)"
t=$(date +%s)
run_in "$rt" -- bash -c '
  set -euo pipefail
  cd "$(mktemp -d)"
  dynfill gen --kind ns --n 16 --size 16 --seed 1 --out truth.h5
  dynfill mask --in truth.h5 --pattern pixel:0.5 --seed 2 --out obs.h5
  mpirun -np 2 --oversubscribe -x OMP_NUM_THREADS=1 dynfill-rank dynfill train \
    --config /usr/local/share/dynfill/configs/demo_ns_pixel.ini --data obs.h5 --quiet \
    --set train.steps=6 --set train.batch=2 --set train.val_every=0 --set model.base=16 --out run
  python3 -c "import h5py; f = h5py.File(\"run/ckpt.h5\", \"r\"); a = f.attrs; \
assert int(a[\"step\"]) == 6 and int(a[\"world_size\"]) == 2, dict(a); print(\"   2 ranks: step 6, world_size 2\")"
' || { echo "FAIL: mpirun in the runtime image"; exit 1; }
took "$t"

# ---- 4. the CI tests named by $TESTS, in the build image
bt=$(buildah from "$BUILD_IMAGE")
containers+=("$bt")
step "build image: ctest -R '$TESTS'"
t=$(date +%s)
run_in --workingdir /src/dynfill/build "$bt" -- env OMP_NUM_THREADS=2 \
  ctest -R "$TESTS" -LE 'device|cluster' --output-on-failure --timeout 900 -j1 >"$WORK/ctest.log" 2>&1 \
  || { tail -n 80 "$WORK/ctest.log"; echo "FAIL: tests in the build image"; exit 1; }
grep -E "tests passed|Passed|Failed|Not Run|Skipped" "$WORK/ctest.log" | sed 's/^/   /' | tail -n 40
took "$t"

# Images this run replaced (untagged, unreferenced) would pile up run after
# run: remove them. The base image and the layers the current images are made
# of stay, so the next build still starts from the cache. DFL_IMAGE_PRUNE=0 keeps them.
if [ "${DFL_IMAGE_PRUNE:-1}" = 1 ]; then
  buildah rmi --prune >/dev/null 2>&1 || true
fi

echo "PASS: docker/test.sh: $IMAGE built and tested in $(($(date +%s) - t_all)) s" \
  "(runtime image $(size_of "$IMAGE"))"
