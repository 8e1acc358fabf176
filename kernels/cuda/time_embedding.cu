// Sinusoidal time embedding (docs/design.md, "The network: dfl-unet v1") by kernels/shared/time_embedding.h,
// the CPU backend's function: s = 1000 t, f_j = exp(-ln(10000) j / h),
// h = dim / 2, out = [cos(s f), sin(s f)], cos block first, in double and
// rounded once. One thread per (sample, j) pair.
#include "cuda/cuda_backend_internal.cuh"
#include "shared/time_embedding.h"

__global__ void dfl_time_embedding_kernel(int n, int dim, const float *__restrict__ t, float *__restrict__ out) {
    const int h = dim / 2;
    const size_t total = (size_t)n * h;
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < total; k += (size_t)gridDim.x * blockDim.x) {
        const size_t i = k / h;
        const int j = (int)(k % h);
        dfl_time_embedding_pair(t[i], j, h, &out[i * dim + j], &out[i * dim + h + j]);
    }
}

static void cuda_time_embedding(dfl_backend *be, int n, int dim, const float *t, float *out) {
    if (dim < 2 || dim % 2 != 0) DFL_PANIC("time_embedding: dim %d must be even and >= 2", dim);
    if (n <= 0) return;
    const size_t total = (size_t)n * (dim / 2);
    dfl_time_embedding_kernel<<<dfl_cuda_blocks(total, 128), 128, 0, dfl_cuda_stream(be)>>>(n, dim, t, out);
    cudaCheckLaunch();
}

void dfl_cuda_register_time_embedding_op(dfl_backend *be) { be->time_embedding = cuda_time_embedding; }
