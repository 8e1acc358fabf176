/* MPI communicator (include/dynfill/comm.h): MPI_COMM_WORLD, gradients
 * summed with MPI_Allreduce in place (CPU backend memory is host memory;
 * other backends stage through a host buffer). Every MPI call goes through
 * mpiCheck, which panics with file:line. */
#ifdef DYNFILL_HAVE_MPI
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "dynfill/comm.h"

#define mpiCheck(call)                                                                                                 \
    do {                                                                                                               \
        int mpi_check_rc_ = (call);                                                                                    \
        if (mpi_check_rc_ != MPI_SUCCESS) {                                                                            \
            char mpi_msg_[MPI_MAX_ERROR_STRING];                                                                       \
            int mpi_len_ = 0;                                                                                          \
            MPI_Error_string(mpi_check_rc_, mpi_msg_, &mpi_len_);                                                      \
            dfl_panic(__FILE__, __LINE__, "MPI call failed (%s): %s", mpi_msg_, #call);                                \
        }                                                                                                              \
    } while (0)

typedef struct {
    float *stage;
    size_t stage_n;
    int owns_init;
    MPI_Request *requests; /* non-blocking sums begun during backward */
    int nreq;
    size_t capreq;
} mpi_ctx;

/* MPI counts are int: reduce in chunks of at most 2^30 elements. */
#define MPI_CHUNK ((size_t)1 << 30)

static void mpi_allreduce(dfl_comm *c, dfl_backend *be, float *buf, size_t n) {
    mpi_ctx *m = c->ctx;
    float *host = buf;
    int staged = strcmp(be->name, "cpu") != 0;
    if (staged) {
        if (m->stage_n < n) {
            free(m->stage);
            m->stage = dfl_xmalloc(n * sizeof(float));
            m->stage_n = n;
        }
        host = m->stage;
        be->download(be, host, buf, n * sizeof(float));
    }
    for (size_t off = 0; off < n; off += MPI_CHUNK) {
        size_t len = n - off < MPI_CHUNK ? n - off : MPI_CHUNK;
        mpiCheck(MPI_Allreduce(MPI_IN_PLACE, host + off, (int)len, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
    }
    if (staged) be->upload(be, buf, host, n * sizeof(float));
}

/* Overlap with backward (CPU backend memory is host memory): each ready
 * range is summed with MPI_Iallreduce; end waits for all of them. Other
 * backends reduce the range synchronously through the staging buffer. */
static void mpi_allreduce_begin(dfl_comm *c, dfl_backend *be, float *buf, size_t n) {
    mpi_ctx *m = c->ctx;
    if (strcmp(be->name, "cpu") != 0) {
        mpi_allreduce(c, be, buf, n);
        return;
    }
    for (size_t off = 0; off < n; off += MPI_CHUNK) {
        size_t len = n - off < MPI_CHUNK ? n - off : MPI_CHUNK;
        m->requests = dfl_xgrow(m->requests, &m->capreq, (size_t)m->nreq + 1, sizeof *m->requests);
        mpiCheck(MPI_Iallreduce(MPI_IN_PLACE, buf + off, (int)len, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                                &m->requests[m->nreq++]));
    }
}

static void mpi_allreduce_end(dfl_comm *c, dfl_backend *be) {
    (void)be;
    mpi_ctx *m = c->ctx;
    if (m->nreq) mpiCheck(MPI_Waitall(m->nreq, m->requests, MPI_STATUSES_IGNORE));
    m->nreq = 0;
}

static void mpi_allreduce_host(dfl_comm *c, double *buf, size_t n) {
    (void)c;
    mpiCheck(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
}

static void mpi_broadcast(dfl_comm *c, void *buf, size_t bytes, int root) {
    (void)c;
    mpiCheck(MPI_Bcast(buf, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD));
}

static void mpi_barrier(dfl_comm *c) {
    (void)c;
    mpiCheck(MPI_Barrier(MPI_COMM_WORLD));
}

static void mpi_abort(dfl_comm *c, int code) {
    (void)c;
    MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

static void mpi_destroy(dfl_comm *c) {
    mpi_ctx *m = c->ctx;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (m->owns_init && !finalized) MPI_Finalize();
    free(m->stage);
    free(m->requests);
    free(m);
    free(c);
}

dfl_comm *dfl_comm_mpi_create(void) {
    int inited = 0;
    mpiCheck(MPI_Initialized(&inited));
    mpi_ctx *m = dfl_xcalloc(1, sizeof *m);
    if (!inited) {
        int provided;
        mpiCheck(MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided));
        m->owns_init = 1;
    }
    dfl_comm *c = dfl_xcalloc(1, sizeof *c);
    c->name = "mpi";
    c->ctx = m;
    mpiCheck(MPI_Comm_rank(MPI_COMM_WORLD, &c->rank));
    mpiCheck(MPI_Comm_size(MPI_COMM_WORLD, &c->world));
    MPI_Comm local;
    mpiCheck(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &local));
    mpiCheck(MPI_Comm_rank(local, &c->local_rank));
    mpiCheck(MPI_Comm_free(&local));
    c->allreduce_sum = mpi_allreduce;
    c->allreduce_sum_host = mpi_allreduce_host;
    c->broadcast_host = mpi_broadcast;
    c->barrier = mpi_barrier;
    c->abort = mpi_abort;
    c->destroy = mpi_destroy;
    c->allreduce_sum_begin = mpi_allreduce_begin;
    c->allreduce_sum_end = mpi_allreduce_end;
    c->bucket_mb = 0; /* the trainer uses dist.bucket_mb */
    return c;
}
#else
/* Built without MPI: host/dist/comm_single.c provides dfl_comm_mpi_create. */
typedef int dfl_comm_mpi_unused;
#endif
