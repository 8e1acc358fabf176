/* Held-out calibration of the ensemble spread (include/dynfill/infer.h;
 * docs/design.md, "Calibrated spread"). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/progress.h"
#include "core/stop_signal.h"
#include "dynfill/climatology.h"
#include "dynfill/infer.h"
#include "dynfill/method.h"
#include "eval/eval_metrics.h"
#include "method/mask_gap_distance.h"
#include "shared/philox.h"
#include "shared/schedule.h"

/* Philox purpose tag of the entries hidden for calibration (method tags are
 * 0x10..0x15, data 0xD0..0xDF, init 0xA0, sampler 0xB0). */
#define DFL_RNG_PURPOSE_CALIB_HIDE 0xB1

/* What the calibration samples are, in the log lines of `who`: train
 * calibrates on its held-out samples, impute --calibrate on its input. */
static const char *samples_of(const char *who) { return strcmp(who, "train") ? "input" : "held-out"; }

/* Samples [first, first + nb) of the calibration set into obs and mask, in the checkpoint's
 * normalisation (the dataset's own when it is the training data: then the factors are 1 and 0 and
 * the values stay bit for bit), as anomalies where clim_offset is not NULL (dfl_ckpt_climatology_offsets).
 * obs NULL: the masks alone. */
static dfl_status read_calib_samples(const dfl_dataset *ds, const dfl_ckpt_meta *meta, const float *clim_offset,
                                     int64_t start, int64_t count, int64_t span, int64_t first, int nb, float *obs,
                                     uint8_t *mask) {
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    const size_t px = (size_t)info->h * info->w;
    if (span == count) {
        DFL_TRY(dfl_dataset_read_samples(ds, start + first, nb, obs, mask));
    } else {
        for (int i = 0; i < nb; ++i)
            DFL_TRY(dfl_dataset_read_samples(ds, dfl_sample_spread(start, count, span, first + i), 1,
                                             obs ? obs + (size_t)i * info->c * px : NULL,
                                             mask + (size_t)i * info->mask_c * px));
    }
    if (!obs) return DFL_OK;
    if (meta->data_mean && meta->data_std)
        dfl_renormalise(obs, nb, info->c, px, info->mean, info->std, meta->data_mean, meta->data_std, 1);
    if (clim_offset)
        dfl_climatology_remove(clim_offset, NULL, 0, info->h, info->w, 0, 0, info->h, info->w, nb, info->c,
                               info->mask_c, obs, mask);
    return DFL_OK;
}

void dfl_spread_stats_add(dfl_spread_stats *st, double err, double std) {
    dfl_spread_stats_add_weighted(st, err, std, 1.0);
}

void dfl_spread_stats_add_weighted(dfl_spread_stats *st, double err, double std, double weight) {
    double a = fabs(err);
    st->n += weight;
    st->sq_err += weight * err * err;
    st->sq_std += weight * std * std;
    st->in1 += a <= std ? weight : 0.0;
    st->in2 += a <= 2 * std ? weight : 0.0;
    st->crps += weight * dfl_eval_crps_gaussian(0.0, err, std);
}

double dfl_spread_stats_ratio(const dfl_spread_stats *st) {
    return st->n > 0 && st->sq_err > 0 ? sqrt(st->sq_std / st->sq_err) : NAN;
}

double dfl_spread_calibrated(double spread, double a, double b) { return sqrt(a * a * spread * spread + b * b); }

/* The fit's entries: squared errors, squared spreads and weights (a stride
 * through at most DFL_SPREAD_FIT_MAX of them), their weighted means. */
typedef struct {
    double *e2, *s2, *wt;
    size_t n;
    double wsum, mean_e2, mean_s2;
} fit_data;

/* mean(log v + e^2 / v), v = A s^2 + B, with v kept above 1e-12 of the
 * mean squared error (an entry of zero spread under a zero floor). */
static double fit_nll(const fit_data *d, double A, double B) {
    const double vmin = 1e-12 * d->mean_e2;
    double sum = 0.0;
    for (size_t i = 0; i < d->n; ++i) {
        double v = A * d->s2[i] + B;
        if (v < vmin) v = vmin;
        sum += d->wt[i] * (log(v) + d->e2[i] / v);
    }
    return sum / d->wsum;
}

/* Minimum over u in [lo, hi] of f(u): a grid of `grid` points, then golden
 * section in the bracket around the best. */
typedef double (*fit_fn)(const fit_data *d, double u, double other);
static double fit_min(fit_fn f, const fit_data *d, double other, double lo, double hi, int grid, double *best_f) {
    double best_u = lo, fb = INFINITY;
    const double step = (hi - lo) / (grid - 1);
    for (int k = 0; k < grid; ++k) {
        double u = lo + k * step, v = f(d, u, other);
        if (v < fb) fb = v, best_u = u;
    }
    double a = best_u - step > lo ? best_u - step : lo, b = best_u + step < hi ? best_u + step : hi;
    const double g = 0.6180339887498949;
    double x1 = b - g * (b - a), x2 = a + g * (b - a), f1 = f(d, x1, other), f2 = f(d, x2, other);
    for (int it = 0; it < 25; ++it) { /* the bracket shrinks to 6e-6 of a grid step */
        if (f1 < f2)
            b = x2, x2 = x1, f2 = f1, x1 = b - g * (b - a), f1 = f(d, x1, other);
        else
            a = x1, x1 = x2, f1 = f2, x2 = a + g * (b - a), f2 = f(d, x2, other);
    }
    double u = f1 < f2 ? x1 : x2, fu = f1 < f2 ? f1 : f2;
    if (fb < fu) u = best_u, fu = fb; /* the grid point, should the bracket have missed */
    *best_f = fu;
    return u;
}

/* The fit's family along spread-skill 1: v = A s^2 + B with
 * A = (1 - phi) mean e^2 / mean s^2 and B = phi mean e^2, so that
 * mean(v) = mean(e^2) for every floor share phi in [0, 1]. */
static void fit_family(const fit_data *d, double phi, double *A, double *B) {
    *A = (1.0 - phi) * d->mean_e2 / d->mean_s2;
    *B = phi * d->mean_e2;
}

/* share of the entries with |e| <= 2 sqrt(v) */
static double fit_cover2(const fit_data *d, double phi) {
    double A, B;
    fit_family(d, phi, &A, &B);
    double in = 0.0;
    for (size_t i = 0; i < d->n; ++i) in += d->e2[i] <= 4.0 * (A * d->s2[i] + B) ? d->wt[i] : 0.0;
    return in / d->wsum;
}

static double nll_of_floor(const fit_data *d, double phi, double unused) {
    (void)unused;
    double A, B;
    fit_family(d, phi, &A, &B);
    return fit_nll(d, A, B);
}

/* Grid of floor shares the fit compares; the +-2 sigma coverage a floor
 * share may be off 95.45 % by and still compete on likelihood. */
