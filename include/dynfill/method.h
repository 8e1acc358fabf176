/* The host side of the method (docs/design.md, "The method"; docs/method.md):
 * strategy parameters from the config and the per-batch context plan that
 * the fused backend ops of include/dynfill/method_ops.h read.
 *
 * One training step, host side (N samples on this rank, step `step`):
 *
 *   dfl_method_params mp;            // from the config: dfl_method_params_from_config
 *   dfl_context_plan plan;           // once: dfl_context_plan_init(&plan)
 *   dfl_plan_request rq = {.n = N, .k = 1, .c = C, .h = H, .w = W, .mask_channels = mc,
 *                          .mask = host_mask, .t = 0 (draw), .t_eps = DFL_T_EPS,
 *                          .seed = seed, .step = step, .sample_offset = rank * N};
 *   dfl_context_plan_make(&plan, &mp, &rq);            // t, hidden blocks, partners, keys
 *   be->upload(be, plan_dev, plan.data, plan.bytes);   // plan_dev: be->alloc(plan.bytes)
 *   be->noise_context(be, &(dfl_noise_context_args){... .plan = plan_dev ...});
 *   // network on net_input [N,H,W,2C] with t = (float *)((char *)plan_dev + DFL_PLAN_T_OFFSET)
 *   double loss = be->qmse(be, &(dfl_qmse_args){... .grad = d_pred ...});
 *
 * Imputation: dfl_context_plan_make with k = K and t = t_eps, then
 * ensemble_build -> network on N*K inputs -> ensemble_reduce.
 *
 * Memory: pointers in the *_args structs are backend memory (be->alloc)
 * unless marked HOST; on the CPU backend that is ordinary host memory, so
 * plan.data itself may be passed as `plan` there. Every random number is
 * Philox keyed by (plan seed, plan step, global sample, element), so the
 * CPU and CUDA backends produce identical masks and noise, and any split
 * of a batch across ranks (sample_offset) draws what one rank would. */
#ifndef DYNFILL_METHOD_H
#define DYNFILL_METHOD_H

#include <stddef.h>
#include <stdint.h>

#include "dynfill/method_ops.h"
#include "dynfill/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Strategy parameters (config section [method])                      */
/* ------------------------------------------------------------------ */

/* How training draws the diffusion time t of each sample (method.t_sampling;
 * docs/method.md, "Training times"). Imputation runs its single step at
 * t = t_eps; the paper [ref] trains on t ~ U(t_eps, 1). */
typedef enum {
    DFL_T_UNIFORM = 0,       /* t ~ U(t_eps, 1) [ref] */
    DFL_T_LOW_SHARE = 1,     /* with probability t_low_share t = t_eps exactly, otherwise U(t_eps, 1) */
    DFL_T_LOG_UNIFORM = 2,   /* log t ~ U(log t_eps, 0): t = t_eps^(1 - u) */
    DFL_T_LOW_SHARE_LOG = 3, /* with probability t_low_share t = t_eps exactly, otherwise log-uniform */
    DFL_T_SAMPLING_COUNT
} dfl_t_sampling;

typedef struct dfl_method_params {
    dfl_strategy strategy;     /* method.strategy: pixel|block|empirical|missdiff|ambient */
    dfl_query_mode query;      /* method.query: independent|complement|observed ("" or auto: strategy default) */
    float context_ratio;       /* method.context_ratio rho_c (pixel), in (0, 1] */
    float query_ratio;         /* method.query_ratio rho_q (pixel, query independent), in (0, 1] */
    int grid_h, grid_w;        /* method.grid "GHxGW" (block) */
    int hide;                  /* method.hide: observed blocks hidden per context (block), >= 1 */
    float delta;               /* method.delta: ambient further-corruption rate, in [0, 1) */
    dfl_t_sampling t_sampling; /* method.t_sampling: training-time distribution (uniform [ref]) */
    float t_low_share;         /* method.t_low_share: share at t = t_eps (low_share, low_share_log), [0, 1] */
} dfl_method_params;

/* Defaults: pixel, query auto (pixel: complement), context_ratio 0.8,
 * query_ratio 0.7, grid 3x3, hide 2, delta 0.1, t_sampling low_share_log
 * with t_low_share 0.9 (docs/method.md, "Defaults": the query, the context
 * ratio, the times and hide are measured choices, the paper's [ref] are
 * independent, 0.7, uniform and 1). */
