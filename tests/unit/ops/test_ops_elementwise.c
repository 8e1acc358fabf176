/* CPU backend elementwise, layout, time-embedding and optimiser ops against
 * naive double references; bitwise repeatability and independence of the
 * thread count (1 vs the default) for the loops the backend writes itself. */
#include <omp.h>

#include "cpu/fast_math_cpu.h"
#include "ops_test_util.h"
#include "ref_ops.h"
#include "shared/adamw.h"

#define TOL 1e-5

/* Runs `stmt` with 1 thread and with the default; `out` must come out the
 * same bits. */
#define CHECK_THREAD_INVARIANT(what, out, n, stmt)                                                                     \
    do {                                                                                                               \
        const int th_ = omp_get_max_threads();                                                                         \
        float *keep_ = ops_new_floats(n);                                                                              \
        stmt;                                                                                                          \
        memcpy(keep_, (out), (n) * sizeof(float));                                                                     \
        omp_set_num_threads(1);                                                                                        \
        stmt;                                                                                                          \
        omp_set_num_threads(th_);                                                                                      \
        CHECK_MSG(memcmp(keep_, (out), (n) * sizeof(float)) == 0, "%s: differs with 1 thread", (what));                \
        free(keep_);                                                                                                   \
    } while (0)

static void check_fast_exp(void) {
    double worst = 0.0;
    for (float x = -87.0f; x < 88.0f; x += 1e-3f) {
        const double e = exp((double)x);
        const double r = fabs((double)dfl_cpu_expf(x) - e) / e;
        if (r > worst) worst = r;
    }
    CHECK_MSG(worst < 2.5e-7, "dfl_cpu_expf max relative error %.3g", worst);
    CHECK(dfl_cpu_expf(-200.0f) < 2e-38f && dfl_cpu_expf(-200.0f) >= 0.0f);
    CHECK(isfinite(dfl_cpu_expf(200.0f)) && dfl_cpu_expf(200.0f) > 1e38f);
    CHECK(dfl_cpu_siluf(-200.0f) <= 0.0f && dfl_cpu_siluf(-200.0f) > -1e-30f);
    CHECK(dfl_cpu_siluf(200.0f) == 200.0f);
}

static void check_silu_add_scale(dfl_backend *be, size_t n) {
    char what[96];
    float *x = ops_new_normal(n, 11 + n, 3.0f, 0.0f), *b = ops_new_normal(n, 12 + n, 1.0f, 0.0f);
    float *dy = ops_new_normal(n, 13 + n, 1.0f, 0.0f), *y = ops_new_floats(n), *dx = ops_new_floats(n);
    double *r = ops_new_doubles(n);
    for (size_t i = 0; i < n; ++i) r[i] = ref_silu(x[i]);
    snprintf(what, sizeof what, "silu_forward n=%zu", n);
    CHECK_THREAD_INVARIANT(what, y, n, be->silu_forward(be, n, x, y));
    OPS_CHECK_REL(what, y, r, n, TOL);
    for (size_t i = 0; i < n; ++i) r[i] = (double)dy[i] * ref_silu_grad(x[i]);
    snprintf(what, sizeof what, "silu_backward n=%zu", n);
    CHECK_THREAD_INVARIANT(what, dx, n, be->silu_backward(be, n, x, dy, dx));
    OPS_CHECK_REL(what, dx, r, n, TOL);
    for (size_t i = 0; i < n; ++i) r[i] = (double)x[i] + (double)b[i];
    snprintf(what, sizeof what, "add n=%zu", n);
    be->add(be, n, x, b, y);
    OPS_CHECK_REL(what, y, r, n, TOL);
    be->add(be, n, y, b, y); /* aliasing output */
    for (size_t i = 0; i < n; ++i) r[i] += (double)b[i];
    OPS_CHECK_REL(what, y, r, n, TOL);
    for (size_t i = 0; i < n; ++i) r[i] *= -0.75;
    be->scale(be, n, -0.75f, y);
    snprintf(what, sizeof what, "scale n=%zu", n);
    OPS_CHECK_REL(what, y, r, n, TOL);
    free(x), free(b), free(dy), free(y), free(dx), free(r);
}

static void check_channel_bias(dfl_backend *be, int n, int hw, int c) {
    char what[96];
    const size_t ne = (size_t)n * hw * c, nb = (size_t)n * c;
    float *y = ops_new_normal(ne, 21, 1.0f, 0.0f), *bias = ops_new_normal(nb, 22, 1.0f, 0.0f);
    float *dbias = ops_new_floats(nb);
    double *yd = ops_to_double(y, ne), *bd = ops_to_double(bias, nb), *dbr = ops_new_doubles(nb);
    ref_add_channel_bias(n, hw, c, yd, bd);
    be->add_channel_bias(be, n, hw, c, y, bias);
    snprintf(what, sizeof what, "add_channel_bias n%d hw%d c%d", n, hw, c);
    OPS_CHECK_REL(what, y, yd, ne, TOL);
    ref_channel_bias_backward(n, hw, c, yd, dbr);
    snprintf(what, sizeof what, "channel_bias_backward n%d hw%d c%d", n, hw, c);
    CHECK_THREAD_INVARIANT(what, dbias, nb, be->channel_bias_backward(be, n, hw, c, y, dbias));
    OPS_CHECK_REL(what, dbias, dbr, nb, TOL);
    free(y), free(bias), free(dbias), free(yd), free(bd), free(dbr);
}

