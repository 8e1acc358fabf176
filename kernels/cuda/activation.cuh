// SiLU and its derivative for the CUDA kernels (the CPU backend's
// kernels/cpu/fast_math_cpu.h computes the same functions):
//   silu(x) = x sigmoid(x),  silu'(x) = s (1 + x (1 - s)),  s = sigmoid(x).
// expf here is CUDA's full-precision expf (within 2 ulp), not __expf.
#ifndef DYNFILL_CUDA_ACTIVATION_CUH
#define DYNFILL_CUDA_ACTIVATION_CUH

__device__ __forceinline__ float dfl_sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }
__device__ __forceinline__ float dfl_siluf(float x) { return x * dfl_sigmoidf(x); }
__device__ __forceinline__ float dfl_silu_grad(float x) {
    const float s = dfl_sigmoidf(x);
    return s * (1.0f + x * (1.0f - s));
}

#endif
