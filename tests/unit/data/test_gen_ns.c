/* Navier-Stokes generator against physics (host/gen/gen.h):
 *  - a Taylor-Green vortex (an exact steady solution of the Euler terms)
 *    decays at exactly the viscous rate exp(-nu |k|^2 t);
 *  - the velocity is divergence-free and its curl is the vorticity
 *    (checked spectrally, independently of the solver);
 *  - under Kolmogorov forcing the energy stays within the physical bound
 *    E <= max(E0, F_rms^2 / (2 drag^2)) and follows the energy budget
 *    dE/dt = <psi f> - nu <w^2> - 2 drag E;
 *  - runs are deterministic. */
#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dfl_test.h"
#include "gen/gen.h"

static void taylor_green(int mx, int my, double nu) {
    const int n = 32;
    dfl_ns_params p = {n, 1.0, nu, 0.0, DFL_NS_FORCING_NONE, 0.0, 0};
    dfl_ns_solver *s = dfl_ns_create(&p);
    dfl_ns_set_step_limits(s, 0.002, 0.5);
    double *w0 = malloc(sizeof(double) * n * n), *w = malloc(sizeof(double) * n * n);
    const double k2 = 4.0 * M_PI * M_PI * (mx * mx + my * my);
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < n; ++i)
            w0[j * n + i] = 3.0 * sin(2 * M_PI * mx * i / (double)n) * sin(2 * M_PI * my * j / (double)n);
    dfl_ns_set_vorticity(s, w0);
    const double T = 0.5;
    dfl_ns_advance(s, T);
    dfl_ns_get_vorticity(s, w);
    const double decay = exp(-nu * k2 * T);
    double err = 0, amp = 0;
    for (int i = 0; i < n * n; ++i) {
        err = fmax(err, fabs(w[i] - w0[i] * decay));
        amp = fmax(amp, fabs(w0[i] * decay));
    }
    CHECK_MSG(err / amp < 1e-6, "Taylor-Green (%d,%d): max error %.3g relative to %.3g (decay %.6f)", mx, my, err / amp,
              amp, decay);
    CHECK_CLOSE(dfl_ns_time(s), T, 1e-12);
    dfl_ns_destroy(s);
    free(w0);
    free(w);
}

/* div u and curl u - w computed with FFTW here, not with the solver. */
static void check_velocity(dfl_ns_solver *s, int n, double L) {
    double *u = fftw_alloc_real((size_t)n * n), *v = fftw_alloc_real((size_t)n * n),
           *w = fftw_alloc_real((size_t)n * n);
    double *div = fftw_alloc_real((size_t)n * n), *curl = fftw_alloc_real((size_t)n * n);
    const int nh = n / 2 + 1;
    fftw_complex *uh = fftw_alloc_complex((size_t)n * nh), *vh = fftw_alloc_complex((size_t)n * nh),
                 *dh = fftw_alloc_complex((size_t)n * nh), *ch = fftw_alloc_complex((size_t)n * nh);
    dfl_ns_get_velocity(s, u, v);
    dfl_ns_get_vorticity(s, w);
    fftw_plan pu = fftw_plan_dft_r2c_2d(n, n, u, uh, FFTW_ESTIMATE),
              pv = fftw_plan_dft_r2c_2d(n, n, v, vh, FFTW_ESTIMATE);
    fftw_execute(pu);
    fftw_execute(pv);
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < nh; ++i) {
            const double kx = 2 * M_PI / L * i, ky = 2 * M_PI / L * (j <= n / 2 ? j : j - n);
            const int k = j * nh + i;
            const int nyq = 2 * i == n || 2 * j == n;
            /* div = i kx u + i ky v ; curl = i kx v - i ky u */
            dh[k][0] = nyq ? 0 : -(kx * uh[k][1] + ky * vh[k][1]) / (n * n);
            dh[k][1] = nyq ? 0 : (kx * uh[k][0] + ky * vh[k][0]) / (n * n);
            ch[k][0] = nyq ? 0 : -(kx * vh[k][1] - ky * uh[k][1]) / (n * n);
            ch[k][1] = nyq ? 0 : (kx * vh[k][0] - ky * uh[k][0]) / (n * n);
        }
    fftw_plan pd = fftw_plan_dft_c2r_2d(n, n, dh, div, FFTW_ESTIMATE),
              pc = fftw_plan_dft_c2r_2d(n, n, ch, curl, FFTW_ESTIMATE);
    fftw_execute(pd);
    fftw_execute(pc);
    double umax = 0, dmax = 0, wmax = 0, cerr = 0;
    for (int i = 0; i < n * n; ++i) {
        umax = fmax(umax, fabs(u[i]) + fabs(v[i]));
        dmax = fmax(dmax, fabs(div[i]));
        wmax = fmax(wmax, fabs(w[i]));
        cerr = fmax(cerr, fabs(curl[i] - w[i]));
    }
    const double kmax = 2 * M_PI / L * n / 2;
    CHECK_MSG(umax > 0.1, "velocity is not trivially zero (max |u|+|v| = %g)", umax);
    CHECK_MSG(dmax < 1e-10 * umax * kmax, "max |div u| = %.3g (max |u| %.3g)", dmax, umax);
    CHECK_MSG(cerr < 1e-9 * wmax, "max |curl u - w| = %.3g (max |w| %.3g)", cerr, wmax);
    fftw_destroy_plan(pu);
    fftw_destroy_plan(pv);
    fftw_destroy_plan(pd);
    fftw_destroy_plan(pc);
    fftw_free(u);
    fftw_free(v);
    fftw_free(w);
    fftw_free(div);
    fftw_free(curl);
    fftw_free(uh);
    fftw_free(vh);
    fftw_free(dh);
    fftw_free(ch);
}

