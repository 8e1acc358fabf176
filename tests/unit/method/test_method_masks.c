/* Mask statistics of the five context/query strategies (docs/design.md, "The method"
 * table) drawn through the per-batch plan and the host sampler, which
 * runs the same per-element code as the fused ops: ratios within binomial
 * error, subset relations M_ctx ⊆ M and M_qry ⊆ M, complement
 * disjointness, block structure (whole blocks, remainder blocks, uniform
 * choice), empirical ⊆ partner (a batch of one, or no other mask splitting the sample's into a context
 * and a query: its own mask shifted, else the whole observation), t range, determinism. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dfl_test.h"
#include "dynfill/backend.h"
#include "dynfill/method.h"
#include "shared/context_plan.h"
#include "shared/mask_strategy.h"
#include "shared/schedule.h"

enum { NS = 48, C = 2, H = 26, W = 26 }; /* 26 = 8 + 8 + 10: the last block row/column takes the remainder */

/* Observation masks: Bernoulli(p) per entry from Philox (test purpose tag). */
static void pixel_masks(uint8_t *m, int n, int mc, float p, uint64_t seed) {
    for (size_t i = 0; i < (size_t)n * mc * H * W; ++i) m[i] = dfl_rng_uniform(seed, 0xEE, i) < p;
}

/* Block masks on a 3x3 grid: each sample misses `missing` random blocks. */
static void block_masks(uint8_t *m, int n, int missing, uint64_t seed) {
    for (int i = 0; i < n; ++i) {
        int order[9];
        for (int b = 0; b < 9; ++b) order[b] = b;
        for (int b = 0; b < 9; ++b) {
            int j = b + (int)(dfl_rng_uniform(seed, 0xEF, (uint64_t)(i * 9 + b)) * (float)(9 - b));
            if (j > 8) j = 8;
            int t = order[b];
            order[b] = order[j];
            order[j] = t;
        }
        uint8_t miss[9] = {0};
        for (int r = 0; r < missing; ++r) miss[order[r]] = 1;
        for (int y = 0; y < H; ++y)
            for (int x = 0; x < W; ++x) m[((size_t)i * H + y) * W + x] = !miss[dfl_block_index(y, x, H, W, 3, 3)];
    }
}

typedef struct {
    dfl_context_plan plan;
    dfl_plan_request rq;
    uint8_t *ctx, *qry; /* [slots, mc, H, W] */
} draws;

static dfl_status draw_all(draws *d, const dfl_method_params *mp, const uint8_t *mask, int n, int k, int mc,
                           uint32_t step) {
    const int inference = d->rq.inference; /* kept: set by the caller */
    memset(&d->rq, 0, sizeof d->rq);
    d->rq.inference = inference;
    d->rq.n = n;
    d->rq.k = k;
    d->rq.c = C;
    d->rq.h = H;
    d->rq.w = W;
    d->rq.mask_channels = mc;
    d->rq.mask = mask;
    d->rq.t_eps = DFL_T_EPS;
    d->rq.seed = 1234;
    d->rq.step = step;
    d->rq.sample_offset = 100;
    dfl_status st = dfl_context_plan_make(&d->plan, mp, &d->rq);
    if (st != DFL_OK) return st;
    const size_t mhw = (size_t)mc * H * W;
    for (int s = 0; s < n * k; ++s) {
        int i = s / k;
        int p = d->plan.partner[s];
        dfl_method_sample_masks(mp, &d->plan, s, C, H, W, mc, mask ? mask + i * mhw : NULL,
                                p >= 0 ? mask + (size_t)p * mhw : NULL, d->ctx + s * mhw, d->qry + s * mhw);
    }
    return DFL_OK;
}

/* counts over all slots: observed entries, ctx, qry, both; subset violations */
typedef struct {
    double obs, ctx, qry, both, ctx_out, qry_out;
} tally;

