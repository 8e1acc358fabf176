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
#include "method/mask_gap_distance.h"
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

/* Integer weights count an entry that many times: the weighted fit on n
 * entries equals the plain fit on the entries repeated. Weight 0 leaves an
 * entry out, and all weights 1 are the plain fit. */
static void check_weighted(void) {
    const size_t n = 20000;
    float *err = malloc(n * sizeof(float)), *sd = malloc(n * sizeof(float)), *wt = malloc(n * sizeof(float));
    float *err_rep = malloc(3 * n * sizeof(float)), *sd_rep = malloc(3 * n * sizeof(float));
    draw(n, 1.2, 0.5, 0.05f, 2.0f, 11, err, sd);
    size_t m = 0;
    for (size_t i = 0; i < n; ++i) {
        wt[i] = (float)(i % 4);                       /* 0, 1, 2, 3 */
        if (i % 4 == 1) wt[i] = 1.0f, err[i] *= 3.0f; /* the weight-1 entries differ from the rest */
        for (int r = 0; r < (int)wt[i]; ++r) err_rep[m] = err[i], sd_rep[m++] = sd[i];
    }
    double wa, wb, ra, rb, pa, pb, oa, ob;
    dfl_spread_fit_weighted(err, sd, wt, n, &wa, &wb);
    dfl_spread_fit(err_rep, sd_rep, m, &ra, &rb);
    CHECK_MSG(fabs(wa - ra) <= 1e-6 * ra && fabs(wb - rb) <= 1e-6 * rb + 1e-9,
              "weighted fit a %.6g b %.6g, repeated entries a %.6g b %.6g", wa, wb, ra, rb);
    for (size_t i = 0; i < n; ++i) wt[i] = 1.0f;
    dfl_spread_fit_weighted(err, sd, wt, n, &oa, &ob);
    dfl_spread_fit(err, sd, n, &pa, &pb);
    CHECK_MSG(oa == pa && ob == pb, "weights 1: a %.6g b %.6g, plain a %.6g b %.6g", oa, ob, pa, pb);
    dfl_spread_stats st = {0}, st_rep = {0};
    for (size_t i = 0; i < n; ++i) dfl_spread_stats_add_weighted(&st, err[i], sd[i], (double)(i % 4));
    for (size_t i = 0; i < n; ++i)
        for (size_t r = 0; r < i % 4; ++r) dfl_spread_stats_add(&st_rep, err[i], sd[i]);
    CHECK(st.n == st_rep.n && st.in1 == st_rep.in1 && st.in2 == st_rep.in2);
    CHECK(fabs(dfl_spread_stats_ratio(&st) - dfl_spread_stats_ratio(&st_rep)) < 1e-9);
    CHECK_MSG(fabs(st.crps - st_rep.crps) <= 1e-9 * st_rep.crps, "crps weighted %.9g, repeated %.9g", st.crps,
              st_rep.crps);
    free(err), free(sd), free(wt), free(err_rep), free(sd_rep);
}

/* The stats' CRPS in closed form: at err 0 a Gaussian of std s has CRPS
 * s (sqrt 2 - 1) / sqrt pi; with std 0 it is |err|. */
static void check_stats_crps(void) {
    dfl_spread_stats st = {0};
    dfl_spread_stats_add_weighted(&st, 0.0, 2.0, 3.0);
    const double want = 3.0 * 2.0 * (sqrt(2.0) - 1.0) / sqrt(M_PI);
    CHECK_MSG(fabs(st.crps - want) < 1e-12, "err 0, std 2, weight 3: crps %.12g, want %.12g", st.crps, want);
    dfl_spread_stats_add(&st, -1.5, 0.0);
    CHECK_MSG(fabs(st.crps - want - 1.5) < 1e-12, "err -1.5, std 0: crps %.12g more", st.crps - want);
}

/* Gap-bin weights: the hidden entries reweighted to the missing entries'
 * gap distances, with thin bins joined. */
