// Fused method ops of the CUDA backend (docs/design.md, "Backend interface",
// include/dynfill/method_ops.h): noise_context, qmse, ensemble_build and
// ensemble_reduce. The per-pixel and per-element math is the shared code
// of kernels/shared (noise_context.h, mask_strategy.h, qmse.h,
// ensemble.h) that the CPU backend runs too; Philox keyed by (seed, step,
// sample, element) makes both backends draw identical masks and noise.
//
//  - noise_context / ensemble_build: one launch over every (slot, pixel)
//    of the batch (all N*K ensemble inputs at once). A block takes
//    MO_PIXELS pixels of one slot, one thread per pixel running
//    dfl_context_pixel; the 2C input values are staged in shared memory
//    and written out coalesced. Query bits are written per channel plane
//    (coalesced bytes); per-slot query counts are integer sums (block sum
//    then one atomicAdd per block: exact, so deterministic).
//  - qmse: a tile of pixels per block; pred is read into shared memory
//    (NHWC, coalesced), x_obs and query are read plane by plane (NCHW,
//    coalesced), the gradient is written back through the tile. Squares are
//    summed in double per block (fixed order), block partials are summed by
//    one final block in block order: the loss is deterministic. When the
//    caller gives no normaliser, a first pass counts the query bytes.
//  - ensemble_reduce: one thread per output element, two passes over the
//    K draws in double (dfl_ensemble_stats), mean and spread together.
#include <stdint.h>

#include "cuda/cuda_backend_internal.cuh"
#include "cuda/reduce.cuh"
#include "dynfill/method_ops.h"
#include "shared/ensemble.h"
#include "shared/mask_strategy.h"
#include "shared/noise_context.h"
#include "shared/qmse.h"

#define MO_PIXELS        128 // pixels (threads) per block of the input builders
#define MO_SMEM_MAX_C    32  // channels up to which inputs are staged in shared memory
#define QMSE_THREADS     256
#define QMSE_TILE_FLOATS 4096 // pred tile per block (16 KiB)
#define ENS_THREADS      256

// ---- network inputs (noise_context, ensemble_build) ----

__global__ void __launch_bounds__(MO_PIXELS)
    dfl_context_inputs_kernel(dfl_mask_rule rule, const void *__restrict__ plan, long long blocks_per_slot, int c,
                              int h, int w, int mc, const float *__restrict__ x, const uint8_t *__restrict__ mask,
                              const uint8_t *__restrict__ partner_masks, int strategy, int x_is_state, int context_full,
                              float *__restrict__ net_input, uint8_t *__restrict__ query,
                              int32_t *__restrict__ query_count, int staged) {
    extern __shared__ float tile[]; // [MO_PIXELS][2c] when staged
    __shared__ int sh_count[33];
    const long long hw = (long long)h * w, chw = (long long)c * hw;
    const long long s = blockIdx.x / blocks_per_slot;
    const long long p0 = (blockIdx.x % blocks_per_slot) * MO_PIXELS;
    const int np = (int)(hw - p0 < MO_PIXELS ? hw - p0 : MO_PIXELS);
    const long long row = 2LL * c;
    float *out = net_input + (s * hw + p0) * row;
    int count = 0;
    if ((int)threadIdx.x < np) {
        const dfl_context_slot cs =
            dfl_context_slot_make(plan, s, c, h, w, mc, x, mask, partner_masks, strategy, x_is_state, context_full);
        const long long p = p0 + threadIdx.x;
        float *dst = staged ? tile + threadIdx.x * row : out + threadIdx.x * row;
        count = dfl_context_pixel(&rule, &cs, (int)(p / w), (int)(p % w), dst, query ? query + s * chw : NULL);
    }
    if (staged) {
        __syncthreads();
        const long long nvals = (long long)np * row;
        for (long long t = threadIdx.x; t < nvals; t += blockDim.x) out[t] = tile[t];
    }
    if (query_count) {
        const int total = dfl_block_sum(count, sh_count);
        if (threadIdx.x == 0 && total) atomicAdd(&query_count[s], total);
    }
}

