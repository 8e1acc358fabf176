/* The compute backend interface (docs/design.md, "Backend interface"): a C struct of function
 * pointers, ggml/darknet style. The dfl-unet forward and backward
 * (host/model/unet.c) are written once against it; the CPU backend
 * (kernels/cpu) is the reference every other backend is tested against.
 *
 * Conventions shared by every op:
 *   - all float pointers are backend memory (from be->alloc) unless noted;
 *   - activations are fp32 NHWC ("channels last"): element (n, y, x, c) of
 *     an [N, H, W, C] tensor lives at ((n*H + y)*W + x)*C + c;
 *   - parameters use PyTorch layouts: conv weights OIHW, linear [out, in];
 *   - ops that produce a gradient overwrite their output, never accumulate,
 *     unless the name says `accumulate`;
 *   - every op is deterministic: the same inputs give bit-identical outputs
 *     run after run (fixed reduction order).
 * Ops return nothing: a failing library call inside a backend is a bug and
 * panics with file:line (xxxCheck macros). */
#ifndef DYNFILL_BACKEND_H
#define DYNFILL_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "dynfill/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dfl_backend dfl_backend;

/* A 2D convolution with square kernel k (1 or 3), padding k/2, stride 1 or
 * 2. Along an axis flagged periodic the padding is circular (wrap-around),
 * otherwise zeros. Output size: ho = (h + 2*(k/2) - k) / stride + 1. */
typedef struct {
    int n, h, w;
    int cin, cout;
    int k;
    int stride;
    int periodic_x; /* wrap along W (longitude, periodic PDE domain) */
    int periodic_y; /* wrap along H */
} dfl_conv_desc;

static inline int dfl_conv_out_h(const dfl_conv_desc *d) { return (d->h + 2 * (d->k / 2) - d->k) / d->stride + 1; }
static inline int dfl_conv_out_w(const dfl_conv_desc *d) { return (d->w + 2 * (d->k / 2) - d->k) / d->stride + 1; }

/* AUTO is a request, never a backend's state: each backend resolves it to
 * the fastest precision measured to train as well as fp32 on its hardware
 * (CPU: bf16 where oneDNN dispatches AMX, and on AVX512_BF16 on an AMD CPU;
 * else fp32; CUDA: fp32). */
typedef enum {
    DFL_PRECISION_FP32 = 0,
    DFL_PRECISION_TF32 = 1,
    DFL_PRECISION_BF16 = 2,
    DFL_PRECISION_AUTO = 3
} dfl_precision;

/* AdamW hyper-parameters for one update (kernels/shared/adamw.h). */
struct dfl_adamw_hparams_s; /* == dfl_adamw_hparams */

/* Forward declaration of the fused method ops' parameter blocks
 * (include/dynfill/method_ops.h). */
struct dfl_noise_context_args;
struct dfl_qmse_args;
struct dfl_ensemble_build_args;
struct dfl_ensemble_reduce_args;

struct dfl_backend {
    const char *name; /* "cpu", "cuda" */
    void *ctx;        /* backend private state */
    dfl_precision precision;

    /* ---- memory ---- */
    void *(*alloc)(dfl_backend *be, size_t bytes);
    void (*free)(dfl_backend *be, void *ptr);
    void (*upload)(dfl_backend *be, void *dst, const void *host_src, size_t bytes);
    void (*download)(dfl_backend *be, void *host_dst, const void *src, size_t bytes);
    void (*copy)(dfl_backend *be, void *dst, const void *src, size_t bytes);
    void (*fill)(dfl_backend *be, float *x, float value, size_t n);
    void (*synchronize)(dfl_backend *be);
    /* Device memory: what this process may still allocate (*free_bytes) and
     * the device's size (*total_bytes), as cudaMemGetInfo reports them. NULL
     * for a backend on host memory (the CPU backend: core/memory.h). */
    void (*memory_info)(dfl_backend *be, size_t *free_bytes, size_t *total_bytes);
    void (*destroy)(dfl_backend *be);

    /* ---- convolution (weights OIHW [cout, cin, k, k], bias [cout] or NULL) ---- */
    void (*conv2d_forward)(dfl_backend *be, const dfl_conv_desc *d, const float *x, const float *w, const float *b,
                           float *y);
    void (*conv2d_backward_data)(dfl_backend *be, const dfl_conv_desc *d, const float *dy, const float *w, float *dx);
    /* dw [cout,cin,k,k] and db [cout] (db may be NULL) are overwritten. */
    void (*conv2d_backward_weights)(dfl_backend *be, const dfl_conv_desc *d, const float *x, const float *dy, float *dw,
                                    float *db);

