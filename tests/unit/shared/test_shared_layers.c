/* The layer math of kernels/shared that both backends call (activation,
 * time embedding, attention softmax, GroupNorm, clipping factor, upsampling
 * backward, the qmse normaliser) against closed forms and finite differences in double. */
#include <math.h>

#include "cpu/fast_math_cpu.h"
#include "dfl_test.h"
#include "shared/adamw.h"
#include "shared/attention.h"
#include "shared/buffer.h"
#include "shared/group_norm.h"
#include "shared/qmse.h"
#include "shared/time_embedding.h"
#include "shared/upsample.h"

static void test_activation(void) {
    for (int i = -400; i <= 400; ++i) {
        const float x = (float)i / 20.0f; /* [-20, 20] */
        const double xd = x, s = 1.0 / (1.0 + exp(-xd));
        CHECK_CLOSE(dfl_sigmoidf(x), s, 1e-6);
        CHECK_CLOSE(dfl_siluf(x), xd * s, 2e-6);
        CHECK_CLOSE(dfl_silu_grad(x), s * (1.0 + xd * (1.0 - s)), 2e-6);
        /* the CPU's vector form: the same functions over dfl_cpu_expf */
        CHECK_CLOSE(dfl_cpu_sigmoidf(x), s, 1e-6);
        CHECK_CLOSE(dfl_cpu_siluf(x), xd * s, 2e-6);
        CHECK_CLOSE(dfl_cpu_silu_grad(x), s * (1.0 + xd * (1.0 - s)), 2e-6);
        /* silu' is the derivative of silu (central difference in double) */
        const double hd = 1e-6, sp = 1.0 / (1.0 + exp(-(xd + hd))), sm = 1.0 / (1.0 + exp(-(xd - hd)));
        CHECK_CLOSE(dfl_silu_grad(x), ((xd + hd) * sp - (xd - hd) * sm) / (2 * hd), 1e-5);
    }
    /* the parametrised forms are exact algebra on their inputs */
    CHECK(dfl_sigmoid_from_exp_neg(1.0f) == 0.5f);
    CHECK(dfl_silu_from_sigmoid(3.0f, 0.5f) == 1.5f);
    CHECK(dfl_silu_grad_from_sigmoid(2.0f, 0.5f) == 1.0f); /* 0.5 (1 + 2 * 0.5) */
}

static void test_time_embedding(void) {
    const float ts[] = {0.0f, 1e-3f, 0.37f, 0.999f, 1.0f};
    const int hs[] = {1, 8, 64};
    for (size_t a = 0; a < sizeof ts / sizeof ts[0]; ++a) {
        for (size_t b = 0; b < sizeof hs / sizeof hs[0]; ++b) {
            const int h = hs[b];
            for (int j = 0; j < h; ++j) {
                /* f_j = 10000^(-j/h), written with pow instead of exp(log) */
                const double f = pow(10000.0, -(double)j / h), arg = 1000.0 * (double)ts[a] * f;
                CHECK_CLOSE(dfl_time_embedding_freq(j, h), f, 1e-14);
                float c, s;
                dfl_time_embedding_pair(ts[a], j, h, &c, &s);
                CHECK_CLOSE(c, cos(arg), 1e-7);
                CHECK_CLOSE(s, sin(arg), 1e-7);
            }
        }
    }
}

