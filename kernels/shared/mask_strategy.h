/* Context / query mask sampling of the training strategies, per element
 * (docs/design.md, "The method" table). Shared by the CPU and CUDA fused method ops and by
 * the host (coverage estimate, tests), so every one of them draws the very
 * same masks for the same keys.
 *
 * For an element i of sample n with observation bit m = M_i:
 *   pixel      ctx = m & (U  < rho_c)
 *   block      ctx = m & !hidden(block of i)     (hidden blocks: host plan)
 *   empirical  ctx = m & M_j,i                   (partner j: host plan)
 *   missdiff   ctx = m
 *   ambient    ctx = m & (U  < 1 - delta)
 * and the query, by the resolved query mode:
 *   independent  qry = m & (U' < rho_q)   (U' independent of U)
 *   complement   qry = m & !ctx           (block: the hidden blocks)
 *   observed     qry = m
 * U = uniform(seed, ctx_stream, index), U' = uniform(seed, qry_stream,
 * index) (Philox, philox.h): two different purpose tags, so U and U' are
 * independent. `index` is the element's position in the sample's mask
 * ([mc, H, W] flattened; a one-channel mask draws once per pixel), offset
 * by member * C*H*W for the k-th context draw of an ensemble. Uniforms are
 * drawn only where m = 1: the result is a pure function of the keys. */
#ifndef DYNFILL_SHARED_MASK_STRATEGY_H
#define DYNFILL_SHARED_MASK_STRATEGY_H

#include "dfl_hd.h"
#include "dynfill/mask_rule.h" /* dfl_strategy, dfl_query_mode, dfl_mask_rule */
#include "philox.h"

/* Philox purpose tags of the method (dfl_rng_stream's purpose byte); the
 * range 0x10..0x1F belongs to the method. The stream's slot is the global
 * sample index (24 bits), its step the optimiser step (or sampler step). */
#define DFL_RNG_METHOD_TIME    0x10u /* diffusion time t per sample (host plan) */
#define DFL_RNG_METHOD_NOISE   0x11u /* epsilon per element */
#define DFL_RNG_METHOD_CONTEXT 0x12u /* U of the context draw per element */
#define DFL_RNG_METHOD_QUERY   0x13u /* U' of an independent query draw per element */
#define DFL_RNG_METHOD_BLOCK   0x14u /* which observed blocks to hide (host plan) */
#define DFL_RNG_METHOD_PARTNER 0x15u /* empirical partner sample (host plan) */

DFL_HD int dfl_query_resolve(int strategy, int query) {
    if (query != DFL_QUERY_AUTO) return query;
    switch (strategy) {
    case DFL_STRATEGY_PIXEL: return DFL_QUERY_COMPLEMENT; /* the paper's is independent */
    case DFL_STRATEGY_BLOCK:
    case DFL_STRATEGY_EMPIRICAL: return DFL_QUERY_COMPLEMENT;
    default: return DFL_QUERY_OBSERVED;
    }
}

DFL_HD dfl_mask_rule dfl_mask_rule_make(int strategy, int query, float context_ratio, float query_ratio, float delta,
                                        int grid_h, int grid_w) {
    dfl_mask_rule r;
    r.strategy = strategy;
    r.query = dfl_query_resolve(strategy, query);
    r.ctx_keep = strategy == DFL_STRATEGY_AMBIENT ? 1.0f - delta : context_ratio;
    r.qry_keep = query_ratio;
    r.grid_h = grid_h;
    r.grid_w = grid_w;
    return r;
}

/* Block (row-major in the gh x gw grid) of pixel (y, x) of an h x w
 * field: blocks are h/gh x w/gw (integer division) and the last row and
 * column of blocks take the remainder. Requires gh <= h, gw <= w. */
DFL_HD int dfl_block_index(int y, int x, int h, int w, int gh, int gw) {
    int by = y / (h / gh);
    int bx = x / (w / gw);
    if (by >= gh) by = gh - 1;
    if (bx >= gw) bx = gw - 1;
    return by * gw + bx;
}

/* Context and query bits of one element. observed: M_i (1 everywhere when
 * the context is drawn over the full field); hidden: the element's block
 * is hidden (block); partner_observed: M_j,i of the partner (empirical). */
DFL_HD void dfl_mask_element(const dfl_mask_rule *r, uint64_t seed, uint64_t ctx_stream, uint64_t qry_stream,
                             uint64_t index, int observed, int hidden, int partner_observed, uint8_t *ctx,
                             uint8_t *qry) {
    uint8_t c = 0, q = 0;
    if (observed) {
        switch (r->strategy) {
        case DFL_STRATEGY_PIXEL:
        case DFL_STRATEGY_AMBIENT: c = dfl_rng_uniform(seed, ctx_stream, index) < r->ctx_keep; break;
        case DFL_STRATEGY_BLOCK: c = !hidden; break;
        case DFL_STRATEGY_EMPIRICAL: c = partner_observed != 0; break;
        default: c = 1; break; /* missdiff */
        }
        switch (r->query) {
        case DFL_QUERY_INDEPENDENT: q = dfl_rng_uniform(seed, qry_stream, index) < r->qry_keep; break;
        case DFL_QUERY_COMPLEMENT: q = !c; break;
        default: q = 1; break; /* observed */
        }
    }
    *ctx = c;
    *qry = q;
}

#endif
