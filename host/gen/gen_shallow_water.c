/* 2D shallow-water equations, finite volumes (host/gen/gen.h): MUSCL with the
 * minmod limiter on the conserved variables, Rusanov (local Lax-Friedrichs)
 * fluxes, SSP-RK2 (Heun) in time, reflective walls via two ghost layers.
 * The x and y sweeps share one flux function with the momenta swapped,
 * and the update is written so that a symmetric state stays symmetric
 * under x -> -x, y -> -y and x <-> y in floating point. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dynfill/status.h"
#include "gen.h"

#define GHOST 2

struct dfl_sw_solver {
    int n, m; /* cells per side, with ghosts m = n + 2 GHOST */
    double half_width, dx, g, cfl, time;
    double *q[3];  /* h, hu, hv on the ghosted grid */
    double *q1[3]; /* RK stage */
    double *rhs[3];
    double *fx[3];  /* x-interface fluxes, (n+1) per row */
    double *fy[3];  /* y-interface fluxes, (n+1) per column */
    double *height; /* interior h, n*n */
};

static inline size_t at(const dfl_sw_solver *s, int j, int i) {
    return (size_t)(j + GHOST) * s->m + (size_t)(i + GHOST);
}

dfl_sw_solver *dfl_sw_create(int n, double half_width, double g) {
    DFL_ASSERT(n >= 4);
    dfl_sw_solver *s = dfl_xcalloc(1, sizeof *s);
    s->n = n;
    s->m = n + 2 * GHOST;
    s->half_width = half_width;
    s->dx = 2.0 * half_width / n;
    s->g = g;
    s->cfl = 0.4;
    const size_t cells = (size_t)s->m * (size_t)s->m, faces = (size_t)n * (size_t)(n + 1);
    for (int v = 0; v < 3; ++v) {
        s->q[v] = dfl_xcalloc(cells, sizeof(double));
        s->q1[v] = dfl_xcalloc(cells, sizeof(double));
        s->rhs[v] = dfl_xcalloc(cells, sizeof(double));
        s->fx[v] = dfl_xcalloc(faces, sizeof(double));
        s->fy[v] = dfl_xcalloc(faces, sizeof(double));
    }
    s->height = dfl_xcalloc((size_t)n * (size_t)n, sizeof(double));
    return s;
}

void dfl_sw_destroy(dfl_sw_solver *s) {
    if (!s) return;
    for (int v = 0; v < 3; ++v) {
        free(s->q[v]);
        free(s->q1[v]);
        free(s->rhs[v]);
        free(s->fx[v]);
        free(s->fy[v]);
    }
    free(s->height);
    free(s);
}

/* Cell centre coordinate of index i: (i + 1/2 - n/2) dx, exactly
 * antisymmetric about the domain centre. */
static double centre(const dfl_sw_solver *s, int i) { return ((double)i + 0.5 - 0.5 * s->n) * s->dx; }

void dfl_sw_set_dam(dfl_sw_solver *s, double cx, double cy, double radius, double h_in, double h_out) {
    for (int v = 0; v < 3; ++v) memset(s->q[v], 0, sizeof(double) * (size_t)s->m * (size_t)s->m);
    for (int j = 0; j < s->n; ++j)
        for (int i = 0; i < s->n; ++i) {
            const double x = centre(s, i) - cx, y = centre(s, j) - cy;
            s->q[0][at(s, j, i)] = x * x + y * y < radius * radius ? h_in : h_out;
        }
    s->time = 0;
}

/* Reflective walls: mirror the two cells next to each wall, negating the
 * momentum normal to it. */
static void fill_ghosts(dfl_sw_solver *s, double **q) {
    const int n = s->n;
    for (int j = 0; j < n; ++j)
        for (int gl = 1; gl <= GHOST; ++gl) {
            const size_t l = at(s, j, -gl), lm = at(s, j, gl - 1);
            const size_t r = at(s, j, n - 1 + gl), rm = at(s, j, n - gl);
            q[0][l] = q[0][lm];
            q[1][l] = -q[1][lm];
            q[2][l] = q[2][lm];
            q[0][r] = q[0][rm];
            q[1][r] = -q[1][rm];
            q[2][r] = q[2][rm];
        }
    for (int i = -GHOST; i < n + GHOST; ++i)
        for (int gl = 1; gl <= GHOST; ++gl) {
            const size_t b = at(s, -gl, i), bm = at(s, gl - 1, i);
            const size_t t = at(s, n - 1 + gl, i), tm = at(s, n - gl, i);
            q[0][b] = q[0][bm];
            q[1][b] = q[1][bm];
            q[2][b] = -q[2][bm];
            q[0][t] = q[0][tm];
            q[1][t] = q[1][tm];
            q[2][t] = -q[2][tm];
        }
}

static inline double minmod(double a, double b) {
    if (a * b <= 0) return 0;
    return fabs(a) < fabs(b) ? a : b;
}