#define FIT_PHI_GRID     201
#define FIT_COVER_TOL    0.02
#define FIT_COVER_SLACK  0.0025
#define FIT_COVER_TARGET 0.9544997361036416 /* P(|z| <= 2), z ~ N(0, 1) */

void dfl_spread_fit(const float *err, const float *sd, size_t n, double *a, double *b) {
    dfl_spread_fit_weighted(err, sd, NULL, n, a, b);
}

void dfl_spread_fit_weighted(const float *err, const float *sd, const float *wt, size_t n, double *a, double *b) {
    *a = 1.0;
    *b = 0.0;
    const size_t stride = n > DFL_SPREAD_FIT_MAX ? (n + DFL_SPREAD_FIT_MAX - 1) / DFL_SPREAD_FIT_MAX : 1;
    fit_data d = {0};
    d.e2 = dfl_xmalloc((n / stride + 1) * sizeof(double));
    d.s2 = dfl_xmalloc((n / stride + 1) * sizeof(double));
    d.wt = dfl_xmalloc((n / stride + 1) * sizeof(double));
    for (size_t i = 0; i < n; i += stride) {
        const double wi = wt ? wt[i] : 1.0;
        if (!(wi > 0.0)) continue;
        d.e2[d.n] = (double)err[i] * err[i];
        d.s2[d.n] = (double)sd[i] * sd[i];
        d.wt[d.n] = wi;
        d.wsum += wi;
        d.mean_e2 += wi * d.e2[d.n];
        d.mean_s2 += wi * d.s2[d.n];
        d.n++;
    }
    if (d.n > 0 && d.mean_e2 > 0) {
        d.mean_e2 /= d.wsum;
        d.mean_s2 /= d.wsum;
        if (d.mean_s2 <= 0) {
            *b = sqrt(d.mean_e2); /* no spread anywhere: the floor is the RMSE */
        } else {
            /* Spread-skill 1 fixes the mean of v; the floor share phi sets
             * how v follows the spread. The likelihood chooses phi, among
             * the shares whose +-2 sigma coverage is within FIT_COVER_TOL
             * of the Gaussian's 95.45 % (or, where none is, as near as the
             * nearest): heavy-tailed errors (a few entries far off, most
             * close) pull the likelihood alone to a v far wider than the
             * typical error (spread-skill 2 and +-1 sigma 90 % on the
             * shallow-water study columns). On Gaussian errors the
             * likelihood's choice meets both, and is the model's floor. */
            double off[FIT_PHI_GRID], nearest = INFINITY; /* |coverage - 95.45 %| per grid point */
            for (int k = 0; k < FIT_PHI_GRID; ++k) {
                off[k] = fabs(fit_cover2(&d, (double)k / (FIT_PHI_GRID - 1)) - FIT_COVER_TARGET);
                if (off[k] < nearest) nearest = off[k];
            }
            const double tol = nearest <= FIT_COVER_TOL ? FIT_COVER_TOL : nearest + FIT_COVER_SLACK;
            int best = 0;
            double best_nll = INFINITY;
            for (int k = 0; k < FIT_PHI_GRID; ++k) {
                if (off[k] > tol) continue;
                double f = nll_of_floor(&d, (double)k / (FIT_PHI_GRID - 1), 0.0);
                if (f < best_nll) best_nll = f, best = k;
            }
            /* refine on the likelihood between the neighbours that are candidates too */
            const double step = 1.0 / (FIT_PHI_GRID - 1);
            const int lo = best > 0 && off[best - 1] <= tol ? best - 1 : best;
            const int hi = best < FIT_PHI_GRID - 1 && off[best + 1] <= tol ? best + 1 : best;
            double phi = best * step, f;
            if (hi > lo) {
                double u = fit_min(nll_of_floor, &d, 0.0, lo * step, hi * step, 3, &f);
                if (f < best_nll) phi = u;
            }
            double A, B;
            fit_family(&d, phi, &A, &B);
            *a = sqrt(A);
            *b = sqrt(B);
        }
    }
    free(d.e2);
    free(d.s2);
    free(d.wt);
}

_Static_assert(DFL_CKPT_GAP_BINS == DFL_GAP_BINS, "the checkpoint's gap factors are one per gap bin");

/* include/dynfill/infer.h */
void dfl_gap_bins(const uint8_t *known, int h, int w, int periodic_x, int periodic_y, uint16_t *bin) {
    dfl_mask_gap_distance(known, h, w, periodic_x, periodic_y, bin);
    for (size_t p = 0; p < (size_t)h * w; ++p) bin[p] = known[p] ? 0 : (uint16_t)dfl_gap_bin(bin[p]);
}

/* include/dynfill/infer.h */
void dfl_spread_gap_factors(const double *err2, const double *std2, const double *n, double *factor) {
    int fitted[DFL_GAP_BINS], any = 0;
    for (int b = 0; b < DFL_GAP_BINS; ++b) {
        fitted[b] = n[b] >= DFL_CALIB_GAP_MIN_ENTRIES && std2[b] > 0.0;
        factor[b] = 1.0;
        if (!fitted[b]) continue;
        any = 1;
        const double f = sqrt(err2[b] / std2[b]);
        factor[b] = f > DFL_CALIB_GAP_FACTOR_MAX         ? DFL_CALIB_GAP_FACTOR_MAX
                    : f < 1.0 / DFL_CALIB_GAP_FACTOR_MAX ? 1.0 / DFL_CALIB_GAP_FACTOR_MAX
                                                         : f;
    }
    if (!any) return;
    for (int b = 0; b < DFL_GAP_BINS; ++b) {
        if (fitted[b]) continue;
        for (int d = 1; d < DFL_GAP_BINS; ++d) { /* the nearest fitted bin, the wider first */
            if (b + d < DFL_GAP_BINS && fitted[b + d]) {
                factor[b] = factor[b + d];
                break;
            }
            if (b - d >= 0 && fitted[b - d]) {
                factor[b] = factor[b - d];
                break;
            }
        }
    }
}