static void build_inputs(dfl_backend *be, const dfl_mask_rule *mp, const void *plan, long long slots, int c, int h,
                         int w, int mc, const float *x, const uint8_t *mask, const uint8_t *partner_masks,
                         int x_is_state, int context_full, float *net_input, uint8_t *query, int32_t *query_count) {
    cudaStream_t st = dfl_cuda_stream(be);
    if (query_count) cudaCheck(cudaMemsetAsync(query_count, 0, (size_t)slots * sizeof(int32_t), st));
    const long long hw = (long long)h * w;
    if (slots <= 0 || hw <= 0) return;
    const long long bps = (hw + MO_PIXELS - 1) / MO_PIXELS;
    const long long blocks = bps * slots;
    if (blocks > 0x7fffffffLL) DFL_PANIC("method ops: %lld blocks exceed the grid limit", blocks);
    const dfl_mask_rule rule = *mp;
    const int staged = c <= MO_SMEM_MAX_C;
    const size_t smem = staged ? (size_t)MO_PIXELS * 2 * c * sizeof(float) : 0;
    dfl_context_inputs_kernel<<<(unsigned)blocks, MO_PIXELS, smem, st>>>(
        rule, plan, bps, c, h, w, mc, x, mask, partner_masks, (int)mp->strategy, x_is_state, context_full, net_input,
        query, query_count, staged);
    cudaCheckLaunch();
}

static void check_common(int c, int mc, const dfl_mask_rule *mp, const uint8_t *partner_masks) {
    if (mc != 1 && mc != c) DFL_PANIC("method ops: mask_channels %d must be 1 or c = %d", mc, c);
    if (mp->strategy == DFL_STRATEGY_EMPIRICAL && !partner_masks)
        DFL_PANIC("method ops: the empirical strategy needs partner_masks");
}

static void cuda_noise_context(dfl_backend *be, const dfl_noise_context_args *a) {
    check_common(a->c, a->mask_channels, &a->rule, a->partner_masks);
    build_inputs(be, &a->rule, a->plan, a->n, a->c, a->h, a->w, a->mask_channels, a->x_obs, a->mask, a->partner_masks,
                 0, 0, a->net_input, a->query, a->query_count);
}

static void cuda_ensemble_build(dfl_backend *be, const dfl_ensemble_build_args *a) {
    check_common(a->c, a->mask_channels, &a->rule, a->partner_masks);
    if (a->k < 1) DFL_PANIC("ensemble_build: k = %d", a->k);
    build_inputs(be, &a->rule, a->plan, (long long)a->n * a->k, a->c, a->h, a->w, a->mask_channels, a->x, a->mask,
                 a->partner_masks, a->x_is_state, a->context_full, a->net_input, NULL, NULL);
}

// ---- qmse ----

