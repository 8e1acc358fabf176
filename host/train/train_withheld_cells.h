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

/* auto withholds where at least this share of the cells is observed in no sample read */
#define DFL_WITHHOLD_AUTO_MIN_NEVER 0.5
/* the share of the observed cells withheld (rounded, at least one) */
#define DFL_WITHHOLD_SHARE          0.1
/* fewer observed cells than this: nothing is withheld (too few to spare) */
#define DFL_WITHHOLD_MIN_OBSERVED   10
/* samples read for the choice, spread evenly over the file */
#define DFL_WITHHOLD_MAX_SAMPLES    64

typedef struct {
    uint8_t *plane;         /* [h, w], 1 = withheld; malloc'ed, NULL when nothing is withheld */
    int64_t cells;          /* h * w */
    int64_t observed_cells; /* cells observed (any mask plane) in at least one sample read */
    int64_t withheld;       /* cells set in plane */
    int64_t samples;        /* samples read */
    double never_share;     /* 1 - observed_cells / cells */
} dfl_withheld_cells;

/* The choice from the union of observed cells `ever` ([h, w], 1 = some
 * sample observes it): with mode "none" nothing; with "auto", where the
 * share of cells in no sample is at least DFL_WITHHOLD_AUTO_MIN_NEVER and
 * DFL_WITHHOLD_MIN_OBSERVED cells or more are observed, a uniform draw
 * (Philox, purpose WITHHOLD, keyed by seed) of DFL_WITHHOLD_SHARE of the
 * observed cells. */
void dfl_withheld_cells_choose(const uint8_t *ever, int h, int w, const char *mode, uint64_t seed,
                               dfl_withheld_cells *out);

/* The same from the dataset's masks (up to DFL_WITHHOLD_MAX_SAMPLES read
 * one at a time; with auto the reading stops once too many cells are
 * observed for it to withhold). A read error: DFL_EUSAGE naming the file. */
dfl_status dfl_train_withheld_cells(const dfl_dataset *ds, const char *mode, uint64_t seed, dfl_withheld_cells *out);

void dfl_withheld_cells_free(dfl_withheld_cells *wc);

#endif