static void test_attention(void) {
    CHECK_CLOSE(dfl_attention_scale(64), 0.125, 1e-9);
    CHECK_CLOSE(dfl_attention_scale(3), 1.0 / sqrt(3.0), 1e-7);
    CHECK_CLOSE(dfl_softmax_inv_sum(4.0), 0.25, 0);

    enum { N = 7 };
    const double s[N] = {0.3, -1.2, 2.5, 0.0, 0.7, -0.4, 1.9};
    const double dp[N] = {0.5, -0.25, 1.5, 2.0, -1.0, 0.125, 0.75};
    /* forward as the backends do it: e = exp(s - max), p = e * inv_sum */
    double mx = s[0], sum = 0.0, pd[N];
    for (int j = 1; j < N; ++j) mx = s[j] > mx ? s[j] : mx;
    for (int j = 0; j < N; ++j) sum += exp(s[j] - mx);
    float p[N];
    const float inv = dfl_softmax_inv_sum(sum);
    double total = 0.0;
    for (int j = 0; j < N; ++j) {
        p[j] = (float)exp(s[j] - mx) * inv;
        pd[j] = exp(s[j] - mx) / sum;
        CHECK_CLOSE(p[j], pd[j], 1e-6);
        total += p[j];
    }
    CHECK_CLOSE(total, 1.0, 1e-6);
    /* backward against d/ds_j sum_k dP_k softmax(s)_k by central differences */
    double dot = 0.0;
    for (int k = 0; k < N; ++k) dot += dfl_softmax_bwd_dot_term((float)dp[k], p[k]);
    for (int j = 0; j < N; ++j) {
        double lp = 0.0, lm = 0.0, zp = 0.0, zm = 0.0;
        const double hd = 1e-6;
        for (int k = 0; k < N; ++k) {
            zp += exp(s[k] + (k == j ? hd : 0.0));
            zm += exp(s[k] - (k == j ? hd : 0.0));
        }
        for (int k = 0; k < N; ++k) {
            lp += dp[k] * exp(s[k] + (k == j ? hd : 0.0)) / zp;
            lm += dp[k] * exp(s[k] - (k == j ? hd : 0.0)) / zm;
        }
        CHECK_CLOSE(dfl_softmax_bwd(p[j], (float)dp[j], (float)dot), (lp - lm) / (2 * hd), 1e-5);
    }
}

/* GroupNorm of one group of G = PIX x CH elements (channel-fastest), in
 * double: a(x) = (x - mean) / sqrt(var + eps) gamma + beta. */
enum { PIX = 5, CH = 3, G = PIX * CH };

static double gn_loss(const double *x, const double *gamma, const double *beta, const double *da, double eps) {
    double mu = 0.0, var = 0.0, l = 0.0;
    for (int e = 0; e < G; ++e) mu += x[e] / G;
    for (int e = 0; e < G; ++e) var += (x[e] - mu) * (x[e] - mu) / G;
    for (int e = 0; e < G; ++e) l += da[e] * ((x[e] - mu) / sqrt(var + eps) * gamma[e % CH] + beta[e % CH]);
    return l;
}

static void test_group_norm(void) {
    const float eps = 1e-5f;
    double x[G], da[G];
    const double gamma[CH] = {1.5, -0.5, 0.75}, beta[CH] = {0.25, 0.0, -1.0};
    const float gammaf[CH] = {1.5f, -0.5f, 0.75f}, betaf[CH] = {0.25f, 0.0f, -1.0f};
    for (int e = 0; e < G; ++e) {
        x[e] = (float)(0.5 * sin(1.7 * e) + 0.1 * e);
        da[e] = (float)cos(0.9 * e + 0.3);
    }
    /* statistics: two-pass mean and variance in double */
    double sum = 0.0, sumsq = 0.0, mu = 0.0, var = 0.0;
    for (int e = 0; e < G; ++e) {
        sum += x[e];
        sumsq += x[e] * x[e];
        mu += x[e] / G;
    }
    for (int e = 0; e < G; ++e) var += (x[e] - mu) * (x[e] - mu) / G;
    float mean, rstd;
    dfl_gn_stats(sum, sumsq, (double)G, eps, &mean, &rstd);
    CHECK_CLOSE(mean, mu, 1e-7);
    CHECK_CLOSE(rstd, 1.0 / sqrt(var + eps), 1e-6);
    /* a negative rounding of E[x^2] - mean^2 is clamped to 0 */
    dfl_gn_stats(3.0, 3.0 - 1e-12, 3.0, eps, &mean, &rstd);
    CHECK_CLOSE(rstd, 1.0 / sqrt((double)eps), 1e-6);
    dfl_gn_stats(sum, sumsq, (double)G, eps, &mean, &rstd);
    CHECK(dfl_gn_gamma(NULL, 2) == 1.0f && dfl_gn_beta(NULL, 2) == 0.0f);
    CHECK(dfl_gn_gamma(gammaf, 1) == -0.5f && dfl_gn_beta(betaf, 2) == -1.0f);

    /* forward: a = (x - mean) rstd gamma + beta */
    for (int e = 0; e < G; ++e) {
        const int ch = e % CH;
        const float xc = (float)x[e] - mean;
        const float a = dfl_gn_affine(xc, dfl_gn_scale(rstd, dfl_gn_gamma(gammaf, ch)), dfl_gn_beta(betaf, ch));
        CHECK_CLOSE(a, (x[e] - mu) / sqrt(var + eps) * gamma[ch] + beta[ch], 2e-6);
        CHECK_CLOSE(dfl_gn_xhat(xc, rstd), (x[e] - mu) / sqrt(var + eps), 2e-6);
    }

    /* backward: dx = P da + Q (x - mean) + R against the finite-difference
     * gradient of sum da * a(x) */
    double s_dg = 0.0, s_dgx = 0.0;
    for (int e = 0; e < G; ++e) {
        const float xc = (float)x[e] - mean;
        s_dg += da[e] * gamma[e % CH];
        s_dgx += da[e] * gamma[e % CH] * (double)dfl_gn_xhat(xc, rstd);
    }
    float q, r;
    dfl_gn_bwd_qr(rstd, s_dg, s_dgx, (double)G, &q, &r);
    for (int e = 0; e < G; ++e) {
        const float P = dfl_gn_bwd_p(rstd, gammaf[e % CH]);
        CHECK_CLOSE(P, gamma[e % CH] / sqrt(var + eps), 1e-6);
        const float dx = dfl_gn_bwd_dx(P, (float)da[e], q, (float)x[e] - mean, r);
        double xp[G], xm[G];
        const double hd = 1e-6;
        for (int k = 0; k < G; ++k) xp[k] = xm[k] = x[k];
        xp[e] += hd;
        xm[e] -= hd;
        const double ref = (gn_loss(xp, gamma, beta, da, eps) - gn_loss(xm, gamma, beta, da, eps)) / (2 * hd);
        CHECK_CLOSE(dx, ref, 1e-4);
    }
}

