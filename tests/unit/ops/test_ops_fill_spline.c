/* The CPU backend's grid spline fills, the thin-plate spline of the
 * network input (model.input_fill = spline, kernels/shared/fill_spline.h)
 * and the order-3 spline of the spline correction
 * (kernels/shared/fill_spline3.h), against a double reference written
 * separately: the energy matrix (order 2: A = Dxx'Dxx + 2 Dxy'Dxy +
 * Dyy'Dyy; order 3: A = Dxxx'Dxxx + 3 Dxxy'Dxxy + 3 Dxyy'Dxyy +
 * Dyyy'Dyyy) assembled densely from explicit difference matrices, then
 *   - solved exactly (Cholesky on the missing entries): the converged fill;
 *   - run for a few conjugate-gradient steps in double from the same start:
 *     the op's iterations one for one.
 * And the properties a fill must keep: observed entries and the values |
 * mask channels are untouched, an affine field (free borders) or a
 * constant one (periodic) is reproduced, and for order 3 a quadratic one
 * (free borders), full and empty masks change nothing, and the result does
 * not depend on the thread count. */
#include <omp.h>

#include "ops_test_util.h"
#include "shared/fill_spline.h"
#include "shared/fill_spline3.h"

/* Adds s * D'D to the dense A [hw x hw] for one difference operator row
 * set: each row is `taps` entries (index, weight). */
static void add_outer(double *A, int hw, const int *idx, const double *wt, int taps, double s) {
    for (int a = 0; a < taps; ++a)
        for (int b = 0; b < taps; ++b) A[(size_t)idx[a] * hw + idx[b]] += s * wt[a] * wt[b];
}

static int wrap(int k, int n) { return ((k % n) + n) % n; }

/* The third differences of order 3 at anchor (y, x): Dxxx and Dyyy are
 * (-1, 3, -3, 1) along their axis, Dxxy is the second difference along x
 * of the first along y, Dxyy the reverse; weights 1, 3, 3, 1. Each is
 * added where its stencil fits, or wrapped along a periodic axis. */
static void add_order3(double *A, int h, int w, int px, int py, int y, int x) {
    const int hw = h * w;
    const double d3[4] = {-1, 3, -3, 1}, d21[6] = {1, -2, 1, -1, 2, -1};
    if (px || x + 3 <= w - 1) { /* Dxxx */
        int idx[4];
        for (int k = 0; k < 4; ++k) idx[k] = y * w + wrap(x + k, w);
        add_outer(A, hw, idx, d3, 4, 1.0);
    }
    if (py || y + 3 <= h - 1) { /* Dyyy */
        int idx[4];
        for (int k = 0; k < 4; ++k) idx[k] = wrap(y + k, h) * w + x;
        add_outer(A, hw, idx, d3, 4, 1.0);
    }
    if ((px || x + 2 <= w - 1) && (py || y + 1 <= h - 1)) { /* Dxxy: rows y, y+1; columns x .. x+2 */
        int idx[6];
        for (int k = 0; k < 6; ++k) idx[k] = wrap(y + k / 3, h) * w + wrap(x + k % 3, w);
        add_outer(A, hw, idx, d21, 6, 3.0);
    }
    if ((px || x + 1 <= w - 1) && (py || y + 2 <= h - 1)) { /* Dxyy: columns x, x+1; rows y .. y+2 */
        int idx[6];
        for (int k = 0; k < 6; ++k) idx[k] = wrap(y + k % 3, h) * w + wrap(x + k / 3, w);
        add_outer(A, hw, idx, d21, 6, 3.0);
    }
}

