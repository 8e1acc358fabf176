/* Communicator interface for data-parallel training (docs/design.md, "Distributed training"): a C
 * struct of function pointers with a single-process implementation (always
 * built), MPI (CPU backend; host/dist/comm_mpi.c when MPI is found) and NCCL
 * (CUDA backend). Gradients are summed in place in backend memory; small
 * host values (loss sums, query counts, stop flags) are reduced on the host. */
#ifndef DYNFILL_COMM_H
#define DYNFILL_COMM_H

#include <stddef.h>

#include "dynfill/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dfl_comm dfl_comm;
struct dfl_comm {
    const char *name; /* "single", "mpi", "nccl" */
    int rank, world, local_rank;
    void *ctx;
    /* Sum `n` floats of backend memory across ranks, in place. */
    void (*allreduce_sum)(dfl_comm *c, dfl_backend *be, float *buf, size_t n);
    /* Sum `n` doubles of host memory across ranks, in place. */
    void (*allreduce_sum_host)(dfl_comm *c, double *buf, size_t n);
    /* Broadcast `bytes` of host memory from `root`. */
    void (*broadcast_host)(dfl_comm *c, void *buf, size_t bytes, int root);
    void (*barrier)(dfl_comm *c);
    /* Stop every rank now with exit code `code` (an error on one rank must
     * not leave the others waiting in a collective). */
    void (*abort)(dfl_comm *c, int code);
    void (*destroy)(dfl_comm *c);
    /* Optional overlap of the gradient sum with the backward pass (NULL
     * when the communicator has none): begin queues the sum of a range
     * whose gradients are final while backward continues; end makes later
     * work on the backend wait for every begun sum. */
    void (*allreduce_sum_begin)(dfl_comm *c, dfl_backend *be, float *buf, size_t n);
    void (*allreduce_sum_end)(dfl_comm *c, dfl_backend *be);
    double bucket_mb; /* preferred size of one begun range */
};

/* World of one: every reduction is the identity. */
dfl_comm *dfl_comm_single(void);
/* MPI_COMM_WORLD (calls MPI_Init when needed). Returns NULL with an error
 * when built without MPI. */
dfl_comm *dfl_comm_mpi_create(void);
/* NCCL (CUDA backend): bootstraps over `host` (MPI or single; taken over
 * and destroyed with the NCCL communicator; the caller keeps it on failure),
 * binds GPU local_rank % visible devices; gradients summed in buckets of
 * bucket_mb on its own stream. NULL with an error without CUDA or a GPU. */
dfl_comm *dfl_comm_nccl_create(dfl_comm *host, double bucket_mb);
/* The CUDA device an NCCL communicator uses; -1 for other communicators. */
int dfl_comm_nccl_device(const dfl_comm *c);
/* "none" -> single; "mpi" -> MPI; "nccl" -> NCCL; "auto" -> MPI when
 * launched by mpirun / srun with more than one rank, else single;
 * "auto-device" -> NCCL when launched with more than one rank, else single
 * (what `dist.comm = auto` means with the CUDA backend: gradients never
 * staged through the host). */
dfl_comm *dfl_comm_create(const char *kind, double bucket_mb);
/* The CUDA device this rank should use: the NCCL communicator's, else
 * local_rank modulo the visible devices. */
int dfl_comm_cuda_device(const dfl_comm *c);
void dfl_comm_destroy(dfl_comm *c);

#ifdef __cplusplus
}
#endif
#endif
