/* Harmonic (Laplace) interpolation baseline (include/dynfill/baseline.h).
 *
 * For one (sample, channel) plane the unknowns are the missing cells. With
 * the 5-point stencil, cell i with in-domain neighbours N(i) satisfies
 *     Σ_{j∈N(i)} (u_i − u_j) = 0,
 * where a neighbour across a periodic border wraps around and a neighbour
 * across a non-periodic border does not exist (the reflective ghost value
 * equals u_i, so its term vanishes: zero-flux Neumann). Observed neighbours
 * move to the right-hand side, giving A u = b with
 *     A_ii = |N(i)|, A_ij = −1 for missing neighbours j,
 *     b_i  = Σ observed neighbour values.
 * A is the grid graph Laplacian restricted to the missing cells; it is
 * symmetric positive definite whenever the plane has an observed cell (the
 * grid is connected, so every missing component touches one). We solve it
 * by conjugate gradients preconditioned with diag(A), in double precision,
 * after subtracting the observed mean (constants are harmonic, so this
 * shift is exact and makes the relative-residual tolerance measure the
 * field's variation rather than its offset). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dynfill/baseline.h"
#include "dynfill/status.h"

/* Linear system on the missing cells of one plane. */
typedef struct {
    int count;    /* unknowns */
    int *cell;    /* [count] plane index of unknown k */
    int *nbr;     /* [4 count] unknown index of each missing neighbour, −1 for none */
    double *diag; /* [count] |N(i)| */
    double *rhs;  /* [count] b (observed neighbours, mean-shifted) */
} laplace_system;

typedef struct {
    double rel_residual;
    int iters;
    int converged;
} solve_report;

/* Plane index of the neighbour of (y, x) in direction d, or −1 when it lies
 * across a non-periodic border (or is the cell itself on a 1-wide periodic
 * axis, where its term u_i − u_i vanishes). */
static int neighbour(int y, int x, int d, int h, int w, int px, int py) {
    static const int dy[4] = {0, 0, -1, 1}, dx[4] = {-1, 1, 0, 0};
    int ny = y + dy[d], nx = x + dx[d];
    if (nx < 0 || nx >= w) {
        if (!px) return -1;
        nx = (nx + w) % w;
    }
    if (ny < 0 || ny >= h) {
        if (!py) return -1;
        ny = (ny + h) % h;
    }
    if (ny == y && nx == x) return -1;
    return ny * w + nx;
}

/* Build A and b for one plane; index is scratch of h·w ints. */
static void build_system(int h, int w, int px, int py, const float *x, const unsigned char *m, double shift, int *index,
                         laplace_system *sys) {
    const int plane = h * w;
    int count = 0;
    for (int i = 0; i < plane; ++i) index[i] = m[i] ? -1 : count++;
    sys->count = count;
    for (int i = 0; i < plane; ++i)
        if (index[i] >= 0) sys->cell[index[i]] = i;
    for (int k = 0; k < count; ++k) {
        const int i = sys->cell[k], y = i / w, xx = i % w;
        double deg = 0.0, b = 0.0;
        for (int d = 0; d < 4; ++d) {
            const int j = neighbour(y, xx, d, h, w, px, py);
            sys->nbr[4 * k + d] = -1;
            if (j < 0) continue;
            deg += 1.0;
            if (m[j])
                b += (double)x[j] - shift;
            else
                sys->nbr[4 * k + d] = index[j];
        }
        /* deg ≥ 1 whenever h·w > 1; a lone 1×1 missing plane has no observed cell and never gets here. */
        sys->diag[k] = deg;
        sys->rhs[k] = b;
    }
}

static void apply_a(const laplace_system *sys, const double *u, double *out) {
    for (int k = 0; k < sys->count; ++k) {
        double s = sys->diag[k] * u[k];
        const int *nb = sys->nbr + 4 * k;
        for (int d = 0; d < 4; ++d)
            if (nb[d] >= 0) s -= u[nb[d]];
        out[k] = s;
    }
}

