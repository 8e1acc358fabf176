#!/usr/bin/env bash
# Style checks of the C / CUDA sources (run by scripts/test.sh, so by CI):
#   1. layout: every tracked .c/.h/.cu/.cuh file is exactly what clang-format
#      makes of it with the repository's .clang-format;
#   2. cppcheck on the host code and the CPU backend (warning, performance,
#      portability) with zero findings, apart from the suppressions in
#      scripts/cppcheck.supp (each one says why).
# `bash scripts/lint.sh --fix` rewrites the layout in place instead of checking it.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.c' '*.h' '*.cu' '*.cuh')
if [ "${1:-}" = "--fix" ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
bad=0
for f in "${files[@]}"; do
  if ! clang-format "$f" | cmp -s - "$f"; then
    echo "lint: $f is not clang-format clean (bash scripts/lint.sh --fix; diff: clang-format $f | diff $f -)"
    bad=1
  fi
done
out=$(cppcheck --enable=warning,performance,portability --std=c11 --quiet --error-exitcode=0 \
  -D__GNUC__ -I include -I kernels -I host --suppress=missingIncludeSystem \
  --suppressions-list=scripts/cppcheck.supp host kernels/cpu kernels/cuda_absent.c 2>&1 || true)
if [ -n "$out" ]; then
  echo "$out"
  echo "lint: cppcheck findings above"
  bad=1
fi
[ $bad -eq 0 ] && echo "lint: ${#files[@]} files clang-format clean, cppcheck clean"
exit $bad