static tally count(const draws *d, const uint8_t *mask, int n, int k, int mc) {
    tally t = {0};
    const size_t mhw = (size_t)mc * H * W;
    for (int s = 0; s < n * k; ++s) {
        const uint8_t *m = mask + (s / k) * mhw, *c = d->ctx + s * mhw, *q = d->qry + s * mhw;
        for (size_t e = 0; e < mhw; ++e) {
            t.obs += m[e];
            t.ctx += c[e];
            t.qry += q[e];
            t.both += c[e] && q[e];
            t.ctx_out += c[e] && !m[e];
            t.qry_out += q[e] && !m[e];
        }
    }
    return t;
}

/* |got - p| within 5 binomial standard deviations of n trials */
#define CHECK_RATE(got, p, n)                                                                                          \
    CHECK_MSG(fabs((got) - (p)) <= 5.0 * sqrt((p) * (1.0 - (p)) / (n)) + 1e-12, "rate %.5f, expected %.5f (n %.0f)",   \
              (got), (p), (n))

static void test_pixel(int mc) {
    const int n = NS, k = 4;
    const size_t mhw = (size_t)mc * H * W;
    uint8_t *mask = malloc((size_t)n * mhw);
    pixel_masks(mask, n, mc, 0.6f, 7);
    draws d = {0};
    dfl_context_plan_init(&d.plan);
    d.ctx = malloc((size_t)n * k * mhw);
    d.qry = malloc((size_t)n * k * mhw);
    dfl_method_params mp;
    dfl_method_params_default(&mp);
    mp.context_ratio = 0.7f;
    mp.query_ratio = 0.4f;

    /* independent query (the paper's; the default is complement) */
    mp.query = DFL_QUERY_INDEPENDENT;
    CHECK(draw_all(&d, &mp, mask, n, k, mc, 3) == DFL_OK);
    tally t = count(&d, mask, n, k, mc);
    CHECK(t.ctx_out == 0 && t.qry_out == 0);
    CHECK_RATE(t.ctx / t.obs, 0.7, t.obs);
    CHECK_RATE(t.qry / t.obs, 0.4, t.obs);
    CHECK_RATE(t.both / t.obs, 0.28, t.obs); /* U and U' independent */
    /* draws differ between the K context draws of one sample */
    CHECK(memcmp(d.ctx, d.ctx + mhw, mhw) != 0);
    if (mc == C) { /* per element: channel 0 and 1 differ somewhere */
        int differ = 0;
        for (size_t e = 0; e < (size_t)H * W; ++e) differ += d.ctx[e] != d.ctx[H * W + e];
        CHECK(differ > 0);
    }

    /* complement: disjoint, union = M */
    mp.query = DFL_QUERY_COMPLEMENT;
    CHECK(draw_all(&d, &mp, mask, n, k, mc, 3) == DFL_OK);
    t = count(&d, mask, n, k, mc);
    CHECK(t.both == 0 && t.ctx_out == 0 && t.qry_out == 0);
    CHECK(t.ctx + t.qry == t.obs);
    CHECK_RATE(t.ctx / t.obs, 0.7, t.obs);

    /* observed: qry = M */
    mp.query = DFL_QUERY_OBSERVED;
    CHECK(draw_all(&d, &mp, mask, n, k, mc, 3) == DFL_OK);
    t = count(&d, mask, n, k, mc);
    CHECK(t.qry == t.obs && t.qry_out == 0);

    /* determinism: same keys, same bits; another step, other bits */
    mp.query = DFL_QUERY_INDEPENDENT;
    uint8_t *again = malloc((size_t)n * k * mhw);
    CHECK(draw_all(&d, &mp, mask, n, k, mc, 5) == DFL_OK);
    memcpy(again, d.ctx, (size_t)n * k * mhw);
    CHECK(draw_all(&d, &mp, mask, n, k, mc, 5) == DFL_OK);
    CHECK(memcmp(again, d.ctx, (size_t)n * k * mhw) == 0);
    CHECK(draw_all(&d, &mp, mask, n, k, mc, 6) == DFL_OK);
    CHECK(memcmp(again, d.ctx, (size_t)n * k * mhw) != 0);

    free(again);
    free(d.ctx);
    free(d.qry);
    free(mask);
    dfl_context_plan_free(&d.plan);
}

