/* Direct convolution weight gradient on NHWC tensors (AVX2 + FMA; k 1 or
 * 3, stride 1 or 2), used instead of oneDNN where it is faster (conv_cpu.c
 * decides).
 *
 *   dW[co, ci, ky, kx] = sum_{i, oy, ox} dy[i, oy, ox, co] x[i, s oy+ky-py, s ox+kx-px, ci]
 *
 * over in-range input positions (zero padding py/px, or a haloed input with
 * padding 0 along periodic axes). oneDNN 2.6's AVX2 backward-weights
 * kernels reach ~40 GFLOP/s a core here (1x1 and stride 2: 20-30), plus
 * the NHWC -> blocked reorders of x and dy; this kernel reads NHWC directly
 * and reaches ~50-60 on the UNet's 32x32 and 64x64 layers
 * (docs/cpu-backend.md).
 *
 * Register tile: 16 output channels (two 8-float vectors loaded from dy)
 * by 6 input channels (broadcast from x), 12 accumulators, over a block of
 * rows of one sample and one kernel tap; the block's dy and x stay in L2
 * while every (tap, co block, ci block) streams through it.
 *
 * Determinism: each sample's contribution is accumulated by one thread in
 * a fixed order into its own partial; partials are summed in sample order.
 * The result is the same bits for any thread count. */
#include <string.h>

#include "cpu/cpu_backend_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* Compiled for AVX2 + FMA whatever the build's -march (DYNFILL_NATIVE=OFF
 * images too) and used only when the CPU has them (checked at run time). */
#define DIRECT_TARGET __attribute__((target("avx2,fma")))

static int cpu_has_avx2_fma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

#define DIRECT_CO_BLOCK     16
#define DIRECT_CI_BLOCK     6
#define DIRECT_BLOCK_PIXELS 256 /* output pixels (whole rows) a tile pass covers */

typedef struct {
    const float *x;  /* one sample: [hs, ws, cin] */
    const float *dy; /* one sample: [oh, ow, cout] */
    int hs, ws, oh, ow, cin, cout, py, px, stride;
} direct_problem;

/* ceil(a / b) for b > 0 and a > -b */
static inline int ceil_div(int a, int b) { return a <= 0 ? 0 : (a + b - 1) / b; }

/* Adds to dwt[ci][co] (one tap's [cin, cout] slice) the tile (co block c0,
 * ci block j0 of NJ channels) over output rows [oy0, oy1). */
