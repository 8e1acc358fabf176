/* Held-out calibration of the ensemble spread (include/dynfill/infer.h;
 * docs/design.md, "Calibrated spread"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dynfill/infer.h"
#include "shared/philox.h"

/* Philox purpose tag of the entries hidden for calibration (method tags are
 * 0x01..0x0F, data 0xD0..0xDF, init 0xA0, sampler 0xB0). */
#define DFL_RNG_PURPOSE_CALIB_HIDE 0xB1

void dfl_spread_stats_add(dfl_spread_stats *st, double err, double std) {
    double a = fabs(err);
    st->n += 1;
    st->sq_err += err * err;
    st->sq_std += std * std;
    st->in1 += a <= std;
    st->in2 += a <= 2 * std;
}

double dfl_spread_stats_ratio(const dfl_spread_stats *st) {
    return st->n > 0 && st->sq_err > 0 ? sqrt(st->sq_std / st->sq_err) : NAN;
}

dfl_status dfl_std_calibrate_run(dfl_imputer *im, const dfl_impute_opts *o, const dfl_dataset *ds, int64_t start,
                                 int64_t count, double hide_fraction, double *scale, dfl_spread_stats *before,
                                 dfl_spread_stats *after) {
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    int c = info->c, h = info->h, w = info->w, mc = info->mask_c;
    size_t px = (size_t)h * w;
    int chunk = 64 / (o->K > 0 ? o->K : 1); /* samples per pass, as `dynfill impute`'s default 64 rows */
    if (chunk < 2) chunk = 2;               /* an empirical context needs another sample's mask */
    if (chunk > count) chunk = (int)count;
    float *obs = dfl_xmalloc((size_t)chunk * c * px * sizeof(float));
    float *in = dfl_xmalloc((size_t)chunk * c * px * sizeof(float));
    float *pred = dfl_xmalloc((size_t)chunk * c * px * sizeof(float));
    float *spread = dfl_xmalloc((size_t)chunk * c * px * sizeof(float));
    uint8_t *mask = dfl_xmalloc((size_t)chunk * mc * px), *kept = dfl_xmalloc((size_t)chunk * mc * px);
    /* the hidden entries' error and raw spread, per channel, for the after-statistics */
    typedef struct {
        float err, sd;
        int ch;
    } hidden;
    size_t cap = 0, len = 0;
    hidden *ent = NULL;
    memset(before, 0, (size_t)c * sizeof *before);
    memset(after, 0, (size_t)c * sizeof *after);
    dfl_status s = DFL_OK;
    for (int64_t i0 = 0; s == DFL_OK && i0 < count; i0 += chunk) {
        int nb = (int)(count - i0 < chunk ? count - i0 : chunk);
        if ((s = dfl_dataset_read_samples(ds, start + i0, nb, obs, mask)) != DFL_OK) break;
        /* hide a random share of each sample's observed entries (all of them kept if none would remain) */
        size_t per = (size_t)mc * px;
        for (int i = 0; i < nb; ++i) {
            uint64_t stream = dfl_rng_stream(DFL_RNG_PURPOSE_CALIB_HIDE, 0, (uint32_t)(start + i0 + i));
            size_t left = 0;
            for (size_t j = 0; j < per; ++j) {
                size_t q = (size_t)i * per + j;
                kept[q] = mask[q] && dfl_rng_uniform(o->seed, stream, j) >= hide_fraction;
                left += kept[q];
            }
            if (!left) memcpy(kept + (size_t)i * per, mask + (size_t)i * per, per);
        }
        memcpy(in, obs, (size_t)nb * c * px * sizeof(float));
        for (int i = 0; i < nb; ++i)
            for (int ch = 0; ch < c; ++ch)
                for (size_t p = 0; p < px; ++p)
                    if (!kept[((size_t)i * mc + (mc == 1 ? 0 : ch)) * px + p]) in[((size_t)i * c + ch) * px + p] = 0.0f;
        s = dfl_imputer_run(im, o, nb, c, h, w, mc, in, kept, (uint32_t)(start + i0), pred, spread, NULL);
        if (s != DFL_OK) break;
        for (int i = 0; i < nb; ++i)
            for (int ch = 0; ch < c; ++ch)
                for (size_t p = 0; p < px; ++p) {
                    size_t m = ((size_t)i * mc + (mc == 1 ? 0 : ch)) * px + p, x = ((size_t)i * c + ch) * px + p;
                    if (!mask[m] || kept[m]) continue;
                    double e = (double)pred[x] - obs[x];
                    dfl_spread_stats_add(&before[ch], e, spread[x]);
                    ent = dfl_xgrow(ent, &cap, len + 1, sizeof *ent);
                    ent[len++] = (hidden){(float)e, spread[x], ch};
                }
    }
    if (s == DFL_OK) {
        /* s_c = RMSE_c / RMS(std_c); 1 where there is nothing to scale */
        for (int ch = 0; ch < c; ++ch) {
            double r = dfl_spread_stats_ratio(&before[ch]);
            scale[ch] = isfinite(r) && r > 0 ? 1.0 / r : 1.0;
        }
        for (size_t k = 0; k < len; ++k)
            dfl_spread_stats_add(&after[ent[k].ch], ent[k].err, ent[k].sd * scale[ent[k].ch]);
    }
    free(obs);
    free(in);
    free(pred);
    free(spread);
    free(mask);
    free(kept);
    free(ent);
    return s;
}

dfl_status dfl_std_calibrate(const char *ckpt_path, dfl_backend *be, const dfl_dataset *ds, int64_t start,
                             int64_t count, int K, uint64_t seed, double *scale) {
    dfl_imputer *im = NULL;
    DFL_TRY(dfl_imputer_create(ckpt_path, be, 0, &im));
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    const dfl_config *cfg = dfl_imputer_config(im);
    dfl_impute_opts o;
    memset(&o, 0, sizeof o);
    o.K = K;
    o.steps = 1;
    o.ddim = 1;
    o.t_eps = (float)cfg->infer_t_eps;
    o.seed = seed;
    o.fwd_rows = 0; /* one sample's K draws per forward, as `dynfill impute` */
    dfl_spread_stats *before = dfl_xcalloc((size_t)info->c, sizeof *before);
    dfl_spread_stats *after = dfl_xcalloc((size_t)info->c, sizeof *after);
    dfl_status s = dfl_std_calibrate_run(im, &o, ds, start, count, DFL_CALIB_HIDE_FRACTION, scale, before, after);
    for (int ch = 0; s == DFL_OK && ch < info->c; ++ch) {
        const dfl_spread_stats *b = &before[ch], *a = &after[ch];
        double n = b->n > 0 ? b->n : 1;
        dfl_info("train: spread calibration, channel %s: %.0f hidden entries of %lld held-out samples, spread-skill "
                 "%.3f -> %.3f, +-1 std %.1f%% -> %.1f%%, +-2 std %.1f%% -> %.1f%%, std_scale %.4g",
                 info->channels[ch], b->n, (long long)count, dfl_spread_stats_ratio(b), dfl_spread_stats_ratio(a),
                 100 * b->in1 / n, 100 * a->in1 / n, 100 * b->in2 / n, 100 * a->in2 / n, scale[ch]);
    }
    free(before);
    free(after);
    dfl_imputer_destroy(im);
    return s;
}
