// The copies around each cuDNN convolution (conv_cudnn.cu): fp32 <-> bf16
// conversion, the wrapped halo of periodic axes and its fold-back, the
// bias-fused output conversion, and the OIHW <-> KRSC weight layouts.
//
// These run on every convolution of every step, over whole activations, so
// they must move bytes at close to copy bandwidth:
//   - each thread handles 4 consecutive channels (one 16-byte fp32 load, one
//     8-byte bf16 store) when the channel count and pointers allow, else 1;
//   - index arithmetic is 32-bit whenever the element count fits (64-bit
//     division is a long software sequence on the GPU: the first H200 run
//     showed the 64-bit versions of these kernels taking over half the
//     kernel time of a bf16 training step);
//   - without a halo, the input and gradient copies are plain conversions
//     with no index arithmetic at all.
#include <cuda_bf16.h>
#include <stdint.h>

#include "cuda/cuda_backend_internal.cuh"

template <typename T> __device__ __forceinline__ T dfl_from_float(float v);
template <> __device__ __forceinline__ float dfl_from_float<float>(float v) { return v; }
template <> __device__ __forceinline__ __nv_bfloat16 dfl_from_float<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}
__device__ __forceinline__ float dfl_to_float(float v) { return v; }
__device__ __forceinline__ float dfl_to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

// VEC (1 or 4) consecutive values of p as floats, and back.
template <int VEC, typename S> __device__ __forceinline__ void dfl_load_vec(const S *p, float *v) {
    if constexpr (VEC == 4 && sizeof(S) == 4) {
        const float4 t = *reinterpret_cast<const float4 *>(p);
        v[0] = t.x, v[1] = t.y, v[2] = t.z, v[3] = t.w;
    } else if constexpr (VEC == 4) {
        const __nv_bfloat162 *q = reinterpret_cast<const __nv_bfloat162 *>(p);
        const float2 a = __bfloat1622float2(q[0]), b = __bfloat1622float2(q[1]);
        v[0] = a.x, v[1] = a.y, v[2] = b.x, v[3] = b.y;
    } else {
        v[0] = dfl_to_float(p[0]);
    }
}

template <int VEC, typename D> __device__ __forceinline__ void dfl_store_vec(D *p, const float *v) {
    if constexpr (VEC == 4 && sizeof(D) == 4) {
        *reinterpret_cast<float4 *>(p) = make_float4(v[0], v[1], v[2], v[3]);
    } else if constexpr (VEC == 4) {
        __nv_bfloat162 *q = reinterpret_cast<__nv_bfloat162 *>(p);
        q[0] = __floats2bfloat162_rn(v[0], v[1]); // .x (lower address) = v[0], like __float2bfloat16_rn
        q[1] = __floats2bfloat162_rn(v[2], v[3]);
    } else {
        p[0] = dfl_from_float<D>(v[0]);
    }
}

__device__ __forceinline__ int dfl_wrap(int i, int n) { return i < 0 ? i + n : (i >= n ? i - n : i); }

// y[j] = x[j] (+ bias[j % c]), converted from S to D, VEC values per thread.
template <typename S, typename D, int VEC, typename I>
__global__ void dfl_convert_kernel(I total_v, int cv, const S *__restrict__ x, const float *__restrict__ bias,
                                   D *__restrict__ y) {
    for (I j = blockIdx.x * (I)blockDim.x + threadIdx.x; j < total_v; j += (I)gridDim.x * blockDim.x) {
        float v[VEC];
        dfl_load_vec<VEC>(x + j * VEC, v);
        if (bias) {
            float b[VEC];
            dfl_load_vec<VEC>(bias + (j % (I)cv) * VEC, b);
#pragma unroll
            for (int k = 0; k < VEC; ++k) v[k] += b[k];
        }
        dfl_store_vec<VEC>(y + j * VEC, v);
    }
}