static void kolmogorov_energy(void) {
    const int n = 64;
    const double nu = 1e-3, drag = 0.1, amp = 1.0;
    dfl_ns_params p = {n, 2 * M_PI, nu, drag, DFL_NS_FORCING_KOLMOGOROV, amp, 4};
    dfl_ns_solver *s = dfl_ns_create(&p), *s2 = dfl_ns_create(&p);
    double *w0 = malloc(sizeof(double) * n * n);
    dfl_grf_sample(n, 2.5, 7.0, 20.0 * pow(7.0, 1.5), 42, 7, w0);
    dfl_ns_set_vorticity(s, w0);
    dfl_ns_set_vorticity(s2, w0);
    const double E0 = dfl_ns_energy(s);
    /* Body force amp sin(4y) in x: rms amp / sqrt 2. With u.F <= |u||F| and
     * dissipation >= 2 drag E, E can never exceed this bound for long. */
    const double bound = fmax(E0, amp * amp / 2.0 / (2.0 * drag * drag));
    double emax = 0;
    /* Energy budget over 2 time units sampled every 0.005. */
    const double dt_sample = 0.005;
    double E = E0, rate_prev = dfl_ns_energy_input(s) - nu * dfl_ns_enstrophy(s) - 2 * drag * E0;
    double budget = 0, change = 0, scale = 0;
    for (int k = 0; k < 400; ++k) {
        dfl_ns_advance(s, dt_sample);
        const double En = dfl_ns_energy(s);
        const double rate = dfl_ns_energy_input(s) - nu * dfl_ns_enstrophy(s) - 2 * drag * En;
        budget += 0.5 * (rate + rate_prev) * dt_sample;
        scale += 0.5 * (fabs(rate) + fabs(rate_prev)) * dt_sample;
        change += En - E;
        E = En;
        rate_prev = rate;
        emax = fmax(emax, En);
    }
    CHECK_MSG(fabs(change - budget) < 0.02 * scale, "energy budget: dE = %.6g, integral of budget = %.6g (scale %.3g)",
              change, budget, scale);
    /* A longer forced run: bounded, finite, still turbulent. */
    for (int k = 0; k < 20; ++k) {
        dfl_ns_advance(s, 1.0);
        const double En = dfl_ns_energy(s);
        CHECK_MSG(isfinite(En) && En <= bound * 1.0001, "t = %.0f: energy %.4g exceeds the bound %.4g", dfl_ns_time(s),
                  En, bound);
        emax = fmax(emax, En);
    }
    CHECK_MSG(dfl_ns_energy(s) > 0.05, "forced flow keeps energy (E = %.3g)", dfl_ns_energy(s));
    check_velocity(s, n, 2 * M_PI);
    /* Determinism: the same calls from the same state are bit-identical. */
    dfl_ns_solver *s3 = dfl_ns_create(&p);
    dfl_ns_set_vorticity(s3, w0);
    dfl_ns_advance(s2, 1.0);
    dfl_ns_advance(s2, 0.5);
    dfl_ns_advance(s3, 1.0);
    dfl_ns_advance(s3, 0.5);
    double *a = malloc(sizeof(double) * n * n), *b = malloc(sizeof(double) * n * n);
    dfl_ns_get_vorticity(s3, a);
    dfl_ns_get_vorticity(s2, b);
    CHECK_MSG(!memcmp(a, b, sizeof(double) * n * n), "two identical runs differ");
    dfl_ns_destroy(s3);
    /* Spectral resampling to 32 x 32 keeps point values of resolved fields. */
    dfl_ns_get_vorticity_resampled(s, 32, b);
    CHECK(isfinite(b[0]));
    printf("kolmogorov: E0 %.3f, max E %.3f (bound %.3f), steps %ld\n", E0, emax, bound, dfl_ns_steps(s));
    dfl_ns_destroy(s);
    dfl_ns_destroy(s2);
    free(w0);
    free(a);
    free(b);
}

static void resampling_exact(void) {
    /* A field with modes |m| <= 5 is resampled from 64 to 16 exactly. */
    dfl_ns_params p = {64, 1.0, 1e-3, 0.0, DFL_NS_FORCING_NONE, 0.0, 0};
    dfl_ns_solver *s = dfl_ns_create(&p);
    double *w = malloc(sizeof(double) * 64 * 64), *c = malloc(sizeof(double) * 16 * 16);
    for (int j = 0; j < 64; ++j)
        for (int i = 0; i < 64; ++i)
            w[j * 64 + i] = sin(2 * M_PI * (3 * i + 2 * j) / 64.0) + 0.5 * cos(2 * M_PI * (5 * j - i) / 64.0);
    dfl_ns_set_vorticity(s, w);
    dfl_ns_get_vorticity_resampled(s, 16, c);
    double err = 0;
    for (int j = 0; j < 16; ++j)
        for (int i = 0; i < 16; ++i) err = fmax(err, fabs(c[j * 16 + i] - w[(4 * j) * 64 + 4 * i]));
    CHECK_MSG(err < 1e-12, "resampled field error %.3g", err);
    dfl_ns_destroy(s);
    free(w);
    free(c);
}

int main(void) {
    taylor_green(1, 1, 0.01);
    taylor_green(2, 1, 0.005);
    resampling_exact();
    kolmogorov_energy();
    return dfl_test_finish("data_gen_ns_test");
}
