/* Per-batch context plan (include/dynfill/method_ops.h): the per-sample
 * decisions of docs/design.md, "The method" that are not per element — the diffusion time
 * t, which observed blocks the block strategy hides, which partner mask the
 * empirical strategy intersects — computed on the host from the masks so
 * that the fused ops stay one elementwise pass. Every choice is Philox
 * keyed by (seed, step, global sample, draw), like the ops' own draws. */
#include <stdlib.h>
#include <string.h>

#include "dynfill/method.h"
#include "shared/buffer.h"
#include "shared/context_plan.h"
#include "shared/mask_strategy.h"
#include "shared/noise_context.h"

_Static_assert(sizeof(dfl_plan_header) == DFL_PLAN_T_OFFSET, "DFL_PLAN_T_OFFSET must be the plan header size");

void dfl_context_plan_init(dfl_context_plan *plan) { memset(plan, 0, sizeof *plan); }

void dfl_context_plan_free(dfl_context_plan *plan) {
    free(plan->data);
    memset(plan, 0, sizeof *plan);
}

/* Size the plan for `slots` draws and `blocks` blocks, set the views. */
static void plan_layout(dfl_context_plan *plan, int64_t slots, int blocks) {
    size_t bytes = (size_t)dfl_plan_bytes(slots, blocks);
    if (bytes > plan->capacity) {
        const size_t want = dfl_buffer_grow_bytes(bytes, 64);
        free(plan->data);
        plan->data = NULL;
        if (posix_memalign(&plan->data, 64, want) != 0) DFL_PANIC("out of memory allocating %zu bytes", want);
        plan->capacity = want;
    }
    memset(plan->data, 0, bytes);
    plan->bytes = bytes;
    char *base = (char *)plan->data;
    plan->header = (dfl_plan_header *)base;
    plan->t = (float *)(base + dfl_plan_t_offset(slots));
    plan->partner = (int32_t *)(base + dfl_plan_partner_offset(slots));
    plan->shift = (uint32_t *)(base + dfl_plan_shift_offset(slots));
    plan->hidden = blocks > 0 ? (uint8_t *)(base + dfl_plan_hidden_offset(slots)) : NULL;
}

/* Uniform integer in [0, n) from 32 random bits (multiply-shift; the bias
 * is below n / 2^32). */
static uint32_t bounded(uint32_t bits, uint32_t n) { return (uint32_t)(((uint64_t)bits * n) >> 32); }

/* observed[b] = 1 when block b of the grid holds an observed entry of the
 * sample's mask (any channel); mask NULL = every block observed. */
static int observed_blocks(const dfl_method_params *mp, const uint8_t *mask, int mc, int h, int w, uint8_t *observed) {
    int blocks = mp->grid_h * mp->grid_w;
    memset(observed, mask ? 0 : 1, (size_t)blocks);
    if (mask)
        for (int ch = 0; ch < mc; ++ch)
            for (int y = 0; y < h; ++y)
                for (int x = 0; x < w; ++x)
                    if (mask[((size_t)ch * h + y) * w + x])
                        observed[dfl_block_index(y, x, h, w, mp->grid_h, mp->grid_w)] = 1;
    int n = 0;
    for (int b = 0; b < blocks; ++b) n += observed[b];
    return n;
}

/* 1 when mask b read at (y + dy mod h, x + dx mod w) makes a context of
 * mask a ([mc, h, w], NULL = all observed): a AND b holds an entry of a
 * and, for a training draw (need_query), leaves one out to query. A
 * partner whose mask covers all of a (the same mask in every sample, as a
 * land-sea or a fixed radar mask) leaves nothing to query: in training
 * that sample would teach nothing, while an imputation's member reads all
 * of the observation, which scored better than a split (the same swath
 * mask everywhere: 13.36 against 15.30; moving swaths 2.5 % better). */
