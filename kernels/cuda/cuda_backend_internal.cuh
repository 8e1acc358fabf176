// Private state and helpers of the CUDA backend (kernels/cuda/*.cu).
//
// One backend = one device, one compute stream, one cuDNN and one cuBLAS
// handle bound to that stream. Every op enqueues its work on the stream and
// returns without waiting (except the ops that return a host value and
// download); ops of one backend are therefore ordered like the calls. All
// temporary memory lives in growable scratch slots of the context, so a
// training step allocates nothing after its first run, which is also what
// makes the step capturable as a CUDA graph (include/dynfill/cuda_graph.h).
#ifndef DYNFILL_CUDA_BACKEND_INTERNAL_CUH
#define DYNFILL_CUDA_BACKEND_INTERNAL_CUH

#include <stddef.h>

#include "cuda/cuda_check.cuh"
#include "dynfill/backend.h"
#include "dynfill/cuda_graph.h"

// A growable device buffer (contents not preserved when it grows).
typedef struct {
    void *ptr;
    size_t bytes;
} dfl_cuda_buffer;

// Scratch slots; an op uses each slot for one purpose at a time. Ops run in
// stream order, so one op's use never overlaps another's.
enum {
    DFL_CUDA_SCR_X = 0,  // convolution input: haloed and/or bf16 copy
    DFL_CUDA_SCR_W,      // convolution weights in KRSC (fp32 or bf16), or dW in KRSC
    DFL_CUDA_SCR_Y,      // bf16 conv output, or padded dx before the halo fold
    DFL_CUDA_SCR_DY,     // bf16 copy of an incoming gradient
    DFL_CUDA_SCR_WS,     // cuDNN workspace
    DFL_CUDA_SCR_REDUCE, // partial sums of deterministic reductions (dfl_cuda_colsum, sum_squares)
    DFL_CUDA_SCR_TMP,    // op-local temporaries (attention dP, group-norm partials, method ops)
    DFL_CUDA_SCR_COUNT
};

struct dfl_cuda_conv_plan; // conv_cudnn.cu

typedef struct {
    int device;
    int sm_count;
    cudaStream_t stream;      // every op runs here
    cudaStream_t copy_stream; // dfl_cuda_upload_async
    cudaEvent_t copy_done;    // recorded on copy_stream after each async upload
    cudaEvent_t upload_mark;  // compute-stream position at the previous async upload
    int have_upload_mark;
    cudnnHandle_t cudnn;
    cublasHandle_t cublas;
    void *cublas_workspace; // fixed cuBLAS workspace (required for graph capture)
    size_t cublas_workspace_bytes;
    dfl_cuda_buffer scratch[DFL_CUDA_SCR_COUNT];
    struct dfl_cuda_conv_plan *plans; // conv_cudnn.cu: algorithm cache by shape
    int nplans, plans_cap;
    int cudnn_find;         // DFL_CUDNN_FIND=1: benchmark algorithms instead of heuristics
    int capturing;          // inside dfl_cuda_graph_begin/end
    double *d_scalars;      // device slots for host-visible results (dfl_cuda_scalar)
    double *h_scalars;      // pinned mirror for downloads
    double *sumsq_partials; // device partials of sum_squares (DFL_SUMSQ_BLOCKS doubles)
} dfl_cuda_ctx;

static inline dfl_cuda_ctx *dfl_cuda_ctx_of(dfl_backend *be) { return (dfl_cuda_ctx *)be->ctx; }
static inline cudaStream_t dfl_cuda_stream(dfl_backend *be) { return dfl_cuda_ctx_of(be)->stream; }

// Returns scratch slot `slot` with at least `bytes` bytes. Growing frees and
// reallocates (device-synchronising), which is illegal during graph capture:
// run the step once eagerly before capturing it (the call panics otherwise).
void *dfl_cuda_scratch(dfl_backend *be, int slot, size_t bytes);

// Grid size for a grid-stride loop over n items with `threads` per block.
static inline unsigned dfl_cuda_blocks(size_t n, int threads) {
    size_t b = (n + (size_t)threads - 1) / (size_t)threads;
    if (b < 1) b = 1;
    if (b > 65535u * 16u) b = 65535u * 16u;
    return (unsigned)b;
}

