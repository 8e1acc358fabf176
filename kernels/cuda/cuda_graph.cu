// CUDA graph capture of a step, host-visible scalar slots, pinned host
// buffers and asynchronous uploads (include/dynfill/cuda_graph.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_backend_internal.cuh"

struct dfl_cuda_graph {
    cudaGraph_t graph;
    cudaGraphExec_t exec;
};

static int is_cuda(dfl_backend *be) { return be && be->name && !strcmp(be->name, "cuda"); }

extern "C" dfl_status dfl_cuda_graph_begin(dfl_backend *be) {
    if (!is_cuda(be)) return dfl_fail(DFL_EUSAGE, "CUDA graph capture needs the CUDA backend");
    dfl_cuda_ctx *ctx = dfl_cuda_ctx_of(be);
    if (ctx->capturing) return dfl_fail(DFL_EUSAGE, "CUDA graph capture already in progress");
    // Thread-local mode: this thread may not call capture-unsafe APIs
    // (cudaMalloc, synchronisation) meanwhile; other threads (the loader)
    // are unaffected.
    cudaCheck(cudaStreamBeginCapture(ctx->stream, cudaStreamCaptureModeThreadLocal));
    ctx->capturing = 1;
    return DFL_OK;
}

extern "C" dfl_cuda_graph *dfl_cuda_graph_end(dfl_backend *be) {
    if (!is_cuda(be) || !dfl_cuda_ctx_of(be)->capturing) {
        dfl_fail(DFL_EUSAGE, "dfl_cuda_graph_end without dfl_cuda_graph_begin");
        return NULL;
    }
    dfl_cuda_ctx *ctx = dfl_cuda_ctx_of(be);
    ctx->capturing = 0;
    cudaGraph_t graph = NULL;
    cudaError_t e = cudaStreamEndCapture(ctx->stream, &graph);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        dfl_fail(DFL_EINTERNAL, "CUDA graph capture failed: %s (an op synchronised or allocated while capturing?)",
                 cudaGetErrorString(e));
        return NULL;
    }
    dfl_cuda_graph *g = (dfl_cuda_graph *)dfl_xcalloc(1, sizeof *g);
    g->graph = graph;
    cudaCheck(cudaGraphInstantiate(&g->exec, graph, 0));
    return g;
}

extern "C" void dfl_cuda_graph_launch(dfl_backend *be, dfl_cuda_graph *g) {
    cudaCheck(cudaGraphLaunch(g->exec, dfl_cuda_stream(be)));
}

extern "C" void dfl_cuda_graph_destroy(dfl_cuda_graph *g) {
    if (!g) return;
    cudaCheck(cudaGraphExecDestroy(g->exec));
    cudaCheck(cudaGraphDestroy(g->graph));
    free(g);
}

extern "C" int dfl_cuda_is_capturing(dfl_backend *be) { return is_cuda(be) && dfl_cuda_ctx_of(be)->capturing; }

extern "C" double dfl_cuda_read_scalar(dfl_backend *be, dfl_cuda_scalar which) {
    if (!is_cuda(be) || (int)which < 0 || (int)which >= DFL_CUDA_SCALAR_COUNT)
        DFL_PANIC("dfl_cuda_read_scalar: not a CUDA backend or bad slot %d", (int)which);
    if (dfl_cuda_ctx_of(be)->capturing) DFL_PANIC("dfl_cuda_read_scalar during graph capture");
    return dfl_cuda_scalar_result(be, (int)which);
}

extern "C" void *dfl_cuda_host_alloc(size_t bytes) {
    void *p = NULL;
    cudaError_t e = cudaMallocHost(&p, bytes ? bytes : 1);
    if (e != cudaSuccess) DFL_PANIC("pinned host allocation of %zu bytes failed: %s", bytes, cudaGetErrorString(e));
    return p;
}

extern "C" void dfl_cuda_host_free(void *p) {
    if (p) cudaCheck(cudaFreeHost(p));
}

// The copy runs on the copy stream once the compute stream has passed the
// point of the previous dfl_cuda_upload_async call (so, with two device
// buffers used alternately, it never overwrites data a queued op still
// reads); later ops on the compute stream wait for the copy.
extern "C" void dfl_cuda_upload_async(dfl_backend *be, void *dst, const void *pinned_src, size_t bytes) {
    if (!is_cuda(be)) DFL_PANIC("dfl_cuda_upload_async: not a CUDA backend");
    dfl_cuda_ctx *ctx = dfl_cuda_ctx_of(be);
    if (ctx->capturing) DFL_PANIC("dfl_cuda_upload_async during graph capture: upload before the replay");
    if (!bytes) return;
    if (ctx->have_upload_mark) cudaCheck(cudaStreamWaitEvent(ctx->copy_stream, ctx->upload_mark, 0));
    cudaCheck(cudaEventRecord(ctx->upload_mark, ctx->stream));
    ctx->have_upload_mark = 1;
    cudaCheck(cudaMemcpyAsync(dst, pinned_src, bytes, cudaMemcpyHostToDevice, ctx->copy_stream));
    cudaCheck(cudaEventRecord(ctx->copy_done, ctx->copy_stream));
    cudaCheck(cudaStreamWaitEvent(ctx->stream, ctx->copy_done, 0));
}

extern "C" void dfl_cuda_upload_wait(dfl_backend *be) {
    if (!is_cuda(be)) return;
    cudaCheck(cudaStreamSynchronize(dfl_cuda_ctx_of(be)->copy_stream));
}

extern "C" int dfl_cuda_describe(dfl_backend *be, char *buf, size_t len) {
    if (len) buf[0] = 0;
    if (!is_cuda(be)) return -1;
    cudaDeviceProp prop;
    cudaCheck(cudaGetDeviceProperties(&prop, dfl_cuda_ctx_of(be)->device));
    int driver = 0, runtime = 0;
    cudaCheck(cudaDriverGetVersion(&driver));
    cudaCheck(cudaRuntimeGetVersion(&runtime));
    snprintf(buf, len, "%s (sm_%d%d, %d SMs, %.1f GiB; driver %d, runtime %d, cuDNN %zu)", prop.name, prop.major,
             prop.minor, prop.multiProcessorCount, (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0), driver,
             runtime, cudnnGetVersion());
    return 0;
}
