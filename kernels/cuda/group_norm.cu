// Group normalisation over NHWC [n, hw, c] with the SiLU fused in
// (docs/design.md, "The network: dfl-unet v1": 8 groups, eps 1e-5, affine), one kernel per pass.
//
// Forward, one block per (sample i, group g): one sweep accumulates sum and
// sum of squares in double (var = E[x^2] - mean^2, as the CPU backend),
// then a second sweep writes y = silu((x - mean) (rstd gamma) + beta). The
// second sweep mostly hits L2 (a group is hw * c/groups floats).
// Backward, one block per (i, g): sweep 1 sums da = dy silu'(a) and
// da xhat per channel (double), the block turns them into the dx
// coefficients, sweep 2 writes dx = P da + Q (x - mean) + R with
//   P = rstd gamma, Q = -rstd^2 E_g[da gamma xhat], R = -rstd E_g[da gamma].
// Per-(sample, channel) partial dgamma/dbeta go to scratch and a small
// kernel sums them over samples in order. gamma/beta NULL mean 1/0;
// dgamma/dbeta may be NULL. Every sum has a fixed order: deterministic.
//
// The per-group and per-element formulas are kernels/shared/group_norm.h's
// (the CPU backend calls the same functions), SiLU shared/activation.h's.
//
// Each thread keeps one channel slot (VEC consecutive channels of the
// group) for the whole block: blockDim is a multiple of c/groups/VEC.
//
// Few (sample, group) pairs on a large field (a 721x1440 ERA5 grid at batch
// 1 has 8 pairs for 132 SMs) would leave most of the GPU idle, so each pair's
// pixels are split into `splits` ranges, one block each (gn_splits: enough
// blocks for two per SM, at least GN_MIN_SPLIT_PIXELS pixels a range). With
// splits > 1 a pass runs as two kernels: GN_PARTIAL writes each range's sums
// (double) to scratch, GN_APPLY combines a pair's ranges in range order and
// sweeps its own range again. splits = 1 is the single fused kernel
// (GN_FUSED). splits depends on the shape and the SM count only, so the
// result is the same run after run on a device.
#include <math.h>

#include "cuda/cuda_backend_internal.cuh"
#include "cuda/reduce.cuh"
#include "shared/activation.h"
#include "shared/group_norm.h"

#define GN_FWD_THREADS      1024
#define GN_BWD_THREADS      512
#define GN_MIN_SPLIT_PIXELS 2048

enum { GN_FUSED = 0, GN_PARTIAL = 1, GN_APPLY = 2 };

template <int VEC> struct gn_vec;
template <> struct gn_vec<1> {
    typedef float type;
    static __device__ __forceinline__ float get(const float &v, int) { return v; }
    static __device__ __forceinline__ void set(float &v, int, float s) { v = s; }
};
template <> struct gn_vec<4> {
    typedef float4 type;
    static __device__ __forceinline__ float get(const float4 &v, int k) {
        return k == 0 ? v.x : k == 1 ? v.y : k == 2 ? v.z : v.w;
    }
    static __device__ __forceinline__ void set(float4 &v, int k, float s) {
        if (k == 0)
            v.x = s;
        else if (k == 1)
            v.y = s;
        else if (k == 2)
            v.z = s;
        else
            v.w = s;
    }
};

// Pixel range [*lo, *hi) of split s of `splits` over hw pixels.
__device__ __forceinline__ void gn_range(int hw, int splits, int s, int *lo, int *hi) {
    const int per = (hw + splits - 1) / splits;
    *lo = s * per < hw ? s * per : hw;
    *hi = *lo + per < hw ? *lo + per : hw;
}

