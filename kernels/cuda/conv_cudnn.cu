// 2D convolution forward, backward-data and backward-weights through cuDNN 9's
// legacy convolution API (docs/design.md, "Backend interface" and "The network: dfl-unet v1"), for NHWC activations and OIHW
// weights.
//
// Plans: one cache entry per shape (dfl_conv_desc) holding, per direction,
// the cuDNN descriptors, the chosen algorithm and its workspace size. The
// algorithm is chosen on first use, by cuDNN's heuristics (the same choice
// every run, so results are bit-identical across processes) or, with
// DFL_CUDNN_FIND=1, by timing (faster, but the choice may vary between
// runs). Accepted: deterministic algorithms with at most 1 GiB of
// workspace; strict fp32 also excludes the FFT and non-fused Winograd
// algorithms (their rounding differs from a direct sum by more than the
// fp32 test tolerance). Only when cuDNN offers none of those for a shape
// does it relax, with a warning: first to inexact algorithms, last to
// non-deterministic ones (see acceptable()).
//
// Precision (backend.h dfl_precision):
//   FP32: float tensors, CUDNN_FMA_MATH (no tensor cores, no TF32);
//   TF32: float tensors, CUDNN_DEFAULT_MATH (TF32 tensor cores allowed on
//         sm_80+; CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION would allow fp16
//         down-conversion, which is not TF32, so it is not used);
//   BF16: bf16 tensors, fp32 accumulation (compute type float), tensor-op
//         math. Activations, gradients and weights are converted to bf16 by
//         the copy kernels of conv_convert.cu and results converted back to fp32. If
//         cuDNN has no bf16 algorithm for a direction, that direction falls
//         back to TF32 (warned once).
// Weights are rearranged to KRSC ([cout, k, k, cin], cuDNN's NHWC filter
// layout) per call; weight gradients come back the same way.
//
// Circular padding (docs/design.md, "The network: dfl-unet v1"): along a periodic axis the input is copied
// with a k/2-pixel wrapped halo (fused with the bf16 conversion) and the
// convolution runs with padding 0 along that axis, zeros along the other.
// The output size is unchanged for stride 1 and 2. Backward-data computes
// the gradient of the haloed input and folds the halo back onto the rows
// and columns it was copied from. Bias: fused into the bf16->fp32 output
// conversion, or one row-broadcast add; bias gradient: dfl_cuda_colsum.
//
// Large tensors: a cuDNN tensor descriptor holds at most 2^31 - 1 elements.
// When the batch's input (haloed) or output passes that, each op runs on
// batch chunks under the limit (kernels/shared/int_limit.h; at most two
// chunk shapes, one plan each); backward-weights adds the chunks' weight
// gradients in chunk order (fp32) and takes the bias gradient over the
// whole batch. One sample over the limit cannot be split this way and is
// refused with its shape.
#include <cuda_bf16.h>
#include <stdint.h>
#include <string.h>

#include "cuda/cuda_backend_internal.cuh"
#include "shared/int_limit.h"

#define DFL_CONV_WORKSPACE_LIMIT ((size_t)1 << 30)

enum { DIR_FWD = 0, DIR_BWD_DATA = 1, DIR_BWD_FILTER = 2, DIR_COUNT = 3 };
static const char *const dir_name[DIR_COUNT] = {"forward", "backward-data", "backward-filter"};

typedef struct {
    int chosen;
    cudnnDataType_t dtype; // CUDNN_DATA_FLOAT or CUDNN_DATA_BFLOAT16
    cudnnTensorDescriptor_t xd, yd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
    int algo;
    size_t ws;
    uint32_t banned[2]; // algorithms cuDNN refused at run time, per data type (float, bf16)
} conv_dir;

struct dfl_cuda_conv_plan {
    dfl_conv_desc d;
    int py, px;       // halo width along y, x (k/2 on a periodic axis, else 0)
    int pad_y, pad_x; // zero padding cuDNN applies
    int hh, wh;       // haloed input size
    int oh, ow;
    conv_dir dir[DIR_COUNT];
};

