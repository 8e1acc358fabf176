// Sinusoidal time embedding (DESIGN.md §3): s = 1000 t, f_j =
// exp(-ln(10000) j / h), h = dim / 2, out = [cos(s f), sin(s f)], cos block
// first. Computed in double and rounded once, like the CPU backend: the
// argument reaches 1000 rad, where a float argument would already be off
// by ~6e-5. The op is tiny (n x dim), so double math costs nothing.
#include "cuda/cuda_backend_internal.cuh"

__global__ void dfl_time_embedding_kernel(int n, int dim, const float *__restrict__ t, float *__restrict__ out) {
    const int h = dim / 2;
    const size_t total = (size_t)n * h;
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < total; k += (size_t)gridDim.x * blockDim.x) {
        const size_t i = k / h;
        const int j = (int)(k % h);
        const double s = 1000.0 * (double)t[i];
        const double f = exp(-log(10000.0) * (double)j / (double)h);
        double sn, cs;
        sincos(s * f, &sn, &cs);
        out[i * dim + j] = (float)cs;
        out[i * dim + h + j] = (float)sn;
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
