/* Per-element AdamW update and EMA, shared by the CPU and CUDA optimisers.
 *   m = b1 m + (1-b1) g,  v = b2 v + (1-b2) g^2,
 *   p -= lr * ( (m / bc1) / (sqrt(v / bc2) + eps) + wd * p ),
 * with bias corrections bc1 = 1 - b1^step, bc2 = 1 - b2^step (decoupled
 * weight decay, Loshchilov & Hutter). g is already scaled by the clipping
 * factor, dfl_clip_factor. EMA: e = d e + (1-d) p. */
#ifndef DYNFILL_SHARED_ADAMW_H
#define DYNFILL_SHARED_ADAMW_H

#include "dfl_hd.h"

typedef struct dfl_adamw_hparams_s {
    float lr, beta1, beta2, eps, weight_decay;
    float bias_correction1, bias_correction2; /* 1 - beta^step */
    float grad_scale;                         /* clipping factor (1 if none) */
} dfl_adamw_hparams;

DFL_HD void dfl_adamw_element(float *p, float *m, float *v, float g, const dfl_adamw_hparams *h) {
    g *= h->grad_scale;
    float mi = h->beta1 * (*m) + (1.0f - h->beta1) * g;
    float vi = h->beta2 * (*v) + (1.0f - h->beta2) * g * g;
    *m = mi;
    *v = vi;
    float mhat = mi / h->bias_correction1;
    float vhat = vi / h->bias_correction2;
    *p -= h->lr * (mhat / (dfl_sqrtf(vhat) + h->eps) + h->weight_decay * (*p));
}

DFL_HD void dfl_ema_element(float *ema, float p, float decay) { *ema = decay * (*ema) + (1.0f - decay) * p; }

/* Global-norm gradient clipping factor: clip / (norm + 1e-6) when clipping
 * is on (clip > 0) and norm > clip, else 1 (so never above 1; a NaN norm
 * gives 1). The host optimiser (host/model/optim.c) computes this expression and
 * the CUDA multi-tensor step multiplies grad_scale by it on the device. */
DFL_HD double dfl_clip_factor(double clip, double norm) {
    return (clip > 0.0 && norm > clip) ? clip / (norm + 1e-6) : 1.0;
}

/* EMA decay with warm-up (docs/design.md, "The method", optimiser and EMA): min(target, (1 + n) / (10 + n)). */
DFL_HD float dfl_ema_decay(float target, long step) {
    float w = (1.0f + (float)step) / (10.0f + (float)step);
    return w < target ? w : target;
}

#endif
