/* The spline correction of an imputation (include/dynfill/infer.h,
 * docs/design.md, "Spline correction"):
 *   - dfl_spline_weights_fit: errors that are exactly -(a d2 + b d3) give a
 *     and b inside the triangle a, b >= 0, a + b <= 1; outside it the best
 *     point of its border (the edge a + b = 1, a clamped single weight);
 *     steps that only add error give 0; entries of weight 0 do not count;
 *     no step at all gives 0;
 *   - dfl_spline_toward: on an affine field with free borders (no bending
 *     energy) S2 is the field itself, whatever the start; on a quadratic
 *     field S3 is (no third differences) and S2 is not; 0 on the observed
 *     entries; two channels under one mask, and a mask per channel;
 *   - on a periodic field the solve wraps: a field smooth across the seam
 *     is recovered better than with free borders;
 *   - solved one sample per backend call (a small chunk_bytes), the same
 *     floats as in one call; dfl_spline_toward_bytes counts per sample;
 *   - dfl_spline_correct moves pred and every member by a (S2 - P) +
 *     b (S3 - P), so the members' mean stays pred. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dfl_test.h"
#include "dynfill/backend.h"
#include "dynfill/infer.h"

enum { H = 24, W = 30, C = 2, N = 2, K = 3 };

/* a device backend's memory report (its presence is what counts here) */
static void fake_memory_info(dfl_backend *be, size_t *free_bytes, size_t *total_bytes) {
    (void)be;
    *free_bytes = *total_bytes = (size_t)1 << 30;
}

/* One mask for both channels, observed with the given density (mask
 * [N, 1, H, W]); obs the truth there, 0 elsewhere; pred the truth plus a
 * uniform error of width `error` (error < 0: pred 0, a network that knows
 * nothing). */
static void observe(const float *truth, double density, double error, uint8_t *mask, float *obs, float *pred) {
    const size_t px = (size_t)H * W;
    for (size_t k = 0; k < (size_t)N * px; ++k) mask[k] = dfl_test_uniform() < density;
    for (int i = 0; i < N; ++i)
        for (int ch = 0; ch < C; ++ch)
            for (size_t e = 0; e < px; ++e) {
                const size_t x = ((size_t)i * C + ch) * px + e;
                obs[x] = mask[(size_t)i * px + e] ? truth[x] : 0.0f;
                pred[x] = error < 0.0 ? 0.0f : truth[x] + (float)(error * (dfl_test_uniform() - 0.5));
            }
}

