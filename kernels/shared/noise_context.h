/* Per-pixel body of the fused noise_context and ensemble_build ops
 * (docs/design.md, "The method" and "Backend interface"), shared by the CPU and CUDA backends:
 *
 *   x_t      = M ⊙ (α(t) x_obs + σ(t) ε),  ε = normal(seed, noise_stream, index)
 *   input    = [M_ctx ⊙ x_t, M_ctx]        (2C channels, NHWC pixel)
 *   query    = M_qry                        (per element, [C, H, W] of the sample)
 *
 * or, for the multi-step sampler, input = [M_ctx ⊙ x_s, M_ctx] from a state
 * x_s that exists at every entry (x_is_state). With context_full the
 * context is drawn as if every entry were observed (after the first
 * sampler step every entry holds a state). A one-channel mask draws one
 * context/query bit per pixel and repeats it for every channel; a C-channel
 * mask draws per element. Unobserved entries of x_obs are never read into
 * a result (they may hold anything, even NaN). */
#ifndef DYNFILL_SHARED_NOISE_CONTEXT_H
#define DYNFILL_SHARED_NOISE_CONTEXT_H

#include "context_plan.h"
#include "dfl_hd.h"
#include "mask_strategy.h"
#include "net_input.h"
#include "philox.h"
#include "schedule.h"

/* Everything one context draw (a plan slot) needs; pointers address the
 * slot's own sample. */
typedef struct dfl_context_slot {
    int c, h, w, mc;            /* channels, rows, columns, mask channels (1 or c) */
    const float *x;             /* [c, h, w]: x_obs, or the state when x_is_state */
    const uint8_t *mask;        /* [mc, h, w] observation mask; NULL = all observed */
    const uint8_t *partner;     /* [mc, h, w] partner mask (empirical) or NULL */
    int partner_dy, partner_dx; /* entry (y, x) reads the partner at (y + dy mod h, x + dx mod w) */
    const uint8_t *hidden;      /* [grid_h * grid_w] hidden blocks (block) or NULL */
    float alpha, sigma;         /* schedule at the slot's t */
    uint64_t seed, noise_stream, ctx_stream, qry_stream;
    uint64_t index_base; /* member j * c*h*w: draw j of an ensemble */
    int x_is_state, context_full;
} dfl_context_slot;

/* The slot `slot` of a plan over a batch: x [n, c, h, w], mask
 * [n, mc, h, w] (may be NULL), partner_masks [P, mc, h, w] (the pool the
 * plan's partner indices point into; may be NULL). */
DFL_HD dfl_context_slot dfl_context_slot_make(const void *plan, int64_t slot, int c, int h, int w, int mc,
                                              const float *x, const uint8_t *mask, const uint8_t *partner_masks,
                                              int strategy, int x_is_state, int context_full) {
    const dfl_plan_header *hd = dfl_plan_get_header(plan);
    int64_t i = slot / hd->k, j = slot % hd->k;
    int64_t chw = (int64_t)c * h * w, mhw = (int64_t)mc * h * w;
    dfl_context_slot s;
    s.c = c;
    s.h = h;
    s.w = w;
    s.mc = mc;
    s.x = x ? x + i * chw : 0;
    s.mask = mask ? mask + i * mhw : 0;
    int32_t p = dfl_plan_get_partner(plan)[slot];
    s.partner = (strategy == DFL_STRATEGY_EMPIRICAL && partner_masks && p >= 0) ? partner_masks + p * mhw : 0;
    uint32_t shift = strategy == DFL_STRATEGY_EMPIRICAL ? dfl_plan_get_shift(plan)[slot] : 0u;
    s.partner_dy = (int)(shift >> 16);
    s.partner_dx = (int)(shift & 0xFFFFu);
    s.hidden = strategy == DFL_STRATEGY_BLOCK ? dfl_plan_get_hidden(plan, slot) : 0;
    float t = dfl_plan_get_t(plan)[slot];
    s.alpha = dfl_vp_alpha(t);
    s.sigma = dfl_vp_sigma(t);
    uint32_t sample = hd->sample_offset + (uint32_t)i;
    s.seed = hd->seed;
    s.noise_stream = dfl_rng_stream(DFL_RNG_METHOD_NOISE, hd->step, sample);
    s.ctx_stream = dfl_rng_stream(DFL_RNG_METHOD_CONTEXT, hd->step, sample);
    s.qry_stream = dfl_rng_stream(DFL_RNG_METHOD_QUERY, hd->step, sample);
    s.index_base = (uint64_t)j * (uint64_t)chw;
    s.x_is_state = x_is_state;
    s.context_full = context_full;
    return s;
}

