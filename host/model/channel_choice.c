/* model.channels = auto from the data (model/channel_choice.h). */
#include "channel_choice.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "dynfill/status.h"

enum { FEATURES = 3 }; /* per channel: the value, its central difference along x, along y */

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Feature k of channel a at pixel (y, x) of sample s into *v; 0 where it cannot be formed (an entry it
 * needs is missing, or the difference would leave the field). */
static int feature(const float *obs, const uint8_t *masks, int64_t s, int c, int mc, int a, int h, int w, int y, int x,
                   int k, double *v) {
    const size_t plane = (size_t)h * (size_t)w;
    const float *o = obs + ((size_t)s * (size_t)c + (size_t)a) * plane;
    const uint8_t *m = masks + ((size_t)s * (size_t)mc + (size_t)(mc == 1 ? 0 : a)) * plane;
    const size_t i = (size_t)y * (size_t)w + (size_t)x;
    if (k == 0) {
        if (!m[i]) return 0;
        *v = o[i];
        return 1;
    }
    const size_t step = k == 1 ? 1 : (size_t)w;
    if (k == 1 ? x < 1 || x > w - 2 : y < 1 || y > h - 2) return 0;
    if (!m[i - step] || !m[i + step]) return 0;
    *v = (double)o[i + step] - (double)o[i - step];
    return 1;
}

dfl_channel_choice dfl_channels_choose(const float *obs, const uint8_t *masks, int64_t n, int c, int mc, int h, int w,
                                       int64_t stride) {
    dfl_channel_choice out = {.shared = 0, .channels = c};
    if (c < 2 || n < 1) return out;
    if (stride < 1) stride = 1;
    const int nf = FEATURES * c; /* feature f = channel f / FEATURES, kind f % FEATURES */
    const size_t plane = (size_t)h * (size_t)w, ff = (size_t)nf * (size_t)nf;
    /* per feature: mean over the entries where it is formed; per feature pair (f < g of different channels):
     * sums over the entries where both are */
    double *mean = dfl_xcalloc((size_t)nf, sizeof(double)), *count = dfl_xcalloc((size_t)nf, sizeof(double));
    double *sfg = dfl_xcalloc(ff, sizeof(double)), *sff = dfl_xcalloc(ff, sizeof(double));
    double *sgg = dfl_xcalloc(ff, sizeof(double)), *pairs = dfl_xcalloc(ff, sizeof(double));
    double *v = dfl_xmalloc(sizeof(double) * (size_t)nf);
    uint8_t *formed = dfl_xmalloc((size_t)nf);
    for (int pass = 0; pass < 2; ++pass) {
        for (int64_t s = 0; s < n; ++s)
            for (size_t p = 0; p < plane; p += (size_t)stride) {
                const int y = (int)(p / (size_t)w), x = (int)(p % (size_t)w);
                for (int f = 0; f < nf; ++f) {
                    formed[f] = (uint8_t)feature(obs, masks, s, c, mc, f / FEATURES, h, w, y, x, f % FEATURES, &v[f]);
                    if (formed[f] && pass == 0) {
                        mean[f] += v[f];
                        count[f] += 1.0;
                    }
                    if (formed[f] && pass == 1) v[f] -= mean[f];
                }
                if (pass == 0) continue;
                out.positions++;
                for (int f = 0; f < nf; ++f) {
                    if (!formed[f]) continue;
                    for (int g = (f / FEATURES + 1) * FEATURES; g < nf; ++g) {
                        if (!formed[g]) continue;
                        const size_t k = (size_t)f * (size_t)nf + (size_t)g;
                        sfg[k] += v[f] * v[g];
                        sff[k] += v[f] * v[f];
                        sgg[k] += v[g] * v[g];
                        pairs[k] += 1.0;
                    }
                }
            }
        if (pass == 0)
            for (int f = 0; f < nf; ++f) mean[f] = count[f] > 0.0 ? mean[f] / count[f] : 0.0;
    }
    /* best[a]: the largest |r| of a feature of channel a with one of another channel */
    double *best = dfl_xcalloc((size_t)c, sizeof(double));
    for (int f = 0; f < nf; ++f)
        for (int g = (f / FEATURES + 1) * FEATURES; g < nf; ++g) {
            const size_t k = (size_t)f * (size_t)nf + (size_t)g;
            if (pairs[k] < DFL_CHANNELS_AUTO_MIN_PAIRS || !(sff[k] > 0.0) || !(sgg[k] > 0.0)) continue;
            const double r = fabs(sfg[k] / sqrt(sff[k] * sgg[k]));
            if (r > best[f / FEATURES]) best[f / FEATURES] = r;
            if (r > best[g / FEATURES]) best[g / FEATURES] = r;
        }
    qsort(best, (size_t)c, sizeof(double), cmp_double);
    out.correlation = c % 2 ? best[c / 2] : 0.5 * (best[c / 2 - 1] + best[c / 2]);
    out.shared = out.correlation < DFL_CHANNELS_AUTO_CORRELATION;
    free(best);
    free(mean);
    free(count);
    free(sfg);
    free(sff);
    free(sgg);
    free(pairs);
    free(v);
    free(formed);
    return out;
}

void dfl_channel_choice_describe(const dfl_channel_choice *c, char *buf, size_t len) {
    if (c->channels < 2)
        snprintf(buf, len, "joint: one channel");
    else if (c->shared)
        snprintf(buf, len,
                 "shared: the channels are weakly related (median best-partner correlation %.2f < %.2g over %d "
                 "channels)",
                 c->correlation, DFL_CHANNELS_AUTO_CORRELATION, c->channels);
    else
        snprintf(buf, len,
                 "joint: the channels are strongly related (median best-partner correlation %.2f >= %.2g over %d "
                 "channels)",
                 c->correlation, DFL_CHANNELS_AUTO_CORRELATION, c->channels);
}
