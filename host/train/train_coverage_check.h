/* Theorem 1 check at the start of `dynfill train`: estimates the query
 * coverage of the configured strategy on the dataset's masks and warns
 * when entries outside the context are never queried (they cannot be
 * learned). Uses the same estimator as `dynfill coverage`. unseen_withheld:
 * training withholds station cells (data.withhold_cells) for the
 * calibration (dfl_coverage_warning). */
#ifndef DYNFILL_HOST_TRAIN_COVERAGE_CHECK_H
#define DYNFILL_HOST_TRAIN_COVERAGE_CHECK_H

#include <stdint.h>

#include "dynfill/data.h"
#include "dynfill/method.h"

void dfl_train_coverage_check(const dfl_dataset *ds, const dfl_method_params *method, int unseen_withheld,
                              uint64_t seed);

#endif
