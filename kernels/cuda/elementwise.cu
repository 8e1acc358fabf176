// Elementwise ops of the CUDA backend: SiLU, add, scale, and the per-sample
// channel bias (time-embedding add) with its backward. Each is one pass over
// memory, float4-wide when the pointers allow. SiLU and SiLU' are
// kernels/shared/activation.h's (the CPU backend's formulas, over expf).
#include "cuda/cuda_backend_internal.cuh"
#include "shared/activation.h"

#define DFL_GRID_STRIDE(i, n)                                                                                          \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

__global__ void dfl_silu_fwd_kernel(size_t n, const float *__restrict__ x, float *__restrict__ y) {
    DFL_GRID_STRIDE(i, n) y[i] = dfl_siluf(x[i]);
}
__global__ void dfl_silu_fwd4_kernel(size_t n4, const float4 *__restrict__ x, float4 *__restrict__ y) {
    DFL_GRID_STRIDE(i, n4) {
        const float4 v = x[i];
        y[i] = make_float4(dfl_siluf(v.x), dfl_siluf(v.y), dfl_siluf(v.z), dfl_siluf(v.w));
    }
}
__global__ void dfl_silu_bwd_kernel(size_t n, const float *__restrict__ x, const float *__restrict__ dy,
                                    float *__restrict__ dx) {
    DFL_GRID_STRIDE(i, n) dx[i] = dy[i] * dfl_silu_grad(x[i]);
}
__global__ void dfl_silu_bwd4_kernel(size_t n4, const float4 *__restrict__ x, const float4 *__restrict__ dy,
                                     float4 *__restrict__ dx) {
    DFL_GRID_STRIDE(i, n4) {
        const float4 v = x[i], g = dy[i];
        dx[i] = make_float4(g.x * dfl_silu_grad(v.x), g.y * dfl_silu_grad(v.y), g.z * dfl_silu_grad(v.z),
                            g.w * dfl_silu_grad(v.w));
    }
}
// y may alias a or b: no __restrict__.
__global__ void dfl_add_kernel(size_t n, const float *a, const float *b, float *y) {
    DFL_GRID_STRIDE(i, n) y[i] = a[i] + b[i];
}
__global__ void dfl_add4_kernel(size_t n4, const float4 *a, const float4 *b, float4 *y) {
    DFL_GRID_STRIDE(i, n4) {
        const float4 u = a[i], v = b[i];
        y[i] = make_float4(u.x + v.x, u.y + v.y, u.z + v.z, u.w + v.w);
    }
}
__global__ void dfl_scale_kernel(size_t n, float alpha, float *x) { DFL_GRID_STRIDE(i, n) x[i] *= alpha; }
__global__ void dfl_scale4_kernel(size_t n4, float alpha, float4 *x) {
    DFL_GRID_STRIDE(i, n4) {
        float4 v = x[i];
        v.x *= alpha, v.y *= alpha, v.z *= alpha, v.w *= alpha;
        x[i] = v;
    }
}
// y[i, p, ch] += bias[i, ch]; per_sample = hw * c elements.
__global__ void dfl_add_channel_bias_kernel(size_t total, size_t per_sample, int c, float *__restrict__ y,
                                            const float *__restrict__ bias) {
    DFL_GRID_STRIDE(j, total) y[j] += bias[(j / per_sample) * c + j % c];
}
__global__ void dfl_add_channel_bias4_kernel(size_t total4, size_t per_sample4, int c4, float4 *__restrict__ y,
                                             const float4 *__restrict__ bias) {
    DFL_GRID_STRIDE(j, total4) {
        float4 v = y[j];
        const float4 b = bias[(j / per_sample4) * c4 + j % c4];
        v.x += b.x, v.y += b.y, v.z += b.z, v.w += b.w;
        y[j] = v;
    }
}

static int all_aligned16(const void *a, const void *b, const void *c) {
    return dfl_cuda_aligned16(a) && dfl_cuda_aligned16(b) && dfl_cuda_aligned16(c);
}

