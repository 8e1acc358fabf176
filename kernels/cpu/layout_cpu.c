/* Resampling and layout ops of the CPU backend (docs/design.md, "The network: dfl-unet v1"): nearest x2
 * upsampling, channel concatenation, end padding/cropping to a multiple of
 * 2^(L-1), and NCHW <-> NHWC transposes. All are data movement except the
 * upsampling backward, which sums each 2x2 block in a fixed order. */
#include <string.h>

#include "cpu/cpu_backend_internal.h"
#include "shared/upsample.h"

#define LAYOUT_PARALLEL_MIN 32768

static void cpu_upsample_forward(dfl_backend *be, int n, int h, int w, int c, const float *x, float *y) {
    (void)be;
    const int wo = 2 * w;
    const size_t total = (size_t)n * h * w * c;
#pragma omp parallel for collapse(2) schedule(static) if (total > LAYOUT_PARALLEL_MIN)
    for (int i = 0; i < n; ++i) {
        for (int yy = 0; yy < h; ++yy) {
            const float *src = x + ((size_t)i * h + yy) * w * c;
            float *row0 = y + ((size_t)i * 2 * h + 2 * yy) * wo * c;
            for (int xx = 0; xx < w; ++xx) {
                const float *s = src + (size_t)xx * c;
                float *d = row0 + (size_t)2 * xx * c;
#pragma omp simd
                for (int ch = 0; ch < c; ++ch) d[ch] = d[c + ch] = s[ch];
            }
            memcpy(row0 + (size_t)wo * c, row0, (size_t)wo * c * sizeof(float));
        }
    }
}

/* dx [n, h, w, c] = sum of dy over each 2x2 block, (0,0)+(0,1)+(1,0)+(1,1)
 * (kernels/shared/upsample.h). */
static void cpu_upsample_backward(dfl_backend *be, int n, int h, int w, int c, const float *dy, float *dx) {
    (void)be;
    const int wo = 2 * w;
    const size_t total = (size_t)n * h * w * c;
#pragma omp parallel for collapse(2) schedule(static) if (total > LAYOUT_PARALLEL_MIN)
    for (int i = 0; i < n; ++i) {
        for (int yy = 0; yy < h; ++yy) {
            const float *r0 = dy + ((size_t)i * 2 * h + 2 * yy) * wo * c, *r1 = r0 + (size_t)wo * c;
            float *d = dx + ((size_t)i * h + yy) * w * c;
            for (int xx = 0; xx < w; ++xx) {
                const float *a = r0 + (size_t)2 * xx * c, *b = r1 + (size_t)2 * xx * c;
                float *o = d + (size_t)xx * c;
#pragma omp simd
                for (int ch = 0; ch < c; ++ch) o[ch] = dfl_upsample_bwd_sum(a[ch], a[c + ch], b[ch], b[c + ch]);
            }
        }
    }
}

static void cpu_concat_forward(dfl_backend *be, size_t pixels, int ca, int cb, const float *a, const float *b,
                               float *y) {
    (void)be;
    const int c = ca + cb;
#pragma omp parallel for schedule(static) if (pixels * c > LAYOUT_PARALLEL_MIN)
    for (size_t p = 0; p < pixels; ++p) {
        memcpy(y + p * c, a + p * ca, (size_t)ca * sizeof(float));
        memcpy(y + p * c + ca, b + p * cb, (size_t)cb * sizeof(float));
    }
}

static void cpu_concat_backward(dfl_backend *be, size_t pixels, int ca, int cb, const float *dy, float *da, float *db) {
    (void)be;
    const int c = ca + cb;
#pragma omp parallel for schedule(static) if (pixels * c > LAYOUT_PARALLEL_MIN)
    for (size_t p = 0; p < pixels; ++p) {
        if (da) memcpy(da + p * ca, dy + p * c, (size_t)ca * sizeof(float));
        if (db) memcpy(db + p * cb, dy + p * c + ca, (size_t)cb * sizeof(float));
    }
}