static void test_block(void) {
    const int n = NS, k = 8, mc = 1;
    const size_t mhw = (size_t)H * W;
    uint8_t *mask = malloc((size_t)n * mhw);
    block_masks(mask, n, 1, 11); /* 8 of 9 blocks observed */
    /* sample 0: additionally thin out pixels, so blocks are "observed" with partial coverage */
    for (size_t e = 0; e < mhw; ++e) mask[e] = mask[e] && dfl_rng_uniform(3, 0xED, e) < 0.5f;
    draws d = {0};
    dfl_context_plan_init(&d.plan);
    d.ctx = malloc((size_t)n * k * mhw);
    d.qry = malloc((size_t)n * k * mhw);
    dfl_method_params mp;
    dfl_method_params_default(&mp);
    mp.strategy = DFL_STRATEGY_BLOCK;
    mp.hide = 2;

    CHECK(draw_all(&d, &mp, mask, n, k, mc, 1) == DFL_OK);
    CHECK(d.plan.header->blocks == 9 && d.plan.hidden != NULL);
    tally t = count(&d, mask, n, k, mc);
    CHECK(t.both == 0 && t.ctx_out == 0 && t.qry_out == 0 && t.ctx + t.qry == t.obs);
    double hidden_freq[9] = {0}, observed_freq[9] = {0};
    int whole = 1, plan_match = 1, count_ok = 1;
    for (int s = 0; s < n * k; ++s) {
        const uint8_t *m = mask + (s / k) * mhw, *c = d.ctx + s * mhw, *q = d.qry + s * mhw;
        const uint8_t *hid = d.plan.hidden + s * 9;
        int nobs = 0, nhid = 0;
        for (int b = 0; b < 9; ++b) {
            /* the block's extent, remainder included: rows/cols 0-7, 8-15, 16-25 */
            int y0 = (b / 3) * 8, y1 = b / 3 == 2 ? H : y0 + 8, x0 = (b % 3) * 8, x1 = b % 3 == 2 ? W : x0 + 8;
            int obs = 0, in_ctx = 0, in_qry = 0;
            for (int y = y0; y < y1; ++y)
                for (int x = x0; x < x1; ++x) {
                    obs += m[y * W + x];
                    in_ctx += c[y * W + x];
                    in_qry += q[y * W + x];
                }
            /* a block is either entirely in the context (all its observed entries) or entirely hidden */
            if (!(in_ctx == 0 || in_ctx == obs)) whole = 0;
            if (hid[b] && (in_ctx != 0 || in_qry != obs)) plan_match = 0;
            if (!hid[b] && (in_ctx != obs || in_qry != 0)) plan_match = 0;
            if (hid[b] && !obs) plan_match = 0; /* only observed blocks are hidden */
            nobs += obs > 0;
            nhid += hid[b];
            if (obs) observed_freq[b] += 1;
            if (hid[b]) hidden_freq[b] += 1;
        }
        if (nhid != (nobs < 2 ? nobs : nobs - 1 < 2 ? nobs - 1 : 2)) count_ok = 0;
    }
    CHECK(whole);
    CHECK(plan_match);
    CHECK(count_ok);
    /* uniform choice: each observed block hidden with probability hide / 8 */
    for (int b = 0; b < 9; ++b) CHECK_RATE(hidden_freq[b] / observed_freq[b], 2.0 / 8.0, observed_freq[b]);

    /* query = observed */
    mp.query = DFL_QUERY_OBSERVED;
    CHECK(draw_all(&d, &mp, mask, n, k, mc, 1) == DFL_OK);
    t = count(&d, mask, n, k, mc);
    CHECK(t.qry == t.obs && t.ctx_out == 0);

    /* hide >= observed blocks: the context keeps one observed block (two observed, hide 2: one hidden) */
    block_masks(mask, n, 7, 13); /* two observed blocks */
    mp.query = DFL_QUERY_AUTO;
    for (int inference = 0; inference < 2; ++inference) {
        d.rq.inference = inference;
        CHECK(draw_all(&d, &mp, mask, n, k, mc, 1) == DFL_OK);
        int one_kept = 1;
        for (int s = 0; s < n * k; ++s) {
            int nhid = 0;
            for (int b = 0; b < 9; ++b) nhid += d.plan.hidden[s * 9 + b];
            one_kept &= nhid == 1;
        }
        t = count(&d, mask, n, k, mc);
        CHECK(one_kept && t.ctx > 0 && t.qry > 0 && t.ctx + t.qry == t.obs);
    }
    /* one observed block: a training draw hides it (empty context, the block queried [ref]); an imputation's
     * draw keeps it (the context is the observation, nothing queried) */
    block_masks(mask, n, 8, 12);
    d.rq.inference = 0;
    CHECK(draw_all(&d, &mp, mask, n, k, mc, 1) == DFL_OK);
    t = count(&d, mask, n, k, mc);
    CHECK(t.ctx == 0 && t.qry == t.obs);
    d.rq.inference = 1;
    CHECK(draw_all(&d, &mp, mask, n, k, mc, 1) == DFL_OK);
    t = count(&d, mask, n, k, mc);
    CHECK(t.ctx == t.obs && t.qry == 0);
    d.rq.inference = 0;

    /* context over the full field (mask NULL): hide blocks out of all nine */
    CHECK(draw_all(&d, &mp, NULL, 2, 1, mc, 1) == DFL_OK);
    int hidden = 0, in_ctx = 0;
    for (int b = 0; b < 9; ++b) hidden += d.plan.hidden[b];
    for (size_t e = 0; e < mhw; ++e) in_ctx += d.ctx[e];
    CHECK(hidden == 2);
    CHECK(in_ctx > 0 && in_ctx < (int)mhw);

    /* a grid that does not fit, hide out of range, a query the strategy lacks */
    mp.grid_h = 30;
    CHECK(draw_all(&d, &mp, mask, n, k, mc, 1) == DFL_EUSAGE);
    dfl_clear_error();
    mp.grid_h = 3;
    mp.hide = 9;
    CHECK(dfl_method_params_validate(&mp, H, W) == DFL_EUSAGE);
    dfl_clear_error();
    mp.hide = 1;
    mp.query = DFL_QUERY_INDEPENDENT;
    CHECK(dfl_method_params_validate(&mp, H, W) == DFL_EUSAGE);
    dfl_clear_error();

    free(d.ctx);
    free(d.qry);
    free(mask);
    dfl_context_plan_free(&d.plan);
}

