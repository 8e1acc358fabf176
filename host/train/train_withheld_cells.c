/* data.withhold_cells (train/train_withheld_cells.h). */
#include "train_withheld_cells.h"

#include <stdlib.h>
#include <string.h>

#include "dynfill/status.h"
#include "shared/philox.h"

/* the 4-neighbours of cell (y, x) observed in some sample */
static int observed_neighbours(const uint32_t *count, int h, int w, int y, int x) {
    return (y > 0 && count[(size_t)(y - 1) * w + x]) + (y + 1 < h && count[(size_t)(y + 1) * w + x]) +
           (x > 0 && count[(size_t)y * w + x - 1]) + (x + 1 < w && count[(size_t)y * w + x + 1]);
}

void dfl_withheld_cells_choose(const uint32_t *count, int64_t samples, int h, int w, const char *mode, uint64_t seed,
                               dfl_withheld_cells *out) {
    const size_t px = (size_t)h * w;
    memset(out, 0, sizeof *out);
    out->samples = samples;
    out->cells = (int64_t)px;
    int64_t *cell = dfl_xmalloc((px ? px : 1) * sizeof(int64_t)); /* the observed cells, in order */
    double seen = 0.0, neighbours = 0.0;
    for (size_t p = 0; p < px; ++p)
        if (count[p]) {
            cell[out->observed_cells++] = (int64_t)p;
            seen += count[p];
            neighbours += observed_neighbours(count, h, w, (int)(p / w), (int)(p % w));
        }
    const double observed = (double)out->observed_cells;
    out->never_share = px ? 1.0 - observed / (double)px : 0.0;
    out->frequency = observed > 0 && samples > 0 ? seen / (observed * (double)samples) : 0.0;
    const double share = px ? observed / (double)px : 0.0;
    out->clustering = observed > 0 ? neighbours / observed / (4.0 * share) : 0.0;
    const int network = out->never_share >= DFL_WITHHOLD_AUTO_MIN_NEVER &&
                        out->frequency >= DFL_WITHHOLD_AUTO_MIN_FREQUENCY &&
                        out->clustering <= DFL_WITHHOLD_AUTO_MAX_CLUSTERING;
    if (strcmp(mode, "auto") || !network || out->observed_cells < DFL_WITHHOLD_MIN_OBSERVED) {
        free(cell);
        return;
    }
    int64_t k = (int64_t)(DFL_WITHHOLD_SHARE * observed + 0.5);
    if (k < 1) k = 1;
    /* the first k of a Fisher-Yates shuffle of the observed cells */
    const uint64_t stream = dfl_rng_stream(DFL_RNG_PURPOSE_WITHHOLD, 0, 0);
    for (int64_t i = 0; i < k; ++i) {
        const int64_t left = out->observed_cells - i;
        int64_t j = i + (int64_t)(dfl_rng_uniform(seed, stream, (uint64_t)i) * (double)left);
        if (j >= out->observed_cells) j = out->observed_cells - 1;
        const int64_t t = cell[i];
        cell[i] = cell[j], cell[j] = t;
    }
    out->plane = dfl_xcalloc(px, 1);
    for (int64_t i = 0; i < k; ++i) out->plane[cell[i]] = 1;
    out->withheld = k;
    free(cell);
}

dfl_status dfl_train_withheld_cells(const dfl_dataset *ds, const char *mode, uint64_t seed, dfl_withheld_cells *out) {
    memset(out, 0, sizeof *out);
    if (strcmp(mode, "auto")) return DFL_OK;
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    const size_t px = (size_t)info->h * info->w, per = (size_t)info->mask_c * px;
    int64_t n = (int64_t)(DFL_WITHHOLD_MASK_BYTES / (per ? per : 1));
    if (n > DFL_WITHHOLD_MAX_SAMPLES) n = DFL_WITHHOLD_MAX_SAMPLES;
    if (n < DFL_WITHHOLD_MIN_SAMPLES) n = DFL_WITHHOLD_MIN_SAMPLES;
    if (n > info->n) n = info->n;
    uint8_t *mask = dfl_xmalloc(per ? per : 1), *here = dfl_xmalloc(px ? px : 1);
    uint32_t *count = dfl_xcalloc(px ? px : 1, sizeof(uint32_t));
    size_t observed = 0;
    int64_t read = 0;
    dfl_status s = DFL_OK;
    for (int64_t i = 0; i < n; ++i) {
        const int64_t src = dfl_sample_spread(0, n, info->n, i);
        if ((s = dfl_dataset_read_samples(ds, src, 1, NULL, mask)) != DFL_OK) break;
        memset(here, 0, px);
        for (size_t j = 0; j < per; ++j) here[j % px] |= mask[j] != 0;
        for (size_t p = 0; p < px; ++p)
            if (here[p]) observed += count[p]++ == 0;
        read = i + 1;
        /* observed cells only grow: past this share auto withholds nothing, whatever the other samples hold */
        if ((double)observed > (1.0 - DFL_WITHHOLD_AUTO_MIN_NEVER) * (double)px) break;
    }
    if (s == DFL_OK) dfl_withheld_cells_choose(count, read, info->h, info->w, mode, seed, out);
    free(mask);
    free(here);
    free(count);
    return s;
}

void dfl_withheld_cells_free(dfl_withheld_cells *wc) {
    free(wc->plane);
    wc->plane = NULL;
    wc->withheld = 0;
}
