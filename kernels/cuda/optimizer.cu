// Optimiser ops of the CUDA backend over kernels/shared/adamw.h's
// per-element functions (the only copy of the AdamW and EMA formulas):
//  - sum_squares: deterministic two-stage reduction in double (a fixed grid
//    of DFL_SUMSQ_BLOCKS blocks, fixed per-thread striding, fixed tree, one
//    final block);
//  - adamw_update / ema_update: one elementwise pass each;
//  - the multi-tensor AdamW + EMA of include/dynfill/cuda_graph.h: every
//    tensor of a parameter set in one launch, blocks mapped to (tensor,
//    chunk) through a prefix table uploaded once; hyper-parameters and the
//    clipping factor read from device memory so that a captured CUDA graph
//    replays with each step's values.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_backend_internal.cuh"
#include "cuda/reduce.cuh"
#include "shared/adamw.h"

#define OPT_THREADS 256
#define OPT_CHUNK   ((size_t)OPT_THREADS * 64) // elements per block of the multi-tensor kernels

// ---- sum of squares ----

__global__ void __launch_bounds__(DFL_SUMSQ_THREADS)
    dfl_sumsq_partial_kernel(size_t n, const float *__restrict__ x, double *__restrict__ partial) {
    __shared__ double sh[33];
    double s = 0.0;
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    const size_t start = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (((size_t)x & 15u) == 0) {
        const size_t n4 = n / 4;
        const float4 *x4 = (const float4 *)x;
        for (size_t i = start; i < n4; i += stride) {
            const float4 v = x4[i];
            s += (double)v.x * v.x + (double)v.y * v.y + (double)v.z * v.z + (double)v.w * v.w;
        }
        for (size_t i = n4 * 4 + start; i < n; i += stride) s += (double)x[i] * x[i];
    } else {
        for (size_t i = start; i < n; i += stride) s += (double)x[i] * x[i];
    }
    s = dfl_block_sum(s, sh);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

// One block: out = sum of partial[0..count) in a fixed order.
__global__ void __launch_bounds__(DFL_SUMSQ_THREADS)
    dfl_sum_partials_kernel(size_t count, const double *__restrict__ partial, double *__restrict__ out) {
    __shared__ double sh[33];
    double s = 0.0;
    for (size_t i = threadIdx.x; i < count; i += blockDim.x) s += partial[i];
    s = dfl_block_sum(s, sh);
    if (threadIdx.x == 0) *out = s;
}

static double cuda_sum_squares(dfl_backend *be, size_t n, const float *x) {
    dfl_cuda_ctx *ctx = dfl_cuda_ctx_of(be);
    double *slot = &ctx->d_scalars[DFL_CUDA_SCALAR_SUMSQ];
    if (n == 0) {
        cudaCheck(cudaMemsetAsync(slot, 0, sizeof(double), ctx->stream));
    } else {
        dfl_sumsq_partial_kernel<<<DFL_SUMSQ_BLOCKS, DFL_SUMSQ_THREADS, 0, ctx->stream>>>(n, x, ctx->sumsq_partials);
        cudaCheckLaunch();
        dfl_sum_partials_kernel<<<1, DFL_SUMSQ_THREADS, 0, ctx->stream>>>(DFL_SUMSQ_BLOCKS, ctx->sumsq_partials, slot);
        cudaCheckLaunch();
    }
    return dfl_cuda_scalar_result(be, DFL_CUDA_SCALAR_SUMSQ);
}

// ---- single-tensor AdamW and EMA ----

__global__ void dfl_adamw_kernel(size_t n, float *__restrict__ p, const float *__restrict__ g, float *__restrict__ m,
                                 float *__restrict__ v, dfl_adamw_hparams h) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float pi = p[i], mi = m[i], vi = v[i];
        dfl_adamw_element(&pi, &mi, &vi, g[i], &h);
        p[i] = pi;
        m[i] = mi;
        v[i] = vi;
    }
}

__global__ void dfl_ema_kernel(size_t n, float *__restrict__ ema, const float *__restrict__ p, float decay) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float e = ema[i];
        dfl_ema_element(&e, p[i], decay);
        ema[i] = e;
    }
}

static void cuda_adamw_update(dfl_backend *be, size_t n, float *p, const float *g, float *m, float *v,
                              const struct dfl_adamw_hparams_s *h) {
    if (!n) return;
    dfl_adamw_kernel<<<dfl_cuda_blocks(n, OPT_THREADS), OPT_THREADS, 0, dfl_cuda_stream(be)>>>(n, p, g, m, v, *h);
    cudaCheckLaunch();
}

static void cuda_ema_update(dfl_backend *be, size_t n, float *ema, const float *p, float decay) {
    if (!n) return;
    dfl_ema_kernel<<<dfl_cuda_blocks(n, OPT_THREADS), OPT_THREADS, 0, dfl_cuda_stream(be)>>>(n, ema, p, decay);
    cudaCheckLaunch();
}

