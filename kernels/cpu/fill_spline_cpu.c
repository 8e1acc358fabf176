/* The grid spline fills on the CPU: the thin-plate spline of the network
 * input (kernels/shared/fill_spline.h) and the order-3 spline of the spline
 * correction (kernels/shared/fill_spline3.h). Conjugate gradients on each
 * sample channel's plane, one plane per OpenMP task (the result does not
 * depend on the thread count). Interior rows use the 13-point (order 2) or
 * 25-point (order 3) stencil in a loop the compiler vectorises; the rows
 * and columns near a non-periodic border take the general form (order 2:
 * per entry; order 3: the differences one by one along a span of the row). */
#include <stdlib.h>

#include "cpu/cpu_backend_internal.h"
#include "shared/fill_spline.h"
#include "shared/fill_spline3.h"

/* q = fr .* (A p) over one h x w plane. */
static void spline_apply_plane(const float *p, int h, int w, int px, int py, const float *fr, float *q, float *row) {
    (void)row;
    for (int y = 0; y < h; ++y) {
        float *qr = q + (size_t)y * w;
        const float *fy = fr + (size_t)y * w;
        const int fast_row = h >= 5 && w >= 5 && (py || (y >= 2 && y <= h - 3));
        if (!fast_row) {
            for (int x = 0; x < w; ++x) qr[x] = fy[x] * dfl_spline_apply_at(p, h, w, px, py, y, x);
            continue;
        }
        const float *u2 = p + (size_t)dfl_spline_wrap(y - 2, h) * w, *u1 = p + (size_t)dfl_spline_wrap(y - 1, h) * w;
        const float *r0 = p + (size_t)y * w, *d1 = p + (size_t)dfl_spline_wrap(y + 1, h) * w,
                    *d2 = p + (size_t)dfl_spline_wrap(y + 2, h) * w;
#pragma omp simd
        for (int x = 2; x < w - 2; ++x) qr[x] = fy[x] * dfl_spline_apply_interior(u2, u1, r0, d1, d2, x);
        const int edge[4] = {0, 1, w - 2, w - 1};
        for (int e = 0; e < 4; ++e) qr[edge[e]] = fy[edge[e]] * dfl_spline_apply_at(p, h, w, px, py, y, edge[e]);
    }
}

/* qr[x] = (A p)[y, x] of order 3 for x in [xa, xb), the four differences
 * one by one: d at every anchor a tap can come from (0 where the stencil
 * does not fit), then each tap on row y from its anchor. Any row and
 * columns; for the rows and columns near a free border, where the 25-point
 * stencil does not hold. d: scratch of xb - xa + 3 floats. */
static void spline3_apply_span(const float *p, int h, int w, int px, int py, int y, int xa, int xb, float *qr,
                               float *d) {
    for (int x = xa; x < xb; ++x) qr[x] = 0.0f;
    for (int o = 0; o < 4; ++o) {
        const dfl_spline3_difference t = dfl_spline3_difference_of(o);
        const int a0 = xa - t.ex, na = xb - a0; /* anchor columns a0 .. xb - 1 */
        for (int ay = y - t.ey; ay <= y; ++ay) {
            if (!py && (ay < 0 || ay + t.ey > h - 1)) continue;
            const float *rows[4];
            for (int k = 0; k <= t.ey; ++k) rows[k] = p + (size_t)dfl_spline_wrap(ay + k, h) * w;
            for (int i = 0; i < na; ++i) {
                const int ax = a0 + i;
                float v = 0.0f;
                if (px)
                    for (int k = 0; k < t.taps; ++k) v += t.c[k] * rows[t.dy[k]][dfl_spline_wrap(ax + t.dx[k], w)];
                else if (ax >= 0 && ax + t.ex <= w - 1)
                    for (int k = 0; k < t.taps; ++k) v += t.c[k] * rows[t.dy[k]][ax + t.dx[k]];
                d[i] = t.weight * v;
            }
            for (int j = 0; j < t.taps; ++j) {
                if (t.dy[j] != y - ay) continue;
                const float cj = t.c[j];
                const int off = a0 + t.dx[j]; /* d[i] is the difference at anchor a0 + i */
                for (int x = xa; x < xb; ++x) qr[x] += cj * d[x - off];
            }
        }
    }
}

/* q = fr .* (A p) over one h x w plane, order 3. d: scratch of
 * APPLY_ROW_FLOATS(w) floats (the span form's differences). */