static int mask_contexts(const uint8_t *a, const uint8_t *b, int mc, int h, int w, int dy, int dx, int need_query) {
    int meets = 0, misses = !need_query;
    for (int ch = 0; ch < mc; ++ch)
        for (int y = 0; y < h; ++y) {
            const int py = y + dy >= h ? y + dy - h : y + dy;
            const uint8_t *arow = a ? a + ((size_t)ch * h + y) * w : NULL;
            const uint8_t *brow = b + ((size_t)ch * h + py) * w;
            for (int x = 0; x < w; ++x) {
                if (arow && !arow[x]) continue;
                const int px = x + dx >= w ? x + dx - w : x + dx;
                if (brow[px])
                    meets = 1;
                else
                    misses = 1;
                if (meets && misses) return 1;
            }
        }
    return 0;
}

/* Its own mask, shifted: draws (dy, dx) uniformly (lanes 2 and 3 of the
 * partner stream, (0, 0) skipped) until the shifted mask makes a context
 * of the sample's (mask_contexts). Returns 1 and that shift in *shift, or
 * 0 when no draw did. */
static int own_mask_shift(const dfl_plan_request *rq, const uint8_t *own, const uint8_t *mi, uint64_t stream, int j,
                          uint32_t *shift) {
    for (int a = 0; a < DFL_PLAN_PARTNER_TRIES; ++a) {
        dfl_philox_u4 b = dfl_rng_bits(rq->seed, stream, (uint64_t)j * DFL_PLAN_PARTNER_TRIES + (uint64_t)a);
        const int dy = (int)bounded(b.v[2], (uint32_t)rq->h), dx = (int)bounded(b.v[3], (uint32_t)rq->w);
        if (!dy && !dx) continue;
        if (mask_contexts(mi, own, rq->mask_channels, rq->h, rq->w, dy, dx, !rq->inference)) {
            *shift = (uint32_t)dy << 16 | (uint32_t)dx;
            return 1;
        }
    }
    return 0;
}

int dfl_method_observed_blocks(const dfl_method_params *mp, const uint8_t *mask, int mc, int h, int w) {
    uint8_t *observed = dfl_xmalloc((size_t)mp->grid_h * (size_t)mp->grid_w);
    const int n = observed_blocks(mp, mask, mc, h, w, observed);
    free(observed);
    return n;
}

static void plan_blocks(dfl_context_plan *plan, const dfl_method_params *mp, const dfl_plan_request *rq) {
    const int blocks = mp->grid_h * mp->grid_w;
    const size_t mhw = (size_t)rq->mask_channels * rq->h * rq->w;
    uint8_t *observed = dfl_xmalloc((size_t)blocks);
    int *list = dfl_xmalloc(sizeof(int) * (size_t)blocks);
    for (int i = 0; i < rq->n; ++i) {
        const uint8_t *m = rq->mask ? rq->mask + (size_t)i * mhw : NULL;
        int nobs = observed_blocks(mp, m, rq->mask_channels, rq->h, rq->w, observed);
        /* The context keeps at least one observed block: one of none
         * predicts from nothing. Only a training draw of a sample with a
         * single observed block hides it (the one query that sample has, the
         * reference's rule); an imputation's draw keeps it. */
        int hide = mp->hide < nobs ? mp->hide : nobs;
        if (hide == nobs && nobs > 1) hide = nobs - 1;
        if (hide == nobs && rq->inference) hide = 0;
        uint64_t stream = dfl_rng_stream(DFL_RNG_METHOD_BLOCK, rq->step, rq->sample_offset + (uint32_t)i);
        for (int j = 0; j < rq->k; ++j) {
            int64_t s = (int64_t)i * rq->k + j;
            int cnt = 0;
            for (int b = 0; b < blocks; ++b)
                if (observed[b]) list[cnt++] = b;
            /* Partial Fisher-Yates: the first `hide` entries become a
             * uniform draw without replacement from the observed blocks. */
            for (int r = 0; r < hide; ++r) {
                uint32_t bits = dfl_rng_bits(rq->seed, stream, (uint64_t)j * (uint64_t)blocks + (uint64_t)r).v[0];
                int pick = r + (int)bounded(bits, (uint32_t)(cnt - r));
                int tmp = list[r];
                list[r] = list[pick];
                list[pick] = tmp;
                plan->hidden[s * blocks + list[r]] = 1;
            }
        }
    }
    free(list);
    free(observed);
}

