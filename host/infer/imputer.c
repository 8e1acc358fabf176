/* Ensemble imputation with a trained dfl-unet (include/dynfill/infer.h). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/memory.h"
#include "dynfill/infer.h"
#include "shared/philox.h"
#include "shared/sampler.h"
#include "shared/schedule.h"

/* Philox purpose tag of the sampler's initial noise (method tags are
 * 0x01..0x0F, data 0xD0..0xDF, init 0xA0). */
#define DFL_RNG_PURPOSE_SAMPLER_INIT 0xB0

struct dfl_imputer {
    dfl_backend *be;
    dfl_unet *model;
    dfl_config cfg;
    dfl_ckpt_meta meta;
    dfl_method_params trained; /* the checkpoint's [method] */
    dfl_method_params method;  /* the contexts imputation draws: trained, or dfl_imputer_set_pixel_contexts's */
    double pixel_ratio;        /* of dfl_imputer_set_pixel_contexts, 0 = the trained contexts */
    dfl_context_plan plan;
    /* backend buffers, grown as needed */
    void *d_plan;
    size_t d_plan_bytes;
    float *d_x, *d_input, *d_pred, *d_mean, *d_std;
    uint8_t *d_mask;
    size_t cap_x, cap_rows_px, cap_mask;
    int fwd_rows;   /* of the current dfl_imputer_run (dfl_impute_opts.fwd_rows) */
    int block_hide; /* of the current dfl_imputer_run (dfl_impute_opts.block_hide) */
};

int dfl_impute_fwd_rows(int K, int cap) {
    int r = cap < K ? cap : K;
    while (r > 1 && K % r) --r;
    return r < 1 ? 1 : r;
}

dfl_status dfl_imputer_create(const char *ckpt_path, dfl_backend *be, int use_raw, dfl_imputer **out) {
    dfl_imputer *im = dfl_xcalloc(1, sizeof *im);
    im->be = be;
    dfl_status s = dfl_checkpoint_build_model(ckpt_path, be, !use_raw, &im->cfg, &im->meta, &im->model);
    if (s == DFL_OK) s = dfl_method_params_from_config(&im->cfg, &im->trained);
    im->method = im->trained;
    if (s != DFL_OK) {
        if (im->model) {
            dfl_unet_destroy(im->model);
            dfl_ckpt_meta_free(&im->meta);
        }
        free(im);
        return s;
    }
    dfl_context_plan_init(&im->plan);
    *out = im;
    return DFL_OK;
}

static void release(dfl_backend *be, void *p) {
    if (p) be->free(be, p);
}

void dfl_imputer_destroy(dfl_imputer *im) {
    if (!im) return;
    dfl_backend *be = im->be;
    release(be, im->d_plan);
    release(be, im->d_x);
    release(be, im->d_input);
    release(be, im->d_pred);
    release(be, im->d_mean);
    release(be, im->d_std);
    release(be, im->d_mask);
    dfl_context_plan_free(&im->plan);
    dfl_unet_destroy(im->model);
    dfl_ckpt_meta_free(&im->meta);
    free(im);
}

const dfl_method_params *dfl_imputer_method(const dfl_imputer *im) { return &im->method; }
const dfl_method_params *dfl_imputer_trained_method(const dfl_imputer *im) { return &im->trained; }
void dfl_imputer_set_pixel_contexts(dfl_imputer *im, double ratio) {
    im->method = im->trained;
    im->pixel_ratio = ratio > 0 ? ratio : 0.0;
    if (ratio <= 0) return;
    /* the query is pixel's own: only the contexts matter at imputation */
    im->method.strategy = DFL_STRATEGY_PIXEL;
    im->method.query = DFL_QUERY_AUTO;
    im->method.context_ratio = (float)ratio;
}
double dfl_imputer_pixel_ratio(const dfl_imputer *im) { return im->pixel_ratio; }
const dfl_config *dfl_imputer_config(const dfl_imputer *im) { return &im->cfg; }
const dfl_ckpt_meta *dfl_imputer_meta(const dfl_imputer *im) { return &im->meta; }
dfl_backend *dfl_imputer_backend(const dfl_imputer *im) { return im->be; }

