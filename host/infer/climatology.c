/* The training data's mean field (include/dynfill/climatology.h): one pass
 * over samples spread over the training split (dfl_sample_spread), per-entry sums of the
 * observed values (each half of the samples apart, for the cross-validation
 * of its smoothing and of the choice of `auto`), harmonic filling where a
 * pixel is observed too rarely, and the spread of the observed entries
 * about the field. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dynfill/baseline.h"
#include "dynfill/infer.h"

/* Per-entry sums of one channel plane over the samples read, each half apart. */
typedef struct {
    double *sum[2];        /* sum of the normalised observed values */
    double *offset_sum[2]; /* sum, over the samples observing the entry, of the sample's own observed mean */
    double *sum_sq;        /* sum of the squares of the values, both halves */
    int32_t *count[2];
    double within_sq[2]; /* sum over the observed entries of (value - its sample's observed mean)^2 */
} plane_sums;

_Static_assert(5 * sizeof(double) + 2 * sizeof(int32_t) == DFL_CLIMATOLOGY_ESTIMATE_BYTES_PER_ENTRY,
               "plane_sums' per-entry arrays are what the dry run's plan counts");

/* Gaussian widths (std in pixels) the smoothing is chosen from; 0: none. */
static const double smooth_widths[] = {0.0, 0.5, 1.0, 2.0, 4.0};
#define N_SMOOTH_WIDTHS (int)(sizeof smooth_widths / sizeof smooth_widths[0])

/* One axis of a separable Gaussian of std s (taps to 3 s) over n lines of len entries, stride step between
 * neighbours and line_step between lines; periodic: the axis wraps, else taps past the end are left out. */
static void blur_axis(const double *in, double *out, int n, int len, size_t step, size_t line_step, double s,
                      int periodic) {
    const int r = (int)ceil(3.0 * s);
    double *tap = dfl_xmalloc((size_t)(2 * r + 1) * sizeof(double));
    for (int d = -r; d <= r; ++d) tap[d + r] = exp(-0.5 * d * d / (s * s));
    for (int l = 0; l < n; ++l) {
        const double *a = in + (size_t)l * line_step;
        double *b = out + (size_t)l * line_step;
        for (int i = 0; i < len; ++i) {
            double acc = 0;
            for (int d = -r; d <= r; ++d) {
                int j = i + d;
                if (j < 0 || j >= len) {
                    if (!periodic) continue;
                    j = ((j % len) + len) % len;
                }
                acc += tap[d + r] * a[(size_t)j * step];
            }
            b[(size_t)i * step] = acc;
        }
    }
    free(tap);
}

/* Normalised Gaussian smoothing of an h x w plane: out = G*(v k) / G*(k) with k the weight (1: known, 0:
 * not), so gaps and borders do not pull the field towards 0; out = 0 where no known pixel lies within 3 s.
 * s = 0: out = v where known, else 0. */
static void smooth_known(const double *v, const unsigned char *known, int h, int w, int periodic_x, int periodic_y,
                         double s, double *out) {
    const size_t px = (size_t)h * (size_t)w;
    if (s <= 0) {
        for (size_t p = 0; p < px; ++p) out[p] = known[p] ? v[p] : 0.0;
        return;
    }
    double *num = dfl_xmalloc(px * sizeof(double)), *den = dfl_xmalloc(px * sizeof(double));
    double *tmp = dfl_xmalloc(px * sizeof(double));
    for (size_t p = 0; p < px; ++p) num[p] = known[p] ? v[p] : 0.0, den[p] = known[p];
    blur_axis(num, tmp, h, w, 1, (size_t)w, s, periodic_x);
    blur_axis(tmp, num, w, h, (size_t)w, 1, s, periodic_y);
    blur_axis(den, tmp, h, w, 1, (size_t)w, s, periodic_x);
    blur_axis(tmp, den, w, h, (size_t)w, 1, s, periodic_y);
    for (size_t p = 0; p < px; ++p) out[p] = den[p] > 1e-9 ? num[p] / den[p] : 0.0;
    free(num);
    free(den);
    free(tmp);
}

/* Choose the smoothing width and gain of a channel's field by cross-validation between the halves: each
 * half's field, centred and smoothed, times a gain, predicts the other half's observed values less their
 * sample's own mean (what a field can tell inside one sample). The gain is the least-squares one over both
 * directions (at least 0); the width the one that leaves the least squared error. Returns the share of the
 * halves' within-sample variance the chosen field explains held out (NaN: a half observes no pixel
 * DFL_CLIMATOLOGY_MIN_COUNT times or has no variance). */
