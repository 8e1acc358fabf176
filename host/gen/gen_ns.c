/* 2D incompressible Navier-Stokes in vorticity form on a periodic square,
 * pseudo-spectral (host/gen/gen.h). The state is the r2c spectrum of the
 * vorticity, unnormalised (FFTW convention: c2r of it is n^2 * w). */
#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dynfill/status.h"
#include "gen.h"

struct dfl_ns_solver {
    int n, nh;
    double length, nu, drag, dt_max, cfl;
    double time;
    long steps;
    double speed_max; /* max |u| + |v| seen by the last nonlinear evaluation */
    fftw_complex *w_hat, *f_hat, *tmp_hat, *n0_hat, *n1_hat, *wp_hat;
    double *kx, *ky; /* wavenumbers 2 pi m per spectral column / row */
    double *k2;      /* |k|^2 per spectral index */
    uint8_t *keep;   /* 2/3-rule dealiasing mask per spectral index */
    double *u, *v, *wx, *wy, *grid, *f;
    fftw_plan r2c, c2r;
    /* coarse output grid for dfl_ns_get_vorticity_resampled */
    int m;
    fftw_complex *coarse_hat;
    double *coarse;
    fftw_plan coarse_c2r;
};

static void *xfftw(size_t bytes) {
    void *p = fftw_malloc(bytes);
    if (!p) DFL_PANIC("out of memory (%zu bytes)", bytes);
    return p;
}

dfl_ns_solver *dfl_ns_create(const dfl_ns_params *p) {
    const int n = p->n;
    DFL_ASSERT(n >= 8 && n % 2 == 0 && p->length > 0);
    dfl_ns_solver *s = dfl_xcalloc(1, sizeof *s);
    s->n = n;
    s->nh = n / 2 + 1;
    s->length = p->length;
    s->nu = p->nu;
    s->drag = p->drag;
    s->dt_max = 0.05 * p->length;
    s->cfl = 0.5;
    const size_t ns = (size_t)n * (size_t)s->nh, nr = (size_t)n * (size_t)n;
    s->w_hat = xfftw(sizeof(fftw_complex) * ns);
    s->f_hat = xfftw(sizeof(fftw_complex) * ns);
    s->tmp_hat = xfftw(sizeof(fftw_complex) * ns);
    s->n0_hat = xfftw(sizeof(fftw_complex) * ns);
    s->n1_hat = xfftw(sizeof(fftw_complex) * ns);
    s->wp_hat = xfftw(sizeof(fftw_complex) * ns);
    s->u = xfftw(sizeof(double) * nr);
    s->v = xfftw(sizeof(double) * nr);
    s->wx = xfftw(sizeof(double) * nr);
    s->wy = xfftw(sizeof(double) * nr);
    s->grid = xfftw(sizeof(double) * nr);
    s->f = xfftw(sizeof(double) * nr);
    s->kx = dfl_xmalloc(sizeof(double) * (size_t)s->nh);
    s->ky = dfl_xmalloc(sizeof(double) * (size_t)n);
    s->k2 = dfl_xmalloc(sizeof(double) * ns);
    s->keep = dfl_xmalloc(ns);
    const double k0 = 2.0 * M_PI / p->length;
    for (int i = 0; i < s->nh; ++i) s->kx[i] = k0 * i;
    for (int j = 0; j < n; ++j) s->ky[j] = k0 * (j <= n / 2 ? j : j - n);
    for (int j = 0; j < n; ++j) {
        const int my = j <= n / 2 ? j : j - n;
        for (int i = 0; i < s->nh; ++i) {
            const size_t k = (size_t)j * s->nh + i;
            s->k2[k] = s->kx[i] * s->kx[i] + s->ky[j] * s->ky[j];
            /* 2/3 rule: keep |m| with 3|m| < n on both axes (drops Nyquist). */
            s->keep[k] = 3 * i < n && 3 * abs(my) < n;
        }
    }
#pragma omp critical(dfl_fftw_planner)
    {
        s->r2c = fftw_plan_dft_r2c_2d(n, n, s->grid, s->tmp_hat, FFTW_ESTIMATE);
        s->c2r = fftw_plan_dft_c2r_2d(n, n, s->tmp_hat, s->grid, FFTW_ESTIMATE);
    }
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < n; ++i) {
            const double x = p->length * i / n, y = p->length * j / n;
            double f = 0;
            if (p->forcing == DFL_NS_FORCING_KOLMOGOROV)
                f = -p->forcing_k * p->forcing_amp * cos(p->forcing_k * k0 * y);
            else if (p->forcing == DFL_NS_FORCING_FNO)
                f = p->forcing_amp * (sin(k0 * (x + y)) + cos(k0 * (x + y)));
            s->f[(size_t)j * n + i] = f;
        }
    memcpy(s->grid, s->f, sizeof(double) * nr);
    fftw_execute_dft_r2c(s->r2c, s->grid, s->f_hat);
    memset(s->w_hat, 0, sizeof(fftw_complex) * ns);
    return s;
}