void dfl_method_params_default(dfl_method_params *p);
/* Name parsers: DFL_EUSAGE with a message listing the accepted names. */
dfl_status dfl_method_parse_strategy(const char *name, dfl_strategy *out);
dfl_status dfl_method_parse_query(const char *name, dfl_query_mode *out);     /* "" and "auto" -> AUTO */
dfl_status dfl_method_parse_grid(const char *text, int *grid_h, int *grid_w); /* "3x3", "4X2", "3" */
dfl_status dfl_method_parse_t_sampling(const char *name,
                                       dfl_t_sampling *out); /* uniform|low_share|log_uniform|low_share_log */
const char *dfl_method_t_sampling_name(dfl_t_sampling s);
/* The training time of one slot from the two uniforms (0, 1) of its Philox
 * draw (lanes 0 and 1): u picks t, v decides low_share's t = t_eps. */
float dfl_method_time(const dfl_method_params *p, float t_eps, float u, float v);
const char *dfl_method_strategy_name(dfl_strategy s);
const char *dfl_method_query_name(dfl_query_mode q);
/* Set one [method] key from its INI text ("strategy", "context_ratio",
 * "query_ratio", "query", "grid", "hide", "delta"); an unknown key or a
 * bad value gives DFL_EUSAGE with a message "method.<key>: ...". */
dfl_status dfl_method_params_set(dfl_method_params *p, const char *key, const char *value);
/* Fill from the parsed config (dfl_config of dynfill/config.h) and
 * validate the ranges; DFL_EUSAGE naming the key on a bad value. */
struct dfl_config_s;
dfl_status dfl_method_params_from_config(const struct dfl_config_s *cfg, dfl_method_params *out);
/* Check ranges and the strategy/query combination (pixel: independent,
 * complement, observed; block, empirical: complement, observed; missdiff,
 * ambient: observed). h, w > 0 also check that the block grid fits the
 * field (grid_h <= h, grid_w <= w); pass 0 to skip. */
dfl_status dfl_method_params_validate(const dfl_method_params *p, int h, int w);
/* Writes to buf the [method] keys whose values differ from the defaults but
 * that p->strategy never reads (comma-separated, "" when none): context_ratio
 * and query_ratio (pixel only), grid and hide (block only), delta (ambient
 * only). `dynfill train` warns with it: a setting that silently does
 * nothing is usually a mistake. */
void dfl_method_params_unused(const dfl_method_params *p, char *buf, size_t size);
/* The resolved per-element rule the kernels use (query AUTO resolved). */
dfl_mask_rule dfl_method_rule(const dfl_method_params *p);
/* One-line description, e.g. "block (grid 3x3, hide 1, query complement)". */
void dfl_method_params_describe(const dfl_method_params *p, char *buf, size_t len);

/* ------------------------------------------------------------------ */
/* Per-batch context plan (host/method/method_plan.c)                         */
/* ------------------------------------------------------------------ */

/* Byte offset of t[] in the plan: the network's per-sample times can be
 * read straight from the uploaded plan, (float *)((char *)plan_dev + DFL_PLAN_T_OFFSET). */
#define DFL_PLAN_T_OFFSET ((size_t)32) /* sizeof(dfl_plan_header), checked in method_plan.c */

/* A plan in host memory; its `bytes` bytes at `data` are what the ops read
 * (layout: kernels/shared/context_plan.h). The typed pointers view the
 * same memory. Reused from batch to batch: make() grows it as needed. */
typedef struct dfl_context_plan {
    void *data;
    size_t bytes;    /* size of the current plan: upload exactly these bytes */
    size_t capacity; /* allocated bytes */
    struct dfl_plan_header *header;
    float *t;         /* [slots] */
    int32_t *partner; /* [slots], -1 unless empirical */
    uint32_t *shift;  /* [slots] partner shift dy << 16 | dx (shared/context_plan.h) */
    uint8_t *hidden;  /* [slots * blocks] or NULL (not block) */
} dfl_context_plan;