// xp [n, hh, wh, c] (T) = x [n, h, w, c] (fp32) with a wrapped halo of py
// rows and px columns on each side.
template <typename T, int VEC, typename I>
__global__ void dfl_conv_prep_input_kernel(int n, int h, int w, int c, int py, int px, const float *__restrict__ x,
                                           T *__restrict__ xp) {
    const int hh = h + 2 * py, wh = w + 2 * px, cv = c / VEC;
    const I total_v = (I)n * hh * wh * cv;
    for (I j = blockIdx.x * (I)blockDim.x + threadIdx.x; j < total_v; j += (I)gridDim.x * blockDim.x) {
        const int cq = (int)(j % cv);
        I p = j / cv;
        const int xx = (int)(p % wh);
        p /= wh;
        const int yy = (int)(p % hh);
        const I i = p / hh;
        const int sy = dfl_wrap(yy - py, h), sx = dfl_wrap(xx - px, w);
        float v[VEC];
        dfl_load_vec<VEC>(x + ((i * h + sy) * w + sx) * c + cq * VEC, v);
        dfl_store_vec<VEC>(xp + j * VEC, v);
    }
}

// dx [n, h, w, c] (fp32) = sum of dxp [n, hh, wh, c] over the haloed
// positions that are copies of (y, x): rows y+py, y+py-h, y+py+h inside
// [0, hh), likewise columns (only the first when that axis has no halo).
template <typename T, int VEC, typename I>
__global__ void dfl_conv_fold_halo_kernel(int n, int h, int w, int c, int py, int px, const T *__restrict__ dxp,
                                          float *__restrict__ dx) {
    const int hh = h + 2 * py, wh = w + 2 * px, cv = c / VEC;
    const I total_v = (I)n * h * w * cv;
    for (I j = blockIdx.x * (I)blockDim.x + threadIdx.x; j < total_v; j += (I)gridDim.x * blockDim.x) {
        const int cq = (int)(j % cv);
        I p = j / cv;
        const int xx = (int)(p % w);
        p /= w;
        const int yy = (int)(p % h);
        const I i = p / h;
        const int ry[3] = {yy + py, yy + py - h, yy + py + h};
        const int rx[3] = {xx + px, xx + px - w, xx + px + w};
        float s[VEC];
#pragma unroll
        for (int k = 0; k < VEC; ++k) s[k] = 0.0f;
#pragma unroll
        for (int a = 0; a < 3; ++a) {
            if (ry[a] < 0 || ry[a] >= hh || (a > 0 && py == 0)) continue;
#pragma unroll
            for (int b = 0; b < 3; ++b) {
                if (rx[b] < 0 || rx[b] >= wh || (b > 0 && px == 0)) continue;
                float v[VEC];
                dfl_load_vec<VEC>(dxp + ((i * hh + ry[a]) * wh + rx[b]) * c + cq * VEC, v);
#pragma unroll
                for (int k = 0; k < VEC; ++k) s[k] += v[k];
            }
        }
        dfl_store_vec<VEC>(dx + j * VEC, s);
    }
}

// wk [o, r, s, i] (T) = w [o, i, r, s] (fp32): OIHW -> KRSC (small: weights).
template <typename T>
__global__ void dfl_oihw_to_krsc_kernel(int o, int ci, int kk, const float *__restrict__ w, T *__restrict__ wk) {
    const unsigned total = (unsigned)o * ci * kk;
    for (unsigned j = blockIdx.x * blockDim.x + threadIdx.x; j < total; j += gridDim.x * blockDim.x) {
        const unsigned i = j % ci, t = j / ci, rs = t % kk, oo = t / kk;
        wk[j] = dfl_from_float<T>(w[(oo * ci + i) * kk + rs]);
    }
}

