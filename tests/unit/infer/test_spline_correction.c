/* The spline correction of an imputation (include/dynfill/infer.h,
 * docs/design.md, "Spline correction"):
 *   - dfl_spline_weight_fit: errors that are exactly -b times the step to
 *     the spline give b; a step that only adds error gives 0, one that
 *     overshoots gives 1 (clamped); entries of weight 0 do not count; no
 *     step at all gives 0;
 *   - dfl_spline_toward: on an affine field with free borders (no bending
 *     energy) S is the field itself, whatever the start, so S - P on the
 *     missing entries is field - P; 0 on the observed ones; two channels
 *     under one mask, and a mask per channel;
 *   - on a periodic field the solve wraps: a field smooth across the seam
 *     is recovered better than with free borders;
 *   - dfl_spline_correct moves pred and every member by w (S - P), so the
 *     members' mean stays pred. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dfl_test.h"
#include "dynfill/backend.h"
#include "dynfill/infer.h"

enum { H = 24, W = 30, C = 2, N = 2, K = 3 };

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static double uniform(void) { /* xorshift64*, [0, 1) */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

int main(void) {
    /* the weight fit */
    enum { M = 200 };
    float err[M], tw[M], wt[M];
    for (int k = 0; k < M; ++k) tw[k] = (float)(uniform() - 0.5), err[k] = -0.3f * tw[k], wt[k] = 1.0f;
    CHECK_CLOSE(dfl_spline_weight_fit(err, tw, NULL, M), 0.3, 1e-6);
    for (int k = 0; k < M; ++k) err[k] = tw[k];
    CHECK(dfl_spline_weight_fit(err, tw, wt, M) == 0.0);
    for (int k = 0; k < M; ++k) err[k] = -2.0f * tw[k];
    CHECK(dfl_spline_weight_fit(err, tw, wt, M) == 1.0);
    for (int k = 0; k < M; ++k) { /* half the entries say 0.3, the other half (weight 0) say 0.9 */
        err[k] = (k % 2 ? -0.9f : -0.3f) * tw[k];
        wt[k] = k % 2 ? 0.0f : 2.0f;
    }
    CHECK_CLOSE(dfl_spline_weight_fit(err, tw, wt, M), 0.3, 1e-6);
    memset(tw, 0, sizeof tw);
    CHECK(dfl_spline_weight_fit(err, tw, NULL, M) == 0.0);

    /* the step to the spline on affine fields, free borders */
    dfl_backend *be = dfl_backend_cpu_create(1);
    const size_t px = (size_t)H * W, all = (size_t)N * C * px;
    float *truth = malloc(all * sizeof(float)), *obs = malloc(all * sizeof(float));
    float *pred = malloc(all * sizeof(float)), *toward = malloc(all * sizeof(float));
    uint8_t *mask = malloc((size_t)N * C * px);
    for (int i = 0; i < N; ++i)
        for (int ch = 0; ch < C; ++ch) {
            const double a = uniform(), bx = uniform() - 0.5, by = uniform() - 0.5;
            for (size_t e = 0; e < px; ++e)
                truth[((size_t)i * C + ch) * px + e] = (float)(a + 0.1 * (bx * (double)(e % W) + by * (double)(e / W)));
        }
    for (int per_channel = 0; per_channel < 2; ++per_channel) {
        const int mc = per_channel ? C : 1;
        for (size_t k = 0; k < (size_t)N * mc * px; ++k) mask[k] = uniform() < 0.5;
        for (int i = 0; i < N; ++i)
            for (int ch = 0; ch < C; ++ch)
                for (size_t e = 0; e < px; ++e) {
                    const size_t x = ((size_t)i * C + ch) * px + e;
                    const int m = mask[((size_t)i * mc + (mc == 1 ? 0 : ch)) * px + e];
                    obs[x] = m ? truth[x] : 0.0f;
                    pred[x] = truth[x] + (float)(0.5 * (uniform() - 0.5)); /* a network's error */
                }
        dfl_spline_toward(be, N, C, H, W, mc, obs, mask, pred, 0, 0, toward);
        double worst = 0.0, observed_step = 0.0;
        for (int i = 0; i < N; ++i)
            for (int ch = 0; ch < C; ++ch)
                for (size_t e = 0; e < px; ++e) {
                    const size_t x = ((size_t)i * C + ch) * px + e;
                    if (mask[((size_t)i * mc + (mc == 1 ? 0 : ch)) * px + e])
                        observed_step = fmax(observed_step, fabs(toward[x]));
                    else
                        worst = fmax(worst, fabs((double)pred[x] + toward[x] - truth[x]));
                }
        CHECK_MSG(worst < 2e-3, "affine, mask channels %d: S is off the field by %g", mc, worst);
        CHECK(observed_step == 0.0);
    }

    /* a periodic field: wrapping the solve knows the seam */
    for (int i = 0; i < N; ++i)
        for (int ch = 0; ch < C; ++ch)
            for (size_t e = 0; e < px; ++e) {
                const size_t x = ((size_t)i * C + ch) * px + e;
                truth[x] = (float)(sin(6.283185307179586 * (double)(e % W) / W + ch) +
                                   cos(6.283185307179586 * (double)(e / W) / H + i));
            }
    for (size_t k = 0; k < (size_t)N * px; ++k) mask[k] = uniform() < 0.3;
    for (int i = 0; i < N; ++i)
        for (int ch = 0; ch < C; ++ch)
            for (size_t e = 0; e < px; ++e) {
                const size_t x = ((size_t)i * C + ch) * px + e;
                obs[x] = mask[(size_t)i * px + e] ? truth[x] : 0.0f;
                pred[x] = 0.0f; /* a network that knows nothing */
            }
    double err_free = 0.0, err_wrap = 0.0, err_pred = 0.0;
    for (int wrap = 0; wrap < 2; ++wrap) {
        dfl_spline_toward(be, N, C, H, W, 1, obs, mask, pred, wrap, wrap, toward);
        double sq = 0.0;
        for (int i = 0; i < N; ++i)
            for (int ch = 0; ch < C; ++ch)
                for (size_t e = 0; e < px; ++e) {
                    const size_t x = ((size_t)i * C + ch) * px + e;
                    if (mask[(size_t)i * px + e]) continue;
                    const double d = (double)pred[x] + toward[x] - truth[x];
                    sq += d * d;
                    if (!wrap) err_pred += (double)truth[x] * truth[x];
                }
        *(wrap ? &err_wrap : &err_free) = sq;
    }
    CHECK_MSG(err_wrap < 0.01 * err_pred && err_wrap < 0.5 * err_free,
              "periodic: squared error %g wrapped, %g with free borders, %g of the start", err_wrap, err_free,
              err_pred);

    /* the correction of pred and members */
    float *members = malloc((size_t)K * all * sizeof(float)), *before = malloc(all * sizeof(float));
    for (int i = 0; i < N; ++i)
        for (int ch = 0; ch < C; ++ch)
            for (size_t e = 0; e < px; ++e) {
                double mean = 0.0;
                for (int k = 0; k < K; ++k) {
                    float *m = &members[(((size_t)i * K + k) * C + ch) * px + e];
                    *m = (float)(uniform() - 0.5);
                    mean += *m;
                }
                pred[((size_t)i * C + ch) * px + e] = (float)(mean / K);
            }
    memcpy(before, pred, all * sizeof(float));
    const double weight[C] = {0.25, 1.0};
    dfl_spline_correct(weight, N, K, C, px, toward, pred, members);
    double worst_pred = 0.0, worst_mean = 0.0;
    for (int i = 0; i < N; ++i)
        for (int ch = 0; ch < C; ++ch)
            for (size_t e = 0; e < px; ++e) {
                const size_t x = ((size_t)i * C + ch) * px + e;
                worst_pred = fmax(worst_pred, fabs(pred[x] - (before[x] + weight[ch] * toward[x])));
                double mean = 0.0;
                for (int k = 0; k < K; ++k) mean += members[(((size_t)i * K + k) * C + ch) * px + e];
                worst_mean = fmax(worst_mean, fabs(mean / K - pred[x]));
            }
    CHECK_MSG(worst_pred < 1e-6 && worst_mean < 1e-5, "correct: pred off by %g, members' mean by %g", worst_pred,
              worst_mean);

    free(truth), free(obs), free(pred), free(toward), free(mask), free(members), free(before);
    dfl_backend_destroy(be);
    return dfl_test_finish("spline_correction");
}