// Block (pair ig = i * groups + g, range s) = blockIdx.x = ig * splits + s.
// part (GN_PARTIAL / GN_APPLY): [n * groups * splits, 2] doubles, the sum
// and sum of squares of each range.
template <int VEC>
__global__ void __launch_bounds__(GN_FWD_THREADS, 1)
    dfl_gn_fwd_kernel(int hw, int c, int groups, int splits, int mode, float eps, const float *__restrict__ x,
                      const float *__restrict__ gamma, const float *__restrict__ beta, float *__restrict__ y,
                      float *__restrict__ mean, float *__restrict__ rstd, double *__restrict__ part, int apply_silu) {
    typedef typename gn_vec<VEC>::type vec_t;
    __shared__ double sh[33];
    __shared__ float stats[2];
    const int ig = blockIdx.x / splits, sp = blockIdx.x % splits;
    const int i = ig / groups, g = ig % groups;
    const int cg = c / groups, cgv = cg / VEC;
    const int cv = threadIdx.x % cgv, p0 = threadIdx.x / cgv, pstep = blockDim.x / cgv;
    const size_t cstride = (size_t)c / VEC; // one pixel, in vec_t
    const size_t base = ((size_t)i * hw * c + (size_t)g * cg) / VEC + cv;
    const vec_t *xv = (const vec_t *)x;
    vec_t *yv = (vec_t *)y;
    const bool active = threadIdx.x < pstep * cgv; // whole pixel rows only
    int lo, hi;
    gn_range(hw, splits, sp, &lo, &hi);

    if (mode != GN_APPLY) {
        double s = 0.0, ss = 0.0;
        if (active) {
            for (int p = lo + p0; p < hi; p += pstep) {
                const vec_t v = xv[base + (size_t)p * cstride];
#pragma unroll
                for (int k = 0; k < VEC; ++k) {
                    const double d = gn_vec<VEC>::get(v, k);
                    s += d;
                    ss += d * d;
                }
            }
        }
        s = dfl_block_sum(s, sh);
        ss = dfl_block_sum(ss, sh);
        if (mode == GN_PARTIAL) {
            if (threadIdx.x == 0) {
                part[2 * (size_t)blockIdx.x] = s;
                part[2 * (size_t)blockIdx.x + 1] = ss;
            }
            return;
        }
        if (threadIdx.x == 0) dfl_gn_stats(s, ss, (double)hw * cg, eps, &stats[0], &stats[1]);
    } else if (threadIdx.x == 0) { // the pair's ranges in order
        double s = 0.0, ss = 0.0;
        for (int r = 0; r < splits; ++r) {
            s += part[2 * ((size_t)ig * splits + r)];
            ss += part[2 * ((size_t)ig * splits + r) + 1];
        }
        dfl_gn_stats(s, ss, (double)hw * cg, eps, &stats[0], &stats[1]);
    }
    if (threadIdx.x == 0 && sp == 0) {
        mean[ig] = stats[0];
        rstd[ig] = stats[1];
    }
    __syncthreads();
    if (!active) return;
    const float m = stats[0], r = stats[1];
    float sc[VEC], sb[VEC];
#pragma unroll
    for (int k = 0; k < VEC; ++k) {
        const int ch = g * cg + cv * VEC + k;
        sc[k] = dfl_gn_scale(r, dfl_gn_gamma(gamma, ch));
        sb[k] = dfl_gn_beta(beta, ch);
    }
    for (int p = lo + p0; p < hi; p += pstep) {
        const size_t off = base + (size_t)p * cstride;
        const vec_t v = xv[off];
        vec_t o;
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
            const float a = dfl_gn_affine(gn_vec<VEC>::get(v, k) - m, sc[k], sb[k]);
            gn_vec<VEC>::set(o, k, apply_silu ? dfl_siluf(a) : a);
        }
        yv[off] = o;
    }
}

