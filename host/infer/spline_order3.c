/* The order-3 grid spline (infer/spline_order3.h): conjugate gradients on
 * A F = 0 over the missing entries, A = sum of weight D'D over the four
 * third differences, applied as D then its adjoint. */
#include "spline_order3.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "dynfill/status.h"
#include "shared/fill_spline.h"

/* A third difference: taps at anchor + (dy, dx) with coefficients c; the
 * stencil spans ey + 1 rows and ex + 1 columns. */
typedef struct {
    int taps, ey, ex;
    double weight;
    int dy[6], dx[6];
    double c[6];
} third_difference;

static const third_difference k_third[4] = {
    {4, 0, 3, 1.0, {0, 0, 0, 0}, {0, 1, 2, 3}, {-1, 3, -3, 1}},                    /* xxx */
    {6, 1, 2, 3.0, {0, 0, 0, 1, 1, 1}, {0, 1, 2, 0, 1, 2}, {1, -2, 1, -1, 2, -1}}, /* xxy */
    {6, 2, 1, 3.0, {0, 1, 2, 0, 1, 2}, {0, 0, 0, 1, 1, 1}, {1, -2, 1, -1, 2, -1}}, /* xyy */
    {4, 3, 0, 1.0, {0, 1, 2, 3}, {0, 0, 0, 0}, {-1, 3, -3, 1}},                    /* yyy */
};

/* The padded difference plane: d(y, x) at d[(y + 3) (w + 3) + x + 3], three
 * rows and columns of padding above and left for the anchors a tap reaches
 * back to. */
#define PAD 3
static size_t padded(int w, int y, int x) { return (size_t)(y + PAD) * (size_t)(w + PAD) + (size_t)(x + PAD); }

/* q += D'(weight D p) for one third difference: first d at every anchor (the
 * stencil's corner; those whose stencil fits without wrapping in a loop the
 * compiler vectorises, the rest wrapped, along periodic axes only), then
 * the adjoint as a gather, q(e) += sum c_k d(e - tap k), from the padded d:
 * zeros where no anchor is, a copy of the far rows / columns along a
 * periodic axis. */
static void apply_difference(const third_difference *t, int h, int w, int px, int py, const double *p, double *d,
                             double *q) {
    const int fy = py ? h : (h - t->ey > 0 ? h - t->ey : 0), fx = px ? w : (w - t->ex > 0 ? w - t->ex : 0);
    const int xfit = w - t->ex > 0 ? w - t->ex : 0; /* anchors x < xfit need no wrap in x */
    memset(d, 0, sizeof(double) * (size_t)(h + PAD) * (size_t)(w + PAD));
    ptrdiff_t off[6];
    for (int k = 0; k < t->taps; ++k) off[k] = (ptrdiff_t)t->dy[k] * w + t->dx[k];
    for (int y = 0; y < fy; ++y) {
        double *dr = d + padded(w, y, 0);
        const int row_fits = y + t->ey < h;
        const int xf = row_fits ? (xfit < fx ? xfit : fx) : 0;
        const double *pr = p + (size_t)y * w;
        for (int x = 0; x < xf; ++x) {
            double v = 0.0;
            for (int k = 0; k < t->taps; ++k) v += t->c[k] * pr[x + off[k]];
            dr[x] = t->weight * v;
        }
        for (int x = xf; x < fx; ++x) { /* wrapped */
            double v = 0.0;
            for (int k = 0; k < t->taps; ++k)
                v += t->c[k] *
                     p[(size_t)dfl_spline_wrap(y + t->dy[k], h) * w + (size_t)dfl_spline_wrap(x + t->dx[k], w)];
            dr[x] = t->weight * v;
        }
    }
    if (px)
        for (int y = 0; y < h; ++y)
            for (int x = -PAD; x < 0; ++x) d[padded(w, y, x)] = d[padded(w, y, dfl_spline_wrap(x, w))];
    if (py)
        for (int y = -PAD; y < 0; ++y)
            memcpy(d + padded(w, y, -PAD), d + padded(w, dfl_spline_wrap(y, h), -PAD),
                   sizeof(double) * (size_t)(w + PAD));
    for (int y = 0; y < h; ++y) {
        double *qr = q + (size_t)y * w;
        for (int k = 0; k < t->taps; ++k) {
            const double *dr = d + padded(w, y - t->dy[k], -t->dx[k]);
            const double ck = t->c[k];
            for (int x = 0; x < w; ++x) qr[x] += ck * dr[x];
        }
    }
}

/* q = free .* (A p); d: padded scratch */
static void apply(int h, int w, int px, int py, const double *p, const uint8_t *observed, double *q, double *d) {
    memset(q, 0, sizeof(double) * (size_t)h * w);
    for (int o = 0; o < 4; ++o) apply_difference(&k_third[o], h, w, px, py, p, d, q);
    for (size_t e = 0; e < (size_t)h * w; ++e)
        if (observed[e]) q[e] = 0.0;
}

static double dot(size_t n, const double *a, const double *b) {
    double s = 0.0;
    for (size_t k = 0; k < n; ++k) s += a[k] * b[k];
    return s;
}

void dfl_spline3_solve_plane(int h, int w, int periodic_x, int periodic_y, int iters, const uint8_t *observed,
                             double *u) {
    const size_t n = (size_t)h * w;
    double *r = dfl_xmalloc(3 * n * sizeof(double)), *p = r + n, *q = p + n;
    double *d = dfl_xmalloc((size_t)(h + PAD) * (size_t)(w + PAD) * sizeof(double));
    apply(h, w, periodic_x, periodic_y, u, observed, q, d);
    for (size_t k = 0; k < n; ++k) r[k] = p[k] = -q[k];
    double rr = dot(n, r, r);
    const double stop = rr * 1e-12;
    for (int it = 0; it < iters && rr > stop && rr > 0.0; ++it) {
        apply(h, w, periodic_x, periodic_y, p, observed, q, d);
        const double pq = dot(n, p, q);
        if (!(pq > 0.0)) break;
        const double alpha = rr / pq;
        for (size_t k = 0; k < n; ++k) {
            u[k] += alpha * p[k];
            r[k] -= alpha * q[k];
        }
        const double rr_next = dot(n, r, r);
        const double beta = rr_next / rr;
        for (size_t k = 0; k < n; ++k) p[k] = r[k] + beta * p[k];
        rr = rr_next;
    }
    free(r);
    free(d);
}