static double choose_smoothing(const plane_sums *s, int h, int w, int periodic_x, int periodic_y, double *width,
                               double *gain) {
    const size_t px = (size_t)h * (size_t)w;
    *width = 0;
    *gain = 1;
    const double within = s->within_sq[0] + s->within_sq[1];
    double *centred[2], *smoothed = dfl_xmalloc(px * sizeof(double));
    unsigned char *known[2];
    int ok = within > 0;
    for (int k = 0; k < 2; ++k) {
        centred[k] = dfl_xmalloc(px * sizeof(double));
        known[k] = dfl_xmalloc(px);
        double total = 0, n = 0;
        size_t n_known = 0;
        for (size_t p = 0; p < px; ++p) total += s->sum[k][p], n += s->count[k][p];
        const double mu = n > 0 ? total / n : 0.0;
        for (size_t p = 0; p < px; ++p) {
            known[k][p] = s->count[k][p] >= DFL_CLIMATOLOGY_MIN_COUNT;
            centred[k][p] = known[k][p] ? s->sum[k][p] / s->count[k][p] - mu : 0.0;
            n_known += known[k][p];
        }
        ok = ok && n_known > 0;
    }
    double best_explained = NAN;
    for (int i = 0; ok && i < N_SMOOTH_WIDTHS; ++i) {
        /* the squared error of gain * g_a against the other half, summed over its observed entries, is
         * within_b - 2 gain cross + gain^2 quad */
        double cross = 0, quad = 0;
        for (int a = 0; a < 2; ++a) {
            const int b = 1 - a;
            smooth_known(centred[a], known[a], h, w, periodic_x, periodic_y, smooth_widths[i], smoothed);
            for (size_t p = 0; p < px; ++p) {
                cross += smoothed[p] * (s->sum[b][p] - s->offset_sum[b][p]);
                quad += smoothed[p] * smoothed[p] * s->count[b][p];
            }
        }
        const double g = quad > 0 ? fmax(cross / quad, 0.0) : 0.0;
        const double explained = 1.0 - (within - 2.0 * g * cross + g * g * quad) / within;
        if (isnan(best_explained) || explained > best_explained) {
            best_explained = explained;
            *width = smooth_widths[i];
            *gain = g;
        }
    }
    for (int k = 0; k < 2; ++k) {
        free(centred[k]);
        free(known[k]);
    }
    free(smoothed);
    return best_explained;
}

/* The channel's mean field in normalised units into field: the per-pixel mean (harmonic fill where fewer
 * than DFL_CLIMATOLOGY_MIN_COUNT observations), smoothed by width and scaled about the channel's observed
 * mean by gain; and the variance of the observed entries about it. Returns 0 if no pixel is known. */
