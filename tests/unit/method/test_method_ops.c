/* The CPU fused method ops against direct computations:
 *   noise_context: values α x + σ ε against the schedule formula in double
 *     and the Philox normal drawn here; context/query bits against the host
 *     sampler; a 1-channel mask repeated per channel; query counts;
 *     NaN at unobserved entries never leaks; determinism across runs and
 *     thread counts; a different step gives other draws; a batch split in
 *     two (sample_offset) draws what the whole batch draws;
 *   ensemble_build: draw 0 equals noise_context, K draws differ, state
 *     input, context over the full field;
 *   qmse: loss and gradient against double sums and central finite
 *     differences, caller-given normaliser, empty query;
 *   ensemble_reduce: mean and population std against direct sums. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dfl_test.h"
#include "dynfill/backend.h"
#include "dynfill/method.h"
#include "shared/context_plan.h"
#include "shared/mask_strategy.h"
#include "shared/schedule.h"

enum { N = 5, C = 3, H = 9, W = 11 };
#define CHW ((size_t)C * H * W)
#define HW  ((size_t)H * W)

static dfl_backend *be;

static float *random_floats(size_t n, uint64_t seed) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; ++i) x[i] = dfl_rng_normal(seed, 0xEA, i);
    return x;
}

static uint8_t *random_mask(size_t n, float p, uint64_t seed) {
    uint8_t *m = malloc(n);
    for (size_t i = 0; i < n; ++i) m[i] = dfl_rng_uniform(seed, 0xEB, i) < p;
    return m;
}

/* α(t), σ(t) of docs/design.md, "The method" in double. */
static void schedule(double t, double *alpha, double *sigma) {
    double la = -0.25 * t * t * (20.0 - 0.1) - 0.5 * t * 0.1;
    *alpha = exp(la);
    *sigma = sqrt(1.0 - exp(2.0 * la));
}

typedef struct {
    dfl_method_params mp;
    dfl_context_plan plan;
    int mc;
    float *x;
    uint8_t *mask;
    float *in;
    uint8_t *qry;
    int32_t count[N];
} setup;

static void make_plan(setup *s, int n, int k, uint32_t step, uint32_t offset, const uint8_t *mask, float t) {
    dfl_plan_request rq = {.n = n,
                           .k = k,
                           .c = C,
                           .h = H,
                           .w = W,
                           .mask_channels = s->mc,
                           .mask = mask,
                           .t = t,
                           .t_eps = DFL_T_EPS,
                           .seed = 77,
                           .step = step,
                           .sample_offset = offset};
    DFL_ASSERT(dfl_context_plan_make(&s->plan, &s->mp, &rq) == DFL_OK);
}

static void run_noise_context(setup *s, int n, const float *x, const uint8_t *mask, float *in, uint8_t *qry,
                              int32_t *count) {
    dfl_noise_context_args a = {.n = n,
                                .c = C,
                                .h = H,
                                .w = W,
                                .mask_channels = s->mc,
                                .rule = dfl_method_rule(&s->mp),
                                .plan = s->plan.data,
                                .x_obs = x,
                                .mask = mask,
                                .partner_masks = s->mp.strategy == DFL_STRATEGY_EMPIRICAL ? mask : NULL,
                                .net_input = in,
                                .query = qry,
                                .query_count = count};
    be->noise_context(be, &a);
}