/* The dense A of an h x w plane, of order 2 or 3. */
static double *ref_matrix(int order, int h, int w, int px, int py) {
    const int hw = h * w;
    double *A = ops_new_doubles((size_t)hw * hw);
    if (order == 3) {
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x) add_order3(A, h, w, px, py, y, x);
        return A;
    }
    const double d2[3] = {1, -2, 1}, dxy[4] = {1, -1, -1, 1};
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            if (px || (x >= 1 && x <= w - 2)) { /* Dxx row at (y, x) */
                int idx[3] = {y * w + wrap(x - 1, w), y * w + x, y * w + wrap(x + 1, w)};
                add_outer(A, hw, idx, d2, 3, 1.0);
            }
            if (py || (y >= 1 && y <= h - 2)) {
                int idx[3] = {wrap(y - 1, h) * w + x, y * w + x, wrap(y + 1, h) * w + x};
                add_outer(A, hw, idx, d2, 3, 1.0);
            }
            if ((px || x <= w - 2) && (py || y <= h - 2)) { /* Dxy on the cell with top-left (y, x) */
                const int x1 = wrap(x + 1, w), y1 = wrap(y + 1, h);
                int idx[4] = {y * w + x, y * w + x1, y1 * w + x, y1 * w + x1};
                add_outer(A, hw, idx, dxy, 4, 2.0);
            }
        }
    return A;
}

/* The converged fill: A_ff u_f = -A_fo u_o, by Cholesky on the free block. */
static void ref_solve(int h, int w, const double *A, const double *fill0, const int *observed, double *out) {
    const int hw = h * w;
    int *f = malloc(sizeof(int) * hw), nf = 0;
    for (int k = 0; k < hw; ++k) {
        out[k] = fill0[k];
        if (!observed[k]) f[nf++] = k;
    }
    double *M = ops_new_doubles((size_t)nf * nf), *b = ops_new_doubles(nf);
    for (int a = 0; a < nf; ++a) {
        for (int c = 0; c < nf; ++c) M[(size_t)a * nf + c] = A[(size_t)f[a] * hw + f[c]];
        for (int k = 0; k < hw; ++k)
            if (observed[k]) b[a] -= A[(size_t)f[a] * hw + k] * fill0[k];
    }
    for (int j = 0; j < nf; ++j) { /* M = L L' in place (lower) */
        double d = M[(size_t)j * nf + j];
        for (int k = 0; k < j; ++k) d -= M[(size_t)j * nf + k] * M[(size_t)j * nf + k];
        CHECK_MSG(d > 0, "reference: the free block is not positive definite");
        d = sqrt(d);
        M[(size_t)j * nf + j] = d;
        for (int i = j + 1; i < nf; ++i) {
            double s = M[(size_t)i * nf + j];
            for (int k = 0; k < j; ++k) s -= M[(size_t)i * nf + k] * M[(size_t)j * nf + k];
            M[(size_t)i * nf + j] = s / d;
        }
    }
    for (int i = 0; i < nf; ++i) { /* L z = b, L' x = z */
        for (int k = 0; k < i; ++k) b[i] -= M[(size_t)i * nf + k] * b[k];
        b[i] /= M[(size_t)i * nf + i];
    }
    for (int i = nf - 1; i >= 0; --i) {
        for (int k = i + 1; k < nf; ++k) b[i] -= M[(size_t)k * nf + i] * b[k];
        b[i] /= M[(size_t)i * nf + i];
    }
    for (int a = 0; a < nf; ++a) out[f[a]] = b[a];
    free(f), free(M), free(b);
}

