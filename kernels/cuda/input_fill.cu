// The pyramid fill of the network input on the GPU (kernels/shared/input_fill.h):
// one kernel per level and direction, one thread per (sample, cell,
// channel), the same per-cell math and summation order as the CPU backend.
#include "cuda/cuda_backend_internal.cuh"
#include "shared/input_fill.h"

#define DFL_FILL_THREADS 256
#define DFL_GRID_STRIDE(i, n)                                                                                          \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

// Push: level (ho, wo) from the finer level (hl, wl); the finer level's
// values and weights of sample i start at s + i * in_sample, m + i * in_sample.
__global__ void dfl_fill_push_kernel(int n, int hl, int wl, int ho, int wo, int c, const float *__restrict__ s,
                                     const float *__restrict__ m, size_t stride, size_t in_sample, int mask_values,
                                     float *__restrict__ os, float *__restrict__ om) {
    const size_t total = (size_t)n * ho * wo * c;
    DFL_GRID_STRIDE(j, total) {
        const int ch = (int)(j % c);
        size_t p = j / c;
        const int xx = (int)(p % wo);
        p /= wo;
        const int yy = (int)(p % ho);
        const size_t i = p / ho;
        dfl_fill_push(s + i * in_sample + ch, m + i * in_sample + ch, stride, hl, wl, yy, xx, mask_values, &os[j],
                      &om[j]);
    }
}

// Pull at one level above the field: S <- fill, from the coarser fill up
// (NULL at the coarsest level).
__global__ void dfl_fill_pull_kernel(int n, int hl, int wl, int c, float *__restrict__ s, const float *__restrict__ m,
                                     const float *__restrict__ up, int ph, int pw) {
    const size_t total = (size_t)n * hl * wl * c;
    DFL_GRID_STRIDE(j, total) {
        const int ch = (int)(j % c);
        size_t p = j / c;
        const int xx = (int)(p % wl);
        p /= wl;
        const int yy = (int)(p % hl);
        const size_t i = p / hl;
        const float u = up ? dfl_fill_upsample(up + i * (size_t)ph * pw * c, ph, pw, c, yy, xx, ch) : 0.0f;
        s[j] = dfl_fill_pull(s[j], m[j], u);
    }
}

// Level 0: y [n, h, w, 3c] = values | mask | fill.
__global__ void dfl_fill_out_kernel(int n, int h, int w, int c, const float *__restrict__ x,
                                    const float *__restrict__ up, int ph, int pw, float *__restrict__ y) {
    const size_t total = (size_t)n * h * w * c;
    DFL_GRID_STRIDE(j, total) {
        const int ch = (int)(j % c);
        size_t p = j / c;
        const int xx = (int)(p % w);
        p /= w;
        const int yy = (int)(p % h);
        const size_t i = p / h;
        const size_t pix = (i * h + yy) * w + xx;
        const float v = x[dfl_net_input_index(pix, 2, c, DFL_INPUT_PART_VALUE, ch)];
        const float mk = x[dfl_net_input_index(pix, 2, c, DFL_INPUT_PART_MASK, ch)];
        const float u = up ? dfl_fill_upsample(up + i * (size_t)ph * pw * c, ph, pw, c, yy, xx, ch) : 0.0f;
        y[dfl_net_input_index(pix, 3, c, DFL_INPUT_PART_VALUE, ch)] = v;
        y[dfl_net_input_index(pix, 3, c, DFL_INPUT_PART_MASK, ch)] = mk;
        y[dfl_net_input_index(pix, 3, c, DFL_INPUT_PART_FILL, ch)] = dfl_fill_pull(v * mk, mk, u);
    }
}

static void cuda_input_fill(dfl_backend *be, int n, int h, int w, int c, const float *x, float *y, float *scratch) {
    cudaStream_t st = dfl_cuda_stream(be);
    const int L = dfl_fill_levels(h, w);
    int hs[64], ws[64];
    float *S[64], *M[64];
    hs[0] = h;
    ws[0] = w;
    float *next = scratch;
    for (int l = 1; l <= L; ++l) {
        hs[l] = (hs[l - 1] + 1) / 2;
        ws[l] = (ws[l - 1] + 1) / 2;
        const size_t cells = (size_t)n * hs[l] * ws[l] * c;
        S[l] = next;
        M[l] = next + cells;
        next += 2 * cells;
    }
    for (int l = 1; l <= L; ++l) {
        const size_t total = (size_t)n * hs[l] * ws[l] * c;
        const float *s = l == 1 ? x : S[l - 1], *m = l == 1 ? x + c : M[l - 1];
        const size_t stride = l == 1 ? 2 * (size_t)c : (size_t)c;
        const size_t in_sample = (size_t)hs[l - 1] * ws[l - 1] * stride;
        dfl_fill_push_kernel<<<dfl_cuda_blocks(total, DFL_FILL_THREADS), DFL_FILL_THREADS, 0, st>>>(
            n, hs[l - 1], ws[l - 1], hs[l], ws[l], c, s, m, stride, in_sample, l == 1, S[l], M[l]);
        cudaCheckLaunch();
    }
    for (int l = L; l >= 1; --l) {
        const size_t total = (size_t)n * hs[l] * ws[l] * c;
        const float *up = l < L ? S[l + 1] : NULL;
        const int ph = l < L ? hs[l + 1] : 0, pw = l < L ? ws[l + 1] : 0;
        dfl_fill_pull_kernel<<<dfl_cuda_blocks(total, DFL_FILL_THREADS), DFL_FILL_THREADS, 0, st>>>(
            n, hs[l], ws[l], c, S[l], M[l], up, ph, pw);
        cudaCheckLaunch();
    }
    const size_t total = (size_t)n * h * w * c;
    dfl_fill_out_kernel<<<dfl_cuda_blocks(total, DFL_FILL_THREADS), DFL_FILL_THREADS, 0, st>>>(
        n, h, w, c, x, L > 0 ? S[1] : NULL, L > 0 ? hs[1] : 0, L > 0 ? ws[1] : 0, y);
    cudaCheckLaunch();
}

void dfl_cuda_register_input_fill_op(dfl_backend *be) { be->input_fill = cuda_input_fill; }