/* Checks one noise_context result element by element. */
static void check_noise_context(setup *s, uint32_t offset) {
    const size_t mhw = (size_t)s->mc * HW;
    uint8_t *ctx = malloc(mhw), *qry = malloc(mhw);
    int values_ok = 1, bits_ok = 1, count_ok = 1, repeat_ok = 1, subset_ok = 1;
    double max_err = 0;
    for (int i = 0; i < N; ++i) {
        int p = s->plan.partner[i];
        dfl_method_sample_masks(&s->mp, &s->plan, i, C, H, W, s->mc, s->mask + i * mhw,
                                p >= 0 ? s->mask + (size_t)p * mhw : NULL, ctx, qry);
        double alpha, sigma;
        schedule(s->plan.t[i], &alpha, &sigma);
        uint64_t noise = dfl_rng_stream(DFL_RNG_METHOD_NOISE, s->plan.header->step, offset + (uint32_t)i);
        int32_t cnt = 0;
        for (int ch = 0; ch < C; ++ch)
            for (size_t pp = 0; pp < HW; ++pp) {
                size_t e = ch * HW + pp, mi = (s->mc > 1 ? ch * HW : 0) + pp;
                const float *px = s->in + (i * HW + pp) * 2 * C;
                int m = s->mask[i * mhw + mi];
                float want_bit = ctx[mi] ? 1.0f : 0.0f;
                if (px[C + ch] != want_bit) bits_ok = 0;
                if (s->qry[i * CHW + e] != qry[mi]) bits_ok = 0;
                if ((ctx[mi] && !m) || (qry[mi] && !m)) subset_ok = 0;
                cnt += qry[mi];
                if (s->mc == 1 && ch > 0 && (px[C + ch] != px[C] || s->qry[i * CHW + e] != s->qry[i * CHW + pp]))
                    repeat_ok = 0;
                double want = 0.0;
                if (ctx[mi]) want = alpha * s->x[i * CHW + e] + sigma * dfl_rng_normal(77, noise, e);
                double err = fabs(px[ch] - want);
                if (err > max_err) max_err = err;
                if (!(err <= 2e-6 * (1.0 + fabs(want)))) values_ok = 0;
            }
        if (cnt != s->count[i]) count_ok = 0;
    }
    CHECK_MSG(values_ok, "max |value - direct| = %g", max_err);
    CHECK(bits_ok);
    CHECK(count_ok);
    CHECK(repeat_ok);
    CHECK(subset_ok);
    free(ctx);
    free(qry);
}

static void test_noise_context(dfl_strategy strategy, int mc) {
    setup s = {0};
    dfl_method_params_default(&s.mp);
    s.mp.strategy = strategy;
    s.mc = mc;
    const size_t mhw = (size_t)mc * HW;
    s.x = random_floats(N * CHW, 1 + mc);
    s.mask = random_mask(N * mhw, 0.6f, 2 + mc);
    /* unobserved entries of x_obs may hold anything: NaN must never reach the input */
    for (int i = 0; i < N; ++i)
        for (size_t e = 0; e < CHW; ++e)
            if (!s.mask[i * mhw + (mc > 1 ? e : e % HW)]) s.x[i * CHW + e] = NAN;
    s.in = malloc(N * HW * 2 * C * sizeof(float));
    s.qry = malloc(N * CHW);
    dfl_context_plan_init(&s.plan);
    make_plan(&s, N, 1, 12, 40, s.mask, 0.0f);
    run_noise_context(&s, N, s.x, s.mask, s.in, s.qry, s.count);
    check_noise_context(&s, 40);
    int finite = 1;
    for (size_t e = 0; e < N * HW * 2 * C; ++e) finite &= isfinite(s.in[e]) != 0;
    CHECK(finite);

    /* determinism: again, and with one thread, bit for bit */
    float *in2 = malloc(N * HW * 2 * C * sizeof(float));
    uint8_t *qry2 = malloc(N * CHW);
    int32_t count2[N];
    run_noise_context(&s, N, s.x, s.mask, in2, qry2, count2);
    CHECK(memcmp(in2, s.in, N * HW * 2 * C * sizeof(float)) == 0 && memcmp(qry2, s.qry, N * CHW) == 0);
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    run_noise_context(&s, N, s.x, s.mask, in2, qry2, count2);
    omp_set_num_threads(threads);
    CHECK(memcmp(in2, s.in, N * HW * 2 * C * sizeof(float)) == 0 && memcmp(qry2, s.qry, N * CHW) == 0);

    /* a batch split over two ranks (samples 0-1 and 2-4) draws the same */
    if (strategy != DFL_STRATEGY_EMPIRICAL) { /* (partners are drawn from each rank's own batch) */
        setup r = s;
        dfl_context_plan_init(&r.plan);
        make_plan(&r, 2, 1, 12, 40, s.mask, 0.0f);
        run_noise_context(&r, 2, s.x, s.mask, in2, qry2, count2);
        make_plan(&r, 3, 1, 12, 42, s.mask + 2 * mhw, 0.0f);
        run_noise_context(&r, 3, s.x + 2 * CHW, s.mask + 2 * mhw, in2 + 2 * HW * 2 * C, qry2 + 2 * CHW, count2 + 2);
        CHECK(memcmp(in2, s.in, N * HW * 2 * C * sizeof(float)) == 0 && memcmp(qry2, s.qry, N * CHW) == 0);
        dfl_context_plan_free(&r.plan);
    }

    /* another step: other noise (and other masks for the random strategies) */
    make_plan(&s, N, 1, 13, 40, s.mask, 0.0f);
    run_noise_context(&s, N, s.x, s.mask, in2, qry2, count2);
    CHECK(memcmp(in2, s.in, N * HW * 2 * C * sizeof(float)) != 0);
    if (strategy == DFL_STRATEGY_PIXEL) CHECK(memcmp(qry2, s.qry, N * CHW) != 0);

    free(in2);
    free(qry2);
    free(s.x);
    free(s.mask);
    free(s.in);
    free(s.qry);
    dfl_context_plan_free(&s.plan);
}