void dfl_ns_destroy(dfl_ns_solver *s) {
    if (!s) return;
#pragma omp critical(dfl_fftw_planner)
    {
        fftw_destroy_plan(s->r2c);
        fftw_destroy_plan(s->c2r);
        if (s->coarse_hat) fftw_destroy_plan(s->coarse_c2r);
    }
    fftw_free(s->coarse_hat);
    fftw_free(s->coarse);
    fftw_free(s->w_hat);
    fftw_free(s->f_hat);
    fftw_free(s->tmp_hat);
    fftw_free(s->n0_hat);
    fftw_free(s->n1_hat);
    fftw_free(s->wp_hat);
    fftw_free(s->u);
    fftw_free(s->v);
    fftw_free(s->wx);
    fftw_free(s->wy);
    fftw_free(s->grid);
    fftw_free(s->f);
    free(s->kx);
    free(s->ky);
    free(s->k2);
    free(s->keep);
    free(s);
}

void dfl_ns_set_step_limits(dfl_ns_solver *s, double dt_max, double cfl) {
    s->dt_max = dt_max;
    s->cfl = cfl;
}

double dfl_ns_time(const dfl_ns_solver *s) { return s->time; }
long dfl_ns_steps(const dfl_ns_solver *s) { return s->steps; }

/* out = c2r(spec * factor) / n^2, where factor(k) is chosen by `op`:
 * 0: 1, 1: i kx, 2: i ky, 3: i ky / |k|^2 (u), 4: -i kx / |k|^2 (v),
 * 5: 1/|k|^2 (psi). c2r destroys its input, so work on tmp_hat. */
static void spectral_to_grid(dfl_ns_solver *s, const fftw_complex *spec, int op, double *out) {
    const int n = s->n, nh = s->nh;
    const double norm = 1.0 / ((double)n * (double)n);
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < nh; ++i) {
            const size_t k = (size_t)j * nh + i;
            const double re = spec[k][0], im = spec[k][1];
            const double inv_k2 = s->k2[k] > 0 ? 1.0 / s->k2[k] : 0.0;
            double fr = 0, fi = 0; /* factor = fr + i fi */
            switch (op) {
            case 0: fr = 1; break;
            case 1: fi = s->kx[i]; break;
            case 2: fi = s->ky[j]; break;
            case 3: fi = s->ky[j] * inv_k2; break;
            case 4: fi = -s->kx[i] * inv_k2; break;
            case 5: fr = inv_k2; break;
            }
            /* derivatives of Nyquist modes are not representable: drop them */
            if (op != 0 && !s->keep[k]) fr = fi = 0;
            s->tmp_hat[k][0] = (fr * re - fi * im) * norm;
            s->tmp_hat[k][1] = (fr * im + fi * re) * norm;
        }
    fftw_execute_dft_c2r(s->c2r, s->tmp_hat, out);
}

/* nl = dealias(-FFT(u . grad w)) for the vorticity spectrum w_hat; also
 * records the largest |u| + |v| for the CFL limit. */