/* include/dynfill/infer.h */
void dfl_spread_gap_weights(const double *missing, const double *hidden, double *w) {
    double all_missing = 0.0, all_hidden = 0.0;
    for (int b = 0; b < DFL_GAP_BINS; ++b) all_missing += missing[b], all_hidden += hidden[b], w[b] = 1.0;
    if (all_missing <= 0.0 || all_hidden <= 0.0) return;
    int group[DFL_GAP_BINS], g = 0;
    double count = 0.0;
    for (int b = 0; b < DFL_GAP_BINS; ++b) {
        group[b] = g;
        count += hidden[b];
        if (count >= DFL_CALIB_GAP_MIN_ENTRIES && b < DFL_GAP_BINS - 1) ++g, count = 0.0;
    }
    if (count < DFL_CALIB_GAP_MIN_ENTRIES && g > 0) /* the widest group is short: join it to the one before */
        for (int b = 0; b < DFL_GAP_BINS; ++b)
            if (group[b] == g) group[b] = g - 1;
    double want[DFL_GAP_BINS] = {0}, have[DFL_GAP_BINS] = {0};
    for (int b = 0; b < DFL_GAP_BINS; ++b)
        want[group[b]] += missing[b] / all_missing, have[group[b]] += hidden[b] / all_hidden;
    for (int b = 0; b < DFL_GAP_BINS; ++b) w[b] = have[group[b]] > 0.0 ? want[group[b]] / have[group[b]] : 0.0;
    /* Truncated: no entry weighs more than DFL_CALIB_GAP_MAX_WEIGHT, the
     * others scaled so that the weights still sum to the hidden count
     * (a few hidden entries of a rare gap width would otherwise decide the
     * fit). Each pass caps the bins above it; at most one pass per bin. */
    int capped[DFL_GAP_BINS] = {0};
    for (int pass = 0; pass < DFL_GAP_BINS; ++pass) {
        double fixed = 0.0, free_sum = 0.0;
        for (int b = 0; b < DFL_GAP_BINS; ++b) {
            const double share = hidden[b] / all_hidden;
            if (capped[b])
                fixed += DFL_CALIB_GAP_MAX_WEIGHT * share;
            else
                free_sum += w[b] * share;
        }
        if (free_sum <= 0.0) break;
        int more = 0;
        for (int b = 0; b < DFL_GAP_BINS; ++b) {
            if (capped[b]) continue;
            w[b] *= (1.0 - fixed) / free_sum;
            if (w[b] > DFL_CALIB_GAP_MAX_WEIGHT) w[b] = DFL_CALIB_GAP_MAX_WEIGHT, capped[b] = 1, more = 1;
        }
        if (!more) break;
    }
}

/* The entries calibration hides, kept[i] = M_i minus them: those the
 * training strategy queries outside its context, from one context draw per
 * sample (plan step DFL_CALIB_PLAN_STEP, so not a training step's draw):
 * 1 - context_ratio of the observed pixels for pixel contexts, mp->hide
 * whole observed blocks for block contexts (calibration passes hide 1),
 * another sample's missing region for empirical ones.
 * So the calibration sees errors of the kind the test's missing entries
 * have (scattered pixels, or blocks far from any observation). A sample
 * where that hides nothing or everything (missdiff, whose query is its
 * context; a block context left empty) hides a random share
 * hide_fraction of its observed entries instead (Philox purpose 0xB1).
 * Pixel contexts always hide at random, a share hide_fraction that
 * pixel_hide_fraction makes small, not the 1 - context_ratio a training
 * step leaves out: the hidden entries are scattered pixels either way, and
 * the network then imputes them from an input nearly as dense as the test
 * observation's. With square > 1 (pixel contexts on data whose gaps are
 * wider than scattered pixels reach, see gap_square_side) they hide
 * squares of that side instead, centred on random entries, about as many
 * entries as the random share would. */
#define DFL_CALIB_PLAN_STEP 0xFFFFFFF0u
static void hide_like_training(const dfl_method_params *mp, uint64_t seed, uint32_t round, int64_t first, int nb, int c,
                               int h, int w, int mc, const uint8_t *mask, double hide_fraction, int square,
                               uint8_t *kept, uint8_t *ctx, uint8_t *qry) {
    const size_t per = (size_t)mc * h * w;
    dfl_context_plan plan;
    dfl_context_plan_init(&plan);
    dfl_plan_request rq = {.n = nb,
                           .k = 1,
                           .c = c,
                           .h = h,
                           .w = w,
                           .mask_channels = mc,
                           .mask = mask,
                           .t = DFL_T_EPS,
                           .t_eps = DFL_T_EPS,
                           .seed = seed,
                           .step = DFL_CALIB_PLAN_STEP + round,
                           .sample_offset = (uint32_t)first};
    /* an empirical context needs a second sample in the chunk: without one, random hiding */
    const int planned = mp->strategy != DFL_STRATEGY_PIXEL && dfl_context_plan_make(&plan, mp, &rq) == DFL_OK;
    if (!planned) dfl_clear_error();
    for (int i = 0; i < nb; ++i) {
        const uint8_t *m = mask + (size_t)i * per;
        uint8_t *k = kept + (size_t)i * per;
        size_t hidden = 0, left = 0;
        if (planned) {
            const int partner = plan.partner ? plan.partner[i] : -1;
            dfl_method_sample_masks(mp, &plan, i, c, h, w, mc, m, partner >= 0 ? mask + (size_t)partner * per : NULL,
                                    ctx, qry);
            for (size_t j = 0; j < per; ++j) {
                const int hide = m[j] && qry[j] && !ctx[j];
                k[j] = m[j] && !hide;
                hidden += hide;
                left += k[j];
            }
        }
        if (hidden && left) continue;
        uint64_t stream = dfl_rng_stream(DFL_RNG_PURPOSE_CALIB_HIDE, round, (uint32_t)(first + i));
        left = 0;
        if (square > 1) {
            size_t observed = 0;
            for (size_t j = 0; j < per; ++j) observed += m[j] != 0;
            memcpy(k, m, per);
            const size_t squares = (size_t)(hide_fraction * (double)observed / ((double)square * square) + 0.5);
            for (size_t q = 0; q < (squares ? squares : 1); ++q) {
                const size_t at = (size_t)(dfl_rng_uniform(seed, stream, q) * (double)per) % per;
                const size_t plane = at / ((size_t)h * w), yx = at % ((size_t)h * w);
                const int y0 = (int)(yx / w) - square / 2, x0 = (int)(yx % w) - square / 2;
                for (int y = y0 < 0 ? 0 : y0; y < y0 + square && y < h; ++y)
                    for (int x = x0 < 0 ? 0 : x0; x < x0 + square && x < w; ++x) k[(plane * h + y) * w + x] = 0;
            }
            for (size_t j = 0; j < per; ++j) left += k[j];
        } else {
            for (size_t j = 0; j < per; ++j) {
                k[j] = m[j] && dfl_rng_uniform(seed, stream, j) >= hide_fraction;
                left += k[j];
            }
        }
        if (!left) memcpy(k, m, per); /* nothing would remain: hide nothing */
    }
    dfl_context_plan_free(&plan);
}