#define DIRECT_TILE_KERNEL(NJ)                                                                                         \
    DIRECT_TARGET static void direct_tile_##NJ(const direct_problem *p, int ky, int kx, int oy0, int oy1, int c0,      \
                                               int j0, float *dwt) {                                                   \
        __m256 a0 = _mm256_setzero_ps(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0, a4 = a0,       \
               b4 = a0, a5 = a0, b5 = a0;                                                                              \
        /* output columns whose input column ox * stride + kx - px is in range */                                      \
        const int lo = ceil_div(p->px - kx, p->stride);                                                                \
        const int hi_in = ceil_div(p->ws + p->px - kx, p->stride);                                                     \
        const int hi = hi_in < p->ow ? hi_in : p->ow;                                                                  \
        const size_t xstep = (size_t)p->stride * p->cin;                                                               \
        for (int oy = oy0; oy < oy1; ++oy) {                                                                           \
            const int iy = oy * p->stride + ky - p->py;                                                                \
            if (iy < 0 || iy >= p->hs) continue;                                                                       \
            const float *d = p->dy + ((size_t)oy * p->ow + lo) * p->cout + c0;                                         \
            const float *s = p->x + ((size_t)iy * p->ws + (lo * p->stride + kx - p->px)) * p->cin + j0;                \
            for (int ox = lo; ox < hi; ++ox, d += p->cout, s += xstep) {                                               \
                const __m256 d0 = _mm256_loadu_ps(d), d1 = _mm256_loadu_ps(d + 8);                                     \
                __m256 v = _mm256_broadcast_ss(s);                                                                     \
                a0 = _mm256_fmadd_ps(d0, v, a0);                                                                       \
                b0 = _mm256_fmadd_ps(d1, v, b0);                                                                       \
                if (NJ > 1) {                                                                                          \
                    v = _mm256_broadcast_ss(s + 1);                                                                    \
                    a1 = _mm256_fmadd_ps(d0, v, a1);                                                                   \
                    b1 = _mm256_fmadd_ps(d1, v, b1);                                                                   \
                }                                                                                                      \
                if (NJ > 2) {                                                                                          \
                    v = _mm256_broadcast_ss(s + 2);                                                                    \
                    a2 = _mm256_fmadd_ps(d0, v, a2);                                                                   \
                    b2 = _mm256_fmadd_ps(d1, v, b2);                                                                   \
                }                                                                                                      \
                if (NJ > 3) {                                                                                          \
                    v = _mm256_broadcast_ss(s + 3);                                                                    \
                    a3 = _mm256_fmadd_ps(d0, v, a3);                                                                   \
                    b3 = _mm256_fmadd_ps(d1, v, b3);                                                                   \
                }                                                                                                      \
                if (NJ > 4) {                                                                                          \
                    v = _mm256_broadcast_ss(s + 4);                                                                    \
                    a4 = _mm256_fmadd_ps(d0, v, a4);                                                                   \
                    b4 = _mm256_fmadd_ps(d1, v, b4);                                                                   \
                }                                                                                                      \
                if (NJ > 5) {                                                                                          \
                    v = _mm256_broadcast_ss(s + 5);                                                                    \
                    a5 = _mm256_fmadd_ps(d0, v, a5);                                                                   \
                    b5 = _mm256_fmadd_ps(d1, v, b5);                                                                   \
                }                                                                                                      \
            }                                                                                                          \
        }                                                                                                              \
        const __m256 lo_acc[6] = {a0, a1, a2, a3, a4, a5}, hi_acc[6] = {b0, b1, b2, b3, b4, b5};                       \
        for (int j = 0; j < NJ; ++j) {                                                                                 \
            float *o = dwt + (size_t)(j0 + j) * p->cout + c0;                                                          \
            _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), lo_acc[j]));                                         \
            _mm256_storeu_ps(o + 8, _mm256_add_ps(_mm256_loadu_ps(o + 8), hi_acc[j]));                                 \
        }                                                                                                              \
    }

DIRECT_TILE_KERNEL(1)
DIRECT_TILE_KERNEL(2)
DIRECT_TILE_KERNEL(3)
DIRECT_TILE_KERNEL(4)
DIRECT_TILE_KERNEL(5)
DIRECT_TILE_KERNEL(6)

typedef void (*direct_tile_fn)(const direct_problem *, int, int, int, int, int, int, float *);
static const direct_tile_fn direct_tiles[DIRECT_CI_BLOCK + 1] = {
    NULL, direct_tile_1, direct_tile_2, direct_tile_3, direct_tile_4, direct_tile_5, direct_tile_6};

int dfl_cpu_conv_bwd_weights_direct_supported(const dfl_conv_desc *d) {
    /* whole 16-channel output blocks, output rows long enough that the tile
     * kernel's per-row overhead stays small (measured: on 16x16 outputs
     * oneDNN is faster) */
    static int has_isa = -1;
    if (has_isa < 0) has_isa = cpu_has_avx2_fma();
    return has_isa && d->cout % DIRECT_CO_BLOCK == 0 && dfl_conv_out_w(d) >= 32;
}

