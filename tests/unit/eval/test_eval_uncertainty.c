/* `dynfill eval` uncertainty scores of the missing entries (docs/eval.md,
 * "Uncertainty"): the Gaussian CRPS against its defining integral and
 * closed-form values, and an ensemble of known spread (truth drawn from
 * N(pred, s²)) giving spread-skill 1, coverage 68 % / 95 % and mean CRPS
 * s / sqrt(pi); a too-narrow std gives a ratio below 1; std = 0 gives the
 * absolute error; observed entries are left out. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dfl_test.h"
#include "eval/eval_metrics.h"

/* CRPS by its definition: the integral of (F(x) - 1{x >= y})² dx, by the
 * midpoint rule on each side of y (the step never falls inside a cell). */
static double crps_segment(double a, double b, double y, double mu, double sigma) {
    const int n = 200000;
    double sum = 0.0, dx = (b - a) / n;
    for (int i = 0; i < n; ++i) {
        double x = a + (i + 0.5) * dx;
        double f = 0.5 * erfc(-(x - mu) / (sigma * M_SQRT2)) - (x >= y ? 1.0 : 0.0);
        sum += f * f * dx;
    }
    return sum;
}

static double crps_integral(double y, double mu, double sigma) {
    double lo = fmin(y, mu - 12 * sigma), hi = fmax(y, mu + 12 * sigma);
    return crps_segment(lo, y, y, mu, sigma) + crps_segment(y, hi, y, mu, sigma);
}

static void test_crps_closed_form(void) {
    CHECK_CLOSE(dfl_eval_crps_gaussian(0.0, 0.0, 1.0), 2.0 / sqrt(2.0 * M_PI) - 1.0 / sqrt(M_PI), 1e-12);
    CHECK_CLOSE(dfl_eval_crps_gaussian(1.7, -0.9, 0.0), 2.6, 1e-12); /* sigma = 0: |y - mu| */
    const double cases[][3] = {{0.3, 0.0, 1.0}, {2.6, 0.0, 2.0}, {-1.0, 0.5, 0.25}, {5.0, 1.0, 0.7}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; ++k)
        CHECK_CLOSE(dfl_eval_crps_gaussian(cases[k][0], cases[k][1], cases[k][2]),
                    crps_integral(cases[k][0], cases[k][1], cases[k][2]), 1e-6);
    /* symmetric in y - mu, scales with sigma */
    CHECK_CLOSE(dfl_eval_crps_gaussian(-0.4, 0.0, 1.0), dfl_eval_crps_gaussian(0.4, 0.0, 1.0), 1e-14);
    CHECK_CLOSE(dfl_eval_crps_gaussian(0.8, 0.0, 2.0), 2.0 * dfl_eval_crps_gaussian(0.4, 0.0, 1.0), 1e-12);
}

static double normal(void) {
    double u1 = drand48(), u2 = drand48();
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* n samples of one 100x100 channel: truth = pred + s z, std = std_factor s;
 * the first row of every sample is observed (mask 1) and holds a huge error
 * that must not count. */
static dfl_eval_scores ensemble_scores(double s, double std_factor, int n) {
    const int h = 100, w = 100;
    size_t count = (size_t)n * h * w;
    float *pred = malloc(count * sizeof *pred), *truth = malloc(count * sizeof *truth);
    float *std = malloc(count * sizeof *std);
    unsigned char *mask = calloc(count, 1);
    srand48(7);
    for (size_t i = 0; i < count; ++i) {
        pred[i] = (float)(3.0 * normal());
        truth[i] = (float)(pred[i] + s * normal());
        std[i] = (float)(std_factor * s);
        if (i % ((size_t)h * w) < (size_t)w) {
            mask[i] = 1;
            truth[i] = pred[i] + 1000.0f;
        }
    }
    dfl_eval_sums sums;
    memset(&sums, 0, sizeof sums);
    dfl_eval_accumulate(n, 1, h, w, 1, pred, truth, mask, NULL, &sums);
    dfl_eval_accumulate_std(n, 1, h, w, 1, pred, truth, std, mask, &sums);
    CHECK(sums.n_std == (long long)n * (h - 1) * w);
    free(pred);
    free(truth);
    free(std);
    free(mask);
    return dfl_eval_scores_of(&sums, 0);
}

static void test_known_spread(void) {
    /* about 200k entries: the tolerances are several standard errors */
    dfl_eval_scores r = ensemble_scores(0.5, 1.0, 20);
    CHECK_CLOSE(r.spread_skill_missing, 1.0, 0.01);
    CHECK_CLOSE(r.cover1_missing, 0.6827, 0.005);
    CHECK_CLOSE(r.cover2_missing, 0.9545, 0.003);
    CHECK_CLOSE(r.crps_missing, 0.5 / sqrt(M_PI), 0.003);
    CHECK_CLOSE(r.rmse_missing, 0.5, 0.005);
    /* a std half as wide: ratio 0.5, +-1 std covers P(|z| <= 0.5) = 38.3 % */
    dfl_eval_scores narrow = ensemble_scores(0.5, 0.5, 20);
    CHECK_CLOSE(narrow.spread_skill_missing, 0.5, 0.005);
    CHECK_CLOSE(narrow.cover1_missing, 0.3829, 0.005);
    CHECK_CLOSE(narrow.cover2_missing, 0.6827, 0.005);
    CHECK(narrow.crps_missing > r.crps_missing);
    /* std = 0: CRPS is the mean absolute error E|s z| = s sqrt(2 / pi), nothing covered */
    dfl_eval_scores zero = ensemble_scores(0.5, 0.0, 20);
    CHECK_CLOSE(zero.crps_missing, 0.5 * sqrt(2.0 / M_PI), 0.003);
    CHECK(zero.spread_skill_missing == 0.0 && zero.cover1_missing == 0.0 && zero.cover2_missing == 0.0);
}

static void test_no_std(void) {
    dfl_eval_sums sums;
    memset(&sums, 0, sizeof sums);
    dfl_eval_scores r = dfl_eval_scores_of(&sums, 0);
    CHECK(isnan(r.crps_missing) && isnan(r.spread_skill_missing) && isnan(r.cover1_missing) && isnan(r.cover2_missing));
}

int main(void) {
    test_crps_closed_form();
    test_known_spread();
    test_no_std();
    return dfl_test_finish("eval_uncertainty_test");
}