/* The side of the squares pixel-context calibration hides after its first
 * round (1: none). Scattered hidden pixels sit next to kept ones; where
 * more than DFL_CALIB_GAP_UNREACHED of the held-out samples' missing
 * entries (in some channel) lie in gaps wider than the widest bin that
 * holds 1 % of the first round's hidden entries, the squares are
 * as wide as a gap that holds DFL_CALIB_GAP_REACH of the missing entries:
 * side 2 D - 1 for the bin's top distance D (at most 31). Strips 3 wide
 * of swath data: side 3; independent pixels: none, their hidden pixels
 * have the missing entries' gaps already. The weights of
 * dfl_spread_gap_weights then count each gap as the data has it. The
 * squares replace the scattered pixels (rather than alternate with them):
 * their edges, next to other hidden entries, are also how the entries 1
 * from a kept one look along a strip (NS swath:3:0.5:20: spread-skill
 * 0.755 alternating, 0.943 squares alone). */
#define DFL_CALIB_GAP_UNREACHED 0.05
#define DFL_CALIB_GAP_REACH     0.95
static int gap_square_side(const double *missing, const double *hidden, int c) {
    int side = 1;
    for (int ch = 0; ch < c; ++ch) {
        const double *mis = missing + (size_t)ch * DFL_GAP_BINS, *hid = hidden + (size_t)ch * DFL_GAP_BINS;
        double all = 0.0, all_hidden = 0.0;
        for (int b = 0; b < DFL_GAP_BINS; ++b) all += mis[b], all_hidden += hid[b];
        if (all <= 0.0 || all_hidden <= 0.0) continue;
        int reached = 0;
        for (int b = 0; b < DFL_GAP_BINS; ++b)
            if (hid[b] >= 0.01 * all_hidden) reached = b;
        double within = 0.0, beyond = 0.0;
        for (int b = 0; b < DFL_GAP_BINS; ++b) beyond += b > reached ? mis[b] : 0.0;
        if (beyond <= DFL_CALIB_GAP_UNREACHED * all) continue;
        for (int b = 0; b < DFL_GAP_BINS; ++b) {
            within += mis[b];
            if (within >= DFL_CALIB_GAP_REACH * all || b == DFL_GAP_BINS - 2) {
                const int top = 1 << b; /* the bin's widest distance: 1, 2, 4, ..., 32 */
                const int want = 2 * (top < 16 ? top : 16) - 1;
                if (want > side) side = want;
                break;
            }
        }
    }
    return side;
}

/* The share of the observed entries calibration hides for pixel contexts:
 * as few as still give every channel DFL_CALIB_MIN_ENTRIES hidden entries
 * in DFL_CALIB_PIXEL_ROUNDS rounds, within [DFL_CALIB_PIXEL_HIDE_MIN,
 * hide_fraction]. Where the observation is dense the error grows steeply
 * as the input thins: on the study's NS at 80 % of the pixels, hiding 20 %
 * of them gave a /std 1.45 times the test error (99.4 % inside +-2 std),
 * hiding 1.3 % (this rule there) gave 1.06 (97.1 %). Sparse observations
 * keep the larger share (their error changes little with a few percent
 * fewer inputs). */
static dfl_status pixel_hide_fraction(const dfl_dataset *ds, const dfl_ckpt_meta *meta, int64_t start, int64_t count,
                                      int64_t span, int chunk, uint8_t *mask, double hide_fraction, double *share) {
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    const size_t px = (size_t)info->h * info->w;
    double *observed = dfl_xcalloc((size_t)info->c, sizeof(double)); /* per channel, in the samples */
    dfl_status s = DFL_OK;
    for (int64_t i0 = 0; s == DFL_OK && i0 < count; i0 += chunk) {
        int nb = (int)(count - i0 < chunk ? count - i0 : chunk);
        if ((s = read_calib_samples(ds, meta, NULL, start, count, span, i0, nb, NULL, mask)) != DFL_OK) break;
        for (int i = 0; i < nb; ++i)
            for (int ch = 0; ch < info->c; ++ch) {
                const uint8_t *m = mask + ((size_t)i * info->mask_c + (info->mask_c == 1 ? 0 : ch)) * px;
                for (size_t p = 0; p < px; ++p) observed[ch] += m[p] != 0;
            }
    }
    double fewest = INFINITY;
    for (int ch = 0; ch < info->c; ++ch)
        if (observed[ch] < fewest) fewest = observed[ch];
    free(observed);
    *share = fewest > 0 ? DFL_CALIB_MIN_ENTRIES / (DFL_CALIB_PIXEL_ROUNDS * fewest) : hide_fraction;
    if (*share < DFL_CALIB_PIXEL_HIDE_MIN) *share = DFL_CALIB_PIXEL_HIDE_MIN;
    if (*share > hide_fraction) *share = hide_fraction;
    return s;
}

dfl_status dfl_calib_withheld_seen(const dfl_dataset *ds, const dfl_ckpt_meta *meta, int64_t start, int64_t count,
                                   int64_t span, dfl_withheld_seen *seen) {
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    const size_t px = (size_t)info->h * info->w, per = (size_t)info->mask_c * px;
    memset(seen, 0, sizeof *seen);
    if (!meta->withheld_cells || meta->withheld_h != info->h || meta->withheld_w != info->w) return DFL_OK;
    const int chunk = count < 16 ? (int)count : 16;
    uint8_t *mask = dfl_xmalloc((size_t)(chunk > 0 ? chunk : 1) * per), *cell = dfl_xcalloc(px, 1);
    dfl_status s = DFL_OK;
    for (int64_t i0 = 0; s == DFL_OK && i0 < count; i0 += chunk) {
        int nb = (int)(count - i0 < chunk ? count - i0 : chunk);
        if ((s = read_calib_samples(ds, meta, NULL, start, count, span, i0, nb, NULL, mask)) != DFL_OK) break;
        for (size_t j = 0; j < (size_t)nb * per; ++j)
            if (mask[j] && meta->withheld_cells[j % px]) ++seen->entries, cell[j % px] = 1;
    }
    for (size_t p = 0; p < px; ++p) seen->cells += meta->withheld_cells[p] != 0, seen->cells_seen += cell[p];
    free(cell);
    free(mask);
    seen->enough =
        s == DFL_OK && seen->entries >= DFL_CALIB_WITHHELD_MIN_ENTRIES && 2 * seen->cells_seen >= seen->cells;
    return s;
}

/* The withheld cells of each sample's mask are hidden, the rest kept; a
 * sample that observes none of them, or only them, keeps its whole mask
 * (it adds no hidden entry). */
static void hide_withheld(const uint8_t *withheld, int nb, int mc, size_t px, const uint8_t *mask, uint8_t *kept) {
    const size_t per = (size_t)mc * px;
    for (int i = 0; i < nb; ++i) {
        const uint8_t *m = mask + (size_t)i * per;
        uint8_t *k = kept + (size_t)i * per;
        size_t hidden = 0, left = 0;
        for (size_t j = 0; j < per; ++j) {
            k[j] = m[j] && !withheld[j % px];
            hidden += m[j] && !k[j];
            left += k[j];
        }
        if (!hidden || !left) memcpy(k, m, per);
    }
}