/* Rusanov flux across a face with normal momentum qn and tangential qt. */
static inline void rusanov(double g, double hL, double qnL, double qtL, double hR, double qnR, double qtR,
                           double out[3]) {
    const double unL = qnL / hL, unR = qnR / hR;
    const double aL = fabs(unL) + sqrt(g * hL), aR = fabs(unR) + sqrt(g * hR);
    const double a = aL > aR ? aL : aR;
    const double fL0 = qnL, fR0 = qnR;
    const double fL1 = qnL * unL + 0.5 * g * hL * hL, fR1 = qnR * unR + 0.5 * g * hR * hR;
    const double fL2 = qtL * unL, fR2 = qtR * unR;
    out[0] = 0.5 * (fL0 + fR0) - 0.5 * a * (hR - hL);
    out[1] = 0.5 * (fL1 + fR1) - 0.5 * a * (qnR - qnL);
    out[2] = 0.5 * (fL2 + fR2) - 0.5 * a * (qtR - qtL);
}

/* Reconstructed states on both sides of the face between cells a and b
 * (neighbours before a: a0, after b: b1) for one variable. */
static inline void muscl(double a0, double a, double b, double b1, double *left, double *right) {
    *left = a + 0.5 * minmod(a - a0, b - a);
    *right = b - 0.5 * minmod(b - a, b1 - b);
}

static void compute_rhs(dfl_sw_solver *s, double **q, double *max_speed) {
    const int n = s->n;
    fill_ghosts(s, q);
    /* x faces: face f in [0, n] of row j lies between cells f-1 and f. */
    for (int j = 0; j < n; ++j)
        for (int f = 0; f <= n; ++f) {
            double L[3], R[3], out[3];
            for (int v = 0; v < 3; ++v)
                muscl(q[v][at(s, j, f - 2)], q[v][at(s, j, f - 1)], q[v][at(s, j, f)], q[v][at(s, j, f + 1)], &L[v],
                      &R[v]);
            rusanov(s->g, L[0], L[1], L[2], R[0], R[1], R[2], out);
            for (int v = 0; v < 3; ++v) s->fx[v][(size_t)j * (n + 1) + f] = out[v];
        }
    /* y faces: face f of column i lies between rows f-1 and f; the normal
     * momentum is hv, the tangential hu. */
    for (int i = 0; i < n; ++i)
        for (int f = 0; f <= n; ++f) {
            double L[3], R[3], out[3];
            for (int v = 0; v < 3; ++v)
                muscl(q[v][at(s, f - 2, i)], q[v][at(s, f - 1, i)], q[v][at(s, f, i)], q[v][at(s, f + 1, i)], &L[v],
                      &R[v]);
            rusanov(s->g, L[0], L[2], L[1], R[0], R[2], R[1], out);
            s->fy[0][(size_t)i * (n + 1) + f] = out[0];
            s->fy[2][(size_t)i * (n + 1) + f] = out[1];
            s->fy[1][(size_t)i * (n + 1) + f] = out[2];
        }
    const double inv_dx = 1.0 / s->dx;
    double smax = 0;
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < n; ++i) {
            const size_t c = at(s, j, i);
            for (int v = 0; v < 3; ++v) {
                const double dfx = s->fx[v][(size_t)j * (n + 1) + i + 1] - s->fx[v][(size_t)j * (n + 1) + i];
                const double dfy = s->fy[v][(size_t)i * (n + 1) + j + 1] - s->fy[v][(size_t)i * (n + 1) + j];
                s->rhs[v][c] = -(dfx * inv_dx) - dfy * inv_dx;
            }
            const double h = q[0][c];
            const double u = fabs(q[1][c] / h), v = fabs(q[2][c] / h);
            const double sp = (u > v ? u : v) + sqrt(s->g * h);
            if (sp > smax) smax = sp;
        }
    *max_speed = smax;
}

void dfl_sw_advance(dfl_sw_solver *s, double duration) {
    const double target = s->time + duration;
    const int n = s->n;
    for (;;) {
        const double remaining = target - s->time;
        if (remaining <= 1e-12 * (1.0 + fabs(target))) break;
        double smax;
        compute_rhs(s, s->q, &smax);
        double dt = s->cfl * s->dx / smax;
        if (dt >= remaining)
            dt = remaining;
        else if (dt > 0.5 * remaining)
            dt = 0.5 * remaining;
        for (int j = 0; j < n; ++j)
            for (int i = 0; i < n; ++i) {
                const size_t c = at(s, j, i);
                for (int v = 0; v < 3; ++v) s->q1[v][c] = s->q[v][c] + dt * s->rhs[v][c];
            }
        compute_rhs(s, s->q1, &smax);
        for (int j = 0; j < n; ++j)
            for (int i = 0; i < n; ++i) {
                const size_t c = at(s, j, i);
                for (int v = 0; v < 3; ++v) s->q[v][c] = 0.5 * s->q[v][c] + 0.5 * (s->q1[v][c] + dt * s->rhs[v][c]);
            }
        s->time += dt;
    }
    s->time = target;
}

const double *dfl_sw_height(const dfl_sw_solver *s) {
    for (int j = 0; j < s->n; ++j)
        for (int i = 0; i < s->n; ++i) s->height[(size_t)j * s->n + i] = s->q[0][at(s, j, i)];
    return s->height;
}

double dfl_sw_mass(const dfl_sw_solver *s) {
    double m = 0;
    for (int j = 0; j < s->n; ++j)
        for (int i = 0; i < s->n; ++i) m += s->q[0][at(s, j, i)];
    return m * s->dx * s->dx;
}

double dfl_sw_time(const dfl_sw_solver *s) { return s->time; }
