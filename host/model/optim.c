/* AdamW + clipping + LR schedule + EMA (include/dynfill/optim.h). */
#include "dynfill/optim.h"

#include <math.h>
#include <stdlib.h>

#include "shared/adamw.h"

void dfl_optim_config_defaults(dfl_optim_config *c) {
    c->lr = 1e-3;
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    c->eps = 1e-8;
    c->weight_decay = 0.0;
    c->clip = 1.0;
    c->warmup = 0;
    c->total_steps = 1;
    c->cosine = 0;
    c->ema = 0.999;
}

double dfl_optim_lr_at(const dfl_optim_config *c, long step) {
    if (c->warmup > 0 && step < c->warmup) return c->lr * (double)(step + 1) / (double)c->warmup;
    if (!c->cosine) return c->lr;
    long span = c->total_steps - c->warmup;
    if (span <= 0) return c->lr;
    double progress = (double)(step - c->warmup) / (double)span;
    if (progress > 1.0) progress = 1.0;
    return c->lr * 0.5 * (1.0 + cos(M_PI * progress));
}

double dfl_optim_lr_at_progress(const dfl_optim_config *c, long step, double progress) {
    double warm = c->warmup > 0 && step < c->warmup ? (double)(step + 1) / (double)c->warmup : 1.0;
    if (!c->cosine) return c->lr * warm;
    if (progress < 0.0) progress = 0.0;
    if (progress > 1.0) progress = 1.0;
    return c->lr * warm * 0.5 * (1.0 + cos(M_PI * progress));
}

dfl_optimizer *dfl_optimizer_create(dfl_backend *be, size_t n, const dfl_optim_config *cfg, const float *params) {
    dfl_optimizer *o = dfl_xcalloc(1, sizeof *o);
    o->be = be;
    o->cfg = *cfg;
    o->n = n;
    o->progress = -1.0;
    o->m = be->alloc(be, n * sizeof(float));
    o->v = be->alloc(be, n * sizeof(float));
    o->ema = be->alloc(be, n * sizeof(float));
    be->fill(be, o->m, 0.0f, n);
    be->fill(be, o->v, 0.0f, n);
    be->copy(be, o->ema, params, n * sizeof(float));
    return o;
}

void dfl_optimizer_destroy(dfl_optimizer *o) {
    if (!o) return;
    o->be->free(o->be, o->m);
    o->be->free(o->be, o->v);
    o->be->free(o->be, o->ema);
    free(o);
}

double dfl_optimizer_step(dfl_optimizer *o, float *params, const float *grads) {
    dfl_backend *be = o->be;
    double norm = sqrt(be->sum_squares(be, o->n, grads));
    const double scale = dfl_clip_factor(o->cfg.clip, norm);
    long t = o->step + 1; /* 1-based for bias correction */
    dfl_adamw_hparams h;
    h.lr = (float)(o->progress < 0 ? dfl_optim_lr_at(&o->cfg, o->step)
                                   : dfl_optim_lr_at_progress(&o->cfg, o->step, o->progress));
    h.beta1 = (float)o->cfg.beta1;
    h.beta2 = (float)o->cfg.beta2;
    h.eps = (float)o->cfg.eps;
    h.weight_decay = (float)o->cfg.weight_decay;
    h.bias_correction1 = (float)(1.0 - pow(o->cfg.beta1, (double)t));
    h.bias_correction2 = (float)(1.0 - pow(o->cfg.beta2, (double)t));
    h.grad_scale = (float)scale;
    be->adamw_update(be, o->n, params, grads, o->m, o->v, &h);
    be->ema_update(be, o->n, o->ema, params, dfl_ema_decay((float)o->cfg.ema, o->step));
    o->step++;
    o->last_grad_norm = norm;
    o->last_lr = h.lr;
    return norm;
}