static dfl_status plan_partners(dfl_context_plan *plan, const dfl_plan_request *rq) {
    const size_t mhw = (size_t)rq->mask_channels * rq->h * rq->w;
    const uint8_t *pool = rq->pool ? rq->pool : rq->mask;
    const int pool_n = rq->pool ? rq->pool_n : rq->n;
    if (!pool || pool_n < 1)
        return dfl_fail(DFL_EUSAGE,
                        "strategy empirical: no masks to draw partners from (pass the batch masks or a pool)");
    for (int i = 0; i < rq->n; ++i) {
        int64_t self = rq->self_in_pool ? rq->self_in_pool[i] : (rq->pool ? -1 : i);
        if (self >= pool_n) self = -1;
        int candidates = pool_n - (self >= 0 ? 1 : 0);
        const uint8_t *mi = rq->mask ? rq->mask + (size_t)i * mhw : NULL;
        uint64_t stream = dfl_rng_stream(DFL_RNG_METHOD_PARTNER, rq->step, rq->sample_offset + (uint32_t)i);
        if (candidates < 1 && (rq->h > 0xFFFF || rq->w > 0xFFFF))
            return dfl_fail(DFL_EUSAGE,
                            "strategy empirical: a %dx%d field is too large to shift sample %d's "
                            "own mask (at most 65535 a side); use a batch of two or more",
                            rq->h, rq->w, i);
        for (int j = 0; j < rq->k; ++j) {
            int chosen = -1, met = 0;
            for (int a = 0; candidates > 0 && a < DFL_PLAN_PARTNER_TRIES; ++a) {
                uint64_t idx = (uint64_t)j * DFL_PLAN_PARTNER_TRIES + (uint64_t)a;
                int pick = (int)bounded(dfl_rng_bits(rq->seed, stream, idx).v[0], (uint32_t)candidates);
                if (self >= 0 && pick >= self) ++pick; /* skip the sample itself */
                if (a == 0) chosen = pick;
                if (mask_contexts(mi, pool + (size_t)pick * mhw, rq->mask_channels, rq->h, rq->w, 0, 0,
                                  !rq->inference)) {
                    chosen = pick;
                    met = 1;
                    break;
                }
            }
            plan->partner[(int64_t)i * rq->k + j] = chosen;
            if (met || self < 0) continue;
            /* No other mask makes a context of this one (a sample alone; masks
             * of parallel strips whose phases all miss it; in training, the
             * same mask in every sample): its own mask shifted, else the whole
             * observation (shift 0), rather than an empty context that predicts
             * from nothing. */
            uint32_t shift = 0;
            if (rq->h <= 0xFFFF && rq->w <= 0xFFFF)
                own_mask_shift(rq, pool + (size_t)self * mhw, mi, stream, j, &shift);
            plan->partner[(int64_t)i * rq->k + j] = (int32_t)self;
            plan->shift[(int64_t)i * rq->k + j] = shift;
        }
    }
    return DFL_OK;
}

