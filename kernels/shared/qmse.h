/* Query-masked MSE of docs/design.md, "The method" [ref], per element:
 *   L = Σ M_qry ⊙ (x̂0 − x_obs)² / D,   dL/dx̂0 = 2 M_qry ⊙ (x̂0 − x_obs) / D,
 * optionally with a weight r per row (latitude weighting, method.lat_weight:
 * r_y = cos(lat_y) over the mean of cos over the field's rows, so D keeps
 * its meaning and an even spread of queries keeps the loss's scale):
 *   L = Σ r ⊙ M_qry ⊙ (x̂0 − x_obs)² / D,  dL/dx̂0 = 2 r ⊙ M_qry ⊙ (x̂0 − x_obs) / D,
 * D = Σ M_qry over the batch (or a caller-given normaliser, e.g. the query
 * count of the global batch across ranks). Squares are accumulated in
 * double over fixed chunks of DFL_QMSE_CHUNK pixels, whose partial sums are
 * added in chunk order, so the loss does not depend on thread count. */
#ifndef DYNFILL_SHARED_QMSE_H
#define DYNFILL_SHARED_QMSE_H

#include "dfl_hd.h"

/* Pixels (NHWC rows of C values) per reduction chunk. */
#define DFL_QMSE_CHUNK 1024

/* Squared error of one element in double (the difference of two floats
 * is exact in double), 0 off the query (a select: NaN-safe). */
DFL_HD double dfl_qmse_sq(float pred, float obs, int query) {
    double d = (double)pred - (double)obs;
    return query ? d * d : 0.0;
}

/* The gradient's factor 2 / D, 0 when D = 0 (no query entry). */
DFL_HD float dfl_qmse_two_over_d(double d) { return d > 0.0 ? (float)(2.0 / d) : 0.0f; }

/* The loss from the sum of squares: sum / D, 0 when D = 0. */
DFL_HD double dfl_qmse_loss(double sum, double d) { return d > 0.0 ? sum / d : 0.0; }

/* Gradient of one element; two_over_d = dfl_qmse_two_over_d(D). */
DFL_HD float dfl_qmse_grad(float pred, float obs, int query, float two_over_d) {
    return query ? two_over_d * (pred - obs) : 0.0f;
}

/* The weighted forms: the squared error and the gradient of one element
 * of a row of weight r. */
DFL_HD double dfl_qmse_sq_weighted(float pred, float obs, int query, float r) {
    return (double)r * dfl_qmse_sq(pred, obs, query);
}
DFL_HD float dfl_qmse_grad_weighted(float pred, float obs, int query, float two_over_d, float r) {
    return query ? (two_over_d * r) * (pred - obs) : 0.0f;
}

#endif
