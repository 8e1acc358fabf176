/* Inference (docs/design.md, "The method"): imputation with a trained model: single-step
 * K-ensemble at t = t_eps, batched as N*K network rows, or the multi-step sampler
 * (DDIM or the reference's x0 update) whose last step is that K-ensemble
 * (docs/method.md, "Multi-step sampler"); plus the classical baselines for comparison. */
#ifndef DYNFILL_INFER_H
#define DYNFILL_INFER_H

#include <stdint.h>

#include "dynfill/checkpoint.h"
#include "dynfill/data.h"
#include "dynfill/method.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int K;          /* context draws per sample */
    int steps;      /* 1: single step at t_eps; > 1: multi-step sampler, passes at linspace(1, t_eps, steps) */
    int ddim;       /* multi-step update: 1 DDIM, 0 the reference's x0 update */
    float t_eps;
    uint64_t seed;
    int fwd_rows;   /* network rows per forward: 0 = one sample's draws (K; 1 in the sampler's earlier
                       passes); else a divisor of K (fewer rows when K do not fit the memory). Every
                       forward has the same shape, so the result does not depend on how many samples
                       a dfl_imputer_run call holds */
} dfl_impute_opts;

/* The largest divisor of K that is at most cap (cap >= 1). */
int dfl_impute_fwd_rows(int K, int cap);

typedef struct dfl_imputer dfl_imputer;

/* A model loaded from a checkpoint (EMA weights unless use_raw). */
dfl_status dfl_imputer_create(const char *ckpt_path, dfl_backend *be, int use_raw, dfl_imputer **out);
void dfl_imputer_destroy(dfl_imputer *im);
const dfl_method_params *dfl_imputer_method(const dfl_imputer *im);
const dfl_config *dfl_imputer_config(const dfl_imputer *im);

/* Impute n samples: obs normalised with the CHECKPOINT's statistics
 * ([n, c, h, w], 0 where unobserved), mask [n, mc, h, w]; writes the
 * normalised prediction (ensemble mean; observed entries are whatever the
 * network says — callers keep the observations) and spread.
 * sample_offset keys the random draws (the file row of sample 0). */
dfl_status dfl_imputer_run(dfl_imputer *im, const dfl_impute_opts *o, int n, int c, int h, int w, int mask_c,
                           const float *obs, const uint8_t *mask, uint32_t sample_offset, float *pred, float *spread);

/* Memory one dfl_imputer_run of n samples holds (docs/scaling.md,
 * "Memory"): the model's parameters, its inference plan for the n*K rows
 * (measured by the planning walk) and the backend's convolution workspace
 * (estimate), the imputer's backend buffers and the
 * multi-step sampler's host state; *largest (may be NULL) gets the largest
 * single buffer. */
dfl_status dfl_imputer_pass_bytes(dfl_imputer *im, const dfl_impute_opts *o, int n, int c, int h, int w, int mask_c,
                                  size_t *bytes, size_t *largest);

/* Fits a pass into `avail` bytes (0: unknown, no check; core/memory.h). With shrink, lowers the
 * samples per pass from *n down to n_least, then the rows per forward (divisors of K below
 * o->fwd_rows, or K when 0) down to 1, until the pass fits; without, only checks. extra: the
 * caller's own bytes per sample. Sets *n, o->fwd_rows and *need; DFL_EUSAGE naming `knobs` when
 * the smallest pass does not fit. */
dfl_status dfl_imputer_fit(dfl_imputer *im, dfl_impute_opts *o, int shrink, int *n, int n_least, int c, int h,
                           int w, int mask_c, size_t extra, size_t avail, const char *source, const char *knobs,
                           size_t *need);

#ifdef __cplusplus
}
#endif
#endif
