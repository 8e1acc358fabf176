// CUDA backend: construction, memory ops, scratch memory and the device
// scalar slots (docs/design.md, "Backend interface"). The ops live in one file per family
// (conv_cudnn.cu, group_norm.cu, elementwise.cu, layout.cu, dense_cublas.cu,
// attention.cu, optimizer.cu, method_ops.cu) and register themselves into
// the vtable here.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_backend_internal.cuh"
#include "shared/buffer.h"

// Fixed cuBLAS workspace: with a user workspace cuBLAS never allocates
// during a call, which graph capture requires (cublasSetWorkspace docs).
#define DFL_CUBLAS_WORKSPACE_BYTES ((size_t)32 << 20)

const char *dfl_cublas_status_name(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "unknown cuBLAS status";
    }
}

extern "C" int dfl_cuda_device_count(void) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); // no driver or no device: clear the sticky-free error
        return 0;
    }
    return n;
}

extern "C" int dfl_cuda_available(void) { return dfl_cuda_device_count() > 0; }

void *dfl_cuda_scratch(dfl_backend *be, int slot, size_t bytes) {
    dfl_cuda_ctx *ctx = dfl_cuda_ctx_of(be);
    dfl_cuda_buffer *b = &ctx->scratch[slot];
    if (bytes <= b->bytes && b->ptr) return b->ptr;
    if (ctx->capturing)
        DFL_PANIC("CUDA scratch slot %d must grow to %zu bytes during graph capture: run the captured step once "
                  "eagerly before dfl_cuda_graph_begin",
                  slot, bytes);
    if (b->ptr) {
        cudaCheck(cudaStreamSynchronize(ctx->stream)); // no queued op may still use the old buffer
        cudaCheck(cudaFree(b->ptr));
    }
    b->ptr = NULL;
    const size_t want = dfl_buffer_grow_bytes(bytes, 256);
    cudaCheck(cudaMalloc(&b->ptr, want));
    b->bytes = want;
    return b->ptr;
}

double dfl_cuda_scalar_result(dfl_backend *be, int which) {
    dfl_cuda_ctx *ctx = dfl_cuda_ctx_of(be);
    if (ctx->capturing) return NAN; // read it after the replay (dfl_cuda_read_scalar)
    cudaCheck(cudaMemcpyAsync(&ctx->h_scalars[which], &ctx->d_scalars[which], sizeof(double), cudaMemcpyDeviceToHost,
                              ctx->stream));
    cudaCheck(cudaStreamSynchronize(ctx->stream));
    return ctx->h_scalars[which];
}

// ---- memory ops ----

static void *cuda_alloc(dfl_backend *be, size_t bytes) {
    (void)be;
    void *p = NULL;
    size_t rounded = (bytes + 255) & ~(size_t)255;
    cudaError_t e = cudaMalloc(&p, rounded ? rounded : 256);
    if (e != cudaSuccess) DFL_PANIC("CUDA out of memory allocating %zu bytes (%s)", bytes, cudaGetErrorString(e));
    return p;
}

static void cuda_free(dfl_backend *be, void *p) {
    if (!p) return;
    cudaCheck(cudaStreamSynchronize(dfl_cuda_stream(be))); // queued ops may still read or write p
    cudaCheck(cudaFree(p));
}

// Synchronous with respect to the host (the source may be reused at once,
// pinned or not); dfl_cuda_upload_async is the asynchronous form.
static void cuda_upload(dfl_backend *be, void *dst, const void *host_src, size_t bytes) {
    if (!bytes) return;
    cudaStream_t s = dfl_cuda_stream(be);
    cudaCheck(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, s));
    cudaCheck(cudaStreamSynchronize(s));
}

static void cuda_download(dfl_backend *be, void *host_dst, const void *src, size_t bytes) {
    if (!bytes) return;
    cudaStream_t s = dfl_cuda_stream(be);
    cudaCheck(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, s));
    cudaCheck(cudaStreamSynchronize(s));
}