typedef struct dfl_plan_request {
    int n;             /* samples in the batch */
    int k;             /* context draws per sample: 1 in training, K for an ensemble */
    int c, h, w;       /* shape of one sample */
    int mask_channels; /* 1 or c */
    /* HOST [n, mc, h, w] observation masks of the batch; NULL: every entry
     * counts as observed (context over the full field, ensemble_build's
     * context_full). Needed by block (observed blocks) and empirical. */
    const uint8_t *mask;
    /* Empirical: HOST [pool_n, mc, h, w] masks partners are drawn from.
     * NULL: the batch itself (pool = mask, pool_n = n); pass the same
     * masks to the op as partner_masks (backend memory, same order). */
    const uint8_t *pool;
    int pool_n;
    /* Empirical: [n] pool index of each sample itself (never its own
     * partner), -1 when not in the pool. NULL: sample i is pool entry i
     * when the pool is the batch, otherwise no exclusion. */
    const int64_t *self_in_pool;
    float t;       /* > 0: every slot gets this t (imputation: t_eps); <= 0: drawn per slot (method.t_sampling) */
    float t_eps;   /* lower end of the training times (DFL_T_EPS) */
    uint64_t seed; /* run seed */
    uint32_t step; /* optimiser step (training) or sampler step (imputation) */
    uint32_t sample_offset; /* global index of sample 0 (rank * per-rank batch, or the file row) */
    int inference;          /* 1: an imputation's draws (block: a sample's only observed block stays in the context) */
} dfl_plan_request;

void dfl_context_plan_init(dfl_context_plan *plan);
void dfl_context_plan_free(dfl_context_plan *plan);
/* Compute the plan for request `rq` (slots n*k, slot = i*k + j):
 *   t[s]       = rq->t, or dfl_method_time(mp, t_eps, u, v) with (u, v) lanes 0 and 1 of
 *              Philox(seed, stream(TIME, step, sample_offset+i), j) as uniforms in (0, 1)
 *              (uniform: t_eps + (1 - t_eps) u, lane 0 alone, as before the key existed);
 *   block      hidden[s] = min(hide, #observed blocks - 1) observed blocks (a block is observed
 *              when it holds at least one observed entry), uniformly without replacement
 *              (Philox stream BLOCK): the context keeps at least one observed block. A sample
 *              with a single observed block hides it in training (empty context, the block
 *              queried [ref]) and keeps it with rq->inference (the context is M);
 *   empirical  partner[s] = a pool entry other than the sample itself whose mask makes a
 *              context of M_i: M_i AND M_j holds an entry of M_i (something to read) and, in
 *              training (not rq->inference), leaves one out (something to query); drawn
 *              uniformly (Philox stream PARTNER) and redrawn while it does not, up to
 *              DFL_PLAN_PARTNER_TRIES draws. A sample with no other pool entry (a batch of
 *              one, a one-sample file), or for which none of those draws does (parallel
 *              strips whose phases miss it; in training, the same mask in every sample),
 *              pairs with its own mask shifted circularly by a uniform offset other than
 *              (0, 0), shift[s] = dy << 16 | dx, redrawn the same way while the shifted mask
 *              does not: a mask of the same kind elsewhere in the field. Where no shift does
 *              either (a single observed entry), shift[s] = 0: the context is the whole
 *              observation, never an empty one. With a pool that excludes the sample
 *              (self_in_pool -1) the first draw is kept then.
 * DFL_EUSAGE: invalid params for this shape, empirical with no pool at all,
 * a field wider or taller than 65535 for a shifted partner,
 * or sample_offset + n > 2^24 (the sample
 * field of a Philox stream; split larger jobs by step). */
#define DFL_PLAN_PARTNER_TRIES 64

/* Blocks of mp's grid that hold an observed entry of mask ([mc, h, w], any
 * channel; NULL: every block), as the block strategy counts them. */
int dfl_method_observed_blocks(const dfl_method_params *mp, const uint8_t *mask, int mc, int h, int w);
dfl_status dfl_context_plan_make(dfl_context_plan *plan, const dfl_method_params *mp, const dfl_plan_request *rq);

/* Host sampler: context and query masks of plan slot `slot`, at mask
 * resolution [mc, h, w], bit-identical to what the ops draw (the ops
 * repeat a one-channel mask's bits over the C channels). mask: HOST
 * [mc, h, w] of the slot's sample (NULL = all observed, as with
 * context_full); partner: HOST [mc, h, w] of the slot's partner or NULL. */
void dfl_method_sample_masks(const dfl_method_params *mp, const dfl_context_plan *plan, int64_t slot, int c, int h,
                             int w, int mc, const uint8_t *mask, const uint8_t *partner, uint8_t *ctx, uint8_t *qry);

#ifdef __cplusplus
}
#endif
#endif