static void cuda_silu_forward(dfl_backend *be, size_t n, const float *x, float *y) {
    if (!n) return;
    cudaStream_t s = dfl_cuda_stream(be);
    if (n % 4 == 0 && all_aligned16(x, y, y))
        dfl_silu_fwd4_kernel<<<dfl_cuda_blocks(n / 4, 256), 256, 0, s>>>(n / 4, (const float4 *)x, (float4 *)y);
    else
        dfl_silu_fwd_kernel<<<dfl_cuda_blocks(n, 256), 256, 0, s>>>(n, x, y);
    cudaCheckLaunch();
}

static void cuda_silu_backward(dfl_backend *be, size_t n, const float *x, const float *dy, float *dx) {
    if (!n) return;
    cudaStream_t s = dfl_cuda_stream(be);
    if (n % 4 == 0 && all_aligned16(x, dy, dx))
        dfl_silu_bwd4_kernel<<<dfl_cuda_blocks(n / 4, 256), 256, 0, s>>>(n / 4, (const float4 *)x, (const float4 *)dy,
                                                                         (float4 *)dx);
    else
        dfl_silu_bwd_kernel<<<dfl_cuda_blocks(n, 256), 256, 0, s>>>(n, x, dy, dx);
    cudaCheckLaunch();
}

static void cuda_add(dfl_backend *be, size_t n, const float *a, const float *b, float *y) {
    if (!n) return;
    cudaStream_t s = dfl_cuda_stream(be);
    if (n % 4 == 0 && all_aligned16(a, b, y))
        dfl_add4_kernel<<<dfl_cuda_blocks(n / 4, 256), 256, 0, s>>>(n / 4, (const float4 *)a, (const float4 *)b,
                                                                    (float4 *)y);
    else
        dfl_add_kernel<<<dfl_cuda_blocks(n, 256), 256, 0, s>>>(n, a, b, y);
    cudaCheckLaunch();
}

static void cuda_scale(dfl_backend *be, size_t n, float alpha, float *x) {
    if (!n) return;
    cudaStream_t s = dfl_cuda_stream(be);
    if (n % 4 == 0 && dfl_cuda_aligned16(x))
        dfl_scale4_kernel<<<dfl_cuda_blocks(n / 4, 256), 256, 0, s>>>(n / 4, alpha, (float4 *)x);
    else
        dfl_scale_kernel<<<dfl_cuda_blocks(n, 256), 256, 0, s>>>(n, alpha, x);
    cudaCheckLaunch();
}

static void cuda_add_channel_bias(dfl_backend *be, int n, int hw, int c, float *y, const float *bias) {
    const size_t per_sample = (size_t)hw * c, total = per_sample * (size_t)n;
    if (!total) return;
    cudaStream_t s = dfl_cuda_stream(be);
    if (c % 4 == 0 && all_aligned16(y, bias, y))
        dfl_add_channel_bias4_kernel<<<dfl_cuda_blocks(total / 4, 256), 256, 0, s>>>(total / 4, per_sample / 4, c / 4,
                                                                                     (float4 *)y, (const float4 *)bias);
    else
        dfl_add_channel_bias_kernel<<<dfl_cuda_blocks(total, 256), 256, 0, s>>>(total, per_sample, c, y, bias);
    cudaCheckLaunch();
}

static void cuda_channel_bias_backward(dfl_backend *be, int n, int hw, int c, const float *dy, float *dbias) {
    dfl_cuda_colsum(be, n, (size_t)hw, c, dy, dbias);
}

void dfl_cuda_register_elementwise_ops(dfl_backend *be) {
    be->silu_forward = cuda_silu_forward;
    be->silu_backward = cuda_silu_backward;
    be->add = cuda_add;
    be->scale = cuda_scale;
    be->add_channel_bias = cuda_add_channel_bias;
    be->channel_bias_backward = cuda_channel_bias_backward;
}