static void test_empirical(void) {
    const int n = NS, k = 4, mc = 1;
    const size_t mhw = (size_t)H * W;
    uint8_t *mask = malloc((size_t)n * mhw);
    block_masks(mask, n, 3, 21);
    /* sample 5 observes only block 0; sample 6 only block 8: disjoint from each other */
    for (size_t e = 0; e < mhw; ++e) {
        int b = dfl_block_index((int)(e / W), (int)(e % W), H, W, 3, 3);
        mask[5 * mhw + e] = b == 0;
        mask[6 * mhw + e] = b == 8;
    }
    draws d = {0};
    dfl_context_plan_init(&d.plan);
    d.ctx = malloc((size_t)n * k * mhw);
    d.qry = malloc((size_t)n * k * mhw);
    dfl_method_params mp;
    dfl_method_params_default(&mp);
    mp.strategy = DFL_STRATEGY_EMPIRICAL;
    CHECK(draw_all(&d, &mp, mask, n, k, mc, 2) == DFL_OK);
    tally t = count(&d, mask, n, k, mc);
    CHECK(t.both == 0 && t.ctx_out == 0 && t.qry_out == 0 && t.ctx + t.qry == t.obs);
    /* split[i]: another sample's mask splits M_i (M_i ∧ M_j holds some of M_i, not all) */
    int split[NS] = {0}, self_pairs = 0;
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) {
            size_t both = 0, obs = 0;
            for (size_t e = 0; e < mhw; ++e) both += mask[i * mhw + e] && mask[j * mhw + e], obs += mask[i * mhw + e];
            split[i] |= j != i && both > 0 && both < obs;
        }
    CHECK(split[0] && !split[5] && !split[6]); /* one observed block: others hold all of it or none */
    int exact = 1, splits = 1, not_self = 1, in_range = 1, distinct = 0;
    for (int s = 0; s < n * k; ++s) {
        int i = s / k, j = d.plan.partner[s];
        if (j < 0 || j >= n) {
            in_range = 0;
            continue;
        }
        const int dy = (int)(d.plan.shift[s] >> 16), dx = (int)(d.plan.shift[s] & 0xFFFFu);
        if (j == i) { /* only where no other mask splits M_i: its own, shifted */
            not_self &= !split[i] && (dy || dx);
            ++self_pairs;
        }
        if (s % k && j != d.plan.partner[s - 1]) ++distinct;
        const uint8_t *m = mask + i * mhw, *mj = mask + j * mhw, *c = d.ctx + s * mhw;
        size_t any = 0, obs = 0;
        for (int y = 0; y < H; ++y)
            for (int x = 0; x < W; ++x) {
                const size_t e = (size_t)y * W + x;
                if (c[e] != (m[e] && mj[((y + dy) % H) * W + (x + dx) % W])) exact = 0; /* ctx = M ∧ M_j */
                any += c[e];
                obs += m[e];
            }
        if (!any || any == obs) splits = 0; /* redrawn while nothing is read or nothing is queried */
    }
    CHECK(in_range && not_self && exact && splits);
    CHECK(self_pairs == 2 * k); /* samples 5 and 6 */
    CHECK(distinct > n);        /* the K draws of a sample pick different partners */

    /* batch of one: its own mask, shifted circularly by (dy, dx) != (0, 0): ctx = M ∧ M(y + dy, x + dx) */
    CHECK(draw_all(&d, &mp, mask, 1, k, mc, 2) == DFL_OK);
    int own = 1, shifted = 1, own_exact = 1, own_nonempty = 1, shifts_differ = 0;
    for (int s = 0; s < k; ++s) {
        const uint32_t sh = d.plan.shift[s];
        const int dy = (int)(sh >> 16), dx = (int)(sh & 0xFFFFu);
        own &= d.plan.partner[s] == 0;
        shifted &= (dy || dx) && dy < H && dx < W;
        if (s && sh != d.plan.shift[s - 1]) ++shifts_differ;
        int any = 0;
        for (int y = 0; y < H; ++y)
            for (int x = 0; x < W; ++x) {
                const int want = mask[y * W + x] && mask[((y + dy) % H) * W + (x + dx) % W];
                if (d.ctx[(size_t)s * mhw + (size_t)y * W + x] != want) own_exact = 0;
                any += want;
            }
        own_nonempty &= any > 0;
    }
    CHECK(own && shifted && own_exact && own_nonempty);
    CHECK_MSG(shifts_differ >= k - 2, "%d of %d consecutive draws moved the shift", shifts_differ, k - 1);
    t = count(&d, mask, 1, k, mc);
    CHECK(t.both == 0 && t.ctx_out == 0 && t.qry_out == 0 && t.ctx + t.qry == t.obs);
    /* the other slots of a batch of two keep shift 0 */
    CHECK(draw_all(&d, &mp, mask, 2, k, mc, 2) == DFL_OK);
    int unshifted = 1;
    for (int s = 0; s < 2 * k; ++s) unshifted &= d.plan.shift[s] == 0;
    CHECK(unshifted);
    /* one observed entry: no shift can meet it, so the context is the whole observation (shift 0), not empty */
    uint8_t *single = calloc(mhw, 1);
    single[7 * W + 11] = 1;
    CHECK(draw_all(&d, &mp, single, 1, 2, mc, 2) == DFL_OK);
    int whole = 1;
    for (size_t e = 0; e < 2 * mhw; ++e) whole &= d.ctx[e] == (e % mhw == 7 * W + 11) && d.qry[e] == 0;
    CHECK(whole && d.plan.shift[0] == 0 && d.plan.shift[1] == 0 && d.plan.partner[0] == 0);
    free(single);
    /* parallel strips whose phases miss one another (columns 0-1, 4-5, 8-9 mod 13): no other mask
     * meets a sample's, so each pairs with its own mask, shifted to meet it (a strip elsewhere) */
    uint8_t *strips = calloc(3 * mhw, 1);
    for (int i = 0; i < 3; ++i)
        for (int y = 0; y < H; ++y)
            for (int x = 0; x < W; ++x) strips[(size_t)i * mhw + (size_t)y * W + x] = (x - 4 * i + 13) % 13 < 2;
    CHECK(draw_all(&d, &mp, strips, 3, k, mc, 2) == DFL_OK);
    int own_strip = 1, strip_exact = 1, strip_nonempty = 1;
    for (int s = 0; s < 3 * k; ++s) {
        const int i = s / k, dy = (int)(d.plan.shift[s] >> 16), dx = (int)(d.plan.shift[s] & 0xFFFFu);
        const uint8_t *m = strips + (size_t)i * mhw;
        own_strip &= d.plan.partner[s] == i && (dy || dx);
        int any = 0;
        for (int y = 0; y < H; ++y)
            for (int x = 0; x < W; ++x) {
                const int want = m[y * W + x] && m[((y + dy) % H) * W + (x + dx) % W];
                strip_exact &= d.ctx[(size_t)s * mhw + (size_t)y * W + x] == want;
                any += want;
            }
        strip_nonempty &= any > 0;
    }
    CHECK(own_strip && strip_exact && strip_nonempty);
    free(strips);
    /* the same patchy mask in every sample (a land-sea mask): another sample's mask would leave nothing to
     * query (ctx = M), so each pairs with its own mask shifted, which hides part of M */
    uint8_t *same = malloc(4 * mhw);
    for (int i = 0; i < 4; ++i) memcpy(same + (size_t)i * mhw, mask, mhw);
    CHECK(draw_all(&d, &mp, same, 4, k, mc, 2) == DFL_OK);
    int own_same = 1, same_splits = 1;
    for (int s = 0; s < 4 * k; ++s) {
        own_same &= d.plan.partner[s] == s / k && d.plan.shift[s] != 0;
        size_t in_ctx = 0, in_qry = 0, obs = 0;
        for (size_t e = 0; e < mhw; ++e) in_ctx += d.ctx[s * mhw + e], in_qry += d.qry[s * mhw + e], obs += mask[e];
        same_splits &= in_ctx > 0 && in_qry > 0 && in_ctx + in_qry == obs;
    }
    CHECK(own_same && same_splits);
    /* an imputation's member may read all of M: another sample's (same) mask, the context M */
    d.rq.inference = 1;
    CHECK(draw_all(&d, &mp, same, 4, k, mc, 2) == DFL_OK);
    d.rq.inference = 0;
    int other_whole = 1;
    for (int s = 0; s < 4 * k; ++s) {
        other_whole &= d.plan.partner[s] != s / k && d.plan.shift[s] == 0;
        for (size_t e = 0; e < mhw; ++e) other_whole &= d.ctx[s * mhw + e] == mask[e];
    }
    CHECK(other_whole);
    free(same);
    /* an explicit pool with the sample excluded by index */
    dfl_plan_request rq = d.rq;
    rq.mask = mask;
    int64_t self[2] = {0, 1};
    rq.n = 2;
    rq.k = 16;
    rq.pool = mask;
    rq.pool_n = 3;
    rq.self_in_pool = self;
    CHECK(dfl_context_plan_make(&d.plan, &mp, &rq) == DFL_OK);
    int ok = 1;
    for (int s = 0; s < 32; ++s)
        ok &= d.plan.partner[s] != self[s / 16] && d.plan.partner[s] >= 0 && d.plan.partner[s] < 3;
    CHECK(ok);

    free(d.ctx);
    free(d.qry);
    free(mask);
    dfl_context_plan_free(&d.plan);
}

