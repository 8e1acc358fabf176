/* Training-time distributions of method.t_sampling (docs/method.md,
 * "Training times"): uniform is bit-identical to the paper's draw
 * t_eps + (1 - t_eps) U from lane 0 of the TIME stream; low_share puts a
 * Binomial(n, share) count of samples at exactly t_eps and the rest
 * uniform; log_uniform has log t uniform on [log t_eps, 0] (quantiles
 * checked); low_share_log (the default) puts its share at t_eps and the
 * rest on log_uniform's draws of the same slots; draws are deterministic, rank-split invariant, and the keys
 * parse, validate and describe. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dfl_test.h"
#include "dynfill/config.h"
#include "dynfill/method.h"
#include "shared/mask_strategy.h"
#include "shared/schedule.h"

enum { N = 20000 };

static void make(dfl_context_plan *plan, const dfl_method_params *mp, int n, uint32_t offset, uint32_t step) {
    dfl_plan_request rq = {.n = n,
                           .k = 1,
                           .c = 1,
                           .h = 4,
                           .w = 4,
                           .mask_channels = 1,
                           .t_eps = DFL_T_EPS,
                           .seed = 21,
                           .step = step,
                           .sample_offset = offset};
    CHECK(dfl_context_plan_make(plan, mp, &rq) == DFL_OK);
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void test_uniform_is_the_paper_draw(void) {
    dfl_method_params mp;
    dfl_method_params_default(&mp);
    CHECK(mp.t_sampling == DFL_T_LOW_SHARE_LOG && mp.t_low_share == 0.9f); /* the default; the paper's uniform below */
    mp.t_sampling = DFL_T_UNIFORM;
    dfl_context_plan plan;
    dfl_context_plan_init(&plan);
    make(&plan, &mp, 1000, 0, 7);
    int same = 1;
    for (int i = 0; i < 1000; ++i) {
        uint64_t stream = dfl_rng_stream(DFL_RNG_METHOD_TIME, 7, (uint32_t)i);
        same &= plan.t[i] == dfl_vp_time_from_uniform(dfl_rng_uniform(21, stream, 0), DFL_T_EPS);
    }
    CHECK_MSG(same, "uniform t differs from t_eps + (1 - t_eps) U(seed, TIME stream, 0)");
    dfl_context_plan_free(&plan);
}

static void test_low_share(float share) {
    dfl_method_params mp;
    dfl_method_params_default(&mp);
    mp.t_sampling = DFL_T_LOW_SHARE;
    mp.t_low_share = share;
    dfl_context_plan plan;
    dfl_context_plan_init(&plan);
    make(&plan, &mp, N, 0, 3);
    long at_eps = 0;
    double sum_rest = 0;
    int in_range = 1;
    for (int i = 0; i < N; ++i) {
        in_range &= plan.t[i] >= DFL_T_EPS && plan.t[i] <= 1.0f;
        if (plan.t[i] == DFL_T_EPS)
            ++at_eps;
        else
            sum_rest += plan.t[i];
    }
    CHECK(in_range);
    const double sd = sqrt(N * share * (1.0 - share));
    CHECK_MSG(fabs((double)at_eps - N * share) <= 5 * sd + 1, "share %g: %ld of %d at t_eps (expect %g +- %g)", share,
              at_eps, N, N * share, 5 * sd);
    if (share < 1.0f) {
        const long rest = N - at_eps;
        CHECK_CLOSE(sum_rest / rest, 0.5005, 5 * sqrt(1.0 / 12 / rest));
    }
    /* the non-t_eps draws are the uniform draws of the same slots */
    dfl_method_params uni;
    dfl_method_params_default(&uni);
    uni.t_sampling = DFL_T_UNIFORM;
    dfl_context_plan up;
    dfl_context_plan_init(&up);
    make(&up, &uni, N, 0, 3);
    int same = 1;
    for (int i = 0; i < N; ++i) same &= plan.t[i] == DFL_T_EPS || plan.t[i] == up.t[i];
    CHECK(same);
    dfl_context_plan_free(&up);
    dfl_context_plan_free(&plan);
}

static void test_log_uniform(void) {
    dfl_method_params mp;
    dfl_method_params_default(&mp);
    mp.t_sampling = DFL_T_LOG_UNIFORM;
    dfl_context_plan plan;
    dfl_context_plan_init(&plan);
    make(&plan, &mp, N, 0, 5);
    float *t = malloc(sizeof(float) * N);
    memcpy(t, plan.t, sizeof(float) * N);
    qsort(t, N, sizeof(float), cmp_float);
    CHECK(t[0] >= DFL_T_EPS && t[N - 1] <= 1.0f);
    /* quantile q of log t is (1 - q) log t_eps; the empirical q-quantile's
     * CDF position has sd sqrt(q (1 - q) / N) */
    const double q[] = {0.1, 0.25, 0.5, 0.75, 0.9};
    for (int k = 0; k < 5; ++k) {
        double emp = t[(int)(q[k] * N)];
        double pos = 1.0 - log(emp) / log((double)DFL_T_EPS); /* CDF at emp */
        CHECK_MSG(fabs(pos - q[k]) <= 5 * sqrt(q[k] * (1 - q[k]) / N), "log_uniform q %g: t %g at CDF %g", q[k], emp,
                  pos);
    }
    free(t);
    /* a second rank holding samples 7000.. draws what one rank draws */
    float t7000 = plan.t[7000];
    make(&plan, &mp, 10, 7000, 5);
    CHECK(plan.t[0] == t7000);
    /* deterministic */
    make(&plan, &mp, 10, 7000, 5);
    CHECK(plan.t[0] == t7000);
    dfl_context_plan_free(&plan);
}

