/* Per-element update of the multi-step sampler (docs/design.md, "The method", multi-step sampler):
 *   unobserved: eps_hat = clip((x_s - alpha_s x0_hat) / sigma_s, -5, 5);
 *               ddim (eta = 0): x_t = alpha_t x0_hat + sigma_t eps_hat;
 *               x0 (the reference code's update): x_t = alpha_t x0_hat;
 *   observed:   re-noised from the observation at t under either update,
 *               x_t = alpha_t x_obs + sigma_t clip((x_s - alpha_s x_obs) / sigma_s, -5, 5),
 *               so that the context the network reads is distributed as in training. */
#ifndef DYNFILL_SHARED_SAMPLER_H
#define DYNFILL_SHARED_SAMPLER_H

#include "dfl_hd.h"

#define DFL_SAMPLER_EPS_CLIP 5.0f

DFL_HD float dfl_clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

DFL_HD float dfl_sampler_update(float x_s, float x0_hat, float x_obs, int observed, float alpha_s, float sigma_s,
                                float alpha_t, float sigma_t, int ddim) {
    float target = observed ? x_obs : x0_hat;
    float eps = dfl_clampf((x_s - alpha_s * target) / sigma_s, -DFL_SAMPLER_EPS_CLIP, DFL_SAMPLER_EPS_CLIP);
    return (ddim || observed) ? alpha_t * target + sigma_t * eps : alpha_t * x0_hat;
}

/* Initial state x_1 = alpha(1) x_obs + sigma(1) eps on every entry (x_obs is
 * 0 where unobserved, so there the state is pure noise). */
DFL_HD float dfl_sampler_init(float x_obs, float alpha_1, float sigma_1, float eps) {
    return alpha_1 * x_obs + sigma_1 * eps;
}

#endif
