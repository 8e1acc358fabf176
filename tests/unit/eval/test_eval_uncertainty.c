/* `dynfill eval` uncertainty scores of the missing entries (docs/eval.md,
 * "Uncertainty"): the Gaussian CRPS against its defining integral and
 * closed-form values, and an ensemble of known spread (truth drawn from
 * N(pred, s²)) giving spread-skill 1, coverage 68 % / 95 % and mean CRPS
 * s / sqrt(pi); a too-narrow std gives a ratio below 1; std = 0 gives the
 * absolute error; observed entries are left out. The ensemble CRPS of
 * /members: K = 1 and equal members give |x - y|, K = 2 by hand, a large
 * Gaussian ensemble matches the closed form, the sorted O(K log K) pair sum
 * equals the O(K²) double sum, and the [n, K, c, h, w] accumulation skips
 * observed entries per channel. The spread-skill bootstrap over samples:
 * a point for identical samples, NaN for one, the delta method's width
 * (shrinking as 1/sqrt(n)), a wide interval where one sample holds most
 * of the error, and runs drawn whole (as their sums drawn one by one;
 * sqrt(run) times as wide for perfectly correlated runs). */
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

/* The definition, O(K²): (1/K) Σ|x_i − y| − w Σ_i Σ_j |x_i − x_j| with w = 1/(2K²) or 1/(2K(K−1)). */
static double crps_ensemble_direct(double y, const double *x, int k, int fair) {
    double abs_err = 0.0, pairs = 0.0;
    for (int i = 0; i < k; ++i) {
        abs_err += fabs(x[i] - y);
        for (int j = 0; j < k; ++j) pairs += fabs(x[i] - x[j]);
    }
    return abs_err / k - pairs / (fair ? 2.0 * k * (k - 1.0) : 2.0 * k * k);
}

