/* The CUDA entry points of include/dynfill/backend.h and comm.h in a build
 * without the CUDA backend (DYNFILL_CUDA=OFF, or no nvcc): each reports
 * that the feature needs CUDA, so callers need no #ifdef. */
#include "dynfill/backend.h"
#include "dynfill/comm.h"
#include "dynfill/status.h"

dfl_backend *dfl_backend_cuda_create(int device, dfl_precision precision) {
    (void)device;
    (void)precision;
    dfl_fail(DFL_EUSAGE, "this dynfill was built without the CUDA backend (configure with -DDYNFILL_CUDA=ON)");
    return NULL;
}

int dfl_cuda_available(void) { return 0; }

int dfl_cuda_device_count(void) { return 0; }

dfl_comm *dfl_comm_nccl_create(dfl_comm *host, double bucket_mb) {
    (void)host;
    (void)bucket_mb;
    dfl_fail(DFL_EUSAGE, "dist.comm = nccl needs the CUDA backend, and this dynfill was built without it");
    return NULL;
}

int dfl_comm_nccl_device(const dfl_comm *c) {
    (void)c;
    return -1;
}
