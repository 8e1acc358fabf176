#!/usr/bin/env bash
# Configures and builds dynfill in ${BUILD_DIR:-build} (Release, CPU backend,
# CUDA backend compiled when nvcc is present, MPI when found).
# Extra arguments go to cmake, e.g. -DDYNFILL_SANITIZE=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" "$@" >"$BUILD_DIR.configure.log" 2>&1 \
  || { cat "$BUILD_DIR.configure.log"; exit 1; }
grep -h "^-- dynfill:" "$BUILD_DIR.configure.log" || true
cmake --build "$BUILD_DIR" -j"$(nproc)"
