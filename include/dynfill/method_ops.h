/* The fused method ops' arguments (docs/design.md, "Backend interface"):
 * what be->noise_context, be->qmse, be->ensemble_build and
 * be->ensemble_reduce read. The host side of the method — strategy
 * parameters from the config and the per-batch context plan the ops read —
 * is include/dynfill/method.h.
 *
 * Memory: pointers in the *_args structs are backend memory (be->alloc)
 * unless marked HOST; on the CPU backend that is ordinary host memory.
 * Every random number is Philox keyed by (plan seed, plan step, global
 * sample, element), so the CPU and CUDA backends produce identical masks
 * and noise, and any split of a batch across ranks draws what one rank
 * would. */
#ifndef DYNFILL_METHOD_OPS_H
#define DYNFILL_METHOD_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "dynfill/mask_rule.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Fused ops (be->noise_context, be->qmse, be->ensemble_build,         */
/* be->ensemble_reduce). Layouts: x NCHW [n,c,h,w]; masks              */
/* [n,mc,h,w] uint8 0/1; network tensors NHWC.                         */
/* ------------------------------------------------------------------ */

/* Training input, one pass over the elements: for each sample i (slot i
 * of a k = 1 plan) x_t = M ⊙ (α(t_i) x_obs + σ(t_i) ε), the context and
 * query masks of the strategy, and
 *   net_input[i, y, x, ch]     = M_ctx ⊙ x_t      (ch < c)
 *   net_input[i, y, x, c + ch] = M_ctx             (0.0 / 1.0)
 *   query[i, ch, y, x]         = M_qry             (uint8 0/1, always c channels)
 *   query_count[i]             = Σ query[i]        (optional)
 * Invariants: M_ctx ⊆ M, M_qry ⊆ M. */
struct dfl_noise_context_args {
    int n, c, h, w;
    int mask_channels;            /* 1 (shared by channels) or c */
    dfl_mask_rule rule;           /* the strategy, resolved (dfl_method_rule of validated params) */
    const void *plan;             /* dfl_context_plan bytes for these n samples (k = 1) */
    const float *x_obs;           /* [n, c, h, w] normalised; unobserved entries ignored */
    const uint8_t *mask;          /* [n, mc, h, w] */
    const uint8_t *partner_masks; /* empirical: [P, mc, h, w] pool the plan indexes (the batch masks
                                     when the plan's pool was the batch); NULL otherwise */
    float *net_input;             /* out [n, h, w, 2c] */
    uint8_t *query;               /* out [n, c, h, w] */
    int32_t *query_count;         /* out [n] or NULL */
};
typedef struct dfl_noise_context_args dfl_noise_context_args;

/* Query-masked MSE and its gradient in one pass (deterministic: fixed
 * chunking, double accumulation; kernels/shared/qmse.h):
 *   loss = Σ r ⊙ query ⊙ (pred − x_obs)² / D,  grad = 2 r ⊙ query ⊙ (pred − x_obs) / D,
 * r the row weight of the entry's row (1 without row_weight); sum_sq is
 * the weighted sum, count the unweighted query count,
 * D = denom when denom > 0 (e.g. the global batch's query count summed
 * over ranks from query_count), else Σ query of this call. When D = 0 (no
 * query entry) the loss is 0 and the gradient 0. Returns the loss. */
struct dfl_qmse_args {
    int n, c, h, w;
    const float *pred;       /* [n, h, w, c] network output x̂0 (NHWC) */
    const float *x_obs;      /* [n, c, h, w] target (NCHW) */
    const uint8_t *query;    /* [n, c, h, w] from noise_context */
    double denom;            /* > 0: the normaliser D; <= 0: the local query count */
    const float *row_weight; /* [n, h] weight of each row of each sample (latitude weighting,
                                method.lat_weight), or NULL: every entry weighs 1 */
    float *grad;             /* out [n, h, w, c] dloss/dpred (overwritten), or NULL (loss only) */
    double *sum_sq;          /* HOST out, optional: Σ query ⊙ (pred − x_obs)² */
    double *count;           /* HOST out, optional: Σ query */
};
typedef struct dfl_qmse_args dfl_qmse_args;

/* Imputation input: N*K network inputs, sample-major (row i*k + j = draw
 * j of sample i), K contexts per sample drawn with the training strategy
 * from the full observation mask (or from the full field), at the plan's t:
 *   x_is_state = 0: x_t = M ⊙ (α(t) x + σ(t) ε) exactly as in training
 *                   (draw j = 0 reproduces noise_context at the same keys);
 *   x_is_state = 1: x is the sampler state x_s, used as is;
 *   context_full = 1: the context is drawn as if every entry were
 *                   observed (plan made with mask = NULL), as after the
 *                   first multi-step sampler step;
 *   net_input[i*k + j, y, x, :] = [M_ctx ⊙ x_t, M_ctx]. */
struct dfl_ensemble_build_args {
    int n, c, h, w;
    int mask_channels;
    int k;              /* context draws per sample; the plan has n*k slots */
    dfl_mask_rule rule; /* the strategy, resolved (dfl_method_rule) */
    const void *plan;
    const float *x;               /* [n, c, h, w] x_obs (normalised) or the state x_s */
    const uint8_t *mask;          /* [n, mc, h, w] full observation masks */
    const uint8_t *partner_masks; /* empirical pool, as for noise_context */
    int x_is_state;
    int context_full;
    float *net_input; /* out [n*k, h, w, 2c] */
};
typedef struct dfl_ensemble_build_args dfl_ensemble_build_args;

/* Mean and spread over the K draws (kernels/shared/ensemble.h): std is
 * the population std (divisor K); deterministic. */
struct dfl_ensemble_reduce_args {
    int n, k, c, h, w;
    const float *pred; /* [n*k, h, w, c] NHWC, row i*k + j */
    float *mean;       /* out [n, c, h, w] NCHW */
    float *std;        /* out [n, c, h, w] NCHW, or NULL */
};
typedef struct dfl_ensemble_reduce_args dfl_ensemble_reduce_args;

#ifdef __cplusplus
}
#endif
#endif