// True when p is 16-byte aligned (float4 access).
static inline int dfl_cuda_aligned16(const void *p) { return ((size_t)p & 15u) == 0; }

// Fixed grid of the first sum_squares stage (shape-independent, so the
// summation order is the same on every GPU).
#define DFL_SUMSQ_BLOCKS  512
#define DFL_SUMSQ_THREADS 256

// Deterministic column sums: out[b, ch] = sum_r x[b, r, ch] over r < rows,
// for b < batches (out overwritten). Fixed chunking and fixed reduction
// order: identical bits every run. Uses scratch slot REDUCE.
void dfl_cuda_colsum(dfl_backend *be, int batches, size_t rows, int c, const float *x, float *out);

// The copies around cuDNN convolutions (conv_convert.cu), on stream s.
// Activations are NHWC with c channels; bf16 buffers are passed as void *.
// xp [n, h+2py, w+2px, c] = x with a wrapped halo of py rows, px columns
// (py = px = 0: plain conversion), fp32 or bf16 (to_bf16).
void dfl_cuda_conv_prep_input(cudaStream_t s, int to_bf16, int n, int h, int w, int c, int py, int px, const float *x,
                              void *xp);
// dx [n, h, w, c] = dxp [n, h+2py, w+2px, c] with the halo folded back onto
// the entries it copies (summed).
void dfl_cuda_conv_fold_halo(cudaStream_t s, int from_bf16, int n, int h, int w, int c, int py, int px, const void *dxp,
                             float *dx);
// y (bf16) = x (fp32), total elements of rows of c channels.
void dfl_cuda_to_bf16(cudaStream_t s, size_t total, int c, const float *x, void *y);
// y (fp32) = yt (bf16) + bias[ch] (bias may be NULL).
void dfl_cuda_bf16_to_float_bias(cudaStream_t s, size_t total, int c, const void *yt, const float *bias, float *y);
// wk [o, r, s, i] = w [o, i, r, s] (OIHW -> KRSC, kk = r*s), and back.
void dfl_cuda_oihw_to_krsc(cudaStream_t s, int to_bf16, int o, int ci, int kk, const float *w, void *wk);
void dfl_cuda_krsc_to_oihw(cudaStream_t s, int from_bf16, int o, int ci, int kk, const void *dwk, float *dw);

// y[r, ch] += b[ch] for r < rows (conv/linear bias).
void dfl_cuda_add_bias_rows(dfl_backend *be, size_t rows, int c, float *y, const float *b);

// Stores a host-visible result in device slot `which` (a device double
// already computed by a kernel) and, unless capturing, downloads it.
double dfl_cuda_scalar_result(dfl_backend *be, int which);

// cuBLAS GEMM helpers honouring the backend precision (fp32 accumulation
// always): column-major semantics of cublasGemmEx / StridedBatchedEx.
void dfl_cuda_gemm(dfl_backend *be, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
                   const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
void dfl_cuda_gemm_batched(dfl_backend *be, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           float alpha, const float *a, int lda, long long sa, const float *b, int ldb, long long sb,
                           float beta, float *c, int ldc, long long sc, int batch);

// Registration of the op families (one file each) into the vtable.
void dfl_cuda_register_conv_ops(dfl_backend *be);
void dfl_cuda_register_group_norm_ops(dfl_backend *be);
void dfl_cuda_register_elementwise_ops(dfl_backend *be);
void dfl_cuda_register_layout_ops(dfl_backend *be);
void dfl_cuda_register_input_fill_op(dfl_backend *be);
void dfl_cuda_register_input_fill_spline_op(dfl_backend *be);
void dfl_cuda_register_time_embedding_op(dfl_backend *be);
void dfl_cuda_register_dense_ops(dfl_backend *be);
void dfl_cuda_register_attention_ops(dfl_backend *be);
void dfl_cuda_register_optimizer_ops(dfl_backend *be);
void dfl_cuda_register_method_ops(dfl_backend *be);

// Frees the convolution plan cache (conv_cudnn.cu).
void dfl_cuda_conv_plans_destroy(dfl_cuda_ctx *ctx);

#endif
