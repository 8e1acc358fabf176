/* Baselines (include/dynfill/baseline.h): mean filling by hand, harmonic
 * interpolation against exact discrete-harmonic functions, an independent
 * Gauss-Seidel reference for every periodicity, the maximum principle on a
 * torus, and the residual it reports. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dfl_test.h"
#include "dynfill/baseline.h"

static float uniform01(unsigned *state) {
    *state = *state * 1664525u + 1013904223u;
    return (float)((*state >> 8) & 0xffffff) / 16777216.0f;
}

static void test_mean(void) {
    /* n 2, c 2, 2×3, one shared mask. */
    const float obs[2 * 2 * 6] = {1,  2,  3,  4,  5,  6,  /* s0 c0 */ 10, 20, 30, 40, 50, 60, /* s0 c1 */
                                  -1, -2, -3, -4, -5, -6, /* s1 c0 */ 7,  7,  7,  7,  7,  7 /* s1 c1 */};
    const unsigned char mask[2 * 6] = {1, 0, 1, 0, 0, 1, /* s0 */ 0, 1, 0, 0, 1, 0 /* s1 */};
    float out[24];
    dfl_baseline_mean(2, 2, 2, 3, 1, obs, mask, out);
    /* s0: observed cells 0,2,5: c0 mean (1+3+6)/3, c1 (10+30+60)/3 */
    const float m00 = 10.0f / 3.0f, m01 = 100.0f / 3.0f, m10 = -3.5f, m11 = 7.0f;
    const float want[24] = {1,   m00, 3,   m00, m00, 6,   10,  m01, 30,  m01, m01, 60,
                            m10, -2,  m10, m10, -5,  m10, m11, 7,   m11, m11, 7,   m11};
    for (int i = 0; i < 24; ++i) CHECK_CLOSE(out[i], want[i], 1e-6);

    /* Per-channel masks; channel 1 of sample 0 has no observation: fallback
     * = channel 1's observed mean over all samples. NaN at unobserved
     * entries must never be read. */
    float obs2[24];
    memcpy(obs2, obs, sizeof obs2);
    unsigned char mask2[24] = {0};
    mask2[0] = 1;  /* s0 c0: value 1 */
    mask2[13] = 1; /* s1 c0 cell 1: -2 */
    mask2[18] = 1; /* s1 c1 cell 0: 7 */
    mask2[22] = 1; /* s1 c1 cell 4: 7 */
    for (int i = 0; i < 24; ++i)
        if (!mask2[i]) obs2[i] = NAN;
    dfl_baseline_mean(2, 2, 2, 3, 2, obs2, mask2, out);
    for (int i = 0; i < 6; ++i) CHECK_CLOSE(out[i], 1.0, 1e-6);
    for (int i = 6; i < 12; ++i) CHECK_CLOSE(out[i], 7.0, 1e-6); /* fallback */
    for (int i = 12; i < 18; ++i) CHECK_CLOSE(out[i], -2.0, 1e-6);
    for (int i = 18; i < 24; ++i) CHECK_CLOSE(out[i], 7.0, 1e-6);

    /* In place. */
    float inplace[24];
    memcpy(inplace, obs, sizeof inplace);
    dfl_baseline_mean(2, 2, 2, 3, 1, inplace, mask, inplace);
    for (int i = 0; i < 24; ++i) CHECK_CLOSE(inplace[i], want[i], 1e-6);
}

/* Holes strictly inside the domain: any function with zero 5-point
 * Laplacian is reproduced, here u = x² − y² + 0.5xy + 2x − y + 3. */