static void cpu_pad_end(dfl_backend *be, int n, int h, int w, int c, int hp, int wp, const float *x, float *y) {
    (void)be;
    if (hp < h || wp < w) DFL_PANIC("pad_end: target %dx%d smaller than %dx%d", hp, wp, h, w);
    const size_t total = (size_t)n * hp * wp * c;
#pragma omp parallel for collapse(2) schedule(static) if (total > LAYOUT_PARALLEL_MIN)
    for (int i = 0; i < n; ++i) {
        for (int yy = 0; yy < hp; ++yy) {
            float *d = y + ((size_t)i * hp + yy) * wp * c;
            if (yy < h) {
                memcpy(d, x + ((size_t)i * h + yy) * w * c, (size_t)w * c * sizeof(float));
                memset(d + (size_t)w * c, 0, (size_t)(wp - w) * c * sizeof(float));
            } else {
                memset(d, 0, (size_t)wp * c * sizeof(float));
            }
        }
    }
}

static void cpu_crop_end(dfl_backend *be, int n, int hp, int wp, int c, int h, int w, const float *x, float *y) {
    (void)be;
    if (hp < h || wp < w) DFL_PANIC("crop_end: source %dx%d smaller than %dx%d", hp, wp, h, w);
    const size_t total = (size_t)n * h * w * c;
#pragma omp parallel for collapse(2) schedule(static) if (total > LAYOUT_PARALLEL_MIN)
    for (int i = 0; i < n; ++i)
        for (int yy = 0; yy < h; ++yy)
            memcpy(y + ((size_t)i * h + yy) * w * c, x + ((size_t)i * hp + yy) * wp * c, (size_t)w * c * sizeof(float));
}

/* Transposes of a [rows, cols] matrix per sample, in 32x32 tiles. */
static void transpose_batched(int n, int rows, int cols, const float *x, float *y) {
    enum { T = 32 };
    const int tr = (rows + T - 1) / T, tc = (cols + T - 1) / T;
    const size_t total = (size_t)n * rows * cols;
#pragma omp parallel for collapse(3) schedule(static) if (total > LAYOUT_PARALLEL_MIN)
    for (int i = 0; i < n; ++i) {
        for (int bi = 0; bi < tr; ++bi) {
            for (int bj = 0; bj < tc; ++bj) {
                const float *src = x + (size_t)i * rows * cols;
                float *dst = y + (size_t)i * rows * cols;
                const int r1 = (bi + 1) * T < rows ? (bi + 1) * T : rows;
                const int c1 = (bj + 1) * T < cols ? (bj + 1) * T : cols;
                for (int r = bi * T; r < r1; ++r)
                    for (int cc = bj * T; cc < c1; ++cc) dst[(size_t)cc * rows + r] = src[(size_t)r * cols + cc];
            }
        }
    }
}

static void cpu_nchw_to_nhwc(dfl_backend *be, int n, int c, int h, int w, const float *x, float *y) {
    (void)be;
    transpose_batched(n, c, h * w, x, y);
}

static void cpu_nhwc_to_nchw(dfl_backend *be, int n, int c, int h, int w, const float *x, float *y) {
    (void)be;
    transpose_batched(n, h * w, c, x, y);
}

void dfl_cpu_register_layout_ops(dfl_backend *be) {
    be->upsample_nearest2x_forward = cpu_upsample_forward;
    be->upsample_nearest2x_backward = cpu_upsample_backward;
    be->concat_channels_forward = cpu_concat_forward;
    be->concat_channels_backward = cpu_concat_backward;
    be->pad_end = cpu_pad_end;
    be->crop_end = cpu_crop_end;
    be->nchw_to_nhwc = cpu_nchw_to_nhwc;
    be->nhwc_to_nchw = cpu_nhwc_to_nchw;
}