/* Samples per calibration pass, chosen as `dynfill impute` chooses them:
 * 64 rows (at least two samples: an empirical context needs another
 * sample's mask); with empirical contexts, whose partners come from the
 * pass, or an empirical-trained checkpoint, whose hidden entries come from
 * partners in the pass (so that every context rule is scored on the same
 * hidden entries), up to DFL_EMPIRICAL_PASS_SAMPLES as long as the pass fits the
 * available memory (dfl_imputer_fit with this function's host buffers per
 * sample: obs, input, prediction, spread, the spline correction's two
 * differences, mask, kept; and the correction's solves), else the 64 rows. */
static int calib_pass_samples(dfl_imputer *im, const dfl_impute_opts *o, dfl_backend *be, const dfl_dataset_info *info,
                              int64_t count) {
    int least = 64 / (o->K > 0 ? o->K : 1);
    if (least < 2) least = 2;
    int n = DFL_EMPIRICAL_PASS_SAMPLES < count ? DFL_EMPIRICAL_PASS_SAMPLES : (int)count;
    const int empirical = dfl_imputer_method(im)->strategy == DFL_STRATEGY_EMPIRICAL ||
                          dfl_imputer_trained_method(im)->strategy == DFL_STRATEGY_EMPIRICAL;
    if (!empirical || n <= least) return least;
    const size_t extra = (size_t)info->h * info->w * (6 * (size_t)info->c * sizeof(float) + 2 * (size_t)info->mask_c);
    size_t spline_plan = 0, spline_host = 0; /* the host part of a device backend is left out, as impute does */
    dfl_spline_toward_bytes(be, n, info->c, info->h, info->w, &spline_plan, &spline_host);
    const char *src = NULL;
    size_t need = 0, avail = dfl_backend_memory_available(be, &src);
    dfl_impute_opts t = *o;
    if (dfl_imputer_fit(im, &t, 1, &n, least, info->c, info->h, info->w, info->mask_c, extra, spline_plan, avail, src,
                        "-K", &need) != DFL_OK) {
        dfl_clear_error();
        return least;
    }
    return t.fwd_rows == o->fwd_rows ? n : least; /* not at the price of fewer rows per forward */
}

