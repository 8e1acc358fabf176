/* Observation mask patterns behind `dynfill mask` (docs/design.md, "Files" and "Command line").
 * Every mask is a pure function of (seed, sample, pattern): sample i's
 * mask does not depend on N, the chunking or the thread count.
 *
 *   pixel:p               each entry observed independently with probability p
 *   block:GHxGW:k         the field is cut into a GH x GW grid of blocks (the
 *                         last row/column of blocks takes the remainder); k
 *                         blocks, chosen uniformly per sample, are observed
 *   stations:n[:dropout]  n fixed cells (the same for every sample, drawn
 *                         once from the seed); each is missing in a sample
 *                         with probability dropout (default 0)
 *   swath:width:coverage[:angle]
 *                         parallel strips `width` cells wide covering the
 *                         fraction `coverage` of the field, tilted by `angle`
 *                         degrees from the columns (default 0), with a random
 *                         phase per sample (satellite swaths)
 *   file:PATH             the /mask of another dataset (same H, W; reused
 *                         cyclically if it has fewer samples)
 * A sample whose draw observes nothing is redrawn (next attempt stream). */
#ifndef DYNFILL_HOST_MASK_H
#define DYNFILL_HOST_MASK_H

#include <stdint.h>

#include "dynfill/status.h"

typedef enum { DFL_MASK_PIXEL, DFL_MASK_BLOCK, DFL_MASK_STATIONS, DFL_MASK_SWATH, DFL_MASK_FILE } dfl_mask_kind;

typedef struct {
    dfl_mask_kind kind;
    double p;      /* pixel */
    int gh, gw, k; /* block */
    long stations; /* stations */
    double dropout;
    double width, coverage, angle; /* swath */
    char path[4096];               /* file */
    char text[4200];               /* canonical text, stored as mask_pattern */
} dfl_mask_pattern;

/* Parse a pattern; DFL_EUSAGE naming the pattern and the problem. */
dfl_status dfl_mask_pattern_parse(const char *text, dfl_mask_pattern *out);

typedef struct dfl_mask_sampler dfl_mask_sampler;
/* Masks for n samples of c channels on h x w. per_channel: one mask per
 * channel (else one shared mask); a file pattern takes its channel count
 * from the file. Checks the pattern against the field (e.g. a block grid
 * finer than the field, more stations than cells). */
dfl_status dfl_mask_sampler_create(const dfl_mask_pattern *p, int64_t n, int c, int h, int w, int per_channel,
                                   uint64_t seed, dfl_mask_sampler **out);
/* Mask channels produced (1 or c). */
int dfl_mask_sampler_channels(const dfl_mask_sampler *s);
/* Masks of samples [first, first+count) into out [count, channels, h, w]. */
dfl_status dfl_mask_sampler_draw(dfl_mask_sampler *s, int64_t first, int64_t count, uint8_t *out);
void dfl_mask_sampler_destroy(dfl_mask_sampler *s);

#endif