static void check_gap_weights(void) {
    double w[DFL_GAP_BINS];
    const double same[DFL_GAP_BINS] = {700, 300, 0, 0, 0, 0, 0};
    dfl_spread_gap_weights(same, same, w);
    for (int b = 0; b < DFL_GAP_BINS; ++b) CHECK_MSG(fabs(w[b] - 1.0) < 1e-12, "same shares: w[%d] = %g", b, w[b]);
    /* hidden 50/50 in gaps 1 and 2, missing 30/70: 0.6 and 1.4 */
    const double hid[DFL_GAP_BINS] = {1000, 1000, 0, 0, 0, 0, 0}, mis[DFL_GAP_BINS] = {300, 700, 0, 0, 0, 0, 0};
    dfl_spread_gap_weights(mis, hid, w);
    CHECK_MSG(fabs(w[0] - 0.6) < 1e-12 && fabs(w[1] - 1.4) < 1e-12, "w %g %g, expected 0.6 1.4", w[0], w[1]);
    /* missing entries in gaps wider than any hidden (3-4, 9-16) count in the widest group */
    const double wide[DFL_GAP_BINS] = {200, 200, 400, 0, 200, 0, 0};
    dfl_spread_gap_weights(wide, hid, w);
    CHECK_MSG(fabs(w[0] - 0.4) < 1e-12 && fabs(w[1] - 1.6) < 1e-12, "wide gaps: w %g %g, expected 0.4 1.6", w[0], w[1]);
    /* a bin with fewer hidden entries than DFL_CALIB_GAP_MIN_ENTRIES joins its neighbour */
    const double thin[DFL_GAP_BINS] = {1000, 100, 0, 0, 0, 0, 0}, mis2[DFL_GAP_BINS] = {500, 500, 0, 0, 0, 0, 0};
    dfl_spread_gap_weights(mis2, thin, w);
    CHECK_MSG(fabs(w[0] - 1.0) < 1e-12 && fabs(w[1] - 1.0) < 1e-12, "thin bin: w %g %g, expected 1 1", w[0], w[1]);
    /* nothing missing (a complete held-out set), or nothing hidden: all 1 */
    const double none[DFL_GAP_BINS] = {0};
    dfl_spread_gap_weights(none, hid, w);
    CHECK(w[0] == 1.0 && w[1] == 1.0 && w[6] == 1.0);
    dfl_spread_gap_weights(mis, none, w);
    CHECK(w[0] == 1.0 && w[6] == 1.0);
    /* a rare hidden gap width weighs at most DFL_CALIB_GAP_MAX_WEIGHT: 9 capped to 3, the rest scaled to 7/9 */
    const double hcap[DFL_GAP_BINS] = {9000, 1000, 0, 0, 0, 0, 0}, mcap[DFL_GAP_BINS] = {100, 900, 0, 0, 0, 0, 0};
    dfl_spread_gap_weights(mcap, hcap, w);
    CHECK_MSG(fabs(w[1] - DFL_CALIB_GAP_MAX_WEIGHT) < 1e-12 && fabs(w[0] - 7.0 / 9.0) < 1e-12,
              "capped: w %g %g, expected 7/9 and 3", w[0], w[1]);
    /* the weights keep the hidden count: sum over entries of w = hidden total */
    const double h3[DFL_GAP_BINS] = {5000, 2000, 900, 600, 0, 0, 0}, m3[DFL_GAP_BINS] = {100, 300, 900, 50, 10, 5, 1};
    dfl_spread_gap_weights(m3, h3, w);
    double total = 0.0;
    for (int b = 0; b < DFL_GAP_BINS; ++b) total += h3[b] * w[b];
    CHECK_MSG(fabs(total - 8500.0) < 1e-6, "reweighted hidden total %g, expected 8500", total);
}

/* The factors by gap bin (dfl_spread_gap_factors): sqrt(err2 / std2) where
 * a bin has enough entries, clamped; elsewhere the nearest fitted bin's,
 * the wider at a tie; all 1 with none fitted. And the bins themselves
 * (dfl_gap_bins): chessboard distance to the nearest known entry. */
static void check_gap_factors(void) {
    enum { B = DFL_GAP_BINS };
    const double many = DFL_CALIB_GAP_MIN_ENTRIES, few = DFL_CALIB_GAP_MIN_ENTRIES - 1;
    double f[B];
    /* fitted: 0 (0.25), 2 (4), 4 (1e4: clamped); 1 is between 0 and 2 (tie: the wider, 2), 3 between 2 and 4
     * (the wider, 4), 5 and 6 beyond 4 */
    const double e2[B] = {1, 1, 16, 1, 1e8, 1, 1}, s2[B] = {16, 1, 1, 1, 1, 1, 1};
    const double n[B] = {many, few, many, 0, many, few, 0};
    dfl_spread_gap_factors(e2, s2, n, f);
    const double want[B] = {0.25,
                            4,
                            4,
                            DFL_CALIB_GAP_FACTOR_MAX,
                            DFL_CALIB_GAP_FACTOR_MAX,
                            DFL_CALIB_GAP_FACTOR_MAX,
                            DFL_CALIB_GAP_FACTOR_MAX};
    for (int b = 0; b < B; ++b) CHECK_MSG(fabs(f[b] - want[b]) < 1e-12, "gap factor %d: %g, want %g", b, f[b], want[b]);
    const double tiny[B] = {1e-8, 1, 1, 1, 1, 1, 1}, one[B] = {many, 0, 0, 0, 0, 0, 0};
    dfl_spread_gap_factors(tiny, s2, one, f); /* clamped below; every other bin takes bin 0's */
    for (int b = 0; b < B; ++b) CHECK(fabs(f[b] - 1.0 / DFL_CALIB_GAP_FACTOR_MAX) < 1e-12);
    const double none[B] = {few, few, 0, 0, 0, 0, 0};
    dfl_spread_gap_factors(e2, s2, none, f);
    for (int b = 0; b < B; ++b) CHECK(f[b] == 1.0);
    const double zero_std[B] = {0, 0, 0, 0, 0, 0, 0}, all[B] = {many, many, many, many, many, many, many};
    dfl_spread_gap_factors(e2, zero_std, all, f); /* no spread to scale: nothing fitted */
    for (int b = 0; b < B; ++b) CHECK(f[b] == 1.0);

    /* a 1 x 12 row known at x = 0 only: distances 1, 2, ..., 11 */
    enum { W = 12 };
    uint8_t known[W] = {1};
    uint16_t bin[W];
    dfl_gap_bins(known, 1, W, 0, 0, bin);
    const uint16_t want_bin[W] = {0, 0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4};
    for (int x = 0; x < W; ++x) CHECK_MSG(bin[x] == want_bin[x], "gap bin at %d: %u, want %u", x, bin[x], want_bin[x]);
    /* periodic along x (a global longitude): the far end is 1 from x = 0 the other way round */
    dfl_gap_bins(known, 1, W, 1, 0, bin);
    const uint16_t want_wrap[W] = {0, 0, 1, 2, 2, 3, 3, 3, 2, 2, 1, 0};
    for (int x = 0; x < W; ++x)
        CHECK_MSG(bin[x] == want_wrap[x], "periodic gap bin at %d: %u, want %u", x, bin[x], want_wrap[x]);
}

int main(void) {
    check_gap_factors();
    check_weighted();
    check_stats_crps();
    check_gap_weights();
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
