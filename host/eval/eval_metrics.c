/* Error metrics (host/eval/eval_metrics.h). */
#include "eval_metrics.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

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
}

static double ratio(double num, double den) { return den > 0.0 ? num / den : NAN; }

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
    return r;
}
