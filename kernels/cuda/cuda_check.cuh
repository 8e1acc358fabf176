// Error checking for every CUDA runtime, cuDNN, cuBLAS and NCCL call of the
// CUDA backend (docs/design.md, "Architecture", llm.c style). A failing library call inside
// an op is a bug or a broken device, never bad user input, so each macro
// panics with the file:line of the call, the call's text and the library's
// own error string.
#ifndef DYNFILL_CUDA_CHECK_CUH
#define DYNFILL_CUDA_CHECK_CUH

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <nccl.h>

#include "dynfill/status.h"

const char *dfl_cublas_status_name(cublasStatus_t s);

#define cudaCheck(call)                                                                                                \
    do {                                                                                                               \
        cudaError_t dfl_cuda_e_ = (call);                                                                              \
        if (dfl_cuda_e_ != cudaSuccess)                                                                                \
            dfl_panic(__FILE__, __LINE__, "CUDA error %s (%s) in %s", cudaGetErrorName(dfl_cuda_e_),                   \
                      cudaGetErrorString(dfl_cuda_e_), #call);                                                         \
    } while (0)

#define cudnnCheck(call)                                                                                               \
    do {                                                                                                               \
        cudnnStatus_t dfl_cudnn_s_ = (call);                                                                           \
        if (dfl_cudnn_s_ != CUDNN_STATUS_SUCCESS)                                                                      \
            dfl_panic(__FILE__, __LINE__, "cuDNN error %s in %s", cudnnGetErrorString(dfl_cudnn_s_), #call);           \
    } while (0)

#define cublasCheck(call)                                                                                              \
    do {                                                                                                               \
        cublasStatus_t dfl_cublas_s_ = (call);                                                                         \
        if (dfl_cublas_s_ != CUBLAS_STATUS_SUCCESS)                                                                    \
            dfl_panic(__FILE__, __LINE__, "cuBLAS error %s in %s", dfl_cublas_status_name(dfl_cublas_s_), #call);      \
    } while (0)

#define ncclCheck(call)                                                                                                \
    do {                                                                                                               \
        ncclResult_t dfl_nccl_r_ = (call);                                                                             \
        if (dfl_nccl_r_ != ncclSuccess)                                                                                \
            dfl_panic(__FILE__, __LINE__, "NCCL error %s in %s", ncclGetErrorString(dfl_nccl_r_), #call);              \
    } while (0)

// After every kernel launch: catches bad launch configurations at the
// launch site (asynchronous faults surface at the next synchronising call).
#define cudaCheckLaunch() cudaCheck(cudaGetLastError())

#endif
