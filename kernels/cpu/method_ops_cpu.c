/* CPU implementation of the fused method ops (include/dynfill/method_ops.h,
 * docs/design.md, "Backend interface"): OpenMP loops over the per-pixel / per-element math of
 * kernels/shared, which the CUDA backend runs too. Every result is
 * independent of the thread count: draws are Philox keyed per element, and
 * the qmse reduction adds fixed chunks in a fixed order. */
#include <omp.h>
#include <string.h>

#include "cpu/cpu_backend_internal.h"
#include "dynfill/method_ops.h"
#include "shared/ensemble.h"
#include "shared/noise_context.h"
#include "shared/qmse.h"

/* A plan must describe exactly the call it is passed to (a bug otherwise). */
static void check_plan(const void *plan, const dfl_mask_rule *rule, int64_t slots, int k) {
    const dfl_plan_header *hd = dfl_plan_get_header(plan);
    DFL_ASSERT(hd->slots == slots && hd->k == k);
    if (rule->strategy == DFL_STRATEGY_BLOCK) DFL_ASSERT(hd->blocks == rule->grid_h * rule->grid_w);
}

/* Network inputs of `slots` plan slots, one (slot, row) per loop
 * iteration; query bits and per-slot query counts when asked for. */
static void build_inputs(dfl_backend *be, const dfl_mask_rule *rule, const void *plan, int64_t slots, int c, int h,
                         int w, int mc, const float *x, const uint8_t *mask, const uint8_t *partner_masks,
                         int x_is_state, int context_full, float *net_input, uint8_t *query, int32_t *query_count) {
    const int64_t rows = slots * h, chw = (int64_t)c * h * w;
    int32_t *row_count = query_count ? dfl_cpu_ws(be, DFL_CPU_WS_REDUCE, sizeof(int32_t) * (size_t)rows) : NULL;
#pragma omp parallel for schedule(static)
    for (int64_t sy = 0; sy < rows; ++sy) {
        const int64_t s = sy / h;
        const int y = (int)(sy % h);
        const dfl_context_slot cs = dfl_context_slot_make(plan, s, c, h, w, mc, x, mask, partner_masks, rule->strategy,
                                                          x_is_state, context_full);
        uint8_t *qs = query ? query + s * chw : NULL;
        float *row = net_input + ((s * h + y) * (int64_t)w) * 2 * c;
        int count = 0;
        for (int xx = 0; xx < w; ++xx) count += dfl_context_pixel(rule, &cs, y, xx, row + (int64_t)xx * 2 * c, qs);
        if (row_count) row_count[sy] = count;
    }
    if (query_count)
        for (int64_t s = 0; s < slots; ++s) {
            int32_t sum = 0;
            for (int y = 0; y < h; ++y) sum += row_count[s * h + y];
            query_count[s] = sum;
        }
}

static void cpu_noise_context(dfl_backend *be, const dfl_noise_context_args *a) {
    DFL_ASSERT(a->mask_channels == 1 || a->mask_channels == a->c);
    DFL_ASSERT(a->rule.strategy != DFL_STRATEGY_EMPIRICAL || a->partner_masks);
    check_plan(a->plan, &a->rule, a->n, 1);
    build_inputs(be, &a->rule, a->plan, a->n, a->c, a->h, a->w, a->mask_channels, a->x_obs, a->mask, a->partner_masks,
                 0, 0, a->net_input, a->query, a->query_count);
}

static void cpu_ensemble_build(dfl_backend *be, const dfl_ensemble_build_args *a) {
    DFL_ASSERT(a->mask_channels == 1 || a->mask_channels == a->c);
    DFL_ASSERT(a->k >= 1);
    DFL_ASSERT(a->rule.strategy != DFL_STRATEGY_EMPIRICAL || a->partner_masks);
    check_plan(a->plan, &a->rule, (int64_t)a->n * a->k, a->k);
    build_inputs(be, &a->rule, a->plan, (int64_t)a->n * a->k, a->c, a->h, a->w, a->mask_channels, a->x, a->mask,
                 a->partner_masks, a->x_is_state, a->context_full, a->net_input, NULL, NULL);
}