static void test_harmonic_exact_interior(void) {
    const int h = 23, w = 17;
    float *truth = malloc(sizeof(float) * h * w), *obs = malloc(sizeof(float) * h * w);
    float *out = malloc(sizeof(float) * h * w);
    unsigned char *mask = malloc((size_t)h * w);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const double X = x * 0.25, Y = y * 0.25;
            truth[y * w + x] = (float)(X * X - Y * Y + 0.5 * X * Y + 2 * X - Y + 3);
            mask[y * w + x] = 1;
        }
    /* a 5×4 hole, an L-shaped hole, single pixels */
    for (int y = 3; y < 8; ++y)
        for (int x = 4; x < 8; ++x) mask[y * w + x] = 0;
    for (int y = 12; y < 20; ++y) mask[y * w + 3] = 0;
    for (int x = 3; x < 12; ++x) mask[19 * w + x] = 0;
    mask[10 * w + 14] = 0;
    mask[1 * w + 1] = 0;
    for (int i = 0; i < h * w; ++i) obs[i] = mask[i] ? truth[i] : NAN;
    dfl_harmonic_stats st;
    dfl_baseline_harmonic_ex(1, 1, h, w, 1, obs, mask, 0, 0, NULL, &st, out);
    double err = 0.0;
    for (int i = 0; i < h * w; ++i) err = fmax(err, fabs(out[i] - truth[i]));
    CHECK_MSG(err < 2e-5, "max error %g", err);
    CHECK(st.solves == 1 && st.unconverged == 0);
    CHECK(st.max_rel_residual <= 1e-6);
    for (int i = 0; i < h * w; ++i)
        if (mask[i]) CHECK(out[i] == obs[i]);

    /* Neumann border: u = 3x + 1 has zero normal derivative at the top and
     * bottom borders, so a hole touching them is still filled exactly; a
     * hole at a left/right border would not be (the normal slope is 3). */
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            truth[y * w + x] = 3.0f * x + 1.0f;
            mask[y * w + x] = !(y < 6 && x >= 5 && x < 11) && !(y >= h - 3 && x >= 2 && x < 5);
        }
    for (int i = 0; i < h * w; ++i) obs[i] = mask[i] ? truth[i] : NAN;
    dfl_baseline_harmonic(1, 1, h, w, 1, obs, mask, 0, 0, out);
    err = 0.0;
    for (int i = 0; i < h * w; ++i) err = fmax(err, fabs(out[i] - truth[i]));
    CHECK_MSG(err < 2e-5, "Neumann: max error %g", err);
    free(truth);
    free(obs);
    free(out);
    free(mask);
}

/* Independent reference: Gauss-Seidel sweeps of u_i = mean of in-domain
 * neighbours over the missing cells until nothing moves. */
static void reference_gs(int h, int w, int px, int py, const float *obs, const unsigned char *m, double *u) {
    double mean = 0.0;
    int cnt = 0;
    for (int i = 0; i < h * w; ++i)
        if (m[i]) {
            mean += obs[i];
            ++cnt;
        }
    mean /= cnt;
    for (int i = 0; i < h * w; ++i) u[i] = m[i] ? obs[i] : mean;
    for (int sweep = 0; sweep < 200000; ++sweep) {
        double change = 0.0;
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x) {
                if (m[y * w + x]) continue;
                double s = 0.0;
                int d = 0;
                const int ny[4] = {y, y, y - 1, y + 1}, nx[4] = {x - 1, x + 1, x, x};
                for (int k = 0; k < 4; ++k) {
                    int yy = ny[k], xx = nx[k];
                    if (xx < 0 || xx >= w) {
                        if (!px) continue;
                        xx = (xx + w) % w;
                    }
                    if (yy < 0 || yy >= h) {
                        if (!py) continue;
                        yy = (yy + h) % h;
                    }
                    s += u[yy * w + xx];
                    ++d;
                }
                const double v = s / d;
                change = fmax(change, fabs(v - u[y * w + x]));
                u[y * w + x] = v;
            }
        if (change < 1e-13) break;
    }
}

/* Max over missing cells of |Σ_j (u_i − u_j)| / ||b||, computed from the
 * float output. */
static double residual_of(int h, int w, int px, int py, const float *u, const unsigned char *m) {
    double r2 = 0.0, b2 = 0.0;
    double mean = 0.0;
    int cnt = 0;
    for (int i = 0; i < h * w; ++i)
        if (m[i]) {
            mean += u[i];
            ++cnt;
        }
    mean /= cnt;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            if (m[y * w + x]) continue;
            const int ny[4] = {y, y, y - 1, y + 1}, nx[4] = {x - 1, x + 1, x, x};
            double r = 0.0, b = 0.0;
            for (int k = 0; k < 4; ++k) {
                int yy = ny[k], xx = nx[k];
                if (xx < 0 || xx >= w) {
                    if (!px) continue;
                    xx = (xx + w) % w;
                }
                if (yy < 0 || yy >= h) {
                    if (!py) continue;
                    yy = (yy + h) % h;
                }
                r += (double)u[y * w + x] - u[yy * w + xx];
                if (m[yy * w + xx]) b += u[yy * w + xx] - mean;
            }
            r2 += r * r;
            b2 += b * b;
        }
    return sqrt(r2) / sqrt(b2);
}

