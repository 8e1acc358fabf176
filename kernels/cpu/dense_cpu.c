/* Dense ops of the CPU backend: linear layers and single-head attention
 * (docs/design.md, "The network: dfl-unet v1"), with the GEMMs in oneDNN's dnnl_sgemm (row-major). */
#include "cpu/cpu_backend_internal.h"
#include "cpu/fast_math_cpu.h"
#include "shared/attention.h"

/* C[M,N] = alpha op(A) op(B) + beta C, row-major. */
static void sgemm(char ta, char tb, long m, long n, long k, float alpha, const float *a, long lda, const float *b,
                  long ldb, float beta, float *c, long ldc) {
    dnnlCheck(dnnl_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
}

/* y[rows, out] = x W^T + b: rows of y start as b, then the GEMM adds. */
static void cpu_linear_forward(dfl_backend *be, int rows, int in, int out, const float *x, const float *w,
                               const float *b, float *y) {
    (void)be;
    if (b) {
        for (int r = 0; r < rows; ++r)
            for (int o = 0; o < out; ++o) y[(size_t)r * out + o] = b[o];
    }
    sgemm('N', 'T', rows, out, in, 1.0f, x, in, w, in, b ? 1.0f : 0.0f, y, out);
}

static void cpu_linear_backward(dfl_backend *be, int rows, int in, int out, const float *x, const float *w,
                                const float *dy, float *dx, float *dw, float *db) {
    if (dx) sgemm('N', 'N', rows, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
    sgemm('T', 'N', out, in, rows, 1.0f, dy, out, x, in, 0.0f, dw, in);
    if (db) {
        double *acc = dfl_cpu_ws(be, DFL_CPU_WS_REDUCE, (size_t)out * sizeof(double));
        for (int o = 0; o < out; ++o) acc[o] = 0.0;
        for (int r = 0; r < rows; ++r) {
            const float *d = dy + (size_t)r * out;
#pragma omp simd
            for (int o = 0; o < out; ++o) acc[o] += (double)d[o];
        }
        for (int o = 0; o < out; ++o) db[o] = (float)acc[o];
    }
}

/* Row-wise softmax of p [rows, cols] in place. */
static void softmax_rows(int rows, int cols, float *p) {
#pragma omp parallel for schedule(static) if ((long)rows * cols > 32768)
    for (int r = 0; r < rows; ++r) {
        float *row = p + (size_t)r * cols;
        float mx = row[0];
        for (int j = 1; j < cols; ++j) mx = row[j] > mx ? row[j] : mx;
        double sum = 0.0;
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < cols; ++j) {
            row[j] = dfl_cpu_expf(row[j] - mx);
            sum += (double)row[j];
        }
        const float inv = dfl_softmax_inv_sum(sum);
#pragma omp simd
        for (int j = 0; j < cols; ++j) row[j] *= inv;
    }
}

/* Per sample: S = Q K^T / sqrt(c), P = softmax_rows(S), out = P V, with
 * q, k, v interleaved per token in qkv [hw, 3c]. */
static void cpu_attention_forward(dfl_backend *be, int n, int hw, int c, const float *qkv, float *out, float *probs) {
    (void)be;
    const float scale = dfl_attention_scale(c);
    const long ld = 3L * c;
    for (int i = 0; i < n; ++i) {
        const float *q = qkv + (size_t)i * hw * ld, *k = q + c, *v = q + 2 * c;
        float *p = probs + (size_t)i * hw * hw;
        sgemm('N', 'T', hw, hw, c, scale, q, ld, k, ld, 0.0f, p, hw);
        softmax_rows(hw, hw, p);
        sgemm('N', 'N', hw, c, hw, 1.0f, p, hw, v, ld, 0.0f, out + (size_t)i * hw * c, c);
    }
}

/* dP = dout V^T, dV = P^T dout, dS = P (dP - rowsum(dP P)),
 * dQ = dS K / sqrt(c), dK = dS^T Q / sqrt(c); the per-element softmax
 * terms are kernels/shared/attention.h's. */
static void cpu_attention_backward(dfl_backend *be, int n, int hw, int c, const float *qkv, const float *probs,
                                   const float *dout, float *dqkv) {
    const float scale = dfl_attention_scale(c);
    const long ld = 3L * c;
    float *ds = dfl_cpu_ws(be, DFL_CPU_WS_TMP, (size_t)hw * hw * sizeof(float));
    for (int i = 0; i < n; ++i) {
        const float *q = qkv + (size_t)i * hw * ld, *k = q + c, *v = q + 2 * c;
        const float *p = probs + (size_t)i * hw * hw, *dO = dout + (size_t)i * hw * c;
        float *dq = dqkv + (size_t)i * hw * ld, *dk = dq + c, *dv = dq + 2 * c;
        sgemm('N', 'T', hw, hw, c, 1.0f, dO, c, v, ld, 0.0f, ds, hw);
        sgemm('T', 'N', hw, c, hw, 1.0f, p, hw, dO, c, 0.0f, dv, ld);
#pragma omp parallel for schedule(static) if ((long)hw * hw > 32768)
        for (int r = 0; r < hw; ++r) {
            const float *pr = p + (size_t)r * hw;
            float *dr = ds + (size_t)r * hw;
            double dot = 0.0;
#pragma omp simd reduction(+ : dot)
            for (int j = 0; j < hw; ++j) dot += dfl_softmax_bwd_dot_term(dr[j], pr[j]);
            const float fd = (float)dot;
#pragma omp simd
            for (int j = 0; j < hw; ++j) dr[j] = dfl_softmax_bwd(pr[j], dr[j], fd);
        }
        sgemm('N', 'N', hw, c, hw, scale, ds, hw, k, ld, 0.0f, dq, ld);
        sgemm('T', 'N', hw, c, hw, scale, ds, hw, q, ld, 0.0f, dk, ld);
    }
}

void dfl_cpu_register_dense_ops(dfl_backend *be) {
    be->linear_forward = cpu_linear_forward;
    be->linear_backward = cpu_linear_backward;
    be->attention_forward = cpu_attention_forward;
    be->attention_backward = cpu_attention_backward;
}
