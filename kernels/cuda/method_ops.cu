// Fused method ops (DESIGN.md §2): noise_context, qmse, ensemble_build,
// ensemble_reduce. Pending: include/dynfill/method_ops.h and the shared
// per-element math they call have not landed yet, so the four vtable
// entries stay NULL (backend.h: "NULL until the backend registers them").
#include "cuda/cuda_backend_internal.cuh"

void dfl_cuda_register_method_ops(dfl_backend *be) { (void)be; }