DIRECT_TARGET void dfl_cpu_conv_bwd_weights_direct(dfl_backend *be, const dfl_conv_desc *d, const float *xs, int hs,
                                                   int ws, int py, int px, const float *dy, float *dw, float *db) {
    const int oh = dfl_conv_out_h(d), ow = dfl_conv_out_w(d), cin = d->cin, cout = d->cout, n = d->n;
    const int k = d->k, taps = k * k;
    const size_t tap = (size_t)cin * cout, per_sample = (size_t)taps * tap;
    float *partial = dfl_cpu_ws(be, DFL_CPU_WS_REDUCE, (size_t)n * per_sample * sizeof(float));
    double *bias_partial = db ? dfl_cpu_ws(be, DFL_CPU_WS_TMP, (size_t)n * cout * sizeof(double)) : NULL;
    const int rows = ow >= DIRECT_BLOCK_PIXELS ? 1 : DIRECT_BLOCK_PIXELS / ow;

#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; ++i) {
        direct_problem p = {xs + (size_t)i * hs * ws * cin,
                            dy + (size_t)i * oh * ow * cout,
                            hs,
                            ws,
                            oh,
                            ow,
                            cin,
                            cout,
                            py,
                            px,
                            d->stride};
        float *part = partial + (size_t)i * per_sample;
        memset(part, 0, per_sample * sizeof(float));
        for (int oy0 = 0; oy0 < oh; oy0 += rows) {
            const int oy1 = oy0 + rows < oh ? oy0 + rows : oh;
            for (int t = 0; t < taps; ++t)
                for (int c0 = 0; c0 < cout; c0 += DIRECT_CO_BLOCK)
                    for (int j0 = 0; j0 < cin; j0 += DIRECT_CI_BLOCK) {
                        const int nj = cin - j0 < DIRECT_CI_BLOCK ? cin - j0 : DIRECT_CI_BLOCK;
                        direct_tiles[nj](&p, t / k, t % k, oy0, oy1, c0, j0, part + t * tap);
                    }
        }
        if (bias_partial) {
            double *bp = bias_partial + (size_t)i * cout;
            for (int co = 0; co < cout; ++co) bp[co] = 0.0;
            for (size_t q = 0; q < (size_t)oh * ow; ++q) {
                const float *r = p.dy + q * cout;
#pragma omp simd
                for (int co = 0; co < cout; ++co) bp[co] += (double)r[co];
            }
        }
    }

    /* sum of the partials in sample order (contiguous adds into partial 0),
     * then [tap][ci][co] -> OIHW */
    const long total = (long)per_sample;
#pragma omp parallel for schedule(static)
    for (long j0 = 0; j0 < total; j0 += 1024) {
        const long j1 = j0 + 1024 < total ? j0 + 1024 : total;
        for (int i = 1; i < n; ++i) {
            const float *src = partial + (size_t)i * per_sample;
#pragma omp simd
            for (long j = j0; j < j1; ++j) partial[j] += src[j];
        }
    }
#pragma omp parallel for schedule(static)
    for (int co = 0; co < cout; ++co) {
        for (int ci = 0; ci < cin; ++ci)
            for (int t = 0; t < taps; ++t)
                dw[((size_t)co * cin + ci) * taps + t] = partial[t * tap + (size_t)ci * cout + co];
        if (db) {
            double s = 0.0;
            for (int i = 0; i < n; ++i) s += bias_partial[(size_t)i * cout + co];
            db[co] = (float)s;
        }
    }
}

#else /* not x86: oneDNN handles every shape */

int dfl_cpu_conv_bwd_weights_direct_supported(const dfl_conv_desc *d) {
    (void)d;
    return 0;
}

void dfl_cpu_conv_bwd_weights_direct(dfl_backend *be, const dfl_conv_desc *d, const float *xs, int hs, int ws, int py,
                                     int px, const float *dy, float *dw, float *db) {
    (void)be, (void)d, (void)xs, (void)hs, (void)ws, (void)py, (void)px, (void)dy, (void)dw, (void)db;
    DFL_PANIC("direct conv backward-weights needs x86 AVX2 and FMA");
}

#endif