static void cuda_copy(dfl_backend *be, void *dst, const void *src, size_t bytes) {
    if (!bytes || dst == src) return;
    cudaCheck(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, dfl_cuda_stream(be)));
}

__global__ void dfl_fill_kernel(float *x, float value, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] = value;
}

__global__ void dfl_fill4_kernel(float4 *x, float value, size_t n4) {
    float4 v = make_float4(value, value, value, value);
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n4; i += (size_t)gridDim.x * blockDim.x)
        x[i] = v;
}

static void cuda_fill(dfl_backend *be, float *x, float value, size_t n) {
    if (!n) return;
    cudaStream_t s = dfl_cuda_stream(be);
    size_t head = 0;
    if (dfl_cuda_aligned16(x) && n >= 4) {
        size_t n4 = n / 4;
        dfl_fill4_kernel<<<dfl_cuda_blocks(n4, 256), 256, 0, s>>>((float4 *)x, value, n4);
        cudaCheckLaunch();
        head = n4 * 4;
    }
    if (head < n) {
        dfl_fill_kernel<<<dfl_cuda_blocks(n - head, 256), 256, 0, s>>>(x + head, value, n - head);
        cudaCheckLaunch();
    }
}

static void cuda_synchronize(dfl_backend *be) { cudaCheck(cudaStreamSynchronize(dfl_cuda_stream(be))); }

static void cuda_memory_info(dfl_backend *be, size_t *free_bytes, size_t *total_bytes) {
    size_t f = 0, t = 0;
    cudaCheck(cudaSetDevice(dfl_cuda_ctx_of(be)->device));
    cudaCheck(cudaMemGetInfo(&f, &t));
    if (free_bytes) *free_bytes = f;
    if (total_bytes) *total_bytes = t;
}

static void cuda_destroy(dfl_backend *be) {
    dfl_cuda_ctx *ctx = dfl_cuda_ctx_of(be);
    if (ctx) {
        cudaCheck(cudaStreamSynchronize(ctx->stream));
        cudaCheck(cudaStreamSynchronize(ctx->copy_stream));
        dfl_cuda_conv_plans_destroy(ctx);
        for (int i = 0; i < DFL_CUDA_SCR_COUNT; ++i)
            if (ctx->scratch[i].ptr) cudaCheck(cudaFree(ctx->scratch[i].ptr));
        if (ctx->sumsq_partials) cudaCheck(cudaFree(ctx->sumsq_partials));
        if (ctx->d_scalars) cudaCheck(cudaFree(ctx->d_scalars));
        if (ctx->h_scalars) cudaCheck(cudaFreeHost(ctx->h_scalars));
        cublasCheck(cublasDestroy(ctx->cublas));
        if (ctx->cublas_workspace) cudaCheck(cudaFree(ctx->cublas_workspace));
        cudnnCheck(cudnnDestroy(ctx->cudnn));
        cudaCheck(cudaEventDestroy(ctx->copy_done));
        cudaCheck(cudaEventDestroy(ctx->upload_mark));
        cudaCheck(cudaStreamDestroy(ctx->copy_stream));
        cudaCheck(cudaStreamDestroy(ctx->stream));
        free(ctx);
    }
    free(be);
}

