/* Whole-network gradient check of dfl-unet v1 on the CPU backend: every
 * parameter tensor and the input gradient against central finite
 * differences of L = sum_i r_i * out_i (so dL/dout = r).
 *
 * Tolerance: the network runs in fp32 and L is accumulated in double. The
 * rounding noise of L is about 1e-7 * sqrt(#outputs) * |r||out| ~ 1e-6,
 * which the central difference divides by 2 eps = 2e-2, i.e. ~1e-4
 * absolute; the truncation error is O(eps^2) ~ 1e-4 relative. A tensor
 * passes when max_i |fd_i - an_i| <= 3e-2 * max_i |an_i| + 2e-3; a wrong
 * backward (a missing term, a transposed weight) gives O(1) errors. Per
 * tensor up to 12 elements are probed (all of the small ones), chosen by
 * Philox so every run probes the same ones. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfl_test.h"
#include "dynfill/model.h"
#include "shared/philox.h"

typedef struct {
    dfl_backend *be;
    dfl_unet *m;
    int n, h, w, C;
    float *x, *t, *y, *dy, *dx; /* backend */
    float *hr;                  /* host r */
    float *hy;
} ctx;

static double loss(ctx *c) {
    dfl_unet_forward(c->m, c->x, c->t, c->y);
    size_t ny = (size_t)c->n * c->h * c->w * c->C;
    c->be->download(c->be, c->hy, c->y, ny * sizeof(float));
    double L = 0;
    for (size_t i = 0; i < ny; ++i) L += (double)c->hr[i] * c->hy[i];
    return L;
}