static void spline3_apply_plane(const float *p, int h, int w, int px, int py, const float *fr, float *q, float *d) {
    const int reach = DFL_SPLINE3_REACH, fast_cols = w >= 2 * reach + 1;
    for (int y = 0; y < h; ++y) {
        float *qr = q + (size_t)y * w;
        const float *fy = fr + (size_t)y * w;
        if (!fast_cols || !(py || (y >= reach && y < h - reach)) || h < 2 * reach + 1) {
            spline3_apply_span(p, h, w, px, py, y, 0, w, qr, d);
            for (int x = 0; x < w; ++x) qr[x] *= fy[x];
            continue;
        }
        const float *rows[7];
        for (int k = 0; k < 7; ++k) rows[k] = p + (size_t)dfl_spline_wrap(y + k - reach, h) * w;
#pragma omp simd
        for (int x = reach; x < w - reach; ++x) qr[x] = fy[x] * dfl_spline3_apply_interior(rows, x);
        if (px) {
            for (int e = 0; e < 2 * reach; ++e) { /* the columns within reach of the seam */
                const int x = e < reach ? e : w - 2 * reach + e;
                qr[x] = fy[x] * dfl_spline3_apply_wrapped(rows, w, x);
            }
        } else {
            spline3_apply_span(p, h, w, px, py, y, 0, reach, qr, d);
            spline3_apply_span(p, h, w, px, py, y, w - reach, w, qr, d);
            for (int e = 0; e < reach; ++e) qr[e] *= fy[e], qr[w - 1 - e] *= fy[w - 1 - e];
        }
    }
}

static double dot(size_t n, const float *a, const float *b) {
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (size_t k = 0; k < n; ++k) s += (double)a[k] * b[k];
    return s;
}

/* q = fr .* (A p) over one plane; row: a scratch row of APPLY_ROW_FLOATS(w) floats, allocated once
 * per solve rather than once per step */
typedef void (*apply_plane_fn)(const float *p, int h, int w, int px, int py, const float *fr, float *q, float *row);
#define APPLY_ROW_FLOATS(w) ((size_t)(w) + DFL_SPLINE3_REACH)

/* Conjugate gradients on one plane: u (in: the start, out: the spline
 * fill), fr 1 on the missing entries; r, p, q scratch planes. */
static void spline_solve_plane(apply_plane_fn apply, int h, int w, int px, int py, int iters, float *u, const float *fr,
                               float *r, float *p, float *q) {
    const size_t hw = (size_t)h * w;
    float *row = dfl_xmalloc(APPLY_ROW_FLOATS(w) * sizeof(float));
    apply(u, h, w, px, py, fr, q, row);
    for (size_t k = 0; k < hw; ++k) r[k] = p[k] = -q[k];
    double rr = dot(hw, r, r);
    const double stop = rr * DFL_SPLINE_RTOL2;
    for (int it = 0; it < iters && rr > stop && rr > 0.0; ++it) {
        apply(p, h, w, px, py, fr, q, row);
        const double pq = dot(hw, p, q);
        if (!(pq > 0.0)) break;
        const float alpha = (float)(rr / pq);
        double rr_next = 0.0; /* r . r, in the same pass */
#pragma omp simd reduction(+ : rr_next)
        for (size_t k = 0; k < hw; ++k) {
            u[k] += alpha * p[k];
            r[k] -= alpha * q[k];
            rr_next += (double)r[k] * r[k];
        }
        const float beta = (float)(rr_next / rr);
#pragma omp simd
        for (size_t k = 0; k < hw; ++k) p[k] = r[k] + beta * p[k];
        rr = rr_next;
    }
    free(row);
}

static void spline_fill(apply_plane_fn apply, int n, int h, int w, int c, int periodic_x, int periodic_y, int iters,
                        float *y, float *scratch) {
    const size_t hw = (size_t)h * w, planes = (size_t)n * c;
#pragma omp parallel for schedule(static) if (planes > 1 && hw * planes > 4096)
    for (size_t k = 0; k < planes; ++k) {
        const size_t i = k / (size_t)c;
        const int ch = (int)(k % (size_t)c);
        float *u = scratch + k * DFL_SPLINE_PLANES * hw, *fr = u + hw, *r = fr + hw, *p = r + hw, *q = p + hw;
        float *ys = y + i * hw * 3 * c;
        for (size_t e = 0; e < hw; ++e) {
            u[e] = ys[dfl_net_input_index(e, 3, c, DFL_INPUT_PART_FILL, ch)];
            fr[e] = dfl_spline_free(ys, e, c, ch);
        }
        spline_solve_plane(apply, h, w, periodic_x, periodic_y, iters, u, fr, r, p, q);
        for (size_t e = 0; e < hw; ++e) ys[dfl_net_input_index(e, 3, c, DFL_INPUT_PART_FILL, ch)] = u[e];
    }
}

static void cpu_input_fill_spline(dfl_backend *be, int n, int h, int w, int c, int periodic_x, int periodic_y,
                                  int iters, float *y, float *scratch) {
    (void)be;
    spline_fill(spline_apply_plane, n, h, w, c, periodic_x, periodic_y, iters, y, scratch);
}

static void cpu_input_fill_spline3(dfl_backend *be, int n, int h, int w, int c, int periodic_x, int periodic_y,
                                   int iters, float *y, float *scratch) {
    (void)be;
    spline_fill(spline3_apply_plane, n, h, w, c, periodic_x, periodic_y, iters, y, scratch);
}

void dfl_cpu_register_input_fill_spline_op(dfl_backend *be) {
    be->input_fill_spline = cpu_input_fill_spline;
    be->input_fill_spline3 = cpu_input_fill_spline3;
}
