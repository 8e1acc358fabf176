/* The spread calibration's fit (dfl_spread_fit, docs/design.md, "Calibrated
 * spread") on errors drawn from a known model err ~ N(0, a^2 sd^2 + b^2):
 * the fit must recover a and b; on heavy-tailed errors it must keep
 * spread-skill 1 and the +-2 sigma coverage near 95.45 %, which the
 * likelihood alone misses there; degenerate inputs give the documented
 * values. */
#include <math.h>
#include <stdlib.h>

#include "dfl_test.h"
#include "dynfill/infer.h"
#include "shared/philox.h"

/* n entries with spreads uniform in [lo, hi] and errors from the model */
static void draw(size_t n, double a, double b, float lo, float hi, uint64_t seed, float *err, float *sd) {
    for (size_t i = 0; i < n; ++i) {
        sd[i] = lo + (hi - lo) * dfl_rng_uniform(seed, 1, i);
        err[i] = (float)(sqrt(a * a * sd[i] * sd[i] + b * b) * dfl_rng_normal(seed, 2, i));
    }
}

static void check_recovers(double a, double b, size_t n) {
    float *err = malloc(n * sizeof(float)), *sd = malloc(n * sizeof(float));
    draw(n, a, b, 0.05f, 2.0f, (uint64_t)(a * 1000 + b * 10 + n), err, sd);
    double fa, fb;
    dfl_spread_fit(err, sd, n, &fa, &fb);
    /* 1e5 entries: the likelihood's standard errors are about 1 % here */
    CHECK_MSG(fabs(fa - a) <= 0.04 * a + 0.01, "a = %.3f, fitted %.4f (b = %.3f, n = %zu)", a, fa, b, n);
    CHECK_MSG(fabs(fb - b) <= 0.05 * b + 0.03 * a, "b = %.3f, fitted %.4f (a = %.3f, n = %zu)", b, fb, a, n);
    free(err);
    free(sd);
}

/* A scale mixture: err = sqrt((0.5 sd r)^2 + 0.01^2) z with r log-normal
 * (sigma 1.5) and sd log-uniform on [1e-3, 1], so the spread tells the
 * error's size only roughly and a few entries are far off. The Gaussian
 * likelihood alone fits spread-skill 0.87 and +-2 sigma 97.6 % here. */
static void check_heavy_tails(size_t n) {
    float *err = malloc(n * sizeof(float)), *sd = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; ++i) {
        sd[i] = (float)exp(log(1e-3) * (1.0 - dfl_rng_uniform(7, 1, i)));
        double r = exp(1.5 * dfl_rng_normal(7, 2, i)), v = 0.25 * sd[i] * sd[i] * r * r + 1e-4;
        err[i] = (float)(sqrt(v) * dfl_rng_normal(7, 3, i));
    }
    double fa, fb;
    dfl_spread_fit(err, sd, n, &fa, &fb);
    dfl_spread_stats st = {0};
    for (size_t i = 0; i < n; ++i) dfl_spread_stats_add(&st, err[i], dfl_spread_calibrated(sd[i], fa, fb));
    const double ratio = dfl_spread_stats_ratio(&st), in2 = st.in2 / st.n;
    CHECK_MSG(fabs(ratio - 1.0) < 1e-3, "heavy tails: spread-skill %.4f (a %.4g b %.4g)", ratio, fa, fb);
    CHECK_MSG(fabs(in2 - 0.9545) <= 0.0201, "heavy tails: +-2 std covers %.4f (a %.4g b %.4g)", in2, fa, fb);
    free(err);
    free(sd);
}

int main(void) {
    CHECK(fabs(dfl_spread_calibrated(3.0, 2.0, 8.0) - 10.0) < 1e-12);
    CHECK(dfl_spread_calibrated(0.0, 5.0, 0.0) == 0.0);
    check_recovers(0.7, 1.3, 100000);
    check_recovers(2.5, 0.4, 100000);
    check_recovers(1.0, 0.0, 100000);
    check_recovers(0.6, 1.0, 100000);
    /* more entries than the fit reads: the strided subset recovers them as well */
    check_recovers(1.5, 1.0, 3 * (size_t)DFL_SPREAD_FIT_MAX + 17);
    check_heavy_tails(100000);

    double fa, fb;
    /* no spread anywhere: everything is floor, the RMSE */
    float err[4] = {1, -1, 3, -3}, zero[4] = {0, 0, 0, 0};
    dfl_spread_fit(err, zero, 4, &fa, &fb);
    CHECK_MSG(fa == 1.0 && fabs(fb - sqrt(5.0)) < 1e-12, "zero spread: a %.4g b %.4g", fa, fb);
    /* nothing to fit: a 1, b 0 */
    dfl_spread_fit(err, zero, 0, &fa, &fb);
    CHECK(fa == 1.0 && fb == 0.0);
    float sd[4] = {1, 2, 3, 4};
    dfl_spread_fit(zero, sd, 4, &fa, &fb);
    CHECK(fa == 1.0 && fb == 0.0);
    return dfl_test_finish("spread_fit");
}
