// CUDA backend construction (being built; see issue 5).
#include <cuda_runtime.h>

#include "dynfill/backend.h"

extern "C" int dfl_cuda_available(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
    return n > 0;
}

extern "C" dfl_backend *dfl_backend_cuda_create(int device, dfl_precision precision) {
    (void)device;
    (void)precision;
    dfl_fail(DFL_EUSAGE, "the CUDA backend is not complete in this build");
    return NULL;
}
