/* method.strategy = auto from the data's masks (method/strategy_choice.h). */
#include "strategy_choice.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynfill/status.h"
#include "mask_window.h"
#include "shared/mask_strategy.h"

/* 1 when each block of the grid (shared/mask_strategy.h, dfl_block_index) is
 * all observed or all missing in this plane; *missing_block is set when one
 * is all missing, *observed_blocks counts the observed ones. state: gh * gw
 * bytes of scratch. */
static int plane_on_grid(const uint8_t *m, int h, int w, int gh, int gw, uint8_t *state, int *missing_block,
                         int *observed_blocks) {
    enum { UNSEEN = 0, MISSING = 1, OBSERVED = 2 };
    memset(state, UNSEEN, (size_t)gh * (size_t)gw);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            uint8_t *b = &state[dfl_block_index(y, x, h, w, gh, gw)];
            const uint8_t v = m[(size_t)y * w + x] ? OBSERVED : MISSING;
            if (*b == UNSEEN)
                *b = v;
            else if (*b != v)
                return 0;
        }
    *observed_blocks = 0;
    for (int b = 0; b < gh * gw; ++b) {
        if (state[b] == MISSING) *missing_block = 1;
        *observed_blocks += state[b] == OBSERVED;
    }
    return 1;
}

dfl_strategy_choice dfl_strategy_choose(const uint8_t *masks, int64_t n, int mc, int h, int w, int grid_h, int grid_w) {
    dfl_strategy_choice c = {.strategy = DFL_STRATEGY_PIXEL};
    const int r = DFL_STRATEGY_AUTO_RADIUS;
    const size_t plane = (size_t)h * (size_t)w;
    int32_t *sat = dfl_xmalloc(sizeof(int32_t) * (size_t)(h + 1) * (size_t)(w + 1));
    int grid = grid_h >= 1 && grid_w >= 1 && grid_h <= h && grid_w <= w, missing_block = 0;
    uint8_t *block_state = grid ? dfl_xmalloc((size_t)grid_h * (size_t)grid_w) : NULL;
    double cov_sum = 0.0, var_sum = 0.0;
    for (int64_t f = 0; f < n * mc; ++f) {
        const uint8_t *m = masks + (size_t)f * plane;
        dfl_mask_integral_image(m, h, w, sat);
        const double p = (double)dfl_mask_window_sum(sat, w, 0, 0, h, w) / (double)plane;
        if (p <= 0.0 || p >= 1.0) continue; /* nothing missing, or nothing observed: no pattern */
        c.fields++;
        double pairs = 0.0, total = 0.0; /* observed ordered pairs and all ordered pairs within windows */
        for (int y = 0; y < h; ++y) {
            const int y0 = y - r < 0 ? 0 : y - r, y1 = y + r + 1 > h ? h : y + r + 1;
            for (int x = 0; x < w; ++x) {
                const int x0 = x - r < 0 ? 0 : x - r, x1 = x + r + 1 > w ? w : x + r + 1;
                total += (double)((y1 - y0) * (x1 - x0) - 1);
                if (m[(size_t)y * w + x]) pairs += (double)(dfl_mask_window_sum(sat, w, y0, x0, y1, x1) - 1);
            }
        }
        cov_sum += pairs / total - p * p;
        var_sum += p * (1.0 - p);
        int blocks = 0;
        if (grid && !plane_on_grid(m, h, w, grid_h, grid_w, block_state, &missing_block, &blocks)) grid = 0;
        c.few_blocks += grid && blocks < DFL_STRATEGY_AUTO_MIN_BLOCKS;
    }
    free(sat);
    free(block_state);
    if (c.fields == 0) return c;
    c.correlation = cov_sum / var_sum;
    c.on_grid = grid && missing_block;
    /* block contexts need two observed blocks, one to read and one to query */
    if (c.on_grid && 2 * c.few_blocks <= c.fields)
        c.strategy = DFL_STRATEGY_BLOCK;
    else if (c.correlation >= DFL_STRATEGY_AUTO_CORRELATION)
        c.strategy = DFL_STRATEGY_EMPIRICAL;
    return c;
}

void dfl_strategy_choice_describe(const dfl_strategy_choice *c, char *buf, size_t len) {
    const char *name = dfl_method_strategy_name(c->strategy);
    const double corr = fabs(c->correlation) < 0.005 ? 0.0 : c->correlation; /* no "-0.00" */
    if (c->fields == 0)
        snprintf(buf, len, "%s: no mask has both observed and missing entries", name);
    else if (c->on_grid && c->strategy == DFL_STRATEGY_BLOCK)
        snprintf(buf, len,
                 "%s: every mask is a union of the grid's blocks (neighbour correlation %.2f over %lld fields)", name,
                 corr, (long long)c->fields);
    else if (c->on_grid)
        snprintf(buf, len,
                 "%s: every mask is a union of the grid's blocks, but %lld of %lld fields observe fewer than %d, "
                 "which block contexts cannot split into a context and a query (neighbour correlation %.2f)",
                 name, (long long)c->few_blocks, (long long)c->fields, DFL_STRATEGY_AUTO_MIN_BLOCKS, corr);
    else if (c->strategy == DFL_STRATEGY_EMPIRICAL)
        snprintf(buf, len,
                 "%s: the missing entries come in patches (neighbour correlation %.2f >= %.2g over %lld fields)", name,
                 corr, DFL_STRATEGY_AUTO_CORRELATION, (long long)c->fields);
    else
        snprintf(buf, len, "%s: the missing entries are scattered (neighbour correlation %.2f < %.2g over %lld fields)",
                 name, corr, DFL_STRATEGY_AUTO_CORRELATION, (long long)c->fields);
}
