/* Advection generator against the exact solution u(x, t) = u0(x - c t). */
#include <math.h>
#include <stdlib.h>

#include "dfl_test.h"
#include "gen/gen.h"

int main(void) {
    const int n = 64;
    double *u0 = malloc(sizeof(double) * n * n), *u = malloc(sizeof(double) * n * n);
    /* 1. A random smooth (band-limited) field shifted by whole cells equals
     *    the rolled grid. */
    dfl_grf_sample(n, 3.0, 5.0, 1.0, 9, 3, u0);
    dfl_advection *a = dfl_advection_create(n, u0);
    const double t = 0.75;
    const double cx = 5.0 / n / t, cy = -3.0 / n / t; /* shift (+5, -3) cells */
    dfl_advection_frame(a, cx, cy, t, u);
    double err = 0, amp = 0;
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < n; ++i) {
            const int si = ((i - 5) % n + n) % n, sj = ((j + 3) % n + n) % n;
            err = fmax(err, fabs(u[j * n + i] - u0[sj * n + si]));
            amp = fmax(amp, fabs(u0[j * n + i]));
        }
    CHECK_MSG(err < 1e-12 * amp + 1e-14, "whole-cell shift: max error %.3g (amplitude %.3g)", err, amp);
    /* At t = 0 the frame is the initial field. */
    dfl_advection_frame(a, cx, cy, 0.0, u);
    err = 0;
    for (int i = 0; i < n * n; ++i) err = fmax(err, fabs(u[i] - u0[i]));
    CHECK_MSG(err < 1e-12 * amp, "t = 0: max error %.3g", err);
    dfl_advection_destroy(a);

    /* 2. An analytic field at a fractional shift: u0 = sin 2pi(2x + 3y) +
     *    0.5 cos 2pi(x - 4y) moved by c t = (0.1234, 0.4321) periods. */
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < n; ++i) {
            const double x = (double)i / n, y = (double)j / n;
            u0[j * n + i] = sin(2 * M_PI * (2 * x + 3 * y)) + 0.5 * cos(2 * M_PI * (x - 4 * y));
        }
    a = dfl_advection_create(n, u0);
    const double vx = 0.1234 / 2.5, vy = 0.4321 / 2.5;
    dfl_advection_frame(a, vx, vy, 2.5, u);
    err = 0;
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < n; ++i) {
            const double x = (double)i / n - 0.1234, y = (double)j / n - 0.4321;
            const double exact = sin(2 * M_PI * (2 * x + 3 * y)) + 0.5 * cos(2 * M_PI * (x - 4 * y));
            err = fmax(err, fabs(u[j * n + i] - exact));
        }
    CHECK_MSG(err < 1e-12, "fractional shift: max error %.3g", err);
    /* Long times: a shift by whole periods returns the initial field. */
    dfl_advection_frame(a, 3.0, -2.0, 1000.0, u);
    err = 0;
    for (int i = 0; i < n * n; ++i) err = fmax(err, fabs(u[i] - u0[i]));
    CHECK_MSG(err < 1e-11, "whole periods: max error %.3g", err);
    dfl_advection_destroy(a);

    /* 3. The random field is smooth and zero-mean; a different stream differs. */
    dfl_grf_sample(n, 3.0, 5.0, 1.0, 9, 3, u);
    dfl_grf_sample(n, 3.0, 5.0, 1.0, 9, 3, u0);
    int same = 1;
    for (int i = 0; i < n * n; ++i) same &= u[i] == u0[i];
    CHECK_MSG(same, "the random field is deterministic by (seed, stream)");
    dfl_grf_sample(n, 3.0, 5.0, 1.0, 9, 4, u0);
    same = 1;
    for (int i = 0; i < n * n; ++i) same &= u[i] == u0[i];
    CHECK_MSG(!same, "another stream gives another field");
    double mean = 0;
    for (int i = 0; i < n * n; ++i) mean += u[i];
    CHECK_MSG(fabs(mean / (n * n)) < 1e-12, "zero mean (%.3g)", mean / (n * n));
    free(u0);
    free(u);
    return dfl_test_finish("data_gen_advection_test");
}