// part: [n, splits, 2, c] doubles: sum da (dbeta) | sum da xhat (dgamma),
// per sample and pixel range. Block (ig, s) = blockIdx.x = ig * splits + s.
template <int VEC>
__global__ void __launch_bounds__(GN_BWD_THREADS)
    dfl_gn_bwd_kernel(int hw, int c, int groups, int splits, int mode, const float *__restrict__ x,
                      const float *__restrict__ gamma, const float *__restrict__ beta, const float *__restrict__ mean,
                      const float *__restrict__ rstd, const float *__restrict__ dy, const float *__restrict__ dx_add,
                      float *__restrict__ dx, double *__restrict__ part, int apply_silu) {
    typedef typename gn_vec<VEC>::type vec_t;
    __shared__ double sd[GN_BWD_THREADS * VEC], sdx[GN_BWD_THREADS * VEC];
    __shared__ double coef[2];
    const int ig = blockIdx.x / splits, sp = blockIdx.x % splits;
    const int i = ig / groups, g = ig % groups;
    const int cg = c / groups, cgv = cg / VEC;
    const int cv = threadIdx.x % cgv, p0 = threadIdx.x / cgv, pstep = blockDim.x / cgv;
    const size_t cstride = (size_t)c / VEC;
    const size_t base = ((size_t)i * hw * c + (size_t)g * cg) / VEC + cv;
    const vec_t *xv = (const vec_t *)x, *dyv = (const vec_t *)dy, *addv = (const vec_t *)dx_add;
    vec_t *dxv = (vec_t *)dx;
    const bool active = threadIdx.x < pstep * cgv;
    const float m = mean[ig], r = rstd[ig];
    int lo, hi;
    gn_range(hw, splits, sp, &lo, &hi);
    float gm[VEC], sc[VEC], sb[VEC];
#pragma unroll
    for (int k = 0; k < VEC; ++k) {
        const int ch = g * cg + cv * VEC + k;
        gm[k] = dfl_gn_gamma(gamma, ch);
        sc[k] = dfl_gn_scale(r, gm[k]);
        sb[k] = dfl_gn_beta(beta, ch);
    }

    // sweep 1: per-thread sums for its VEC channels
    double ad[VEC], adx[VEC];
#pragma unroll
    for (int k = 0; k < VEC; ++k) ad[k] = adx[k] = 0.0;
    if (active && mode != GN_APPLY) {
        for (int p = lo + p0; p < hi; p += pstep) {
            const size_t off = base + (size_t)p * cstride;
            const vec_t v = xv[off], gv = dyv[off];
#pragma unroll
            for (int k = 0; k < VEC; ++k) {
                const float xc = gn_vec<VEC>::get(v, k) - m;
                float da = gn_vec<VEC>::get(gv, k);
                if (apply_silu) da *= dfl_silu_grad(dfl_gn_affine(xc, sc[k], sb[k]));
                ad[k] += (double)da;
                adx[k] += (double)da * (double)dfl_gn_xhat(xc, r);
            }
        }
    }
#pragma unroll
    for (int k = 0; k < VEC; ++k) {
        sd[threadIdx.x * VEC + k] = active ? ad[k] : 0.0;
        sdx[threadIdx.x * VEC + k] = active ? adx[k] : 0.0;
    }
    __syncthreads();
    // per-channel totals of the range: channel cc of the group gathers the
    // threads that held it (t = cc/VEC, cc/VEC + cgv, ...), in order
    double tot_d = 0.0, tot_dx = 0.0;
    if (threadIdx.x < cg && mode != GN_APPLY) {
        const int cc = threadIdx.x, slot = cc / VEC, k = cc % VEC;
        for (int t = slot; t < pstep * cgv; t += cgv) {
            tot_d += sd[t * VEC + k];
            tot_dx += sdx[t * VEC + k];
        }
        const size_t ch = (size_t)g * cg + cc, row = (size_t)i * splits + sp;
        part[row * 2 * c + ch] = tot_d;
        part[row * 2 * c + c + ch] = tot_dx;
    }
    if (mode == GN_PARTIAL) return;
    if (threadIdx.x < cg && mode == GN_APPLY) { // the pair's ranges in order
        const size_t ch = (size_t)g * cg + threadIdx.x;
        for (int r = 0; r < splits; ++r) {
            const size_t row = (size_t)i * splits + r;
            tot_d += part[row * 2 * c + ch];
            tot_dx += part[row * 2 * c + c + ch];
        }
    }
    __syncthreads();
    if (threadIdx.x < cg) {
        const double w = gamma ? (double)gamma[g * cg + threadIdx.x] : 1.0;
        sd[threadIdx.x] = w * tot_d;
        sdx[threadIdx.x] = w * tot_dx;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        double a = 0.0, b = 0.0;
        for (int cc = 0; cc < cg; ++cc) {
            a += sd[cc];
            b += sdx[cc];
        }
        coef[0] = a; // sum_g da gamma
        coef[1] = b; // sum_g da gamma xhat
    }
    __syncthreads();
    if (!active) return;
    const double rd = r;
    float Q, R;
    dfl_gn_bwd_qr(rd, coef[0], coef[1], (double)hw * cg, &Q, &R);
    float P[VEC];
#pragma unroll
    for (int k = 0; k < VEC; ++k) P[k] = dfl_gn_bwd_p(rd, gm[k]);

    // sweep 2: dx
    for (int p = lo + p0; p < hi; p += pstep) {
        const size_t off = base + (size_t)p * cstride;
        const vec_t v = xv[off], gv = dyv[off];
        const vec_t add = addv ? addv[off] : v; // v: unused stand-in without dx_add
        vec_t o;
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
            const float xc = gn_vec<VEC>::get(v, k) - m;
            float da = gn_vec<VEC>::get(gv, k);
            if (apply_silu) da *= dfl_silu_grad(dfl_gn_affine(xc, sc[k], sb[k]));
            const float d = dfl_gn_bwd_dx(P[k], da, Q, xc, R);
            gn_vec<VEC>::set(o, k, addv ? d + gn_vec<VEC>::get(add, k) : d);
        }
        dxv[off] = o;
    }
}

