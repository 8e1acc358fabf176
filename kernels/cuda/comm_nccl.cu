// NCCL communicator (include/dynfill/comm.h, docs/design.md, "Distributed training").
//
// Bootstrap: the host-side communicator of the launch (MPI under mpirun /
// srun with several ranks, the single-process one otherwise; see
// dfl_comm_create("auto")) tells this process its rank, the world size and
// its node-local rank. The GPU is local_rank % (visible devices): with one
// process per GPU and every GPU visible that is GPU local_rank; with the
// launcher binding one GPU per process (CUDA_VISIBLE_DEVICES set per rank)
// it is device 0. Rank 0 creates the ncclUniqueId and broadcasts it over the
// host communicator; every rank then joins with ncclCommInitRank.
//
// Gradients: allreduce_sum sums a CUDA-backend buffer in place with
// ncclAllReduce on the communicator's own stream, in buckets of
// dist.bucket_mb. The comm stream first waits for everything already queued
// on the backend's compute stream (the backward pass that produced the
// gradients); the compute stream then waits for the last bucket, so the
// optimiser that follows sees the summed gradients, and the host never
// blocks. The bucket machinery (comm_nccl_begin / comm_nccl_end) is what an
// overlap of the reduction with the backward pass would call per ready
// range of gradients; see docs/scaling.md for the hook it needs.
//
// Host values (loss sums, query counts, stop flags) and broadcasts go
// through the host communicator. A non-CUDA backend's buffers (host memory)
// are reduced there as well.
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_backend_internal.cuh"
#include "dynfill/comm.h"

namespace {

struct nccl_ctx {
    dfl_comm *host; // MPI or single: rank/world, host reductions, bootstrap
    ncclComm_t nccl;
    int device;          // CUDA device of this rank
    size_t bucket_elems; // floats per ncclAllReduce
    cudaStream_t stream; // the communicator's stream
    cudaEvent_t ready;   // compute stream position the reductions wait for
    cudaEvent_t done;    // comm stream position after the last begun reduction
    int pending;         // reductions begun and not yet ended
};

nccl_ctx *ctx_of(dfl_comm *c) { return static_cast<nccl_ctx *>(c->ctx); }

// Queue the sum of [buf, buf + n) on the comm stream, in buckets, after all
// work queued so far on the compute stream `compute`.
void comm_nccl_begin(dfl_comm *c, cudaStream_t compute, float *buf, size_t n) {
    nccl_ctx *m = ctx_of(c);
    cudaCheck(cudaEventRecord(m->ready, compute));
    cudaCheck(cudaStreamWaitEvent(m->stream, m->ready, 0));
    for (size_t off = 0; off < n; off += m->bucket_elems) {
        size_t len = n - off < m->bucket_elems ? n - off : m->bucket_elems;
        ncclCheck(ncclAllReduce(buf + off, buf + off, len, ncclFloat, ncclSum, m->nccl, m->stream));
    }
    m->pending = 1;
}

// Make the compute stream wait for every begun reduction.
void comm_nccl_end(dfl_comm *c, cudaStream_t compute) {
    nccl_ctx *m = ctx_of(c);
    if (!m->pending) return;
    cudaCheck(cudaEventRecord(m->done, m->stream));
    cudaCheck(cudaStreamWaitEvent(compute, m->done, 0));
    m->pending = 0;
}

// The CUDA context of `be` when it is the CUDA backend on this rank's device
// (panics on a device mismatch); NULL for a host backend, whose buffers the
// host communicator reduces.
dfl_cuda_ctx *device_ctx(dfl_comm *c, dfl_backend *be) {
    nccl_ctx *m = ctx_of(c);
    if (strcmp(be->name, "cuda") != 0) return NULL;
    dfl_cuda_ctx *cx = dfl_cuda_ctx_of(be);
    if (cx->device != m->device)
        DFL_PANIC("NCCL communicator of rank %d uses CUDA device %d but the CUDA backend runs on device %d: create "
                  "the backend on device dfl_comm_nccl_device() (or bind one GPU per rank with CUDA_VISIBLE_DEVICES)",
                  c->rank, m->device, cx->device);
    return cx;
}

void nccl_allreduce_host(dfl_comm *c, double *buf, size_t n) {
    dfl_comm *h = ctx_of(c)->host;
    h->allreduce_sum_host(h, buf, n);
}

void nccl_broadcast(dfl_comm *c, void *buf, size_t bytes, int root) {
    dfl_comm *h = ctx_of(c)->host;
    h->broadcast_host(h, buf, bytes, root);
}

void nccl_barrier(dfl_comm *c) {
    dfl_comm *h = ctx_of(c)->host;
    h->barrier(h);
}

void nccl_abort(dfl_comm *c, int code) {
    nccl_ctx *m = ctx_of(c);
    (void)ncclCommAbort(m->nccl); // the error path: its status is not actionable
    m->host->abort(m->host, code);
}

// Overlap with the backward pass: the trainer begins the sum of each range
// of final gradients while backward continues on the compute stream.
// A host backend gets the blocking host sum at begin, and end does nothing.
void nccl_allreduce_begin(dfl_comm *c, dfl_backend *be, float *buf, size_t n) {
    nccl_ctx *m = ctx_of(c);
    dfl_cuda_ctx *cx = device_ctx(c, be);
    if (!cx) {
        m->host->allreduce_sum(m->host, be, buf, n);
        return;
    }
    if (n == 0) return;
    cudaCheck(cudaSetDevice(m->device));
    comm_nccl_begin(c, cx->stream, buf, n);
}

void nccl_allreduce_end(dfl_comm *c, dfl_backend *be) {
    dfl_cuda_ctx *cx = device_ctx(c, be);
    if (cx) comm_nccl_end(c, cx->stream);
}

void nccl_allreduce(dfl_comm *c, dfl_backend *be, float *buf, size_t n) {
    nccl_allreduce_begin(c, be, buf, n);
    nccl_allreduce_end(c, be);
}

void nccl_destroy(dfl_comm *c) {
    nccl_ctx *m = ctx_of(c);
    cudaCheck(cudaSetDevice(m->device));
    cudaCheck(cudaStreamSynchronize(m->stream));
    ncclCheck(ncclCommDestroy(m->nccl));
    cudaCheck(cudaEventDestroy(m->ready));
    cudaCheck(cudaEventDestroy(m->done));
    cudaCheck(cudaStreamDestroy(m->stream));
    m->host->destroy(m->host); // MPI_Finalize, after NCCL is gone
    free(m);
    free(c);
}

} // namespace

