/* method.strategy = auto: the context strategy chosen from the data's own
 * observation masks (docs/method.md, "Choosing the strategy").
 *
 * Pixel contexts thin the observation at random, so they train the
 * network on entries with observations around them; they never query the
 * inside of a missing patch (Theorem 1). Where the missing entries come in
 * patches (swaths, clouds, blocks) the contexts must hide patches too:
 * `block` when every mask is a union of the grid's blocks (and most fields
 * observe two or more of them), `empirical` (another sample's missing
 * region) for patches of any other shape.
 *
 * The statistic is the mask's neighbour correlation: over each field
 * (sample, mask channel) with observed fraction p strictly between 0 and
 * 1, E[m_i m_j] − p² over the ordered pairs (i, j ≠ i) of each (2r+1)²
 * window clipped at the border, pooled as Σ (E[m_i m_j] − p²) / Σ p(1 − p).
 * Independent pixels and stations at random cells give 0; a missing patch
 * wider than the window gives nearly 1. */
#ifndef DYNFILL_HOST_STRATEGY_CHOICE_H
#define DYNFILL_HOST_STRATEGY_CHOICE_H

#include <stddef.h>
#include <stdint.h>

#include "dynfill/method.h"

/* Neighbour correlation from which the missing entries count as patches. */
#define DFL_STRATEGY_AUTO_CORRELATION 0.3
/* Window radius of the statistic (the coverage estimate's default). */
#define DFL_STRATEGY_AUTO_RADIUS      2
/* Observed blocks a field needs for block contexts: with one, the context
 * and the query cannot both hold a block (block:3x3:1 on Navier-Stokes:
 * block 23.08, empirical 21.63). Where more than half the fields on the
 * grid observe fewer, the correlation rule chooses instead. */
#define DFL_STRATEGY_AUTO_MIN_BLOCKS  2

typedef struct {
    dfl_strategy strategy; /* the choice */
    double correlation;    /* neighbour correlation of the masks (0 when no field has missing entries) */
    int64_t fields;        /* fields with observed and missing entries */
    int on_grid;           /* every field is a union of the grid's blocks, and some block is missing */
    int64_t few_blocks;    /* fields on the grid with fewer than DFL_STRATEGY_AUTO_MIN_BLOCKS observed blocks */
} dfl_strategy_choice;

/* masks: [n, mc, h, w] observation masks (nonzero = observed); grid_h x
 * grid_w: the block grid of method.grid (a grid larger than the field is
 * never matched). Returns the choice; never fails. */
dfl_strategy_choice dfl_strategy_choose(const uint8_t *masks, int64_t n, int mc, int h, int w, int grid_h, int grid_w);

/* One line saying what was chosen and why, e.g. "empirical: the missing
 * entries come in patches (neighbour correlation 0.71 >= 0.3 over 400
 * fields)". */
void dfl_strategy_choice_describe(const dfl_strategy_choice *c, char *buf, size_t len);

#endif