static void test_clip_and_upsample(void) {
    CHECK(dfl_clip_factor(0.0, 50.0) == 1.0); /* clipping off */
    CHECK(dfl_clip_factor(-1.0, 50.0) == 1.0);
    CHECK(dfl_clip_factor(1.0, 0.5) == 1.0); /* below the threshold */
    CHECK(dfl_clip_factor(1.0, 1.0) == 1.0); /* at it */
    CHECK(dfl_clip_factor(1.0, NAN) == 1.0);
    CHECK_CLOSE(dfl_clip_factor(1.0, 4.0), 1.0 / (4.0 + 1e-6), 1e-15);
    CHECK_CLOSE(dfl_clip_factor(2.5, 1e6), 2.5 / (1e6 + 1e-6), 1e-15);
    CHECK(dfl_clip_factor(1.0, 1.0 + 1e-9) < 1.0);

    CHECK(dfl_upsample_bwd_sum(1.0f, 2.0f, 3.0f, 4.0f) == 10.0f);
    /* the fixed order ((a0 + a1) + b0) + b1, each sum rounded to float */
    CHECK(dfl_upsample_bwd_sum(1e8f, 1.0f, -1e8f, 1.0f) == 1.0f);
    CHECK(dfl_upsample_bwd_sum(1.0f, 1e8f, 1.0f, -1e8f) == 0.0f);

    /* qmse normaliser D: loss = sum / D, gradient factor 2 / D, 0 without queries */
    CHECK_CLOSE(dfl_qmse_loss(6.0, 4.0), 1.5, 0);
    CHECK(dfl_qmse_loss(6.0, 0.0) == 0.0);
    CHECK_CLOSE(dfl_qmse_two_over_d(3.0), 2.0 / 3.0, 1e-7);
    CHECK(dfl_qmse_two_over_d(0.0) == 0.0f);
    CHECK_CLOSE(dfl_qmse_grad(1.5f, 0.5f, 1, dfl_qmse_two_over_d(4.0)), 0.5, 0);
}

/* The growth rule of scratch buffers (kernels/shared/buffer.h). */
static void test_buffer_growth(void) {
    CHECK(dfl_buffer_grow_bytes(0, 64) == 64);
    CHECK(dfl_buffer_grow_bytes(1, 64) == 64);
    CHECK(dfl_buffer_grow_bytes(1000, 64) == 1280); /* 1250 rounded up to 64 */
    CHECK(dfl_buffer_grow_bytes(1000, 256) == 1280);
    for (size_t need = 1; need < 100000; need = need * 3 + 7) {
        const size_t got = dfl_buffer_grow_bytes(need, 256);
        CHECK(got >= need + need / 4 && got % 256 == 0 && got < need + need / 4 + 256);
    }
}

int main(void) {
    test_buffer_growth();
    test_activation();
    test_time_embedding();
    test_attention();
    test_group_norm();
    test_clip_and_upsample();
    return dfl_test_finish("shared_layers");
}