static void test_harmonic_reference(void) {
    const int h = 12, w = 10, n = 2, c = 2;
    const size_t plane = (size_t)h * w;
    float *obs = malloc(sizeof(float) * n * c * plane), *out = malloc(sizeof(float) * n * c * plane);
    unsigned char *mask = malloc(n * c * plane);
    double *ref = malloc(sizeof(double) * plane);
    unsigned st = 12345;
    for (size_t i = 0; i < n * c * plane; ++i) {
        obs[i] = 4.0f * uniform01(&st) - 2.0f + 100.0f; /* a large offset */
        mask[i] = uniform01(&st) < 0.3f;
    }
    /* a block hole across both seams in sample 1 channel 0 */
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            if ((y < 3 || y >= h - 2) && (x < 2 || x >= w - 3)) mask[(1 * c + 0) * plane + y * w + x] = 0;
    for (size_t i = 0; i < n * c * plane; ++i)
        if (!mask[i]) obs[i] = NAN;
    for (int px = 0; px < 2; ++px)
        for (int py = 0; py < 2; ++py) {
            dfl_harmonic_stats hs;
            dfl_baseline_harmonic_ex(n, c, h, w, c, obs, mask, px, py, NULL, &hs, out);
            CHECK(hs.solves == n * c && hs.unconverged == 0 && hs.max_rel_residual <= 1e-6);
            double err = 0.0, res = 0.0;
            for (int sc = 0; sc < n * c; ++sc) {
                reference_gs(h, w, px, py, obs + sc * plane, mask + sc * plane, ref);
                for (size_t i = 0; i < plane; ++i) err = fmax(err, fabs(out[sc * plane + i] - ref[i]));
                res = fmax(res, residual_of(h, w, px, py, out + sc * plane, mask + sc * plane));
            }
            CHECK_MSG(err < 1e-4, "periodic x %d y %d: max error vs Gauss-Seidel %g", px, py, err);
            CHECK_MSG(res < 1e-5, "periodic x %d y %d: residual of output %g", px, py, res);
        }
    /* Periodicity must matter for the seam hole. */
    float *out_np = malloc(sizeof(float) * n * c * plane);
    dfl_baseline_harmonic(n, c, h, w, c, obs, mask, 0, 0, out_np);
    dfl_baseline_harmonic(n, c, h, w, c, obs, mask, 1, 1, out);
    double diff = 0.0;
    for (size_t i = 0; i < plane; ++i) diff = fmax(diff, fabs(out[2 * plane + i] - out_np[2 * plane + i]));
    CHECK_MSG(diff > 1e-2, "periodic and non-periodic fills agree (%g)", diff);
    free(out_np);
    free(obs);
    free(out);
    free(mask);
    free(ref);
}

/* On a torus only constants are harmonic; check the discrete maximum
 * principle: the fill of each hole lies within the range of the observed
 * values on the hole's boundary. One hole per test field. */
static void test_harmonic_torus_max_principle(void) {
    const int h = 32, w = 48;
    float *obs = malloc(sizeof(float) * h * w), *out = malloc(sizeof(float) * h * w);
    unsigned char *mask = malloc((size_t)h * w);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            obs[y * w + x] = (float)(sin(2 * M_PI * x / w) * cos(4 * M_PI * y / h) + 0.3 * cos(2 * M_PI * 3 * x / w));
            /* one hole wrapping around both seams: a 14×16 rectangle at the corner */
            mask[y * w + x] = !((y < 7 || y >= h - 7) && (x < 8 || x >= w - 8));
        }
    dfl_harmonic_stats hs;
    dfl_baseline_harmonic_ex(1, 1, h, w, 1, obs, mask, 1, 1, NULL, &hs, out);
    double lo = 1e30, hi = -1e30;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            if (mask[y * w + x]) continue;
            const int ny[4] = {y, y, (y + h - 1) % h, (y + 1) % h}, nx[4] = {(x + w - 1) % w, (x + 1) % w, x, x};
            for (int k = 0; k < 4; ++k)
                if (mask[ny[k] * w + nx[k]]) {
                    lo = fmin(lo, obs[ny[k] * w + nx[k]]);
                    hi = fmax(hi, obs[ny[k] * w + nx[k]]);
                }
        }
    int inside = 1;
    for (int i = 0; i < h * w; ++i)
        if (!mask[i] && (out[i] < lo - 1e-6 || out[i] > hi + 1e-6)) inside = 0;
    CHECK_MSG(inside, "fill leaves the boundary range [%g, %g]", lo, hi);
    CHECK(hs.max_rel_residual <= 1e-6 && hs.unconverged == 0);
    CHECK(residual_of(h, w, 1, 1, out, mask) < 1e-5);
    /* The hole's boundary spans a real range; the fill is not constant. */
    CHECK(hi - lo > 0.5);
    free(obs);
    free(out);
    free(mask);
}

