/* The training data's mean field (include/dynfill/climatology.h): one pass
 * over evenly spaced samples of the training split, per-entry sums of the
 * observed values (each half of the samples apart, for the agreement),
 * harmonic filling where a pixel is observed too rarely, and the spread of
 * the observed entries about the field. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dynfill/baseline.h"
#include "dynfill/infer.h"

/* Per-entry sums of one channel plane over the samples read, each half apart. */
typedef struct {
    double *sum[2]; /* sum of the normalised observed values */
    double *sum_sq; /* sum of their squares, both halves */
    int32_t *count[2];
} plane_sums;

/* Pearson correlation over pixels both halves observe DFL_CLIMATOLOGY_MIN_COUNT times; NaN below 16. */
static double halves_agreement(const plane_sums *s, size_t px) {
    double n = 0, ma = 0, mb = 0, saa = 0, sbb = 0, sab = 0;
    for (size_t p = 0; p < px; ++p) {
        if (s->count[0][p] < DFL_CLIMATOLOGY_MIN_COUNT || s->count[1][p] < DFL_CLIMATOLOGY_MIN_COUNT) continue;
        const double a = s->sum[0][p] / s->count[0][p], b = s->sum[1][p] / s->count[1][p];
        n += 1; /* Welford-style co-moments */
        const double da = a - ma, db = b - mb;
        ma += da / n;
        mb += db / n;
        saa += da * (a - ma);
        sbb += db * (b - mb);
        sab += da * (b - mb);
    }
    if (n < 16 || !(saa > 0) || !(sbb > 0)) return NAN;
    return sab / sqrt(saa * sbb);
}

/* The channel's mean field in normalised units (harmonic fill where fewer than DFL_CLIMATOLOGY_MIN_COUNT
 * observations) into field, and the variance of the observed entries about it; 0 if no pixel is known. */
static int mean_field(const plane_sums *s, int h, int w, int periodic_x, int periodic_y, float *field,
                      double *anomaly_var) {
    const size_t px = (size_t)h * (size_t)w;
    unsigned char *known = dfl_xmalloc(px);
    float *known_mean = dfl_xmalloc(px * sizeof(float));
    size_t n_known = 0;
    for (size_t p = 0; p < px; ++p) {
        const int32_t n = s->count[0][p] + s->count[1][p];
        known[p] = n >= DFL_CLIMATOLOGY_MIN_COUNT;
        known_mean[p] = known[p] ? (float)((s->sum[0][p] + s->sum[1][p]) / n) : 0.0f;
        n_known += known[p];
    }
    if (n_known) {
        if (n_known < px)
            dfl_baseline_harmonic(1, 1, h, w, 1, known_mean, known, periodic_x, periodic_y, field);
        else
            memcpy(field, known_mean, px * sizeof(float));
        /* sum over observed entries of (u - f)^2 = sum u^2 - 2 f sum u + n f^2 */
        double sq = 0, n_obs = 0;
        for (size_t p = 0; p < px; ++p) {
            const double f = field[p], n = (double)s->count[0][p] + s->count[1][p];
            sq += s->sum_sq[p] - 2.0 * f * (s->sum[0][p] + s->sum[1][p]) + n * f * f;
            n_obs += n;
        }
        *anomaly_var = n_obs > 0 ? fmax(sq / n_obs, 0.0) : 0.0;
    }
    free(known);
    free(known_mean);
    return n_known > 0;
}

