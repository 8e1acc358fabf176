// Deterministic column sums and row-broadcast bias adds shared by the conv,
// linear, channel-bias and group-norm ops of the CUDA backend.
#include "cuda/cuda_backend_internal.cuh"

#define DFL_COLSUM_TILE  32 // channels per block (one warp-wide row segment: coalesced)
#define DFL_COLSUM_LANES 8  // rows read in parallel per block

// Stage 1: block (tile of 32 channels, chunk of rows, batch) sums its rows in
// a fixed order: lane ty takes rows ty, ty+8, ..., then the 8 lanes are
// added in order. Writes out directly when there is one chunk.
__global__ void dfl_colsum_partial_kernel(size_t rows, int c, size_t chunk_rows, const float *__restrict__ x,
                                          float *__restrict__ dst) {
    __shared__ float sh[DFL_COLSUM_LANES][DFL_COLSUM_TILE + 1];
    const int ch = blockIdx.x * DFL_COLSUM_TILE + threadIdx.x;
    const size_t chunk = blockIdx.y, nchunks = gridDim.y, b = blockIdx.z;
    const size_t r0 = chunk * chunk_rows;
    const size_t r1 = r0 + chunk_rows < rows ? r0 + chunk_rows : rows;
    float s = 0.0f;
    if (ch < c) {
        const float *xb = x + b * rows * (size_t)c + ch;
        for (size_t r = r0 + threadIdx.y; r < r1; r += DFL_COLSUM_LANES) s += xb[r * (size_t)c];
    }
    sh[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && ch < c) {
        float t = sh[0][threadIdx.x];
        for (int l = 1; l < DFL_COLSUM_LANES; ++l) t += sh[l][threadIdx.x];
        dst[(b * nchunks + chunk) * (size_t)c + ch] = t;
    }
}

// Stage 2: out[b, ch] = sum over the chunks. One warp per output: lane l
// adds chunks l, l+32, ... in order, then the lanes are added by a fixed
// shuffle tree, so the bits depend on the shape only. (A thread per output
// summing every chunk serially left 64 threads busy for 34 us on the bias
// gradients of a 128x128 level in the first H200 run.)
#define DFL_COLSUM_FINAL_WARPS 8
__global__ void dfl_colsum_final_kernel(int batches, int c, int nchunks, const float *__restrict__ partial,
                                        float *__restrict__ out) {
    const unsigned lane = threadIdx.x & 31u;
    const unsigned o = blockIdx.x * DFL_COLSUM_FINAL_WARPS + (threadIdx.x >> 5);
    if (o >= (unsigned)batches * (unsigned)c) return; // whole warps leave together
    const unsigned b = o / (unsigned)c, ch = o % (unsigned)c;
    const float *p = partial + (size_t)b * nchunks * c + ch;
    float t = 0.0f;
    for (int k = (int)lane; k < nchunks; k += 32) t += p[(size_t)k * c];
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) t += __shfl_down_sync(0xffffffffu, t, off);
    if (lane == 0) out[o] = t;
}

void dfl_cuda_colsum(dfl_backend *be, int batches, size_t rows, int c, const float *x, float *out) {
    if (batches <= 0 || c <= 0) return;
    cudaStream_t s = dfl_cuda_stream(be);
    if (rows == 0) {
        cudaCheck(cudaMemsetAsync(out, 0, (size_t)batches * c * sizeof(float), s));
        return;
    }
    // Chunk length depends on the shape only (never on the device), so the
    // summation order, and the bits, are the same on every GPU.
    size_t chunk_rows = 512;
    while ((rows + chunk_rows - 1) / chunk_rows > 65535) chunk_rows *= 2;
    const unsigned nchunks = (unsigned)((rows + chunk_rows - 1) / chunk_rows);
    dim3 grid((unsigned)((c + DFL_COLSUM_TILE - 1) / DFL_COLSUM_TILE), nchunks, (unsigned)batches);
    dim3 block(DFL_COLSUM_TILE, DFL_COLSUM_LANES);
    if (batches > 65535) DFL_PANIC("dfl_cuda_colsum: %d batches exceed the grid limit", batches);
    if (nchunks == 1) {
        dfl_colsum_partial_kernel<<<grid, block, 0, s>>>(rows, c, chunk_rows, x, out);
        cudaCheckLaunch();
        return;
    }
    float *partial = (float *)dfl_cuda_scratch(be, DFL_CUDA_SCR_REDUCE, (size_t)batches * nchunks * c * sizeof(float));
    dfl_colsum_partial_kernel<<<grid, block, 0, s>>>(rows, c, chunk_rows, x, partial);
    cudaCheckLaunch();
    const size_t outputs = (size_t)batches * c;
    if (outputs > (size_t)1 << 31) DFL_PANIC("dfl_cuda_colsum: %zu outputs exceed the index range", outputs);
    const unsigned fblocks = (unsigned)((outputs + DFL_COLSUM_FINAL_WARPS - 1) / DFL_COLSUM_FINAL_WARPS);
    dfl_colsum_final_kernel<<<fblocks, 32 * DFL_COLSUM_FINAL_WARPS, 0, s>>>(batches, c, (int)nchunks, partial, out);
    cudaCheckLaunch();
}

__global__ void dfl_add_bias_rows_kernel(size_t total, int c, float *__restrict__ y, const float *__restrict__ b) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x)
        y[i] += b[i % c];
}

__global__ void dfl_add_bias_rows4_kernel(size_t total4, int c4, float4 *__restrict__ y, const float4 *__restrict__ b) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total4; i += (size_t)gridDim.x * blockDim.x) {
        float4 v = y[i];
        const float4 a = b[i % c4];
        v.x += a.x, v.y += a.y, v.z += a.z, v.w += a.w;
        y[i] = v;
    }
}

void dfl_cuda_add_bias_rows(dfl_backend *be, size_t rows, int c, float *y, const float *b) {
    const size_t total = rows * (size_t)c;
    if (!total) return;
    cudaStream_t s = dfl_cuda_stream(be);
    if (c % 4 == 0 && dfl_cuda_aligned16(y) && dfl_cuda_aligned16(b)) {
        dfl_add_bias_rows4_kernel<<<dfl_cuda_blocks(total / 4, 256), 256, 0, s>>>(total / 4, c / 4, (float4 *)y,
                                                                                  (const float4 *)b);
    } else {
        dfl_add_bias_rows_kernel<<<dfl_cuda_blocks(total, 256), 256, 0, s>>>(total, c, y, b);
    }
    cudaCheckLaunch();
}