static void check_config(const char *label, dfl_unet_config uc, int n, int h, int w) {
    ctx c = {0};
    c.be = dfl_backend_cpu_create(0);
    c.n = n;
    c.h = h;
    c.w = w;
    c.C = uc.channels;
    CHECK(dfl_unet_create(c.be, &uc, &c.m) == DFL_OK);
    CHECK(dfl_unet_plan(c.m, n, h, w) == DFL_OK);
    dfl_unet_init_params(c.m, 3);
    /* perturb GroupNorm affine parameters away from 1/0 so their gradients matter */
    size_t np = dfl_unet_num_params(c.m);
    float *hp = malloc(np * sizeof(float));
    c.be->download(c.be, hp, dfl_unet_params(c.m), np * sizeof(float));
    for (int i = 0; i < dfl_unet_num_tensors(c.m); ++i) {
        const dfl_param_info *t = dfl_unet_tensor(c.m, i);
        if (strstr(t->name, "norm"))
            for (size_t j = 0; j < t->count; ++j) hp[t->offset + j] += 0.3f * dfl_rng_normal(9, (uint64_t)i, j);
    }
    c.be->upload(c.be, dfl_unet_params(c.m), hp, np * sizeof(float));

    size_t nx = (size_t)n * h * w * 2 * c.C, ny = (size_t)n * h * w * c.C;
    float *hx = malloc(nx * sizeof(float)), ht[8];
    c.hr = malloc(ny * sizeof(float));
    c.hy = malloc(ny * sizeof(float));
    for (size_t i = 0; i < nx; ++i) hx[i] = dfl_rng_normal(5, 1, i);
    /* the input fill reads 0/1 mask channels (values | mask per pixel) */
    if (uc.input_fill)
        for (size_t i = 0; i < nx; ++i)
            if (i % (2 * c.C) >= (size_t)c.C) hx[i] = dfl_rng_uniform(5, 4, i) < 0.3f ? 1.0f : 0.0f;
    for (size_t i = 0; i < ny; ++i) c.hr[i] = dfl_rng_normal(5, 2, i);
    for (int i = 0; i < n; ++i) ht[i] = 0.05f + 0.9f * dfl_rng_uniform(5, 3, (uint64_t)i);
    c.x = c.be->alloc(c.be, nx * sizeof(float));
    c.dx = c.be->alloc(c.be, nx * sizeof(float));
    c.y = c.be->alloc(c.be, ny * sizeof(float));
    c.dy = c.be->alloc(c.be, ny * sizeof(float));
    c.t = c.be->alloc(c.be, (size_t)n * sizeof(float));
    c.be->upload(c.be, c.x, hx, nx * sizeof(float));
    c.be->upload(c.be, c.dy, c.hr, ny * sizeof(float));
    c.be->upload(c.be, c.t, ht, (size_t)n * sizeof(float));

    loss(&c);
    /* with the input fill the network has no input gradient: parameters only */
    dfl_unet_backward(c.m, c.dy, uc.input_fill ? NULL : c.dx);
    float *hg = malloc(np * sizeof(float)), *hdx = malloc(nx * sizeof(float));
    c.be->download(c.be, hg, dfl_unet_grads(c.m), np * sizeof(float));
    c.be->download(c.be, hdx, c.dx, nx * sizeof(float));

    const float eps = 1e-2f;
    int tensors_checked = 0;
    for (int ti = uc.input_fill ? 0 : -1; ti < dfl_unet_num_tensors(c.m); ++ti) {
        /* ti = -1 is the network input */
        const char *name = ti < 0 ? "input" : dfl_unet_tensor(c.m, ti)->name;
        size_t count = ti < 0 ? nx : dfl_unet_tensor(c.m, ti)->count;
        float *host = ti < 0 ? hx : hp + dfl_unet_tensor(c.m, ti)->offset;
        float *dev = ti < 0 ? c.x : dfl_unet_params(c.m);
        size_t dev_off = ti < 0 ? 0 : dfl_unet_tensor(c.m, ti)->offset;
        const float *an = ti < 0 ? hdx : hg + dfl_unet_tensor(c.m, ti)->offset;
        int probes = count < 12 ? (int)count : 12;
        double max_err = 0, max_an = 0;
        for (int k = 0; k < probes; ++k) {
            size_t j = count <= 12 ? (size_t)k
                                   : (size_t)(dfl_rng_uniform(11, (uint64_t)(ti + 1), (uint64_t)k) * count) % count;
            float orig = host[j];
            float v = orig + eps;
            c.be->upload(c.be, dev + dev_off + j, &v, sizeof v);
            double lp = loss(&c);
            v = orig - eps;
            c.be->upload(c.be, dev + dev_off + j, &v, sizeof v);
            double lm = loss(&c);
            c.be->upload(c.be, dev + dev_off + j, &orig, sizeof orig);
            double fd = (lp - lm) / (2.0 * eps);
            double err = fabs(fd - an[j]);
            if (err > max_err) max_err = err;
            if (fabs(an[j]) > max_an) max_an = fabs(an[j]);
        }
        /* The absolute floor is the float32 noise of the central difference: the
         * loss sums over channels x pixels outputs, so it grows with the channel
         * count (a bias before a group norm has a true gradient of 0, so there
         * the check compares the noise alone; measured 2.2e-3 at 256 channels in
         * an unoptimised build). */
        const double floor = 2e-3 * (uc.channels > 16 ? sqrt((double)uc.channels / 16.0) : 1.0);
        CHECK_MSG(max_err <= 3e-2 * max_an + floor, "%s: tensor %s max |fd - analytic| = %.3g, max |analytic| = %.3g",
                  label, name, max_err, max_an);
        tensors_checked++;
    }
    CHECK(tensors_checked == dfl_unet_num_tensors(c.m) + !uc.input_fill);
    printf("%s: %d tensors checked (%zu parameters)\n", label, tensors_checked, np);
    free(hp);
    free(hx);
    free(hg);
    free(hdx);
    free(c.hr);
    free(c.hy);
    c.be->free(c.be, c.x);
    c.be->free(c.be, c.dx);
    c.be->free(c.be, c.y);
    c.be->free(c.be, c.dy);
    c.be->free(c.be, c.t);
    dfl_unet_destroy(c.m);
    dfl_backend_destroy(c.be);
}

/* Plans the network for n x h x w, runs forward and backward on random
 * input, and checks that the output, the input gradient and every parameter
 * gradient are finite. */