static void test_low_share_log(float share) {
    dfl_method_params mp, lu;
    dfl_method_params_default(&mp);
    mp.t_low_share = share;
    dfl_method_params_default(&lu);
    lu.t_sampling = DFL_T_LOG_UNIFORM;
    dfl_context_plan plan, lp;
    dfl_context_plan_init(&plan);
    dfl_context_plan_init(&lp);
    make(&plan, &mp, N, 0, 9);
    make(&lp, &lu, N, 0, 9);
    long at_eps = 0, lu_at_eps = 0;
    int same = 1;
    for (int i = 0; i < N; ++i) {
        at_eps += plan.t[i] == DFL_T_EPS;
        lu_at_eps += lp.t[i] == DFL_T_EPS;
        same &= plan.t[i] == DFL_T_EPS || plan.t[i] == lp.t[i];
    }
    /* the rest are log_uniform's draws of the same slots (which reach t_eps itself almost never) */
    CHECK(same);
    const double sd = sqrt(N * share * (1.0 - share));
    CHECK_MSG(fabs((double)(at_eps - lu_at_eps) - N * share) <= 5 * sd + 1 + lu_at_eps,
              "low_share_log %g: %ld of %d at t_eps (expect %g +- %g)", share, at_eps, N, N * share, 5 * sd);
    dfl_context_plan_free(&lp);
    dfl_context_plan_free(&plan);
}

static void test_keys(void) {
    dfl_method_params p;
    dfl_method_params_default(&p);
    CHECK(dfl_method_params_set(&p, "t_sampling", "low_share") == DFL_OK && p.t_sampling == DFL_T_LOW_SHARE);
    CHECK(dfl_method_params_set(&p, "t_low_share", "0.25") == DFL_OK && p.t_low_share == 0.25f);
    CHECK(dfl_method_params_validate(&p, 8, 8) == DFL_OK);
    char desc[160];
    dfl_method_params_describe(&p, desc, sizeof desc);
    CHECK_MSG(strstr(desc, "low_share 0.25") != NULL, "describe: '%s'", desc);
    CHECK(dfl_method_params_set(&p, "t_sampling", "log_uniform") == DFL_OK && p.t_sampling == DFL_T_LOG_UNIFORM);
    char u[128];
    dfl_method_params_unused(&p, u, sizeof u);
    CHECK_MSG(!strcmp(u, "t_low_share"), "unused: '%s'", u);
    CHECK(dfl_method_params_set(&p, "t_sampling", "beta") == DFL_EUSAGE);
    dfl_clear_error();
    p.t_low_share = 1.5f;
    CHECK(dfl_method_params_validate(&p, 8, 8) == DFL_EUSAGE);
    dfl_clear_error();
    /* config: the keys round-trip through the checkpoint's text */
    dfl_config cfg, back;
    dfl_config_defaults(&cfg);
    CHECK(!strcmp(cfg.t_sampling, "low_share_log") && cfg.t_low_share == 0.9);
    CHECK(dfl_config_set(&cfg, "method.t_sampling=low_share") == DFL_OK);
    CHECK(dfl_config_set(&cfg, "method.t_low_share=0.25") == DFL_OK);
    CHECK(dfl_config_set(&cfg, "method.t_sampling=normal") == DFL_EUSAGE);
    dfl_clear_error();
    char *text = dfl_config_to_text(&cfg);
    dfl_config_defaults(&back);
    CHECK(dfl_config_parse_text(text, "ckpt", &back) == DFL_OK);
    CHECK(!strcmp(back.t_sampling, "low_share") && back.t_low_share == 0.25);
    free(text);
    dfl_method_params mp;
    CHECK(dfl_method_params_from_config(&back, &mp) == DFL_OK);
    CHECK(mp.t_sampling == DFL_T_LOW_SHARE && mp.t_low_share == 0.25f);
}

int main(void) {
    test_uniform_is_the_paper_draw();
    test_low_share(0.25f);
    test_low_share(0.5f);
    test_low_share(1.0f);
    test_log_uniform();
    test_low_share_log(0.9f);
    test_low_share_log(0.0f);
    test_keys();
    return dfl_test_finish("method_times");
}