/* Context and query bits of mask entry (mch, y, x) of a slot, mch < mc;
 * *observed receives M at that entry. */
DFL_HD void dfl_context_mask_entry(const dfl_mask_rule *r, const dfl_context_slot *s, int mch, int y, int x,
                                   uint8_t *ctx, uint8_t *qry, int *observed) {
    int64_t mi = ((int64_t)mch * s->h + y) * s->w + x;
    int m = s->mask ? s->mask[mi] != 0 : 1;
    int hidden = s->hidden ? s->hidden[dfl_block_index(y, x, s->h, s->w, r->grid_h, r->grid_w)] != 0 : 0;
    int pm = 0;
    if (s->partner) {
        int py = y + s->partner_dy, px = x + s->partner_dx;
        if (py >= s->h) py -= s->h;
        if (px >= s->w) px -= s->w;
        pm = s->partner[((int64_t)mch * s->h + py) * s->w + px] != 0;
    }
    dfl_mask_element(r, s->seed, s->ctx_stream, s->qry_stream, s->index_base + (uint64_t)mi, s->context_full ? 1 : m,
                     hidden, pm, ctx, qry);
    *observed = m;
}

/* Value of the noised observation at one element: M ⊙ (α x + σ ε) (a
 * select, not a product, so a NaN at an unobserved entry stays out). */
DFL_HD float dfl_noised_obs(float x, int observed, float alpha, float sigma, float eps) {
    return observed ? alpha * x + sigma * eps : 0.0f;
}

/* Writes the 2C network-input values of pixel (y, x) to in_px[0..2c) and,
 * when qry_sample != NULL, the query bits of its c elements into
 * qry_sample ([c, h, w] of the sample). Returns the number of query
 * elements written (0 without qry_sample). */
DFL_HD int dfl_context_pixel(const dfl_mask_rule *r, const dfl_context_slot *s, int y, int x, float *in_px,
                             uint8_t *qry_sample) {
    const int c = s->c;
    const int64_t hw = (int64_t)s->h * s->w, p = (int64_t)y * s->w + x;
    uint8_t cb = 0, qb = 0;
    int m = 0, count = 0;
    for (int ch = 0; ch < c; ++ch) {
        if (ch == 0 || s->mc > 1) dfl_context_mask_entry(r, s, s->mc > 1 ? ch : 0, y, x, &cb, &qb, &m);
        int64_t e = ch * hw + p;
        float v = 0.0f;
        if (cb) {
            if (s->x_is_state)
                v = s->x[e];
            else if (m)
                v = dfl_noised_obs(s->x[e], 1, s->alpha, s->sigma,
                                   dfl_rng_normal(s->seed, s->noise_stream, s->index_base + (uint64_t)e));
        }
        in_px[dfl_net_input_index(0, 2, c, DFL_INPUT_PART_VALUE, ch)] = v;
        in_px[dfl_net_input_index(0, 2, c, DFL_INPUT_PART_MASK, ch)] = cb ? 1.0f : 0.0f;
        if (qry_sample) {
            qry_sample[e] = qb;
            count += qb;
        }
    }
    return count;
}

#endif