static void nonlinear(dfl_ns_solver *s, const fftw_complex *w_hat, fftw_complex *nl) {
    const size_t nr = (size_t)s->n * (size_t)s->n, ns = (size_t)s->n * (size_t)s->nh;
    spectral_to_grid(s, w_hat, 3, s->u);
    spectral_to_grid(s, w_hat, 4, s->v);
    spectral_to_grid(s, w_hat, 1, s->wx);
    spectral_to_grid(s, w_hat, 2, s->wy);
    double smax = 0;
    for (size_t i = 0; i < nr; ++i) {
        s->grid[i] = s->u[i] * s->wx[i] + s->v[i] * s->wy[i];
        const double sp = fabs(s->u[i]) + fabs(s->v[i]);
        if (sp > smax) smax = sp;
    }
    s->speed_max = smax;
    fftw_execute_dft_r2c(s->r2c, s->grid, nl);
    for (size_t k = 0; k < ns; ++k) {
        const double m = s->keep[k] ? -1.0 : 0.0;
        nl[k][0] *= m;
        nl[k][1] *= m;
    }
}

void dfl_ns_set_vorticity(dfl_ns_solver *s, const double *w) {
    const size_t nr = (size_t)s->n * (size_t)s->n, ns = (size_t)s->n * (size_t)s->nh;
    memcpy(s->grid, w, sizeof(double) * nr);
    fftw_execute_dft_r2c(s->r2c, s->grid, s->w_hat);
    for (size_t k = 0; k < ns; ++k)
        if (!s->keep[k]) s->w_hat[k][0] = s->w_hat[k][1] = 0;
    s->w_hat[0][0] = s->w_hat[0][1] = 0; /* zero-mean vorticity on the torus */
}

/* FFTW's new-array execute needs arrays aligned like the plan's: user
 * buffers go through the solver's own (fftw_malloc'ed) grid. */
void dfl_ns_get_vorticity(dfl_ns_solver *s, double *w) {
    spectral_to_grid(s, s->w_hat, 0, s->grid);
    memcpy(w, s->grid, sizeof(double) * (size_t)s->n * (size_t)s->n);
}

void dfl_ns_get_vorticity_resampled(dfl_ns_solver *s, int m, double *w) {
    if (m == s->n) {
        dfl_ns_get_vorticity(s, w);
        return;
    }
    DFL_ASSERT(m >= 2 && m < s->n && m % 2 == 0);
    const int mh = m / 2 + 1;
    if (s->m != m) {
#pragma omp critical(dfl_fftw_planner)
        {
            if (s->coarse_hat) fftw_destroy_plan(s->coarse_c2r);
            fftw_free(s->coarse_hat);
            fftw_free(s->coarse);
            s->coarse_hat = xfftw(sizeof(fftw_complex) * (size_t)m * (size_t)mh);
            s->coarse = xfftw(sizeof(double) * (size_t)m * (size_t)m);
            s->coarse_c2r = fftw_plan_dft_c2r_2d(m, m, s->coarse_hat, s->coarse, FFTW_ESTIMATE);
        }
        s->m = m;
    }
    /* Keep the modes |mx|, |my| < m/2 (no coarse Nyquist), normalised so the
     * coarse c2r gives point values: divide by n^2, not m^2. */
    const double norm = 1.0 / ((double)s->n * (double)s->n);
    for (int j = 0; j < m; ++j) {
        const int my = j <= m / 2 ? j : j - m;
        for (int i = 0; i < mh; ++i) {
            double *c = s->coarse_hat[(size_t)j * mh + i];
            if (2 * i == m || 2 * my == m) {
                c[0] = c[1] = 0;
                continue;
            }
            const int jf = my >= 0 ? my : my + s->n;
            const double *f = s->w_hat[(size_t)jf * s->nh + i];
            c[0] = f[0] * norm;
            c[1] = f[1] * norm;
        }
    }
    fftw_execute(s->coarse_c2r);
    memcpy(w, s->coarse, sizeof(double) * (size_t)m * (size_t)m);
}

