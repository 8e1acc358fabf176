#!/usr/bin/env bash
# The test command (README, .ci/run): installs dependencies, builds CPU and
# CUDA (compile-only without a GPU), checks the style (scripts/lint.sh), runs
# every test but the device suite, then the unit tests again under
# ASan/UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
# In CI the CUDA backend must compile (sm_90, sm_80): a machine without nvcc fails here instead of
# silently testing less. Elsewhere it is built when nvcc is found.
CUDA_MODE=${DYNFILL_CUDA:-$([ "${CI:-}" = true ] && echo ON || echo AUTO)}
BUILD_DIR=build bash scripts/build.sh -DDYNFILL_CUDA="$CUDA_MODE"
# Layout (clang-format, .clang-format) and cppcheck on the host code: zero findings.
bash scripts/lint.sh
# As many at a time as the cores hold (each test declares its 2 threads, tests/CMakeLists.txt), then the
# cluster label alone (each of its tests runs a Slurm of its own and builds the image).
(cd build && ctest -LE 'device|cluster' --output-on-failure --timeout 900 -j"$(nproc)")
(cd build && ctest -L cluster --output-on-failure --timeout 1800 -j1)
# Sanitizer build: CPU only, unit label (oneDNN's JIT code is not instrumented).
BUILD_DIR=build-asan BUILD_TYPE=Debug bash scripts/build.sh -DDYNFILL_SANITIZE=ON -DDYNFILL_CUDA=OFF
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$PWD/../tests/lsan.supp ctest -L unit --output-on-failure --timeout 900 -j"$(nproc)")
