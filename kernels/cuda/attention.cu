// Single-head attention over hw tokens (docs/design.md, "The network: dfl-unet v1"), as cuBLAS strided
// batched GEMMs around a row softmax kernel. qkv [n, hw, 3c] holds q | k | v
// per token; probs [n, hw, hw] row i = softmax_j(q_i . k_j / sqrt(c)).
// In cuBLAS's column-major view a row-major [hw, 3c] block is the 3c x hw
// matrix with leading dimension 3c, so q, k, v are the c x hw matrices at
// offsets 0, c, 2c with ld 3c, and probs row-major is P^T column-major.
//   S^T = K^T Q (scaled)       out^T = V P^T
//   dP^T = V^T dout^T          dV^T = dout^T P
//   dS = P (dP - rowsum(dP P)) dQ^T = K dS^T / sqrt(c)    dK^T = Q dS / sqrt(c)
// The softmax sums in double in a fixed order, like the CPU backend; the
// per-element softmax terms and the scale are kernels/shared/attention.h's.
//
// Large tensors: each sample is independent, so when the batch's qkv or
// probs pass 2^31 - 1 elements the op runs on batch chunks under that limit
// (kernels/shared/int_limit.h); one sample's [hw, hw] probabilities over the
// limit (hw > 46340 tokens) are refused with the shape.
#include <math.h>

#include "cuda/cuda_backend_internal.cuh"
#include "cuda/reduce.cuh"
#include "shared/attention.h"
#include "shared/int_limit.h"

#define ATT_THREADS 256

// In place: row r of p [rows, cols] -> softmax.
__global__ void __launch_bounds__(ATT_THREADS) dfl_softmax_rows_kernel(int cols, float *__restrict__ p) {
    __shared__ float shf[33];
    __shared__ double shd[33];
    float *row = p + (size_t)blockIdx.x * cols;
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) mx = fmaxf(mx, row[j]);
    mx = dfl_block_max(mx, shf);
    double sum = 0.0;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        const float e = expf(row[j] - mx);
        row[j] = e;
        sum += (double)e;
    }
    sum = dfl_block_sum(sum, shd);
    const float inv = dfl_softmax_inv_sum(sum);
    for (int j = threadIdx.x; j < cols; j += blockDim.x) row[j] *= inv;
}

// In place on ds (holding dP): ds = P (dP - sum_j dP_j P_j), per row.
__global__ void __launch_bounds__(ATT_THREADS)
    dfl_softmax_rows_backward_kernel(int cols, const float *__restrict__ p, float *__restrict__ ds) {
    __shared__ double shd[33];
    const float *pr = p + (size_t)blockIdx.x * cols;
    float *dr = ds + (size_t)blockIdx.x * cols;
    double dot = 0.0;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) dot += dfl_softmax_bwd_dot_term(dr[j], pr[j]);
    const float fd = (float)dfl_block_sum(dot, shd);
    for (int j = threadIdx.x; j < cols; j += blockDim.x) dr[j] = dfl_softmax_bwd(pr[j], dr[j], fd);
}

static void check_rows(size_t rows) {
    if (rows > 0x7fffffffu) DFL_PANIC("attention: %zu softmax rows exceed the grid limit", rows);
}

// Samples per call: n when the batch fits under the int limit.
static int attention_chunk(int n, int hw, int c) {
    const int64_t pp = (int64_t)hw * hw, pq = (int64_t)hw * 3 * c;
    const int64_t per = pp > pq ? pp : pq;
    const int64_t chunk = dfl_split_batch_for_int_limit(n, per, DFL_INT_LIMIT);
    if (chunk < 1)
        DFL_PANIC(
            "attention: one sample of n=%d hw=%d c=%d has %lld elements (probabilities or qkv), over "
            "cuBLAS's int limit %lld; turn model.attention off or lower the field size (the bottleneck has hw tokens)",
            n, hw, c, (long long)per, (long long)DFL_INT_LIMIT);
    return (int)chunk;
}