static void ensure(dfl_imputer *im, int n, int k, int c, int h, int w, int mc) {
    dfl_backend *be = im->be;
    size_t px = (size_t)h * w;
    size_t need_x = (size_t)n * c * px, need_rows = (size_t)n * k * px, need_mask = (size_t)n * mc * px;
    if (need_x > im->cap_x) {
        release(be, im->d_x);
        release(be, im->d_mean);
        release(be, im->d_std);
        im->d_x = be->alloc(be, need_x * sizeof(float));
        im->d_mean = be->alloc(be, need_x * sizeof(float));
        im->d_std = be->alloc(be, need_x * sizeof(float));
        im->cap_x = need_x;
    }
    if (need_rows > im->cap_rows_px) {
        release(be, im->d_input);
        release(be, im->d_pred);
        im->d_input = be->alloc(be, need_rows * 2 * c * sizeof(float));
        im->d_pred = be->alloc(be, need_rows * c * sizeof(float));
        im->cap_rows_px = need_rows;
    }
    if (need_mask > im->cap_mask) {
        release(be, im->d_mask);
        im->d_mask = be->alloc(be, need_mask);
        im->cap_mask = need_mask;
    }
}

/* One network evaluation of k context draws per sample at time t on the
 * current device state d_x: mean and spread of x0_hat over the draws into
 * d_mean / d_std (NCHW). */
static dfl_status ensemble_x0(dfl_imputer *im, int n, int k, int c, int h, int w, int mc, const uint8_t *mask_host,
                              float t, int x_is_state, int context_full, uint64_t seed, uint32_t step,
                              uint32_t sample_offset) {
    dfl_backend *be = im->be;
    dfl_plan_request rq;
    memset(&rq, 0, sizeof rq);
    rq.n = n;
    rq.k = k;
    rq.c = c;
    rq.h = h;
    rq.w = w;
    rq.mask_channels = mc;
    rq.mask = context_full ? NULL : mask_host;
    rq.t = t;
    rq.t_eps = DFL_T_EPS;
    rq.seed = seed;
    rq.step = step;
    rq.sample_offset = sample_offset;
    rq.inference = 1;
    dfl_method_params mp = im->method;
    if (im->block_hide > 0) mp.hide = im->block_hide;
    DFL_TRY(dfl_context_plan_make(&im->plan, &mp, &rq));
    if (im->plan.bytes > im->d_plan_bytes) {
        release(be, im->d_plan);
        im->d_plan = be->alloc(be, im->plan.capacity);
        im->d_plan_bytes = im->plan.capacity;
    }
    be->upload(be, im->d_plan, im->plan.data, im->plan.bytes);
    dfl_ensemble_build_args b;
    memset(&b, 0, sizeof b);
    b.n = n;
    b.c = c;
    b.h = h;
    b.w = w;
    b.mask_channels = mc;
    b.k = k;
    b.rule = dfl_method_rule(&im->method);
    b.plan = im->d_plan;
    b.x = im->d_x;
    b.mask = im->d_mask;
    b.partner_masks = im->method.strategy == DFL_STRATEGY_EMPIRICAL ? im->d_mask : NULL;
    b.x_is_state = x_is_state;
    b.context_full = context_full;
    b.net_input = im->d_input;
    be->ensemble_build(be, &b);
    /* forwards of one sample's draws (or fwd_rows of them): the same shapes whatever n is, so the
     * backend's kernels, and the result, do not depend on how the samples are split into passes */
    int rows = im->fwd_rows > 0 && im->fwd_rows < k ? im->fwd_rows : k;
    DFL_TRY(dfl_unet_plan_inference(im->model, rows, h, w));
    const float *tt = (const float *)((const char *)im->d_plan + DFL_PLAN_T_OFFSET);
    size_t in_row = (size_t)h * w * 2 * c, out_row = (size_t)h * w * c;
    for (size_t r0 = 0; r0 < (size_t)n * k; r0 += rows)
        dfl_unet_forward(im->model, im->d_input + r0 * in_row, tt + r0, im->d_pred + r0 * out_row);
    dfl_ensemble_reduce_args r = {n, k, c, h, w, im->d_pred, im->d_mean, im->d_std};
    be->ensemble_reduce(be, &r);
    return DFL_OK;
}