static void test_baselines(void) {
    const int n = NS, k = 2, mc = C;
    const size_t mhw = (size_t)mc * H * W;
    uint8_t *mask = malloc((size_t)n * mhw);
    pixel_masks(mask, n, mc, 0.3f, 31);
    draws d = {0};
    dfl_context_plan_init(&d.plan);
    d.ctx = malloc((size_t)n * k * mhw);
    d.qry = malloc((size_t)n * k * mhw);
    dfl_method_params mp;
    dfl_method_params_default(&mp);

    mp.strategy = DFL_STRATEGY_MISSDIFF;
    CHECK(draw_all(&d, &mp, mask, n, k, mc, 4) == DFL_OK);
    tally t = count(&d, mask, n, k, mc);
    CHECK(t.ctx == t.obs && t.qry == t.obs && t.ctx_out == 0 && t.qry_out == 0);

    mp.strategy = DFL_STRATEGY_AMBIENT;
    mp.delta = 0.2f;
    CHECK(draw_all(&d, &mp, mask, n, k, mc, 4) == DFL_OK);
    t = count(&d, mask, n, k, mc);
    CHECK(t.qry == t.obs && t.ctx_out == 0 && t.qry_out == 0);
    CHECK_RATE(t.ctx / t.obs, 0.8, t.obs);

    free(d.ctx);
    free(d.qry);
    free(mask);
    dfl_context_plan_free(&d.plan);
}