// dw [o, i, r, s] (fp32) = dwk [o, r, s, i] (T): KRSC -> OIHW.
template <typename T>
__global__ void dfl_krsc_to_oihw_kernel(int o, int ci, int kk, const T *__restrict__ dwk, float *__restrict__ dw) {
    const unsigned total = (unsigned)o * ci * kk;
    for (unsigned j = blockIdx.x * blockDim.x + threadIdx.x; j < total; j += gridDim.x * blockDim.x) {
        const unsigned rs = j % kk, t = j / kk, i = t % ci, oo = t / ci;
        dw[j] = dfl_to_float(dwk[(oo * kk + rs) * ci + i]);
    }
}

// ---- launchers ----

#define DFL_CONVERT_THREADS 256
// 32-bit indices when every index the kernel forms stays below 2^31.
static int fits32(size_t elements) { return elements < ((size_t)1 << 31); }

static int vec4_ok(int c, const void *a, const void *b, const void *bias) {
    // 16-byte fp32 / 8-byte bf16 accesses at every 4-channel group: c % 4 and
    // 16-byte-aligned base pointers (8 is enough for bf16; 16 is asked of all)
    return c % 4 == 0 && dfl_cuda_aligned16(a) && dfl_cuda_aligned16(b) && (!bias || dfl_cuda_aligned16(bias));
}

template <typename S, typename D>
static void convert(cudaStream_t s, size_t total, int c, const S *x, const float *bias, D *y) {
    if (!total) return;
    if (vec4_ok(c, x, y, bias) && fits32(total)) {
        const unsigned tv = (unsigned)(total / 4);
        dfl_convert_kernel<S, D, 4, unsigned>
            <<<dfl_cuda_blocks(tv, DFL_CONVERT_THREADS), DFL_CONVERT_THREADS, 0, s>>>(tv, c / 4, x, bias, y);
    } else if (fits32(total)) {
        dfl_convert_kernel<S, D, 1, unsigned>
            <<<dfl_cuda_blocks(total, DFL_CONVERT_THREADS), DFL_CONVERT_THREADS, 0, s>>>((unsigned)total, c, x, bias,
                                                                                         y);
    } else {
        dfl_convert_kernel<S, D, 1, size_t>
            <<<dfl_cuda_blocks(total, DFL_CONVERT_THREADS), DFL_CONVERT_THREADS, 0, s>>>(total, c, x, bias, y);
    }
    cudaCheckLaunch();
}

void dfl_cuda_conv_prep_input(cudaStream_t s, int to_bf16, int n, int h, int w, int c, int py, int px, const float *x,
                              void *xp) {
    const size_t total = (size_t)n * (h + 2 * py) * (w + 2 * px) * c;
    if (!total) return;
    if (py == 0 && px == 0) { // plain conversion (fp32 without a halo never gets here)
        if (to_bf16)
            convert(s, total, c, x, (const float *)NULL, (__nv_bfloat16 *)xp);
        else
            convert(s, total, c, x, (const float *)NULL, (float *)xp);
        return;
    }
    const int v4 = vec4_ok(c, x, xp, NULL), small = fits32(total);
    const size_t items = v4 ? total / 4 : total;
    const unsigned blocks = dfl_cuda_blocks(items, DFL_CONVERT_THREADS);
#define DFL_PREP(T, VEC, I)                                                                                            \
    dfl_conv_prep_input_kernel<T, VEC, I><<<blocks, DFL_CONVERT_THREADS, 0, s>>>(n, h, w, c, py, px, x, (T *)xp)
    if (to_bf16) {
        if (v4 && small)
            DFL_PREP(__nv_bfloat16, 4, unsigned);
        else if (small)
            DFL_PREP(__nv_bfloat16, 1, unsigned);
        else
            DFL_PREP(__nv_bfloat16, 1, size_t);
    } else {
        if (v4 && small)
            DFL_PREP(float, 4, unsigned);
        else if (small)
            DFL_PREP(float, 1, unsigned);
        else
            DFL_PREP(float, 1, size_t);
    }
#undef DFL_PREP
    cudaCheckLaunch();
}

