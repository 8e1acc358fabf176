/* Ensemble reduction of docs/design.md, "The method" (single-step imputation [ref]):
 * mean and spread over the K context draws of one element,
 *   mean = (1/K) Σ_k p_k,   std = sqrt((1/K) Σ_k (p_k − mean)²)
 * (population std, divisor K; 0 for K = 1), two passes in double in k
 * order, so the result is deterministic. */
#ifndef DYNFILL_SHARED_ENSEMBLE_H
#define DYNFILL_SHARED_ENSEMBLE_H

#include "dfl_hd.h"

/* p: the K predictions of one element, `stride` floats apart. */
DFL_HD void dfl_ensemble_stats(const float *p, int64_t stride, int k, float *mean, float *std) {
    double s = 0.0;
    for (int j = 0; j < k; ++j) s += (double)p[j * stride];
    double m = s / (double)k;
    double v = 0.0;
    for (int j = 0; j < k; ++j) {
        double d = (double)p[j * stride] - m;
        v += d * d;
    }
    *mean = (float)m;
    if (std) *std = (float)sqrt(v / (double)k);
}

#endif