static double cpu_qmse(dfl_backend *be, const dfl_qmse_args *a) {
    const int c = a->c;
    const int64_t hw = (int64_t)a->h * a->w, pixels = (int64_t)a->n * hw;
    const int64_t chunks = (pixels + DFL_QMSE_CHUNK - 1) / DFL_QMSE_CHUNK;
    double denom = a->denom;
    if (!(denom > 0.0)) { /* local query count: integer sum, exact in any order */
        const int64_t elems = pixels * c;
        int64_t count = 0;
#pragma omp parallel for schedule(static) reduction(+ : count)
        for (int64_t e = 0; e < elems; ++e) count += a->query[e] != 0;
        denom = (double)count;
    }
    const float two_over_d = dfl_qmse_two_over_d(denom);
    double *part = dfl_cpu_ws(be, DFL_CPU_WS_REDUCE, sizeof(double) * 2 * (size_t)(chunks > 0 ? chunks : 1));
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < chunks; ++k) {
        const int64_t p0 = k * DFL_QMSE_CHUNK;
        const int64_t p1 = p0 + DFL_QMSE_CHUNK < pixels ? p0 + DFL_QMSE_CHUNK : pixels;
        double sum = 0.0, cnt = 0.0;
        for (int64_t p = p0; p < p1; ++p) {
            const int64_t i = p / hw, pp = p % hw;
            for (int ch = 0; ch < c; ++ch) {
                const int64_t e = p * c + ch;             /* NHWC */
                const int64_t o = (i * c + ch) * hw + pp; /* NCHW */
                const int q = a->query[o] != 0;
                cnt += q;
                if (a->row_weight) { /* latitude weighting: the row's weight r */
                    const float r = a->row_weight[i * a->h + pp / a->w];
                    sum += dfl_qmse_sq_weighted(a->pred[e], a->x_obs[o], q, r);
                    if (a->grad) a->grad[e] = dfl_qmse_grad_weighted(a->pred[e], a->x_obs[o], q, two_over_d, r);
                    continue;
                }
                sum += dfl_qmse_sq(a->pred[e], a->x_obs[o], q);
                if (a->grad) a->grad[e] = dfl_qmse_grad(a->pred[e], a->x_obs[o], q, two_over_d);
            }
        }
        part[2 * k] = sum;
        part[2 * k + 1] = cnt;
    }
    double sum = 0.0, cnt = 0.0;
    for (int64_t k = 0; k < chunks; ++k) {
        sum += part[2 * k];
        cnt += part[2 * k + 1];
    }
    if (a->sum_sq) *a->sum_sq = sum;
    if (a->count) *a->count = cnt;
    return dfl_qmse_loss(sum, denom);
}

static void cpu_ensemble_reduce(dfl_backend *be, const dfl_ensemble_reduce_args *a) {
    (void)be;
    DFL_ASSERT(a->k >= 1);
    const int c = a->c, k = a->k;
    const int64_t hw = (int64_t)a->h * a->w, pixels = (int64_t)a->n * hw;
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < pixels; ++p) {
        const int64_t i = p / hw, pp = p % hw;
        const float *first = a->pred + ((i * k) * hw + pp) * c; /* draw 0 of sample i, pixel pp */
        for (int ch = 0; ch < c; ++ch) {
            const int64_t o = (i * c + ch) * hw + pp;
            dfl_ensemble_stats(first + ch, hw * c, k, &a->mean[o], a->std ? &a->std[o] : NULL);
        }
    }
}

void dfl_cpu_register_method_ops(dfl_backend *be) {
    be->noise_context = cpu_noise_context;
    be->qmse = cpu_qmse;
    be->ensemble_build = cpu_ensemble_build;
    be->ensemble_reduce = cpu_ensemble_reduce;
}
