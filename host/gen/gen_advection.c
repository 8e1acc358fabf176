/* Exact 2D linear advection on the unit torus by Fourier phase shift
 * (host/gen/gen.h): u(x, t) = u0(x - c t) holds exactly for a band-limited u0,
 * whose Fourier coefficients just rotate: u_hat(k, t) = u_hat0(k) e^{-i k.c t}. */
#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dynfill/status.h"
#include "gen.h"

struct dfl_advection {
    int n, nh;
    fftw_complex *u0_hat, *tmp;
    double *grid;
    fftw_plan c2r;
};

dfl_advection *dfl_advection_create(int n, const double *u0) {
    DFL_ASSERT(n >= 2 && n % 2 == 0);
    dfl_advection *a = dfl_xcalloc(1, sizeof *a);
    a->n = n;
    a->nh = n / 2 + 1;
    const size_t ns = (size_t)n * (size_t)a->nh, nr = (size_t)n * (size_t)n;
    a->u0_hat = fftw_alloc_complex(ns);
    a->tmp = fftw_alloc_complex(ns);
    a->grid = fftw_alloc_real(nr);
    if (!a->u0_hat || !a->tmp || !a->grid) DFL_PANIC("out of memory");
    fftw_plan r2c;
#pragma omp critical(dfl_fftw_planner)
    {
        r2c = fftw_plan_dft_r2c_2d(n, n, a->grid, a->u0_hat, FFTW_ESTIMATE);
        a->c2r = fftw_plan_dft_c2r_2d(n, n, a->tmp, a->grid, FFTW_ESTIMATE);
    }
    memcpy(a->grid, u0, sizeof(double) * nr);
    fftw_execute(r2c);
#pragma omp critical(dfl_fftw_planner)
    fftw_destroy_plan(r2c);
    /* Nyquist modes cannot be shifted by a fraction of a cell: drop them. */
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < a->nh; ++i)
            if (2 * i == n || 2 * j == n) a->u0_hat[(size_t)j * a->nh + i][0] = a->u0_hat[(size_t)j * a->nh + i][1] = 0;
    return a;
}

void dfl_advection_frame(dfl_advection *a, double cx, double cy, double t, double *out) {
    const int n = a->n, nh = a->nh;
    const double norm = 1.0 / ((double)n * (double)n);
    /* Shift in whole periods is the identity: reduce c t modulo 1 first,
     * which keeps the phases accurate for long times. */
    const double sx = fmod(cx * t, 1.0), sy = fmod(cy * t, 1.0);
    for (int j = 0; j < n; ++j) {
        const int my = j <= n / 2 ? j : j - n;
        for (int i = 0; i < nh; ++i) {
            const size_t k = (size_t)j * nh + i;
            const double phase = -2.0 * M_PI * ((double)i * sx + (double)my * sy);
            const double c = cos(phase), s = sin(phase);
            const double re = a->u0_hat[k][0], im = a->u0_hat[k][1];
            a->tmp[k][0] = (re * c - im * s) * norm;
            a->tmp[k][1] = (re * s + im * c) * norm;
        }
    }
    fftw_execute_dft_c2r(a->c2r, a->tmp, a->grid);
    memcpy(out, a->grid, sizeof(double) * (size_t)n * (size_t)n);
}

void dfl_advection_destroy(dfl_advection *a) {
    if (!a) return;
#pragma omp critical(dfl_fftw_planner)
    fftw_destroy_plan(a->c2r);
    fftw_free(a->u0_hat);
    fftw_free(a->tmp);
    fftw_free(a->grid);
    free(a);
}