/* model.channels = shared: the network has one channel and the data C > 1; each channel of a sample is
 * then imputed as a one-channel sample of its own (docs/design.md, "Shared channels"). */
static int folds_channels(const dfl_imputer *im, int c) { return c > 1 && dfl_config_shares_channels(&im->cfg); }

/* A pass's bytes on the backend (parameters, plan, workspace, ensure()'s buffers) and on the host
 * (the multi-step sampler's state, the shared-channel masks), and its largest single buffer. */
static dfl_status pass_split(dfl_imputer *im, const dfl_impute_opts *o, int n, int c, int h, int w, int mask_c,
                             size_t *backend_bytes, size_t *host_bytes, size_t *largest) {
    size_t fold_host = 0;
    if (folds_channels(im, c)) {
        if ((long long)n * c > INT_MAX) return dfl_fail(DFL_EUSAGE, "%d samples x %d channels are too many", n, c);
        /* a shared mask repeated per channel */
        fold_host = mask_c == 1 ? (size_t)n * c * h * w : 0;
        n *= c;
        c = mask_c = 1;
    }
    long long rows = (long long)n * o->K;
    if (rows > INT_MAX) return dfl_fail(DFL_EUSAGE, "%d samples x K %d network rows are too many", n, o->K);
    if (o->fwd_rows < 0 || (o->fwd_rows > 0 && o->K % o->fwd_rows))
        return dfl_fail(DFL_EUSAGE, "%d network rows per forward do not divide K = %d", o->fwd_rows, o->K);
    dfl_unet_plan_size ps;
    DFL_TRY(dfl_unet_plan_measure(im->model, o->fwd_rows > 0 ? o->fwd_rows : o->K, h, w, 0, &ps));
    size_t px = (size_t)h * w, fl = sizeof(float);
    size_t x = (size_t)n * c * px * fl, row_px = (size_t)rows * px;
    /* ensure(): d_x, d_mean, d_std; d_input, d_pred; d_mask */
    size_t buf = 3 * x + row_px * 2 * c * fl + row_px * c * fl + (size_t)n * mask_c * px;
    *backend_bytes = dfl_unet_num_params(im->model) * fl + ps.arena_bytes + ps.workspace_bytes + buf;
    *host_bytes = (o->steps > 1 ? 2 * x : 0) + fold_host; /* the sampler's host state x, x0 */
    size_t big = ps.largest_bytes > row_px * 2 * c * fl ? ps.largest_bytes : row_px * 2 * c * fl;
    if (largest) *largest = big;
    return DFL_OK;
}

dfl_status dfl_imputer_pass_bytes(dfl_imputer *im, const dfl_impute_opts *o, int n, int c, int h, int w, int mask_c,
                                  size_t *bytes, size_t *largest) {
    size_t dev = 0, host = 0;
    DFL_TRY(pass_split(im, o, n, c, h, w, mask_c, &dev, &host, largest));
    *bytes = dev + host;
    return DFL_OK;
}

dfl_status dfl_imputer_fit(dfl_imputer *im, dfl_impute_opts *o, int shrink, int *n, int n_least, int c, int h, int w,
                           int mask_c, size_t extra, size_t fixed, size_t avail, const char *source, const char *knobs,
                           size_t *need) {
    int r = o->fwd_rows > 0 ? o->fwd_rows : o->K;
    dfl_impute_opts t = *o;
    for (;;) {
        t.fwd_rows = r == o->K ? o->fwd_rows : r;
        size_t dev = 0, host = 0, big = 0;
        DFL_TRY(pass_split(im, &t, *n, c, h, w, mask_c, &dev, &host, &big));
        /* host memory: everything; a device: its own buffers (backend_select.c, the CUDA estimate) */
        *need = im->be->memory_info ? dfl_backend_plan_need(im->be, dev + fixed, big)
                                    : dev + host + (size_t)*n * extra + fixed;
        if (!shrink || !avail || *need <= avail) break;
        if (*n > n_least)
            --*n;
        else if (r > 1)
            r = dfl_impute_fwd_rows(o->K, r - 1);
        else
            break;
    }
    o->fwd_rows = t.fwd_rows;
    char what[160];
    snprintf(what, sizeof what, "imputing %d sample%s x K %d per pass, %d network rows per forward", *n,
             *n > 1 ? "s" : "", o->K, o->fwd_rows > 0 ? o->fwd_rows : o->K);
    return dfl_memory_check(*need, avail, source, what, knobs);
}

