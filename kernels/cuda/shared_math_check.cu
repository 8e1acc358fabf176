// Compiles the core kernels/shared headers (Philox, schedule, AdamW/EMA and
// the clipping factor, activation, time embedding, attention softmax,
// GroupNorm, upsampling, the int-limit batch split) as CUDA C++ for the configured architectures, so
// the shared per-element math stays valid device code even where no backend
// kernel calls a function yet (the method headers: method_shared_check.cu).
#include "shared/activation.h"
#include "shared/adamw.h"
#include "shared/attention.h"
#include "shared/buffer.h"
#include "shared/group_norm.h"
#include "shared/int_limit.h"
#include "shared/philox.h"
#include "shared/schedule.h"
#include "shared/time_embedding.h"
#include "shared/upsample.h"

__global__ void dfl_shared_math_compile_check(float *out, float *m, float *v, unsigned long long seed, long step) {
    unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
    float a =
        dfl_vp_alpha(0.5f) + dfl_vp_sigma(0.5f) + dfl_vp_time_from_uniform(dfl_rng_uniform(seed, 2, i), DFL_T_EPS);
    float p = a + dfl_rng_normal(seed, dfl_rng_stream(1, 0, 0), i);
    dfl_adamw_hparams h = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 0.1f, 0.001f, 1.0f};
    h.grad_scale *= (float)dfl_clip_factor(1.0, (double)a);
    dfl_adamw_element(&p, &m[i], &v[i], a, &h);
    float e = out[i];
    dfl_ema_element(&e, p, dfl_ema_decay(0.999f, step));
    // activation, time embedding, attention, GroupNorm, upsampling
    e += dfl_siluf(p) + dfl_silu_grad(p) + dfl_sigmoidf(p);
    float ec, es;
    dfl_time_embedding_pair(a, (int)(i % 16), 16, &ec, &es);
    e += ec + es;
    const float sp = dfl_softmax_inv_sum((double)a + 2.0) * dfl_attention_scale(64);
    e += dfl_softmax_bwd(sp, p, (float)dfl_softmax_bwd_dot_term(p, sp));
    float mean, rstd, q, r;
    dfl_gn_stats((double)a, (double)a * a + 1.0, 4.0, 1e-5f, &mean, &rstd);
    dfl_gn_bwd_qr(rstd, (double)p, (double)e, 4.0, &q, &r);
    const float xc = p - mean, g = dfl_gn_gamma(m, (int)i);
    const float y = dfl_gn_affine(xc, dfl_gn_scale(rstd, g), dfl_gn_beta(v, (int)i));
    e += dfl_gn_bwd_dx(dfl_gn_bwd_p(rstd, g), y, q, dfl_gn_xhat(xc, rstd), r);
    int64_t s0, cnt;
    const int64_t chunk = dfl_split_batch_for_int_limit(8, (int64_t)i + 1, DFL_INT_LIMIT);
    dfl_split_chunk(8, chunk, dfl_split_count(8, chunk) - 1, &s0, &cnt);
    e += (float)(s0 + cnt);
    out[i] = dfl_upsample_bwd_sum(e, a, p, y);
}
