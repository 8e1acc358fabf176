// Compiles the core kernels/shared headers (Philox, schedule, AdamW/EMA) as
// CUDA C++ for the configured architectures, so the shared per-element math
// stays valid device code even where no backend kernel calls a function
// yet (the method headers: method_shared_check.cu).
#include "shared/adamw.h"
#include "shared/philox.h"
#include "shared/schedule.h"

__global__ void dfl_shared_math_compile_check(float *out, float *m, float *v, unsigned long long seed, long step) {
    unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
    float a = dfl_vp_alpha(0.5f) + dfl_vp_sigma(0.5f) + dfl_vp_time_from_uniform(dfl_rng_uniform(seed, 2, i), DFL_T_EPS);
    float p = a + dfl_rng_normal(seed, dfl_rng_stream(1, 0, 0), i);
    dfl_adamw_hparams h = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 0.1f, 0.001f, 1.0f};
    dfl_adamw_element(&p, &m[i], &v[i], a, &h);
    float e = out[i];
    dfl_ema_element(&e, p, dfl_ema_decay(0.999f, step));
    out[i] = e;
}
