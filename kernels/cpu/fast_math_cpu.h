/* Vectorisable exp, sigmoid and SiLU for the CPU backend's OpenMP simd loops.
 * Sigmoid, SiLU and SiLU' are kernels/shared/activation.h's formulas (the
 * ones the CUDA kernels call) over dfl_cpu_expf instead of expf.
 *
 * libm's expf is not vectorised by gcc without -ffast-math, which made SiLU
 * and softmax cost more than the memory traffic around them. dfl_cpu_expf is
 * plain float arithmetic that gcc turns into AVX2/AVX-512 code:
 *   exp(x) = 2^n * exp(r),  n = rint(x / ln 2),  r = x - n ln 2 (Cody-Waite,
 *   ln 2 split in a high part exact in float and a low correction),
 *   exp(r) for |r| <= ln2/2 by its Taylor polynomial to degree 7
 *   (truncation error < 6e-9 relative), 2^n assembled in the exponent bits.
 * 2^n is clamped to [2^-126, 2^127] (so exp saturates near 1e-38 and 3e38
 * outside [-87, 88]); within that range the result is within ~2 ulp of
 * the exact value. The same bits come out on
 * every run and for every thread count. */
#ifndef DYNFILL_CPU_FAST_MATH_H
#define DYNFILL_CPU_FAST_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "shared/activation.h"

static inline float dfl_cpu_expf(float x) {
    /* n = rint(x / ln2) by the 1.5 * 2^23 shifter: n sits in the low
     * mantissa bits of t, so no float->int conversion can overflow. */
    const float t = x * 1.44269504088896341f + 12582912.0f;
    int32_t tbits;
    memcpy(&tbits, &t, sizeof tbits);
    int32_t n = tbits - 0x4B400000;
    const float fn = t - 12582912.0f;
    float r = x - fn * 0.693145751953125f; /* ln2 high (0x3f317200): exact product */
    r = r - fn * 1.42860682030941723e-06f; /* ln2 - ln2 high */
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    /* integer clamp (float compares would block vectorisation under
     * -ftrapping-math): 2^n stays a normal float */
    n = n < -126 ? -126 : n;
    n = n > 127 ? 127 : n;
    const int32_t bits = (n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* shared/activation.h's dfl_sigmoidf, dfl_siluf, dfl_silu_grad with dfl_cpu_expf. */
static inline float dfl_cpu_sigmoidf(float x) { return dfl_sigmoid_from_exp_neg(dfl_cpu_expf(-x)); }

static inline float dfl_cpu_siluf(float x) { return dfl_silu_from_sigmoid(x, dfl_cpu_sigmoidf(x)); }

/* d silu(x) / dx = s (1 + x (1 - s)), s = sigmoid(x). */
static inline float dfl_cpu_silu_grad(float x) { return dfl_silu_grad_from_sigmoid(x, dfl_cpu_sigmoidf(x)); }

#endif
