/* Error metrics (host/eval/eval_metrics.h). */
#include "eval_metrics.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "shared/philox.h"

dfl_status dfl_eval_lat_weights(int h, const double *lat_deg, const char *what, double *weights) {
    double sum = 0.0;
    for (int j = 0; j < h; ++j) {
        const double lat = lat_deg[j];
        if (!isfinite(lat) || lat < -90.0 || lat > 90.0)
            return dfl_fail(DFL_EUSAGE, "%s: latitude %g of row %d is outside [-90, 90] degrees", what, lat, j);
        /* cos(±90°) is ~6e-17 in floating point: clamp to an exact 0. */
        weights[j] = fabs(lat) == 90.0 ? 0.0 : cos(lat * (M_PI / 180.0));
        sum += weights[j];
    }
    if (!(sum > 0.0)) return dfl_fail(DFL_EUSAGE, "%s: every row lies on a pole, latitude weights are all 0", what);
    const double mean = sum / h;
    for (int j = 0; j < h; ++j) weights[j] /= mean;
    return DFL_OK;
}

void dfl_eval_accumulate(int n, int c, int h, int w, int mask_channels, const float *pred, const float *truth,
                         const unsigned char *mask, const double *row_weight, dfl_eval_sums *per_channel) {
    const size_t plane = (size_t)h * (size_t)w;
    for (int s = 0; s < n; ++s)
        for (int ch = 0; ch < c; ++ch) {
            const size_t off = ((size_t)s * c + ch) * plane;
            const float *p = pred + off, *t = truth + off;
            const unsigned char *m = mask + ((size_t)s * mask_channels + (mask_channels == 1 ? 0 : ch)) * plane;
            dfl_eval_sums acc;
            memset(&acc, 0, sizeof acc);
            for (int y = 0; y < h; ++y) {
                double sse_m = 0.0, sse_a = 0.0;
                long long n_m = 0, n_a = 0;
                for (int x = 0; x < w; ++x) {
                    const size_t i = (size_t)y * w + x;
                    const double e = (double)p[i] - (double)t[i];
                    if (!isfinite(e)) {
                        ++acc.nonfinite;
                        continue;
                    }
                    const double e2 = e * e;
                    sse_a += e2;
                    ++n_a;
                    if (!m[i]) {
                        sse_m += e2;
                        ++n_m;
                    }
                }
                acc.sse_all += sse_a;
                acc.sse_missing += sse_m;
                acc.n_all += n_a;
                acc.n_missing += n_m;
                if (row_weight) {
                    const double wt = row_weight[y];
                    acc.wsse_all += wt * sse_a;
                    acc.wsum_all += wt * (double)n_a;
                    acc.wsse_missing += wt * sse_m;
                    acc.wsum_missing += wt * (double)n_m;
                }
            }
            dfl_eval_sums_add(&per_channel[ch], &acc);
        }
}

double dfl_eval_crps_gaussian(double y, double mu, double sigma) {
    if (!(sigma > 0.0)) return fabs(y - mu);
    const double z = (y - mu) / sigma;
    const double cdf = 0.5 * erfc(-z / M_SQRT2), pdf = exp(-0.5 * z * z) / sqrt(2.0 * M_PI);
    return sigma * (z * (2.0 * cdf - 1.0) + 2.0 * pdf - 1.0 / sqrt(M_PI));
}

void dfl_eval_accumulate_std(int n, int c, int h, int w, int mask_channels, const float *pred, const float *truth,
                             const float *std, const unsigned char *mask, dfl_eval_sums *per_channel) {
    const size_t plane = (size_t)h * (size_t)w;
    for (int s = 0; s < n; ++s)
        for (int ch = 0; ch < c; ++ch) {
            const size_t off = ((size_t)s * c + ch) * plane;
            const unsigned char *m = mask + ((size_t)s * mask_channels + (mask_channels == 1 ? 0 : ch)) * plane;
            dfl_eval_sums *acc = &per_channel[ch];
            for (size_t i = 0; i < plane; ++i) {
                const double mu = pred[off + i], y = truth[off + i], sd = std[off + i];
                if (m[i] || !isfinite(mu - y) || !isfinite(sd)) continue;
                const double e = fabs(mu - y);
                acc->n_std++;
                acc->sse_std += e * e;
                acc->ssq_std += sd * sd;
                acc->crps += dfl_eval_crps_gaussian(y, mu, sd);
                acc->in1 += e <= sd;
                acc->in2 += e <= 2.0 * sd;
            }
        }
}

