/* Group normalisation over NHWC [n, hw, c] with an optional fused SiLU
 * (docs/design.md, "The network: dfl-unet v1": GroupNorm 8 groups, eps 1e-5, affine).
 *
 * Forward, per sample i and group g over its hw * c/groups elements:
 *   mean = E[x], var = E[x^2] - mean^2 (both accumulated in double),
 *   rstd = 1 / sqrt(var + eps), a = (x - mean) rstd gamma + beta,
 *   y = silu(a) when apply_silu, else a.
 * Backward with da = dy * silu'(a) (or dy), xhat = (x - mean) rstd:
 *   dgamma = sum_{i,p} da xhat,  dbeta = sum_{i,p} da,
 *   dx = rstd (da gamma - E_g[da gamma] - xhat E_g[da gamma xhat]).
 * a is recomputed from x, mean, rstd, gamma and beta with the same float
 * expression as the forward, so the recomputed value is bit-identical; the
 * first backward pass stores da in dx, the second turns it into dx.
 *
 * The per-group and per-element formulas are kernels/shared/group_norm.h's
 * (the CUDA kernels call the same functions).
 *
 * Work is split into fixed chunks of pixels (a function of the shape only);
 * each chunk's per-channel partial sums are combined in double in a fixed
 * order, so results are identical for every thread count. The forward's
 * sums of x and x^2 are double throughout (E[x^2] - mean^2 cancels); the
 * backward's sums of da and da xhat are float within a chunk (at most
 * GN_CHUNK_ELEMENTS / c pixels) and double across chunks.
 *
 * Both directions read each element twice (statistics, then the
 * element-wise pass). They walk the batch in blocks of samples that fit the
 * threads' L2 caches, and each pass over a block gives every thread the same
 * chunks (static schedule), so the second read hits L2 instead of memory.
 * The blocking changes the order of the work, never the arithmetic. */
#include <omp.h>
#include <string.h>
#include <unistd.h>

#include "cpu/cpu_backend_internal.h"
#include "cpu/fast_math_cpu.h"
#include "shared/group_norm.h"

#define GN_CHUNK_ELEMENTS 8192 /* floats per chunk of pixels */

typedef struct {
    int n, hw, c, groups, cg;
    int chunk_pixels, nchunks;
} gn_shape;

static gn_shape gn_shape_of(int n, int hw, int c, int groups) {
    if (n < 1 || hw < 1 || c < 1 || groups < 1 || c % groups != 0)
        DFL_PANIC("group_norm: bad shape n=%d hw=%d c=%d groups=%d", n, hw, c, groups);
    gn_shape s = {n, hw, c, groups, c / groups, 0, 0};
    s.chunk_pixels = GN_CHUNK_ELEMENTS / c > 0 ? GN_CHUNK_ELEMENTS / c : 1;
    s.nchunks = (hw + s.chunk_pixels - 1) / s.chunk_pixels;
    return s;
}

/* Samples per block: `arrays` tensors of one block take at most half of the
 * threads' L2 caches together (at least one sample). */
static int gn_block_samples(const gn_shape *s, int arrays) {
    static long l2_bytes = 0;
    if (l2_bytes == 0) {
        long v = sysconf(_SC_LEVEL2_CACHE_SIZE);
        l2_bytes = v > 0 ? v : 1L << 20;
    }
    const size_t per_sample = (size_t)s->hw * s->c * sizeof(float) * (size_t)arrays;
    const size_t budget = (size_t)l2_bytes / 2 * (size_t)omp_get_max_threads();
    const size_t b = budget / per_sample;
    return b < 1 ? 1 : b > (size_t)s->n ? s->n : (int)b;
}

static int gn_chunk_end(const gn_shape *s, int k) {
    const int p1 = (k + 1) * s->chunk_pixels;
    return p1 < s->hw ? p1 : s->hw;
}