int main(void) {
    dfl_test_seed(0x2545F4914F6CDD1Dull);
    /* the weight fit */
    enum { M = 400 };
    float err[M], d2[M], d3[M], wt[M];
    double a, b;
    for (int k = 0; k < M; ++k)
        d2[k] = (float)(dfl_test_uniform() - 0.5), d3[k] = (float)(dfl_test_uniform() - 0.5), wt[k] = 1.0f;
    for (int k = 0; k < M; ++k) err[k] = -0.3f * d2[k];
    dfl_spline_weights_fit(err, d2, NULL, NULL, M, &a, &b);
    CHECK_MSG(fabs(a - 0.3) < 1e-6 && b == 0.0, "one step: %g %g", a, b);
    for (int k = 0; k < M; ++k) err[k] = -(0.2f * d2[k] + 0.5f * d3[k]);
    dfl_spline_weights_fit(err, d2, d3, wt, M, &a, &b);
    CHECK_MSG(fabs(a - 0.2) < 1e-5 && fabs(b - 0.5) < 1e-5, "inside: %g %g", a, b);
    for (int k = 0; k < M; ++k) err[k] = -(0.9f * d2[k] + 0.9f * d3[k]); /* beyond a + b = 1 */
    dfl_spline_weights_fit(err, d2, d3, wt, M, &a, &b);
    CHECK_MSG(fabs(a + b - 1.0) < 1e-9 && fabs(a - 0.5) < 0.1, "edge a + b = 1: %g %g", a, b);
    for (int k = 0; k < M; ++k) err[k] = -(-0.5f * d2[k] + 0.4f * d3[k]); /* a < 0: the edge a = 0 */
    dfl_spline_weights_fit(err, d2, d3, wt, M, &a, &b);
    CHECK_MSG(a == 0.0 && fabs(b - 0.4) < 0.05, "edge a = 0: %g %g", a, b);
    for (int k = 0; k < M; ++k) err[k] = d2[k] + d3[k]; /* steps that only add error */
    dfl_spline_weights_fit(err, d2, d3, wt, M, &a, &b);
    CHECK_MSG(a == 0.0 && b == 0.0, "adding error: %g %g", a, b);
    for (int k = 0; k < M; ++k) { /* half the entries say 0.3, the other half (weight 0) say 0.9 */
        err[k] = (k % 2 ? -0.9f : -0.3f) * d2[k];
        wt[k] = k % 2 ? 0.0f : 2.0f;
    }
    dfl_spline_weights_fit(err, d2, NULL, wt, M, &a, &b);
    CHECK_MSG(fabs(a - 0.3) < 1e-6, "weights: %g", a);
    memset(d2, 0, sizeof d2);
    memset(d3, 0, sizeof d3);
    dfl_spline_weights_fit(err, d2, d3, NULL, M, &a, &b);
    CHECK(a == 0.0 && b == 0.0);

    /* the step to the spline on affine fields, free borders */
    dfl_backend *be = dfl_backend_cpu_create(1);
    const size_t px = (size_t)H * W, all = (size_t)N * C * px;
    float *truth = malloc(all * sizeof(float)), *obs = malloc(all * sizeof(float));
    float *pred = malloc(all * sizeof(float)), *toward = malloc(all * sizeof(float));
    float *toward3 = malloc(all * sizeof(float));
    uint8_t *mask = malloc((size_t)N * C * px);
    for (int i = 0; i < N; ++i)
        for (int ch = 0; ch < C; ++ch) {
            const double a = dfl_test_uniform(), bx = dfl_test_uniform() - 0.5, by = dfl_test_uniform() - 0.5;
            for (size_t e = 0; e < px; ++e)
                truth[((size_t)i * C + ch) * px + e] = (float)(a + 0.1 * (bx * (double)(e % W) + by * (double)(e / W)));
        }
    for (int per_channel = 0; per_channel < 2; ++per_channel) {
        const int mc = per_channel ? C : 1;
        for (size_t k = 0; k < (size_t)N * mc * px; ++k) mask[k] = dfl_test_uniform() < 0.5;
        for (int i = 0; i < N; ++i)
            for (int ch = 0; ch < C; ++ch)
                for (size_t e = 0; e < px; ++e) {
                    const size_t x = ((size_t)i * C + ch) * px + e;
                    const int m = mask[((size_t)i * mc + (mc == 1 ? 0 : ch)) * px + e];
                    obs[x] = m ? truth[x] : 0.0f;
                    pred[x] = truth[x] + (float)(0.5 * (dfl_test_uniform() - 0.5)); /* a network's error */
                }
        dfl_spline_toward(be, N, C, H, W, mc, obs, mask, pred, 0, 0, 0, toward, toward3);
        double worst = 0.0, observed_step = 0.0;
        for (int i = 0; i < N; ++i)
            for (int ch = 0; ch < C; ++ch)
                for (size_t e = 0; e < px; ++e) {
                    const size_t x = ((size_t)i * C + ch) * px + e;
                    if (mask[((size_t)i * mc + (mc == 1 ? 0 : ch)) * px + e])
                        observed_step = fmax(observed_step, fabs(toward[x]) + fabs(toward3[x]));
                    else
                        worst = fmax(worst, fmax(fabs((double)pred[x] + toward[x] - truth[x]),
                                                 fabs((double)pred[x] + toward3[x] - truth[x])));
                }
        CHECK_MSG(worst < 2e-3, "affine, mask channels %d: S2 or S3 is off the field by %g", mc, worst);
        CHECK(observed_step == 0.0);
    }

    /* a quadratic field, free borders: S3 reproduces it, S2 does not */
    for (int i = 0; i < N; ++i)
        for (int ch = 0; ch < C; ++ch) {
            const double q1 = dfl_test_uniform() - 0.5, q2 = dfl_test_uniform() - 0.5, q3 = dfl_test_uniform() - 0.5;
            for (size_t e = 0; e < px; ++e) {
                const double x = (double)(e % W) / W, y = (double)(e / W) / H;
                const size_t k = ((size_t)i * C + ch) * px + e;
                truth[k] = (float)(q1 * x * x + q2 * x * y + q3 * y * y + 0.1 * x);
            }
        }
    observe(truth, 0.5, 0.2, mask, obs, pred);
    dfl_spline_toward(be, N, C, H, W, 1, obs, mask, pred, 0, 0, 0, toward, toward3);
    double worst2 = 0.0, worst3 = 0.0;
    for (int i = 0; i < N; ++i)
        for (int ch = 0; ch < C; ++ch)
            for (size_t e = 0; e < px; ++e) {
                const size_t x = ((size_t)i * C + ch) * px + e;
                if (mask[(size_t)i * px + e]) continue;
                worst2 = fmax(worst2, fabs((double)pred[x] + toward[x] - truth[x]));
                worst3 = fmax(worst3, fabs((double)pred[x] + toward3[x] - truth[x]));
            }
    CHECK_MSG(worst3 < 2e-4 && worst2 > 10.0 * worst3, "quadratic: S3 off by %g, S2 by %g", worst3, worst2);

    /* a periodic field: wrapping the solve knows the seam */
    for (int i = 0; i < N; ++i)
        for (int ch = 0; ch < C; ++ch)
            for (size_t e = 0; e < px; ++e) {
                const size_t x = ((size_t)i * C + ch) * px + e;
                truth[x] = (float)(sin(6.283185307179586 * (double)(e % W) / W + ch) +
                                   cos(6.283185307179586 * (double)(e / W) / H + i));
            }
    observe(truth, 0.3, -1.0, mask, obs, pred); /* a network that knows nothing */
    double err_free = 0.0, err_wrap = 0.0, err_pred = 0.0, err3_free = 0.0, err3_wrap = 0.0;
    for (int wrap = 0; wrap < 2; ++wrap) {
        dfl_spline_toward(be, N, C, H, W, 1, obs, mask, pred, wrap, wrap, 0, toward, toward3);
        double sq = 0.0, sq3 = 0.0;
        for (int i = 0; i < N; ++i)
            for (int ch = 0; ch < C; ++ch)
                for (size_t e = 0; e < px; ++e) {
                    const size_t x = ((size_t)i * C + ch) * px + e;
                    if (mask[(size_t)i * px + e]) continue;
                    const double d = (double)pred[x] + toward[x] - truth[x];
                    const double d3 = (double)pred[x] + toward3[x] - truth[x];
                    sq += d * d;
                    sq3 += d3 * d3;
                    if (!wrap) err_pred += (double)truth[x] * truth[x];
                }
        *(wrap ? &err_wrap : &err_free) = sq;
        *(wrap ? &err3_wrap : &err3_free) = sq3;
    }
    CHECK_MSG(err3_wrap < 0.01 * err_pred && err3_wrap < 0.5 * err3_free,
              "periodic, order 3: squared error %g wrapped, %g with free borders", err3_wrap, err3_free);
    CHECK_MSG(err_wrap < 0.01 * err_pred && err_wrap < 0.5 * err_free,
              "periodic: squared error %g wrapped, %g with free borders, %g of the start", err_wrap, err_free,
              err_pred);

    /* the solves' memory: per sample; on the CPU backend all of it in the plan, on a device (a backend
     * with memory_info) the staging copy of 3 fields per channel on the host besides */
    {
        size_t one = 0, host_one = 0, both = 0, host_both = 0, dev_both = 0, staging = 0;
        dfl_spline_toward_bytes(be, 1, C, H, W, &one, &host_one);
        dfl_spline_toward_bytes(be, N, C, H, W, &both, &host_both);
        CHECK_MSG(both == N * one && host_one == 0 && host_both == 0,
                  "CPU solve bytes: %zu for %d samples, %zu for one; host besides %zu", both, N, one, host_both);
        be->memory_info = fake_memory_info;
        dfl_spline_toward_bytes(be, N, C, H, W, &dev_both, &staging);
        be->memory_info = NULL;
        CHECK_MSG(staging == N * (size_t)3 * C * px * sizeof(float) && dev_both + staging == both,
                  "device solve bytes %zu, staging %zu (CPU plan %zu)", dev_both, staging, both);
    }
    /* in calls of one sample each (chunk_bytes below one sample's solve: at least one): the same floats */
    {
        float *whole = malloc(all * sizeof(float)), *whole3 = malloc(all * sizeof(float));
        dfl_spline_toward(be, N, C, H, W, 1, obs, mask, pred, 1, 1, 0, whole, whole3);
        dfl_spline_toward(be, N, C, H, W, 1, obs, mask, pred, 1, 1, 1, toward, toward3);
        size_t differ = 0;
        for (size_t k = 0; k < all; ++k) differ += whole[k] != toward[k] || whole3[k] != toward3[k];
        CHECK_MSG(differ == 0, "one sample per call: %zu of %zu entries differ from one call", differ, all);
        free(whole);
        free(whole3);
    }

    /* the correction of pred and members */
    float *members = malloc((size_t)K * all * sizeof(float)), *before = malloc(all * sizeof(float));
    for (int i = 0; i < N; ++i)
        for (int ch = 0; ch < C; ++ch)
            for (size_t e = 0; e < px; ++e) {
                double mean = 0.0;
                for (int k = 0; k < K; ++k) {
                    float *m = &members[(((size_t)i * K + k) * C + ch) * px + e];
                    *m = (float)(dfl_test_uniform() - 0.5);
                    mean += *m;
                }
                pred[((size_t)i * C + ch) * px + e] = (float)(mean / K);
            }
    memcpy(before, pred, all * sizeof(float));
    for (size_t k = 0; k < all; ++k) toward3[k] = (float)(dfl_test_uniform() - 0.5);
    const double weight[C] = {0.25, 0.0}, weight3[C] = {0.5, 1.0};
    dfl_spline_correct(weight, weight3, N, K, C, px, toward, toward3, pred, members);
    double worst_pred = 0.0, worst_mean = 0.0;
    for (int i = 0; i < N; ++i)
        for (int ch = 0; ch < C; ++ch)
            for (size_t e = 0; e < px; ++e) {
                const size_t x = ((size_t)i * C + ch) * px + e;
                worst_pred =
                    fmax(worst_pred, fabs(pred[x] - (before[x] + weight[ch] * toward[x] + weight3[ch] * toward3[x])));
                double mean = 0.0;
                for (int k = 0; k < K; ++k) mean += members[(((size_t)i * K + k) * C + ch) * px + e];
                worst_mean = fmax(worst_mean, fabs(mean / K - pred[x]));
            }
    CHECK_MSG(worst_pred < 1e-6 && worst_mean < 1e-5, "correct: pred off by %g, members' mean by %g", worst_pred,
              worst_mean);

    free(truth), free(obs), free(pred), free(toward), free(toward3), free(mask), free(members), free(before);
    dfl_backend_destroy(be);
    return dfl_test_finish("spline_correction");
}
