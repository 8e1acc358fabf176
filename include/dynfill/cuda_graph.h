/* CUDA-only helpers for the trainer and the data loader (docs/design.md, "Backend interface" and "Distributed training";
 * docs/cuda-backend.md), beside the portable interface of backend.h:
 *
 *  - graph capture: record everything enqueued on a CUDA backend's stream
 *    between dfl_cuda_graph_begin and dfl_cuda_graph_end and replay it with
 *    one launch. Shapes and pointers are frozen into the graph, so capture
 *    a step whose shapes are static, after running it once eagerly (that
 *    first run sizes every scratch buffer and chooses every cuDNN
 *    algorithm; growing a buffer while capturing panics).
 *  - host-visible scalars: ops that return a host value (qmse, sum_squares)
 *    also leave it in a device slot. While capturing they cannot download
 *    and return NAN; read the value after a replay with dfl_cuda_read_scalar.
 *  - pinned host buffers and asynchronous uploads for the loader's prefetch:
 *    dfl_cuda_upload_async copies on a separate copy stream and makes the
 *    compute stream wait for it, so the copy overlaps the running step.
 *  - a multi-tensor AdamW + EMA update: all parameter tensors in one launch,
 *    per-element math from kernels/shared/adamw.h, hyper-parameters read
 *    from device memory so that a captured step replays with the step's
 *    learning rate and bias corrections, gradient clipping factor computed
 *    on the device from the gradients' global norm.
 *
 * In a build without CUDA these are inline fallbacks: graph_begin and
 * param_set_create fail with DFL_EUSAGE, host_alloc is plain malloc,
 * upload_async is be->upload. */
#ifndef DYNFILL_CUDA_GRAPH_H
#define DYNFILL_CUDA_GRAPH_H

#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "dynfill/backend.h"
#include "dynfill/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dfl_cuda_graph dfl_cuda_graph;
typedef struct dfl_cuda_param_set dfl_cuda_param_set;

/* Device slots of host-visible results. */
typedef enum {
    DFL_CUDA_SCALAR_QMSE = 0,       /* last be->qmse loss */
    DFL_CUDA_SCALAR_SUMSQ = 1,      /* last be->sum_squares or dfl_cuda_param_set_grad_sumsq */
    DFL_CUDA_SCALAR_QMSE_SUM = 2,   /* last be->qmse: sum of query-masked squared errors */
    DFL_CUDA_SCALAR_QMSE_COUNT = 3, /* last be->qmse: query count */
    DFL_CUDA_SCALAR_COUNT = 4
} dfl_cuda_scalar;

#if defined(DYNFILL_HAVE_CUDA) || defined(__CUDACC__)

/* Starts capturing be's stream (thread-local capture mode). Fails with
 * DFL_EUSAGE when be is not a CUDA backend or is already capturing. */
dfl_status dfl_cuda_graph_begin(dfl_backend *be);
/* Ends the capture and instantiates the graph (NULL and dfl_fail on error). */
dfl_cuda_graph *dfl_cuda_graph_end(dfl_backend *be);
/* Enqueues one replay on be's stream (asynchronous, like every op). */
void dfl_cuda_graph_launch(dfl_backend *be, dfl_cuda_graph *g);
void dfl_cuda_graph_destroy(dfl_cuda_graph *g);
int dfl_cuda_is_capturing(dfl_backend *be);
/* Waits for be's stream and returns the value in a scalar slot. */
double dfl_cuda_read_scalar(dfl_backend *be, dfl_cuda_scalar which);
/* One line naming be's device and libraries, e.g. "NVIDIA H200 (sm_90, 132 SMs,
 * 139.8 GiB; driver 13000, runtime 13000, cuDNN 91900)";
 * returns 0, or -1 when be is not a CUDA backend. */
int dfl_cuda_describe(dfl_backend *be, char *buf, size_t len);

/* Page-locked host memory (cudaMallocHost); panics when out of memory. */
void *dfl_cuda_host_alloc(size_t bytes);
void dfl_cuda_host_free(void *p);
/* Copies bytes from pinned host memory to device memory on the copy
 * stream; later ops on be see the data. The host must not write src until
 * dfl_cuda_upload_wait returns. Plain be->upload is synchronous. */
void dfl_cuda_upload_async(dfl_backend *be, void *dst, const void *pinned_src, size_t bytes);
/* Blocks the host until every dfl_cuda_upload_async so far has finished. */
void dfl_cuda_upload_wait(dfl_backend *be);

