// Resampling and layout ops of the CUDA backend (docs/design.md, "The network: dfl-unet v1"): nearest x2
// upsampling and its backward (2x2 sums in the CPU backend's order),
// channel concatenation and split, end padding / cropping, NCHW <-> NHWC
// transposes (32x32 shared-memory tiles, coalesced both ways).
#include "cuda/cuda_backend_internal.cuh"
#include "shared/upsample.h"

#define DFL_GRID_STRIDE(i, n)                                                                                          \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

// One thread per output element (T = float or float4; c counted in T's).
template <typename T>
__global__ void dfl_upsample_fwd_kernel(int n, int h, int w, int c, const T *__restrict__ x, T *__restrict__ y) {
    const size_t total = (size_t)n * 4 * h * w * c;
    const int wo = 2 * w, ho = 2 * h;
    DFL_GRID_STRIDE(j, total) {
        const int ch = (int)(j % c);
        size_t p = j / c;
        const int xo = (int)(p % wo);
        p /= wo;
        const int yo = (int)(p % ho);
        const size_t i = p / ho;
        y[j] = x[((i * h + yo / 2) * w + xo / 2) * c + ch];
    }
}

// dx = ((dy(2y,2x) + dy(2y,2x+1)) + dy(2y+1,2x)) + dy(2y+1,2x+1) (shared/upsample.h).
__global__ void dfl_upsample_bwd_kernel(int n, int h, int w, int c, const float *__restrict__ dy,
                                        float *__restrict__ dx) {
    const size_t total = (size_t)n * h * w * c;
    const size_t row = (size_t)2 * w * c; // one output row of dy
    DFL_GRID_STRIDE(j, total) {
        const int ch = (int)(j % c);
        size_t p = j / c;
        const int xx = (int)(p % w);
        p /= w;
        const int yy = (int)(p % h);
        const size_t i = p / h;
        const float *a = dy + (i * 2 * h + 2 * yy) * row + (size_t)2 * xx * c + ch;
        const float *b = a + row;
        dx[j] = dfl_upsample_bwd_sum(a[0], a[c], b[0], b[c]);
    }
}

__global__ void dfl_upsample_bwd4_kernel(int n, int h, int w, int c4, const float4 *__restrict__ dy,
                                         float4 *__restrict__ dx) {
    const size_t total = (size_t)n * h * w * c4;
    const size_t row = (size_t)2 * w * c4;
    DFL_GRID_STRIDE(j, total) {
        const int ch = (int)(j % c4);
        size_t p = j / c4;
        const int xx = (int)(p % w);
        p /= w;
        const int yy = (int)(p % h);
        const size_t i = p / h;
        const float4 *a = dy + (i * 2 * h + 2 * yy) * row + (size_t)2 * xx * c4 + ch;
        const float4 *b = a + row;
        const float4 a0 = a[0], a1 = a[c4], b0 = b[0], b1 = b[c4];
        dx[j] = make_float4(dfl_upsample_bwd_sum(a0.x, a1.x, b0.x, b1.x), dfl_upsample_bwd_sum(a0.y, a1.y, b0.y, b1.y),
                            dfl_upsample_bwd_sum(a0.z, a1.z, b0.z, b1.z), dfl_upsample_bwd_sum(a0.w, a1.w, b0.w, b1.w));
    }
}

// y[p, 0:ca] = a[p], y[p, ca:ca+cb] = b[p] (counts in T's).
template <typename T>
__global__ void dfl_concat_fwd_kernel(size_t pixels, int ca, int cb, const T *__restrict__ a, const T *__restrict__ b,
                                      T *__restrict__ y) {
    const int c = ca + cb;
    DFL_GRID_STRIDE(j, pixels * c) {
        const size_t p = j / c;
        const int ch = (int)(j % c);
        y[j] = ch < ca ? a[p * ca + ch] : b[p * cb + (ch - ca)];
    }
}

template <typename T>
__global__ void dfl_concat_bwd_kernel(size_t pixels, int ca, int cb, const T *__restrict__ dy, T *__restrict__ da,
                                      T *__restrict__ db) {
    const int c = ca + cb;
    DFL_GRID_STRIDE(j, pixels * c) {
        const size_t p = j / c;
        const int ch = (int)(j % c);
        if (ch < ca) {
            if (da) da[p * ca + ch] = dy[j];
        } else if (db) {
            db[p * cb + (ch - ca)] = dy[j];
        }
    }
}

