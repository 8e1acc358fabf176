/* VP noise schedule of docs/design.md, "The method" [ref]:
 *   log alpha(t) = -1/4 t^2 (beta_max - beta_min) - 1/2 t beta_min,
 *   sigma(t) = sqrt(1 - alpha(t)^2),  beta_min = 0.1, beta_max = 20. */
#ifndef DYNFILL_SHARED_SCHEDULE_H
#define DYNFILL_SHARED_SCHEDULE_H

#include "dfl_hd.h"

#define DFL_BETA_MIN 0.1f
#define DFL_BETA_MAX 20.0f
#define DFL_T_EPS    1e-3f

DFL_HD float dfl_vp_log_alpha(float t) {
    return -0.25f * t * t * (DFL_BETA_MAX - DFL_BETA_MIN) - 0.5f * t * DFL_BETA_MIN;
}

DFL_HD float dfl_vp_alpha(float t) { return dfl_expf(dfl_vp_log_alpha(t)); }

/* sigma = sqrt(1 - alpha^2) written as sqrt(-expm1(2 log alpha)) so that it
 * stays accurate for t near t_eps where alpha^2 is close to 1. */
DFL_HD float dfl_vp_sigma(float t) {
    float la2 = 2.0f * dfl_vp_log_alpha(t);
    return dfl_sqrtf(-expm1f(la2));
}

/* t ~ U(t_eps, 1) from a uniform u in (0,1), as one fused multiply-add:
 * written as t_eps + (1 - t_eps) u, GCC with -march=native fuses it at some
 * call sites and not at others (a different last bit on an AMD EPYC Zen 4),
 * while fmaf rounds once on every compiler, CPU and GPU. */
DFL_HD float dfl_vp_time_from_uniform(float u, float t_eps) { return fmaf(1.0f - t_eps, u, t_eps); }

#endif
