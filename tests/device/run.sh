#!/usr/bin/env bash
# The device suite and the GPU benchmarks in one call (docs/cuda-backend.md).
#
#   tests/device/run.sh                    on a GPU machine with the whole toolchain (CUDA, cuDNN,
#                                          HDF5, oneDNN, ...): configure + build $BUILD_DIR
#                                          (default build-cuda), then run everything below
#   tests/device/run.sh --bundle [DIR]     on a build machine (no GPU needed): build, then pack the
#                                          binaries and the shared libraries they load (ldd) into
#                                          DIR/bundle.tar.xz (default DIR: device_bundle, git-ignored)
#   tests/device/run.sh --bundle [DIR] --image IMAGE
#                                          the same from a CUDA image of docker/Dockerfile (buildah's
#                                          storage; e.g. localhost/dynfill:pypi): dynfill and the
#                                          libraries it loads are taken from IMAGE itself, the test
#                                          programs from its build stage IMAGE-build (localhost/dynfill-build:pypi,
#                                          as docker/test.sh tags it), so what runs on the GPU is what
#                                          users get; MANIFEST records the image and its CUDA libraries
#   DFL_BUNDLE=DIR tests/device/run.sh     on a GPU machine without the toolchain: run the binaries
#                                          of a bundle made with --bundle
#
# Runs: the device tests (CUDA ops vs CPU backend in fp32/tf32/bf16, short training on both backends),
# `dynfill bench kernels`, `dynfill bench train --backend cuda` for the two configs of issue 5 in bf16
# (and fp32 for reference), and the PyTorch peer (bf16 autocast, channels_last) on the same models.
# Logs go to $OUT (default ./device_out); a short table is printed last.
# cuBLAS, cuDNN and NCCL are not bundled (too large): they come from the nvidia-* Python wheels of the
# machine's PyTorch (their lib folders go on LD_LIBRARY_PATH), or from the system.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$ROOT/device_out}
BUILD_DIR=${BUILD_DIR:-$ROOT/build-cuda}
STEPS=${DFL_BENCH_STEPS:-30}
WARMUP=${DFL_BENCH_WARMUP:-10}
CONFIG_A="--C 1 --size 64 --batch 16 --base 32 --mult 1,2,2 --nres 2"
CONFIG_B="--C 4 --size 128 --batch 32 --base 64 --mult 1,2,2,2 --nres 2"
TARGETS="dynfill device_ops device_train device_large"

die() { echo "run.sh: $*" >&2; exit 1; }

build() {
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DDYNFILL_CUDA=ON \
    -DDYNFILL_CUDA_ARCHS="${DYNFILL_CUDA_ARCHS:-90;80}" >"$BUILD_DIR.configure.log" 2>&1 \
    || { cat "$BUILD_DIR.configure.log"; die "configure failed"; }
  cmake --build "$BUILD_DIR" -j"${JOBS:-$(nproc)}" --target $TARGETS || die "build failed"
}

# Libraries that every Linux has, and the CUDA libraries the GPU machine provides (driver; cuBLAS,
# cuDNN, NCCL from its wheels). libcudart is small and bundled as a fallback.
skip_lib() {
  case "$(basename "$1")" in
    linux-vdso*|ld-linux*|libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libresolv.so*|libutil.so*|libnss_*) return 0 ;;
    libstdc++.so*|libgcc_s.so*) return 0 ;;
    libcuda.so*|libnvidia*|libcublas*|libcudnn*|libnccl*) return 0 ;;
  esac
  return 1
}

