/* AdamW with global-norm gradient clipping, a learning-rate schedule
 * (linear warm-up, then constant or cosine) and an EMA of the weights with
 * warm-up decay min(ema, (1+n)/(10+n)) (docs/design.md, "The method", optimiser and EMA). The per-element update
 * is kernels/shared/adamw.h, run by the backend. */
#ifndef DYNFILL_OPTIM_H
#define DYNFILL_OPTIM_H

#include <stddef.h>

#include "dynfill/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    double lr, beta1, beta2, eps, weight_decay;
    double clip; /* max global gradient norm; 0 = no clipping */
    long warmup, total_steps;
    int cosine;
    double ema;
} dfl_optim_config;

typedef struct {
    dfl_backend *be;
    dfl_optim_config cfg;
    size_t n;
    float *m, *v, *ema; /* backend memory, n floats each */
    long step;          /* updates done so far */
    double progress;    /* < 0: the schedule follows steps; else the share of a time budget spent (train.time_budget) */
    double last_grad_norm, last_lr;
} dfl_optimizer;

void dfl_optim_config_defaults(dfl_optim_config *c);
/* Learning rate of update number `step` (0-based). */
double dfl_optim_lr_at(const dfl_optim_config *c, long step);
/* Learning rate of update `step` when the schedule is laid over a time
 * budget: the warm-up still counts steps, the cosine follows `progress`
 * = elapsed / budget (clamped to [0, 1]), and the two multiply
 * (docs/design.md, "Configuration keys", train.time_budget). */
double dfl_optim_lr_at_progress(const dfl_optim_config *c, long step, double progress);
/* m = v = 0, ema = params, progress -1 (step schedule). */
dfl_optimizer *dfl_optimizer_create(dfl_backend *be, size_t n, const dfl_optim_config *cfg, const float *params);
void dfl_optimizer_destroy(dfl_optimizer *o);
/* One update of params from grads (already averaged across ranks): clip
 * by global norm, AdamW, EMA. Returns the gradient norm before clipping. */
double dfl_optimizer_step(dfl_optimizer *o, float *params, const float *grads);

#ifdef __cplusplus
}
#endif
#endif
