/* The order-3 grid spline of the spline correction (docs/design.md,
 * "Spline correction"), shared by the CPU and CUDA backends: on each plane,
 * the field F equal to the observed values (mask > 0.5) that minimises the
 * energy of its third differences,
 *
 *   E(F) = sum (Dxxx F)^2 + 3 sum (Dxxy F)^2 + 3 sum (Dxyy F)^2 + sum (Dyyy F)^2,
 *
 * each difference taken where its stencil fits in the plane, or everywhere,
 * wrapped, along a periodic axis (a free border otherwise: a quadratic field
 * has no energy). The weights 1, 3, 3, 1 make the energy's symbol
 * (a + b)^3, with a and b the symbols of the second differences along x and
 * y: the discrete triharmonic spline. It reproduces smoother fields than
 * the thin-plate spline of fill_spline.h; on rough fields it overshoots
 * more.
 *
 * E is quadratic: its minimiser solves A F = 0 on the missing entries,
 * A = sum weight D'D. Three or more steps from every non-periodic border
 * A is (-L)^3, L the 5-point Laplacian: a 25-point stencil, 112 at the
 * centre, -57 on the 4 neighbours, 24 on the diagonals, 12 two steps away,
 * -3 a knight's move away, -1 three steps away. Its coefficients sum to 0,
 * so it is evaluated on differences from the centre, which keeps float
 * rounding small on smooth planes. Nearer a free border the four D'D are
 * applied one by one.
 *
 * The op runs conjugate gradients on that system from the fill it is given
 * (the spline correction starts it from the thin-plate spline), the same
 * iteration as fill_spline.h with the same scratch and early stop. */
#ifndef DYNFILL_SHARED_FILL_SPLINE3_H
#define DYNFILL_SHARED_FILL_SPLINE3_H

#include "dfl_hd.h"
#include "fill_spline.h"

/* Conjugate-gradient steps of the order-3 solve in the spline correction.
 * Inside a gap g entries wide the system's condition number grows like
 * g^6, so wide gaps need many steps: on the study's advection, 512 steps
 * instead of 128 cut the MSE by 20-21 % (8/9 and 5/9 blocks) and 46-49 %
 * (6-wide swaths); 1024 was better again on the swaths and worse on 8/9
 * blocks (benchmarks/study/RESULTS.md, "The order-3 spline as a backend
 * op, and 512 steps"). */
#define DFL_SPLINE3_ITERS 512

/* Stencil rows and columns beyond the centre: the interior starts here. */
#define DFL_SPLINE3_REACH 3

/* One of the four third differences, anchored at the stencil's corner
 * (dy, dx >= 0): d(a) = sum_k c_k F[a + (dy_k, dx_k)], over ey + 1 rows and
 * ex + 1 columns, weight w in the energy. */
typedef struct {
    int taps, ey, ex;
    float weight;
    int dy[6], dx[6];
    float c[6];
} dfl_spline3_difference;

/* The four differences, Dxxx, Dxxy, Dxyy, Dyyy. */
DFL_HD dfl_spline3_difference dfl_spline3_difference_of(int o) {
    dfl_spline3_difference t;
    if (o == 0 || o == 3) { /* (-1, 3, -3, 1) along x (o = 0) or y */
        const float c[4] = {-1.0f, 3.0f, -3.0f, 1.0f};
        t.taps = 4, t.weight = 1.0f;
        t.ey = o == 3 ? 3 : 0, t.ex = o == 3 ? 0 : 3;
        for (int k = 0; k < 4; ++k) t.c[k] = c[k], t.dy[k] = o == 3 ? k : 0, t.dx[k] = o == 3 ? 0 : k;
    } else { /* (1, -2, 1) along one axis, (1, -1) along the other */
        t.taps = 6, t.weight = 3.0f;
        t.ey = o == 1 ? 1 : 2, t.ex = o == 1 ? 2 : 1;
        for (int k = 0; k < 6; ++k) {
            const int along = k % 3, across = k / 3; /* along the second difference, across the first */
            t.c[k] = (along == 1 ? -2.0f : 1.0f) * (across ? -1.0f : 1.0f);
            t.dy[k] = o == 1 ? across : along, t.dx[k] = o == 1 ? along : across;
        }
    }
    return t;
}

/* (A p)[y, x] at any entry of the plane, border or not: for each difference
 * and each of its taps that can land on (y, x), the anchor it comes from, if
 * that anchor's stencil fits (or wraps along a periodic axis). */
DFL_HD float dfl_spline3_apply_at(const float *p, int h, int w, int periodic_x, int periodic_y, int y, int x) {
    float acc = 0.0f;
    for (int o = 0; o < 4; ++o) {
        const dfl_spline3_difference t = dfl_spline3_difference_of(o);
        for (int j = 0; j < t.taps; ++j) {
            const int ay = y - t.dy[j], ax = x - t.dx[j];
            if (!periodic_y && (ay < 0 || ay + t.ey > h - 1)) continue;
            if (!periodic_x && (ax < 0 || ax + t.ex > w - 1)) continue;
            float d = 0.0f;
            for (int k = 0; k < t.taps; ++k) d += t.c[k] * dfl_spline_at(p, h, w, ay + t.dy[k], ax + t.dx[k]);
            acc += t.weight * t.c[j] * d;
        }
    }
    return acc;
}

/* The interior stencil, (-L)^3 p at the column x[3] of row r[3]: r[0..6]
 * are the rows y - 3 .. y + 3 and x[0..6] the columns x - 3 .. x + 3 (both
 * already wrapped). */
DFL_HD float dfl_spline3_stencil(const float *const r[7], const int x[7]) {
    const float *r0 = r[3];
    const float c = r0[x[3]];
    const float near = (r0[x[2]] - c) + (r0[x[4]] - c) + (r[2][x[3]] - c) + (r[4][x[3]] - c);
    const float diag = (r[2][x[2]] - c) + (r[2][x[4]] - c) + (r[4][x[2]] - c) + (r[4][x[4]] - c);
    const float two = (r0[x[1]] - c) + (r0[x[5]] - c) + (r[1][x[3]] - c) + (r[5][x[3]] - c);
    const float knight = (r[1][x[2]] - c) + (r[1][x[4]] - c) + (r[5][x[2]] - c) + (r[5][x[4]] - c) + (r[2][x[1]] - c) +
                         (r[2][x[5]] - c) + (r[4][x[1]] - c) + (r[4][x[5]] - c);
    const float three = (r0[x[0]] - c) + (r0[x[6]] - c) + (r[0][x[3]] - c) + (r[6][x[3]] - c);
    return -57.0f * near + 24.0f * diag + 12.0f * two - 3.0f * knight - three;
}

/* The same at column x, three or more columns inside the row (the form a
 * compiler vectorises). */
DFL_HD float dfl_spline3_apply_interior(const float *const r[7], int x) {
    const int cols[7] = {x - 3, x - 2, x - 1, x, x + 1, x + 2, x + 3};
    return dfl_spline3_stencil(r, cols);
}

/* The same at any column of a periodic row of w entries (wrapped). */
DFL_HD float dfl_spline3_apply_wrapped(const float *const r[7], int w, int x) {
    int cols[7];
    for (int k = 0; k < 7; ++k) cols[k] = dfl_spline_wrap(x + k - DFL_SPLINE3_REACH, w);
    return dfl_spline3_stencil(r, cols);
}

#endif
