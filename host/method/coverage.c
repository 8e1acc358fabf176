/* Query coverage estimate of Theorem 1 (method/coverage.h): Monte Carlo
 * over the dataset's masks with the strategy's own mask sampler. */
#include "coverage.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mask_window.h"
#include "shared/schedule.h"

/* Context-density bin of an entry with k context entries among the a
 * other entries of its window: 0 when none, else 1 + floor(7 k / a)
 * capped at 7 (a full window). */
static int density_bin(int k, int a) {
    if (k <= 0 || a <= 0) return 0;
    int b = 1 + (7 * k) / a;
    return b > DFL_COVERAGE_BINS - 1 ? DFL_COVERAGE_BINS - 1 : b;
}

dfl_status dfl_coverage_estimate(const dfl_coverage_request *rq, dfl_coverage_result *out) {
    memset(out, 0, sizeof *out);
    if (rq->n < 1 || rq->c < 1 || rq->h < 1 || rq->w < 1 || (rq->mc != 1 && rq->mc != rq->c))
        return dfl_fail(DFL_EUSAGE, "coverage: bad shape n %d c %d mask channels %d h %d w %d", rq->n, rq->c, rq->mc,
                        rq->h, rq->w);
    if (rq->draws < 1) return dfl_fail(DFL_EUSAGE, "coverage: --samples must be at least 1");
    if (rq->radius < 0) return dfl_fail(DFL_EUSAGE, "coverage: --radius must be >= 0");
    DFL_TRY(dfl_method_params_validate(rq->method, rq->h, rq->w));
    if (rq->draws < rq->n && !rq->picks)
        return dfl_fail(DFL_EINTERNAL, "coverage: %lld draws of %d samples without picks", (long long)rq->draws, rq->n);

    const int h = rq->h, w = rq->w, mc = rq->mc, r = rq->radius;
    const size_t plane = (size_t)h * w, entries = (size_t)mc * plane;
    uint8_t *ever_observed = dfl_xcalloc(entries, 1);
    for (int i = 0; i < rq->n; ++i)
        for (size_t e = 0; e < entries; ++e) ever_observed[e] |= rq->masks[(size_t)i * entries + e] != 0;

    /* training counts per (mask channel, bin); imputation-side bin histograms per entry */
    double *seen = dfl_xcalloc((size_t)mc * DFL_COVERAGE_BINS, sizeof(double));
    double *queried = dfl_xcalloc((size_t)mc * DFL_COVERAGE_BINS, sizeof(double));
    uint32_t *missing_hist = dfl_xcalloc(entries * DFL_COVERAGE_BINS, sizeof(uint32_t));
    uint32_t *query_count = dfl_xcalloc(entries, sizeof(uint32_t));
    uint8_t *ctx = dfl_xmalloc(entries), *qry = dfl_xmalloc(entries);
    int32_t *sat = dfl_xmalloc(sizeof(int32_t) * (size_t)(h + 1) * (size_t)(w + 1));
    dfl_context_plan plan;
    dfl_context_plan_init(&plan);
    dfl_status st = DFL_OK;

    for (int64_t d = 0; d < rq->draws && st == DFL_OK; ++d) {
        const int every = rq->draws >= rq->n; /* each sample once per cycle, else the caller's picks */
        const int i = every ? (int)(d % rq->n) : (int)rq->picks[d];
        const uint32_t step = every ? (uint32_t)(d / rq->n) : 0u;
        const uint8_t *m = rq->masks + (size_t)i * entries;
        int64_t self = i;
        dfl_plan_request pr = {.n = 1,
                               .k = 1,
                               .c = rq->c,
                               .h = h,
                               .w = w,
                               .mask_channels = mc,
                               .mask = m,
                               .pool = rq->masks,
                               .pool_n = rq->n,
                               .self_in_pool = &self,
                               .t = 0.5f,
                               .t_eps = DFL_T_EPS,
                               .seed = rq->seed,
                               .step = step,
                               .sample_offset = (uint32_t)i & 0xFFFFFFu};
        st = dfl_context_plan_make(&plan, rq->method, &pr);
        if (st != DFL_OK) break;
        const uint8_t *partner = plan.partner[0] >= 0 ? rq->masks + (size_t)plan.partner[0] * entries : NULL;
        dfl_method_sample_masks(rq->method, &plan, 0, rq->c, h, w, mc, m, partner, ctx, qry);
        for (int ch = 0; ch < mc; ++ch) {
            const size_t base = (size_t)ch * plane;
            dfl_mask_integral_image(ctx + base, h, w, sat);
            for (int y = 0; y < h; ++y) {
                const int y0 = y - r < 0 ? 0 : y - r, y1 = y + r + 1 > h ? h : y + r + 1;
                for (int x = 0; x < w; ++x) {
                    const size_t e = base + (size_t)y * w + x;
                    if (ctx[e]) continue; /* only entries outside the context matter */
                    const int x0 = x - r < 0 ? 0 : x - r, x1 = x + r + 1 > w ? w : x + r + 1;
                    const int area = (y1 - y0) * (x1 - x0) - 1;
                    const int b = density_bin(dfl_mask_window_sum(sat, w, y0, x0, y1, x1), area);
                    seen[ch * DFL_COVERAGE_BINS + b] += 1.0;
                    queried[ch * DFL_COVERAGE_BINS + b] += qry[e];
                    query_count[e] += qry[e];
                    if (!m[e]) missing_hist[e * DFL_COVERAGE_BINS + b] += 1;
                }
            }
        }
    }

    if (st == DFL_OK) {
        out->mc = mc;
        out->h = h;
        out->w = w;
        out->entries = (int64_t)entries;
        out->map = dfl_xmalloc(entries * sizeof(float));
        out->query_rate = dfl_xmalloc(entries * sizeof(float));
        for (int b = 0; b < DFL_COVERAGE_BINS; ++b) {
            double s = 0, q = 0;
            for (int ch = 0; ch < mc; ++ch) {
                s += seen[ch * DFL_COVERAGE_BINS + b];
                q += queried[ch * DFL_COVERAGE_BINS + b];
            }
            out->p_bin[b] = s > 0 ? q / s : -1.0;
        }
        double sum = 0, mn = INFINITY;
        for (size_t e = 0; e < entries; ++e) {
            const int ch = (int)(e / plane);
            out->query_rate[e] = (float)((double)query_count[e] / (double)rq->draws);
            double events = 0, acc = 0;
            for (int b = 0; b < DFL_COVERAGE_BINS; ++b) {
                const double hcount = missing_hist[e * DFL_COVERAGE_BINS + b];
                if (hcount == 0) continue;
                const double s =
                    seen[ch * DFL_COVERAGE_BINS + b]; /* >= hcount: each such event is also a training event */
                events += hcount;
                acc += hcount * queried[ch * DFL_COVERAGE_BINS + b] / s;
            }
            if (events == 0) {
                out->map[e] = NAN;
                continue;
            }
            const double cov = ever_observed[e] ? acc / events : 0.0;
            out->map[e] = (float)cov;
            out->scored++;
            sum += cov;
            if (cov < mn) mn = cov;
            if (!ever_observed[e]) {
                out->unobservable++;
            } else if (cov < rq->threshold) {
                out->below++;
                if (cov == 0.0) out->zero++;
            }
        }
        out->min = out->scored ? mn : 0.0;
        out->mean = out->scored ? sum / (double)out->scored : 0.0;
    }

    dfl_context_plan_free(&plan);
    free(sat);
    free(ctx);
    free(qry);
    free(query_count);
    free(missing_hist);
    free(queried);
    free(seen);
    free(ever_observed);
    if (st != DFL_OK) dfl_coverage_result_free(out);
    return st;
}