static int mean_field(const plane_sums *s, int h, int w, int periodic_x, int periodic_y, double width, double gain,
                      float *field, double *anomaly_var) {
    const size_t px = (size_t)h * (size_t)w;
    unsigned char *known = dfl_xmalloc(px);
    float *known_mean = dfl_xmalloc(px * sizeof(float));
    size_t n_known = 0;
    double total = 0, n_total = 0;
    for (size_t p = 0; p < px; ++p) {
        const int32_t n = s->count[0][p] + s->count[1][p];
        known[p] = n >= DFL_CLIMATOLOGY_MIN_COUNT;
        known_mean[p] = known[p] ? (float)((s->sum[0][p] + s->sum[1][p]) / n) : 0.0f;
        n_known += known[p];
        total += s->sum[0][p] + s->sum[1][p];
        n_total += n;
    }
    if (n_known) {
        if (n_known < px)
            dfl_baseline_harmonic(1, 1, h, w, 1, known_mean, known, periodic_x, periodic_y, field);
        else
            memcpy(field, known_mean, px * sizeof(float));
        const double mu = total / n_total;
        double *v = dfl_xmalloc(px * sizeof(double)), *smoothed = dfl_xmalloc(px * sizeof(double));
        memset(known, 1, px);
        for (size_t p = 0; p < px; ++p) v[p] = field[p];
        smooth_known(v, known, h, w, periodic_x, periodic_y, width, smoothed);
        for (size_t p = 0; p < px; ++p) field[p] = (float)(mu + gain * (smoothed[p] - mu));
        free(v);
        free(smoothed);
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

dfl_status dfl_climatology_estimate(const dfl_dataset *ds, int64_t start, int64_t count, const uint8_t *withheld,
                                    const char *mode, dfl_climatology *out) {
    memset(out, 0, sizeof *out);
    const dfl_dataset_info *in = dfl_dataset_get_info(ds);
    const int c = in->c, h = in->h, w = in->w, mc = in->mask_c;
    const size_t px = (size_t)h * (size_t)w;
    const int force = !strcmp(mode, "mean");
    /* samples read: one per equal stretch (dfl_sample_spread), capped in number and in bytes */
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
            sums[ch].offset_sum[k] = dfl_xcalloc(px, sizeof(double));
            sums[ch].count[k] = dfl_xcalloc(px, sizeof(int32_t));
        }
        sums[ch].sum_sq = dfl_xcalloc(px, sizeof(double));
    }
    float *obs = dfl_xmalloc(sample_bytes);
    uint8_t *mask = dfl_xmalloc((size_t)mc * px);
    dfl_status s = DFL_OK;
    for (int64_t i = 0; s == DFL_OK && i < n_read; ++i) {
        const int64_t idx = dfl_sample_spread(start, n_read, count, i);
        if ((s = dfl_dataset_read_samples(ds, idx, 1, obs, mask)) != DFL_OK) break;
        if (withheld) /* data.withhold_cells: what training does not read, the field does not hold either */
            for (size_t j = 0; j < (size_t)mc * px; ++j) mask[j] = mask[j] && !withheld[j % px];
        const int half = i >= n_read / 2; /* file order: for a time series, an earlier and a later period */
        for (int ch = 0; ch < c; ++ch) {
            const float *u = obs + (size_t)ch * px;
            const uint8_t *m = mask + (size_t)(mc == 1 ? 0 : ch) * px;
            plane_sums *ps = &sums[ch];
            double sample_sum = 0, sample_n = 0;
            for (size_t p = 0; p < px; ++p)
                if (m[p]) sample_sum += u[p], sample_n += 1;
            const double sample_mean = sample_n > 0 ? sample_sum / sample_n : 0.0;
            for (size_t p = 0; p < px; ++p)
                if (m[p]) {
                    ps->sum[half][p] += u[p];
                    ps->offset_sum[half][p] += sample_mean;
                    ps->sum_sq[p] += (double)u[p] * u[p];
                    ps->count[half][p] += 1;
                    ps->within_sq[half] += (u[p] - sample_mean) * (u[p] - sample_mean);
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
        out->explained = dfl_xmalloc((size_t)c * sizeof(double));
        out->smooth_width = dfl_xmalloc((size_t)c * sizeof(double));
        out->gain = dfl_xmalloc((size_t)c * sizeof(double));
        out->used = dfl_xcalloc((size_t)c, sizeof(int));
#pragma omp parallel for schedule(dynamic, 1)
        for (int ch = 0; ch < c; ++ch)
            out->explained[ch] = choose_smoothing(&sums[ch], h, w, in->periodic_x, in->periodic_y,
                                                  &out->smooth_width[ch], &out->gain[ch]);
        for (int ch = 0; ch < c; ++ch) {
            float *f = out->mean_field + (size_t)ch * px;
            double var = 0;
            const int wanted = force || out->explained[ch] >= DFL_CLIMATOLOGY_MIN_EXPLAINED;
            out->used[ch] = wanted && mean_field(&sums[ch], h, w, in->periodic_x, in->periodic_y, out->smooth_width[ch],
                                                 out->gain[ch], f, &var);
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
            free(sums[ch].offset_sum[k]);
            free(sums[ch].count[k]);
        }
        free(sums[ch].sum_sq);
    }
    free(sums);
    return s;
}

dfl_status dfl_ckpt_climatology_offsets(const dfl_ckpt_meta *meta, const char *ckpt, const char *fields, int c, int h,
                                        int w, float **offset) {
    *offset = NULL;
    if (!meta->climatology) return DFL_OK;
    if (meta->clim_h != h || meta->clim_w != w)
        return dfl_fail(DFL_EUSAGE,
                        "%s has %dx%d fields, and the model in %s works on anomalies from a %dx%d mean field "
                        "(/climatology, data.climatology)",
                        fields, h, w, ckpt, meta->clim_h, meta->clim_w);
    const size_t px = (size_t)h * w;
    *offset = dfl_xmalloc((size_t)c * px * sizeof(float));
    dfl_climatology_offsets(meta->climatology, c, px, meta->data_mean, meta->data_std, *offset);
    return DFL_OK;
}