    /* ---- group norm over [n, hw, c] with `groups` groups of c/groups channels ----
     * y = GN(x) * gamma + beta, followed by SiLU when apply_silu. mean and
     * rstd ([n*groups]) are saved for the backward pass. */
    void (*group_norm_forward)(dfl_backend *be, int n, int hw, int c, int groups, float eps, const float *x,
                               const float *gamma, const float *beta, float *y, float *mean, float *rstd,
                               int apply_silu);
    /* dx, dgamma, dbeta overwritten; recomputes the pre-SiLU value from x.
     * dx_add (NULL: none) is added to dx as it is written: the residual
     * branch's gradient, saving a separate add over the tensor. dx may alias
     * dy; dx_add may not alias dx. */
    void (*group_norm_backward)(dfl_backend *be, int n, int hw, int c, int groups, const float *x, const float *gamma,
                                const float *beta, const float *mean, const float *rstd, const float *dy,
                                const float *dx_add, float *dx, float *dgamma, float *dbeta, int apply_silu);

    /* ---- elementwise ---- */
    void (*silu_forward)(dfl_backend *be, size_t n, const float *x, float *y);
    void (*silu_backward)(dfl_backend *be, size_t n, const float *x, const float *dy, float *dx);
    void (*add)(dfl_backend *be, size_t n, const float *a, const float *b, float *y); /* y = a + b; y may alias */
    void (*scale)(dfl_backend *be, size_t n, float alpha, float *x);                  /* x *= alpha */
    /* y[i, p, ch] += bias[i, ch] for p < hw: the per-sample time-embedding add. */
    void (*add_channel_bias)(dfl_backend *be, int n, int hw, int c, float *y, const float *bias);
    /* dbias[i, ch] = sum_p dy[i, p, ch] (overwritten). */
    void (*channel_bias_backward)(dfl_backend *be, int n, int hw, int c, const float *dy, float *dbias);

    /* ---- dense ---- */
    /* y[rows, out] = x[rows, in] W^T + b;  W [out, in], b [out] or NULL. */
    void (*linear_forward)(dfl_backend *be, int rows, int in, int out, const float *x, const float *w, const float *b,
                           float *y);
    /* dx (may be NULL) [rows,in], dw [out,in], db [out] (may be NULL): overwritten. */
    void (*linear_backward)(dfl_backend *be, int rows, int in, int out, const float *x, const float *w, const float *dy,
                            float *dx, float *dw, float *db);

    /* ---- resampling, layout ---- */
    /* y [n, 2h, 2w, c] = nearest x2 of x [n, h, w, c]; backward sums 2x2. */
    void (*upsample_nearest2x_forward)(dfl_backend *be, int n, int h, int w, int c, const float *x, float *y);
    void (*upsample_nearest2x_backward)(dfl_backend *be, int n, int h, int w, int c, const float *dy, float *dx);
    /* y [pixels, ca+cb] = [a | b] along channels; backward splits. */
    void (*concat_channels_forward)(dfl_backend *be, size_t pixels, int ca, int cb, const float *a, const float *b,
                                    float *y);
    void (*concat_channels_backward)(dfl_backend *be, size_t pixels, int ca, int cb, const float *dy, float *da,
                                     float *db);
    /* Zero-pad [n, h, w, c] at the end to [n, hp, wp, c] (hp >= h, wp >= w),
     * and the inverse crop. Each is the other's backward. */
    void (*pad_end)(dfl_backend *be, int n, int h, int w, int c, int hp, int wp, const float *x, float *y);
    void (*crop_end)(dfl_backend *be, int n, int hp, int wp, int c, int h, int w, const float *x, float *y);
    /* Network input with its pyramid fill (model.input_fill = pyramid,
     * kernels/shared/input_fill.h): x [n, h, w, 2c] holds values | mask,
     * y [n, h, w, 3c] gets values | mask | fill; scratch holds
     * dfl_fill_scratch_floats(n, h, w, c) floats of backend memory. */
    void (*input_fill)(dfl_backend *be, int n, int h, int w, int c, const float *x, float *y, float *scratch);
    /* The spline fill (model.input_fill = spline, kernels/shared/fill_spline.h):
     * moves the fill channels of y [n, h, w, 3c], written by input_fill,
     * towards the thin-plate spline through the entries with mask > 0.5,
     * in at most `iters` conjugate-gradient steps per sample channel;
     * periodic_x/y wrap the axes. scratch holds
     * dfl_spline_scratch_floats(n, h, w, c) floats (input_fill's may be
     * the same memory). */
    void (*input_fill_spline)(dfl_backend *be, int n, int h, int w, int c, int periodic_x, int periodic_y, int iters,
                              float *y, float *scratch);
    /* The same on the order-3 spline (kernels/shared/fill_spline3.h), from
     * whatever the fill channels hold: the spline correction's S3, started
     * from the thin-plate spline. Same layout and scratch. */
    void (*input_fill_spline3)(dfl_backend *be, int n, int h, int w, int c, int periodic_x, int periodic_y, int iters,
                               float *y, float *scratch);
    /* NCHW <-> NHWC. */
    void (*nchw_to_nhwc)(dfl_backend *be, int n, int c, int h, int w, const float *x, float *y);
    void (*nhwc_to_nchw)(dfl_backend *be, int n, int c, int h, int w, const float *x, float *y);

