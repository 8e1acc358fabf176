// Linear layers through cuBLAS (docs/design.md, "The network: dfl-unet v1"), and the GEMM helpers the
// attention op shares. Row-major [rows, cols] matrices are read by cuBLAS
// (column-major) as their transposes, so y = x W^T becomes
// y^T = W x^T: gemm(T, N, m = out, n = rows, k = in, W, x).
//
// Precision: inputs and outputs stay fp32 in memory; the compute type picks
// the arithmetic with fp32 accumulation always: FP32 -> CUBLAS_COMPUTE_32F
// (with the handle in pedantic math: no TF32), TF32 ->
// CUBLAS_COMPUTE_32F_FAST_TF32, BF16 -> CUBLAS_COMPUTE_32F_FAST_16BF
// (cuBLAS rounds the operands to bf16 inside the kernel, no copies).
//
// Large tensors: cuBLAS's 32-bit API takes int dimensions. When x or y of a
// linear layer passes 2^31 - 1 elements, the rows are taken in chunks under
// that limit (kernels/shared/int_limit.h): y and dx chunk by chunk, dW
// accumulated over the chunks by the GEMM itself (beta = 1 after the first,
// fp32 output), db over all rows at once.
#include "cuda/cuda_backend_internal.cuh"
#include "shared/int_limit.h"

static cublasComputeType_t compute_type(dfl_precision p) {
    switch (p) {
    case DFL_PRECISION_TF32: return CUBLAS_COMPUTE_32F_FAST_TF32;
    case DFL_PRECISION_BF16: return CUBLAS_COMPUTE_32F_FAST_16BF;
    default: return CUBLAS_COMPUTE_32F;
    }
}

void dfl_cuda_gemm(dfl_backend *be, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
                   const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    if (m <= 0 || n <= 0) return;
    dfl_cuda_ctx *ctx = dfl_cuda_ctx_of(be);
    cublasCheck(cublasGemmEx(ctx->cublas, ta, tb, m, n, k, &alpha, a, CUDA_R_32F, lda, b, CUDA_R_32F, ldb, &beta, c,
                             CUDA_R_32F, ldc, compute_type(be->precision), CUBLAS_GEMM_DEFAULT));
}

void dfl_cuda_gemm_batched(dfl_backend *be, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           float alpha, const float *a, int lda, long long sa, const float *b, int ldb, long long sb,
                           float beta, float *c, int ldc, long long sc, int batch) {
    if (m <= 0 || n <= 0 || batch <= 0) return;
    dfl_cuda_ctx *ctx = dfl_cuda_ctx_of(be);
    cublasCheck(cublasGemmStridedBatchedEx(ctx->cublas, ta, tb, m, n, k, &alpha, a, CUDA_R_32F, lda, sa, b, CUDA_R_32F,
                                           ldb, sb, &beta, c, CUDA_R_32F, ldc, sc, batch, compute_type(be->precision),
                                           CUBLAS_GEMM_DEFAULT));
}

// Rows per GEMM for x [rows, in] and y [rows, out] (rows itself when they fit).
static int linear_chunk(int rows, int in, int out) {
    const int64_t per = in > out ? in : out;
    const int64_t chunk = dfl_split_batch_for_int_limit(rows, per, DFL_INT_LIMIT);
    if (chunk < 1) DFL_PANIC("linear: rows=%d in=%d out=%d cannot be split under cuBLAS's int limit", rows, in, out);
    return (int)chunk;
}

// y[rows, out] = x[rows, in] W^T + b.
static void cuda_linear_forward(dfl_backend *be, int rows, int in, int out, const float *x, const float *w,
                                const float *b, float *y) {
    if (rows <= 0 || out <= 0) return;
    if (in <= 0) {
        cudaCheck(cudaMemsetAsync(y, 0, (size_t)rows * out * sizeof(float), dfl_cuda_stream(be)));
    } else {
        const int chunk = linear_chunk(rows, in, out);
        for (int64_t i = 0; i < dfl_split_count(rows, chunk); ++i) {
            int64_t r0, rc;
            dfl_split_chunk(rows, chunk, i, &r0, &rc);
            dfl_cuda_gemm(be, CUBLAS_OP_T, CUBLAS_OP_N, out, (int)rc, in, 1.0f, w, in, x + (size_t)r0 * in, in, 0.0f,
                          y + (size_t)r0 * out, out);
        }
    }
    if (b) dfl_cuda_add_bias_rows(be, (size_t)rows, out, y, b);
}

// dx = dy W (dx^T = W^T dy^T), dW = dy^T x (dW^T = x^T dy), db = column sums of dy.
static void cuda_linear_backward(dfl_backend *be, int rows, int in, int out, const float *x, const float *w,
                                 const float *dy, float *dx, float *dw, float *db) {
    if (in <= 0 || out <= 0) return;
    if (rows <= 0) {
        cudaStream_t s = dfl_cuda_stream(be);
        cudaCheck(cudaMemsetAsync(dw, 0, (size_t)out * in * sizeof(float), s));
        if (db) cudaCheck(cudaMemsetAsync(db, 0, (size_t)out * sizeof(float), s));
        return;
    }
    const int chunk = linear_chunk(rows, in, out);
    for (int64_t i = 0; i < dfl_split_count(rows, chunk); ++i) {
        int64_t r0, rc;
        dfl_split_chunk(rows, chunk, i, &r0, &rc);
        const float *xc = x + (size_t)r0 * in, *dyc = dy + (size_t)r0 * out;
        if (dx)
            dfl_cuda_gemm(be, CUBLAS_OP_N, CUBLAS_OP_N, in, (int)rc, out, 1.0f, w, in, dyc, out, 0.0f,
                          dx + (size_t)r0 * in, in);
        dfl_cuda_gemm(be, CUBLAS_OP_N, CUBLAS_OP_T, in, out, (int)rc, 1.0f, xc, in, dyc, out, i == 0 ? 0.0f : 1.0f, dw,
                      in);
    }
    if (db) dfl_cuda_colsum(be, 1, (size_t)rows, out, dy, db);
}

void dfl_cuda_register_dense_ops(dfl_backend *be) {
    be->linear_forward = cuda_linear_forward;
    be->linear_backward = cuda_linear_backward;
}
