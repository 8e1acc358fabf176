/* The Theorem 1 check at the start of `dynfill train`
 * (train/train_coverage_check.h), on the estimator of method/coverage.h. */
#include "train_coverage_check.h"

#include <stdio.h>
#include <stdlib.h>

#include "method/coverage.h"
#include "train_mask_sample.h"

/* Budgets that keep the check to about a second: masks read and element draws. */
#define DFL_COVERAGE_CHECK_MASK_BYTES   ((size_t)64 << 20)
#define DFL_COVERAGE_CHECK_DRAW_ENTRIES 3.0e7

void dfl_train_coverage_check(const dfl_dataset *ds, const dfl_method_params *method, int unseen_withheld,
                              uint64_t seed) {
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    const size_t entries = (size_t)info->mask_c * (size_t)info->h * (size_t)info->w;
    int64_t n = 0;
    uint8_t *masks = dfl_train_mask_sample(ds, DFL_COVERAGE_CHECK_MASK_BYTES, &n);
    if (!masks) return; /* the training loader will report a read error itself */
    int64_t draws = (int64_t)(DFL_COVERAGE_CHECK_DRAW_ENTRIES / (double)entries);
    if (draws > 400) draws = 400;
    if (draws < 20) draws = 20;
    /* fewer draws than masks read: one per equal stretch of them (all of them say which entries are observed) */
    int64_t *picks = NULL;
    if (draws < n) {
        picks = dfl_xmalloc((size_t)draws * sizeof *picks);
        for (int64_t d = 0; d < draws; ++d) picks[d] = dfl_sample_spread(0, draws, n, d);
    }
    dfl_coverage_request rq = {.method = method,
                               .masks = masks,
                               .n = (int)n,
                               .c = info->c,
                               .mc = info->mask_c,
                               .h = info->h,
                               .w = info->w,
                               .draws = draws,
                               .picks = picks,
                               .radius = 2,
                               .threshold = 1e-3,
                               .seed = seed};
    dfl_coverage_result res;
    if (dfl_coverage_estimate(&rq, &res) == DFL_OK) {
        char line[2048];
        dfl_coverage_warning(&res, method, rq.threshold, unseen_withheld, line, sizeof line);
        if (line[0]) fprintf(stderr, "%s(dynfill coverage --data %s gives the per-entry map)\n", line, info->path);
        dfl_coverage_result_free(&res);
    } else {
        dfl_clear_error();
    }
    free(picks);
    free(masks);
}
