/* Spline fill of the network's masked input (model.input_fill = spline,
 * docs/design.md, "Input fill"), shared by the CPU and CUDA backends.
 *
 * Starting from the pyramid fill (input_fill.h), the fill F of each sample
 * and channel is moved towards the discrete thin-plate spline through the
 * context: the F that equals the values on the observed entries
 * (mask > 0.5) and minimises the bending energy
 *
 *   E(F) = sum (Dxx F)^2 + 2 sum (Dxy F)^2 + sum (Dyy F)^2,
 *
 * Dxx F = F[y, x-1] - 2 F[y, x] + F[y, x+1] on the columns that have both
 * neighbours, Dxy F = F[y, x] - F[y, x+1] - F[y+1, x] + F[y+1, x+1] on the
 * 2x2 cells inside the field, Dyy alike on rows. Along a periodic axis
 * every column (row) and cell wraps around; otherwise the border is free
 * (natural boundary: an affine field has no energy, so nothing pulls the
 * fill flat at the edges).
 *
 * E is quadratic, so its minimiser solves A F = 0 on the missing entries,
 * A = Dxx'Dxx + 2 Dxy'Dxy + Dyy'Dyy: in the interior the 13-point
 * biharmonic stencil (20 at the centre, -8 on the 4 neighbours, 2 on the
 * diagonals, 1 two steps away). The fill runs DFL_SPLINE_ITERS steps of
 * conjugate gradients on that system (the unknowns are the missing
 * entries; the observed ones stay fixed), from the pyramid fill, and stops
 * early when the residual has fallen by 1e6. The pyramid sets the large
 * scales; the iterations smooth the gaps between observations. Dot
 * products are accumulated in double. With few observations the
 * iterations do not converge, and the fill lies between the pyramid and
 * the spline. */
#ifndef DYNFILL_SHARED_FILL_SPLINE_H
#define DYNFILL_SHARED_FILL_SPLINE_H

#include <stddef.h>

#include "dfl_hd.h"
#include "input_fill.h"

/* Conjugate-gradient steps per fill (the network's fixed setting). */
#define DFL_SPLINE_ITERS 64

/* The early stop: when the squared residual norm falls below this share
 * of its first value. */
#define DFL_SPLINE_RTOL2 1e-12

/* Floats of planar scratch per sample channel: the fill u, residual r,
 * direction p, A p and the free-entry flag. */
#define DFL_SPLINE_PLANES 5

/* Floats of scratch for the spline fill of n samples of h x w x c: the
 * pyramid's, or the planes, whichever is larger (the pyramid is done
 * before the planes are used). */
DFL_HD size_t dfl_spline_scratch_floats(int n, int h, int w, int c) {
    const size_t planes = (size_t)DFL_SPLINE_PLANES * n * h * w * c;
    const size_t pyr = dfl_fill_scratch_floats(n, h, w, c);
    return planes > pyr ? planes : pyr;
}

/* Of the network input the fill works on, ys [h w, 3c] of one sample
 * (dfl_net_input_index): 1 when entry e of channel ch is free to move
 * (context mask <= 0.5), 0 when observed. */
DFL_HD float dfl_spline_free(const float *ys, size_t e, int c, int ch) {
    return ys[dfl_net_input_index(e, 3, c, DFL_INPUT_PART_MASK, ch)] > 0.5f ? 0.0f : 1.0f;
}

/* k modulo n in [0, n) (no division where k is already inside). */
DFL_HD int dfl_spline_wrap(int k, int n) {
    if (k >= 0 && k < n) return k;
    k %= n;
    return k < 0 ? k + n : k;
}

/* p at (y, x) of an h x w plane, wrapped (only used where the axis is
 * periodic or the index is inside). */
DFL_HD float dfl_spline_at(const float *p, int h, int w, int y, int x) {
    return p[(size_t)dfl_spline_wrap(y, h) * w + dfl_spline_wrap(x, w)];
}

/* (A p)[y, x] at any entry of the plane, border or not, from the three
 * second differences whose stencils contain (y, x). */
DFL_HD float dfl_spline_apply_at(const float *p, int h, int w, int periodic_x, int periodic_y, int y, int x) {
    float acc = 0.0f;
    /* Dxx'Dxx: columns k = x-1, x, x+1, weight 1, -2, 1 of their difference */
    for (int k = x - 1; k <= x + 1; ++k) {
        if (!periodic_x && (k < 1 || k > w - 2)) continue;
        const float d =
            dfl_spline_at(p, h, w, y, k - 1) - 2.0f * dfl_spline_at(p, h, w, y, k) + dfl_spline_at(p, h, w, y, k + 1);
        acc += (k == x ? -2.0f : 1.0f) * d;
    }
    for (int k = y - 1; k <= y + 1; ++k) {
        if (!periodic_y && (k < 1 || k > h - 2)) continue;
        const float d =
            dfl_spline_at(p, h, w, k - 1, x) - 2.0f * dfl_spline_at(p, h, w, k, x) + dfl_spline_at(p, h, w, k + 1, x);
        acc += (k == y ? -2.0f : 1.0f) * d;
    }
    /* 2 Dxy'Dxy: the (up to) four 2x2 cells (a, b) with corner (y, x) */
    for (int a = y - 1; a <= y; ++a) {
        if (!periodic_y && (a < 0 || a > h - 2)) continue;
        for (int b = x - 1; b <= x; ++b) {
            if (!periodic_x && (b < 0 || b > w - 2)) continue;
            const float d = dfl_spline_at(p, h, w, a, b) - dfl_spline_at(p, h, w, a, b + 1) -
                            dfl_spline_at(p, h, w, a + 1, b) + dfl_spline_at(p, h, w, a + 1, b + 1);
            acc += ((a == y) == (b == x) ? 2.0f : -2.0f) * d;
        }
    }
    return acc;
}

/* The interior stencil: (A p) at column x of row r0, two or more steps
 * from every non-periodic border; u1, d1: the rows above and below, u2,
 * d2 two steps away (already wrapped); x - 2 and x + 2 inside the row. */
DFL_HD float dfl_spline_apply_interior(const float *u2, const float *u1, const float *r0, const float *d1,
                                       const float *d2, int x) {
    return 20.0f * r0[x] - 8.0f * (r0[x - 1] + r0[x + 1] + u1[x] + d1[x]) +
           2.0f * (u1[x - 1] + u1[x + 1] + d1[x - 1] + d1[x + 1]) + (r0[x - 2] + r0[x + 2] + u2[x] + d2[x]);
}

#endif