dfl_status dfl_climatology_estimate(const dfl_dataset *ds, int64_t start, int64_t count, const char *mode,
                                    dfl_climatology *out) {
    memset(out, 0, sizeof *out);
    const dfl_dataset_info *in = dfl_dataset_get_info(ds);
    const int c = in->c, h = in->h, w = in->w, mc = in->mask_c;
    const size_t px = (size_t)h * (size_t)w;
    const int force = !strcmp(mode, "mean");
    /* samples read: evenly spaced, capped in number and in bytes */
    const size_t sample_bytes = (size_t)c * px * sizeof(float);
    int64_t n_read = count < DFL_CLIMATOLOGY_MAX_SAMPLES ? count : DFL_CLIMATOLOGY_MAX_SAMPLES;
    const int64_t by_bytes = (int64_t)(DFL_CLIMATOLOGY_MAX_BYTES / (sample_bytes ? sample_bytes : 1));
    const int64_t cap = by_bytes > DFL_CLIMATOLOGY_MIN_SAMPLES ? by_bytes : DFL_CLIMATOLOGY_MIN_SAMPLES;
    if (n_read > cap) n_read = cap;
    if (n_read < 1) return dfl_fail(DFL_EUSAGE, "%s: data.climatology needs at least one training sample", in->path);
    plane_sums *sums = dfl_xcalloc((size_t)c, sizeof *sums);
    for (int ch = 0; ch < c; ++ch) {
        for (int k = 0; k < 2; ++k) {
            sums[ch].sum[k] = dfl_xcalloc(px, sizeof(double));
            sums[ch].count[k] = dfl_xcalloc(px, sizeof(int32_t));
        }
        sums[ch].sum_sq = dfl_xcalloc(px, sizeof(double));
    }
    float *obs = dfl_xmalloc(sample_bytes);
    uint8_t *mask = dfl_xmalloc((size_t)mc * px);
    dfl_status s = DFL_OK;
    for (int64_t i = 0; s == DFL_OK && i < n_read; ++i) {
        const int64_t idx = start + i * count / n_read;
        if ((s = dfl_dataset_read_samples(ds, idx, 1, obs, mask)) != DFL_OK) break;
        const int half = i >= n_read / 2; /* file order: for a time series, an earlier and a later period */
        for (int ch = 0; ch < c; ++ch) {
            const float *u = obs + (size_t)ch * px;
            const uint8_t *m = mask + (size_t)(mc == 1 ? 0 : ch) * px;
            plane_sums *ps = &sums[ch];
            for (size_t p = 0; p < px; ++p)
                if (m[p]) {
                    ps->sum[half][p] += u[p];
                    ps->sum_sq[p] += (double)u[p] * u[p];
                    ps->count[half][p] += 1;
                }
        }
    }
    free(obs);
    free(mask);
    if (s == DFL_OK) {
        out->c = c;
        out->h = h;
        out->w = w;
        out->samples = n_read;
        out->mean_field = dfl_xmalloc((size_t)c * px * sizeof(float));
        out->anomaly_std = dfl_xmalloc((size_t)c * sizeof(double));
        out->agreement = dfl_xmalloc((size_t)c * sizeof(double));
        out->used = dfl_xcalloc((size_t)c, sizeof(int));
        for (int ch = 0; ch < c; ++ch) {
            float *f = out->mean_field + (size_t)ch * px;
            double var = 0;
            out->agreement[ch] = halves_agreement(&sums[ch], px);
            const int wanted = force || out->agreement[ch] >= DFL_CLIMATOLOGY_MIN_AGREEMENT;
            out->used[ch] = wanted && mean_field(&sums[ch], h, w, in->periodic_x, in->periodic_y, f, &var);
            if (out->used[ch]) {
                /* back to data units: x = mean + std u. A channel that is (nearly) its own mean field, such as
                 * a land-sea mask or the orography stored as a channel, keeps a scale of DFL_CLIMATOLOGY_MIN_SCALE
                 * of its std, so the float rounding of x - field is not blown up into the model's input */
                for (size_t p = 0; p < px; ++p) f[p] = (float)(in->mean[ch] + in->std[ch] * f[p]);
                out->anomaly_std[ch] = in->std[ch] * fmax(sqrt(var), DFL_CLIMATOLOGY_MIN_SCALE);
                out->any_used = 1;
            } else {
                for (size_t p = 0; p < px; ++p) f[p] = (float)in->mean[ch];
                out->anomaly_std[ch] = in->std[ch];
            }
        }
    }
    for (int ch = 0; ch < c; ++ch) {
        for (int k = 0; k < 2; ++k) {
            free(sums[ch].sum[k]);
            free(sums[ch].count[k]);
        }
        free(sums[ch].sum_sq);
    }
    free(sums);
    return s;
}