// ---- plans ----

static void check_desc(const dfl_conv_desc *d) {
    if (d->n < 1 || d->h < 1 || d->w < 1 || d->cin < 1 || d->cout < 1 || (d->k != 1 && d->k != 3) ||
        (d->stride != 1 && d->stride != 2))
        DFL_PANIC("conv2d: bad descriptor n=%d h=%d w=%d cin=%d cout=%d k=%d stride=%d", d->n, d->h, d->w, d->cin,
                  d->cout, d->k, d->stride);
}

static int same_desc(const dfl_conv_desc *a, const dfl_conv_desc *b) {
    return a->n == b->n && a->h == b->h && a->w == b->w && a->cin == b->cin && a->cout == b->cout && a->k == b->k &&
           a->stride == b->stride && !!a->periodic_x == !!b->periodic_x && !!a->periodic_y == !!b->periodic_y;
}

static dfl_cuda_conv_plan *plan_get(dfl_cuda_ctx *ctx, const dfl_conv_desc *d) {
    for (int i = 0; i < ctx->nplans; ++i)
        if (same_desc(&ctx->plans[i].d, d)) return &ctx->plans[i];
    check_desc(d);
    if (ctx->nplans == ctx->plans_cap) {
        int cap = ctx->plans_cap ? 2 * ctx->plans_cap : 32;
        dfl_cuda_conv_plan *np = (dfl_cuda_conv_plan *)dfl_xcalloc((size_t)cap, sizeof *np);
        if (ctx->plans) memcpy(np, ctx->plans, (size_t)ctx->nplans * sizeof *np);
        free(ctx->plans);
        ctx->plans = np;
        ctx->plans_cap = cap;
    }
    dfl_cuda_conv_plan *p = &ctx->plans[ctx->nplans++];
    memset(p, 0, sizeof *p);
    p->d = *d;
    const int half = d->k / 2;
    p->py = d->periodic_y ? half : 0;
    p->px = d->periodic_x ? half : 0;
    p->pad_y = half - p->py;
    p->pad_x = half - p->px;
    p->hh = d->h + 2 * p->py;
    p->wh = d->w + 2 * p->px;
    p->oh = dfl_conv_out_h(d);
    p->ow = dfl_conv_out_w(d);
    return p;
}

static void dir_destroy(conv_dir *cd) {
    if (!cd->chosen) return;
    cudnnCheck(cudnnDestroyTensorDescriptor(cd->xd));
    cudnnCheck(cudnnDestroyTensorDescriptor(cd->yd));
    cudnnCheck(cudnnDestroyFilterDescriptor(cd->wd));
    cudnnCheck(cudnnDestroyConvolutionDescriptor(cd->cd));
    cd->chosen = 0;
}

void dfl_cuda_conv_plans_destroy(dfl_cuda_ctx *ctx) {
    for (int i = 0; i < ctx->nplans; ++i)
        for (int k = 0; k < DIR_COUNT; ++k) dir_destroy(&ctx->plans[i].dir[k]);
    free(ctx->plans);
    ctx->plans = NULL;
    ctx->nplans = ctx->plans_cap = 0;
}