void dfl_cuda_register_optimizer_ops(dfl_backend *be) {
    be->sum_squares = cuda_sum_squares;
    be->adamw_update = cuda_adamw_update;
    be->ema_update = cuda_ema_update;
}

// ---- multi-tensor parameter sets (include/dynfill/cuda_graph.h) ----

typedef struct {
    float *p, *g, *m, *v, *ema;
    size_t n;
} opt_tensor;

typedef struct {
    dfl_adamw_hparams h;
    float clip; // > 0: scale gradients by dfl_clip_factor(clip, norm) (shared/adamw.h)
    float ema_decay;
} opt_hparams;

struct dfl_cuda_param_set {
    int count;
    unsigned total_chunks;
    opt_tensor *d_tensors;
    unsigned *d_chunk_start; // [count + 1] prefix sums of chunks per tensor
    double *d_partials;      // [total_chunks]
    opt_hparams *d_hp;       // read by the step kernel
    opt_hparams *h_hp;       // pinned staging of d_hp
    cudaEvent_t hp_copied;   // the staging may be rewritten once this passed
    int hp_set;
};

// Block b -> (tensor t, chunk within t) by binary search in the prefix table.
__device__ __forceinline__ int dfl_opt_find_tensor(const unsigned *start, int count, unsigned b) {
    int lo = 0, hi = count - 1;
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        if (start[mid] <= b)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

__global__ void __launch_bounds__(OPT_THREADS)
    dfl_multi_sumsq_kernel(int count, const opt_tensor *__restrict__ ts, const unsigned *__restrict__ start,
                           double *__restrict__ partial) {
    __shared__ double sh[33];
    const int t = dfl_opt_find_tensor(start, count, blockIdx.x);
    const opt_tensor T = ts[t];
    const size_t i0 = (size_t)(blockIdx.x - start[t]) * OPT_CHUNK;
    const size_t i1 = i0 + OPT_CHUNK < T.n ? i0 + OPT_CHUNK : T.n;
    double s = 0.0;
    for (size_t i = i0 + threadIdx.x; i < i1; i += blockDim.x) s += (double)T.g[i] * T.g[i];
    s = dfl_block_sum(s, sh);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

__global__ void __launch_bounds__(OPT_THREADS)
    dfl_multi_adamw_ema_kernel(int count, const opt_tensor *__restrict__ ts, const unsigned *__restrict__ start,
                               const opt_hparams *__restrict__ hp, const double *__restrict__ sumsq) {
    const int t = dfl_opt_find_tensor(start, count, blockIdx.x);
    const opt_tensor T = ts[t];
    dfl_adamw_hparams h = hp->h;
    if (hp->clip > 0.0f) h.grad_scale *= (float)dfl_clip_factor((double)hp->clip, sqrt(*sumsq));
    const float decay = hp->ema_decay;
    const size_t i0 = (size_t)(blockIdx.x - start[t]) * OPT_CHUNK;
    const size_t i1 = i0 + OPT_CHUNK < T.n ? i0 + OPT_CHUNK : T.n;
    for (size_t i = i0 + threadIdx.x; i < i1; i += blockDim.x) {
        float pi = T.p[i], mi = T.m[i], vi = T.v[i];
        dfl_adamw_element(&pi, &mi, &vi, T.g[i], &h);
        T.p[i] = pi;
        T.m[i] = mi;
        T.v[i] = vi;
        if (T.ema) {
            float e = T.ema[i];
            dfl_ema_element(&e, pi, decay);
            T.ema[i] = e;
        }
    }
}

static int is_cuda_backend(dfl_backend *be) { return be && be->name && !strcmp(be->name, "cuda"); }

extern "C" dfl_cuda_param_set *dfl_cuda_param_set_create(dfl_backend *be, int count, float *const *params,
                                                         float *const *grads, float *const *adam_m,
                                                         float *const *adam_v, float *const *ema, const size_t *sizes) {
    if (!is_cuda_backend(be)) {
        dfl_fail(DFL_EUSAGE, "dfl_cuda_param_set_create: not a CUDA backend");
        return NULL;
    }
    if (count <= 0 || !params || !grads || !adam_m || !adam_v || !sizes) {
        dfl_fail(DFL_EUSAGE, "dfl_cuda_param_set_create: empty or incomplete tensor list");
        return NULL;
    }
    opt_tensor *ht = (opt_tensor *)dfl_xcalloc((size_t)count, sizeof *ht);
    unsigned *hs = (unsigned *)dfl_xcalloc((size_t)count + 1, sizeof *hs);
    size_t chunks = 0;
    for (int i = 0; i < count; ++i) {
        ht[i].p = params[i];
        ht[i].g = grads[i];
        ht[i].m = adam_m[i];
        ht[i].v = adam_v[i];
        ht[i].ema = ema ? ema[i] : NULL;
        ht[i].n = sizes[i];
        hs[i] = (unsigned)chunks;
        chunks += (sizes[i] + OPT_CHUNK - 1) / OPT_CHUNK;
    }
    hs[count] = (unsigned)chunks;
    if (chunks == 0 || chunks > 0x7fffffffu) {
        free(ht);
        free(hs);
        dfl_fail(DFL_EUSAGE, "dfl_cuda_param_set_create: %zu chunks (empty tensors or too many elements)", chunks);
        return NULL;
    }
    dfl_cuda_param_set *s = (dfl_cuda_param_set *)dfl_xcalloc(1, sizeof *s);
    s->count = count;
    s->total_chunks = (unsigned)chunks;
    cudaStream_t st = dfl_cuda_stream(be);
    cudaCheck(cudaMalloc(&s->d_tensors, (size_t)count * sizeof(opt_tensor)));
    cudaCheck(cudaMalloc(&s->d_chunk_start, ((size_t)count + 1) * sizeof(unsigned)));
    cudaCheck(cudaMalloc(&s->d_partials, chunks * sizeof(double)));
    cudaCheck(cudaMalloc(&s->d_hp, sizeof(opt_hparams)));
    cudaCheck(cudaMallocHost(&s->h_hp, sizeof(opt_hparams)));
    cudaCheck(cudaEventCreateWithFlags(&s->hp_copied, cudaEventDisableTiming));
    cudaCheck(cudaMemcpyAsync(s->d_tensors, ht, (size_t)count * sizeof(opt_tensor), cudaMemcpyHostToDevice, st));
    cudaCheck(
        cudaMemcpyAsync(s->d_chunk_start, hs, ((size_t)count + 1) * sizeof(unsigned), cudaMemcpyHostToDevice, st));
    cudaCheck(cudaStreamSynchronize(st));
    free(ht);
    free(hs);
    return s;
}

extern "C" void dfl_cuda_param_set_destroy(dfl_backend *be, dfl_cuda_param_set *s) {
    if (!s) return;
    cudaCheck(cudaStreamSynchronize(dfl_cuda_stream(be)));
    cudaCheck(cudaFree(s->d_tensors));
    cudaCheck(cudaFree(s->d_chunk_start));
    cudaCheck(cudaFree(s->d_partials));
    cudaCheck(cudaFree(s->d_hp));
    cudaCheck(cudaFreeHost(s->h_hp));
    cudaCheck(cudaEventDestroy(s->hp_copied));
    free(s);
}

extern "C" void dfl_cuda_param_set_hparams(dfl_backend *be, dfl_cuda_param_set *s, const struct dfl_adamw_hparams_s *h,
                                           float clip, float ema_decay) {
    dfl_cuda_ctx *ctx = dfl_cuda_ctx_of(be);
    if (ctx->capturing)
        DFL_PANIC("dfl_cuda_param_set_hparams during graph capture: set the hyper-parameters before each replay");
    if (s->hp_set) cudaCheck(cudaEventSynchronize(s->hp_copied)); // the previous copy has read the staging
    s->h_hp->h = *h;
    s->h_hp->clip = clip;
    s->h_hp->ema_decay = ema_decay;
    cudaCheck(cudaMemcpyAsync(s->d_hp, s->h_hp, sizeof(opt_hparams), cudaMemcpyHostToDevice, ctx->stream));
    cudaCheck(cudaEventRecord(s->hp_copied, ctx->stream));
    s->hp_set = 1;
}

extern "C" void dfl_cuda_param_set_grad_sumsq(dfl_backend *be, dfl_cuda_param_set *s) {
    dfl_cuda_ctx *ctx = dfl_cuda_ctx_of(be);
    dfl_multi_sumsq_kernel<<<s->total_chunks, OPT_THREADS, 0, ctx->stream>>>(s->count, s->d_tensors, s->d_chunk_start,
                                                                             s->d_partials);
    cudaCheckLaunch();
    dfl_sum_partials_kernel<<<1, DFL_SUMSQ_THREADS, 0, ctx->stream>>>(s->total_chunks, s->d_partials,
                                                                      &ctx->d_scalars[DFL_CUDA_SCALAR_SUMSQ]);
    cudaCheckLaunch();
}

extern "C" void dfl_cuda_param_set_step(dfl_backend *be, dfl_cuda_param_set *s) {
    dfl_cuda_ctx *ctx = dfl_cuda_ctx_of(be);
    if (!s->hp_set) DFL_PANIC("dfl_cuda_param_set_step before dfl_cuda_param_set_hparams");
    dfl_multi_adamw_ema_kernel<<<s->total_chunks, OPT_THREADS, 0, ctx->stream>>>(
        s->count, s->d_tensors, s->d_chunk_start, s->d_hp, &ctx->d_scalars[DFL_CUDA_SCALAR_SUMSQ]);
    cudaCheckLaunch();
}