static void test_times(void) {
    dfl_method_params mp;
    dfl_method_params_default(&mp);
    mp.t_sampling = DFL_T_UNIFORM; /* the paper's draw: mean (1 + t_eps) / 2 */
    dfl_context_plan plan;
    dfl_context_plan_init(&plan);
    dfl_plan_request rq = {
        .n = 4000, .k = 1, .c = 1, .h = 4, .w = 4, .mask_channels = 1, .t_eps = 1e-3f, .seed = 9, .step = 0};
    CHECK(dfl_context_plan_make(&plan, &mp, &rq) == DFL_OK);
    double sum = 0;
    int in_range = 1;
    for (int i = 0; i < rq.n; ++i) {
        in_range &= plan.t[i] >= 1e-3f && plan.t[i] <= 1.0f;
        sum += plan.t[i];
    }
    CHECK(in_range);
    CHECK_CLOSE(sum / rq.n, 0.5005, 5 * sqrt(1.0 / 12 / rq.n));
    CHECK(plan.header->seed == 9 && plan.header->slots == 4000 && plan.bytes % 8 == 0);
    CHECK((char *)plan.t == (char *)plan.data + DFL_PLAN_T_OFFSET);
    /* a rank holding samples 2000.. draws what one rank draws for them */
    float t2000 = plan.t[2000];
    rq.n = 10;
    rq.sample_offset = 2000;
    CHECK(dfl_context_plan_make(&plan, &mp, &rq) == DFL_OK);
    CHECK(plan.t[0] == t2000);
    /* fixed t for imputation */
    rq.k = 10;
    rq.t = 1e-3f;
    CHECK(dfl_context_plan_make(&plan, &mp, &rq) == DFL_OK);
    CHECK(plan.t[0] == 1e-3f && plan.t[99] == 1e-3f && plan.header->k == 10);
    /* sample index beyond the 24-bit stream field */
    rq.sample_offset = (1u << 24) - 5;
    CHECK(dfl_context_plan_make(&plan, &mp, &rq) == DFL_EUSAGE);
    dfl_clear_error();
    dfl_context_plan_free(&plan);
}