static int compare_doubles(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void dfl_eval_crps_ensemble(double y, double *x, int k, double *crps, double *fair) {
    DFL_ASSERT(k >= 1);
    if (k <= 32) { /* the usual ensemble sizes: insertion sort, no call per comparison */
        for (int i = 1; i < k; ++i) {
            const double v = x[i];
            int j = i;
            for (; j > 0 && x[j - 1] > v; --j) x[j] = x[j - 1];
            x[j] = v;
        }
    } else {
        qsort(x, (size_t)k, sizeof *x, compare_doubles);
    }
    /* over the sorted members x_(0) <= ... <= x_(k-1), member i is larger than i others and
     * smaller than k-1-i: Σ_{i,j} |x_i − x_j| = 2 Σ_i (2i − k + 1) x_(i) */
    double abs_err = 0.0, pairs = 0.0;
    for (int i = 0; i < k; ++i) {
        abs_err += fabs(x[i] - y);
        pairs += (double)(2 * i - k + 1) * x[i];
    }
    pairs *= 2.0;
    const double kk = (double)k;
    *crps = abs_err / kk - pairs / (2.0 * kk * kk);
    if (fair) *fair = k > 1 ? abs_err / kk - pairs / (2.0 * kk * (kk - 1.0)) : NAN;
}

void dfl_eval_accumulate_members(int n, int k, int c, int h, int w, int mask_channels, const float *members,
                                 const float *truth, const unsigned char *mask, double *scratch,
                                 dfl_eval_sums *per_channel) {
    const size_t plane = (size_t)h * (size_t)w, per_sample = (size_t)c * plane;
    for (int s = 0; s < n; ++s)
        for (int ch = 0; ch < c; ++ch) {
            const unsigned char *m = mask + ((size_t)s * mask_channels + (mask_channels == 1 ? 0 : ch)) * plane;
            const float *t = truth + (size_t)s * per_sample + (size_t)ch * plane;
            /* member j of sample s, channel ch */
            const float *first = members + (size_t)s * k * per_sample + (size_t)ch * plane;
            dfl_eval_sums *acc = &per_channel[ch];
            for (size_t i = 0; i < plane; ++i) {
                if (m[i] || !isfinite(t[i])) continue;
                int finite = 1;
                for (int j = 0; j < k; ++j) {
                    scratch[j] = first[(size_t)j * per_sample + i];
                    finite &= isfinite(scratch[j]) != 0;
                }
                if (!finite) continue;
                double crps, fair;
                dfl_eval_crps_ensemble(t[i], scratch, k, &crps, &fair);
                acc->n_members++;
                acc->crps_members += crps;
                acc->crps_members_fair += fair;
            }
        }
}

void dfl_eval_sums_add(dfl_eval_sums *into, const dfl_eval_sums *s) {
    into->sse_missing += s->sse_missing;
    into->sse_all += s->sse_all;
    into->n_missing += s->n_missing;
    into->n_all += s->n_all;
    into->wsse_missing += s->wsse_missing;
    into->wsse_all += s->wsse_all;
    into->wsum_missing += s->wsum_missing;
    into->wsum_all += s->wsum_all;
    into->nonfinite += s->nonfinite;
    into->n_std += s->n_std;
    into->sse_std += s->sse_std;
    into->ssq_std += s->ssq_std;
    into->crps += s->crps;
    into->in1 += s->in1;
    into->in2 += s->in2;
    into->n_members += s->n_members;
    into->crps_members += s->crps_members;
    into->crps_members_fair += s->crps_members_fair;
}

static double ratio(double num, double den) { return den > 0.0 ? num / den : NAN; }

void dfl_eval_spread_skill_bootstrap(const double *sse_sample, const double *ssq_sample, int64_t samples, int64_t run,
                                     double *p05, double *p95) {
    *p05 = *p95 = NAN;
    if (run < 1) run = 1;
    const int64_t n = (samples + run - 1) / run; /* runs, each drawn whole */
    if (n < 2) return;
    double *sse = dfl_xcalloc((size_t)n, sizeof *sse), *ssq = dfl_xcalloc((size_t)n, sizeof *ssq);
    for (int64_t i = 0; i < samples; ++i) sse[i / run] += sse_sample[i], ssq[i / run] += ssq_sample[i];
    double *r = dfl_xmalloc(DFL_EVAL_BOOTSTRAP_ROUNDS * sizeof *r);
    int valid = 0;
    for (uint32_t b = 0; b < DFL_EVAL_BOOTSTRAP_ROUNDS; ++b) {
        const uint64_t stream = dfl_rng_stream(DFL_RNG_PURPOSE_EVAL_BOOTSTRAP, b, 0);
        double e = 0.0, q = 0.0;
        dfl_philox_u4 bits = {{0, 0, 0, 0}};
        for (int64_t i = 0; i < n; ++i) {
            if (i % 4 == 0) bits = dfl_rng_bits(0, stream, (uint64_t)(i / 4));
            const int64_t j = (int64_t)(((uint64_t)bits.v[i % 4] * (uint64_t)n) >> 32); /* uniform in [0, n) */
            e += sse[j], q += ssq[j];
        }
        if (e > 0.0) r[valid++] = sqrt(q / e);
    }
    if (valid >= 2) {
        qsort(r, (size_t)valid, sizeof *r, compare_doubles);
        *p05 = r[(size_t)floor(0.05 * (valid - 1) + 0.5)];
        *p95 = r[(size_t)floor(0.95 * (valid - 1) + 0.5)];
    }
    free(r);
    free(ssq);
    free(sse);
}

dfl_eval_scores dfl_eval_scores_of(const dfl_eval_sums *s, int weighted) {
    dfl_eval_scores r;
    r.n_missing = s->n_missing;
    r.n_all = s->n_all;
    r.mse_missing = ratio(s->sse_missing, (double)s->n_missing);
    r.mse_all = ratio(s->sse_all, (double)s->n_all);
    r.rmse_missing = sqrt(r.mse_missing);
    r.rmse_all = sqrt(r.mse_all);
    r.lat_rmse_missing = weighted ? sqrt(ratio(s->wsse_missing, s->wsum_missing)) : NAN;
    r.lat_rmse_all = weighted ? sqrt(ratio(s->wsse_all, s->wsum_all)) : NAN;
    const double nstd = (double)s->n_std;
    r.crps_missing = ratio(s->crps, nstd);
    r.spread_skill_missing = sqrt(ratio(s->ssq_std, s->sse_std));
    r.cover1_missing = ratio((double)s->in1, nstd);
    r.cover2_missing = ratio((double)s->in2, nstd);
    r.crps_ensemble_missing = ratio(s->crps_members, (double)s->n_members);
    r.crps_ensemble_fair_missing = ratio(s->crps_members_fair, (double)s->n_members); /* NaN sums for K = 1 */
    r.spread_skill_p05_missing = r.spread_skill_p95_missing = r.largest_sample_share_missing = NAN;
    return r;
}
