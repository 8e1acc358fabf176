/* VP schedule and AdamW/EMA per-element math against closed forms. */
#include <math.h>

#include "dfl_test.h"
#include "shared/adamw.h"
#include "shared/schedule.h"

int main(void) {
    /* log alpha(t) = -1/4 t^2 (20 - 0.1) - 1/2 t 0.1 */
    for (int i = 0; i <= 10; ++i) {
        double t = i / 10.0;
        double la = -0.25 * t * t * 19.9 - 0.05 * t;
        CHECK_CLOSE(dfl_vp_alpha((float)t), exp(la), 1e-6);
        CHECK_CLOSE(dfl_vp_sigma((float)t), sqrt(1.0 - exp(2 * la)), 1e-5);
        double a = dfl_vp_alpha((float)t), s = dfl_vp_sigma((float)t);
        CHECK_CLOSE(a * a + s * s, 1.0, 1e-6);
    }
    /* near t_eps sigma is small but accurate: sigma^2 ~ -2 log alpha */
    double te = 1e-3, la = -0.25 * te * te * 19.9 - 0.05 * te;
    CHECK_CLOSE(dfl_vp_sigma(1e-3f) / sqrt(-expm1(2 * la)), 1.0, 1e-5);
    CHECK_CLOSE(dfl_vp_time_from_uniform(0.0f, 1e-3f), 1e-3, 1e-9);
    CHECK_CLOSE(dfl_vp_time_from_uniform(1.0f, 1e-3f), 1.0, 1e-7);

    /* AdamW: two steps by hand */
    float p = 0.5f, m = 0, v = 0;
    double P = 0.5, M = 0, V = 0;
    double g[2] = {0.2, -0.4};
    for (int s = 1; s <= 2; ++s) {
        dfl_adamw_hparams h = {0.01f, 0.9f, 0.999f, 1e-8f, 0.1f, (float)(1 - pow(0.9, s)), (float)(1 - pow(0.999, s)),
                               0.5f};
        dfl_adamw_element(&p, &m, &v, (float)g[s - 1], &h);
        double gs = g[s - 1] * 0.5;
        M = 0.9 * M + 0.1 * gs;
        V = 0.999 * V + 0.001 * gs * gs;
        P -= 0.01 * ((M / (1 - pow(0.9, s))) / (sqrt(V / (1 - pow(0.999, s))) + 1e-8) + 0.1 * P);
    }
    CHECK_CLOSE(p, P, 1e-6);
    CHECK_CLOSE(m, M, 1e-7);
    CHECK_CLOSE(v, V, 1e-9);
    /* EMA with warm-up decay */
    CHECK_CLOSE(dfl_ema_decay(0.999f, 0), 0.1, 1e-7);
    CHECK_CLOSE(dfl_ema_decay(0.999f, 90), 91.0 / 100.0, 1e-7);
    CHECK_CLOSE(dfl_ema_decay(0.999f, 1000000), 0.999, 1e-7);
    float e = 1.0f;
    dfl_ema_element(&e, 3.0f, 0.75f);
    CHECK_CLOSE(e, 1.5, 1e-7);
    return dfl_test_finish("shared_schedule_adamw");
}
