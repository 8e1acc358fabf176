/* Elementwise ops of the CPU backend: SiLU, add, scale, the per-sample
 * channel-bias add (time-embedding projection, docs/design.md, "The network: dfl-unet v1" ResBlock) and
 * its backward, and the sinusoidal time embedding. */
#include "cpu/cpu_backend_internal.h"
#include "cpu/fast_math_cpu.h"
#include "shared/time_embedding.h"

/* Below this many elements a loop runs on the calling thread: an OpenMP
 * fork costs more than the work. */
#define EW_PARALLEL_MIN 32768

static void cpu_silu_forward(dfl_backend *be, size_t n, const float *x, float *y) {
    (void)be;
#pragma omp parallel for simd schedule(static) if (n > EW_PARALLEL_MIN)
    for (size_t i = 0; i < n; ++i) y[i] = dfl_cpu_siluf(x[i]);
}

static void cpu_silu_backward(dfl_backend *be, size_t n, const float *x, const float *dy, float *dx) {
    (void)be;
#pragma omp parallel for simd schedule(static) if (n > EW_PARALLEL_MIN)
    for (size_t i = 0; i < n; ++i) dx[i] = dy[i] * dfl_cpu_silu_grad(x[i]);
}

static void cpu_add(dfl_backend *be, size_t n, const float *a, const float *b, float *y) {
    (void)be;
#pragma omp parallel for simd schedule(static) if (n > EW_PARALLEL_MIN)
    for (size_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

static void cpu_scale(dfl_backend *be, size_t n, float alpha, float *x) {
    (void)be;
#pragma omp parallel for simd schedule(static) if (n > EW_PARALLEL_MIN)
    for (size_t i = 0; i < n; ++i) x[i] *= alpha;
}

static void cpu_add_channel_bias(dfl_backend *be, int n, int hw, int c, float *y, const float *bias) {
    (void)be;
    const size_t total = (size_t)n * hw * c;
#pragma omp parallel for collapse(2) schedule(static) if (total > EW_PARALLEL_MIN)
    for (int i = 0; i < n; ++i) {
        for (int p = 0; p < hw; ++p) {
            float *yr = y + ((size_t)i * hw + p) * c;
            const float *b = bias + (size_t)i * c;
#pragma omp simd
            for (int ch = 0; ch < c; ++ch) yr[ch] += b[ch];
        }
    }
}

/* dbias[i, ch] = sum_p dy[i, p, ch], accumulated in double in pixel order
 * (one thread per sample: the order never depends on the thread count). */
static void cpu_channel_bias_backward(dfl_backend *be, int n, int hw, int c, const float *dy, float *dbias) {
    double *acc = dfl_cpu_ws(be, DFL_CPU_WS_REDUCE, (size_t)n * c * sizeof(double));
    const size_t total = (size_t)n * hw * c;
#pragma omp parallel for schedule(static) if (total > EW_PARALLEL_MIN)
    for (int i = 0; i < n; ++i) {
        double *a = acc + (size_t)i * c;
        for (int ch = 0; ch < c; ++ch) a[ch] = 0.0;
        for (int p = 0; p < hw; ++p) {
            const float *r = dy + ((size_t)i * hw + p) * c;
#pragma omp simd
            for (int ch = 0; ch < c; ++ch) a[ch] += (double)r[ch];
        }
        for (int ch = 0; ch < c; ++ch) dbias[(size_t)i * c + ch] = (float)a[ch];
    }
}

/* docs/design.md, "The network: dfl-unet v1": out = [cos(s f_0..h-1), sin(s f_0..h-1)], h = dim / 2, by
 * kernels/shared/time_embedding.h (s = 1000 t, f_j = exp(-ln(10000) j / h),
 * in double, rounded once). */
static void cpu_time_embedding(dfl_backend *be, int n, int dim, const float *t, float *out) {
    (void)be;
    if (dim < 2 || dim % 2 != 0) DFL_PANIC("time_embedding: dim %d must be even and >= 2", dim);
    const int h = dim / 2;
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < h; ++j)
            dfl_time_embedding_pair(t[i], j, h, &out[(size_t)i * dim + j], &out[(size_t)i * dim + h + j]);
}

void dfl_cpu_register_elementwise_ops(dfl_backend *be) {
    be->silu_forward = cpu_silu_forward;
    be->silu_backward = cpu_silu_backward;
    be->add = cpu_add;
    be->scale = cpu_scale;
    be->add_channel_bias = cpu_add_channel_bias;
    be->channel_bias_backward = cpu_channel_bias_backward;
    be->time_embedding = cpu_time_embedding;
}
