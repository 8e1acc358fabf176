// The grid spline fills on the GPU: the thin-plate spline of the network
// input (kernels/shared/fill_spline.h) and the order-3 spline of the spline
// correction (kernels/shared/fill_spline3.h). One block per sample channel
// runs the whole conjugate-gradient solve on its plane, with block-wide
// deterministic sums (reduce.cuh), so there is one launch per fill and no
// host round trip. The per-entry math is the CPU backend's; the two agree
// to rounding.
#include "cuda/cuda_backend_internal.cuh"
#include "cuda/reduce.cuh"
#include "shared/fill_spline.h"
#include "shared/fill_spline3.h"

#define DFL_SPLINE_THREADS 512

// q = fr .* (A p) over the plane, A of the given order (2 or 3); every
// thread then sees q (after the sync).
__device__ void dfl_spline_apply_plane(int order, const float *p, int h, int w, int px, int py, const float *fr,
                                       float *q) {
    const size_t hw = (size_t)h * w;
    for (size_t e = threadIdx.x; e < hw; e += blockDim.x) {
        const int y = (int)(e / w), x = (int)(e % w);
        const float *r0 = p + (size_t)y * w;
        float a;
        if (order == 2 && y >= 2 && y <= h - 3 && x >= 2 && x <= w - 3) {
            a = dfl_spline_apply_interior(r0 - 2 * (size_t)w, r0 - w, r0, r0 + w, r0 + 2 * (size_t)w, x);
        } else if (order == 3 && y >= 3 && y <= h - 4 && x >= 3 && x <= w - 4) {
            const float *rows[7] = {r0 - 3 * (size_t)w, r0 - 2 * (size_t)w, r0 - w, r0, r0 + w,
                                    r0 + 2 * (size_t)w, r0 + 3 * (size_t)w};
            a = dfl_spline3_apply_interior(rows, x);
        } else {
            a = order == 2 ? dfl_spline_apply_at(p, h, w, px, py, y, x) : dfl_spline3_apply_at(p, h, w, px, py, y, x);
        }
        q[e] = fr[e] * a;
    }
    __syncthreads();
}

__global__ void __launch_bounds__(DFL_SPLINE_THREADS)
    dfl_spline_kernel(int order, int c, int h, int w, int px, int py, int iters, float *__restrict__ y,
                      float *scratch) {
    __shared__ double sh[33];
    const size_t k = blockIdx.x, hw = (size_t)h * w;
    const size_t i = k / c;
    const int ch = (int)(k % c);
    float *u = scratch + k * DFL_SPLINE_PLANES * hw, *fr = u + hw, *r = fr + hw, *p = r + hw, *q = p + hw;
    float *ys = y + i * hw * 3 * c;
    for (size_t e = threadIdx.x; e < hw; e += blockDim.x) {
        u[e] = ys[dfl_net_input_index(e, 3, c, DFL_INPUT_PART_FILL, ch)];
        fr[e] = dfl_spline_free(ys, e, c, ch);
    }
    __syncthreads();
    dfl_spline_apply_plane(order, u, h, w, px, py, fr, q);
    double part = 0.0;
    for (size_t e = threadIdx.x; e < hw; e += blockDim.x) {
        r[e] = p[e] = -q[e];
        part += (double)r[e] * r[e];
    }
    double rr = dfl_block_sum(part, sh); // syncs: p is complete
    const double stop = rr * DFL_SPLINE_RTOL2;
    for (int it = 0; it < iters && rr > stop && rr > 0.0; ++it) {
        dfl_spline_apply_plane(order, p, h, w, px, py, fr, q);
        part = 0.0;
        for (size_t e = threadIdx.x; e < hw; e += blockDim.x) part += (double)p[e] * q[e];
        const double pq = dfl_block_sum(part, sh);
        if (!(pq > 0.0)) break;
        const float alpha = (float)(rr / pq);
        part = 0.0;
        for (size_t e = threadIdx.x; e < hw; e += blockDim.x) {
            u[e] += alpha * p[e];
            r[e] -= alpha * q[e];
            part += (double)r[e] * r[e];
        }
        const double rr_next = dfl_block_sum(part, sh);
        const float beta = (float)(rr_next / rr);
        for (size_t e = threadIdx.x; e < hw; e += blockDim.x) p[e] = r[e] + beta * p[e];
        __syncthreads();
        rr = rr_next;
    }
    for (size_t e = threadIdx.x; e < hw; e += blockDim.x)
        ys[dfl_net_input_index(e, 3, c, DFL_INPUT_PART_FILL, ch)] = u[e];
}

static void spline_fill(dfl_backend *be, int order, int n, int h, int w, int c, int periodic_x, int periodic_y,
                        int iters, float *y, float *scratch) {
    const unsigned planes = (unsigned)n * (unsigned)c;
    if (planes == 0) return;
    dfl_spline_kernel<<<planes, DFL_SPLINE_THREADS, 0, dfl_cuda_stream(be)>>>(order, c, h, w, periodic_x, periodic_y,
                                                                              iters, y, scratch);
    cudaCheckLaunch();
}

static void cuda_input_fill_spline(dfl_backend *be, int n, int h, int w, int c, int periodic_x, int periodic_y,
                                   int iters, float *y, float *scratch) {
    spline_fill(be, 2, n, h, w, c, periodic_x, periodic_y, iters, y, scratch);
}

static void cuda_input_fill_spline3(dfl_backend *be, int n, int h, int w, int c, int periodic_x, int periodic_y,
                                    int iters, float *y, float *scratch) {
    spline_fill(be, 3, n, h, w, c, periodic_x, periodic_y, iters, y, scratch);
}

void dfl_cuda_register_input_fill_spline_op(dfl_backend *be) {
    be->input_fill_spline = cuda_input_fill_spline;
    be->input_fill_spline3 = cuda_input_fill_spline3;
}
