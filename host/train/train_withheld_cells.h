/* data.withhold_cells (docs/design.md, "Withheld cells"): on data whose
 * observations sit at the same few cells in every sample (a station
 * network), the network learns to fill those cells and nothing else it
 * sees in training, while imputation fills the cells no sample observes.
 * The held-out calibration hides observed entries, at cells the network
 * was trained on, so it fits the spline correction and the spread to
 * errors far smaller than the test's. A share of the observed cells is
 * kept out of training (the loader reads them as unobserved, the
 * climatology estimate leaves them out) and the calibration hides exactly
 * those: cells the network never saw, as the test's. */
#ifndef DYNFILL_HOST_TRAIN_WITHHELD_CELLS_H
#define DYNFILL_HOST_TRAIN_WITHHELD_CELLS_H

#include <stddef.h>
#include <stdint.h>

#include "dynfill/data.h"

/* A station network, for auto: at least this share of the cells observed in no sample read, */
#define DFL_WITHHOLD_AUTO_MIN_NEVER      0.5
/* the observed cells seen in at least this share of the samples on average (random
 * sparse pixels are observed somewhere in a few samples each), */
#define DFL_WITHHOLD_AUTO_MIN_FREQUENCY  0.5
/* and scattered: an observed cell has on average at most this many times the observed
 * 4-neighbours that cells at random places would have (4 x the observed share; a fixed footprint or
 * land-sea mask is one region, whose cells have nearly 4, and whose gaps calibration hides by other
 * means) */
#define DFL_WITHHOLD_AUTO_MAX_CLUSTERING 2.0
/* the share of the observed cells withheld (rounded, at least one) */
#define DFL_WITHHOLD_SHARE               0.1
/* fewer observed cells than this: nothing is withheld (too few to spare) */
#define DFL_WITHHOLD_MIN_OBSERVED        10
/* samples read for the choice, one per equal stretch of the file (dfl_sample_spread): up to 64, within 256 MiB of masks
 * but never fewer than 8 (the frequencies need a few) */
#define DFL_WITHHOLD_MAX_SAMPLES         64
#define DFL_WITHHOLD_MIN_SAMPLES         8
#define DFL_WITHHOLD_MASK_BYTES          ((size_t)256 << 20)

typedef struct {
    uint8_t *plane;         /* [h, w], 1 = withheld; malloc'ed, NULL when nothing is withheld */
    int64_t cells;          /* h * w */
    int64_t observed_cells; /* cells observed (any mask plane) in at least one sample read */
    int64_t withheld;       /* cells set in plane */
    int64_t samples;        /* samples read */
    double never_share;     /* 1 - observed_cells / cells */
    double frequency;       /* the observed cells' mean share of the samples that observe them */
    double clustering;      /* observed 4-neighbours of an observed cell over 4 x (1 - never_share) */
} dfl_withheld_cells;

/* The choice from count[p], the number of the `samples` read that observe
 * cell p ([h, w]): with mode "none" nothing; with "auto", on a station
 * network (the three DFL_WITHHOLD_AUTO_MIN_* conditions) of
 * DFL_WITHHOLD_MIN_OBSERVED cells or more, a uniform draw (Philox, purpose
 * WITHHOLD, keyed by seed) of DFL_WITHHOLD_SHARE of the observed cells. */
void dfl_withheld_cells_choose(const uint32_t *count, int64_t samples, int h, int w, const char *mode, uint64_t seed,
                               dfl_withheld_cells *out);

/* The same from the dataset's masks (read one sample at a time, up to the
 * DFL_WITHHOLD_* limits; with auto the reading stops once more than half of
 * the cells are observed). A read error: DFL_EUSAGE naming the file. */
dfl_status dfl_train_withheld_cells(const dfl_dataset *ds, const char *mode, uint64_t seed, dfl_withheld_cells *out);

void dfl_withheld_cells_free(dfl_withheld_cells *wc);

#endif
