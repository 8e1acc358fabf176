// Compiles the method's kernels/shared headers as CUDA C++ for the
// configured architectures (like shared_math_check.cu), so the per-pixel
// context/query/noise math, the qmse terms and the ensemble statistics
// that the CPU backend runs stay valid device code.
#include "shared/context_plan.h"
#include "shared/ensemble.h"
#include "shared/mask_strategy.h"
#include "shared/noise_context.h"
#include "shared/qmse.h"

__global__ void dfl_method_shared_compile_check(const void *plan, const float *x, const uint8_t *mask,
                                                const uint8_t *partner_masks, float *net_input, uint8_t *query,
                                                float *stats, int c, int h, int w, int mc) {
    const int64_t slots = dfl_plan_get_header(plan)->slots;
    const int64_t pix = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (pix >= slots * h * w) return;
    const int64_t s = pix / ((int64_t)h * w);
    const int y = (int)(pix / w % h), xx = (int)(pix % w);
    const dfl_mask_rule rule = dfl_mask_rule_make(DFL_STRATEGY_BLOCK, DFL_QUERY_AUTO, 0.7f, 0.7f, 0.1f, 3, 3);
    const dfl_context_slot cs =
        dfl_context_slot_make(plan, s, c, h, w, mc, x, mask, partner_masks, rule.strategy, 0, 0);
    int count = dfl_context_pixel(&rule, &cs, y, xx, net_input + pix * 2 * c, query + s * (int64_t)c * h * w);
    float mean, std;
    dfl_ensemble_stats(net_input + pix * 2 * c, 1, c, &mean, &std);
    double sq = dfl_qmse_sq(mean, std, count > 0);
    stats[pix] = (float)dfl_qmse_loss(sq, 2.0) + dfl_qmse_grad(mean, std, count > 0, dfl_qmse_two_over_d(4.0)) +
                 (float)dfl_qmse_sq_weighted(mean, std, 1, 0.5f) + dfl_qmse_grad_weighted(mean, std, 1, 0.5f, 0.5f);
}