// y [n, hp, wp, c]: x where inside [h, w], zeros after (counts in T's).
template <typename T>
__global__ void dfl_pad_end_kernel(int n, int h, int w, int c, int hp, int wp, const T *__restrict__ x,
                                   T *__restrict__ y, T zero) {
    const size_t total = (size_t)n * hp * wp * c;
    DFL_GRID_STRIDE(j, total) {
        const int ch = (int)(j % c);
        size_t p = j / c;
        const int xx = (int)(p % wp);
        p /= wp;
        const int yy = (int)(p % hp);
        const size_t i = p / hp;
        y[j] = (yy < h && xx < w) ? x[((i * h + yy) * w + xx) * c + ch] : zero;
    }
}

template <typename T>
__global__ void dfl_crop_end_kernel(int n, int hp, int wp, int c, int h, int w, const T *__restrict__ x,
                                    T *__restrict__ y) {
    const size_t total = (size_t)n * h * w * c;
    DFL_GRID_STRIDE(j, total) {
        const int ch = (int)(j % c);
        size_t p = j / c;
        const int xx = (int)(p % w);
        p /= w;
        const int yy = (int)(p % h);
        const size_t i = p / h;
        y[j] = x[((i * hp + yy) * wp + xx) * c + ch];
    }
}

// Per sample: y [cols, rows] = transpose of x [rows, cols]. Block 32x8,
// grid (row tiles x col tiles flattened, samples); the +1 column avoids
// bank conflicts.
__global__ void dfl_transpose_kernel(int rows, int cols, const float *__restrict__ x, float *__restrict__ y) {
    __shared__ float tile[32][33];
    const size_t base = (size_t)blockIdx.y * rows * cols;
    const int col_tiles = (cols + 31) / 32;
    const int c0 = (int)(blockIdx.x % col_tiles) * 32, r0 = (int)(blockIdx.x / col_tiles) * 32;
    for (int k = threadIdx.y; k < 32; k += 8) {
        const int r = r0 + k, cc = c0 + threadIdx.x;
        if (r < rows && cc < cols) tile[k][threadIdx.x] = x[base + (size_t)r * cols + cc];
    }
    __syncthreads();
    for (int k = threadIdx.y; k < 32; k += 8) {
        const int cc = c0 + k, r = r0 + threadIdx.x;
        if (r < rows && cc < cols) y[base + (size_t)cc * rows + r] = tile[threadIdx.x][k];
    }
}

static int aligned3(const void *a, const void *b, const void *c) {
    return dfl_cuda_aligned16(a) && dfl_cuda_aligned16(b) && dfl_cuda_aligned16(c);
}

static void cuda_upsample_forward(dfl_backend *be, int n, int h, int w, int c, const float *x, float *y) {
    const size_t total = (size_t)n * 4 * h * w * c;
    if (!total) return;
    cudaStream_t s = dfl_cuda_stream(be);
    if (c % 4 == 0 && aligned3(x, y, y))
        dfl_upsample_fwd_kernel<float4>
            <<<dfl_cuda_blocks(total / 4, 256), 256, 0, s>>>(n, h, w, c / 4, (const float4 *)x, (float4 *)y);
    else
        dfl_upsample_fwd_kernel<float><<<dfl_cuda_blocks(total, 256), 256, 0, s>>>(n, h, w, c, x, y);
    cudaCheckLaunch();
}

static void cuda_upsample_backward(dfl_backend *be, int n, int h, int w, int c, const float *dy, float *dx) {
    const size_t total = (size_t)n * h * w * c;
    if (!total) return;
    cudaStream_t s = dfl_cuda_stream(be);
    if (c % 4 == 0 && aligned3(dy, dx, dx))
        dfl_upsample_bwd4_kernel<<<dfl_cuda_blocks(total / 4, 256), 256, 0, s>>>(n, h, w, c / 4, (const float4 *)dy,
                                                                                 (float4 *)dx);
    else
        dfl_upsample_bwd_kernel<<<dfl_cuda_blocks(total, 256), 256, 0, s>>>(n, h, w, c, dy, dx);
    cudaCheckLaunch();
}

static void cuda_concat_forward(dfl_backend *be, size_t pixels, int ca, int cb, const float *a, const float *b,
                                float *y) {
    const size_t total = pixels * (size_t)(ca + cb);
    if (!total) return;
    cudaStream_t s = dfl_cuda_stream(be);
    if (ca % 4 == 0 && cb % 4 == 0 && aligned3(a, b, y))
        dfl_concat_fwd_kernel<float4><<<dfl_cuda_blocks(total / 4, 256), 256, 0, s>>>(
            pixels, ca / 4, cb / 4, (const float4 *)a, (const float4 *)b, (float4 *)y);
    else
        dfl_concat_fwd_kernel<float><<<dfl_cuda_blocks(total, 256), 256, 0, s>>>(pixels, ca, cb, a, b, y);
    cudaCheckLaunch();
}

