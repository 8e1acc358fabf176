/* dfl-unet v1 (docs/design.md, "The network: dfl-unet v1"): construction,
 * parameters, forward and backward written once against the backend
 * interface.
 *
 * Parameters live in one flat backend buffer (`params`) in creation order,
 * each tensor with its PyTorch name and shape; gradients in a second flat
 * buffer of the same layout. Activations come from one arena planned for a
 * batch size and field size: a training plan (dfl_unet_plan) keeps what
 * backward needs, an inference plan (dfl_unet_plan_inference) only what
 * forward needs. */
#ifndef DYNFILL_MODEL_H
#define DYNFILL_MODEL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "dynfill/backend.h"
#include "dynfill/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DFL_UNET_MAX_LEVELS 8
#define DFL_GN_GROUPS       8
#define DFL_GN_EPS          1e-5f
/* Largest channel count (data channels, base * mult): the backends hold a
 * conv's fan-in (up to 2c * 3 * 3 for a decoder concat) and attention's 3c
 * in an int. */
#define DFL_UNET_MAX_WIDTH  (INT_MAX / 32)

/* model.input_fill (docs/design.md, "Input fill"). */
enum { DFL_FILL_NONE = 0, DFL_FILL_PYRAMID = 1, DFL_FILL_SPLINE = 2 };

typedef struct {
    int channels; /* C: data channels (network input 2C, output C) */
    int base;
    int mult[DFL_UNET_MAX_LEVELS];
    int levels;
    int nres;
    int attention;
    int periodic_x, periodic_y;
    int input_fill; /* model.input_fill: DFL_FILL_NONE, or the stem sees [values, mask, fill], 3C channels */
} dfl_unet_config;

typedef struct dfl_unet dfl_unet;

/* The network shape of an experiment config for data with `channels`
 * channels (one network channel under model.channels = shared); periodic
 * axes from model.periodic, or from the dataset (data_periodic_x/y) when
 * model.periodic = auto. */
struct dfl_config_s;
/* 1 when model.channels = shared: one one-channel network serves every data
 * channel, each channel of a sample is a network sample of its own. */
int dfl_config_shares_channels(const struct dfl_config_s *cfg);
void dfl_unet_config_from(const struct dfl_config_s *cfg, int channels, int data_periodic_x, int data_periodic_y,
                          dfl_unet_config *out);

/* Validates the configuration (DFL_EUSAGE naming the model.* key: base a
 * positive multiple of the 8 GroupNorm groups, 1 to DFL_UNET_MAX_LEVELS
 * mult entries >= 1, nres >= 1, attention 0 or 1, channels >= 1; widths
 * bounded only where an int would overflow). */
dfl_status dfl_unet_create(dfl_backend *be, const dfl_unet_config *cfg, dfl_unet **out);
void dfl_unet_destroy(dfl_unet *m);

const dfl_unet_config *dfl_unet_get_config(const dfl_unet *m);
dfl_backend *dfl_unet_backend(dfl_unet *m);
int dfl_unet_num_tensors(const dfl_unet *m);
const dfl_param_info *dfl_unet_tensor(const dfl_unet *m, int i);
/* Index of the tensor called `name`, or -1. */
int dfl_unet_find_tensor(const dfl_unet *m, const char *name);
size_t dfl_unet_num_params(const dfl_unet *m);
float *dfl_unet_params(dfl_unet *m); /* backend memory */
float *dfl_unet_grads(dfl_unet *m);  /* backend memory; NULL until the first training plan */

/* PyTorch-default initialisation (uniform ±1/sqrt(fan_in) for conv and
 * linear weights and biases, GroupNorm weight 1, bias 0) from Philox. */
void dfl_unet_init_params(dfl_unet *m, uint64_t seed);

/* Plan (or re-plan) the activation arena for batch n and an h x w field.
 * A training plan keeps every activation, the backward buffers and (made
 * once, kept until destroy) the parameter gradients. An inference plan
 * holds no gradients and lets layers share their intermediate buffers:
 * forward gives bit-identical outputs under both, backward needs a
 * training plan. Re-planning to the current size and kind does nothing. */
dfl_status dfl_unet_plan(dfl_unet *m, int n, int h, int w);
dfl_status dfl_unet_plan_inference(dfl_unet *m, int n, int h, int w);
/* Backend bytes the plan holds beyond the parameters (arena and gradients). */
size_t dfl_unet_plan_bytes(const dfl_unet *m);
/* What dfl_unet_plan (training = 1) or dfl_unet_plan_inference (0) for n
 * samples of h x w would hold, measured by the same planning walk without
 * allocating; the current plan is left as it was. */
typedef struct {
    size_t arena_bytes;     /* activation arena (and backward buffers) */
    size_t grads_bytes;     /* parameter gradients (training plans) */
    size_t largest_bytes;   /* largest single arena buffer */
    size_t workspace_bytes; /* estimate of the backend's convolution workspace: the largest conv input and output
                               re-laid in 16-channel blocks, and a periodic conv's haloed input copy */
    double flops_fwd_per_sample;
} dfl_unet_plan_size;
dfl_status dfl_unet_plan_measure(dfl_unet *m, int n, int h, int w, int training, dfl_unet_plan_size *out);
/* Forward FLOPs per sample for the planned size (convs, linears, attention). */
double dfl_unet_forward_flops_per_sample(const dfl_unet *m);

/* input: NHWC [n, h, w, 2C] backend memory; t: [n] backend memory;
 * output: NHWC [n, h, w, C]. Under a training plan keeps what backward
 * needs. */
void dfl_unet_forward(dfl_unet *m, const float *input, const float *t, float *output);
/* Gradient-ready hook for overlapping the all-reduce with backward: during
 * dfl_unet_backward, fn(user, first) is called whenever every parameter
 * gradient at flat offset >= first is final (parameters are stored in
 * forward order and backward runs in reverse), last with first = 0.
 * fn = NULL removes it. */
void dfl_unet_set_grads_ready(dfl_unet *m, void (*fn)(void *user, size_t first), void *user);

/* doutput: NHWC [n, h, w, C]. Overwrites every parameter gradient; when
 * dinput is not NULL also writes the input gradient [n, h, w, 2C] (not
 * with model.input_fill: dinput must then be NULL).
 * Must follow a forward with the same training plan. */
void dfl_unet_backward(dfl_unet *m, const float *doutput, float *dinput);

#ifdef __cplusplus
}
#endif
#endif