// dgamma[ch] = sum_i part[i, 1, ch], dbeta[ch] = sum_i part[i, 0, ch] over
// the n = samples * splits rows of part, in row order.
__global__ void dfl_gn_bwd_params_kernel(int n, int c, const double *__restrict__ part, float *__restrict__ dgamma,
                                         float *__restrict__ dbeta) {
    for (int ch = blockIdx.x * blockDim.x + threadIdx.x; ch < c; ch += gridDim.x * blockDim.x) {
        double sb = 0.0, sg = 0.0;
        for (int i = 0; i < n; ++i) {
            sb += part[(size_t)i * 2 * c + ch];
            sg += part[(size_t)i * 2 * c + c + ch];
        }
        if (dgamma) dgamma[ch] = (float)sg;
        if (dbeta) dbeta[ch] = (float)sb;
    }
}

static void check_shape(int n, int hw, int c, int groups) {
    if (n < 1 || hw < 1 || c < 1 || groups < 1 || c % groups != 0)
        DFL_PANIC("group_norm: bad shape n=%d hw=%d c=%d groups=%d", n, hw, c, groups);
    if (c / groups > GN_BWD_THREADS)
        DFL_PANIC("group_norm: %d channels per group exceed the CUDA kernel's limit %d", c / groups, GN_BWD_THREADS);
    if ((size_t)n * groups > 0x7fffffffu) DFL_PANIC("group_norm: too many (sample, group) pairs");
}

// Pixel ranges per (sample, group) pair: enough blocks for two per SM, at
// least GN_MIN_SPLIT_PIXELS pixels a range, 1 when the pairs fill the GPU.
static int gn_splits(dfl_backend *be, int n, int hw, int groups) {
    const long long pairs = (long long)n * groups, want = 2LL * dfl_cuda_ctx_of(be)->sm_count;
    if (pairs >= want) return 1;
    long long s = (want + pairs - 1) / pairs;
    const long long most = hw / GN_MIN_SPLIT_PIXELS;
    if (s > most) s = most;
    return s < 1 ? 1 : (int)s;
}

static int use_vec4(int c, int groups, const void *a, const void *b, const void *d) {
    return (c / groups) % 4 == 0 && dfl_cuda_aligned16(a) && dfl_cuda_aligned16(b) && dfl_cuda_aligned16(d);
}