static void attention_forward_once(dfl_backend *be, int n, int hw, int c, const float *qkv, float *out, float *probs) {
    const float scale = dfl_attention_scale(c);
    const int ld = 3 * c;
    const long long sqkv = (long long)hw * ld, sp = (long long)hw * hw, so = (long long)hw * c;
    dfl_cuda_gemm_batched(be, CUBLAS_OP_T, CUBLAS_OP_N, hw, hw, c, scale, qkv + c, ld, sqkv, qkv, ld, sqkv, 0.0f, probs,
                          hw, sp, n);
    check_rows((size_t)n * hw);
    dfl_softmax_rows_kernel<<<(unsigned)((size_t)n * hw), ATT_THREADS, 0, dfl_cuda_stream(be)>>>(hw, probs);
    cudaCheckLaunch();
    dfl_cuda_gemm_batched(be, CUBLAS_OP_N, CUBLAS_OP_N, c, hw, hw, 1.0f, qkv + 2 * c, ld, sqkv, probs, hw, sp, 0.0f,
                          out, c, so, n);
}

static void attention_backward_once(dfl_backend *be, int n, int hw, int c, const float *qkv, const float *probs,
                                    const float *dout, float *dqkv) {
    const float scale = dfl_attention_scale(c);
    const int ld = 3 * c;
    const long long sqkv = (long long)hw * ld, sp = (long long)hw * hw, so = (long long)hw * c;
    float *ds = (float *)dfl_cuda_scratch(be, DFL_CUDA_SCR_TMP, (size_t)n * hw * hw * sizeof(float));
    // dP (row-major [hw, hw]) into ds; dV into the v third of dqkv
    dfl_cuda_gemm_batched(be, CUBLAS_OP_T, CUBLAS_OP_N, hw, hw, c, 1.0f, qkv + 2 * c, ld, sqkv, dout, c, so, 0.0f, ds,
                          hw, sp, n);
    dfl_cuda_gemm_batched(be, CUBLAS_OP_N, CUBLAS_OP_T, c, hw, hw, 1.0f, dout, c, so, probs, hw, sp, 0.0f, dqkv + 2 * c,
                          ld, sqkv, n);
    check_rows((size_t)n * hw);
    dfl_softmax_rows_backward_kernel<<<(unsigned)((size_t)n * hw), ATT_THREADS, 0, dfl_cuda_stream(be)>>>(hw, probs,
                                                                                                          ds);
    cudaCheckLaunch();
    dfl_cuda_gemm_batched(be, CUBLAS_OP_N, CUBLAS_OP_N, c, hw, hw, scale, qkv + c, ld, sqkv, ds, hw, sp, 0.0f, dqkv, ld,
                          sqkv, n);
    dfl_cuda_gemm_batched(be, CUBLAS_OP_N, CUBLAS_OP_T, c, hw, hw, scale, qkv, ld, sqkv, ds, hw, sp, 0.0f, dqkv + c, ld,
                          sqkv, n);
}

static void cuda_attention_forward(dfl_backend *be, int n, int hw, int c, const float *qkv, float *out, float *probs) {
    if (n <= 0 || hw <= 0 || c <= 0) return;
    const int chunk = attention_chunk(n, hw, c);
    const size_t sq = (size_t)hw * 3 * c, so = (size_t)hw * c, sp = (size_t)hw * hw;
    for (int64_t i = 0; i < dfl_split_count(n, chunk); ++i) {
        int64_t s0, cnt;
        dfl_split_chunk(n, chunk, i, &s0, &cnt);
        attention_forward_once(be, (int)cnt, hw, c, qkv + (size_t)s0 * sq, out + (size_t)s0 * so,
                               probs + (size_t)s0 * sp);
    }
}

static void cuda_attention_backward(dfl_backend *be, int n, int hw, int c, const float *qkv, const float *probs,
                                    const float *dout, float *dqkv) {
    if (n <= 0 || hw <= 0 || c <= 0) return;
    const int chunk = attention_chunk(n, hw, c);
    const size_t sq = (size_t)hw * 3 * c, so = (size_t)hw * c, sp = (size_t)hw * hw;
    for (int64_t i = 0; i < dfl_split_count(n, chunk); ++i) {
        int64_t s0, cnt;
        dfl_split_chunk(n, chunk, i, &s0, &cnt);
        attention_backward_once(be, (int)cnt, hw, c, qkv + (size_t)s0 * sq, probs + (size_t)s0 * sp,
                                dout + (size_t)s0 * so, dqkv + (size_t)s0 * sq);
    }
}

void dfl_cuda_register_attention_ops(dfl_backend *be) {
    be->attention_forward = cuda_attention_forward;
    be->attention_backward = cuda_attention_backward;
}