extern "C" dfl_backend *dfl_backend_cuda_create(int device, dfl_precision precision) {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
        (void)cudaGetLastError();
        dfl_fail(DFL_EUSAGE, "no CUDA device is available (the CUDA backend needs an NVIDIA GPU and driver)");
        return NULL;
    }
    if (device < 0 || device >= count) {
        dfl_fail(DFL_EUSAGE, "CUDA device %d does not exist (this machine has %d)", device, count);
        return NULL;
    }
    // auto: fp32. Whether bf16 or TF32 trains as well as fp32 on a GPU has not
    // been measured here (docs/cuda-backend.md, "Precision").
    if (precision == DFL_PRECISION_AUTO) precision = DFL_PRECISION_FP32;
    if (precision != DFL_PRECISION_FP32 && precision != DFL_PRECISION_TF32 && precision != DFL_PRECISION_BF16) {
        dfl_fail(DFL_EUSAGE, "unknown precision %d for the CUDA backend", (int)precision);
        return NULL;
    }
    cudaCheck(cudaSetDevice(device));
    cudaDeviceProp prop;
    cudaCheck(cudaGetDeviceProperties(&prop, device));
    if (precision == DFL_PRECISION_BF16 && prop.major < 8) {
        dfl_fail(DFL_EUSAGE, "precision bf16 needs a GPU of compute capability 8.0 or newer (device %d is %d.%d)",
                 device, prop.major, prop.minor);
        return NULL;
    }

    dfl_backend *be = (dfl_backend *)dfl_xcalloc(1, sizeof *be);
    dfl_cuda_ctx *ctx = (dfl_cuda_ctx *)dfl_xcalloc(1, sizeof *ctx);
    be->name = "cuda";
    be->ctx = ctx;
    be->precision = precision;
    ctx->device = device;
    ctx->sm_count = prop.multiProcessorCount;
    const char *find = getenv("DFL_CUDNN_FIND");
    ctx->cudnn_find = find && find[0] == '1';

    cudaCheck(cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking));
    cudaCheck(cudaStreamCreateWithFlags(&ctx->copy_stream, cudaStreamNonBlocking));
    cudaCheck(cudaEventCreateWithFlags(&ctx->copy_done, cudaEventDisableTiming));
    cudaCheck(cudaEventCreateWithFlags(&ctx->upload_mark, cudaEventDisableTiming));
    cudnnCheck(cudnnCreate(&ctx->cudnn));
    cudnnCheck(cudnnSetStream(ctx->cudnn, ctx->stream));
    cublasCheck(cublasCreate(&ctx->cublas));
    cublasCheck(cublasSetStream(ctx->cublas, ctx->stream));
    ctx->cublas_workspace_bytes = DFL_CUBLAS_WORKSPACE_BYTES;
    cudaCheck(cudaMalloc(&ctx->cublas_workspace, ctx->cublas_workspace_bytes));
    cublasCheck(cublasSetWorkspace(ctx->cublas, ctx->cublas_workspace, ctx->cublas_workspace_bytes));
    // Strict fp32 forbids TF32 inside cuBLAS; the other precisions pick the
    // compute type per call (dense_cublas.cu).
    cublasCheck(
        cublasSetMathMode(ctx->cublas, precision == DFL_PRECISION_FP32 ? CUBLAS_PEDANTIC_MATH : CUBLAS_DEFAULT_MATH));
    cudaCheck(cudaMalloc(&ctx->d_scalars, DFL_CUDA_SCALAR_COUNT * sizeof(double)));
    cudaCheck(cudaMemsetAsync(ctx->d_scalars, 0, DFL_CUDA_SCALAR_COUNT * sizeof(double), ctx->stream));
    cudaCheck(cudaMallocHost(&ctx->h_scalars, DFL_CUDA_SCALAR_COUNT * sizeof(double)));
    cudaCheck(cudaMalloc(&ctx->sumsq_partials, DFL_SUMSQ_BLOCKS * sizeof(double)));

    be->alloc = cuda_alloc;
    be->free = cuda_free;
    be->upload = cuda_upload;
    be->download = cuda_download;
    be->copy = cuda_copy;
    be->fill = cuda_fill;
    be->synchronize = cuda_synchronize;
    be->memory_info = cuda_memory_info;
    be->destroy = cuda_destroy;

    dfl_cuda_register_conv_ops(be);
    dfl_cuda_register_group_norm_ops(be);
    dfl_cuda_register_elementwise_ops(be);
    dfl_cuda_register_layout_ops(be);
    dfl_cuda_register_input_fill_op(be);
    dfl_cuda_register_input_fill_spline_op(be);
    dfl_cuda_register_time_embedding_op(be);
    dfl_cuda_register_dense_ops(be);
    dfl_cuda_register_attention_ops(be);
    dfl_cuda_register_optimizer_ops(be);
    dfl_cuda_register_method_ops(be);
    return be;
}