/* `iters` conjugate-gradient steps in double from fill0. */
static void ref_cg(int h, int w, const double *A, const double *fill0, const int *observed, int iters, double *u) {
    const int hw = h * w;
    double *r = ops_new_doubles(hw), *p = ops_new_doubles(hw), *q = ops_new_doubles(hw);
    for (int k = 0; k < hw; ++k) u[k] = fill0[k];
    double rr = 0;
    for (int i = 0; i < hw; ++i) {
        double s = 0;
        for (int k = 0; k < hw; ++k) s += A[(size_t)i * hw + k] * u[k];
        r[i] = p[i] = observed[i] ? 0.0 : -s;
        rr += r[i] * r[i];
    }
    for (int it = 0; it < iters && rr > 0; ++it) {
        double pq = 0;
        for (int i = 0; i < hw; ++i) {
            double s = 0;
            for (int k = 0; k < hw; ++k) s += A[(size_t)i * hw + k] * p[k];
            q[i] = observed[i] ? 0.0 : s;
            pq += p[i] * q[i];
        }
        const double alpha = rr / pq;
        double rn = 0;
        for (int i = 0; i < hw; ++i) {
            u[i] += alpha * p[i];
            r[i] -= alpha * q[i];
            rn += r[i] * r[i];
        }
        for (int i = 0; i < hw; ++i) p[i] = r[i] + rn / rr * p[i];
        rr = rn;
    }
    free(r), free(p), free(q);
}

/* x [n, h, w, 2c]: values v(sample, y, x, ch) (times the mask) and a 0/1
 * mask of the given density; v NULL: N(0,1) values. */
typedef double (*field_fn)(int i, int y, int x, int ch);
static float *make_input(int n, int h, int w, int c, double density, uint64_t seed, field_fn v) {
    const size_t px = (size_t)n * h * w;
    float *x = ops_new_floats(px * 2 * c);
    for (size_t p = 0; p < px; ++p)
        for (int ch = 0; ch < c; ++ch) {
            const float mk = dfl_rng_uniform(seed + 1, 3, p * c + ch) < density ? 1.0f : 0.0f;
            const int i = (int)(p / ((size_t)h * w)), yy = (int)(p / w % h), xx = (int)(p % w);
            const double val = v ? v(i, yy, xx, ch) : dfl_rng_normal(seed, 5, p * c + ch);
            x[p * 2 * c + c + ch] = mk;
            x[p * 2 * c + ch] = mk * (float)val;
        }
    return x;
}

/* The pyramid fill then the spline fill of the order, into y [n, h, w, 3c]. */
static void run_fill(dfl_backend *be, int order, int n, int h, int w, int c, int px, int py, int iters, const float *x,
                     float *y) {
    float *scratch = ops_new_floats(dfl_spline_scratch_floats(n, h, w, c));
    be->input_fill(be, n, h, w, c, x, y, scratch);
    if (order == 3)
        be->input_fill_spline3(be, n, h, w, c, px, py, iters, y, scratch);
    else
        be->input_fill_spline(be, n, h, w, c, px, py, iters, y, scratch);
    free(scratch);
}

/* Against the reference: iters = 0 means converged (many steps, against the
 * exact solve); otherwise that many steps against the double CG. */