void dfl_coverage_result_free(dfl_coverage_result *res) {
    free(res->map);
    free(res->query_rate);
    memset(res, 0, sizeof *res);
}

void dfl_coverage_warning(const dfl_coverage_result *res, const dfl_method_params *method, double threshold,
                          int unseen_withheld, char *buf, size_t len) {
    buf[0] = 0;
    size_t used = 0;
    const char *name = dfl_method_strategy_name(method->strategy);
    const double scored = res->scored > 0 ? (double)res->scored : 1.0;
    if (res->zero > 0)
        used += (size_t)snprintf(
            buf + used, len - used,
            "warning: %lld of %lld entries that are missing in the data (%.1f%%) are never queried when outside the "
            "context under strategy '%s' (%lld with query probability below %g): the model cannot learn to fill them "
            "(Theorem 1). Use a strategy whose context masks look like the observation masks (e.g. method.strategy = "
            "block for block-missing data).\n",
            (long long)res->zero, (long long)res->scored, 100.0 * (double)res->zero / scored, name,
            (long long)res->below, threshold);
    else if (res->below > 0)
        used += (size_t)snprintf(
            buf + used, len - used,
            "warning: %lld of %lld entries that are missing in the data (%.1f%%) have query probability below %g under "
            "strategy '%s': they receive few updates (Theorem 1). Consider a strategy whose context masks look like "
            "the observation masks, or a lower context_ratio.\n",
            (long long)res->below, (long long)res->scored, 100.0 * (double)res->below / scored, threshold, name);
    if (res->unobservable > 0 && used < len)
        snprintf(buf + used, len - used,
                 "warning: %lld of %lld entries that are missing in the data (%.1f%%) are observed in no sample: no "
                 "strategy ever queries them, the model fills them only by generalising from other positions "
                 "(Theorem 1)%s\n",
                 (long long)res->unobservable, (long long)res->scored, 100.0 * (double)res->unobservable / scored,
                 unseen_withheld ? "; the spread calibration measures its error there at the station cells training "
                                   "withholds (data.withhold_cells)."
                                 : ", and the spread calibration, which hides observed entries, cannot measure the "
                                   "error there: /std is too narrow at them.");
}