dfl_status dfl_context_plan_make(dfl_context_plan *plan, const dfl_method_params *mp, const dfl_plan_request *rq) {
    if (rq->n < 1 || rq->k < 1 || rq->c < 1 || rq->h < 1 || rq->w < 1)
        return dfl_fail(DFL_EUSAGE, "context plan: bad shape n %d k %d c %d h %d w %d", rq->n, rq->k, rq->c, rq->h,
                        rq->w);
    if (rq->mask_channels != 1 && rq->mask_channels != rq->c)
        return dfl_fail(DFL_EUSAGE, "context plan: mask has %d channels, expected 1 or %d", rq->mask_channels, rq->c);
    if ((uint64_t)rq->sample_offset + (uint64_t)rq->n > ((uint64_t)1 << 24))
        return dfl_fail(DFL_EUSAGE, "context plan: sample index %llu exceeds 2^24 (split the job by step)",
                        (unsigned long long)rq->sample_offset + (unsigned long long)rq->n);
    if ((int64_t)rq->n * rq->k > INT32_MAX) return dfl_fail(DFL_EUSAGE, "context plan: n*k too large");
    if (rq->t > 1.0f) return dfl_fail(DFL_EUSAGE, "context plan: t = %g outside (0, 1]", rq->t);
    if (!(rq->t > 0.0f) && !(rq->t_eps > 0.0f && rq->t_eps < 1.0f))
        return dfl_fail(DFL_EUSAGE, "context plan: t_eps = %g outside (0, 1)", rq->t_eps);
    DFL_TRY(dfl_method_params_validate(mp, rq->h, rq->w));

    const int64_t slots = (int64_t)rq->n * rq->k;
    const int blocks = mp->strategy == DFL_STRATEGY_BLOCK ? mp->grid_h * mp->grid_w : 0;
    plan_layout(plan, slots, blocks);
    dfl_plan_header *hd = plan->header;
    hd->seed = rq->seed;
    hd->step = rq->step;
    hd->sample_offset = rq->sample_offset;
    hd->slots = (int32_t)slots;
    hd->k = rq->k;
    hd->blocks = blocks;

    for (int i = 0; i < rq->n; ++i) {
        uint64_t stream = dfl_rng_stream(DFL_RNG_METHOD_TIME, rq->step, rq->sample_offset + (uint32_t)i);
        for (int j = 0; j < rq->k; ++j) {
            int64_t s = (int64_t)i * rq->k + j;
            if (rq->t > 0.0f) {
                plan->t[s] = rq->t;
            } else {
                /* lane 0 picks t (uniform: exactly the draw of dfl_vp_time_from_uniform), lane 1 decides
                 * low_share's t = t_eps */
                dfl_philox_u4 b = dfl_rng_bits(rq->seed, stream, (uint64_t)j);
                plan->t[s] = dfl_method_time(mp, rq->t_eps, dfl_bits_to_u01(b.v[0]), dfl_bits_to_u01(b.v[1]));
            }
            plan->partner[s] = -1;
        }
    }
    if (mp->strategy == DFL_STRATEGY_BLOCK) plan_blocks(plan, mp, rq);
    if (mp->strategy == DFL_STRATEGY_EMPIRICAL) DFL_TRY(plan_partners(plan, rq));
    return DFL_OK;
}

void dfl_method_sample_masks(const dfl_method_params *mp, const dfl_context_plan *plan, int64_t slot, int c, int h,
                             int w, int mc, const uint8_t *mask, const uint8_t *partner, uint8_t *ctx, uint8_t *qry) {
    DFL_ASSERT(slot >= 0 && slot < plan->header->slots);
    const dfl_mask_rule r = dfl_method_rule(mp);
    dfl_context_slot s = dfl_context_slot_make(plan->data, slot, c, h, w, mc, NULL, NULL, NULL, mp->strategy, 0, 0);
    s.mask = mask;
    s.partner = mp->strategy == DFL_STRATEGY_EMPIRICAL ? partner : NULL;
    for (int ch = 0; ch < mc; ++ch)
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x) {
                size_t mi = ((size_t)ch * h + y) * w + x;
                int m;
                dfl_context_mask_entry(&r, &s, ch, y, x, &ctx[mi], &qry[mi], &m);
            }
}