static void check_case(dfl_backend *be, int order, int n, int h, int w, int c, int px, int py, double density,
                       int iters, double tol) {
    const size_t px_n = (size_t)n * h * w, hw = (size_t)h * w;
    float *x = make_input(n, h, w, c, density, (uint64_t)(h * 1000 + w * 10 + c + 7 * px + 3 * py), NULL);
    float *y = ops_new_floats(px_n * 3 * c), *y0 = ops_new_floats(px_n * 3 * c);
    float *scratch = ops_new_floats(dfl_fill_scratch_floats(n, h, w, c));
    be->input_fill(be, n, h, w, c, x, y0, scratch); /* the start: the pyramid fill */
    run_fill(be, order, n, h, w, c, px, py, iters ? iters : 20 * (int)hw, x, y);

    double *A = ref_matrix(order, h, w, px, py), *fill0 = ops_new_doubles(hw), *u = ops_new_doubles(hw);
    int *obs = malloc(sizeof(int) * hw);
    double *ref = ops_new_doubles(px_n * c);
    float *got = ops_new_floats(px_n * c);
    int kept = 1;
    for (int i = 0; i < n; ++i)
        for (int ch = 0; ch < c; ++ch) {
            int any = 0;
            for (size_t k = 0; k < hw; ++k) {
                const size_t p = (size_t)i * hw + k;
                fill0[k] = y0[p * 3 * c + 2 * c + ch];
                obs[k] = x[p * 2 * c + c + ch] > 0.5f;
                any += obs[k];
            }
            if (!any) /* nothing observed: the pyramid's zeros stay */
                memcpy(u, fill0, hw * sizeof(double));
            else if (iters)
                ref_cg(h, w, A, fill0, obs, iters, u);
            else
                ref_solve(h, w, A, fill0, obs, u);
            for (size_t k = 0; k < hw; ++k) {
                const size_t p = (size_t)i * hw + k;
                ref[p * c + ch] = u[k];
                got[p * c + ch] = y[p * 3 * c + 2 * c + ch];
                if (y[p * 3 * c + ch] != x[p * 2 * c + ch] || y[p * 3 * c + c + ch] != x[p * 2 * c + c + ch]) kept = 0;
                if (obs[k] && y[p * 3 * c + 2 * c + ch] != x[p * 2 * c + ch]) kept = 0;
            }
        }
    char what[128];
    snprintf(what, sizeof what, "spline order %d n=%d %dx%d c=%d periodic %d%d density %.2f %s", order, n, h, w, c, px,
             py, density, iters ? "few steps" : "converged");
    OPS_CHECK_REL(what, got, ref, px_n * c, tol);
    CHECK_MSG(kept, "%s: values, mask or an observed entry changed", what);

    float *y1 = ops_new_floats(px_n * 3 * c);
    const int th = omp_get_max_threads();
    omp_set_num_threads(1);
    run_fill(be, order, n, h, w, c, px, py, iters ? iters : 20 * (int)hw, x, y1);
    omp_set_num_threads(th);
    OPS_CHECK_BITS(what, y, y1, px_n * 3 * c);
    free(x), free(y), free(y0), free(y1), free(scratch), free(A), free(fill0), free(u), free(obs), free(ref), free(got);
}

static double affine(int i, int y, int x, int ch) { return 0.5 + 0.25 * y - 0.125 * x + i - 2.0 * ch; }
static double constant(int i, int y, int x, int ch) {
    (void)y, (void)x;
    return 3.0 - i + ch;
}

static double quadratic(int i, int y, int x, int ch) {
    const double u = x / 30.0, v = y / 24.0;
    return 0.5 * u * u - 0.75 * u * v + (0.25 + 0.5 * ch) * v * v + 0.1 * i * u;
}

/* A field the spline has no energy for comes back everywhere it is
 * missing: affine with free borders, constant on a torus, and for order 3
 * quadratic with free borders. */
static void check_reproduces(dfl_backend *be, int order, int px, int py, field_fn v, const char *what) {
    const int n = 2, h = 24, w = 31, c = 2;
    const size_t np = (size_t)n * h * w;
    float *x = make_input(n, h, w, c, 0.15, 21, v), *y = ops_new_floats(np * 3 * c);
    run_fill(be, order, n, h, w, c, px, py, 4000, x, y);
    double worst = 0.0;
    for (size_t p = 0; p < np; ++p)
        for (int ch = 0; ch < c; ++ch) {
            const int i = (int)(p / ((size_t)h * w)), yy = (int)(p / w % h), xx = (int)(p % w);
            worst = fmax(worst, fabs(y[p * 3 * c + 2 * c + ch] - v(i, yy, xx, ch)));
        }
    CHECK_MSG(worst < 1e-3, "%s field, order %d: the spline fill is off by %.3g", what, order, worst);
    free(x), free(y);
}

