#!/usr/bin/env bash
# Lays out NVIDIA's CUDA wheels from PyPI as a CUDA toolkit folder that nvcc,
# CMake (enable_language(CUDA), FindCUDAToolkit) and dynfill's CMakeLists.txt
# (find_library cudnn / nccl) use like NVIDIA's own installation.
#
#   bash docker/cuda_from_wheels.sh PREFIX WHEEL_SPEC...
#   e.g. bash docker/cuda_from_wheels.sh /usr/local/cuda nvidia-cuda-nvcc==13.0.88 nvidia-cuda-crt==13.0.88 \
#          nvidia-nvvm==13.0.88 nvidia-cuda-cccl==13.0.85 nvidia-cuda-runtime==13.0.96 nvidia-cublas==13.1.0.3 \
#          nvidia-cudnn-cu13==9.19.0.56 nvidia-nccl-cu13==2.28.9
#
# The CUDA 13 wheels install under site-packages/nvidia/cu13/{bin,include,lib,nvvm}
# (toolkit), nvidia/cudnn/{include,lib} and nvidia/nccl/{include,lib}. This
# script pip-installs them (no dependencies) into a staging folder, merges
# them into PREFIX (bin, include, lib, nvvm), adds the unversioned .so links
# the linker needs (the wheels ship only libX.so.N), lib64 -> lib and the
# targets/x86_64-linux/{include,lib} links that nvcc.profile points at, and,
# where a host compiler (g++) is installed, checks that nvcc compiles and
# links a CUDA program against cuBLAS, cuDNN and NCCL. Used by
# docker/Dockerfile (CUDA_FROM=pypi); needs python3-pip.
set -euo pipefail
if [ "$#" -lt 2 ]; then
  echo "usage: $0 PREFIX WHEEL_SPEC... (see the header of this file)" >&2
  exit 2
fi
prefix=$1
shift
stage=$(mktemp -d "${TMPDIR:-/tmp}/cuda-wheels.XXXXXX")
trap 'rm -rf "$stage"' EXIT

echo "cuda_from_wheels: pip install --no-deps $*"
python3 -m pip install --no-deps --no-compile --disable-pip-version-check --break-system-packages \
  --target "$stage/site" "$@" >"$stage/pip.log" 2>&1 || { cat "$stage/pip.log"; exit 1; }

nv=$stage/site/nvidia
[ -x "$nv/cu13/bin/nvcc" ] || { echo "cuda_from_wheels: no nvidia/cu13/bin/nvcc in the wheels (is nvidia-cuda-nvcc listed?)" >&2; exit 1; }
mkdir -p "$prefix"
# cu13: the toolkit; cudnn, nccl: their own trees with include/ and lib/
for tree in "$nv/cu13" "$nv"/cudnn "$nv"/nccl; do
  [ -d "$tree" ] || continue
  cp -a "$tree"/. "$prefix"/
done
find "$prefix" \( -name __pycache__ -o -name __init__.py \) -prune -exec rm -rf {} +
# the wheels' metadata, for the record (versions, licences)
mkdir -p "$prefix/dist-info"
cp -a "$stage"/site/*.dist-info "$prefix/dist-info/"

cd "$prefix/lib"
for f in lib*.so.*; do
  [ -e "$f" ] || continue
  base=${f%%.so.*}.so
  [ -e "$base" ] || ln -s "$f" "$base"
done
cd "$prefix"
[ -e lib64 ] || ln -s lib lib64
mkdir -p targets/x86_64-linux
[ -e targets/x86_64-linux/include ] || ln -s ../../include targets/x86_64-linux/include
[ -e targets/x86_64-linux/lib ] || ln -s ../../lib targets/x86_64-linux/lib

for need in bin/nvcc include/cuda_runtime.h include/cublas_v2.h include/cudnn.h include/nccl.h \
            lib/libcudart.so lib/libcublas.so lib/libcublasLt.so lib/libcudnn.so lib/libnccl.so; do
  [ -e "$prefix/$need" ] || { echo "cuda_from_wheels: $prefix/$need is missing" >&2; exit 1; }
done

# nvcc compiles and links against cuBLAS, cuDNN and NCCL (nothing runs: no GPU is needed)
cat >"$stage/check.cu" <<'EOF'
#include <cublas_v2.h>
#include <cudnn.h>
#include <nccl.h>
#include <cstdio>
__global__ void k(float *x) { x[threadIdx.x] *= 2.0f; }
int main() {
  int v = 0;
  ncclGetVersion(&v);
  std::printf("cudnn %zu nccl %d\n", cudnnGetVersion(), v);
  cublasHandle_t h;
  return cublasCreate(&h) == CUBLAS_STATUS_SUCCESS ? 0 : 1;
}
EOF
if command -v g++ >/dev/null; then
  "$prefix/bin/nvcc" -arch=sm_80 -o "$stage/check" "$stage/check.cu" -lcublas -lcudnn -lnccl
  echo "cuda_from_wheels: nvcc compiled and linked a program against cuBLAS, cuDNN and NCCL"
else
  echo "cuda_from_wheels: no host compiler (g++) here: the nvcc check is left to the build that uses it"
fi
echo "cuda_from_wheels: $("$prefix/bin/nvcc" --version | tail -n 2 | head -n 1) in $prefix ($(du -sh "$prefix" | cut -f1))"