    /* ---- attention (single head over hw tokens of c channels) ----
     * qkv [n, hw, 3c] holds q | k | v per token; out [n, hw, c] =
     * softmax_j(q_i . k_j / sqrt(c)) v_j; probs [n, hw, hw] saved. */
    void (*attention_forward)(dfl_backend *be, int n, int hw, int c, const float *qkv, float *out, float *probs);
    void (*attention_backward)(dfl_backend *be, int n, int hw, int c, const float *qkv, const float *probs,
                               const float *dout, float *dqkv);

    /* ---- time embedding: out [n, dim] = [cos(1000 t f), sin(1000 t f)], docs/design.md, "The network: dfl-unet v1" ---- */
    void (*time_embedding)(dfl_backend *be, int n, int dim, const float *t, float *out);

    /* ---- optimiser ---- */
    /* Sum of squares of x[0..n), accumulated in double, deterministic. */
    double (*sum_squares)(dfl_backend *be, size_t n, const float *x);
    void (*adamw_update)(dfl_backend *be, size_t n, float *p, const float *g, float *m, float *v,
                         const struct dfl_adamw_hparams_s *h);
    void (*ema_update)(dfl_backend *be, size_t n, float *ema, const float *p, float decay);

    /* ---- fused method ops (docs/design.md, "Backend interface";
     * include/dynfill/method_ops.h): mandatory, every backend sets them. */
    void (*noise_context)(dfl_backend *be, const struct dfl_noise_context_args *a);
    double (*qmse)(dfl_backend *be, const struct dfl_qmse_args *a);
    void (*ensemble_build)(dfl_backend *be, const struct dfl_ensemble_build_args *a);
    void (*ensemble_reduce)(dfl_backend *be, const struct dfl_ensemble_reduce_args *a);
};

/* Backends. `threads` <= 0 means the OpenMP default. */
dfl_backend *dfl_backend_cpu_create(int threads);
/* Precision of the CPU backend's convolutions: fp32 (the default), or bf16
 * (inputs and weights rounded to bfloat16, fp32 accumulation and outputs;
 * everything else stays fp32); tf32, a GPU format, runs as fp32. bf16
 * needs AVX512_BF16 or AMX: DFL_EUSAGE with a message naming `what` on a
 * CPU without them. */
dfl_status dfl_backend_cpu_set_precision(dfl_backend *be, dfl_precision precision, const char *what);
/* What train.precision = auto reads on this CPU, into buf: the ISA oneDNN
 * dispatches and whether the CPU is an AMD one. */
const char *dfl_cpu_auto_precision_note(char *buf, size_t len);
/* dfl_backend_cpu_create then dfl_backend_cpu_set_precision: NULL (dfl_fail
 * set, naming `what`) where the CPU lacks the precision. */
dfl_backend *dfl_backend_cpu_create_at(int threads, dfl_precision precision, const char *what);
/* The instruction set oneDNN dispatches on this CPU ("avx512_core_amx", ...). */
const char *dfl_cpu_isa_name(void);
/* GFLOP/s of oneDNN's matrix multiply on this CPU with the current OpenMP
 * threads (fp32: sgemm; bf16: a bf16 matmul), measured now (~0.1 s). */
double dfl_cpu_gemm_peak_gflops(dfl_precision precision);
/* Returns NULL (with dfl_fail set) when CUDA was not built or no device. */
dfl_backend *dfl_backend_cuda_create(int device, dfl_precision precision);
/* "auto", "fp32", "tf32" or "bf16" into *out; DFL_EUSAGE naming `what`
 * (the option or key) for anything else. */
dfl_status dfl_precision_parse(const char *what, const char *name, dfl_precision *out);
/* The name dfl_precision_parse reads ("auto" for DFL_PRECISION_AUTO). */
const char *dfl_precision_name(dfl_precision precision);
/* "cpu", "cuda" or "auto" (CUDA when a device exists, else CPU). */
dfl_backend *dfl_backend_create(const char *name, dfl_precision precision);
void dfl_backend_destroy(dfl_backend *be);
/* Memory a plan on be is checked against (docs/scaling.md, "Memory"): host
 * memory (dfl_memory_available: DFL_MEMORY_LIMIT_BYTES, MemAvailable, the
 * cgroup) for the CPU backend; for a backend with memory_info, the device's
 * free memory, or DFL_MEMORY_LIMIT_BYTES when smaller; 0 = not known (not
 * checked). *source (may be NULL) names the figure used. */
size_t dfl_backend_memory_available(dfl_backend *be, const char **source);
/* Bytes a plan of `bytes` on be (largest: its largest single buffer) needs:
 * `bytes` on host memory; on a device backend (memory_info) one more copy of
 * the largest buffer (the cuDNN input / output copies) and 1 GiB of cuDNN
 * workspace, whatever the precision. */
size_t dfl_backend_plan_need(const dfl_backend *be, size_t bytes, size_t largest);
int dfl_cuda_available(void);
/* Number of visible CUDA devices (0 without CUDA). */
int dfl_cuda_device_count(void);

#ifdef __cplusplus
}
#endif
#endif