/* A full mask and an empty one: the spline step changes nothing. */
static void check_trivial_masks(dfl_backend *be, int order) {
    const int n = 2, h = 9, w = 12, c = 3;
    const size_t np = (size_t)n * h * w;
    float *x = make_input(n, h, w, c, 1.0, 4, NULL), *y = ops_new_floats(np * 3 * c), *y0 = ops_new_floats(np * 3 * c);
    float *scratch = ops_new_floats(dfl_spline_scratch_floats(n, h, w, c));
    for (int empty = 0; empty < 2; ++empty) {
        if (empty) memset(x, 0, np * 2 * c * sizeof(float));
        be->input_fill(be, n, h, w, c, x, y0, scratch);
        run_fill(be, order, n, h, w, c, 1, 0, 64, x, y);
        CHECK_MSG(!memcmp(y, y0, np * 3 * c * sizeof(float)), "%s mask: the order-%d spline step changed the fill",
                  empty ? "empty" : "full", order);
    }
    free(x), free(y), free(y0), free(scratch);
}

/* The order-3 per-entry form (dfl_spline3_apply_at, the CUDA kernel's
 * border path; the CPU takes spans instead) against the dense A: every
 * entry of a random plane, free borders and each periodic axis. */
static void check_apply_at(int h, int w, int px, int py) {
    const int hw = h * w;
    double *A = ref_matrix(3, h, w, px, py);
    float *p = ops_new_floats((size_t)hw), *got = ops_new_floats((size_t)hw);
    double *want = ops_new_doubles((size_t)hw);
    for (int k = 0; k < hw; ++k) p[k] = (float)dfl_rng_normal((uint64_t)(h * 100 + w), 9, (uint64_t)k);
    for (int k = 0; k < hw; ++k) {
        for (int j = 0; j < hw; ++j) want[k] += A[(size_t)k * hw + j] * p[j];
        got[k] = dfl_spline3_apply_at(p, h, w, px, py, k / w, k % w);
    }
    char what[96];
    snprintf(what, sizeof what, "order-3 apply_at %dx%d periodic %d%d", h, w, px, py);
    OPS_CHECK_REL(what, got, want, (size_t)hw, 1e-5);
    free(A), free(p), free(got), free(want);
}

int main(void) {
    dfl_backend *be = dfl_backend_cpu_create(0);
    CHECK(dfl_spline_scratch_floats(2, 64, 64, 3) == (size_t)DFL_SPLINE_PLANES * 2 * 64 * 64 * 3);
    CHECK(dfl_spline_scratch_floats(1, 1, 1, 1) >= dfl_fill_scratch_floats(1, 1, 1, 1));
    for (int order = 2; order <= 3; ++order) {
        /* converged, against the exact solve: free borders, each periodic axis, both */
        check_case(be, order, 2, 9, 11, 2, 0, 0, 0.3, 0, 2e-4);
        check_case(be, order, 1, 12, 10, 1, 1, 1, 0.2, 0, 2e-4);
        check_case(be, order, 2, 8, 13, 1, 1, 0, 0.25, 0, 2e-4);
        check_case(be, order, 1, 10, 6, 3, 0, 1, 0.3, 0, 2e-4);
        check_case(be, order, 1, 3, 4, 1, 0, 0, 0.5, 0, 2e-4); /* too small for the interior stencil */
        /* a few steps, one for one against the double iterations */
        check_case(be, order, 2, 14, 15, 2, 0, 0, 0.1, 5, 1e-4);
        check_case(be, order, 1, 16, 16, 1, 1, 1, 0.05, 8, 1e-4);
        check_case(be, order, 1, 17, 19, 1, 1, 0, 0.2, 8, 1e-4);
        check_reproduces(be, order, 0, 0, affine, "affine");
        check_reproduces(be, order, 1, 1, constant, "constant");
        check_trivial_masks(be, order);
    }
    check_reproduces(be, 3, 0, 0, quadratic, "quadratic");
    for (int per = 0; per < 4; ++per) {
        check_apply_at(11, 13, per & 1, per >> 1);
        check_apply_at(5, 4, per & 1, per >> 1);
    }
    dfl_backend_destroy(be);
    return dfl_test_finish("ops_fill_spline");
}