static void test_params(void) {
    dfl_method_params p;
    dfl_method_params_default(&p);
    CHECK(p.strategy == DFL_STRATEGY_PIXEL && p.context_ratio == 0.8f && p.query_ratio == 0.7f);
    CHECK(p.grid_h == 3 && p.grid_w == 3 && p.hide == 2 && p.query == DFL_QUERY_AUTO);
    CHECK(dfl_method_params_validate(&p, 64, 64) == DFL_OK);
    CHECK(dfl_query_resolve(DFL_STRATEGY_PIXEL, DFL_QUERY_AUTO) == DFL_QUERY_COMPLEMENT);
    CHECK(dfl_query_resolve(DFL_STRATEGY_BLOCK, DFL_QUERY_AUTO) == DFL_QUERY_COMPLEMENT);
    CHECK(dfl_query_resolve(DFL_STRATEGY_EMPIRICAL, DFL_QUERY_AUTO) == DFL_QUERY_COMPLEMENT);
    CHECK(dfl_query_resolve(DFL_STRATEGY_AMBIENT, DFL_QUERY_AUTO) == DFL_QUERY_OBSERVED);
    CHECK(dfl_method_params_set(&p, "strategy", "block") == DFL_OK && p.strategy == DFL_STRATEGY_BLOCK);
    CHECK(dfl_method_params_set(&p, "grid", "4x2") == DFL_OK && p.grid_h == 4 && p.grid_w == 2);
    CHECK(dfl_method_params_set(&p, "grid", "5") == DFL_OK && p.grid_h == 5 && p.grid_w == 5);
    CHECK(dfl_method_params_set(&p, "hide", "3") == DFL_OK && p.hide == 3);
    CHECK(dfl_method_params_set(&p, "query", "observed") == DFL_OK && p.query == DFL_QUERY_OBSERVED);
    CHECK(dfl_method_params_set(&p, "context_ratio", "0.5") == DFL_OK && p.context_ratio == 0.5f);
    CHECK(dfl_method_params_validate(&p, 64, 64) == DFL_OK);
    char desc[128];
    dfl_method_params_describe(&p, desc, sizeof desc);
    CHECK(strstr(desc, "block") && strstr(desc, "5x5") && strstr(desc, "hide 3"));
    CHECK(dfl_method_params_set(&p, "strategy", "pixels") == DFL_EUSAGE);
    CHECK(strstr(dfl_last_error(), "method.strategy") != NULL);
    dfl_clear_error();
    CHECK(dfl_method_params_set(&p, "grid", "3x") == DFL_EUSAGE);
    dfl_clear_error();
    CHECK(dfl_method_params_set(&p, "hide", "0") == DFL_EUSAGE);
    dfl_clear_error();
    CHECK(dfl_method_params_set(&p, "context_ratio", "abc") == DFL_EUSAGE);
    dfl_clear_error();
    CHECK(dfl_method_params_set(&p, "colour", "red") == DFL_EUSAGE);
    CHECK(strstr(dfl_last_error(), "unknown key") != NULL);
    dfl_clear_error();
    p.context_ratio = 0.0f;
    CHECK(dfl_method_params_validate(&p, 0, 0) == DFL_EUSAGE);
    dfl_clear_error();
    dfl_method_params_default(&p);
    p.strategy = DFL_STRATEGY_MISSDIFF;
    p.query = DFL_QUERY_COMPLEMENT;
    CHECK(dfl_method_params_validate(&p, 0, 0) == DFL_EUSAGE);
    dfl_clear_error();
}