static void test_ensemble_build(int mc) {
    const int K = 4;
    setup s = {0};
    dfl_method_params_default(&s.mp);
    s.mp.strategy = DFL_STRATEGY_BLOCK;
    s.mc = mc;
    const size_t mhw = (size_t)mc * HW, in_px = 2 * C;
    s.x = random_floats(N * CHW, 5);
    s.mask = random_mask(N * mhw, 0.5f, 6);
    s.in = malloc(N * HW * in_px * sizeof(float));
    s.qry = malloc(N * CHW);
    float *ens = malloc((size_t)N * K * HW * in_px * sizeof(float));
    dfl_context_plan_init(&s.plan);

    /* K = 1 with the same keys reproduces noise_context */
    make_plan(&s, N, 1, 3, 0, s.mask, 0.0f);
    run_noise_context(&s, N, s.x, s.mask, s.in, s.qry, s.count);
    dfl_ensemble_build_args a = {.n = N,
                                 .c = C,
                                 .h = H,
                                 .w = W,
                                 .mask_channels = mc,
                                 .k = 1,
                                 .rule = dfl_method_rule(&s.mp),
                                 .plan = s.plan.data,
                                 .x = s.x,
                                 .mask = s.mask,
                                 .net_input = ens};
    be->ensemble_build(be, &a);
    CHECK(memcmp(ens, s.in, N * HW * in_px * sizeof(float)) == 0);

    /* K draws at t_eps: draw 0 of the K-plan equals the K = 1 plan at the same t */
    make_plan(&s, N, 1, 3, 0, s.mask, DFL_T_EPS);
    run_noise_context(&s, N, s.x, s.mask, s.in, s.qry, s.count);
    make_plan(&s, N, K, 3, 0, s.mask, DFL_T_EPS);
    a.k = K;
    a.plan = s.plan.data;
    be->ensemble_build(be, &a);
    int first_ok = 1, differ = 0, subset = 1;
    for (int i = 0; i < N; ++i) {
        const float *e0 = ens + (size_t)(i * K) * HW * in_px;
        first_ok &= memcmp(e0, s.in + i * HW * in_px, HW * in_px * sizeof(float)) == 0;
        for (int j = 1; j < K; ++j) differ += memcmp(e0, e0 + j * HW * in_px, HW * in_px * sizeof(float)) != 0;
        for (int j = 0; j < K; ++j)
            for (size_t pp = 0; pp < HW; ++pp)
                for (int ch = 0; ch < C; ++ch)
                    if (e0[(j * HW + pp) * in_px + C + ch] && !s.mask[i * mhw + (mc > 1 ? ch * HW : 0) + pp])
                        subset = 0;
    }
    CHECK(first_ok);
    CHECK(differ >= N * (K - 1) - 2); /* hiding 1 of the observed blocks: draws rarely coincide */
    CHECK(subset);

    /* state input over the full field: values = x where the context is, context drawn as if all observed */
    make_plan(&s, N, K, 4, 0, NULL, 0.5f);
    a.plan = s.plan.data;
    a.x_is_state = 1;
    a.context_full = 1;
    be->ensemble_build(be, &a);
    uint8_t *ctx = malloc(mhw), *qry = malloc(mhw);
    int state_ok = 1, outside = 0;
    for (int s_ = 0; s_ < N * K; ++s_) {
        int i = s_ / K;
        dfl_method_sample_masks(&s.mp, &s.plan, s_, C, H, W, mc, NULL, NULL, ctx, qry);
        for (size_t pp = 0; pp < HW; ++pp)
            for (int ch = 0; ch < C; ++ch) {
                size_t mi = (mc > 1 ? ch * HW : 0) + pp;
                const float *px = ens + ((size_t)s_ * HW + pp) * in_px;
                float want = ctx[mi] ? s.x[i * CHW + ch * HW + pp] : 0.0f;
                if (px[ch] != want || px[C + ch] != (ctx[mi] ? 1.0f : 0.0f)) state_ok = 0;
                if (ctx[mi] && !s.mask[i * mhw + mi]) ++outside;
            }
    }
    CHECK(state_ok);
    CHECK(outside > 0); /* the full-field context reaches unobserved entries */
    free(ctx);
    free(qry);
    free(ens);
    free(s.x);
    free(s.mask);
    free(s.in);
    free(s.qry);
    dfl_context_plan_free(&s.plan);
}

