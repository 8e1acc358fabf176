/* Portability macros for the per-element math shared by the CPU and CUDA
 * backends. Every header in kernels/shared is valid C99 and CUDA C++; its
 * functions are static inline and marked DFL_HD, which is
 * __host__ __device__ under nvcc and nothing under a C compiler. */
#ifndef DYNFILL_SHARED_HD_H
#define DYNFILL_SHARED_HD_H

#include <stdint.h>

#if defined(__CUDACC__)
#define DFL_HD __host__ __device__ __forceinline__
#else
#define DFL_HD static inline
#endif

#if defined(__CUDACC__)
#define dfl_expf  expf
#define dfl_logf  logf
#define dfl_sqrtf sqrtf
#else
#include <math.h>
#define dfl_expf  expf
#define dfl_logf  logf
#define dfl_sqrtf sqrtf
#endif

#endif