/* Keys set away from their defaults that the strategy never reads. */
static void test_unused_params(void) {
    dfl_method_params p;
    char u[128];
    dfl_method_params_default(&p);
    dfl_method_params_unused(&p, u, sizeof u);
    CHECK_MSG(u[0] == 0, "defaults reported unused: '%s'", u);
    p.grid_h = 2, p.hide = 3, p.delta = 0.3f; /* pixel reads none of these */
    dfl_method_params_unused(&p, u, sizeof u);
    CHECK_MSG(!strcmp(u, "grid, hide, delta"), "pixel: '%s'", u);
    p.strategy = DFL_STRATEGY_BLOCK, p.context_ratio = 0.5f; /* block reads grid and hide */
    dfl_method_params_unused(&p, u, sizeof u);
    CHECK_MSG(!strcmp(u, "context_ratio, delta"), "block: '%s'", u);
    p.strategy = DFL_STRATEGY_AMBIENT;
    dfl_method_params_unused(&p, u, sizeof u);
    CHECK_MSG(!strcmp(u, "context_ratio, grid, hide"), "ambient: '%s'", u);
    /* query_ratio: read by pixel's independent query only (the default query is complement) */
    dfl_method_params_default(&p);
    p.query_ratio = 0.5f;
    dfl_method_params_unused(&p, u, sizeof u);
    CHECK_MSG(!strcmp(u, "query_ratio"), "pixel, complement: '%s'", u);
    p.query = DFL_QUERY_INDEPENDENT;
    dfl_method_params_unused(&p, u, sizeof u);
    CHECK_MSG(u[0] == 0, "pixel, independent: '%s'", u);
    p.strategy = DFL_STRATEGY_AMBIENT, p.query = DFL_QUERY_AUTO;
    dfl_method_params_unused(&p, u, 8); /* truncated, still terminated */
    CHECK(strlen(u) == 7);
}

int main(void) {
    test_params();
    test_unused_params();
    test_times();
    test_pixel(1);
    test_pixel(C);
    test_block();
    test_empirical();
    test_baselines();
    return dfl_test_finish("method_masks");
}