/* partial[(i*nchunks + k)*2c + {0..c) | {c..2c)]: per-channel sums of a
 * chunk, combined over the chunks and channels of a group in fixed order. */
static void group_totals(const gn_shape *s, const double *partial, int i, int g, double *t0, double *t1) {
    double a = 0.0, b = 0.0;
    for (int k = 0; k < s->nchunks; ++k) {
        const double *p = partial + ((size_t)i * s->nchunks + k) * 2 * s->c;
        for (int ch = g * s->cg; ch < (g + 1) * s->cg; ++ch) {
            a += p[ch];
            b += p[s->c + ch];
        }
    }
    *t0 = a;
    *t1 = b;
}

/* The same over float chunk sums, each weighted by gamma[ch] (NULL: 1). */
static void group_totals_weighted(const gn_shape *s, const float *partial, const float *weight, int i, int g,
                                  double *t0, double *t1) {
    double a = 0.0, b = 0.0;
    for (int k = 0; k < s->nchunks; ++k) {
        const float *p = partial + ((size_t)i * s->nchunks + k) * 2 * s->c;
        for (int ch = g * s->cg; ch < (g + 1) * s->cg; ++ch) {
            const double wgt = weight ? (double)weight[ch] : 1.0;
            a += wgt * (double)p[ch];
            b += wgt * (double)p[s->c + ch];
        }
    }
    *t0 = a;
    *t1 = b;
}

static void cpu_group_norm_forward(dfl_backend *be, int n, int hw, int c, int groups, float eps, const float *x,
                                   const float *gamma, const float *beta, float *y, float *mean, float *rstd,
                                   int apply_silu) {
    const gn_shape s = gn_shape_of(n, hw, c, groups);
    double *partial = dfl_cpu_ws(be, DFL_CPU_WS_REDUCE, (size_t)n * s.nchunks * 2 * c * sizeof(double));
    float *coef = dfl_cpu_ws(be, DFL_CPU_WS_TMP, (size_t)3 * n * c * sizeof(float));
    float *cm = coef, *cs = coef + (size_t)n * c, *cb = coef + (size_t)2 * n * c;
    const double count = (double)hw * s.cg;
    const int block = gn_block_samples(&s, 2); /* x read twice, y written */

    for (int i0 = 0; i0 < n; i0 += block) {
        const int i1 = i0 + block < n ? i0 + block : n;
#pragma omp parallel for collapse(2) schedule(static)
        for (int i = i0; i < i1; ++i) {
            for (int k = 0; k < s.nchunks; ++k) {
                double *sum = partial + ((size_t)i * s.nchunks + k) * 2 * c, *sq = sum + c;
                for (int ch = 0; ch < c; ++ch) sum[ch] = sq[ch] = 0.0;
                for (int p = k * s.chunk_pixels, p1 = gn_chunk_end(&s, k); p < p1; ++p) {
                    const float *xr = x + ((size_t)i * hw + p) * c;
#pragma omp simd
                    for (int ch = 0; ch < c; ++ch) {
                        const double v = xr[ch];
                        sum[ch] += v;
                        sq[ch] += v * v;
                    }
                }
            }
        }

        for (int i = i0; i < i1; ++i) {
            for (int g = 0; g < groups; ++g) {
                double t0, t1;
                group_totals(&s, partial, i, g, &t0, &t1);
                float m, r;
                dfl_gn_stats(t0, t1, count, eps, &m, &r);
                mean[i * groups + g] = m;
                rstd[i * groups + g] = r;
                for (int ch = g * s.cg; ch < (g + 1) * s.cg; ++ch) {
                    cm[(size_t)i * c + ch] = m;
                    cs[(size_t)i * c + ch] = dfl_gn_scale(r, dfl_gn_gamma(gamma, ch));
                    cb[(size_t)i * c + ch] = dfl_gn_beta(beta, ch);
                }
            }
        }

#pragma omp parallel for collapse(2) schedule(static)
        for (int i = i0; i < i1; ++i) {
            for (int k = 0; k < s.nchunks; ++k) {
                const float *m = cm + (size_t)i * c, *sc = cs + (size_t)i * c, *b = cb + (size_t)i * c;
                for (int p = k * s.chunk_pixels, p1 = gn_chunk_end(&s, k); p < p1; ++p) {
                    const float *xr = x + ((size_t)i * hw + p) * c;
                    float *yr = y + ((size_t)i * hw + p) * c;
                    if (apply_silu) {
#pragma omp simd
                        for (int ch = 0; ch < c; ++ch)
                            yr[ch] = dfl_cpu_siluf(dfl_gn_affine(xr[ch] - m[ch], sc[ch], b[ch]));
                    } else {
#pragma omp simd
                        for (int ch = 0; ch < c; ++ch) yr[ch] = dfl_gn_affine(xr[ch] - m[ch], sc[ch], b[ch]);
                    }
                }
            }
        }
    }
}

