/* Optimiser ops of the CPU backend: the gradient norm for clipping, AdamW
 * and the EMA, over kernels/shared/adamw.h's per-element functions. */
#include "cpu/cpu_backend_internal.h"
#include "shared/adamw.h"

/* Fixed chunk of the deterministic reduction: the partial sums depend on
 * the data only, never on the thread count. */
#define SUMSQ_CHUNK 4096

static double cpu_sum_squares(dfl_backend *be, size_t n, const float *x) {
    if (n == 0) return 0.0;
    const size_t nchunks = (n + SUMSQ_CHUNK - 1) / SUMSQ_CHUNK;
    double *partial = dfl_cpu_ws(be, DFL_CPU_WS_REDUCE, nchunks * sizeof(double));
#pragma omp parallel for schedule(static) if (nchunks > 8)
    for (size_t k = 0; k < nchunks; ++k) {
        const size_t i0 = k * SUMSQ_CHUNK, i1 = i0 + SUMSQ_CHUNK < n ? i0 + SUMSQ_CHUNK : n;
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (size_t i = i0; i < i1; ++i) s += (double)x[i] * (double)x[i];
        partial[k] = s;
    }
    double total = 0.0;
    for (size_t k = 0; k < nchunks; ++k) total += partial[k];
    return total;
}

static void cpu_adamw_update(dfl_backend *be, size_t n, float *p, const float *g, float *m, float *v,
                             const struct dfl_adamw_hparams_s *h) {
    (void)be;
    const dfl_adamw_hparams hp = *h;
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (size_t i = 0; i < n; ++i) dfl_adamw_element(&p[i], &m[i], &v[i], g[i], &hp);
}

static void cpu_ema_update(dfl_backend *be, size_t n, float *ema, const float *p, float decay) {
    (void)be;
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (size_t i = 0; i < n; ++i) dfl_ema_element(&ema[i], p[i], decay);
}

void dfl_cpu_register_optimizer_ops(dfl_backend *be) {
    be->sum_squares = cpu_sum_squares;
    be->adamw_update = cpu_adamw_update;
    be->ema_update = cpu_ema_update;
}