static void test_harmonic_edge_cases(void) {
    /* Fully observed: copied; nothing observed: channel fallback; 1-wide axes. */
    float obs[2 * 1 * 3 * 1] = {1, 2, 3, NAN, NAN, NAN}, out[6];
    unsigned char mask[6] = {1, 1, 1, 0, 0, 0};
    dfl_baseline_harmonic(2, 1, 3, 1, 1, obs, mask, 1, 1, out);
    for (int i = 0; i < 3; ++i) CHECK(out[i] == obs[i]);
    for (int i = 3; i < 6; ++i) CHECK_CLOSE(out[i], 2.0, 1e-6);
    /* 1×5 periodic-in-x column with one observed value: the whole row takes it. */
    float row[5] = {NAN, NAN, 4.5f, NAN, NAN}, rout[5];
    unsigned char rm[5] = {0, 0, 1, 0, 0};
    dfl_baseline_harmonic(1, 1, 1, 5, 1, row, rm, 1, 1, rout);
    for (int i = 0; i < 5; ++i) CHECK_CLOSE(rout[i], 4.5, 1e-6);
    /* 1-D non-periodic: linear interpolation between observed ends, flat beyond. */
    float line[7] = {NAN, 1.0f, NAN, NAN, NAN, 5.0f, NAN}, lout[7];
    unsigned char lm[7] = {0, 1, 0, 0, 0, 1, 0};
    dfl_baseline_harmonic(1, 1, 1, 7, 1, line, lm, 0, 0, lout);
    const float lwant[7] = {1, 1, 2, 3, 4, 5, 5};
    for (int i = 0; i < 7; ++i) CHECK_CLOSE(lout[i], lwant[i], 1e-5);
}

/* Larger fields: converges in well under the iteration cap; timing printed. */
static void test_harmonic_large(void) {
    const int n = 4, h = 128, w = 128;
    const size_t plane = (size_t)h * w;
    float *obs = malloc(sizeof(float) * n * plane), *out = malloc(sizeof(float) * n * plane);
    unsigned char *mask = malloc(n * plane);
    unsigned st = 7;
    for (int s = 0; s < n; ++s)
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x) {
                const size_t i = s * plane + (size_t)y * w + x;
                obs[i] = (float)(sin(0.1 * x + s) + cos(0.07 * y));
                if (s < 2)
                    mask[i] = uniform01(&st) < 0.2f; /* 20 % pixels */
                else
                    mask[i] = !((y / 43) == 1 && (x / 43) == (s - 1)); /* one 43×43 block hidden */
            }
    dfl_harmonic_stats hs;
    dfl_baseline_harmonic_ex(n, 1, h, w, 1, obs, mask, 1, 0, NULL, &hs, out);
    printf("128x128 harmonic: max %d CG iterations, worst relative residual %.2e\n", hs.max_iters, hs.max_rel_residual);
    CHECK(hs.unconverged == 0 && hs.max_rel_residual <= 1e-6);
    CHECK(hs.max_iters < 1000);
    free(obs);
    free(out);
    free(mask);
}

int main(void) {
    test_mean();
    test_harmonic_exact_interior();
    test_harmonic_reference();
    test_harmonic_torus_max_principle();
    test_harmonic_edge_cases();
    test_harmonic_large();
    return dfl_test_finish("eval_baseline_test");
}