make_bundle() {
  local dir=${1:-$ROOT/device_bundle}
  build
  local stage
  stage=$(mktemp -d)
  mkdir -p "$stage/bin" "$stage/lib"
  cp "$BUILD_DIR/dynfill" "$BUILD_DIR/tests/device/device_ops" "$BUILD_DIR/tests/device/device_train" \
    "$BUILD_DIR/tests/device/device_large" "$stage/bin/"
  for b in "$stage"/bin/*; do
    ldd "$b" | awk '/=>/ {print $3}' | while read -r lib; do
      [ -f "$lib" ] || continue
      skip_lib "$lib" || cp -L -n "$lib" "$stage/lib/"
    done
  done
  strip --strip-unneeded "$stage"/bin/* 2>/dev/null || true
  mkdir -p "$dir"
  rm -f "$dir/bundle.tar.xz"
  tar -C "$stage" -cJf "$dir/bundle.tar.xz" bin lib
  echo "bundle: $dir/bundle.tar.xz ($(du -h "$dir/bundle.tar.xz" | cut -f1)); libraries: $(ls "$stage/lib" | tr '\n' ' ')"
  rm -rf "$stage"
}

# The bundle from an image (buildah): IMAGE's /usr/local/bin/dynfill and the libraries its ldd
# (run inside IMAGE) lists, the device test programs from the build-stage image. cuBLAS, cuDNN and
# NCCL stay out as above (the device tool carries at most 64 MiB); their versions in IMAGE go to
# MANIFEST, and the run prints the ones it loads (env.log), so a mismatch is visible.
make_bundle_from_image() {
  local dir=${1:-$ROOT/device_bundle} image=$2
  local build_image=${DFL_BUNDLE_BUILD_IMAGE:-${image%:*}-build:${image##*:}}
  command -v buildah >/dev/null || die "--image needs buildah"
  buildah inspect --type image "$image" >/dev/null 2>&1 || die "no image $image in buildah's storage (docker/test.sh builds one)"
  local stage ctr bctr mnt bmnt
  stage=$(mktemp -d)
  ctr=$(buildah from --quiet "$image") || die "buildah from $image failed"
  bctr=""
  # the working containers and the staging folder go whatever happens (die exits)
  BUNDLE_CLEAN=("$ctr")
  BUNDLE_STAGE=$stage
  trap 'buildah rm "${BUNDLE_CLEAN[@]}" >/dev/null 2>&1; rm -rf "$BUNDLE_STAGE"' EXIT
  mnt=$(buildah mount "$ctr") || die "buildah mount failed (run as root)"
  mkdir -p "$stage/bin" "$stage/lib"
  cp "$mnt/usr/local/bin/dynfill" "$stage/bin/"
  local libs
  libs=$(buildah run --isolation chroot --user root "$ctr" -- ldd /usr/local/bin/dynfill) || die "ldd in $image failed"
  if ! grep -q libcudnn <<<"$libs" && [ "${DFL_BUNDLE_ALLOW_CPU:-0}" != 1 ]; then
    die "$image: its dynfill has no CUDA backend (built with CUDA_FROM=none?); DFL_BUNDLE_ALLOW_CPU=1 packs it anyway"
  fi
  local lib
  while read -r lib; do
    [ -n "$lib" ] || continue
    skip_lib "$lib" || cp -L -n "$mnt$lib" "$stage/lib/" || die "cannot copy $lib from $image"
  done < <(awk '/=>/ && $3 ~ /^\// {print $3}' <<<"$libs")
  if buildah inspect --type image "$build_image" >/dev/null 2>&1; then
    bctr=$(buildah from --quiet "$build_image")
    BUNDLE_CLEAN+=("$bctr")
    bmnt=$(buildah mount "$bctr")
    for p in device_ops device_train device_large; do
      if [ -x "$bmnt/src/dynfill/build/tests/device/$p" ]; then cp "$bmnt/src/dynfill/build/tests/device/$p" "$stage/bin/"
      else echo "bundle: $build_image has no tests/device/$p (a CPU-only build?)"; fi
    done
  else
    echo "bundle: no build-stage image $build_image: the bundle has dynfill only (set DFL_BUNDLE_BUILD_IMAGE)"
  fi
  strip --strip-unneeded "$stage"/bin/* 2>/dev/null || true
  {
    echo "image: $image ($(buildah inspect --type image --format '{{.FromImageID}}' "$image" 2>/dev/null || true))"
    echo "build image: $build_image"
    echo "made: $(date -u +%FT%TZ) on $(hostname)"
    echo "CUDA libraries in the image (not bundled; the GPU machine provides them):"
    grep -E 'lib(cudart|cublas|cublasLt|cudnn[a-z_]*|nccl|nvrtc|nvJitLink)\.so' <<<"$libs" | sed 's/^/  /' || true
    ls "$mnt/usr/local/cuda/dist-info" 2>/dev/null | sed 's/^/  wheel /' || true
    buildah run --isolation chroot --user root "$ctr" -- sh -c \
      "dpkg-query -W -f='  deb \${Package} \${Version}\n' 'libcudnn*' 'libnccl*' 'libcublas*' 'cuda-cudart*' 2>/dev/null" \
      2>/dev/null || true
  } >"$stage/MANIFEST"
  mkdir -p "$dir"
  rm -f "$dir/bundle.tar.xz"
  tar -C "$stage" -cJf "$dir/bundle.tar.xz" bin lib MANIFEST
  echo "bundle: $dir/bundle.tar.xz ($(du -h "$dir/bundle.tar.xz" | cut -f1)) from $image; binaries: $(ls "$stage/bin" | tr '\n' ' ')"
}

if [ "${1:-}" = "--bundle" ]; then
  shift
  bundle_dir="" bundle_image=${DFL_BUNDLE_IMAGE:-}
  while [ "$#" -gt 0 ]; do
    case $1 in
      --image) [ "$#" -ge 2 ] || die "--image needs an image name"; bundle_image=$2; shift 2 ;;
      *) bundle_dir=$1; shift ;;
    esac
  done
  if [ -n "$bundle_image" ]; then make_bundle_from_image "$bundle_dir" "$bundle_image"
  else make_bundle "$bundle_dir"; fi
  exit $?
fi

mkdir -p "$OUT"
ENVLOG=$OUT/env.log
: >"$ENVLOG"

# ---- binaries ----
if [ -n "${DFL_BUNDLE:-}" ]; then
  [ -f "$DFL_BUNDLE/bundle.tar.xz" ] || die "DFL_BUNDLE=$DFL_BUNDLE has no bundle.tar.xz (make one with --bundle)"
  UNPACK=$(mktemp -d /tmp/dfl_bundle.XXXXXX)
  tar -C "$UNPACK" -xJf "$DFL_BUNDLE/bundle.tar.xz" || die "cannot unpack the bundle"
  BIN=$UNPACK/bin
  BUNDLE_LIB=$UNPACK/lib
  # a bundle made from an image (--image) says which image and CUDA libraries it came with
  [ -f "$UNPACK/MANIFEST" ] && { echo "== bundle MANIFEST"; cat "$UNPACK/MANIFEST"; } | tee -a "$ENVLOG"
else
  build
  BIN=$BUILD_DIR
  BUNDLE_LIB=
fi
DYNFILL=$BIN/dynfill
if [ -x "$BIN/device_ops" ]; then OPS=$BIN/device_ops; TRAIN=$BIN/device_train; LARGE=$BIN/device_large
else OPS=$BIN/tests/device/device_ops; TRAIN=$BIN/tests/device/device_train; LARGE=$BIN/tests/device/device_large; fi

# ---- library path: the nvidia wheels of the machine's Python, then the bundle ----
PY=${PYTHON:-python3}
WHEEL_LIBS=$("$PY" - <<'EOF' 2>/dev/null
import os
try:
    import nvidia
except ImportError:
    raise SystemExit(0)
seen = []
for base in list(nvidia.__path__):
    for root, dirs, files in os.walk(base):
        if any(f.startswith("lib") and ".so" in f for f in files) and root not in seen:
            seen.append(root)
print(":".join(seen))
EOF
)
LIBPATH=$WHEEL_LIBS
[ -n "$BUNDLE_LIB" ] && LIBPATH=${LIBPATH:+$LIBPATH:}$BUNDLE_LIB
LIBPATH=${LIBPATH:+$LIBPATH:}${LD_LIBRARY_PATH:-}
# Only dynfill's programs get this path: the bundle's libraries must not shadow Python's.
# Every step has a time limit (a kernel that hangs must not eat the lease): DFL_STEP_LIMIT, read
# once here; a stage sets its own with `STEP_LIMIT=N dfl ...` (dfl reads STEP_LIMIT, not
# DFL_STEP_LIMIT; e2e.sh, not run through dfl, reads DFL_STEP_LIMIT itself).
STEP_LIMIT=${DFL_STEP_LIMIT:-120}
dfl() { LD_LIBRARY_PATH=$LIBPATH OMP_NUM_THREADS=${OMP_NUM_THREADS:-8} timeout -k 5 "$STEP_LIMIT" "$@"; }
# A dynfill wrapper for the Python peers (they run it as a subprocess with their own environment).
WRAP=$(mktemp -d /tmp/dfl_wrap.XXXXXX)/dynfill
printf '#!/bin/sh\nLD_LIBRARY_PATH=%s OMP_NUM_THREADS=%s exec %s "$@"\n' "$LIBPATH" "${OMP_NUM_THREADS:-8}" "$DYNFILL" >"$WRAP"
chmod +x "$WRAP"
SECONDS=0
# Stages to run (DFL_STAGES, default all): tests large kernels nccl train peers profile e2e
STAGES=" ${DFL_STAGES:-tests large kernels nccl train peers profile e2e} "
want() { [[ "$STAGES" == *" $1 "* ]]; }
OPS_RC=skipped TRAIN_RC=skipped KER_RC=skipped E2E_RC=skipped LARGE_RC=skipped

{
  echo "== $(date -u)  $(uname -a)"
  nvidia-smi -L 2>&1 || true
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv 2>&1 || true
  echo "LD_LIBRARY_PATH for dynfill: $LIBPATH"
  for b in "$DYNFILL" "$OPS" "$TRAIN"; do echo "-- ldd $b"; LD_LIBRARY_PATH=$LIBPATH ldd "$b" 2>&1; done
  "$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>&1
} >>"$ENVLOG" 2>&1
if LD_LIBRARY_PATH=$LIBPATH ldd "$DYNFILL" "$OPS" "$TRAIN" 2>&1 | grep -q "not found"; then
  echo "run.sh: missing shared libraries (see $ENVLOG):" >&2
  LD_LIBRARY_PATH=$LIBPATH ldd "$DYNFILL" "$OPS" "$TRAIN" 2>&1 | grep "not found" | sort -u >&2
fi

# ---- 1. device tests ----
if want tests; then
echo "== device tests"
dfl "$OPS" 2>&1 | tee "$OUT/device_ops.log" | grep -E "FAIL|summary|device:|comparisons" ; OPS_RC=${PIPESTATUS[0]}
dfl "$TRAIN" 2>&1 | tee "$OUT/device_train.log" | tail -n 8 ; TRAIN_RC=${PIPESTATUS[0]}
echo "device_ops exit $OPS_RC, device_train exit $TRAIN_RC (${SECONDS}s)"
# A crash (not a plain failed comparison, exit 1) gets one pass under compute-sanitizer's memcheck.
if [ "$OPS_RC" != 0 ] && [ "$OPS_RC" != 1 ] && command -v compute-sanitizer >/dev/null; then
  echo "== compute-sanitizer memcheck device_ops --precision fp32"
  STEP_LIMIT=150 dfl compute-sanitizer --tool memcheck --show-backtrace device "$OPS" --precision fp32 \
    >"$OUT/sanitizer_ops.log" 2>&1
  grep -m 12 -E "Invalid|ERROR SUMMARY|at 0x|by thread|Address" "$OUT/sanitizer_ops.log"
fi
if [ "$TRAIN_RC" != 0 ] && [ "$TRAIN_RC" != 1 ] && command -v compute-sanitizer >/dev/null; then
  echo "== compute-sanitizer memcheck device_train"
  STEP_LIMIT=150 dfl compute-sanitizer --tool memcheck --show-backtrace device "$TRAIN" \
    >"$OUT/sanitizer_train.log" 2>&1
  grep -m 12 -E "Invalid|ERROR SUMMARY|at 0x|by thread|Address" "$OUT/sanitizer_train.log"
fi

fi

# ---- 1b. tensors past 2^31 elements (issue 13): conv (batch-split cuDNN calls) fp32 + bf16,
# elementwise with 64-bit indices, linear (cuBLAS row chunks); about 60 GB of device memory ----
if want large; then
echo "== device_large (tensors past 2^31 elements)"
if [ -x "$LARGE" ]; then
  STEP_LIMIT=${DFL_LARGE_LIMIT:-240} dfl "$LARGE" 2>&1 | tee "$OUT/device_large.log" | grep -E "FAIL|elements|device_large" ; LARGE_RC=${PIPESTATUS[0]}
  [ "$LARGE_RC" = 77 ] && LARGE_RC=skipped
else
  echo "no device_large binary (an older bundle?)"
fi
echo "device_large exit $LARGE_RC (${SECONDS}s)"

fi

# ---- 2. kernel bandwidth ----
if want kernels; then
echo "== bench kernels"
dfl "$DYNFILL" bench kernels 2>&1 | tee "$OUT/bench_kernels.log" ; KER_RC=${PIPESTATUS[0]}

fi

# ---- 2b. NCCL communicator, world size 1 (the single-GPU NCCL path of issue 6) ----
if want nccl; then
echo "== bench allreduce (NCCL, 1 rank)"
dfl "$DYNFILL" bench allreduce --comm nccl --max 64M 2>&1 | tee "$OUT/bench_allreduce_nccl.log" | tail -n 4 ; NCCL_RC=${PIPESTATUS[0]}
echo "bench allreduce nccl exit $NCCL_RC" >>"$ENVLOG"

fi

# ---- 3. training throughput, dynfill and PyTorch ----
if want train; then
echo "== bench train"
BT=$OUT/bench_train.jsonl
: >"$BT"
for cfg in A B; do
  flags=$CONFIG_A; [ $cfg = B ] && flags=$CONFIG_B
  # bf16 with cuDNN's heuristics (the default, bit-reproducible), bf16 with timed algorithm choice
  # (DFL_CUDNN_FIND=1, like PyTorch's cudnn.benchmark), fp32 for reference
  for variant in bf16 bf16-find fp32; do
    prec=${variant%-find}; find=0; [ "$variant" = bf16-find ] && find=1
    # shellcheck disable=SC2086
    line=$(DFL_CUDNN_FIND=$find dfl "$DYNFILL" bench train --backend cuda --precision $prec --json --steps "$STEPS" --warmup "$WARMUP" $flags 2>>"$ENVLOG" | grep '^{')
    [ -n "$line" ] && echo "{\"config\": \"$cfg\", \"side\": \"dynfill\", \"precision\": \"$variant\", \"result\": $line}" >>"$BT" \
      || echo "{\"config\": \"$cfg\", \"side\": \"dynfill\", \"precision\": \"$variant\", \"error\": \"see env.log\"}" >>"$BT"
  done
  # shellcheck disable=SC2086
  line=$("$PY" "$ROOT/tests/device/torch_peer.py" --precision bf16 --steps "$STEPS" --warmup "$WARMUP" $flags 2>>"$ENVLOG" | grep '^{')
  [ -n "$line" ] && echo "{\"config\": \"$cfg\", \"side\": \"torch\", \"precision\": \"bf16\", \"result\": $line}" >>"$BT" \
    || echo "{\"config\": \"$cfg\", \"side\": \"torch\", \"precision\": \"bf16\", \"error\": \"see env.log\"}" >>"$BT"
done
cat "$BT"
echo "(${SECONDS}s)"

fi

# ---- 3b. issue 7's three peer configs: dynfill cuda bf16 against PyTorch bf16 autocast ----
if want peers; then
echo "== benchmarks/peers/train_throughput.py (GPU)"
# eager and torch.compile, 3 interleaved rounds (each a fresh process; inductor's cache makes later compiles short)
timeout -k 5 420 "$PY" "$ROOT/benchmarks/peers/train_throughput.py" --dynfill "$WRAP" --torch-python "$PY" \
  --rounds 3 --steps 20 --warmup 5 --json "$OUT/peers_gpu.json" \
  >"$OUT/peers_gpu.log" 2>&1; PEER_RC=$?
grep -E "^\|" "$OUT/peers_gpu.log"; echo "train_throughput exit $PEER_RC (${SECONDS}s)"

fi

# ---- 3b'. where the time of a config-B step goes: ncu kernel durations, by family ----
if want profile; then
  echo "== kernel time breakdown of config B (ncu, 1 warm-up + 1 step, bf16)"
  NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  if [ -n "$NCU" ]; then
    # shellcheck disable=SC2086
    STEP_LIMIT=180 dfl "$NCU" --clock-control none --metrics gpu__time_duration.sum --csv \
      "$DYNFILL" bench train --backend cuda --precision bf16 --steps 1 --warmup 1 $CONFIG_B >"$OUT/ncu_B.csv" 2>&1
    echo "ncu exit $? (${SECONDS}s)"
    "$PY" "$ROOT/tests/device/kernel_breakdown.py" "$OUT/ncu_B.csv" | tee "$OUT/breakdown_B.txt"
  else
    echo "no ncu on this machine"
  fi
fi

# ---- 3c. end to end on the GPU: the demo's data and config through the CLI ----
if want e2e; then
  echo "== end to end: gen, mask, train --backend cuda (+ SIGTERM and --resume), impute --backend cuda, eval"
  DFL_STEP_LIMIT=200 bash "$ROOT/tests/device/e2e.sh" "$WRAP" "$OUT/e2e" 2>&1 | tee "$OUT/e2e.log" | grep -E "^(e2e|\|)"
  E2E_RC=${PIPESTATUS[0]}
  echo "e2e exit $E2E_RC (${SECONDS}s)"
fi

# ---- 4. summary table (last) ----
"$PY" - "$OUT" "$OPS_RC" "$TRAIN_RC" "$KER_RC" "$LARGE_RC" <<'EOF' | tee "$OUT/summary.txt"
import json, os, re, sys
out, ops_rc, train_rc, ker_rc, large_rc = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
def read(name):
    try:
        return open(os.path.join(out, name)).read()
    except OSError:
        return ""
print()
print("== summary (%s)" % out)
ops = read("device_ops.log")
print("device_ops   exit %s" % ops_rc)
for m in re.finditer(r"^(\S+)\s+summary: (\d+) comparisons, (\d+) failed; worst err/tol ([\d.e+-]+|inf|nan) \((.*)\)$", ops, re.M):
    print("  %-5s %5s comparisons, %3s failed, worst err/tol %s (%s)" % m.groups())
for line in ops.splitlines():
    if "FAIL" in line:
        print("  " + line.strip())
tr = read("device_train.log")
print("device_train exit %s" % train_rc)
for line in tr.splitlines():
    if "worst loss rel" in line or "uploads:" in line:
        print("  " + line.strip())
print("device_large exit %s" % large_rc)
for line in read("device_large.log").splitlines():
    if "FAIL" in line or line.startswith("device_large:"):
        print("  " + line.strip())
ker = read("bench_kernels.log")
print("bench kernels exit %s" % ker_rc)
for line in ker.splitlines():
    if "%" in line and not line.startswith("kernel"):
        cols = line.split()
        print("  %-30s %8s GB/s %7s" % (line[:28].strip(), cols[-2], cols[-1]))
rows = {}
for line in read("bench_train.jsonl").splitlines():
    try:
        r = json.loads(line)
    except ValueError:
        continue
    rows[(r["config"], r["side"], r["precision"])] = r.get("result")
print("training samples/s (median step):")
print("  %-6s %13s %13s %13s %13s %10s" % ("config", "dynfill bf16", "bf16 (find)", "dynfill fp32", "torch bf16",
                                         "best ratio"))
for cfg in ("A", "B"):
    d = rows.get((cfg, "dynfill", "bf16")); df = rows.get((cfg, "dynfill", "bf16-find"))
    f = rows.get((cfg, "dynfill", "fp32")); t = rows.get((cfg, "torch", "bf16"))
    fmt = lambda r: "%.1f" % r["samples_per_s"] if r else "n/a"
    best = max([r["samples_per_s"] for r in (d, df) if r] or [0])
    ratio = "%.2fx" % (best / t["samples_per_s"]) if best and t else "n/a"
    print("  %-6s %13s %13s %13s %13s %10s" % (cfg, fmt(d), fmt(df), fmt(f), fmt(t), ratio))
print("  A: --C 1 --size 64 --batch 16 --base 32 --mult 1,2,2 --nres 2")
print("  B: --C 4 --size 128 --batch 32 --base 64 --mult 1,2,2,2 --nres 2")
try:
    peers = json.load(open(os.path.join(out, "peers_gpu.json")))
    print("issue 7 peer configs (dynfill cuda bf16 / PyTorch bf16 autocast):")
    for r in peers["results"]:
        print("  %s  dynfill %8.1f  torch %8.1f samples/s  ratio %.2fx" % (
            r["config"], r["dynfill"]["samples_per_s"], r["torch"]["samples_per_s"], r["ratio"]))
except (OSError, ValueError, KeyError, TypeError) as e:
    print("issue 7 peer configs: n/a (%s)" % e)
EOF
ok() { [ "$1" = 0 ] || [ "$1" = skipped ]; }
ok "$OPS_RC" && ok "$TRAIN_RC" && ok "$KER_RC" && ok "$E2E_RC" && ok "$LARGE_RC"