/* A fixed list of parameter tensors (device pointers from be->alloc):
 * params[i], grads[i], adam_m[i], adam_v[i] and ema[i] (ema may be NULL:
 * no EMA) of sizes[i] floats. The list is uploaded once. */
dfl_cuda_param_set *dfl_cuda_param_set_create(dfl_backend *be, int count, float *const *params, float *const *grads,
                                              float *const *adam_m, float *const *adam_v, float *const *ema,
                                              const size_t *sizes);
void dfl_cuda_param_set_destroy(dfl_backend *be, dfl_cuda_param_set *s);
/* Sets the hyper-parameters the next dfl_cuda_param_set_step reads (an
 * asynchronous copy on be's stream; call it outside capture, before each
 * replay). clip > 0 multiplies h->grad_scale on the device by
 * dfl_clip_factor(clip, sqrt(S)) (kernels/shared/adamw.h: clip / (norm +
 * 1e-6) when norm > clip, as the host optimiser), S = the SUMSQ slot;
 * clip <= 0 uses h->grad_scale as given. */
void dfl_cuda_param_set_hparams(dfl_backend *be, dfl_cuda_param_set *s, const struct dfl_adamw_hparams_s *h, float clip,
                                float ema_decay);
/* Sum of squares of all gradients (double, deterministic) into the SUMSQ slot. */
void dfl_cuda_param_set_grad_sumsq(dfl_backend *be, dfl_cuda_param_set *s);
/* AdamW on every tensor, then EMA of the updated parameters, one launch. */
void dfl_cuda_param_set_step(dfl_backend *be, dfl_cuda_param_set *s);

#else /* no CUDA in this build */

static inline dfl_status dfl_cuda_graph_begin(dfl_backend *be) {
    (void)be;
    return dfl_fail(DFL_EUSAGE, "CUDA graphs need a build with the CUDA backend");
}
static inline dfl_cuda_graph *dfl_cuda_graph_end(dfl_backend *be) {
    (void)be;
    return NULL;
}
static inline void dfl_cuda_graph_launch(dfl_backend *be, dfl_cuda_graph *g) {
    (void)be;
    (void)g;
}
static inline void dfl_cuda_graph_destroy(dfl_cuda_graph *g) { (void)g; }
static inline int dfl_cuda_is_capturing(dfl_backend *be) {
    (void)be;
    return 0;
}
static inline double dfl_cuda_read_scalar(dfl_backend *be, dfl_cuda_scalar which) {
    (void)be;
    (void)which;
    return NAN;
}
static inline int dfl_cuda_describe(dfl_backend *be, char *buf, size_t len) {
    (void)be;
    if (len) buf[0] = 0;
    return -1;
}
static inline void *dfl_cuda_host_alloc(size_t bytes) { return dfl_xmalloc(bytes); }
static inline void dfl_cuda_host_free(void *p) { free(p); }
static inline void dfl_cuda_upload_async(dfl_backend *be, void *dst, const void *pinned_src, size_t bytes) {
    be->upload(be, dst, pinned_src, bytes);
}
static inline void dfl_cuda_upload_wait(dfl_backend *be) { (void)be; }
static inline dfl_cuda_param_set *dfl_cuda_param_set_create(dfl_backend *be, int count, float *const *params,
                                                            float *const *grads, float *const *adam_m,
                                                            float *const *adam_v, float *const *ema,
                                                            const size_t *sizes) {
    (void)be, (void)count, (void)params, (void)grads, (void)adam_m, (void)adam_v, (void)ema, (void)sizes;
    dfl_fail(DFL_EUSAGE, "the multi-tensor optimiser needs a build with the CUDA backend");
    return NULL;
}
static inline void dfl_cuda_param_set_destroy(dfl_backend *be, dfl_cuda_param_set *s) {
    (void)be;
    (void)s;
}
static inline void dfl_cuda_param_set_hparams(dfl_backend *be, dfl_cuda_param_set *s,
                                              const struct dfl_adamw_hparams_s *h, float clip, float ema_decay) {
    (void)be, (void)s, (void)h, (void)clip, (void)ema_decay;
}
static inline void dfl_cuda_param_set_grad_sumsq(dfl_backend *be, dfl_cuda_param_set *s) {
    (void)be;
    (void)s;
}
static inline void dfl_cuda_param_set_step(dfl_backend *be, dfl_cuda_param_set *s) {
    (void)be;
    (void)s;
}

#endif

#ifdef __cplusplus
}
#endif
#endif
