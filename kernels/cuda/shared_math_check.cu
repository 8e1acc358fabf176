// Compiles every kernels/shared header as CUDA C++ for the configured
// architectures, so the shared per-element math stays valid device code.
#include "shared/adamw.h"
#include "shared/philox.h"
#include "shared/schedule.h"

__global__ void dfl_shared_math_compile_check(float *out, unsigned long long seed) {
    unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
    float a = dfl_vp_alpha(0.5f) + dfl_vp_sigma(0.5f);
    out[i] = a + dfl_rng_normal(seed, dfl_rng_stream(1, 0, 0), i);
}