static void cpu_group_norm_backward(dfl_backend *be, int n, int hw, int c, int groups, const float *x,
                                    const float *gamma, const float *beta, const float *mean, const float *rstd,
                                    const float *dy, const float *dx_add, float *dx, float *dgamma, float *dbeta,
                                    int apply_silu) {
    const gn_shape s = gn_shape_of(n, hw, c, groups);
    /* dx holds da between the passes and x is read in both: dx may alias dy, not x */
    if ((const float *)dx == x) DFL_PANIC("group_norm_backward: dx must not alias x");
    if (dx_add && (const float *)dx == dx_add) DFL_PANIC("group_norm_backward: dx must not alias dx_add");
    float *partial = dfl_cpu_ws(be, DFL_CPU_WS_REDUCE, (size_t)n * s.nchunks * 2 * c * sizeof(float));
    /* per (sample, channel): mean, rstd gamma, beta, rstd (forward recompute),
     * then the dx coefficients P, Q, R of dx = P da + Q (x - mean) + R */
    float *coef = dfl_cpu_ws(be, DFL_CPU_WS_TMP, (size_t)7 * n * c * sizeof(float));
    float *cm = coef, *cs = coef + (size_t)n * c, *cb = coef + (size_t)2 * n * c, *cr = coef + (size_t)3 * n * c;
    float *cP = coef + (size_t)4 * n * c, *cQ = coef + (size_t)5 * n * c, *cR = coef + (size_t)6 * n * c;
    const double count = (double)hw * s.cg;
    const int block = gn_block_samples(&s, 3); /* x, dy (or da) and dx */

    for (int i = 0; i < n; ++i) {
        for (int ch = 0; ch < c; ++ch) {
            const int g = ch / s.cg;
            const size_t j = (size_t)i * c + ch;
            cm[j] = mean[i * groups + g];
            cr[j] = rstd[i * groups + g];
            cs[j] = dfl_gn_scale(cr[j], dfl_gn_gamma(gamma, ch));
            cb[j] = dfl_gn_beta(beta, ch);
        }
    }

    for (int i0 = 0; i0 < n; i0 += block) {
        const int i1 = i0 + block < n ? i0 + block : n;
        /* pass 1: per-chunk sums of da and da * xhat (float within the chunk) */
#pragma omp parallel for collapse(2) schedule(static)
        for (int i = i0; i < i1; ++i) {
            for (int k = 0; k < s.nchunks; ++k) {
                const float *m = cm + (size_t)i * c, *sc = cs + (size_t)i * c, *b = cb + (size_t)i * c,
                            *r = cr + (size_t)i * c;
                float *sd = partial + ((size_t)i * s.nchunks + k) * 2 * c, *sdx = sd + c;
                for (int ch = 0; ch < c; ++ch) sd[ch] = sdx[ch] = 0.0f;
                for (int p = k * s.chunk_pixels, p1 = gn_chunk_end(&s, k); p < p1; ++p) {
                    const float *xr = x + ((size_t)i * hw + p) * c, *dyr = dy + ((size_t)i * hw + p) * c;
                    float *dar = dx + ((size_t)i * hw + p) * c;
                    if (apply_silu) {
#pragma omp simd
                        for (int ch = 0; ch < c; ++ch) {
                            const float xc = xr[ch] - m[ch];
                            const float da = dyr[ch] * dfl_cpu_silu_grad(dfl_gn_affine(xc, sc[ch], b[ch]));
                            dar[ch] = da; /* kept for pass 2 (dx may alias dy: same element) */
                            sd[ch] += da;
                            sdx[ch] += da * dfl_gn_xhat(xc, r[ch]);
                        }
                    } else {
#pragma omp simd
                        for (int ch = 0; ch < c; ++ch) {
                            const float da = dyr[ch];
                            sd[ch] += da;
                            sdx[ch] += da * dfl_gn_xhat(xr[ch] - m[ch], r[ch]);
                        }
                    }
                }
            }
        }

        for (int i = i0; i < i1; ++i) {
            for (int g = 0; g < groups; ++g) {
                double t0, t1;
                group_totals_weighted(&s, partial, gamma, i, g, &t0, &t1);
                const double r = rstd[i * groups + g];
                float q, rr;
                dfl_gn_bwd_qr(r, t0, t1, count, &q, &rr);
                for (int ch = g * s.cg; ch < (g + 1) * s.cg; ++ch) {
                    const size_t j = (size_t)i * c + ch;
                    cP[j] = dfl_gn_bwd_p(r, dfl_gn_gamma(gamma, ch));
                    cQ[j] = q;
                    cR[j] = rr;
                }
            }
        }

        /* pass 2: dx from da (stored in dx by pass 1 when SiLU is fused, else dy), plus dx_add */
#pragma omp parallel for collapse(2) schedule(static)
        for (int i = i0; i < i1; ++i) {
            for (int k = 0; k < s.nchunks; ++k) {
                const float *m = cm + (size_t)i * c;
                const float *P = cP + (size_t)i * c, *Q = cQ + (size_t)i * c, *R = cR + (size_t)i * c;
                for (int p = k * s.chunk_pixels, p1 = gn_chunk_end(&s, k); p < p1; ++p) {
                    const float *xr = x + ((size_t)i * hw + p) * c;
                    const float *dar = (apply_silu ? dx : dy) + ((size_t)i * hw + p) * c;
                    float *dxr = dx + ((size_t)i * hw + p) * c;
                    if (dx_add) {
                        const float *addr = dx_add + ((size_t)i * hw + p) * c;
#pragma omp simd
                        for (int ch = 0; ch < c; ++ch)
                            dxr[ch] = dfl_gn_bwd_dx(P[ch], dar[ch], Q[ch], xr[ch] - m[ch], R[ch]) + addr[ch];
                    } else {
#pragma omp simd
                        for (int ch = 0; ch < c; ++ch)
                            dxr[ch] = dfl_gn_bwd_dx(P[ch], dar[ch], Q[ch], xr[ch] - m[ch], R[ch]);
                    }
                }
            }
        }
    }

    if (dgamma || dbeta) {
#pragma omp parallel for schedule(static)
        for (int ch = 0; ch < c; ++ch) {
            double sg = 0.0, sb = 0.0;
            for (int i = 0; i < n; ++i) {
                for (int k = 0; k < s.nchunks; ++k) {
                    const float *p = partial + ((size_t)i * s.nchunks + k) * 2 * c;
                    sb += p[ch];
                    sg += p[c + ch];
                }
            }
            if (dgamma) dgamma[ch] = (float)sg;
            if (dbeta) dbeta[ch] = (float)sb;
        }
    }
}

void dfl_cpu_register_group_norm_ops(dfl_backend *be) {
    be->group_norm_forward = cpu_group_norm_forward;
    be->group_norm_backward = cpu_group_norm_backward;
}