/* Φ^-1(p) by bisection on the exact CDF (0 < p < 1). */
static double normal_quantile(double p) {
    double lo = -40.0, hi = 40.0;
    for (int it = 0; it < 200; ++it) {
        const double mid = 0.5 * (lo + hi);
        if (0.5 * erfc(-mid / M_SQRT2) < p)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

static void test_crps_ensemble_closed_forms(void) {
    double crps, fair, x[4];
    /* K = 1: |x - y|; the fair estimator is undefined */
    x[0] = 2.5;
    dfl_eval_crps_ensemble(-1.0, x, 1, &crps, &fair);
    CHECK_CLOSE(crps, 3.5, 1e-15);
    CHECK(isnan(fair));
    /* K = 2, members 1 and 3 (given unsorted), y = 0: (1 + 3)/2 − 2·2/8 = 1.5; fair (1 + 3)/2 − 2·2/4 = 1 */
    x[0] = 3.0;
    x[1] = 1.0;
    dfl_eval_crps_ensemble(0.0, x, 2, &crps, &fair);
    CHECK_CLOSE(crps, 1.5, 1e-15);
    CHECK_CLOSE(fair, 1.0, 1e-15);
    /* y between them, 2: (1 + 1)/2 − 0.5 = 0.5; fair 0 */
    x[0] = 3.0;
    x[1] = 1.0;
    dfl_eval_crps_ensemble(2.0, x, 2, &crps, &fair);
    CHECK_CLOSE(crps, 0.5, 1e-15);
    CHECK_CLOSE(fair, 0.0, 1e-15);
    /* equal members: the pair term vanishes, both give |x - y| */
    for (int i = 0; i < 4; ++i) x[i] = -0.75;
    dfl_eval_crps_ensemble(0.5, x, 4, &crps, &fair);
    CHECK_CLOSE(crps, 1.25, 1e-15);
    CHECK_CLOSE(fair, 1.25, 1e-15);
    /* fair may be NULL */
    x[0] = 1.0;
    x[1] = 3.0;
    dfl_eval_crps_ensemble(0.0, x, 2, &crps, NULL);
    CHECK_CLOSE(crps, 1.5, 1e-15);
}

/* An ensemble of the K quantiles Φ^-1((i + 1/2) / K) of N(mu, sigma²) (deterministic normal draws)
 * has the Gaussian CRPS in the limit; K = 20000 is within a fraction of a per cent. */
static void test_crps_ensemble_gaussian_limit(void) {
    const int k = 20000;
    double *z = malloc((size_t)k * sizeof *z), *x = malloc((size_t)k * sizeof *x);
    for (int i = 0; i < k; ++i) z[i] = normal_quantile((i + 0.5) / k);
    const double cases[][3] = {{0.0, 0.0, 1.0}, {0.3, 0.0, 1.0}, {2.6, 0.0, 2.0}, {-1.0, 0.5, 0.25}, {5.0, 1.0, 0.7}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
        const double y = cases[c][0], mu = cases[c][1], sigma = cases[c][2];
        for (int i = 0; i < k; ++i) x[k - 1 - i] = mu + sigma * z[i]; /* reversed: the function sorts */
        double crps, fair;
        dfl_eval_crps_ensemble(y, x, k, &crps, &fair);
        const double gauss = dfl_eval_crps_gaussian(y, mu, sigma);
        CHECK_MSG(fabs(crps / gauss - 1.0) < 0.01, "K %d, y %g, N(%g, %g²): ensemble %.6g, Gaussian %.6g", k, y, mu,
                  sigma, crps, gauss);
        CHECK_MSG(fabs(fair / gauss - 1.0) < 0.01, "fair %.6g, Gaussian %.6g", fair, gauss);
        CHECK(fair <= crps); /* the fair estimator subtracts a larger pair term */
    }
    free(z);
    free(x);
}

/* The sorted form against the double sum, for K = 1..60 random members (with ties). */
static void test_crps_ensemble_sorted_sum(void) {
    srand48(11);
    double x[60], copy[60];
    for (int k = 1; k <= 60; ++k) {
        for (int i = 0; i < k; ++i) x[i] = i % 7 == 3 ? 0.5 : 3.0 * normal();
        const double y = normal();
        memcpy(copy, x, sizeof x);
        double crps, fair;
        dfl_eval_crps_ensemble(y, copy, k, &crps, &fair);
        const double ref = crps_ensemble_direct(y, x, k, 0);
        CHECK_MSG(fabs(crps - ref) <= 1e-12 * (1.0 + fabs(ref)), "K %d: sorted %.17g, double sum %.17g", k, crps, ref);
        if (k > 1) CHECK_CLOSE(fair, crps_ensemble_direct(y, x, k, 1), 1e-12 * (1.0 + fabs(ref)));
    }
}

/* members [n 2, K 3, c 2, 1, 2]: sample s, member j, channel ch, pixel p holds 10 s + 3 ch + j + p;
 * truth 0; the mask has one channel per data channel: channel 0 of sample 0 observes pixel 0,
 * channel 1 of sample 1 observes both pixels, the rest is missing. */
static void test_accumulate_members(void) {
    const int n = 2, k = 3, c = 2, h = 1, w = 2;
    float members[2 * 3 * 2 * 2], truth[2 * 2 * 2] = {0};
    for (int s = 0; s < n; ++s)
        for (int j = 0; j < k; ++j)
            for (int ch = 0; ch < c; ++ch)
                for (int p = 0; p < w; ++p) members[((s * k + j) * c + ch) * w + p] = (float)(10 * s + 3 * ch + j + p);
    const unsigned char mask[2 * 2 * 2] = {1, 0, 0, 0, /* s1 */ 0, 0, 1, 1};
    truth[1 * c * w + 0 * w + 1] = NAN; /* a non-finite truth is skipped (sample 1, channel 0, pixel 1) */
    double scratch[3];
    dfl_eval_sums sums[2];
    memset(sums, 0, sizeof sums);
    dfl_eval_accumulate_members(n, k, c, h, w, c, members, truth, mask, scratch, sums);
    double expect[2] = {0, 0}, expect_fair[2] = {0, 0};
    long long count[2] = {0, 0};
    for (int s = 0; s < n; ++s)
        for (int ch = 0; ch < c; ++ch)
            for (int p = 0; p < w; ++p) {
                if (mask[(s * c + ch) * w + p] || !isfinite(truth[(s * c + ch) * w + p])) continue;
                double x[3];
                for (int j = 0; j < k; ++j) x[j] = 10 * s + 3 * ch + j + p;
                expect[ch] += crps_ensemble_direct(0.0, x, k, 0);
                expect_fair[ch] += crps_ensemble_direct(0.0, x, k, 1);
                ++count[ch];
            }
    CHECK(count[0] == 2 && count[1] == 2);
    for (int ch = 0; ch < c; ++ch) {
        CHECK(sums[ch].n_members == count[ch]);
        CHECK_CLOSE(sums[ch].crps_members, expect[ch], 1e-12);
        CHECK_CLOSE(sums[ch].crps_members_fair, expect_fair[ch], 1e-12);
    }
    /* pooled scores: the mean over the 4 entries; no /std, so its scores stay NaN */
    dfl_eval_sums total;
    memset(&total, 0, sizeof total);
    dfl_eval_sums_add(&total, &sums[0]);
    dfl_eval_sums_add(&total, &sums[1]);
    dfl_eval_scores r = dfl_eval_scores_of(&total, 0);
    CHECK_CLOSE(r.crps_ensemble_missing, (expect[0] + expect[1]) / 4, 1e-12);
    CHECK_CLOSE(r.crps_ensemble_fair_missing, (expect_fair[0] + expect_fair[1]) / 4, 1e-12);
    CHECK(isnan(r.crps_missing));
}

/* 90 % bootstrap interval width of sqrt(Σq / Σe) with q_i = 1 and e_i alternately 0.5 and 1.5 (mean 1,
 * sd 0.5): by the delta method sd(R) = 0.5 sd(e) / sqrt(n), width 2 · 1.645 sd(R). */
static void check_bootstrap_width(int64_t n) {
    double *e = malloc((size_t)n * sizeof *e), *q = malloc((size_t)n * sizeof *q);
    for (int64_t i = 0; i < n; ++i) e[i] = i % 2 ? 1.5 : 0.5, q[i] = 1.0;
    double lo, hi;
    dfl_eval_spread_skill_bootstrap(e, q, n, 1, &lo, &hi);
    const double want = 2.0 * 1.645 * 0.5 * 0.5 / sqrt((double)n);
    CHECK(lo < 1.0 && hi > 1.0);
    CHECK_CLOSE((hi - lo) / want, 1.0, 0.15);
    free(e);
    free(q);
}

static void test_spread_skill_bootstrap(void) {
    double e[64], q[64], lo, hi;
    for (int i = 0; i < 64; ++i) e[i] = 2.0, q[i] = 0.5;
    dfl_eval_spread_skill_bootstrap(e, q, 64, 1, &lo, &hi); /* every resample is the file: a point */
    CHECK_CLOSE(lo, 0.5, 1e-12);
    CHECK_CLOSE(hi, 0.5, 1e-12);
    dfl_eval_spread_skill_bootstrap(e, q, 1, 1, &lo, &hi);
    CHECK(isnan(lo) && isnan(hi));
    check_bootstrap_width(100);
    check_bootstrap_width(400);
    /* one sample of 64 holds 100 of 163: the ratio is sqrt(64 / 163) = 0.63; a third of the resamples
     * miss it (ratio 1), others hold it twice (0.49) */
    for (int i = 0; i < 64; ++i) e[i] = i == 17 ? 100.0 : 1.0, q[i] = 1.0;
    dfl_eval_spread_skill_bootstrap(e, q, 64, 1, &lo, &hi);
    CHECK(lo < 0.55 && hi > 0.95 && hi <= 1.0 + 1e-12);
    /* the same key: the same interval */
    double lo2, hi2;
    dfl_eval_spread_skill_bootstrap(e, q, 64, 1, &lo2, &hi2);
    CHECK(lo2 == lo && hi2 == hi);
    /* runs of 10 (the last of 4) drawn whole: the same interval as their sums drawn one by one; one run
     * (64 samples in runs of 64) is too few */
    double run_e[7] = {0}, run_q[7] = {0};
    for (int i = 0; i < 64; ++i)
        e[i] = 0.5 + (i * 7 % 11) * 0.1, q[i] = 1.0, run_e[i / 10] += e[i], run_q[i / 10] += q[i];
    dfl_eval_spread_skill_bootstrap(e, q, 64, 10, &lo, &hi);
    dfl_eval_spread_skill_bootstrap(run_e, run_q, 7, 1, &lo2, &hi2);
    CHECK(lo == lo2 && hi == hi2 && lo < hi);
    dfl_eval_spread_skill_bootstrap(e, q, 64, 64, &lo, &hi);
    CHECK(isnan(lo) && isnan(hi));
    /* perfectly correlated runs of 10 equal samples: drawn whole, the interval is that of 40 samples, about
     * sqrt(10) times as wide as drawing the 400 one by one */
    double *ce = malloc(400 * sizeof *ce), *cq = malloc(400 * sizeof *cq);
    for (int i = 0; i < 400; ++i) ce[i] = (i / 10) % 2 ? 1.5 : 0.5, cq[i] = 1.0;
    dfl_eval_spread_skill_bootstrap(ce, cq, 400, 10, &lo, &hi);
    dfl_eval_spread_skill_bootstrap(ce, cq, 400, 1, &lo2, &hi2);
    CHECK_CLOSE((hi - lo) / (hi2 - lo2), sqrt(10.0), 0.2 * sqrt(10.0));
    free(ce);
    free(cq);
}

static void test_no_std(void) {
    dfl_eval_sums sums;
    memset(&sums, 0, sizeof sums);
    dfl_eval_scores r = dfl_eval_scores_of(&sums, 0);
    CHECK(isnan(r.crps_missing) && isnan(r.spread_skill_missing) && isnan(r.cover1_missing) && isnan(r.cover2_missing));
    CHECK(isnan(r.crps_ensemble_missing) && isnan(r.crps_ensemble_fair_missing));
}

int main(void) {
    test_crps_closed_form();
    test_known_spread();
    test_crps_ensemble_closed_forms();
    test_crps_ensemble_gaussian_limit();
    test_crps_ensemble_sorted_sum();
    test_accumulate_members();
    test_spread_skill_bootstrap();
    test_no_std();
    return dfl_test_finish("eval_uncertainty_test");
}