static double qmse_direct(const float *pred, const float *x, const uint8_t *q, double *count) {
    double sum = 0, cnt = 0;
    for (int i = 0; i < N; ++i)
        for (int ch = 0; ch < C; ++ch)
            for (size_t pp = 0; pp < HW; ++pp) {
                size_t o = i * CHW + ch * HW + pp, e = (i * HW + pp) * C + ch;
                if (q[o]) {
                    double d = (double)pred[e] - (double)x[o];
                    sum += d * d;
                    cnt += 1;
                }
            }
    *count = cnt;
    return sum;
}

static void test_qmse(void) {
    const size_t n = N * CHW;
    float *pred = random_floats(n, 8), *x = random_floats(n, 9), *grad = malloc(n * sizeof(float));
    uint8_t *q = random_mask(n, 0.3f, 10);
    for (size_t e = 0; e < n; ++e)
        if (!q[e]) x[e] = NAN; /* off-query targets are never read into the loss */
    double cnt, sum = qmse_direct(pred, x, q, &cnt);
    double out_sum = 0, out_cnt = 0;
    dfl_qmse_args a = {.n = N,
                       .c = C,
                       .h = H,
                       .w = W,
                       .pred = pred,
                       .x_obs = x,
                       .query = q,
                       .grad = grad,
                       .sum_sq = &out_sum,
                       .count = &out_cnt};
    double loss = be->qmse(be, &a);
    CHECK_CLOSE(loss, sum / cnt, 1e-12);
    CHECK(out_cnt == cnt);
    CHECK_CLOSE(out_sum, sum, 1e-12);
    int grad_ok = 1;
    for (int i = 0; i < N; ++i)
        for (int ch = 0; ch < C; ++ch)
            for (size_t pp = 0; pp < HW; ++pp) {
                size_t o = i * CHW + ch * HW + pp, e = (i * HW + pp) * C + ch;
                double want = q[o] ? 2.0 * ((double)pred[e] - x[o]) / cnt : 0.0;
                if (!(fabs(grad[e] - want) <= 1e-6 * (fabs(want) + 1e-3))) grad_ok = 0;
            }
    CHECK(grad_ok);

    /* central finite differences of the returned loss (quadratic: exact up to rounding) */
    int fd_ok = 1;
    const float h = 1.0f / 64.0f;
    for (size_t e = 0; e < n; e += 37) {
        float keep = pred[e];
        a.grad = NULL;
        pred[e] = keep + h;
        double lp = be->qmse(be, &a);
        pred[e] = keep - h;
        double lm = be->qmse(be, &a);
        pred[e] = keep;
        double fd = (lp - lm) / (2.0 * h);
        if (!(fabs(fd - grad[e]) <= 1e-5 * (fabs(fd) + 1e-3))) fd_ok = 0;
    }
    CHECK(fd_ok);

    /* bit-identical loss with one thread (fixed chunking) */
    a.grad = grad;
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    double loss1 = be->qmse(be, &a);
    omp_set_num_threads(threads);
    CHECK(loss1 == loss);

    /* caller-given normaliser (e.g. the global batch's query count) */
    a.denom = 4.0 * cnt;
    double scaled = be->qmse(be, &a);
    CHECK_CLOSE(scaled, sum / (4.0 * cnt), 1e-12);
    size_t first_q = 0;
    while (!q[first_q]) ++first_q;
    size_t e0 = ((first_q / CHW) * HW + first_q % HW) * C + (first_q % CHW) / HW;
    CHECK_CLOSE(grad[e0], 2.0 * ((double)pred[e0] - x[first_q]) / (4.0 * cnt), 1e-6);

    /* row weights (latitude weighting): each squared error and gradient of
     * row y of sample i times r[i, y]; the normaliser stays the query count */
    float *r = random_floats((size_t)N * H, 11);
    for (size_t k = 0; k < (size_t)N * H; ++k) r[k] = 0.25f + fabsf(r[k]);
    double wsum = 0;
    for (int i = 0; i < N; ++i)
        for (int ch = 0; ch < C; ++ch)
            for (size_t pp = 0; pp < HW; ++pp) {
                size_t o = i * CHW + ch * HW + pp;
                if (q[o])
                    wsum += r[i * H + pp / W] * ((double)pred[(i * HW + pp) * C + ch] - x[o]) *
                            ((double)pred[(i * HW + pp) * C + ch] - x[o]);
            }
    a.denom = 0.0;
    a.row_weight = r;
    double wloss = be->qmse(be, &a);
    CHECK_CLOSE(wloss, wsum / cnt, 1e-12);
    CHECK(out_cnt == cnt);
    int wgrad_ok = 1;
    for (int i = 0; i < N; ++i)
        for (int ch = 0; ch < C; ++ch)
            for (size_t pp = 0; pp < HW; ++pp) {
                size_t o = i * CHW + ch * HW + pp, e = (i * HW + pp) * C + ch;
                double want = q[o] ? 2.0 * r[i * H + pp / W] * ((double)pred[e] - x[o]) / cnt : 0.0;
                if (!(fabs(grad[e] - want) <= 1e-6 * (fabs(want) + 1e-3))) wgrad_ok = 0;
            }
    CHECK(wgrad_ok);
    for (size_t k = 0; k < (size_t)N * H; ++k) r[k] = 1.0f;
    CHECK_MSG(be->qmse(be, &a) == loss, "unit row weights give the unweighted loss exactly");
    a.row_weight = NULL;
    free(r);

    /* no query entry: loss 0, gradient 0 */
    memset(q, 0, n);
    a.denom = 0.0;
    CHECK(be->qmse(be, &a) == 0.0);
    int zero = 1;
    for (size_t e = 0; e < n; ++e) zero &= grad[e] == 0.0f;
    CHECK(zero && out_cnt == 0.0);
    free(pred);
    free(x);
    free(grad);
    free(q);
}

