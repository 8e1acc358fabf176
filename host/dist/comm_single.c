/* The single-process communicator and communicator selection
 * (include/dynfill/comm.h). */
#include <stdlib.h>
#include <string.h>

#include "dynfill/backend.h"
#include "dynfill/comm.h"

static void single_allreduce(dfl_comm *c, dfl_backend *be, float *buf, size_t n) {
    (void)c;
    (void)be;
    (void)buf;
    (void)n;
}
static void single_allreduce_host(dfl_comm *c, double *buf, size_t n) {
    (void)c;
    (void)buf;
    (void)n;
}
static void single_broadcast(dfl_comm *c, void *buf, size_t bytes, int root) {
    (void)c;
    (void)buf;
    (void)bytes;
    (void)root;
}
static void single_barrier(dfl_comm *c) { (void)c; }
static void single_abort(dfl_comm *c, int code) {
    (void)c;
    exit(code);
}
static void single_destroy(dfl_comm *c) { free(c); }

dfl_comm *dfl_comm_single(void) {
    dfl_comm *c = dfl_xcalloc(1, sizeof *c);
    c->name = "single";
    c->rank = 0;
    c->world = 1;
    c->local_rank = 0;
    c->allreduce_sum = single_allreduce;
    c->allreduce_sum_host = single_allreduce_host;
    c->broadcast_host = single_broadcast;
    c->barrier = single_barrier;
    c->abort = single_abort;
    c->destroy = single_destroy;
    return c;
}

#ifndef DYNFILL_HAVE_MPI
dfl_comm *dfl_comm_mpi_create(void) {
    dfl_fail(DFL_EUSAGE, "this dynfill was built without MPI (install libopenmpi-dev and rebuild)");
    return NULL;
}
#endif

/* Launched by mpirun/srun with several ranks? */
static int launched_multi_rank(void) {
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS", "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; ++i) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 1) return 1;
    }
    return 0;
}

dfl_comm *dfl_comm_create(const char *kind, double bucket_mb) {
    if (!kind || !strcmp(kind, "none")) return dfl_comm_single();
    if (!strcmp(kind, "mpi")) return dfl_comm_mpi_create();
    if (!strcmp(kind, "auto")) return launched_multi_rank() ? dfl_comm_mpi_create() : dfl_comm_single();
    if (!strcmp(kind, "auto-device")) kind = launched_multi_rank() ? "nccl" : "none";
    if (!strcmp(kind, "none")) return dfl_comm_single();
    if (!strcmp(kind, "nccl")) {
        dfl_comm *host = dfl_comm_create("auto", 0); /* bootstraps NCCL: MPI when launched so */
        if (!host) return NULL;
        dfl_comm *c = dfl_comm_nccl_create(host, bucket_mb);
        if (!c) host->destroy(host);
        return c;
    }
    dfl_fail(DFL_EUSAGE, "dist.comm = '%s' is not one of auto, mpi, nccl, none", kind);
    return NULL;
}

int dfl_comm_cuda_device(const dfl_comm *c) {
    int d = dfl_comm_nccl_device(c);
    if (d >= 0) return d;
    int count = dfl_cuda_device_count();
    return count > 0 ? c->local_rank % count : 0;
}

void dfl_comm_destroy(dfl_comm *c) {
    if (c && c->destroy) c->destroy(c);
}
