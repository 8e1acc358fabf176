/* Memory layout of a per-batch context plan (include/dynfill/method_ops.h,
 * host/method/method_plan.c): one contiguous block the host fills before each
 * noise_context / ensemble_build call and the op reads (from backend
 * memory). Everything that changes from call to call lives here — the RNG
 * keys, t, the block and partner choices — so a captured CUDA graph replays
 * a new step after one upload of these bytes.
 *
 *   offset 0                   dfl_plan_header (32 bytes)
 *   dfl_plan_t_offset          float   t[slots]        diffusion time per slot
 *   dfl_plan_partner_offset    int32_t partner[slots]  pool index of the empirical partner, -1 if none
 *   dfl_plan_shift_offset      uint32_t shift[slots]   circular shift of the partner mask, dy << 16 | dx
 *                                                      (0 but for a sample paired with its own mask)
 *   dfl_plan_hidden_offset     uint8_t hidden[slots * blocks]  1 = block hidden from the context
 *   dfl_plan_bytes             total, a multiple of 8
 * Slot s = i * k + j is context draw j of sample i (k = 1 in training). */
#ifndef DYNFILL_SHARED_CONTEXT_PLAN_H
#define DYNFILL_SHARED_CONTEXT_PLAN_H

#include "dfl_hd.h"

typedef struct dfl_plan_header {
    uint64_t seed;          /* run seed */
    uint32_t step;          /* optimiser (or sampler) step */
    uint32_t sample_offset; /* global index of the batch's sample 0 */
    int32_t slots;          /* context draws = n * k */
    int32_t k;              /* draws per sample */
    int32_t blocks;         /* grid_h * grid_w for the block strategy, else 0 */
    int32_t reserved;
} dfl_plan_header;

DFL_HD uint64_t dfl_plan_t_offset(int64_t slots) {
    (void)slots;
    return (uint64_t)sizeof(dfl_plan_header);
}
DFL_HD uint64_t dfl_plan_partner_offset(int64_t slots) { return dfl_plan_t_offset(slots) + 4u * (uint64_t)slots; }
DFL_HD uint64_t dfl_plan_shift_offset(int64_t slots) { return dfl_plan_partner_offset(slots) + 4u * (uint64_t)slots; }
DFL_HD uint64_t dfl_plan_hidden_offset(int64_t slots) { return dfl_plan_shift_offset(slots) + 4u * (uint64_t)slots; }
DFL_HD uint64_t dfl_plan_bytes(int64_t slots, int64_t blocks) {
    uint64_t end = dfl_plan_hidden_offset(slots) + (uint64_t)slots * (uint64_t)blocks;
    return (end + 7u) & ~(uint64_t)7u;
}

DFL_HD const dfl_plan_header *dfl_plan_get_header(const void *plan) { return (const dfl_plan_header *)plan; }
DFL_HD const float *dfl_plan_get_t(const void *plan) {
    return (const float *)((const char *)plan + dfl_plan_t_offset(dfl_plan_get_header(plan)->slots));
}
DFL_HD const int32_t *dfl_plan_get_partner(const void *plan) {
    return (const int32_t *)((const char *)plan + dfl_plan_partner_offset(dfl_plan_get_header(plan)->slots));
}
DFL_HD const uint32_t *dfl_plan_get_shift(const void *plan) {
    return (const uint32_t *)((const char *)plan + dfl_plan_shift_offset(dfl_plan_get_header(plan)->slots));
}
/* Hidden flags of slot s ([blocks]), or NULL when the plan has no blocks. */
DFL_HD const uint8_t *dfl_plan_get_hidden(const void *plan, int64_t s) {
    const dfl_plan_header *h = dfl_plan_get_header(plan);
    if (h->blocks <= 0) return 0;
    return (const uint8_t *)plan + dfl_plan_hidden_offset(h->slots) + (uint64_t)s * (uint64_t)h->blocks;
}

#endif
