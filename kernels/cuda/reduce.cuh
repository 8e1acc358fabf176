// Deterministic block-level reductions for the CUDA kernels. The order of
// every addition depends only on blockDim and the data layout, never on
// timing, so a reduction gives the same bits run after run (backend.h:
// "every op is deterministic").
#ifndef DYNFILL_CUDA_REDUCE_CUH
#define DYNFILL_CUDA_REDUCE_CUH

#include <cuda_runtime.h>

// Sum over the threads of one warp into lane 0, correct for a partial last
// warp (lanes beyond the block contribute nothing).
template <typename T> __device__ __forceinline__ T dfl_warp_sum_to_lane0(T v) {
    const int lane = threadIdx.x & 31;
    const int first = threadIdx.x & ~31;
    const int live = (int)blockDim.x - first < 32 ? (int)blockDim.x - first : 32;
    const unsigned mask = live == 32 ? 0xffffffffu : ((1u << live) - 1u);
    for (int o = 16; o > 0; o >>= 1) {
        T other = __shfl_down_sync(mask, v, o);
        if (lane + o < live) v += other;
    }
    return v;
}

// Sum of v over the whole (1-D) block, returned to every thread. sh must
// hold at least 33 elements of shared memory; it may be reused right after.
template <typename T> __device__ __forceinline__ T dfl_block_sum(T v, T *sh) {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int nwarps = (blockDim.x + 31) >> 5;
    v = dfl_warp_sum_to_lane0(v);
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    if (threadIdx.x == 0) {
        T s = sh[0];
        for (int w = 1; w < nwarps; ++w) s += sh[w];
        sh[32] = s;
    }
    __syncthreads();
    T r = sh[32];
    __syncthreads();
    return r;
}

// Maximum of v over the whole (1-D) block, returned to every thread.
__device__ __forceinline__ float dfl_block_max(float v, float *sh) {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int nwarps = (blockDim.x + 31) >> 5;
    const int first = threadIdx.x & ~31;
    const int live = (int)blockDim.x - first < 32 ? (int)blockDim.x - first : 32;
    const unsigned mask = live == 32 ? 0xffffffffu : ((1u << live) - 1u);
    for (int o = 16; o > 0; o >>= 1) {
        const float other = __shfl_down_sync(mask, v, o);
        if (lane + o < live) v = fmaxf(v, other);
    }
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    if (threadIdx.x == 0) {
        float m = sh[0];
        for (int w = 1; w < nwarps; ++w) m = fmaxf(m, sh[w]);
        sh[32] = m;
    }
    __syncthreads();
    const float r = sh[32];
    __syncthreads();
    return r;
}

#endif
