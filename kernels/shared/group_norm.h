/* Per-group and per-element math of group normalisation (docs/design.md, "The network: dfl-unet v1"),
 * shared by the CPU and CUDA backends. Per sample and group of `count`
 * elements (hw pixels x c/groups channels), from the sums of x and x^2
 * accumulated in double:
 *   mean = E[x], var = max(E[x^2] - mean^2, 0), rstd = 1 / sqrt(var + eps),
 *   a = (x - mean) scale + shift,  scale = rstd gamma, shift = beta
 *   (gamma / beta NULL mean 1 / 0), y = silu(a) when fused.
 * Backward with da = dy silu'(a) (or dy), xhat = (x - mean) rstd and the
 * group means E[da gamma], E[da gamma xhat] (from double sums):
 *   dx = P da + Q (x - mean) + R,
 *   P = rstd gamma, Q = -rstd^2 E[da gamma xhat], R = -rstd E[da gamma]. */
#ifndef DYNFILL_SHARED_GROUP_NORM_H
#define DYNFILL_SHARED_GROUP_NORM_H

#include <math.h>

#include "dfl_hd.h"

/* mean and rstd of a group from sum x, sum x^2 over count elements. */
DFL_HD void dfl_gn_stats(double sum, double sumsq, double count, float eps, float *mean, float *rstd) {
    const double mu = sum / count;
    double var = sumsq / count - mu * mu;
    if (var < 0.0) var = 0.0;
    *mean = (float)mu;
    *rstd = (float)(1.0 / sqrt(var + (double)eps));
}

/* gamma[ch] or 1, beta[ch] or 0 (NULL = no affine parameter). */
DFL_HD float dfl_gn_gamma(const float *gamma, int ch) { return gamma ? gamma[ch] : 1.0f; }
DFL_HD float dfl_gn_beta(const float *beta, int ch) { return beta ? beta[ch] : 0.0f; }

/* Per-channel scale rstd gamma of the forward. */
DFL_HD float dfl_gn_scale(float rstd, float gamma) { return rstd * gamma; }

/* a = (x - mean) scale + shift, with xc = x - mean. */
DFL_HD float dfl_gn_affine(float xc, float scale, float shift) { return xc * scale + shift; }

/* xhat = (x - mean) rstd, with xc = x - mean. */
DFL_HD float dfl_gn_xhat(float xc, float rstd) { return xc * rstd; }

/* P = rstd gamma (in double, rounded once). */
DFL_HD float dfl_gn_bwd_p(double rstd, float gamma) { return (float)(rstd * gamma); }

/* Q and R from the group sums of da gamma and da gamma xhat. */
DFL_HD void dfl_gn_bwd_qr(double rstd, double sum_dg, double sum_dg_xhat, double count, float *q, float *r) {
    const double e_dg = sum_dg / count, e_dg_xhat = sum_dg_xhat / count;
    *q = (float)(-rstd * rstd * e_dg_xhat);
    *r = (float)(-rstd * e_dg);
}

/* dx = P da + Q (x - mean) + R, with xc = x - mean. */
DFL_HD float dfl_gn_bwd_dx(float p, float da, float q, float xc, float r) { return p * da + q * xc + r; }

#endif