static void cuda_group_norm_forward(dfl_backend *be, int n, int hw, int c, int groups, float eps, const float *x,
                                    const float *gamma, const float *beta, float *y, float *mean, float *rstd,
                                    int apply_silu) {
    check_shape(n, hw, c, groups);
    cudaStream_t s = dfl_cuda_stream(be);
    const int splits = gn_splits(be, n, hw, groups);
    const unsigned blocks = (unsigned)((long long)n * groups * splits);
    const int cg = c / groups;
    double *part = NULL;
    if (splits > 1) part = (double *)dfl_cuda_scratch(be, DFL_CUDA_SCR_TMP, (size_t)blocks * 2 * sizeof(double));
    const int vec4 = use_vec4(c, groups, x, y, y);
    const int threads = vec4 ? (GN_FWD_THREADS / (cg / 4)) * (cg / 4) : (GN_FWD_THREADS / cg) * cg;
    const int modes[2] = {splits > 1 ? GN_PARTIAL : GN_FUSED, GN_APPLY};
    for (int k = 0; k < (splits > 1 ? 2 : 1); ++k) {
        if (vec4)
            dfl_gn_fwd_kernel<4><<<blocks, threads, 0, s>>>(hw, c, groups, splits, modes[k], eps, x, gamma, beta, y,
                                                            mean, rstd, part, apply_silu);
        else
            dfl_gn_fwd_kernel<1><<<blocks, threads, 0, s>>>(hw, c, groups, splits, modes[k], eps, x, gamma, beta, y,
                                                            mean, rstd, part, apply_silu);
        cudaCheckLaunch();
    }
}

static void cuda_group_norm_backward(dfl_backend *be, int n, int hw, int c, int groups, const float *x,
                                     const float *gamma, const float *beta, const float *mean, const float *rstd,
                                     const float *dy, const float *dx_add, float *dx, float *dgamma, float *dbeta,
                                     int apply_silu) {
    check_shape(n, hw, c, groups);
    cudaStream_t s = dfl_cuda_stream(be);
    const int splits = gn_splits(be, n, hw, groups);
    const size_t rows = (size_t)n * splits; // rows of part
    double *part = (double *)dfl_cuda_scratch(be, DFL_CUDA_SCR_TMP, rows * 2 * c * sizeof(double));
    const unsigned blocks = (unsigned)((long long)n * groups * splits);
    const int cg = c / groups;
    if (dx_add && dx_add == dx) DFL_PANIC("group_norm_backward: dx must not alias dx_add");
    const int vec4 = use_vec4(c, groups, x, dy, dx) && (!dx_add || dfl_cuda_aligned16(dx_add));
    const int threads = vec4 ? (GN_BWD_THREADS / (cg / 4)) * (cg / 4) : (GN_BWD_THREADS / cg) * cg;
    const int modes[2] = {splits > 1 ? GN_PARTIAL : GN_FUSED, GN_APPLY};
    for (int k = 0; k < (splits > 1 ? 2 : 1); ++k) {
        if (vec4)
            dfl_gn_bwd_kernel<4><<<blocks, threads, 0, s>>>(hw, c, groups, splits, modes[k], x, gamma, beta, mean, rstd,
                                                            dy, dx_add, dx, part, apply_silu);
        else
            dfl_gn_bwd_kernel<1><<<blocks, threads, 0, s>>>(hw, c, groups, splits, modes[k], x, gamma, beta, mean, rstd,
                                                            dy, dx_add, dx, part, apply_silu);
        cudaCheckLaunch();
    }
    if (dgamma || dbeta) {
        dfl_gn_bwd_params_kernel<<<dfl_cuda_blocks((size_t)c, 128), 128, 0, s>>>((int)rows, c, part, dgamma, dbeta);
        cudaCheckLaunch();
    }
}

void dfl_cuda_register_group_norm_ops(dfl_backend *be) {
    be->group_norm_forward = cuda_group_norm_forward;
    be->group_norm_backward = cuda_group_norm_backward;
}
