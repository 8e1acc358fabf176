/* Query coverage of a context/query strategy on a dataset's masks
 * (Theorem 1 of the paper; docs/design.md, "The method"; docs/method.md "Coverage").
 *
 * Entry i is learned only if it is queried with positive probability given
 * a context that looks like the contexts it will have at imputation. The
 * estimate, by Monte Carlo over dataset masks M and context draws of the
 * real strategy (dfl_method_sample_masks):
 *
 *   feature  b_i(ctx) = how much context lies around i: the number of
 *            context entries in the (2r+1)^2 window around i (same mask
 *            channel, clipped at the border, i excluded) in 8 bins
 *            (0 = none, 1..7 = sevenths of the window);
 *   training p(ch, b) = P(i ∈ M_qry | i ∉ M_ctx, b_i = b), pooled over the
 *            positions of mask channel ch, from every (draw, i ∉ M_ctx);
 *   coverage cov_i = E[p(ch_i, b_i(ctx)) | i ∉ M]: the average over the
 *            draws in which i is missing from the observation (exactly
 *            the entries imputation fills, whose contexts at imputation
 *            are drawn the same way) — and 0 when i is never observed in
 *            any sample (M_qry ⊆ M: it can never be queried, whatever the
 *            strategy; counted apart as `unobservable`).
 *   cov_i is NaN for entries never missing (nothing to impute there).
 *
 * For pixel contexts on block-missing data the missing block is the only
 * place with no context around, and there nothing is ever queried:
 * cov = 0 inside it. Block contexts hide observed blocks too, so an empty
 * block is queried about half the time: cov > 0 everywhere. */
#ifndef DYNFILL_HOST_COVERAGE_H
#define DYNFILL_HOST_COVERAGE_H

#include <stdint.h>

#include "dynfill/method.h"
#include "dynfill/status.h"

#define DFL_COVERAGE_BINS 8

typedef struct {
    const dfl_method_params *method;
    const uint8_t *masks; /* [n, mc, h, w] observation masks (1 = observed) */
    int n;                /* samples */
    int c, mc, h, w;      /* channels, mask channels (1 or c), field */
    int64_t draws;        /* context draws S (>= 1): draw r reads sample r mod n when S >= n */
    const int64_t *picks; /* S < n (required then): the sample draw r reads, picks[r] (one per equal
                             stretch of the n: dfl_sample_spread; a stride reads one phase of a period) */
    int radius;           /* neighbourhood radius r of the context feature (>= 0; default 2) */
    double threshold;     /* entries with cov below it are counted in `below` */
    uint64_t seed;
} dfl_coverage_request;

typedef struct {
    int mc, h, w;
    float *map;                      /* [mc, h, w] cov_i; NaN where never missing */
    float *query_rate;               /* [mc, h, w] fraction of draws with i ∈ M_qry and i ∉ M_ctx */
    double p_bin[DFL_COVERAGE_BINS]; /* p(b) pooled over mask channels (-1 when a bin never occurred) */
    int64_t entries;                 /* mc * h * w */
    int64_t scored;                  /* entries missing in at least one sample */
    int64_t unobservable;            /* scored entries observed in no sample (cov = 0 for any strategy) */
    int64_t below;                   /* other scored entries with cov < threshold: the strategy's doing */
    int64_t zero;                    /* ... of them with cov == 0 (never queried) */
    double min, mean;                /* over all scored entries (0 when none) */
} dfl_coverage_result;

/* DFL_EUSAGE for invalid parameters (message names the key). */
dfl_status dfl_coverage_estimate(const dfl_coverage_request *rq, dfl_coverage_result *out);
void dfl_coverage_result_free(dfl_coverage_result *res);

/* The warning lines for a result, each starting with "warning: " and
 * ending in a newline: one when entries are below the threshold because of
 * the strategy, one when entries are never observed; an empty string when
 * neither. unseen_withheld: training keeps cells of a station network out
 * (data.withhold_cells), so the calibration measures the error at cells the
 * network never saw; otherwise the never-observed line says /std is too
 * narrow there. */
void dfl_coverage_warning(const dfl_coverage_result *res, const dfl_method_params *method, double threshold,
                          int unseen_withheld, char *buf, size_t len);

#endif