static void check_upsample(dfl_backend *be, int n, int h, int w, int c) {
    char what[96];
    const size_t nx = (size_t)n * h * w * c, ny = 4 * nx;
    float *x = ops_new_normal(nx, 31, 1.0f, 0.0f), *dy = ops_new_normal(ny, 32, 1.0f, 0.0f);
    float *y = ops_new_floats(ny), *dx = ops_new_floats(nx);
    double *xd = ops_to_double(x, nx), *dyd = ops_to_double(dy, ny), *yr = ops_new_doubles(ny),
           *dxr = ops_new_doubles(nx);
    ref_upsample_forward(n, h, w, c, xd, yr);
    ref_upsample_backward(n, h, w, c, dyd, dxr);
    snprintf(what, sizeof what, "upsample n%d %dx%d c%d", n, h, w, c);
    be->upsample_nearest2x_forward(be, n, h, w, c, x, y);
    OPS_CHECK_REL(what, y, yr, ny, 0.0);
    CHECK_THREAD_INVARIANT(what, dx, nx, be->upsample_nearest2x_backward(be, n, h, w, c, dy, dx));
    OPS_CHECK_REL(what, dx, dxr, nx, TOL);
    free(x), free(dy), free(y), free(dx), free(xd), free(dyd), free(yr), free(dxr);
}

static void check_concat_pad_layout(dfl_backend *be) {
    /* concat [pixels, ca | cb] and its split */
    const size_t pixels = 3 * 5 * 7;
    const int ca = 3, cb = 5, c = ca + cb;
    float *a = ops_new_normal(pixels * ca, 41, 1.0f, 0.0f), *b = ops_new_normal(pixels * cb, 42, 1.0f, 0.0f);
    float *y = ops_new_floats(pixels * c), *da = ops_new_floats(pixels * ca), *db = ops_new_floats(pixels * cb);
    be->concat_channels_forward(be, pixels, ca, cb, a, b, y);
    int ok = 1;
    for (size_t p = 0; p < pixels; ++p)
        for (int ch = 0; ch < c; ++ch) ok &= y[p * c + ch] == (ch < ca ? a[p * ca + ch] : b[p * cb + ch - ca]);
    CHECK_MSG(ok, "concat_channels_forward");
    be->concat_channels_backward(be, pixels, ca, cb, y, da, db);
    CHECK_MSG(!memcmp(da, a, pixels * ca * 4) && !memcmp(db, b, pixels * cb * 4), "concat_channels_backward");

    /* pad_end / crop_end */
    const int n = 2, h = 5, w = 3, hp = 8, wp = 4, cc = 3;
    float *x = ops_new_normal((size_t)n * h * w * cc, 43, 1.0f, 0.0f), *xp = ops_new_floats((size_t)n * hp * wp * cc);
    float *xc = ops_new_floats((size_t)n * h * w * cc);
    for (size_t i = 0; i < (size_t)n * hp * wp * cc; ++i) xp[i] = 99.0f;
    be->pad_end(be, n, h, w, cc, hp, wp, x, xp);
    ok = 1;
    for (int i = 0; i < n; ++i)
        for (int yy = 0; yy < hp; ++yy)
            for (int xx = 0; xx < wp; ++xx)
                for (int ch = 0; ch < cc; ++ch) {
                    float want = (yy < h && xx < w) ? x[(((size_t)i * h + yy) * w + xx) * cc + ch] : 0.0f;
                    ok &= xp[(((size_t)i * hp + yy) * wp + xx) * cc + ch] == want;
                }
    CHECK_MSG(ok, "pad_end");
    be->crop_end(be, n, hp, wp, cc, h, w, xp, xc);
    CHECK_MSG(!memcmp(xc, x, (size_t)n * h * w * cc * 4), "crop_end inverts pad_end");

    /* NCHW <-> NHWC, sizes beyond one 32x32 tile */
    const int tn = 2, tc = 37, th = 9, tw = 5;
    const size_t nt = (size_t)tn * tc * th * tw;
    float *nchw = ops_new_normal(nt, 44, 1.0f, 0.0f), *nhwc = ops_new_floats(nt), *back = ops_new_floats(nt);
    be->nchw_to_nhwc(be, tn, tc, th, tw, nchw, nhwc);
    ok = 1;
    for (int i = 0; i < tn; ++i)
        for (int ch = 0; ch < tc; ++ch)
            for (int p = 0; p < th * tw; ++p)
                ok &= nhwc[((size_t)i * th * tw + p) * tc + ch] == nchw[((size_t)i * tc + ch) * th * tw + p];
    CHECK_MSG(ok, "nchw_to_nhwc");
    be->nhwc_to_nchw(be, tn, tc, th, tw, nhwc, back);
    CHECK_MSG(!memcmp(back, nchw, nt * 4), "nhwc_to_nchw inverts nchw_to_nhwc");
    free(a), free(b), free(y), free(da), free(db), free(x), free(xp), free(xc), free(nchw), free(nhwc), free(back);
}