dfl_status dfl_std_calibrate_run(dfl_imputer *im, const dfl_impute_opts *o, const dfl_dataset *ds, int64_t start,
                                 int64_t count, int64_t span, int pass, double hide_fraction, const char *who,
                                 dfl_ckpt_calib *cal, dfl_spread_stats *before, dfl_spread_stats *after) {
    double *weight = cal->spline_weight, *weight3 = cal->spline3_weight;
    double *scale = cal->std_scale, *floor = cal->std_floor, *gap_factor = cal->std_gap_factor;
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    int c = info->c, h = info->h, w = info->w, mc = info->mask_c;
    size_t px = (size_t)h * w;
    int chunk = pass >= 2 ? pass : 2; /* an empirical context needs another sample's mask */
    if (chunk > count) chunk = (int)count;
    float *obs = dfl_xmalloc((size_t)chunk * c * px * sizeof(float));
    float *in = dfl_xmalloc((size_t)chunk * c * px * sizeof(float));
    float *pred = dfl_xmalloc((size_t)chunk * c * px * sizeof(float));
    float *spread = dfl_xmalloc((size_t)chunk * c * px * sizeof(float));
    float *toward = dfl_xcalloc((size_t)chunk * c * px, sizeof(float)); /* S2 - P of the spline correction */
    float *toward3 = weight && weight3 ? dfl_xcalloc((size_t)chunk * c * px, sizeof(float)) : NULL; /* S3 - P */
    const dfl_ckpt_meta *meta = dfl_imputer_meta(im);
    uint8_t *mask = dfl_xmalloc((size_t)chunk * mc * px), *kept = dfl_xmalloc((size_t)chunk * mc * px);
    uint8_t *ctx = dfl_xmalloc((size_t)mc * px), *qry = dfl_xmalloc((size_t)mc * px);
    uint16_t *gap_bin = dfl_xmalloc(px * sizeof(uint16_t));
    int *fixed = dfl_xcalloc((size_t)chunk, sizeof(int)); /* per sample of a pass: its K contexts are one */
    int64_t fixed_samples = 0;                            /* of the held-out samples, in the first round */
    /* Gap distances (mask_gap_distance.h), per channel and bin: of the
     * entries missing in the held-out samples (what imputation will fill)
     * and of the hidden entries (from the entries kept). */
    double *gap_missing = dfl_xcalloc((size_t)c * DFL_GAP_BINS, sizeof(double));
    double *gap_hidden = dfl_xcalloc((size_t)c * DFL_GAP_BINS, sizeof(double));
    /* the hidden entries' error, raw spread and gap bin, per channel, for the after-statistics */
    typedef struct {
        float err, sd, toward, toward3; /* P - truth, raw spread, S2 - P, S3 - P */
        int ch, bin;
        int fixed; /* from a sample whose K contexts are one (block: a single observed block kept) */
    } hidden;
    size_t cap = 0, len = 0;
    hidden *ent = NULL;
    memset(before, 0, (size_t)c * sizeof *before);
    memset(after, 0, (size_t)c * sizeof *after);
    float *clim_offset;
    /* a model of anomalies: its mean field in the model's units, once per calibration */
    dfl_status s = dfl_ckpt_climatology_offsets(meta, "the checkpoint", info->path, c, h, w, &clim_offset);
    /* Rounds of other hidden entries (and other context draws) until every
     * channel has DFL_CALIB_MIN_ENTRIES of them: sparse observations hide
     * few entries per sample. */
    size_t *per_channel = dfl_xcalloc((size_t)c, sizeof(size_t));
    double share = hide_fraction;
    /* What calibration hides, and the contexts it imputes with. Block
     * contexts: one observed block is hidden, whatever method.hide is, and
     * the imputation's draws hide method.hide - 1 more (at least one), so
     * the network sees as many blocks as a test context does. Hiding
     * method.hide blocks and imputing with method.hide more made the input
     * two blocks thinner than the test's at hide 2 (study, advection 5/9:
     * spread-skill 2.31; one and one: 0.96). At least one, because a
     * context of every kept block gives K identical members, a spread
     * unlike the test's. */
    /* the rule whose queries are hidden: the contexts', or with score_only pixel contexts' (the
     * checkpoint's rule with strategy pixel), whatever the contexts are */
    dfl_method_params hide_mp = o->score_only ? *dfl_imputer_trained_method(im) : *dfl_imputer_method(im);
    if (o->score_only) hide_mp.strategy = DFL_STRATEGY_PIXEL, hide_mp.query = DFL_QUERY_AUTO;
    int context_hide = 0; /* dfl_impute_opts.block_hide: 0 = the checkpoint's */
    if (hide_mp.strategy == DFL_STRATEGY_BLOCK) {
        context_hide = hide_mp.hide > 1 ? hide_mp.hide - 1 : 1;
        hide_mp.hide = 1;
    }
    dfl_withheld_seen seen = {0};
    if (s == DFL_OK) s = dfl_calib_withheld_seen(ds, meta, start, count, span, &seen);
    const uint8_t *withheld = seen.enough ? meta->withheld_cells : NULL;
    if (s == DFL_OK && withheld)
        dfl_info("%s: calibration hides the %zu observed entries of the %s samples at the cells training withheld "
                 "(%zu of %zu cells; data.withhold_cells), %d round(s) of contexts",
                 who, seen.entries, samples_of(who), seen.cells_seen, seen.cells, DFL_CALIB_WITHHELD_ROUNDS);
    else if (s == DFL_OK && meta->withheld_cells)
        dfl_info("%s: the %s samples observe %zu entries at %zu of the %zu cells training withheld (it takes %d at "
                 "half of them): calibration hides entries as training does",
                 who, samples_of(who), seen.entries, seen.cells_seen, seen.cells, DFL_CALIB_WITHHELD_MIN_ENTRIES);
    const int keep_spline = o->spread_only && weight; /* dfl_impute_opts.spread_only */
    if (s == DFL_OK && hide_mp.strategy == DFL_STRATEGY_PIXEL && !withheld)
        s = pixel_hide_fraction(ds, meta, start, count, span, chunk, mask, hide_fraction, &share);
    int square = 1; /* pixel contexts: squares of this side in every round after the first */
    const uint32_t rounds = withheld ? DFL_CALIB_WITHHELD_ROUNDS : DFL_CALIB_MAX_ROUNDS;
    /* Progress in samples imputed (K contexts each): the rounds a calibration
     * takes are known once the first says how many hidden entries a round
     * gives (on a large network and few observations, several times the
     * training budget: it is not part of it). */
    char label[96];
    snprintf(label, sizeof label, "%s %s", who, o->score_only ? "context scoring" : "calibration");
    dfl_progress *pg = dfl_progress_begin(label, withheld ? (int64_t)rounds * count : count, "samples");
    for (uint32_t round = 0; s == DFL_OK && round < rounds; ++round) {
        size_t fewest = SIZE_MAX;
        for (int ch = 0; ch < c; ++ch)
            if (per_channel[ch] < fewest) fewest = per_channel[ch];
        if (round > 0) { /* the rounds it takes: these once enough entries are hidden, else at the rate so far */
            const double per_round = (double)fewest / round;
            int64_t need = rounds;
            if (fewest >= DFL_CALIB_MIN_ENTRIES)
                need = round;
            else if (!withheld && per_round > 0)
                need = (int64_t)ceil(DFL_CALIB_MIN_ENTRIES / per_round);
            if (need < round) need = round;
            if (need > (int64_t)rounds) need = rounds;
            dfl_progress_set_total(pg, need * count);
        }
        if (round > 0 && fewest >= DFL_CALIB_MIN_ENTRIES) break;
        dfl_progress_note(pg, "round %u, hidden entries %zu of %d", round + 1, round ? fewest : 0,
                          DFL_CALIB_MIN_ENTRIES);
        dfl_impute_opts ro = *o;
        ro.seed = o->seed + round;
        ro.block_hide = context_hide;
        for (int64_t i0 = 0; s == DFL_OK && i0 < count; i0 += chunk) {
            int nb = (int)(count - i0 < chunk ? count - i0 : chunk);
            if (dfl_stop_signal()) {
                s = dfl_fail(DFL_EINTERRUPTED, "%s: calibration stopped by signal %d", who, dfl_stop_signal());
                break;
            }
            if ((s = read_calib_samples(ds, meta, clim_offset, start, count, span, i0, nb, obs, mask)) != DFL_OK) break;
            const int64_t key = dfl_sample_spread(start, count, span, i0); /* the first sample's index keys the pass */
            if (withheld)
                hide_withheld(withheld, nb, mc, px, mask, kept);
            else
                hide_like_training(&hide_mp, o->seed, round, key, nb, c, h, w, mc, mask, share, round ? square : 1,
                                   kept, ctx, qry);
            for (int i = 0; round == 0 && i < nb; ++i) /* the held-out masks' own gaps, once */
                for (int ch = 0; ch < mc; ++ch) {
                    const uint8_t *m = mask + ((size_t)i * mc + ch) * px;
                    dfl_gap_bins(m, h, w, meta->periodic_x, meta->periodic_y, gap_bin);
                    for (size_t p = 0; p < px; ++p)
                        if (!m[p])
                            for (int cc = mc == 1 ? 0 : ch; cc < (mc == 1 ? c : ch + 1); ++cc)
                                gap_missing[(size_t)cc * DFL_GAP_BINS + gap_bin[p]] += 1.0;
                }
            for (int i = 0; i < nb; ++i) {
                fixed[i] = hide_mp.strategy == DFL_STRATEGY_BLOCK &&
                           dfl_method_observed_blocks(&hide_mp, kept + (size_t)i * mc * px, mc, h, w) <= 1;
                fixed_samples += round == 0 && fixed[i];
            }
            memcpy(in, obs, (size_t)nb * c * px * sizeof(float));
            for (int i = 0; i < nb; ++i)
                for (int ch = 0; ch < c; ++ch)
                    for (size_t p = 0; p < px; ++p)
                        if (!kept[((size_t)i * mc + (mc == 1 ? 0 : ch)) * px + p])
                            in[((size_t)i * c + ch) * px + p] = 0.0f;
            s = dfl_imputer_run(im, &ro, nb, c, h, w, mc, in, kept, (uint32_t)key, pred, spread, NULL);
            if (s != DFL_OK) break;
            dfl_progress_add(pg, nb);
            if (weight) /* the spline through each sample's kept entries, from its prediction */
                dfl_spline_toward(dfl_imputer_backend(im), nb, c, h, w, mc, in, kept, pred, meta->periodic_x,
                                  meta->periodic_y, 0, toward, toward3);
            for (int i = 0; i < nb; ++i)
                for (int ch = 0; ch < c; ++ch) {
                    const uint8_t *k = kept + ((size_t)i * mc + (mc == 1 ? 0 : ch)) * px;
                    if (mc > 1 || ch == 0) /* once per mask plane, not per channel */
                        dfl_gap_bins(k, h, w, meta->periodic_x, meta->periodic_y, gap_bin);
                    for (size_t p = 0; p < px; ++p) {
                        size_t m = ((size_t)i * mc + (mc == 1 ? 0 : ch)) * px + p, x = ((size_t)i * c + ch) * px + p;
                        if (!mask[m] || kept[m]) continue;
                        double e = (double)pred[x] - obs[x];
                        const int bin = gap_bin[p];
                        ent = dfl_xgrow(ent, &cap, len + 1, sizeof *ent);
                        ent[len++] =
                            (hidden){(float)e, spread[x], toward[x], toward3 ? toward3[x] : 0.0f, ch, bin, fixed[i]};
                        gap_hidden[(size_t)ch * DFL_GAP_BINS + bin] += 1.0;
                        per_channel[ch]++;
                    }
                }
        }
        if (round == 0 && hide_mp.strategy == DFL_STRATEGY_PIXEL && !withheld)
            square = gap_square_side(gap_missing, gap_hidden, c);
    }
    dfl_progress_end(pg);
    free(per_channel);
    if (s == DFL_OK) {
        /* per channel: the hidden entries' errors and spreads, fitted (a 1, b 0 where there is nothing to fit) */
        float *e = dfl_xmalloc((len ? len : 1) * sizeof(float)), *sd = dfl_xmalloc((len ? len : 1) * sizeof(float));
        float *wt = dfl_xmalloc((len ? len : 1) * sizeof(float));
        float *tw = dfl_xmalloc((len ? len : 1) * sizeof(float)), *tw3 = dfl_xmalloc((len ? len : 1) * sizeof(float));
        int *bn = dfl_xmalloc((len ? len : 1) * sizeof(int)); /* the entries' gap bins */
        for (int ch = 0; ch < c; ++ch) {
            /* A sample whose K contexts are one (block contexts with a single
             * observed block left once one is hidden: two observed blocks)
             * shows no spread, where the test's contexts of that sample
             * differ. The fit leaves such entries out where the others are
             * enough to fit; where they are not, it fits the floor alone
             * (scale 0): a scale fitted to spreads near 0 multiplied the
             * test's spread 32-fold (block:3x3:2 masks, spread-skill 5.4). */
            size_t all = 0, varying = 0;
            for (size_t k = 0; k < len; ++k)
                if (ent[k].ch == ch) all++, varying += !ent[k].fixed;
            const int floor_only = varying < all && varying < DFL_CALIB_GAP_MIN_ENTRIES;
            double fit_hist[DFL_GAP_BINS] = {0}, bin_weight[DFL_GAP_BINS];
            for (size_t k = 0; k < len; ++k)
                if (ent[k].ch == ch && (floor_only || !ent[k].fixed)) fit_hist[ent[k].bin] += 1.0;
            dfl_spread_gap_weights(gap_missing + (size_t)ch * DFL_GAP_BINS, fit_hist, bin_weight);
            size_t n = 0;
            for (size_t k = 0; k < len; ++k)
                if (ent[k].ch == ch && (floor_only || !ent[k].fixed))
                    e[n] = ent[k].err, sd[n] = floor_only ? 0.0f : ent[k].sd, tw[n] = ent[k].toward,
                    tw3[n] = ent[k].toward3, bn[n] = ent[k].bin, wt[n++] = (float)bin_weight[ent[k].bin];
            /* the spline correction first, on the entries and weights of the spread's fit; the spread
             * is then fitted to the corrected errors */
            const int fit = !o->score_only; /* score_only: cal's weights, scale, floor and factors as they are */
            double beta = 0.0, beta3 = 0.0;
            if (!fit || keep_spline) /* the weights cal holds, applied */
                beta = weight ? weight[ch] : 0.0, beta3 = weight && weight3 ? weight3[ch] : 0.0;
            else if (weight)
                dfl_spline_weights_fit(e, tw, weight3 ? tw3 : NULL, wt, n, &beta, &beta3);
            double mse_net = 0.0, mse_fix = 0.0, wsum = 0.0;
            for (size_t k = 0; k < n; ++k) {
                mse_net += (double)wt[k] * e[k] * e[k];
                e[k] += (float)(beta * tw[k] + beta3 * tw3[k]);
                mse_fix += (double)wt[k] * e[k] * e[k];
                wsum += wt[k];
            }
            if (fit && weight) {
                weight[ch] = beta;
                if (weight3) weight3[ch] = beta3;
                dfl_info("%s: spline correction, channel %s: weight %.3f (order 2), %.3f (order 3)%s, hidden-entry "
                         "MSE %.4g -> %.4g (normalised units)",
                         who, info->channels[ch], beta, beta3, keep_spline ? " (kept)" : "",
                         wsum > 0 ? mse_net / wsum : 0.0, wsum > 0 ? mse_fix / wsum : 0.0);
            } else if (fit && weight3) {
                weight3[ch] = 0.0; /* no correction fitted: none of either order */
            }
            if (fit) {
                dfl_spread_fit_weighted(e, sd, wt, n, &scale[ch], &floor[ch]);
                if (floor_only) scale[ch] = 0.0;
            }
            /* then a factor per gap bin, on the same entries (e now the corrected errors) */
            double factor[DFL_GAP_BINS];
            if (!gap_factor) {
                for (int b = 0; b < DFL_GAP_BINS; ++b) factor[b] = 1.0;
            } else if (!fit) {
                memcpy(factor, gap_factor + (size_t)ch * DFL_GAP_BINS, sizeof factor);
            } else {
                double bin_e2[DFL_GAP_BINS] = {0}, bin_s2[DFL_GAP_BINS] = {0}, bin_n[DFL_GAP_BINS] = {0};
                for (size_t k = 0; k < n; ++k) {
                    const double sk = dfl_spread_calibrated(sd[k], scale[ch], floor[ch]);
                    bin_e2[bn[k]] += (double)e[k] * e[k], bin_s2[bn[k]] += sk * sk, bin_n[bn[k]] += 1.0;
                }
                dfl_spread_gap_factors(bin_e2, bin_s2, bin_n, factor);
                memcpy(gap_factor + (size_t)ch * DFL_GAP_BINS, factor, sizeof factor);
            }
            /* both as the fit weighs them: before, the network's errors and raw spread */
            for (size_t k = 0; k < len; ++k)
                if (ent[k].ch == ch && (floor_only || !ent[k].fixed))
                    dfl_spread_stats_add_weighted(&before[ch], ent[k].err, ent[k].sd, bin_weight[ent[k].bin]);
            for (size_t k = 0; k < n; ++k)
                dfl_spread_stats_add_weighted(
                    &after[ch], e[k], factor[bn[k]] * dfl_spread_calibrated(sd[k], scale[ch], floor[ch]), wt[k]);
            if (!fit) continue; /* the fit's log lines */
            if (gap_factor)
                dfl_info("%s: spread calibration, channel %s: factors by gap distance 1/2/3-4/5-8/9-16/17-32/33+ "
                         "%.2f/%.2f/%.2f/%.2f/%.2f/%.2f/%.2f",
                         who, info->channels[ch], factor[0], factor[1], factor[2], factor[3], factor[4], factor[5],
                         factor[6]);
            if (varying < all)
                dfl_info("%s: spread calibration, channel %s: %lld of %lld %s samples keep a single observed "
                         "block once one is hidden, so their %d contexts are one; %s",
                         who, info->channels[ch], (long long)fixed_samples, (long long)count, samples_of(who), o->K,
                         floor_only ? "too few others to fit a scale: the floor alone (std_scale 0)"
                                    : "the fit leaves their entries out");
            char gaps[2][96];
            for (int which = 0; which < 2; ++which) {
                const double *hist = (which ? gap_hidden : gap_missing) + (size_t)ch * DFL_GAP_BINS;
                double all = 0.0;
                for (int b = 0; b < DFL_GAP_BINS; ++b) all += hist[b];
                int at = 0;
                for (int b = 0; b < DFL_GAP_BINS; ++b)
                    at += snprintf(gaps[which] + at, sizeof gaps[which] - (size_t)at, "%s%.0f", b ? "/" : "",
                                   all > 0 ? 100.0 * hist[b] / all : 0.0);
            }
            dfl_info("%s: spread calibration, channel %s: gap distance 1/2/3-4/5-8/9-16/17-32/33+ of the "
                     "%s missing entries %s %%, of the hidden entries %s %%",
                     who, info->channels[ch], samples_of(who), gaps[0], gaps[1]);
        }
        free(e);
        free(sd);
        free(wt);
        free(tw);
        free(tw3);
        free(bn);
    }
    free(obs);
    free(clim_offset);
    free(toward);
    free(toward3);
    free(in);
    free(pred);
    free(spread);
    free(mask);
    free(kept);
    free(ctx);
    free(qry);
    free(ent);
    free(gap_bin);
    free(fixed);
    free(gap_missing);
    free(gap_hidden);
    return s;
}