void dfl_cuda_conv_fold_halo(cudaStream_t s, int from_bf16, int n, int h, int w, int c, int py, int px, const void *dxp,
                             float *dx) {
    const size_t total = (size_t)n * h * w * c, ptotal = (size_t)n * (h + 2 * py) * (w + 2 * px) * c;
    if (!total) return;
    if (py == 0 && px == 0) { // plain conversion
        if (from_bf16)
            convert(s, total, c, (const __nv_bfloat16 *)dxp, (const float *)NULL, dx);
        else
            convert(s, total, c, (const float *)dxp, (const float *)NULL, dx);
        return;
    }
    const int v4 = vec4_ok(c, dxp, dx, NULL), small = fits32(ptotal);
    const size_t items = v4 ? total / 4 : total;
    const unsigned blocks = dfl_cuda_blocks(items, DFL_CONVERT_THREADS);
#define DFL_FOLD(T, VEC, I)                                                                                            \
    dfl_conv_fold_halo_kernel<T, VEC, I><<<blocks, DFL_CONVERT_THREADS, 0, s>>>(n, h, w, c, py, px, (const T *)dxp, dx)
    if (from_bf16) {
        if (v4 && small)
            DFL_FOLD(__nv_bfloat16, 4, unsigned);
        else if (small)
            DFL_FOLD(__nv_bfloat16, 1, unsigned);
        else
            DFL_FOLD(__nv_bfloat16, 1, size_t);
    } else {
        if (v4 && small)
            DFL_FOLD(float, 4, unsigned);
        else if (small)
            DFL_FOLD(float, 1, unsigned);
        else
            DFL_FOLD(float, 1, size_t);
    }
#undef DFL_FOLD
    cudaCheckLaunch();
}

void dfl_cuda_to_bf16(cudaStream_t s, size_t total, int c, const float *x, void *y) {
    convert(s, total, c, x, (const float *)NULL, (__nv_bfloat16 *)y);
}

void dfl_cuda_bf16_to_float_bias(cudaStream_t s, size_t total, int c, const void *yt, const float *bias, float *y) {
    convert(s, total, c, (const __nv_bfloat16 *)yt, bias, y);
}

void dfl_cuda_oihw_to_krsc(cudaStream_t s, int to_bf16, int o, int ci, int kk, const float *w, void *wk) {
    const size_t total = (size_t)o * ci * kk;
    if (!total) return;
    if (!fits32(total)) DFL_PANIC("conv weights of %zu elements exceed the 32-bit index range", total);
    const unsigned blocks = dfl_cuda_blocks(total, DFL_CONVERT_THREADS);
    if (to_bf16)
        dfl_oihw_to_krsc_kernel<__nv_bfloat16>
            <<<blocks, DFL_CONVERT_THREADS, 0, s>>>(o, ci, kk, w, (__nv_bfloat16 *)wk);
    else
        dfl_oihw_to_krsc_kernel<float><<<blocks, DFL_CONVERT_THREADS, 0, s>>>(o, ci, kk, w, (float *)wk);
    cudaCheckLaunch();
}

void dfl_cuda_krsc_to_oihw(cudaStream_t s, int from_bf16, int o, int ci, int kk, const void *dwk, float *dw) {
    const size_t total = (size_t)o * ci * kk;
    if (!total) return;
    if (!fits32(total)) DFL_PANIC("conv weights of %zu elements exceed the 32-bit index range", total);
    const unsigned blocks = dfl_cuda_blocks(total, DFL_CONVERT_THREADS);
    if (from_bf16)
        dfl_krsc_to_oihw_kernel<__nv_bfloat16>
            <<<blocks, DFL_CONVERT_THREADS, 0, s>>>(o, ci, kk, (const __nv_bfloat16 *)dwk, dw);
    else
        dfl_krsc_to_oihw_kernel<float><<<blocks, DFL_CONVERT_THREADS, 0, s>>>(o, ci, kk, (const float *)dwk, dw);
    cudaCheckLaunch();
}
