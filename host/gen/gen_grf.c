/* Gaussian random fields on the unit torus (host/gen/gen.h). */
#include <fftw3.h>
#include <math.h>
#include <string.h>

#include "dynfill/status.h"
#include "gen.h"
#include "shared/philox.h"

void dfl_grf_sample(int n, double alpha, double tau, double sigma, uint64_t seed, uint64_t stream, double *out) {
    const int nh = n / 2 + 1;
    fftw_complex *spec = fftw_alloc_complex((size_t)n * (size_t)nh);
    double *grid = fftw_alloc_real((size_t)n * (size_t)n); /* aligned: same plan on every call */
    if (!spec || !grid) DFL_PANIC("out of memory");
    const double two_pi_sq = 4.0 * M_PI * M_PI;
    for (int j = 0; j < n; ++j) {
        const int my = j <= n / 2 ? j : j - n;
        for (int i = 0; i < nh; ++i) {
            const int mx = i;
            double *c = spec[(size_t)j * nh + i];
            c[0] = c[1] = 0.0;
            if ((mx == 0 && my == 0) || 2 * mx == n || 2 * my == n || 2 * my == -n) continue;
            const double amp = sigma * pow(two_pi_sq * (double)(mx * mx + my * my) + tau * tau, -0.5 * alpha);
            const uint64_t k = ((uint64_t)j * (uint64_t)nh + (uint64_t)i) * 2;
            c[0] = amp * (double)dfl_rng_normal(seed, stream, k);
            c[1] = amp * (double)dfl_rng_normal(seed, stream, k + 1);
        }
    }
    /* Column mx = 0 must be Hermitian: c(-my) = conj c(my). */
    for (int j = n / 2 + 1; j < n; ++j) {
        double *c = spec[(size_t)j * nh];
        const double *m = spec[(size_t)(n - j) * nh];
        c[0] = m[0];
        c[1] = -m[1];
    }
    fftw_plan plan;
#pragma omp critical(dfl_fftw_planner)
    plan = fftw_plan_dft_c2r_2d(n, n, spec, grid, FFTW_ESTIMATE);
    fftw_execute(plan);
#pragma omp critical(dfl_fftw_planner)
    fftw_destroy_plan(plan);
    memcpy(out, grid, sizeof(double) * (size_t)n * (size_t)n);
    fftw_free(grid);
    fftw_free(spec);
}