static void check_time_embedding(dfl_backend *be) {
    const int n = 5, dim = 32;
    float t[5] = {1e-3f, 0.25f, 0.5f, 0.8731f, 1.0f};
    double td[5], r[5 * 32];
    for (int i = 0; i < n; ++i) td[i] = t[i];
    float out[5 * 32];
    ref_time_embedding(n, dim, td, r);
    be->time_embedding(be, n, dim, t, out);
    OPS_CHECK_REL("time_embedding", out, r, (size_t)n * dim, 1e-6);
    /* cos block first: at t with s f_0 = 1000 t, out[0] = cos(1000 t) */
    CHECK_CLOSE(out[32 + 0], cos(250.0), 1e-6);
    CHECK_CLOSE(out[32 + 16], sin(250.0), 1e-6);
}

static void check_optimizer(dfl_backend *be) {
    /* sum_squares: against a double loop; repeatable and thread-invariant */
    const size_t sizes[3] = {1, 10007, 1000003};
    for (int s = 0; s < 3; ++s) {
        const size_t n = sizes[s];
        float *x = ops_new_normal(n, 51 + s, 2.0f, 0.5f);
        long double ref = 0.0L;
        for (size_t i = 0; i < n; ++i) ref += (long double)x[i] * x[i];
        double a = be->sum_squares(be, n, x);
        double b = be->sum_squares(be, n, x);
        const int th = omp_get_max_threads();
        omp_set_num_threads(1);
        double c1 = be->sum_squares(be, n, x);
        omp_set_num_threads(th);
        CHECK_MSG(fabs(a - (double)ref) <= 1e-12 * (double)ref, "sum_squares n=%zu: %.17g vs %.17g", n, a, (double)ref);
        CHECK_MSG(memcmp(&a, &b, sizeof a) == 0 && memcmp(&a, &c1, sizeof a) == 0, "sum_squares n=%zu not bit-stable",
                  n);
        free(x);
    }

    /* adamw / ema: kernels/shared/adamw.h element by element (up to FMA
     * contraction differences between this file and the backend's simd loop) */
    const size_t n = 100003;
    float *p = ops_new_normal(n, 61, 1.0f, 0.0f), *g = ops_new_normal(n, 62, 1.0f, 0.0f);
    float *m = ops_new_normal(n, 63, 0.1f, 0.0f), *v = ops_new_normal(n, 64, 0.1f, 0.0f);
    for (size_t i = 0; i < n; ++i) v[i] = v[i] * v[i];
    float *p2 = malloc(n * 4), *m2 = malloc(n * 4), *v2 = malloc(n * 4);
    memcpy(p2, p, n * 4), memcpy(m2, m, n * 4), memcpy(v2, v, n * 4);
    dfl_adamw_hparams h = {
        1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 1.0f - 0.9f * 0.9f * 0.9f, 1.0f - 0.999f * 0.999f * 0.999f, 0.5f};
    be->adamw_update(be, n, p, g, m, v, &h);
    for (size_t i = 0; i < n; ++i) dfl_adamw_element(&p2[i], &m2[i], &v2[i], g[i], &h);
    double worst = 0.0;
    for (size_t i = 0; i < n; ++i) {
        double e = fabs((double)p[i] - p2[i]) + fabs((double)m[i] - m2[i]) + fabs((double)v[i] - v2[i]);
        if (e > worst) worst = e;
    }
    CHECK_MSG(worst <= 1e-6, "adamw_update vs dfl_adamw_element: max difference %.3g", worst);
    float *e1 = ops_new_normal(n, 65, 1.0f, 0.0f), *e2 = malloc(n * 4);
    memcpy(e2, e1, n * 4);
    be->ema_update(be, n, e1, p, 0.99f);
    for (size_t i = 0; i < n; ++i) dfl_ema_element(&e2[i], p[i], 0.99f);
    worst = 0.0;
    for (size_t i = 0; i < n; ++i)
        if (fabs((double)e1[i] - e2[i]) > worst) worst = fabs((double)e1[i] - e2[i]);
    CHECK_MSG(worst <= 1e-6, "ema_update vs dfl_ema_element: max difference %.3g", worst);
    free(p), free(g), free(m), free(v), free(p2), free(m2), free(v2), free(e1), free(e2);
}

int main(void) {
    dfl_backend *be = dfl_backend_cpu_create(0);
    check_fast_exp();
    check_silu_add_scale(be, 1000);
    check_silu_add_scale(be, 300007);
    check_channel_bias(be, 3, 17, 12);
    check_channel_bias(be, 16, 1024, 64);
    check_upsample(be, 2, 3, 5, 4);
    check_upsample(be, 4, 32, 32, 64);
    check_concat_pad_layout(be);
    check_time_embedding(be);
    check_optimizer(be);
    dfl_backend_destroy(be);
    return dfl_test_finish("ops_elementwise");
}
