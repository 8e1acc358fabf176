/* The order-3 grid spline of the spline correction (docs/design.md,
 * "Spline correction"): on one plane, the field equal to the observed
 * values that minimises the energy of its third differences,
 *
 *   E(F) = sum (Dxxx F)^2 + 3 sum (Dxxy F)^2 + 3 sum (Dxyy F)^2 + sum (Dyyy F)^2,
 *
 * each difference taken where its stencil fits in the plane, or
 * everywhere, wrapped, along a periodic axis (a free border otherwise: a
 * quadratic field has no energy). Along periodic axes this is the
 * discrete triharmonic spline (the weights 1, 3, 3, 1 make the energy's
 * symbol (a + b)^3 with a, b the second-difference symbols of x and y).
 * It reproduces smoother fields than the thin-plate (order-2) spline
 * does; on rough fields it overshoots more. */
#ifndef DYNFILL_HOST_SPLINE_ORDER3_H
#define DYNFILL_HOST_SPLINE_ORDER3_H

#include <stdint.h>

/* Conjugate-gradient steps of the order-3 solve (from the order-2 spline). */
#define DFL_SPLINE3_ITERS 128

/* u [h, w]: in the start (observed entries already the observed values),
 * out the order-3 spline after at most iters CG steps (stopping when the
 * residual has fallen by 1e12 in squared norm). observed [h, w]: nonzero
 * where u is fixed. */
void dfl_spline3_solve_plane(int h, int w, int periodic_x, int periodic_y, int iters, const uint8_t *observed,
                             double *u);

#endif