void dfl_ns_get_velocity(dfl_ns_solver *s, double *u, double *v) {
    const size_t bytes = sizeof(double) * (size_t)s->n * (size_t)s->n;
    spectral_to_grid(s, s->w_hat, 3, s->grid);
    memcpy(u, s->grid, bytes);
    spectral_to_grid(s, s->w_hat, 4, s->grid);
    memcpy(v, s->grid, bytes);
}

/* One step of length dt (Crank-Nicolson viscosity and drag, Heun advection):
 *   w* = ((1 - a) w + dt (N(w) + f)) / (1 + a),  a = (nu |k|^2 + drag) dt / 2
 *   w' = ((1 - a) w + dt ((N(w) + N(w*)) / 2 + f)) / (1 + a)            */
static void step(dfl_ns_solver *s, double dt) {
    const size_t ns = (size_t)s->n * (size_t)s->nh;
    for (size_t k = 0; k < ns; ++k) {
        const double a = 0.5 * (s->nu * s->k2[k] + s->drag) * dt;
        const double inv = 1.0 / (1.0 + a);
        for (int c = 0; c < 2; ++c)
            s->wp_hat[k][c] = ((1.0 - a) * s->w_hat[k][c] + dt * (s->n0_hat[k][c] + s->f_hat[k][c])) * inv;
        if (!s->keep[k]) s->wp_hat[k][0] = s->wp_hat[k][1] = 0;
    }
    nonlinear(s, s->wp_hat, s->n1_hat);
    for (size_t k = 0; k < ns; ++k) {
        const double a = 0.5 * (s->nu * s->k2[k] + s->drag) * dt;
        const double inv = 1.0 / (1.0 + a);
        for (int c = 0; c < 2; ++c)
            s->w_hat[k][c] =
                ((1.0 - a) * s->w_hat[k][c] + dt * (0.5 * (s->n0_hat[k][c] + s->n1_hat[k][c]) + s->f_hat[k][c])) * inv;
        if (!s->keep[k]) s->w_hat[k][0] = s->w_hat[k][1] = 0;
    }
    s->steps++;
}

void dfl_ns_advance(dfl_ns_solver *s, double duration) {
    const double target = s->time + duration;
    const double dx = s->length / s->n;
    for (;;) {
        const double remaining = target - s->time;
        if (remaining <= 1e-12 * (1.0 + fabs(target))) break;
        nonlinear(s, s->w_hat, s->n0_hat);
        double dt = s->dt_max;
        if (s->speed_max > 0 && s->cfl * dx / s->speed_max < dt) dt = s->cfl * dx / s->speed_max;
        if (dt >= remaining)
            dt = remaining;
        else if (dt > 0.5 * remaining)
            dt = 0.5 * remaining; /* avoid a tiny last step */
        step(s, dt);
        s->time += dt;
    }
    s->time = target;
}

double dfl_ns_energy(dfl_ns_solver *s) {
    const size_t nr = (size_t)s->n * (size_t)s->n;
    spectral_to_grid(s, s->w_hat, 3, s->u);
    spectral_to_grid(s, s->w_hat, 4, s->v);
    double e = 0;
    for (size_t i = 0; i < nr; ++i) e += s->u[i] * s->u[i] + s->v[i] * s->v[i];
    return 0.5 * e / (double)nr;
}

double dfl_ns_enstrophy(dfl_ns_solver *s) {
    const size_t nr = (size_t)s->n * (size_t)s->n;
    spectral_to_grid(s, s->w_hat, 0, s->wx);
    double z = 0;
    for (size_t i = 0; i < nr; ++i) z += s->wx[i] * s->wx[i];
    return z / (double)nr;
}

double dfl_ns_energy_input(dfl_ns_solver *s) {
    const size_t nr = (size_t)s->n * (size_t)s->n;
    spectral_to_grid(s, s->w_hat, 5, s->wx);
    double p = 0;
    for (size_t i = 0; i < nr; ++i) p += s->wx[i] * s->f[i];
    return p / (double)nr;
}