/* The members of the last ensemble pass: d_pred holds n*K network rows [h, w, c] (NHWC, row
 * i*K + k is draw k of sample i); members gets them as [n, K, c, h, w]. Downloaded into place,
 * then each row is transposed through one row of scratch. */
static void download_members(dfl_imputer *im, int n, int K, int c, int h, int w, float *members) {
    const size_t hw = (size_t)h * w, row = hw * c, rows = (size_t)n * K;
    im->be->download(im->be, members, im->d_pred, rows * row * sizeof(float));
    float *nhwc = dfl_xmalloc(row * sizeof(float));
    for (size_t r = 0; r < rows; ++r) {
        float *m = members + r * row;
        memcpy(nhwc, m, row * sizeof(float));
        for (size_t p = 0; p < hw; ++p)
            for (int ch = 0; ch < c; ++ch) m[(size_t)ch * hw + p] = nhwc[p * c + ch];
    }
    free(nhwc);
}

/* dfl_imputer_run on the network's own channels. */
static dfl_status run_network(dfl_imputer *im, const dfl_impute_opts *o, int n, int c, int h, int w, int mask_c,
                              const float *obs, const uint8_t *mask, uint32_t sample_offset, float *pred, float *spread,
                              float *members) {
    dfl_backend *be = im->be;
    DFL_TRY(dfl_method_params_validate(&im->method, h, w));
    int K = o->K;
    if (o->fwd_rows < 0 || (o->fwd_rows > 0 && K % o->fwd_rows))
        return dfl_fail(DFL_EUSAGE, "%d network rows per forward do not divide K = %d", o->fwd_rows, K);
    im->fwd_rows = o->fwd_rows;
    if (o->block_hide < 0) return dfl_fail(DFL_EUSAGE, "block_hide = %d: must be >= 0", o->block_hide);
    im->block_hide = o->block_hide;
    ensure(im, n, K, c, h, w, mask_c);
    size_t numel = (size_t)n * c * h * w;
    be->upload(be, im->d_mask, mask, (size_t)n * mask_c * h * w);
    if (o->steps <= 1) {
        be->upload(be, im->d_x, obs, numel * sizeof(float));
        DFL_TRY(ensemble_x0(im, n, K, c, h, w, mask_c, mask, o->t_eps, 0, 0, o->seed, 0, sample_offset));
    } else {
        /* multi-step sampler: network passes at t_k = linspace(1, t_eps, S), the last (at t_eps, as the single
         * step) is the K-ensemble; contexts are drawn from M at every step (docs/method.md, "Multi-step sampler") */
        int S = o->steps;
        float *x = dfl_xmalloc(numel * sizeof(float)), *x0 = dfl_xmalloc(numel * sizeof(float));
        float a1 = dfl_vp_alpha(1.0f), s1 = dfl_vp_sigma(1.0f);
        size_t per = (size_t)c * h * w;
        for (size_t i = 0; i < numel; ++i) {
            uint64_t stream = dfl_rng_stream(DFL_RNG_PURPOSE_SAMPLER_INIT, 0, sample_offset + (uint32_t)(i / per));
            x[i] = dfl_sampler_init(obs[i], a1, s1, dfl_rng_normal(o->seed, stream, i % per));
        }
        dfl_status s = DFL_OK;
        for (int st = 0; st < S && s == DFL_OK; ++st) {
            int last = st == S - 1;
            float ts = last ? o->t_eps : 1.0f + (o->t_eps - 1.0f) * (float)st / (float)(S - 1);
            float tt = st + 1 == S - 1 ? o->t_eps : 1.0f + (o->t_eps - 1.0f) * (float)(st + 1) / (float)(S - 1);
            be->upload(be, im->d_x, x, numel * sizeof(float));
            s = ensemble_x0(im, n, last ? K : 1, c, h, w, mask_c, mask, ts, 1, 0, o->seed, (uint32_t)(st + 1),
                            sample_offset);
            if (s != DFL_OK || last) break;
            be->download(be, x0, im->d_mean, numel * sizeof(float));
            float as = dfl_vp_alpha(ts), ss = dfl_vp_sigma(ts), at = dfl_vp_alpha(tt), sgt = dfl_vp_sigma(tt);
            for (size_t i = 0; i < numel; ++i) {
                size_t smp = i / per, rem = i % per, ch = rem / ((size_t)h * w), p = rem % ((size_t)h * w);
                int observed = mask[smp * (size_t)mask_c * h * w + (mask_c == 1 ? 0 : ch) * (size_t)h * w + p] != 0;
                x[i] = dfl_sampler_update(x[i], x0[i], obs[i], observed, as, ss, at, sgt, o->ddim);
            }
        }
        free(x);
        free(x0);
        DFL_TRY(s);
    }
    be->download(be, pred, im->d_mean, numel * sizeof(float));
    if (spread) be->download(be, spread, im->d_std, numel * sizeof(float));
    if (members) download_members(im, n, K, c, h, w, members);
    return DFL_OK;
}