static void test_ensemble_reduce(void) {
    const int K = 6;
    float *pred = random_floats((size_t)N * K * CHW, 11), *mean = malloc(N * CHW * sizeof(float)),
          *std = malloc(N * CHW * sizeof(float));
    dfl_ensemble_reduce_args a = {.n = N, .k = K, .c = C, .h = H, .w = W, .pred = pred, .mean = mean, .std = std};
    be->ensemble_reduce(be, &a);
    int ok = 1;
    for (int i = 0; i < N; ++i)
        for (int ch = 0; ch < C; ++ch)
            for (size_t pp = 0; pp < HW; ++pp) {
                double s = 0, s2 = 0;
                for (int j = 0; j < K; ++j) {
                    double v = pred[((size_t)(i * K + j) * HW + pp) * C + ch];
                    s += v;
                    s2 += v * v;
                }
                double m = s / K, sd = sqrt(s2 / K - m * m); /* divisor K */
                size_t o = i * CHW + ch * HW + pp;
                if (fabs(mean[o] - m) > 1e-6 || fabs(std[o] - sd) > 1e-5) ok = 0;
            }
    CHECK(ok);
    /* K = 1: mean = the prediction, std 0; std may be NULL */
    a.k = 1;
    be->ensemble_reduce(be, &a);
    CHECK(mean[CHW + 2 * HW + 5] == pred[(1 * HW + 5) * C + 2] && std[7] == 0.0f);
    a.std = NULL;
    a.k = K;
    be->ensemble_reduce(be, &a);
    free(pred);
    free(mean);
    free(std);
}

int main(void) {
    be = dfl_backend_cpu_create(0);
    CHECK(be->noise_context && be->qmse && be->ensemble_build && be->ensemble_reduce);
    for (int st = 0; st < DFL_STRATEGY_COUNT; ++st) {
        test_noise_context((dfl_strategy)st, 1);
        test_noise_context((dfl_strategy)st, C);
    }
    test_ensemble_build(1);
    test_ensemble_build(C);
    test_qmse();
    test_ensemble_reduce();
    dfl_backend_destroy(be);
    return dfl_test_finish("method_ops");
}