static double dot(int n, const double *a, const double *b) {
    double s = 0.0;
    for (int i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
}

/* Jacobi-preconditioned CG from u = 0. work holds 4·count doubles. */
static solve_report solve_pcg(const laplace_system *sys, double tol, int max_iter, double *u, double *work) {
    const int n = sys->count;
    double *r = work, *z = work + n, *p = work + 2 * (size_t)n, *ap = work + 3 * (size_t)n;
    solve_report rep = {0.0, 0, 1};
    const double bnorm = sqrt(dot(n, sys->rhs, sys->rhs));
    memset(u, 0, (size_t)n * sizeof *u);
    if (bnorm == 0.0) return rep; /* A nonsingular: u = 0 exactly */
    memcpy(r, sys->rhs, (size_t)n * sizeof *r);
    for (int k = 0; k < n; ++k) z[k] = r[k] / sys->diag[k];
    memcpy(p, z, (size_t)n * sizeof *p);
    double rz = dot(n, r, z);
    double rnorm = bnorm;
    int it = 0;
    while (rnorm > tol * bnorm && it < max_iter) {
        apply_a(sys, p, ap);
        const double alpha = rz / dot(n, p, ap);
        for (int k = 0; k < n; ++k) {
            u[k] += alpha * p[k];
            r[k] -= alpha * ap[k];
        }
        ++it;
        /* Recompute the true residual now and then so drift in r cannot fake convergence. */
        if (it % 50 == 0) {
            apply_a(sys, u, ap);
            for (int k = 0; k < n; ++k) r[k] = sys->rhs[k] - ap[k];
        }
        rnorm = sqrt(dot(n, r, r));
        if (rnorm <= tol * bnorm) break;
        for (int k = 0; k < n; ++k) z[k] = r[k] / sys->diag[k];
        const double rz_new = dot(n, r, z);
        const double beta = rz_new / rz;
        rz = rz_new;
        for (int k = 0; k < n; ++k) p[k] = z[k] + beta * p[k];
    }
    /* Report the true residual of the returned solution. */
    apply_a(sys, u, ap);
    for (int k = 0; k < n; ++k) r[k] = sys->rhs[k] - ap[k];
    rep.rel_residual = sqrt(dot(n, r, r)) / bnorm;
    rep.iters = it;
    rep.converged = rep.rel_residual <= tol;
    return rep;
}

void dfl_baseline_harmonic_ex(int n, int c, int h, int w, int mask_channels, const float *obs,
                              const unsigned char *mask, int periodic_x, int periodic_y, const dfl_harmonic_opts *opts,
                              dfl_harmonic_stats *stats, float *out) {
    DFL_ASSERT(n >= 0 && c >= 1 && h >= 1 && w >= 1);
    DFL_ASSERT(mask_channels == 1 || mask_channels == c);
    const size_t plane = (size_t)h * (size_t)w;
    DFL_ASSERT(plane <= (size_t)(1 << 30)); /* plane indices are int */
    const double tol = opts && opts->tol > 0 ? opts->tol : 1e-6;
    const int max_iter = opts && opts->max_iter > 0 ? opts->max_iter : 20 * (h + w) + 1000;
    double fallback[c];
    dfl_baseline_channel_means(n, c, h, w, mask_channels, obs, mask, fallback);

    double worst = 0.0;
    int most_iters = 0;
    long long solves = 0, unconverged = 0;
#pragma omp parallel reduction(max : worst, most_iters) reduction(+ : solves, unconverged)
    {
        int *index = dfl_xmalloc(plane * sizeof *index);
        laplace_system sys;
        sys.cell = dfl_xmalloc(plane * sizeof *sys.cell);
        sys.nbr = dfl_xmalloc(4 * plane * sizeof *sys.nbr);
        sys.diag = dfl_xmalloc(plane * sizeof *sys.diag);
        sys.rhs = dfl_xmalloc(plane * sizeof *sys.rhs);
        double *u = dfl_xmalloc(plane * sizeof *u);
        double *work = dfl_xmalloc(4 * plane * sizeof *work);
#pragma omp for schedule(dynamic, 1)
        for (long long sc = 0; sc < (long long)n * c; ++sc) {
            const int s = (int)(sc / c), ch = (int)(sc % c);
            const float *x = obs + (size_t)sc * plane;
            float *y = out + (size_t)sc * plane;
            const unsigned char *m = mask + ((size_t)s * mask_channels + (mask_channels == 1 ? 0 : ch)) * plane;
            double sum = 0.0;
            size_t observed = 0;
            for (size_t i = 0; i < plane; ++i)
                if (m[i]) {
                    sum += x[i];
                    ++observed;
                }
            if (observed == 0) {
                for (size_t i = 0; i < plane; ++i) y[i] = (float)fallback[ch];
                continue;
            }
            if (observed == plane) {
                if (y != x) memcpy(y, x, plane * sizeof *y);
                continue;
            }
            const double shift = sum / (double)observed;
            build_system(h, w, periodic_x, periodic_y, x, m, shift, index, &sys);
            const solve_report rep = solve_pcg(&sys, tol, max_iter, u, work);
            ++solves;
            if (!rep.converged) ++unconverged;
            if (rep.rel_residual > worst) worst = rep.rel_residual;
            if (rep.iters > most_iters) most_iters = rep.iters;
            for (size_t i = 0; i < plane; ++i)
                if (m[i]) y[i] = x[i];
            for (int k = 0; k < sys.count; ++k) y[sys.cell[k]] = (float)(u[k] + shift);
        }
        free(index);
        free(sys.cell);
        free(sys.nbr);
        free(sys.diag);
        free(sys.rhs);
        free(u);
        free(work);
    }
    if (stats) {
        stats->max_rel_residual = worst;
        stats->max_iters = most_iters;
        stats->solves = solves;
        stats->unconverged = unconverged;
    }
    if (unconverged)
        dfl_warn("harmonic baseline: %lld of %lld solves stopped at %d iterations above relative residual %g "
                 "(worst %.3g)",
                 unconverged, solves, max_iter, tol, worst);
}

void dfl_baseline_harmonic(int n, int c, int h, int w, int mask_channels, const float *obs, const unsigned char *mask,
                           int periodic_x, int periodic_y, float *out) {
    dfl_baseline_harmonic_ex(n, c, h, w, mask_channels, obs, mask, periodic_x, periodic_y, NULL, NULL, out);
}