dfl_status dfl_imputer_run(dfl_imputer *im, const dfl_impute_opts *o, int n, int c, int h, int w, int mask_c,
                           const float *obs, const uint8_t *mask, uint32_t sample_offset, float *pred, float *spread,
                           float *members) {
    if (c != im->meta.channels)
        return dfl_fail(DFL_EUSAGE, "the data has %d channels, the model was trained on %d", c, im->meta.channels);
    if (!folds_channels(im, c))
        return run_network(im, o, n, c, h, w, mask_c, obs, mask, sample_offset, pred, spread, members);
    /* [n, C, h, w] is [n*C, 1, h, w] in memory: obs, pred and spread as they are; sample i's channel ch is
     * network sample i*C + ch, so its draws are those of that sample of a one-channel file */
    if ((long long)n * c > INT_MAX) return dfl_fail(DFL_EUSAGE, "%d samples x %d channels are too many", n, c);
    const size_t hw = (size_t)h * w, fields = (size_t)n * c;
    uint8_t *mask1 = NULL;
    if (mask_c == 1) {
        mask1 = dfl_xmalloc(fields * hw);
        for (size_t f = 0; f < fields; ++f) memcpy(mask1 + f * hw, mask + f / (size_t)c * hw, hw);
    }
    dfl_status s = run_network(im, o, n * c, 1, h, w, 1, obs, mask1 ? mask1 : mask, sample_offset * (uint32_t)c, pred,
                               spread, members);
    if (s == DFL_OK && members) { /* each sample's [C, K, h, w] -> [K, C, h, w], through one sample of scratch */
        const size_t K = (size_t)o->K, block = (size_t)c * K * hw;
        float *one = dfl_xmalloc(block * sizeof(float));
        for (int i = 0; i < n; ++i) {
            float *m = members + (size_t)i * block;
            memcpy(one, m, block * sizeof(float));
            for (size_t ch = 0; ch < (size_t)c; ++ch)
                for (size_t k = 0; k < K; ++k)
                    memcpy(m + (k * c + ch) * hw, one + (ch * K + k) * hw, hw * sizeof(float));
        }
        free(one);
    }
    free(mask1);
    return s;
}

void dfl_renormalise(float *x, int n, int c, size_t px, const double *mean_a, const double *std_a, const double *mean_b,
                     const double *std_b, int shift) {
    for (int i = 0; i < n; ++i)
        for (int ch = 0; ch < c; ++ch) {
            float *p = x + ((size_t)i * c + ch) * px;
            double sc = std_a[ch] / std_b[ch], off = shift ? (mean_a[ch] - mean_b[ch]) / std_b[ch] : 0.0;
            for (size_t j = 0; j < px; ++j) p[j] = (float)(p[j] * sc + off);
        }
}