/* The options of a calibration pass: single step at the config's t_eps, K draws. */
static dfl_impute_opts calib_opts(const dfl_imputer *im, int K, uint64_t seed) {
    dfl_impute_opts o;
    memset(&o, 0, sizeof o);
    o.K = K;
    o.steps = 1;
    o.ddim = 1;
    o.t_eps = (float)dfl_imputer_config(im)->infer_t_eps;
    o.seed = seed;
    o.fwd_rows = 0; /* one sample's K draws per forward, as `dynfill impute` */
    return o;
}

dfl_status dfl_std_calibrate_imputer(dfl_imputer *im, const dfl_dataset *ds, int64_t start, int64_t count, int64_t span,
                                     int K, uint64_t seed, int spread_only, const char *who, dfl_ckpt_calib *cal) {
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    dfl_impute_opts o = calib_opts(im, K, seed);
    o.spread_only = spread_only;
    dfl_spread_stats *before = dfl_xcalloc((size_t)info->c, sizeof *before);
    dfl_spread_stats *after = dfl_xcalloc((size_t)info->c, sizeof *after);
    dfl_status s = dfl_std_calibrate_run(im, &o, ds, start, count, span,
                                         calib_pass_samples(im, &o, dfl_imputer_backend(im), info, count),
                                         DFL_CALIB_HIDE_FRACTION, who, cal, before, after);
    cal->context_ratio = dfl_imputer_pixel_ratio(im);
    for (int ch = 0; s == DFL_OK && ch < info->c; ++ch) {
        const dfl_spread_stats *b = &before[ch], *a = &after[ch];
        double n = b->n > 0 ? b->n : 1;
        dfl_info("%s: spread calibration, channel %s: %.0f hidden entries of %lld %s samples, spread-skill "
                 "%.3f -> %.3f, +-1 std %.1f%% -> %.1f%%, +-2 std %.1f%% -> %.1f%%, std_scale %.4g, std_floor %.4g",
                 who, info->channels[ch], b->n, (long long)count, samples_of(who), dfl_spread_stats_ratio(b),
                 dfl_spread_stats_ratio(a), 100 * b->in1 / n, 100 * a->in1 / n, 100 * b->in2 / n, 100 * a->in2 / n,
                 cal->std_scale[ch], cal->std_floor[ch]);
    }
    free(before);
    free(after);
    return s;
}