static void check_runs(dfl_unet_config uc, int n, int h, int w) {
    dfl_backend *be = dfl_backend_cpu_create(0);
    dfl_unet *m = NULL;
    CHECK(dfl_unet_create(be, &uc, &m) == DFL_OK);
    CHECK(dfl_unet_plan(m, n, h, w) == DFL_OK);
    dfl_unet_init_params(m, 3);
    const size_t nx = (size_t)n * h * w * 2 * uc.channels, ny = (size_t)n * h * w * uc.channels;
    const size_t np = dfl_unet_num_params(m);
    float *hx = malloc(nx * sizeof(float)), *hy = malloc(ny * sizeof(float)), *hg = malloc(np * sizeof(float));
    float ht[8];
    for (size_t i = 0; i < nx; ++i) hx[i] = dfl_rng_normal(7, 1, i);
    for (size_t i = 0; i < ny; ++i) hy[i] = dfl_rng_normal(7, 2, i);
    for (int i = 0; i < n; ++i) ht[i] = 0.5f;
    float *x = be->alloc(be, nx * sizeof(float)), *dx = be->alloc(be, nx * sizeof(float));
    float *y = be->alloc(be, ny * sizeof(float)), *dy = be->alloc(be, ny * sizeof(float));
    float *t = be->alloc(be, (size_t)n * sizeof(float));
    be->upload(be, x, hx, nx * sizeof(float));
    be->upload(be, dy, hy, ny * sizeof(float));
    be->upload(be, t, ht, (size_t)n * sizeof(float));
    dfl_unet_forward(m, x, t, y);
    dfl_unet_backward(m, dy, dx);
    be->download(be, hy, y, ny * sizeof(float));
    be->download(be, hx, dx, nx * sizeof(float));
    be->download(be, hg, dfl_unet_grads(m), np * sizeof(float));
    size_t bad = 0;
    for (size_t i = 0; i < ny; ++i) bad += !isfinite(hy[i]);
    for (size_t i = 0; i < nx; ++i) bad += !isfinite(hx[i]);
    for (size_t i = 0; i < np; ++i) bad += !isfinite(hg[i]);
    CHECK_MSG(bad == 0, "%zu non-finite values at %d x %d x %d", bad, n, h, w);
    printf("runs at %d x %d x %d: output, input and parameter gradients finite\n", n, h, w);
    be->free(be, x), be->free(be, dx), be->free(be, y), be->free(be, dy), be->free(be, t);
    free(hx), free(hy), free(hg);
    dfl_unet_destroy(m);
    dfl_backend_destroy(be);
}

int main(void) {
    /* thousands of tiny forward passes: one thread avoids OpenMP barrier
     * overhead dominating (and stalls when the machine is oversubscribed) */
    omp_set_num_threads(1);
    /* attention and periodic padding along x, two levels, cin != cout skips */
    dfl_unet_config a = {
        .channels = 2, .base = 8, .mult = {1, 2}, .levels = 2, .nres = 1, .attention = 1, .periodic_x = 1};
    check_config("attention+periodic_x", a, 2, 8, 8);
    /* odd field size (internal pad and crop), periodic along y, three levels */
    dfl_unet_config b = {
        .channels = 1, .base = 8, .mult = {1, 1, 2}, .levels = 3, .nres = 1, .attention = 0, .periodic_y = 1};
    check_config("odd-size+periodic_y", b, 2, 7, 10);
    /* tiny fields (the inner level is 1x2), where per-sample buffers such
     * as the time projection and its gradient are as large as the
     * activations (this once broke the arena plan) */
    dfl_unet_config t = {.channels = 1, .base = 8, .mult = {1, 2}, .levels = 2, .nres = 1, .attention = 0};
    check_config("tiny 1x4", t, 1, 1, 4);
    /* the pyramid input fill: the stem reads 3C channels */
    dfl_unet_config f = {
        .channels = 2, .base = 8, .mult = {1, 2}, .levels = 2, .nres = 1, .input_fill = DFL_FILL_PYRAMID};
    check_config("input_fill", f, 2, 9, 12);
    /* the spline fill on top of it, periodic along x (padded to 10x12) */
    dfl_unet_config sf = {.channels = 2,
                          .base = 8,
                          .mult = {1, 2},
                          .levels = 2,
                          .nres = 1,
                          .periodic_x = 1,
                          .input_fill = DFL_FILL_SPLINE};
    check_config("input_fill spline", sf, 2, 9, 12);
    /* smaller still (1x1 at the inner level: GroupNorm over 2 values, too
     * sharp for finite differences): plan, forward and backward must run
     * and give finite values */
    const int tiny[][3] = {{2, 2, 2}, {1, 1, 1}, {3, 3, 4}, {1, 4, 4}};
    for (size_t k = 0; k < sizeof tiny / sizeof tiny[0]; ++k) check_runs(t, tiny[k][0], tiny[k][1], tiny[k][2]);
    /* many channels (no fixed cap): 256 data channels, a 512-channel network input */
    dfl_unet_config wide = {.channels = 256, .base = 8, .mult = {1, 2}, .levels = 2, .nres = 1, .attention = 0};
    check_runs(wide, 2, 8, 8);
    check_config("256 channels", wide, 1, 8, 8);
    return dfl_test_finish("model_unet_gradcheck");
}