// The NCCL communicator over the host communicator `host` (MPI or single,
// which bootstraps NCCL and which it takes over and destroys with itself);
// `bucket_mb` (dist.bucket_mb) sizes the all-reduce buckets. Returns NULL
// with a DFL_EUSAGE message when no GPU is visible (host stays the caller's).
extern "C" dfl_comm *dfl_comm_nccl_create(dfl_comm *host, double bucket_mb) {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
        (void)cudaGetLastError();
        dfl_fail(DFL_EUSAGE,
                 "the NCCL communicator (dist.comm = nccl) needs a CUDA GPU, and none is visible to this process");
        return NULL;
    }
    if (!(bucket_mb > 0)) {
        dfl_fail(DFL_EUSAGE, "dist.bucket_mb must be > 0 (got %g)", bucket_mb);
        return NULL;
    }
    nccl_ctx *m = static_cast<nccl_ctx *>(dfl_xcalloc(1, sizeof *m));
    m->host = host;
    m->device = host->local_rank % count;
    size_t elems = (size_t)(bucket_mb * 1024.0 * 1024.0 / sizeof(float));
    m->bucket_elems = elems > 0 ? elems : 1;
    cudaCheck(cudaSetDevice(m->device));

    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    if (host->rank == 0) ncclCheck(ncclGetUniqueId(&id));
    host->broadcast_host(host, &id, sizeof id, 0);
    ncclCheck(ncclCommInitRank(&m->nccl, host->world, id, host->rank));

    cudaCheck(cudaStreamCreateWithFlags(&m->stream, cudaStreamNonBlocking));
    cudaCheck(cudaEventCreateWithFlags(&m->ready, cudaEventDisableTiming));
    cudaCheck(cudaEventCreateWithFlags(&m->done, cudaEventDisableTiming));

    dfl_comm *c = static_cast<dfl_comm *>(dfl_xcalloc(1, sizeof *c));
    c->name = "nccl";
    c->rank = host->rank;
    c->world = host->world;
    c->local_rank = host->local_rank;
    c->ctx = m;
    c->allreduce_sum = nccl_allreduce;
    c->allreduce_sum_host = nccl_allreduce_host;
    c->broadcast_host = nccl_broadcast;
    c->barrier = nccl_barrier;
    c->abort = nccl_abort;
    c->destroy = nccl_destroy;
    c->allreduce_sum_begin = nccl_allreduce_begin;
    c->allreduce_sum_end = nccl_allreduce_end;
    c->bucket_mb = bucket_mb;
    return c;
}

// The CUDA device an NCCL communicator was bound to (create the CUDA
// backend on it); -1 for any other communicator.
extern "C" int dfl_comm_nccl_device(const dfl_comm *c) {
    if (!c || !c->name || strcmp(c->name, "nccl") != 0) return -1;
    return static_cast<const nccl_ctx *>(c->ctx)->device;
}