static void dir_descriptors(const dfl_cuda_conv_plan *p, conv_dir *cd, cudnnDataType_t dtype, cudnnMathType_t math) {
    const dfl_conv_desc *d = &p->d;
    cd->dtype = dtype;
    cudnnCheck(cudnnCreateTensorDescriptor(&cd->xd));
    cudnnCheck(cudnnCreateTensorDescriptor(&cd->yd));
    cudnnCheck(cudnnCreateFilterDescriptor(&cd->wd));
    cudnnCheck(cudnnCreateConvolutionDescriptor(&cd->cd));
    cudnnCheck(cudnnSetTensor4dDescriptor(cd->xd, CUDNN_TENSOR_NHWC, dtype, d->n, d->cin, p->hh, p->wh));
    cudnnCheck(cudnnSetTensor4dDescriptor(cd->yd, CUDNN_TENSOR_NHWC, dtype, d->n, d->cout, p->oh, p->ow));
    cudnnCheck(cudnnSetFilter4dDescriptor(cd->wd, dtype, CUDNN_TENSOR_NHWC, d->cout, d->cin, d->k, d->k));
    cudnnCheck(cudnnSetConvolution2dDescriptor(cd->cd, p->pad_y, p->pad_x, d->stride, d->stride, 1, 1,
                                               CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    cudnnCheck(cudnnSetConvolutionMathType(cd->cd, math));
    int on, oc, oh, ow;
    cudnnCheck(cudnnGetConvolution2dForwardOutputDim(cd->cd, cd->xd, cd->wd, &on, &oc, &oh, &ow));
    if (on != d->n || oc != d->cout || oh != p->oh || ow != p->ow)
        DFL_PANIC("conv2d: cuDNN output %dx%dx%dx%d differs from the expected %dx%dx%dx%d", on, oc, oh, ow, d->n,
                  d->cout, p->oh, p->ow);
    cd->chosen = 1;
}

// Algorithms whose rounding is not that of a direct sum (excluded in FP32).
static int inexact_algo(int dir, int algo) {
    switch (dir) {
    case DIR_FWD:
        return algo == CUDNN_CONVOLUTION_FWD_ALGO_FFT || algo == CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING ||
               algo == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED;
    case DIR_BWD_DATA:
        return algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT || algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING ||
               algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED;
    default:
        return algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT || algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING ||
               algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED;
    }
}

// The fields of cuDNN's three perf structs that the choice needs.
typedef struct {
    int algo;
    cudnnStatus_t status;
    size_t memory;
    cudnnDeterminism_t determinism;
    cudnnMathType_t math;
} perf_entry;

#define DFL_MAX_ALGOS 16

template <typename Perf> static int copy_perf(const Perf *perf, int got, perf_entry *out) {
    int n = got < DFL_MAX_ALGOS ? got : DFL_MAX_ALGOS;
    for (int i = 0; i < n; ++i) {
        out[i].algo = (int)perf[i].algo;
        out[i].status = perf[i].status;
        out[i].memory = perf[i].memory;
        out[i].determinism = perf[i].determinism;
        out[i].math = perf[i].mathType;
    }
    return n;
}

// cuDNN's ranked candidates for one direction (heuristics, or timing with
// DFL_CUDNN_FIND=1), best first.
static int query_algos(dfl_cuda_ctx *ctx, conv_dir *cd, int dir, perf_entry *out) {
    cudnnHandle_t hd = ctx->cudnn;
    int got = 0;
    if (dir == DIR_FWD) {
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        if (ctx->cudnn_find)
            cudnnCheck(cudnnFindConvolutionForwardAlgorithm(hd, cd->xd, cd->wd, cd->cd, cd->yd,
                                                            CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, perf));
        else
            cudnnCheck(cudnnGetConvolutionForwardAlgorithm_v7(hd, cd->xd, cd->wd, cd->cd, cd->yd,
                                                              CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, perf));
        return copy_perf(perf, got, out);
    }
    if (dir == DIR_BWD_DATA) {
        cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        if (ctx->cudnn_find)
            cudnnCheck(cudnnFindConvolutionBackwardDataAlgorithm(hd, cd->wd, cd->yd, cd->cd, cd->xd,
                                                                 CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got, perf));
        else
            cudnnCheck(cudnnGetConvolutionBackwardDataAlgorithm_v7(hd, cd->wd, cd->yd, cd->cd, cd->xd,
                                                                   CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got, perf));
        return copy_perf(perf, got, out);
    }
    cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    if (ctx->cudnn_find)
        cudnnCheck(cudnnFindConvolutionBackwardFilterAlgorithm(hd, cd->xd, cd->yd, cd->cd, cd->wd,
                                                               CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &got, perf));
    else
        cudnnCheck(cudnnGetConvolutionBackwardFilterAlgorithm_v7(hd, cd->xd, cd->yd, cd->cd, cd->wd,
                                                                 CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &got, perf));
    return copy_perf(perf, got, out);
}

// Workspace of `algo` under the descriptor's current math type; a status
// other than success means cuDNN cannot run that combination.
static cudnnStatus_t workspace_of(cudnnHandle_t hd, const conv_dir *cd, int dir, int algo, size_t *ws) {
    switch (dir) {
    case DIR_FWD:
        return cudnnGetConvolutionForwardWorkspaceSize(hd, cd->xd, cd->wd, cd->cd, cd->yd,
                                                       (cudnnConvolutionFwdAlgo_t)algo, ws);
    case DIR_BWD_DATA:
        return cudnnGetConvolutionBackwardDataWorkspaceSize(hd, cd->wd, cd->yd, cd->cd, cd->xd,
                                                            (cudnnConvolutionBwdDataAlgo_t)algo, ws);
    default:
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(hd, cd->xd, cd->yd, cd->cd, cd->wd,
                                                              (cudnnConvolutionBwdFilterAlgo_t)algo, ws);
    }
}

// Acceptance tiers, tried in order: 0 = deterministic, within the workspace
// limit and, in strict fp32, FMA math and no FFT / non-fused Winograd;
// 1 = also those inexact algorithms; 2 = also non-deterministic ones (the
// last resort, warned). Strict fp32 never accepts tensor-op math, and the
// descriptor stays CUDNN_FMA_MATH (no TF32) whatever the entry says.
static int acceptable(const perf_entry *q, int tier, int dir, int strict_fp32) {
    if (q->status != CUDNN_STATUS_SUCCESS || q->memory > DFL_CONV_WORKSPACE_LIMIT) return 0;
    if (q->math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return 0;
    if (tier < 2 && q->determinism != CUDNN_DETERMINISTIC) return 0;
    if (strict_fp32) {
        if (q->math == CUDNN_TENSOR_OP_MATH) return 0;
        if (tier == 0 && (q->math != CUDNN_FMA_MATH || inexact_algo(dir, q->algo))) return 0;
    }
    return 1;
}

// Chooses the algorithm of one direction for one data type; 0 if none.
static int dir_try(dfl_cuda_ctx *ctx, const dfl_cuda_conv_plan *p, conv_dir *cd, int dir, dfl_precision prec,
                   cudnnDataType_t dtype, int first_tier, int last_tier) {
    const int strict_fp32 = dtype == CUDNN_DATA_FLOAT && prec == DFL_PRECISION_FP32;
    const cudnnMathType_t want = dtype == CUDNN_DATA_BFLOAT16 ? CUDNN_TENSOR_OP_MATH
                                 : strict_fp32                ? CUDNN_FMA_MATH
                                                              : CUDNN_DEFAULT_MATH;
    dir_descriptors(p, cd, dtype, want);
    perf_entry perf[DFL_MAX_ALGOS];
    const int n = query_algos(ctx, cd, dir, perf);
    for (int tier = first_tier; tier <= last_tier; ++tier) {
        for (int i = 0; i < n; ++i) {
            if (!acceptable(&perf[i], tier, dir, strict_fp32)) continue;
            if (perf[i].algo < 32 && (cd->banned[dtype == CUDNN_DATA_BFLOAT16] >> perf[i].algo) & 1u) continue;
            const cudnnMathType_t math = strict_fp32 ? CUDNN_FMA_MATH : perf[i].math;
            cudnnCheck(cudnnSetConvolutionMathType(cd->cd, math));
            size_t ws = 0;
            if (workspace_of(ctx->cudnn, cd, dir, perf[i].algo, &ws) != CUDNN_STATUS_SUCCESS ||
                ws > DFL_CONV_WORKSPACE_LIMIT)
                continue;
            cd->algo = perf[i].algo;
            cd->ws = ws;
            if (tier > 0) {
                const dfl_conv_desc *d = &p->d;
                dfl_warn("cuDNN: conv %s n=%d %dx%d cin=%d cout=%d k=%d stride=%d uses algorithm %d, which is %s",
                         dir_name[dir], d->n, d->h, d->w, d->cin, d->cout, d->k, d->stride, cd->algo,
                         tier == 1 ? "not a direct sum (rounding differs slightly)" : "NOT deterministic");
            }
            return 1;
        }
    }
    dir_destroy(cd);
    return 0;
}

static conv_dir *dir_get(dfl_backend *be, dfl_cuda_conv_plan *p, int dir) {
    conv_dir *cd = &p->dir[dir];
    if (cd->chosen) return cd;
    dfl_cuda_ctx *ctx = dfl_cuda_ctx_of(be);
    if (ctx->capturing)
        DFL_PANIC("conv2d %s: a new shape appeared during graph capture (run the step once eagerly first)",
                  dir_name[dir]);
    const dfl_conv_desc *d = &p->d;
    if (be->precision == DFL_PRECISION_BF16) {
        // deterministic bf16, then deterministic TF32, then any bf16, then any TF32
        if (dir_try(ctx, p, cd, dir, be->precision, CUDNN_DATA_BFLOAT16, 0, 1)) return cd;
        dfl_warn("cuDNN has no deterministic bf16 %s algorithm for conv n=%d %dx%d cin=%d cout=%d k=%d stride=%d; "
                 "running it in TF32",
                 dir_name[dir], d->n, d->h, d->w, d->cin, d->cout, d->k, d->stride);
        if (dir_try(ctx, p, cd, dir, DFL_PRECISION_TF32, CUDNN_DATA_FLOAT, 0, 1)) return cd;
        if (dir_try(ctx, p, cd, dir, be->precision, CUDNN_DATA_BFLOAT16, 2, 2)) return cd;
        if (dir_try(ctx, p, cd, dir, DFL_PRECISION_TF32, CUDNN_DATA_FLOAT, 2, 2)) return cd;
    } else if (dir_try(ctx, p, cd, dir, be->precision, CUDNN_DATA_FLOAT, 0, 2)) {
        return cd;
    }
    DFL_PANIC("cuDNN offers no usable %s algorithm for conv n=%d %dx%d cin=%d cout=%d k=%d stride=%d (NHWC)",
              dir_name[dir], d->n, d->h, d->w, d->cin, d->cout, d->k, d->stride);
}

// cuDNN refused the chosen algorithm when asked to run it: with
// CUDNN_STATUS_NOT_SUPPORTED (returned before anything is launched) the
// algorithm is banned for this shape and the next one is chosen; any other
// status is a failure.
static void dir_reject(dfl_backend *be, dfl_cuda_conv_plan *p, int dir, cudnnStatus_t st) {
    conv_dir *cd = &p->dir[dir];
    const dfl_conv_desc *d = &p->d;
    if (st != CUDNN_STATUS_NOT_SUPPORTED || dfl_cuda_ctx_of(be)->capturing || cd->algo < 0 || cd->algo >= 32)
        DFL_PANIC("cuDNN conv %s (algorithm %d, n=%d %dx%d cin=%d cout=%d k=%d stride=%d) failed: %s", dir_name[dir],
                  cd->algo, d->n, d->h, d->w, d->cin, d->cout, d->k, d->stride, cudnnGetErrorString(st));
    dfl_warn("cuDNN refused conv %s algorithm %d for n=%d %dx%d cin=%d cout=%d k=%d stride=%d; choosing another",
             dir_name[dir], cd->algo, d->n, d->h, d->w, d->cin, d->cout, d->k, d->stride);
    cd->banned[cd->dtype == CUDNN_DATA_BFLOAT16] |= 1u << cd->algo;
    dir_destroy(cd);
}

// ---- launch helpers ----

static size_t dtype_size(cudnnDataType_t t) { return t == CUDNN_DATA_BFLOAT16 ? 2 : 4; }

// The input as cuDNN reads it: x itself (fp32, no halo) or a converted /
// haloed copy in scratch slot X.
static const void *prep_input(dfl_backend *be, const dfl_cuda_conv_plan *p, const conv_dir *cd, const float *x) {
    const dfl_conv_desc *d = &p->d;
    if (cd->dtype == CUDNN_DATA_FLOAT && p->py == 0 && p->px == 0) return x;
    const size_t total = (size_t)d->n * p->hh * p->wh * d->cin;
    void *xp = dfl_cuda_scratch(be, DFL_CUDA_SCR_X, total * dtype_size(cd->dtype));
    dfl_cuda_conv_prep_input(dfl_cuda_stream(be), cd->dtype == CUDNN_DATA_BFLOAT16, d->n, d->h, d->w, d->cin, p->py,
                             p->px, x, xp);
    return xp;
}

// Incoming gradient as cuDNN reads it: dy or a bf16 copy (slot DY).
static const void *prep_grad(dfl_backend *be, const dfl_cuda_conv_plan *p, const conv_dir *cd, const float *dy) {
    if (cd->dtype == CUDNN_DATA_FLOAT) return dy;
    const size_t total = (size_t)p->d.n * p->oh * p->ow * p->d.cout;
    void *t = dfl_cuda_scratch(be, DFL_CUDA_SCR_DY, total * 2);
    dfl_cuda_to_bf16(dfl_cuda_stream(be), total, p->d.cout, dy, t);
    return t;
}

// Weights in KRSC of the direction's type (slot W).
static const void *prep_weights(dfl_backend *be, const dfl_cuda_conv_plan *p, const conv_dir *cd, const float *w) {
    const dfl_conv_desc *d = &p->d;
    const size_t total = (size_t)d->cout * d->cin * d->k * d->k;
    void *wk = dfl_cuda_scratch(be, DFL_CUDA_SCR_W, total * dtype_size(cd->dtype));
    dfl_cuda_oihw_to_krsc(dfl_cuda_stream(be), cd->dtype == CUDNN_DATA_BFLOAT16, d->cout, d->cin, d->k * d->k, w, wk);
    return wk;
}

static void *workspace(dfl_backend *be, const conv_dir *cd) {
    return cd->ws ? dfl_cuda_scratch(be, DFL_CUDA_SCR_WS, cd->ws) : NULL;
}

// ---- the three ops ----

static void conv_forward_once(dfl_backend *be, const dfl_conv_desc *d, const float *x, const float *w, const float *b,
                              float *y) {
    dfl_cuda_ctx *ctx = dfl_cuda_ctx_of(be);
    dfl_cuda_conv_plan *p = plan_get(ctx, d);
    const size_t ytotal = (size_t)d->n * p->oh * p->ow * d->cout;
    const float one = 1.0f, zero = 0.0f;
    for (;;) { // one pass unless cuDNN refuses the algorithm (dir_reject)
        const conv_dir *cd = dir_get(be, p, DIR_FWD);
        const void *xin = prep_input(be, p, cd, x);
        const void *wk = prep_weights(be, p, cd, w);
        void *yout = cd->dtype == CUDNN_DATA_FLOAT ? (void *)y : dfl_cuda_scratch(be, DFL_CUDA_SCR_Y, ytotal * 2);
        void *ws = workspace(be, cd);
        cudnnStatus_t st =
            cudnnConvolutionForward(ctx->cudnn, &one, cd->xd, xin, cd->wd, wk, cd->cd,
                                    (cudnnConvolutionFwdAlgo_t)cd->algo, ws, cd->ws, &zero, cd->yd, yout);
        if (st != CUDNN_STATUS_SUCCESS) {
            dir_reject(be, p, DIR_FWD, st);
            continue;
        }
        if (cd->dtype == CUDNN_DATA_BFLOAT16) {
            dfl_cuda_bf16_to_float_bias(ctx->stream, ytotal, d->cout, yout, b, y);
        } else if (b) {
            dfl_cuda_add_bias_rows(be, (size_t)d->n * p->oh * p->ow, d->cout, y, b);
        }
        return;
    }
}

static void conv_backward_data_once(dfl_backend *be, const dfl_conv_desc *d, const float *dy, const float *w,
                                    float *dx) {
    dfl_cuda_ctx *ctx = dfl_cuda_ctx_of(be);
    dfl_cuda_conv_plan *p = plan_get(ctx, d);
    const size_t ptotal = (size_t)d->n * p->hh * p->wh * d->cin;
    const float one = 1.0f, zero = 0.0f;
    for (;;) {
        const conv_dir *cd = dir_get(be, p, DIR_BWD_DATA);
        const void *dyin = prep_grad(be, p, cd, dy);
        const void *wk = prep_weights(be, p, cd, w);
        const int direct = cd->dtype == CUDNN_DATA_FLOAT && p->py == 0 && p->px == 0;
        void *dxp = direct ? (void *)dx : dfl_cuda_scratch(be, DFL_CUDA_SCR_Y, ptotal * dtype_size(cd->dtype));
        void *ws = workspace(be, cd);
        cudnnStatus_t st =
            cudnnConvolutionBackwardData(ctx->cudnn, &one, cd->wd, wk, cd->yd, dyin, cd->cd,
                                         (cudnnConvolutionBwdDataAlgo_t)cd->algo, ws, cd->ws, &zero, cd->xd, dxp);
        if (st != CUDNN_STATUS_SUCCESS) {
            dir_reject(be, p, DIR_BWD_DATA, st);
            continue;
        }
        if (!direct)
            dfl_cuda_conv_fold_halo(ctx->stream, cd->dtype == CUDNN_DATA_BFLOAT16, d->n, d->h, d->w, d->cin, p->py,
                                    p->px, dxp, dx);
        return;
    }
}

static void conv_backward_weights_once(dfl_backend *be, const dfl_conv_desc *d, const float *x, const float *dy,
                                       float *dw, float *db) {
    dfl_cuda_ctx *ctx = dfl_cuda_ctx_of(be);
    dfl_cuda_conv_plan *p = plan_get(ctx, d);
    const size_t wtotal = (size_t)d->cout * d->cin * d->k * d->k;
    const float one = 1.0f, zero = 0.0f;
    for (;;) {
        const conv_dir *cd = dir_get(be, p, DIR_BWD_FILTER);
        const void *xin = prep_input(be, p, cd, x);
        const void *dyin = prep_grad(be, p, cd, dy);
        void *dwk = dfl_cuda_scratch(be, DFL_CUDA_SCR_W, wtotal * dtype_size(cd->dtype));
        void *ws = workspace(be, cd);
        cudnnStatus_t st =
            cudnnConvolutionBackwardFilter(ctx->cudnn, &one, cd->xd, xin, cd->yd, dyin, cd->cd,
                                           (cudnnConvolutionBwdFilterAlgo_t)cd->algo, ws, cd->ws, &zero, cd->wd, dwk);
        if (st != CUDNN_STATUS_SUCCESS) {
            dir_reject(be, p, DIR_BWD_FILTER, st);
            continue;
        }
        dfl_cuda_krsc_to_oihw(ctx->stream, cd->dtype == CUDNN_DATA_BFLOAT16, d->cout, d->cin, d->k * d->k, dwk, dw);
        if (db) dfl_cuda_colsum(be, 1, (size_t)d->n * p->oh * p->ow, d->cout, dy, db);
        return;
    }
}

// ---- batch chunks past the int limit ----

// Samples per cuDNN call for d: d->n when the batch fits (the common case),
// else the chunk of dfl_split_batch_for_int_limit. Per sample, cuDNN sees
// the (haloed) input and the output; the unhaloed input and gradient copies
// are never larger.
static int conv_chunk(const dfl_conv_desc *d) {
    check_desc(d);
    const int half = d->k / 2;
    const int64_t hh = d->h + (d->periodic_y ? 2 * half : 0), wh = d->w + (d->periodic_x ? 2 * half : 0);
    const int64_t in = hh * wh * d->cin, out = (int64_t)dfl_conv_out_h(d) * dfl_conv_out_w(d) * d->cout;
    const int64_t per = in > out ? in : out;
    const int64_t chunk = dfl_split_batch_for_int_limit(d->n, per, DFL_INT_LIMIT);
    if (chunk < 1)
        DFL_PANIC("conv2d: one sample of n=%d %dx%d cin=%d cout=%d k=%d stride=%d has %lld elements, over cuDNN's "
                  "limit of %lld per tensor; it cannot be split along the batch (lower model.base or the field "
                  "size, e.g. data.patch)",
                  d->n, d->h, d->w, d->cin, d->cout, d->k, d->stride, (long long)per, (long long)DFL_INT_LIMIT);
    return (int)chunk;
}

static void cuda_conv2d_forward(dfl_backend *be, const dfl_conv_desc *d, const float *x, const float *w, const float *b,
                                float *y) {
    const int chunk = conv_chunk(d);
    if (chunk == d->n) {
        conv_forward_once(be, d, x, w, b, y);
        return;
    }
    const size_t xs = (size_t)d->h * d->w * d->cin, ys = (size_t)dfl_conv_out_h(d) * dfl_conv_out_w(d) * d->cout;
    for (int64_t i = 0; i < dfl_split_count(d->n, chunk); ++i) {
        int64_t s0, cnt;
        dfl_split_chunk(d->n, chunk, i, &s0, &cnt);
        dfl_conv_desc dc = *d;
        dc.n = (int)cnt;
        conv_forward_once(be, &dc, x + (size_t)s0 * xs, w, b, y + (size_t)s0 * ys);
    }
}

static void cuda_conv2d_backward_data(dfl_backend *be, const dfl_conv_desc *d, const float *dy, const float *w,
                                      float *dx) {
    const int chunk = conv_chunk(d);
    if (chunk == d->n) {
        conv_backward_data_once(be, d, dy, w, dx);
        return;
    }
    const size_t xs = (size_t)d->h * d->w * d->cin, ys = (size_t)dfl_conv_out_h(d) * dfl_conv_out_w(d) * d->cout;
    for (int64_t i = 0; i < dfl_split_count(d->n, chunk); ++i) {
        int64_t s0, cnt;
        dfl_split_chunk(d->n, chunk, i, &s0, &cnt);
        dfl_conv_desc dc = *d;
        dc.n = (int)cnt;
        conv_backward_data_once(be, &dc, dy + (size_t)s0 * ys, w, dx + (size_t)s0 * xs);
    }
}

static void cuda_conv2d_backward_weights(dfl_backend *be, const dfl_conv_desc *d, const float *x, const float *dy,
                                         float *dw, float *db) {
    const int chunk = conv_chunk(d);
    if (chunk == d->n) {
        conv_backward_weights_once(be, d, x, dy, dw, db);
        return;
    }
    const size_t xs = (size_t)d->h * d->w * d->cin, ys = (size_t)dfl_conv_out_h(d) * dfl_conv_out_w(d) * d->cout;
    const size_t wtotal = (size_t)d->cout * d->cin * d->k * d->k;
    // chunk 0 writes dw; each later chunk's gradient goes to slot TMP (free
    // during a conv op) and is added in chunk order
    for (int64_t i = 0; i < dfl_split_count(d->n, chunk); ++i) {
        int64_t s0, cnt;
        dfl_split_chunk(d->n, chunk, i, &s0, &cnt);
        dfl_conv_desc dc = *d;
        dc.n = (int)cnt;
        float *dst = i == 0 ? dw : (float *)dfl_cuda_scratch(be, DFL_CUDA_SCR_TMP, wtotal * sizeof(float));
        conv_backward_weights_once(be, &dc, x + (size_t)s0 * xs, dy + (size_t)s0 * ys, dst, NULL);
        if (i > 0) be->add(be, wtotal, dw, dst, dw);
    }
    if (db) dfl_cuda_colsum(be, 1, (size_t)d->n * dfl_conv_out_h(d) * dfl_conv_out_w(d), d->cout, dy, db);
}

void dfl_cuda_register_conv_ops(dfl_backend *be) {
    be->conv2d_forward = cuda_conv2d_forward;
    be->conv2d_backward_data = cuda_conv2d_backward_data;
    be->conv2d_backward_weights = cuda_conv2d_backward_weights;
}
