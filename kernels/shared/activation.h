/* Sigmoid, SiLU and SiLU' shared by the CPU and CUDA backends:
 *   sigmoid(x) = 1 / (1 + exp(-x)),  silu(x) = x sigmoid(x),
 *   silu'(x) = s (1 + x (1 - s)),  s = sigmoid(x).
 * The formulas are written once, over the value e = exp(-x) and s, so that
 * each backend supplies its exp:
 *   - dfl_sigmoidf / dfl_siluf / dfl_silu_grad use dfl_expf (CUDA's
 *     full-precision expf, within 2 ulp; libm's expf on the host); the CUDA
 *     kernels call these;
 *   - kernels/cpu/fast_math_cpu.h's dfl_cpu_sigmoidf / dfl_cpu_siluf /
 *     dfl_cpu_silu_grad are the same functions over dfl_cpu_expf, the
 *     vectorisable exp of the CPU's OpenMP simd loops. */
#ifndef DYNFILL_SHARED_ACTIVATION_H
#define DYNFILL_SHARED_ACTIVATION_H

#include "dfl_hd.h"

/* sigmoid(x) from e = exp(-x). */
DFL_HD float dfl_sigmoid_from_exp_neg(float e) { return 1.0f / (1.0f + e); }

/* silu(x) from s = sigmoid(x). */
DFL_HD float dfl_silu_from_sigmoid(float x, float s) { return x * s; }

/* d silu(x) / dx from s = sigmoid(x). */
DFL_HD float dfl_silu_grad_from_sigmoid(float x, float s) { return s * (1.0f + x * (1.0f - s)); }

DFL_HD float dfl_sigmoidf(float x) { return dfl_sigmoid_from_exp_neg(dfl_expf(-x)); }
DFL_HD float dfl_siluf(float x) { return dfl_silu_from_sigmoid(x, dfl_sigmoidf(x)); }
DFL_HD float dfl_silu_grad(float x) { return dfl_silu_grad_from_sigmoid(x, dfl_sigmoidf(x)); }

#endif