// count += number of nonzero query bytes (integer: exact in any order).
__global__ void __launch_bounds__(QMSE_THREADS)
    dfl_query_count_kernel(size_t elems, const uint8_t *__restrict__ q, unsigned long long *__restrict__ count) {
    __shared__ unsigned long long sh[33];
    unsigned long long local = 0;
    const size_t stride = (size_t)gridDim.x * blockDim.x, start = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (((size_t)q & 15u) == 0) {
        const size_t n16 = elems / 16;
        const uint4 *q16 = (const uint4 *)q;
        for (size_t i = start; i < n16; i += stride) {
            const uint4 v = q16[i];
            const unsigned words[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
            for (int k = 0; k < 4; ++k)
#pragma unroll
                for (int b = 0; b < 4; ++b) local += ((words[k] >> (8 * b)) & 0xffu) != 0;
        }
        for (size_t i = n16 * 16 + start; i < elems; i += stride) local += q[i] != 0;
    } else {
        for (size_t i = start; i < elems; i += stride) local += q[i] != 0;
    }
    local = dfl_block_sum(local, sh);
    if (threadIdx.x == 0 && local) atomicAdd(count, local);
}

// partial[2 b] = sum of squares, partial[2 b + 1] = query count of block b.
__global__ void __launch_bounds__(QMSE_THREADS)
    dfl_qmse_kernel(int c, long long hw, long long pixels, int tile_pixels, const float *__restrict__ pred,
                    const float *__restrict__ x_obs, const uint8_t *__restrict__ query,
                    const float *__restrict__ row_weight, int h, int w, double denom,
                    const unsigned long long *__restrict__ count, float *__restrict__ grad,
                    double *__restrict__ partial) {
    extern __shared__ float tile[]; // [tile_pixels][c] NHWC
    __shared__ double sh[33];
    const double D = denom > 0.0 ? denom : (double)*count;
    const float two_over_d = dfl_qmse_two_over_d(D);
    const long long p0 = (long long)blockIdx.x * tile_pixels;
    const int np = (int)(pixels - p0 < tile_pixels ? pixels - p0 : tile_pixels);
    const int nv = np * c;
    const float *pb = pred + p0 * c;
    for (int t = threadIdx.x; t < nv; t += blockDim.x) tile[t] = pb[t];
    __syncthreads();
    double sum = 0.0, cnt = 0.0;
    for (int t = threadIdx.x; t < nv; t += blockDim.x) {
        const int ch = t / np, k = t % np; // NCHW order inside the tile: coalesced x_obs / query
        const long long p = p0 + k, i = p / hw, pp = p % hw;
        const long long o = (i * c + ch) * hw + pp;
        const int q = query[o] != 0;
        const float pr = tile[k * c + ch];
        const float ob = x_obs[o];
        cnt += q;
        if (row_weight) { // latitude weighting: the row's weight r
            const float r = row_weight[i * h + pp / w];
            sum += dfl_qmse_sq_weighted(pr, ob, q, r);
            if (grad) tile[k * c + ch] = dfl_qmse_grad_weighted(pr, ob, q, two_over_d, r);
            continue;
        }
        sum += dfl_qmse_sq(pr, ob, q);
        if (grad) tile[k * c + ch] = dfl_qmse_grad(pr, ob, q, two_over_d);
    }
    if (grad) {
        __syncthreads();
        float *gb = grad + p0 * c;
        for (int t = threadIdx.x; t < nv; t += blockDim.x) gb[t] = tile[t];
    }
    sum = dfl_block_sum(sum, sh);
    cnt = dfl_block_sum(cnt, sh);
    if (threadIdx.x == 0) {
        partial[2 * (size_t)blockIdx.x] = sum;
        partial[2 * (size_t)blockIdx.x + 1] = cnt;
    }
}

// One block: totals in block order; out[0] = loss, out[2] = sum, out[3] = count
// (the DFL_CUDA_SCALAR_QMSE* slots).
__global__ void __launch_bounds__(QMSE_THREADS)
    dfl_qmse_final_kernel(long long blocks, const double *__restrict__ partial, double denom,
                          const unsigned long long *__restrict__ count, double *__restrict__ out) {
    __shared__ double sh[33];
    double s = 0.0, n = 0.0;
    for (long long b = threadIdx.x; b < blocks; b += blockDim.x) {
        s += partial[2 * b];
        n += partial[2 * b + 1];
    }
    s = dfl_block_sum(s, sh);
    n = dfl_block_sum(n, sh);
    if (threadIdx.x == 0) {
        const double D = denom > 0.0 ? denom : (double)*count;
        out[DFL_CUDA_SCALAR_QMSE] = dfl_qmse_loss(s, D);
        out[DFL_CUDA_SCALAR_QMSE_SUM] = s;
        out[DFL_CUDA_SCALAR_QMSE_COUNT] = n;
    }
}

static double cuda_qmse(dfl_backend *be, const dfl_qmse_args *a) {
    dfl_cuda_ctx *ctx = dfl_cuda_ctx_of(be);
    cudaStream_t st = ctx->stream;
    const int c = a->c;
    const long long hw = (long long)a->h * a->w, pixels = (long long)a->n * hw;
    if (c < 1 || c > QMSE_TILE_FLOATS) DFL_PANIC("qmse: %d channels (1..%d supported)", c, QMSE_TILE_FLOATS);
    const int tile_pixels = QMSE_TILE_FLOATS / c < 128 ? QMSE_TILE_FLOATS / c : 128;
    const long long blocks = pixels > 0 ? (pixels + tile_pixels - 1) / tile_pixels : 0;
    if (blocks > 0x7fffffffLL) DFL_PANIC("qmse: %lld blocks exceed the grid limit", blocks);
    // scratch: [256 bytes: query counter][2 * blocks doubles: partials]
    char *scr = (char *)dfl_cuda_scratch(be, DFL_CUDA_SCR_REDUCE, 256 + 2 * (size_t)(blocks > 0 ? blocks : 1) * 8);
    unsigned long long *count = (unsigned long long *)scr;
    double *partial = (double *)(scr + 256);
    const double denom = a->denom > 0.0 ? a->denom : 0.0;
    if (!(denom > 0.0)) {
        cudaCheck(cudaMemsetAsync(count, 0, sizeof *count, st));
        const size_t elems = (size_t)pixels * c;
        if (elems) {
            unsigned grid = dfl_cuda_blocks(elems / 16 + 1, QMSE_THREADS);
            if (grid > (unsigned)ctx->sm_count * 8) grid = (unsigned)ctx->sm_count * 8;
            dfl_query_count_kernel<<<grid, QMSE_THREADS, 0, st>>>(elems, a->query, count);
            cudaCheckLaunch();
        }
    }
    if (blocks > 0) {
        dfl_qmse_kernel<<<(unsigned)blocks, QMSE_THREADS, (size_t)tile_pixels * c * sizeof(float), st>>>(
            c, hw, pixels, tile_pixels, a->pred, a->x_obs, a->query, a->row_weight, a->h, a->w, denom, count, a->grad,
            partial);
        cudaCheckLaunch();
    }
    dfl_qmse_final_kernel<<<1, QMSE_THREADS, 0, st>>>(blocks, partial, denom, count, ctx->d_scalars);
    cudaCheckLaunch();
    if (ctx->capturing) return NAN; // read the slots after the replay (include/dynfill/cuda_graph.h)
    cudaCheck(cudaMemcpyAsync(ctx->h_scalars, ctx->d_scalars, DFL_CUDA_SCALAR_COUNT * sizeof(double),
                              cudaMemcpyDeviceToHost, st));
    cudaCheck(cudaStreamSynchronize(st));
    if (a->sum_sq) *a->sum_sq = ctx->h_scalars[DFL_CUDA_SCALAR_QMSE_SUM];
    if (a->count) *a->count = ctx->h_scalars[DFL_CUDA_SCALAR_QMSE_COUNT];
    return ctx->h_scalars[DFL_CUDA_SCALAR_QMSE];
}

// ---- ensemble_reduce ----

// Thread per element in NHWC order of one draw (coalesced reads of each
// draw); mean / std written to NCHW.
__global__ void dfl_ensemble_reduce_kernel(long long total, int k, int c, long long hw, const float *__restrict__ pred,
                                           float *__restrict__ mean, float *__restrict__ std) {
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        const long long i = e / (hw * c), r = e % (hw * c), pp = r / c;
        const int ch = (int)(r % c);
        const float *first = pred + ((i * k) * hw + pp) * c + ch;
        const long long o = (i * c + ch) * hw + pp;
        dfl_ensemble_stats(first, hw * c, k, &mean[o], std ? &std[o] : NULL);
    }
}

static void cuda_ensemble_reduce(dfl_backend *be, const dfl_ensemble_reduce_args *a) {
    if (a->k < 1) DFL_PANIC("ensemble_reduce: k = %d", a->k);
    const long long hw = (long long)a->h * a->w, total = (long long)a->n * hw * a->c;
    if (total <= 0) return;
    dfl_ensemble_reduce_kernel<<<dfl_cuda_blocks((size_t)total, ENS_THREADS), ENS_THREADS, 0, dfl_cuda_stream(be)>>>(
        total, a->k, a->c, hw, a->pred, a->mean, a->std);
    cudaCheckLaunch();
}

void dfl_cuda_register_method_ops(dfl_backend *be) {
    be->noise_context = cuda_noise_context;
    be->qmse = cuda_qmse;
    be->ensemble_build = cuda_ensemble_build;
    be->ensemble_reduce = cuda_ensemble_reduce;
}