dfl_status dfl_std_score_imputer(dfl_imputer *im, const dfl_dataset *ds, int64_t start, int64_t count, int64_t span,
                                 int K, uint64_t seed, const char *who, const dfl_ckpt_calib *cal,
                                 dfl_calib_score *score) {
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    dfl_impute_opts o = calib_opts(im, K, seed + DFL_CALIB_SCORE_SEED);
    o.score_only = 1;
    dfl_ckpt_calib use; /* dfl_std_calibrate_run only reads it with score_only */
    dfl_ckpt_calib_copy(&use, cal, info->c);
    dfl_spread_stats *before = dfl_xcalloc((size_t)info->c, sizeof *before);
    dfl_spread_stats *after = dfl_xcalloc((size_t)info->c, sizeof *after);
    dfl_status s = dfl_std_calibrate_run(im, &o, ds, start, count, span,
                                         calib_pass_samples(im, &o, dfl_imputer_backend(im), info, count),
                                         DFL_CALIB_HIDE_FRACTION, who, &use, before, after);
    dfl_spread_stats all = {0};
    memset(score, 0, sizeof *score);
    for (int ch = 0; ch < info->c; ++ch) {
        score->mse += after[ch].n > 0 ? after[ch].sq_err / after[ch].n / info->c : 0.0;
        score->crps += after[ch].n > 0 ? after[ch].crps / after[ch].n / info->c : 0.0;
        score->entries += before[ch].n;
        all.n += after[ch].n, all.sq_err += after[ch].sq_err, all.sq_std += after[ch].sq_std;
    }
    score->spread_skill = dfl_spread_stats_ratio(&all);
    dfl_ckpt_calib_free(&use);
    free(before);
    free(after);
    return s;
}

dfl_status dfl_std_calibrate(const char *ckpt_path, dfl_backend *be, const dfl_dataset *ds, int64_t start,
                             int64_t count, int64_t span, int K, uint64_t seed, dfl_ckpt_calib *cal) {
    dfl_imputer *im = NULL;
    DFL_TRY(dfl_imputer_create(ckpt_path, be, 0, &im));
    const dfl_config *cfg = dfl_imputer_config(im);
    if (!strcmp(cfg->infer_context, "pixel") && dfl_imputer_trained_method(im)->strategy != DFL_STRATEGY_PIXEL)
        dfl_imputer_set_pixel_contexts(im, cfg->context_ratio);
    dfl_status s = dfl_std_calibrate_imputer(im, ds, start, count, span, K, seed, 0, "train", cal);
    if (s == DFL_OK && !strcmp(cfg->infer_context, "auto")) /* it says which models it offers the choice */
        s = dfl_std_choose_contexts(im, ds, start, count, span, K, seed, cfg->context_ratio, "train", cal);
    dfl_imputer_destroy(im);
    return s;
}