static void cuda_concat_backward(dfl_backend *be, size_t pixels, int ca, int cb, const float *dy, float *da,
                                 float *db) {
    const size_t total = pixels * (size_t)(ca + cb);
    if (!total || (!da && !db)) return;
    cudaStream_t s = dfl_cuda_stream(be);
    if (ca % 4 == 0 && cb % 4 == 0 && dfl_cuda_aligned16(dy) && (!da || dfl_cuda_aligned16(da)) &&
        (!db || dfl_cuda_aligned16(db)))
        dfl_concat_bwd_kernel<float4><<<dfl_cuda_blocks(total / 4, 256), 256, 0, s>>>(
            pixels, ca / 4, cb / 4, (const float4 *)dy, (float4 *)da, (float4 *)db);
    else
        dfl_concat_bwd_kernel<float><<<dfl_cuda_blocks(total, 256), 256, 0, s>>>(pixels, ca, cb, dy, da, db);
    cudaCheckLaunch();
}

static void cuda_pad_end(dfl_backend *be, int n, int h, int w, int c, int hp, int wp, const float *x, float *y) {
    if (hp < h || wp < w) DFL_PANIC("pad_end: target %dx%d smaller than %dx%d", hp, wp, h, w);
    const size_t total = (size_t)n * hp * wp * c;
    if (!total) return;
    cudaStream_t s = dfl_cuda_stream(be);
    if (c % 4 == 0 && aligned3(x, y, y))
        dfl_pad_end_kernel<float4><<<dfl_cuda_blocks(total / 4, 256), 256, 0, s>>>(
            n, h, w, c / 4, hp, wp, (const float4 *)x, (float4 *)y, make_float4(0.f, 0.f, 0.f, 0.f));
    else
        dfl_pad_end_kernel<float><<<dfl_cuda_blocks(total, 256), 256, 0, s>>>(n, h, w, c, hp, wp, x, y, 0.0f);
    cudaCheckLaunch();
}

static void cuda_crop_end(dfl_backend *be, int n, int hp, int wp, int c, int h, int w, const float *x, float *y) {
    if (hp < h || wp < w) DFL_PANIC("crop_end: source %dx%d smaller than %dx%d", hp, wp, h, w);
    const size_t total = (size_t)n * h * w * c;
    if (!total) return;
    cudaStream_t s = dfl_cuda_stream(be);
    if (c % 4 == 0 && aligned3(x, y, y))
        dfl_crop_end_kernel<float4>
            <<<dfl_cuda_blocks(total / 4, 256), 256, 0, s>>>(n, hp, wp, c / 4, h, w, (const float4 *)x, (float4 *)y);
    else
        dfl_crop_end_kernel<float><<<dfl_cuda_blocks(total, 256), 256, 0, s>>>(n, hp, wp, c, h, w, x, y);
    cudaCheckLaunch();
}

static void transpose_batched(dfl_backend *be, int n, int rows, int cols, const float *x, float *y) {
    if (n <= 0 || rows <= 0 || cols <= 0) return;
    if (n > 65535) DFL_PANIC("transpose: batch %d exceeds the grid limit", n);
    dim3 grid((unsigned)(((size_t)(cols + 31) / 32) * (size_t)((rows + 31) / 32)), (unsigned)n);
    dfl_transpose_kernel<<<grid, dim3(32, 8), 0, dfl_cuda_stream(be)>>>(rows, cols, x, y);
    cudaCheckLaunch();
}

static void cuda_nchw_to_nhwc(dfl_backend *be, int n, int c, int h, int w, const float *x, float *y) {
    transpose_batched(be, n, c, h * w, x, y);
}

static void cuda_nhwc_to_nchw(dfl_backend *be, int n, int c, int h, int w, const float *x, float *y) {
    transpose_batched(be, n, h * w, c, x, y);
}

void dfl_cuda_register_layout_ops(dfl_backend *be) {
    be->upsample_nearest2x_forward = cuda_upsample_forward;
    be->upsample_nearest2x_backward = cuda_upsample_backward;
    be->concat_channels_forward = cuda_concat_forward;
    be->concat_channels_backward = cuda_concat_backward;
    be->pad_end = cuda_pad_end;
    be->crop_end = cuda_crop_end;
    be->nchw_to_nhwc = cuda_nchw_to_nhwc;
    be->nhwc_to_nchw = cuda_nhwc_to_nchw;
}
