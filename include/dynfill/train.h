/* One training step of docs/design.md, "The method" on a backend, and the full `dynfill
 * train` run (data, checkpoints, metrics, signals).
 *
 * Step: plan (t ~ U(t_eps, 1), block / partner choices) on the host from
 * the batch masks -> noise_context (x_t, context and query masks, network
 * input) -> dfl-unet forward -> qmse (loss and dloss/dx̂0) -> backward ->
 * gradient sum across ranks -> AdamW + clipping + EMA. The loss is
 * normalised by the query count of the global batch, so summing gradients
 * over ranks gives exactly the gradient one rank computes on the whole
 * global batch. */
#ifndef DYNFILL_TRAIN_H
#define DYNFILL_TRAIN_H

#include <stdint.h>

#include "dynfill/comm.h"
#include "dynfill/config.h"
#include "dynfill/method.h"
#include "dynfill/model.h"
#include "dynfill/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dfl_trainer dfl_trainer;

typedef struct {
    double loss;      /* global batch loss (query-masked MSE) */
    double grad_norm; /* before clipping */
    double lr;
    double query_count; /* global */
} dfl_step_stats;

/* A trainer for per-rank batches of `batch` fields of c x h x w with
 * mask_c mask channels. Takes ownership of nothing: be, model, comm stay
 * the caller's. cfg->micro_batch > 0 runs forward and backward on
 * micro-batches of that size (activations planned for one) and sums their
 * gradients before the one optimiser step; DFL_EUSAGE naming
 * train.micro_batch when it does not divide `batch`. */
dfl_status dfl_trainer_create(dfl_backend *be, dfl_unet *model, dfl_comm *comm, const dfl_config *cfg,
                              const dfl_method_params *method, int batch, int c, int h, int w, int mask_c,
                              dfl_trainer **out);
void dfl_trainer_destroy(dfl_trainer *tr);

/* The memory of a trainer dfl_trainer_create would make (docs/scaling.md,
 * "Memory"), from the model's real planning walk (dfl_unet_plan_measure),
 * without allocating. host_batches: host copies of the batch the caller
 * holds (the loader's two slots; 1 for a benchmark). Bytes throughout. */
typedef struct {
    size_t params_count;
    size_t params;         /* fp32 weights */
    size_t grads;          /* gradients */
    size_t optimizer;      /* Adam m, v and the EMA weights */
    size_t param_copies;   /* EMA swap buffer; gradient accumulator with micro-batches */
    size_t act_per_sample; /* training-plan arena per sample (plan(2) - plan(1)) */
    size_t activations;    /* training-plan arena for one micro-batch */
    size_t workspace;      /* the backend's convolution workspace for one micro-batch (estimate) */
    size_t batch_buffers;  /* per-batch method buffers (input, targets, query masks) and host copies */
    size_t largest;        /* largest single buffer */
    size_t total;          /* fp32 */
    size_t total_bf16;     /* CUDA bf16 estimate: total + bf16 copies of the largest conv input and
                               output + up to 1 GiB cuDNN workspace */
    int micro;             /* samples per forward/backward pass */
} dfl_train_memory;
dfl_status dfl_trainer_memory(dfl_unet *model, const dfl_config *cfg, int batch, int c, int h, int w, int mask_c,
                              int host_batches, dfl_train_memory *out);
dfl_optimizer *dfl_trainer_optimizer(dfl_trainer *tr);

/* One optimiser step on a host batch (obs normalised NCHW, mask uint8).
 * `step` keys every random draw; global_offset is the global index of this
 * rank's first sample in the global batch (rank * batch). */
dfl_status dfl_trainer_step(dfl_trainer *tr, const float *obs, const uint8_t *mask, long step, dfl_step_stats *st);
/* Latitude weighting of the loss (method.lat_weight; docs/design.md,
 * "The method"): every squared error of field row y weighs
 * r_y = cos(lat_y) / mean over the field's rows of cos(lat), so the loss
 * stays a mean over queries when they are spread evenly. lat: the
 * field's field_h latitudes in degrees. Then, before each step or eval,
 * dfl_trainer_set_crop_rows gives the first field row of each of the n
 * samples' crops (NULL: 0, whole fields). */
dfl_status dfl_trainer_set_latitudes(dfl_trainer *tr, const double *lat, int field_h);
void dfl_trainer_set_crop_rows(dfl_trainer *tr, const int *crop_y, int n);

/* Loss of a batch without updating (validation); uses the EMA weights when
 * use_ema. Draws are keyed by `key_step` so repeated evaluations compare.
 * n <= batch; the network runs in passes of at most one micro-batch. */
dfl_status dfl_trainer_eval(dfl_trainer *tr, const float *obs, const uint8_t *mask, int n, long key_step, int use_ema,
                            double *sum_sq, double *count);

/* Periodic axes of the network trained on crop_h x crop_w crops of
 * field_h x field_w fields (docs/design.md, "Configuration keys",
 * data.patch): an axis stays periodic only when the crop spans all of it,
 * since a crop's opposite edges are not neighbours. Clears *periodic_x /
 * *periodic_y where the crop is shorter than the field. */
void dfl_train_crop_periodic(int crop_h, int crop_w, int field_h, int field_w, int *periodic_x, int *periodic_y);

#ifdef __cplusplus
}
#endif
#endif
