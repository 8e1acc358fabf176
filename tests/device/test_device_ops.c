/* Device suite, part 1 (docs/design.md, "Testing", ggml style): one table of op cases,
 * each run on the CPU backend (the reference) and on the CUDA backend with
 * the same random inputs, compared by normalised error
 *     err = max|gpu - cpu| / max|cpu|
 * against 1e-5 in strict fp32, 2e-3 for TF32 and 1e-2 for bf16 (the
 * precision-dependent ops: convolutions, linear, attention); every other op
 * computes in fp32/fp64 whatever the precision and is held to 1e-5. Masks,
 * query bits and counts of the fused method ops must be bitwise equal.
 * Outputs are poisoned with NaN before each op, so an element an op fails
 * to write fails the comparison. Then CUDA-only checks: determinism (the
 * same call twice gives the same bits), graph capture and replay, the
 * asynchronous upload and the multi-tensor AdamW + EMA.
 *
 * Exit 77 (skipped) when no CUDA device exists. `--cpu-vs-cpu` runs the
 * whole table with a second CPU backend in place of the GPU: a check of
 * the harness itself that needs no GPU (ctest device_ops_harness_cpu).
 * `--precision fp32|tf32|bf16|all` (default all). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfl_test.h"
#include "dynfill/backend.h"
#include "dynfill/cuda_graph.h"
#include "dynfill/method.h"
#include "shared/adamw.h"
#include "shared/fill_spline.h"
#include "shared/input_fill.h"
#include "shared/philox.h"
#include "shared/schedule.h"

/* ------------------------------------------------------------------ */
/* harness                                                             */
/* ------------------------------------------------------------------ */

typedef struct {
    dfl_backend *cpu, *gpu;
    int gpu_is_cuda;
    const char *prec;
    double tol_prec; /* ops whose arithmetic follows the backend precision */
    double tol_f32;  /* ops computed in fp32 / fp64 whatever the precision */
    int compared, failed;
    double worst;
    char worst_name[96];
} harness;

static uint64_t g_seed = 1;

/* A float tensor mirrored on both backends (host copy = the inputs). */
typedef struct {
    size_t n;
    float *host;
    float *c, *g;
} tens;

static float urand(uint64_t seed, uint64_t i, float lo, float hi) {
    return lo + (hi - lo) * dfl_rng_uniform(seed, 0x7e57u, i);
}

static void *alloc_both(harness *H, size_t bytes, void **g) {
    *g = H->gpu->alloc(H->gpu, bytes ? bytes : 4);
    return H->cpu->alloc(H->cpu, bytes ? bytes : 4);
}

static tens tens_rand(harness *H, size_t n, float lo, float hi) {
    tens t;
    t.n = n;
    t.host = dfl_xmalloc((n ? n : 1) * sizeof(float));
    const uint64_t seed = g_seed++;
    for (size_t i = 0; i < n; ++i) t.host[i] = urand(seed, i, lo, hi);
    void *g;
    t.c = alloc_both(H, n * sizeof(float), &g);
    t.g = g;
    H->cpu->upload(H->cpu, t.c, t.host, n * sizeof(float));
    H->gpu->upload(H->gpu, t.g, t.host, n * sizeof(float));
    return t;
}

/* An output, poisoned with NaN on both sides. */
static tens tens_out(harness *H, size_t n) {
    tens t;
    t.n = n;
    t.host = dfl_xmalloc((n ? n : 1) * sizeof(float));
    void *g;
    t.c = alloc_both(H, n * sizeof(float), &g);
    t.g = g;
    if (n) {
        H->cpu->fill(H->cpu, t.c, NAN, n);
        H->gpu->fill(H->gpu, t.g, NAN, n);
    }
    return t;
}

static void tens_poison(harness *H, tens *t) {
    if (!t->n) return;
    H->cpu->fill(H->cpu, t->c, NAN, t->n);
    H->gpu->fill(H->gpu, t->g, NAN, t->n);
}

static void tens_free(harness *H, tens *t) {
    H->cpu->free(H->cpu, t->c);
    H->gpu->free(H->gpu, t->g);
    free(t->host);
    memset(t, 0, sizeof *t);
}

static void record(harness *H, const char *name, const char *what, double err, double tol, const char *extra) {
    const int ok = err <= tol; /* NaN compares false: fails */
    ++H->compared;
    if (!ok) ++H->failed;
    printf("%-8s %-44s %-10s err %.3e  tol %.1e  %s%s%s\n", H->prec, name, what, err, tol, ok ? "ok" : "FAIL",
           extra ? "  " : "", extra ? extra : "");
    if (isfinite(err) && tol > 0.0 && err / tol > H->worst) {
        H->worst = err / tol;
        snprintf(H->worst_name, sizeof H->worst_name, "%s %s", name, what);
    }
    CHECK_MSG(ok, "%s %s %s: err %.3e > tol %.1e", H->prec, name, what, err, tol);
}

/* max|a - b| / max|b| over n floats; NaN anywhere -> +inf. */
static double norm_err(const float *a, const float *b, size_t n) {
    double md = 0.0, mb = 0.0;
    for (size_t i = 0; i < n; ++i) {
        if (!isfinite(a[i]) || !isfinite(b[i])) return INFINITY;
        const double d = fabs((double)a[i] - (double)b[i]);
        if (d > md) md = d;
        if (fabs((double)b[i]) > mb) mb = fabs((double)b[i]);
    }
    return mb > 0.0 ? md / mb : md;
}

static double compare_floats(harness *H, const char *name, const char *what, const float *cdev, const float *gdev,
                             size_t n, double tol) {
    float *a = dfl_xmalloc((n ? n : 1) * sizeof(float)), *b = dfl_xmalloc((n ? n : 1) * sizeof(float));
    H->cpu->download(H->cpu, b, cdev, n * sizeof(float));
    H->gpu->download(H->gpu, a, gdev, n * sizeof(float));
    const double err = norm_err(a, b, n);
    record(H, name, what, err, tol, NULL);
    free(a);
    free(b);
    return err;
}

static double compare(harness *H, const char *name, const char *what, const tens *t, double tol) {
    return compare_floats(H, name, what, t->c, t->g, t->n, tol);
}

/* Bytes that must be equal bit for bit. */
static void compare_bytes(harness *H, const char *name, const char *what, const void *cdev, const void *gdev,
                          size_t bytes) {
    unsigned char *a = dfl_xmalloc(bytes ? bytes : 1), *b = dfl_xmalloc(bytes ? bytes : 1);
    H->cpu->download(H->cpu, b, cdev, bytes);
    H->gpu->download(H->gpu, a, gdev, bytes);
    size_t diff = 0;
    for (size_t i = 0; i < bytes; ++i) diff += a[i] != b[i];
    char extra[64];
    snprintf(extra, sizeof extra, "(%zu of %zu bytes differ)", diff, bytes);
    record(H, name, what, diff ? INFINITY : 0.0, 0.0, extra);
    free(a);
    free(b);
}

static void compare_scalar(harness *H, const char *name, const char *what, double gpu, double cpu, double tol) {
    const double err = fabs(gpu - cpu) / (fabs(cpu) > 0 ? fabs(cpu) : 1.0);
    char extra[96];
    snprintf(extra, sizeof extra, "(gpu %.12g cpu %.12g)", gpu, cpu);
    record(H, name, what, isfinite(gpu) && isfinite(cpu) ? err : INFINITY, tol, extra);
}

/* ------------------------------------------------------------------ */
/* op cases                                                            */
/* ------------------------------------------------------------------ */

typedef struct op_case op_case;
typedef void (*case_fn)(harness *H, const op_case *c);
struct op_case {
    const char *name;
    case_fn run;
    int a[10];
};

/* a: n h w cin cout k stride periodic_x periodic_y bias */
static void case_conv(harness *H, const op_case *oc) {
    dfl_conv_desc d = {oc->a[0], oc->a[1], oc->a[2], oc->a[3], oc->a[4], oc->a[5], oc->a[6], oc->a[7], oc->a[8]};
    const int with_bias = oc->a[9];
    const int oh = dfl_conv_out_h(&d), ow = dfl_conv_out_w(&d);
    const size_t nx = (size_t)d.n * d.h * d.w * d.cin, ny = (size_t)d.n * oh * ow * d.cout;
    const size_t nw = (size_t)d.cout * d.cin * d.k * d.k;
    const float ws = 1.0f / sqrtf((float)(d.cin * d.k * d.k));
    tens x = tens_rand(H, nx, -1, 1), w = tens_rand(H, nw, -ws, ws), b = tens_rand(H, (size_t)d.cout, -0.5f, 0.5f);
    tens dy = tens_rand(H, ny, -1, 1);
    tens y = tens_out(H, ny), dx = tens_out(H, nx), dw = tens_out(H, nw), db = tens_out(H, (size_t)d.cout);
    H->cpu->conv2d_forward(H->cpu, &d, x.c, w.c, with_bias ? b.c : NULL, y.c);
    H->gpu->conv2d_forward(H->gpu, &d, x.g, w.g, with_bias ? b.g : NULL, y.g);
    compare(H, oc->name, "y", &y, H->tol_prec);
    H->cpu->conv2d_backward_data(H->cpu, &d, dy.c, w.c, dx.c);
    H->gpu->conv2d_backward_data(H->gpu, &d, dy.g, w.g, dx.g);
    compare(H, oc->name, "dx", &dx, H->tol_prec);
    H->cpu->conv2d_backward_weights(H->cpu, &d, x.c, dy.c, dw.c, with_bias ? db.c : NULL);
    H->gpu->conv2d_backward_weights(H->gpu, &d, x.g, dy.g, dw.g, with_bias ? db.g : NULL);
    compare(H, oc->name, "dw", &dw, H->tol_prec);
    if (with_bias) compare(H, oc->name, "db", &db, H->tol_f32);
    tens *all[] = {&x, &w, &b, &dy, &y, &dx, &dw, &db};
    for (size_t i = 0; i < sizeof all / sizeof *all; ++i) tens_free(H, all[i]);
}

/* a: n hw c groups silu affine(0/1) want_dgamma */
static void case_group_norm(harness *H, const op_case *oc) {
    const int n = oc->a[0], hw = oc->a[1], c = oc->a[2], g = oc->a[3], silu = oc->a[4], affine = oc->a[5];
    const int want_dparams = oc->a[6], residual = oc->a[7]; /* residual: dx_add given */
    const size_t nx = (size_t)n * hw * c;
    tens x = tens_rand(H, nx, -2, 3), gam = tens_rand(H, (size_t)c, 0.5f, 1.5f),
         bet = tens_rand(H, (size_t)c, -0.5f, 0.5f);
    tens dy = tens_rand(H, nx, -1, 1), res = tens_rand(H, nx, -1, 1);
    tens y = tens_out(H, nx), mean = tens_out(H, (size_t)n * g), rstd = tens_out(H, (size_t)n * g);
    tens dx = tens_out(H, nx), dg = tens_out(H, (size_t)c), dbt = tens_out(H, (size_t)c);
    H->cpu->group_norm_forward(H->cpu, n, hw, c, g, 1e-5f, x.c, affine ? gam.c : NULL, affine ? bet.c : NULL, y.c,
                               mean.c, rstd.c, silu);
    H->gpu->group_norm_forward(H->gpu, n, hw, c, g, 1e-5f, x.g, affine ? gam.g : NULL, affine ? bet.g : NULL, y.g,
                               mean.g, rstd.g, silu);
    compare(H, oc->name, "y", &y, H->tol_f32);
    compare(H, oc->name, "mean", &mean, H->tol_f32);
    compare(H, oc->name, "rstd", &rstd, H->tol_f32);
    H->cpu->group_norm_backward(H->cpu, n, hw, c, g, x.c, affine ? gam.c : NULL, affine ? bet.c : NULL, mean.c, rstd.c,
                                dy.c, residual ? res.c : NULL, dx.c, want_dparams ? dg.c : NULL,
                                want_dparams ? dbt.c : NULL, silu);
    H->gpu->group_norm_backward(H->gpu, n, hw, c, g, x.g, affine ? gam.g : NULL, affine ? bet.g : NULL, mean.g, rstd.g,
                                dy.g, residual ? res.g : NULL, dx.g, want_dparams ? dg.g : NULL,
                                want_dparams ? dbt.g : NULL, silu);
    compare(H, oc->name, "dx", &dx, H->tol_f32);
    if (want_dparams) {
        compare(H, oc->name, "dgamma", &dg, H->tol_f32);
        compare(H, oc->name, "dbeta", &dbt, H->tol_f32);
    }
    tens *all[] = {&x, &gam, &bet, &dy, &res, &y, &mean, &rstd, &dx, &dg, &dbt};
    for (size_t i = 0; i < sizeof all / sizeof *all; ++i) tens_free(H, all[i]);
}

/* a: n (element count); also tests an unaligned view (offset 1) */
static void case_elementwise(harness *H, const op_case *oc) {
    const size_t n = (size_t)oc->a[0];
    const int off = oc->a[1];
    tens a = tens_rand(H, n + 1, -6, 6), b = tens_rand(H, n + 1, -2, 2), y = tens_out(H, n + 1);
    H->cpu->silu_forward(H->cpu, n, a.c + off, y.c + off);
    H->gpu->silu_forward(H->gpu, n, a.g + off, y.g + off);
    compare_floats(H, oc->name, "silu", y.c + off, y.g + off, n, H->tol_f32);
    tens_poison(H, &y);
    H->cpu->silu_backward(H->cpu, n, a.c + off, b.c + off, y.c + off);
    H->gpu->silu_backward(H->gpu, n, a.g + off, b.g + off, y.g + off);
    compare_floats(H, oc->name, "silu_bwd", y.c + off, y.g + off, n, H->tol_f32);
    tens_poison(H, &y);
    H->cpu->add(H->cpu, n, a.c + off, b.c + off, y.c + off);
    H->gpu->add(H->gpu, n, a.g + off, b.g + off, y.g + off);
    compare_floats(H, oc->name, "add", y.c + off, y.g + off, n, H->tol_f32);
    H->cpu->add(H->cpu, n, a.c + off, b.c + off, a.c + off); /* aliasing y = a */
    H->gpu->add(H->gpu, n, a.g + off, b.g + off, a.g + off);
    compare_floats(H, oc->name, "add_alias", a.c + off, a.g + off, n, H->tol_f32);
    H->cpu->scale(H->cpu, n, -0.37f, b.c + off);
    H->gpu->scale(H->gpu, n, -0.37f, b.g + off);
    compare_floats(H, oc->name, "scale", b.c + off, b.g + off, n, H->tol_f32);
    H->cpu->fill(H->cpu, y.c + off, 2.5f, n);
    H->gpu->fill(H->gpu, y.g + off, 2.5f, n);
    compare_floats(H, oc->name, "fill", y.c + off, y.g + off, n, 0.0);
    H->cpu->copy(H->cpu, y.c + off, b.c + off, n * sizeof(float));
    H->gpu->copy(H->gpu, y.g + off, b.g + off, n * sizeof(float));
    compare_floats(H, oc->name, "copy", y.c + off, y.g + off, n, 0.0);
    tens_free(H, &a);
    tens_free(H, &b);
    tens_free(H, &y);
}

/* a: n hw c */
static void case_channel_bias(harness *H, const op_case *oc) {
    const int n = oc->a[0], hw = oc->a[1], c = oc->a[2];
    const size_t ny = (size_t)n * hw * c;
    tens y = tens_rand(H, ny, -1, 1), bias = tens_rand(H, (size_t)n * c, -1, 1), db = tens_out(H, (size_t)n * c);
    H->cpu->add_channel_bias(H->cpu, n, hw, c, y.c, bias.c);
    H->gpu->add_channel_bias(H->gpu, n, hw, c, y.g, bias.g);
    compare(H, oc->name, "y", &y, H->tol_f32);
    H->cpu->channel_bias_backward(H->cpu, n, hw, c, y.c, db.c);
    H->gpu->channel_bias_backward(H->gpu, n, hw, c, y.g, db.g);
    compare(H, oc->name, "dbias", &db, H->tol_f32);
    tens_free(H, &y);
    tens_free(H, &bias);
    tens_free(H, &db);
}

/* a: rows in out bias want_dx want_db */
static void case_linear(harness *H, const op_case *oc) {
    const int rows = oc->a[0], in = oc->a[1], out = oc->a[2], with_b = oc->a[3], want_dx = oc->a[4], want_db = oc->a[5];
    const float ws = 1.0f / sqrtf((float)in);
    tens x = tens_rand(H, (size_t)rows * in, -1, 1), w = tens_rand(H, (size_t)out * in, -ws, ws);
    tens b = tens_rand(H, (size_t)out, -1, 1), dy = tens_rand(H, (size_t)rows * out, -1, 1);
    tens y = tens_out(H, (size_t)rows * out), dx = tens_out(H, (size_t)rows * in), dw = tens_out(H, (size_t)out * in);
    tens db = tens_out(H, (size_t)out);
    H->cpu->linear_forward(H->cpu, rows, in, out, x.c, w.c, with_b ? b.c : NULL, y.c);
    H->gpu->linear_forward(H->gpu, rows, in, out, x.g, w.g, with_b ? b.g : NULL, y.g);
    compare(H, oc->name, "y", &y, H->tol_prec);
    H->cpu->linear_backward(H->cpu, rows, in, out, x.c, w.c, dy.c, want_dx ? dx.c : NULL, dw.c, want_db ? db.c : NULL);
    H->gpu->linear_backward(H->gpu, rows, in, out, x.g, w.g, dy.g, want_dx ? dx.g : NULL, dw.g, want_db ? db.g : NULL);
    if (want_dx) compare(H, oc->name, "dx", &dx, H->tol_prec);
    compare(H, oc->name, "dw", &dw, H->tol_prec);
    if (want_db) compare(H, oc->name, "db", &db, H->tol_f32);
    tens *all[] = {&x, &w, &b, &dy, &y, &dx, &dw, &db};
    for (size_t i = 0; i < sizeof all / sizeof *all; ++i) tens_free(H, all[i]);
}

/* a: n h w c */
static void case_upsample(harness *H, const op_case *oc) {
    const int n = oc->a[0], h = oc->a[1], w = oc->a[2], c = oc->a[3];
    const size_t nx = (size_t)n * h * w * c;
    tens x = tens_rand(H, nx, -1, 1), dy = tens_rand(H, 4 * nx, -1, 1), y = tens_out(H, 4 * nx), dx = tens_out(H, nx);
    H->cpu->upsample_nearest2x_forward(H->cpu, n, h, w, c, x.c, y.c);
    H->gpu->upsample_nearest2x_forward(H->gpu, n, h, w, c, x.g, y.g);
    compare(H, oc->name, "y", &y, 0.0);
    H->cpu->upsample_nearest2x_backward(H->cpu, n, h, w, c, dy.c, dx.c);
    H->gpu->upsample_nearest2x_backward(H->gpu, n, h, w, c, dy.g, dx.g);
    compare(H, oc->name, "dx", &dx, H->tol_f32);
    tens_free(H, &x);
    tens_free(H, &dy);
    tens_free(H, &y);
    tens_free(H, &dx);
}

/* a: pixels ca cb want_da want_db */
static void case_concat(harness *H, const op_case *oc) {
    const size_t px = (size_t)oc->a[0];
    const int ca = oc->a[1], cb = oc->a[2], want_da = oc->a[3], want_db = oc->a[4];
    tens a = tens_rand(H, px * ca, -1, 1), b = tens_rand(H, px * cb, -1, 1), y = tens_out(H, px * (ca + cb));
    tens da = tens_out(H, px * ca), db = tens_out(H, px * cb);
    H->cpu->concat_channels_forward(H->cpu, px, ca, cb, a.c, b.c, y.c);
    H->gpu->concat_channels_forward(H->gpu, px, ca, cb, a.g, b.g, y.g);
    compare(H, oc->name, "y", &y, 0.0);
    H->cpu->concat_channels_backward(H->cpu, px, ca, cb, y.c, want_da ? da.c : NULL, want_db ? db.c : NULL);
    H->gpu->concat_channels_backward(H->gpu, px, ca, cb, y.g, want_da ? da.g : NULL, want_db ? db.g : NULL);
    if (want_da) compare(H, oc->name, "da", &da, 0.0);
    if (want_db) compare(H, oc->name, "db", &db, 0.0);
    tens *all[] = {&a, &b, &y, &da, &db};
    for (size_t i = 0; i < sizeof all / sizeof *all; ++i) tens_free(H, all[i]);
}

/* a: n h w c hp wp */
static void case_pad_crop(harness *H, const op_case *oc) {
    const int n = oc->a[0], h = oc->a[1], w = oc->a[2], c = oc->a[3], hp = oc->a[4], wp = oc->a[5];
    tens x = tens_rand(H, (size_t)n * h * w * c, -1, 1), y = tens_out(H, (size_t)n * hp * wp * c);
    tens z = tens_out(H, (size_t)n * h * w * c);
    H->cpu->pad_end(H->cpu, n, h, w, c, hp, wp, x.c, y.c);
    H->gpu->pad_end(H->gpu, n, h, w, c, hp, wp, x.g, y.g);
    compare(H, oc->name, "pad", &y, 0.0);
    H->cpu->crop_end(H->cpu, n, hp, wp, c, h, w, y.c, z.c);
    H->gpu->crop_end(H->gpu, n, hp, wp, c, h, w, y.g, z.g);
    compare(H, oc->name, "crop", &z, 0.0);
    tens_free(H, &x);
    tens_free(H, &y);
    tens_free(H, &z);
}

/* a: n h w c density-percent [periodic_x periodic_y iters iters3]: the
 * pyramid input fill (kernels/shared/input_fill.h) of values | 0/1 mask,
 * against the CPU's; with iters > 0 the spline fill
 * (kernels/shared/fill_spline.h) on top of each backend's pyramid, and with
 * iters3 > 0 then the order-3 spline (kernels/shared/fill_spline3.h), as
 * the spline correction runs them. Conjugate gradients in float are not
 * bit-stable across summation orders, so the splines' tolerances are
 * looser; the order-3 system is the worse conditioned: after 128 steps the
 * CPU's float iterations sit 0.3-0.5 % from the same steps in double
 * (tests/unit/ops/test_ops_fill_spline.c's reference, 48 x 48 planes). */
static void case_input_fill(harness *H, const op_case *oc) {
    const int n = oc->a[0], h = oc->a[1], w = oc->a[2], c = oc->a[3], iters = oc->a[7], iters3 = oc->a[8];
    const size_t px = (size_t)n * h * w;
    tens x = tens_rand(H, px * 2 * c, -1, 1), y = tens_out(H, px * 3 * c);
    tens s = tens_out(H, iters || iters3 ? dfl_spline_scratch_floats(n, h, w, c) : dfl_fill_scratch_floats(n, h, w, c));
    for (size_t p = 0; p < px; ++p)
        for (int ch = 0; ch < c; ++ch) {
            const float mk = urand(99, p * c + ch, 0, 100) < (float)oc->a[4] ? 1.0f : 0.0f;
            x.host[p * 2 * c + c + ch] = mk;
            x.host[p * 2 * c + ch] *= mk;
        }
    H->cpu->upload(H->cpu, x.c, x.host, x.n * sizeof(float));
    H->gpu->upload(H->gpu, x.g, x.host, x.n * sizeof(float));
    H->cpu->input_fill(H->cpu, n, h, w, c, x.c, y.c, s.c);
    H->gpu->input_fill(H->gpu, n, h, w, c, x.g, y.g, s.g);
    if (iters) {
        H->cpu->input_fill_spline(H->cpu, n, h, w, c, oc->a[5], oc->a[6], iters, y.c, s.c);
        H->gpu->input_fill_spline(H->gpu, n, h, w, c, oc->a[5], oc->a[6], iters, y.g, s.g);
    }
    if (iters3) {
        H->cpu->input_fill_spline3(H->cpu, n, h, w, c, oc->a[5], oc->a[6], iters3, y.c, s.c);
        H->gpu->input_fill_spline3(H->gpu, n, h, w, c, oc->a[5], oc->a[6], iters3, y.g, s.g);
    }
    compare(H, oc->name, "y", &y, iters3 ? 2e-2 : iters ? 1e-3 : 1e-5);
    tens_free(H, &x);
    tens_free(H, &y);
    tens_free(H, &s);
}

/* a: n c h w */
static void case_transpose(harness *H, const op_case *oc) {
    const int n = oc->a[0], c = oc->a[1], h = oc->a[2], w = oc->a[3];
    const size_t nx = (size_t)n * c * h * w;
    tens x = tens_rand(H, nx, -1, 1), y = tens_out(H, nx), z = tens_out(H, nx);
    H->cpu->nchw_to_nhwc(H->cpu, n, c, h, w, x.c, y.c);
    H->gpu->nchw_to_nhwc(H->gpu, n, c, h, w, x.g, y.g);
    compare(H, oc->name, "nhwc", &y, 0.0);
    H->cpu->nhwc_to_nchw(H->cpu, n, c, h, w, y.c, z.c);
    H->gpu->nhwc_to_nchw(H->gpu, n, c, h, w, y.g, z.g);
    compare(H, oc->name, "nchw", &z, 0.0);
    tens_free(H, &x);
    tens_free(H, &y);
    tens_free(H, &z);
}

/* a: n hw c */
static void case_attention(harness *H, const op_case *oc) {
    const int n = oc->a[0], hw = oc->a[1], c = oc->a[2];
    const size_t nq = (size_t)n * hw * 3 * c;
    tens qkv = tens_rand(H, nq, -1, 1), dout = tens_rand(H, (size_t)n * hw * c, -1, 1);
    tens out = tens_out(H, (size_t)n * hw * c), probs = tens_out(H, (size_t)n * hw * hw), dqkv = tens_out(H, nq);
    H->cpu->attention_forward(H->cpu, n, hw, c, qkv.c, out.c, probs.c);
    H->gpu->attention_forward(H->gpu, n, hw, c, qkv.g, out.g, probs.g);
    compare(H, oc->name, "out", &out, H->tol_prec);
    compare(H, oc->name, "probs", &probs, H->tol_prec);
    H->cpu->attention_backward(H->cpu, n, hw, c, qkv.c, probs.c, dout.c, dqkv.c);
    H->gpu->attention_backward(H->gpu, n, hw, c, qkv.g, probs.g, dout.g, dqkv.g);
    compare(H, oc->name, "dqkv", &dqkv, H->tol_prec);
    tens *all[] = {&qkv, &dout, &out, &probs, &dqkv};
    for (size_t i = 0; i < sizeof all / sizeof *all; ++i) tens_free(H, all[i]);
}

/* a: n dim */
static void case_time_embedding(harness *H, const op_case *oc) {
    const int n = oc->a[0], dim = oc->a[1];
    tens t = tens_rand(H, (size_t)n, 1e-3f, 1.0f), out = tens_out(H, (size_t)n * dim);
    H->cpu->time_embedding(H->cpu, n, dim, t.c, out.c);
    H->gpu->time_embedding(H->gpu, n, dim, t.g, out.g);
    compare(H, oc->name, "emb", &out, H->tol_f32);
    tens_free(H, &t);
    tens_free(H, &out);
}

/* a: n offset */
static void case_sum_squares(harness *H, const op_case *oc) {
    const size_t n = (size_t)oc->a[0];
    const int off = oc->a[1];
    tens x = tens_rand(H, n + 1, -3, 3);
    const double c = H->cpu->sum_squares(H->cpu, n, x.c + off);
    const double g = H->gpu->sum_squares(H->gpu, n, x.g + off);
    compare_scalar(H, oc->name, "sum", g, c, 1e-12);
    tens_free(H, &x);
}

/* a: n step */
static void case_adamw(harness *H, const op_case *oc) {
    const size_t n = (size_t)oc->a[0];
    const int step = oc->a[1];
    tens p = tens_rand(H, n, -1, 1), g = tens_rand(H, n, -0.1f, 0.1f), m = tens_rand(H, n, -0.01f, 0.01f);
    tens v = tens_rand(H, n, 0.0f, 1e-3f), e = tens_rand(H, n, -1, 1);
    dfl_adamw_hparams h;
    h.lr = 3e-3f;
    h.beta1 = 0.9f;
    h.beta2 = 0.999f;
    h.eps = 1e-8f;
    h.weight_decay = 0.01f;
    h.bias_correction1 = 1.0f - powf(h.beta1, (float)step);
    h.bias_correction2 = 1.0f - powf(h.beta2, (float)step);
    h.grad_scale = 0.75f;
    H->cpu->adamw_update(H->cpu, n, p.c, g.c, m.c, v.c, &h);
    H->gpu->adamw_update(H->gpu, n, p.g, g.g, m.g, v.g, &h);
    compare(H, oc->name, "p", &p, H->tol_f32);
    compare(H, oc->name, "m", &m, H->tol_f32);
    compare(H, oc->name, "v", &v, H->tol_f32);
    const float decay = dfl_ema_decay(0.999f, step);
    H->cpu->ema_update(H->cpu, n, e.c, p.c, decay);
    H->gpu->ema_update(H->gpu, n, e.g, p.g, decay);
    compare(H, oc->name, "ema", &e, H->tol_f32);
    tens *all[] = {&p, &g, &m, &v, &e};
    for (size_t i = 0; i < sizeof all / sizeof *all; ++i) tens_free(H, all[i]);
}

/* ---- fused method ops ---- */

static void method_for(dfl_method_params *mp, int strategy, int query) {
    dfl_method_params_default(mp);
    mp->strategy = (dfl_strategy)strategy;
    mp->query = (dfl_query_mode)query;
    mp->grid_h = 3;
    mp->grid_w = 3;
    mp->hide = 1;
}

/* Host inputs of a method case: x_obs (with NaN at some unobserved
 * entries: they must never leak into a result) and a random mask. */
typedef struct {
    int n, c, h, w, mc;
    float *x;
    uint8_t *mask;
    float *xd_c, *xd_g;
    uint8_t *md_c, *md_g;
} method_batch;

static method_batch batch_make(harness *H, int n, int c, int h, int w, int mc, float observed) {
    method_batch b = {n, c, h, w, mc, NULL, NULL, NULL, NULL, NULL, NULL};
    const size_t nx = (size_t)n * c * h * w, nm = (size_t)n * mc * h * w;
    b.x = dfl_xmalloc(nx * sizeof(float));
    b.mask = dfl_xmalloc(nm);
    const uint64_t seed = g_seed++;
    for (size_t i = 0; i < nm; ++i) b.mask[i] = dfl_rng_uniform(seed, 1, i) < observed;
    for (size_t i = 0; i < nx; ++i) b.x[i] = urand(seed, i, -2, 2);
    /* poison unobserved entries of channel 0 of a one-channel mask */
    if (mc == 1)
        for (int i = 0; i < n; ++i)
            for (int p = 0; p < h * w; ++p)
                if (!b.mask[(size_t)i * h * w + p] && p % 3 == 0) b.x[(size_t)i * c * h * w + p] = NAN;
    void *g;
    b.xd_c = alloc_both(H, nx * sizeof(float), &g);
    b.xd_g = g;
    b.md_c = alloc_both(H, nm, &g);
    b.md_g = g;
    H->cpu->upload(H->cpu, b.xd_c, b.x, nx * sizeof(float));
    H->gpu->upload(H->gpu, b.xd_g, b.x, nx * sizeof(float));
    H->cpu->upload(H->cpu, b.md_c, b.mask, nm);
    H->gpu->upload(H->gpu, b.md_g, b.mask, nm);
    return b;
}

static void batch_free(harness *H, method_batch *b) {
    H->cpu->free(H->cpu, b->xd_c);
    H->gpu->free(H->gpu, b->xd_g);
    H->cpu->free(H->cpu, b->md_c);
    H->gpu->free(H->gpu, b->md_g);
    free(b->x);
    free(b->mask);
}

/* The plan bytes in both backends' memory. */
static int plan_make(harness *H, const dfl_method_params *mp, const method_batch *b, int k, float t, int full,
                     dfl_context_plan *plan, void **pc, void **pg) {
    dfl_plan_request rq;
    memset(&rq, 0, sizeof rq);
    rq.n = b->n;
    rq.k = k;
    rq.c = b->c;
    rq.h = b->h;
    rq.w = b->w;
    rq.mask_channels = b->mc;
    rq.mask = full ? NULL : b->mask;
    rq.t = t;
    rq.t_eps = DFL_T_EPS;
    rq.seed = 1234567;
    rq.step = 42;
    rq.sample_offset = 5;
    dfl_context_plan_init(plan);
    if (dfl_context_plan_make(plan, mp, &rq) != DFL_OK) {
        fprintf(stderr, "plan: %s\n", dfl_last_error());
        dfl_clear_error();
        return 0;
    }
    *pc = alloc_both(H, plan->bytes, pg);
    H->cpu->upload(H->cpu, *pc, plan->data, plan->bytes);
    H->gpu->upload(H->gpu, *pg, plan->data, plan->bytes);
    return 1;
}

/* Compares a [rows, 2c] network input: data channels within tol, mask channels exactly. */
static void compare_net_input(harness *H, const char *name, const float *cdev, const float *gdev, size_t rows, int c) {
    const size_t n = rows * 2 * c;
    float *a = dfl_xmalloc(n * sizeof(float)), *b = dfl_xmalloc(n * sizeof(float));
    H->cpu->download(H->cpu, b, cdev, n * sizeof(float));
    H->gpu->download(H->gpu, a, gdev, n * sizeof(float));
    size_t mask_diff = 0;
    double md = 0, mb = 0;
    int bad = 0;
    for (size_t r = 0; r < rows; ++r)
        for (int ch = 0; ch < 2 * c; ++ch) {
            const size_t i = r * 2 * c + ch;
            if (!isfinite(a[i]) || !isfinite(b[i])) bad = 1;
            if (ch >= c) {
                mask_diff += a[i] != b[i] || (b[i] != 0.0f && b[i] != 1.0f);
            } else {
                const double d = fabs((double)a[i] - b[i]);
                md = d > md ? d : md;
                mb = fabs((double)b[i]) > mb ? fabs((double)b[i]) : mb;
            }
        }
    char extra[64];
    snprintf(extra, sizeof extra, "(%zu mask values differ)", mask_diff);
    record(H, name, "ctx_mask", bad || mask_diff ? INFINITY : 0.0, 0.0, extra);
    record(H, name, "x_t", bad ? INFINITY : (mb > 0 ? md / mb : md), H->tol_f32, NULL);
    free(a);
    free(b);
}

/* a: strategy query n c h w mc */
static void case_noise_context(harness *H, const op_case *oc) {
    dfl_method_params mp;
    method_for(&mp, oc->a[0], oc->a[1]);
    method_batch b = batch_make(H, oc->a[2], oc->a[3], oc->a[4], oc->a[5], oc->a[6], 0.6f);
    dfl_context_plan plan;
    void *pc, *pg;
    if (!plan_make(H, &mp, &b, 1, 0.0f, 0, &plan, &pc, &pg)) {
        record(H, oc->name, "plan", INFINITY, 0.0, "plan_make failed");
        batch_free(H, &b);
        return;
    }
    const size_t rows = (size_t)b.n * b.h * b.w, nq = rows * b.c;
    void *g;
    float *in_c = alloc_both(H, rows * 2 * b.c * sizeof(float), &g);
    float *in_g = g;
    uint8_t *q_c = alloc_both(H, nq, &g), *q_g = g;
    int32_t *cnt_c = alloc_both(H, (size_t)b.n * sizeof(int32_t), &g), *cnt_g = g;
    H->cpu->fill(H->cpu, in_c, NAN, rows * 2 * b.c);
    H->gpu->fill(H->gpu, in_g, NAN, rows * 2 * b.c);
    dfl_noise_context_args a;
    memset(&a, 0, sizeof a);
    a.n = b.n;
    a.c = b.c;
    a.h = b.h;
    a.w = b.w;
    a.mask_channels = b.mc;
    a.rule = dfl_method_rule(&mp);
    a.plan = pc;
    a.x_obs = b.xd_c;
    a.mask = b.md_c;
    a.partner_masks = mp.strategy == DFL_STRATEGY_EMPIRICAL ? b.md_c : NULL;
    a.net_input = in_c;
    a.query = q_c;
    a.query_count = cnt_c;
    H->cpu->noise_context(H->cpu, &a);
    a.plan = pg;
    a.x_obs = b.xd_g;
    a.mask = b.md_g;
    a.partner_masks = mp.strategy == DFL_STRATEGY_EMPIRICAL ? b.md_g : NULL;
    a.net_input = in_g;
    a.query = q_g;
    a.query_count = cnt_g;
    H->gpu->noise_context(H->gpu, &a);
    compare_net_input(H, oc->name, in_c, in_g, rows, b.c);
    compare_bytes(H, oc->name, "query", q_c, q_g, nq);
    compare_bytes(H, oc->name, "count", cnt_c, cnt_g, (size_t)b.n * sizeof(int32_t));
    H->cpu->free(H->cpu, in_c);
    H->gpu->free(H->gpu, in_g);
    H->cpu->free(H->cpu, q_c);
    H->gpu->free(H->gpu, q_g);
    H->cpu->free(H->cpu, cnt_c);
    H->gpu->free(H->gpu, cnt_g);
    H->cpu->free(H->cpu, pc);
    H->gpu->free(H->gpu, pg);
    dfl_context_plan_free(&plan);
    batch_free(H, &b);
}

/* a: strategy k x_is_state context_full n c h w mc */
static void case_ensemble_build(harness *H, const op_case *oc) {
    dfl_method_params mp;
    method_for(&mp, oc->a[0], DFL_QUERY_AUTO);
    const int k = oc->a[1], state = oc->a[2], full = oc->a[3];
    method_batch b = batch_make(H, oc->a[4], oc->a[5], oc->a[6], oc->a[7], oc->a[8], 0.5f);
    if (state) { /* a sampler state exists at every entry */
        const size_t nx = (size_t)b.n * b.c * b.h * b.w;
        for (size_t i = 0; i < nx; ++i)
            if (!isfinite(b.x[i])) b.x[i] = 0.25f;
        H->cpu->upload(H->cpu, b.xd_c, b.x, nx * sizeof(float));
        H->gpu->upload(H->gpu, b.xd_g, b.x, nx * sizeof(float));
    }
    dfl_context_plan plan;
    void *pc, *pg;
    if (!plan_make(H, &mp, &b, k, DFL_T_EPS, full, &plan, &pc, &pg)) {
        record(H, oc->name, "plan", INFINITY, 0.0, "plan_make failed");
        batch_free(H, &b);
        return;
    }
    const size_t rows = (size_t)b.n * k * b.h * b.w;
    void *g;
    float *in_c = alloc_both(H, rows * 2 * b.c * sizeof(float), &g), *in_g = g;
    H->cpu->fill(H->cpu, in_c, NAN, rows * 2 * b.c);
    H->gpu->fill(H->gpu, in_g, NAN, rows * 2 * b.c);
    dfl_ensemble_build_args a;
    memset(&a, 0, sizeof a);
    a.n = b.n;
    a.c = b.c;
    a.h = b.h;
    a.w = b.w;
    a.mask_channels = b.mc;
    a.k = k;
    a.rule = dfl_method_rule(&mp);
    a.x_is_state = state;
    a.context_full = full;
    a.plan = pc;
    a.x = b.xd_c;
    a.mask = b.md_c;
    a.partner_masks = mp.strategy == DFL_STRATEGY_EMPIRICAL ? b.md_c : NULL;
    a.net_input = in_c;
    H->cpu->ensemble_build(H->cpu, &a);
    a.plan = pg;
    a.x = b.xd_g;
    a.mask = b.md_g;
    a.partner_masks = mp.strategy == DFL_STRATEGY_EMPIRICAL ? b.md_g : NULL;
    a.net_input = in_g;
    H->gpu->ensemble_build(H->gpu, &a);
    compare_net_input(H, oc->name, in_c, in_g, rows, b.c);
    H->cpu->free(H->cpu, in_c);
    H->gpu->free(H->gpu, in_g);
    H->cpu->free(H->cpu, pc);
    H->gpu->free(H->gpu, pg);
    dfl_context_plan_free(&plan);
    batch_free(H, &b);
}

/* a: n c h w denom(0 = local count) want_grad row_weights */
static void case_qmse(harness *H, const op_case *oc) {
    const int n = oc->a[0], c = oc->a[1], h = oc->a[2], w = oc->a[3], with_denom = oc->a[4], want_grad = oc->a[5];
    const int weighted = oc->a[6];
    const size_t ne = (size_t)n * c * h * w;
    tens pred = tens_rand(H, ne, -2, 2), obs = tens_rand(H, ne, -2, 2), grad = tens_out(H, ne);
    tens rw = tens_rand(H, (size_t)n * h, 0.1f, 2.0f); /* latitude row weights */
    uint8_t *q = dfl_xmalloc(ne);
    const uint64_t seed = g_seed++;
    for (size_t i = 0; i < ne; ++i) q[i] = dfl_rng_uniform(seed, 2, i) < 0.3;
    void *g;
    uint8_t *q_c = alloc_both(H, ne, &g), *q_g = g;
    H->cpu->upload(H->cpu, q_c, q, ne);
    H->gpu->upload(H->gpu, q_g, q, ne);
    dfl_qmse_args a;
    memset(&a, 0, sizeof a);
    a.n = n;
    a.c = c;
    a.h = h;
    a.w = w;
    a.denom = with_denom ? 1000.0 : 0.0;
    double ss_c = -1, ss_g = -2, cnt_c = -1, cnt_g = -2;
    a.pred = pred.c;
    a.x_obs = obs.c;
    a.query = q_c;
    a.row_weight = weighted ? rw.c : NULL;
    a.grad = want_grad ? grad.c : NULL;
    a.sum_sq = &ss_c;
    a.count = &cnt_c;
    const double lc = H->cpu->qmse(H->cpu, &a);
    a.pred = pred.g;
    a.x_obs = obs.g;
    a.query = q_g;
    a.row_weight = weighted ? rw.g : NULL;
    a.grad = want_grad ? grad.g : NULL;
    a.sum_sq = &ss_g;
    a.count = &cnt_g;
    const double lg = H->gpu->qmse(H->gpu, &a);
    compare_scalar(H, oc->name, "loss", lg, lc, 1e-12);
    compare_scalar(H, oc->name, "sum_sq", ss_g, ss_c, 1e-12);
    compare_scalar(H, oc->name, "count", cnt_g, cnt_c, 0.0);
    if (want_grad) compare(H, oc->name, "grad", &grad, H->tol_f32);
    H->cpu->free(H->cpu, q_c);
    H->gpu->free(H->gpu, q_g);
    free(q);
    tens_free(H, &pred);
    tens_free(H, &obs);
    tens_free(H, &grad);
    tens_free(H, &rw);
}

/* a: n k c h w want_std */
static void case_ensemble_reduce(harness *H, const op_case *oc) {
    const int n = oc->a[0], k = oc->a[1], c = oc->a[2], h = oc->a[3], w = oc->a[4], want_std = oc->a[5];
    const size_t no = (size_t)n * c * h * w;
    tens pred = tens_rand(H, no * k, -1, 1), mean = tens_out(H, no), sd = tens_out(H, no);
    dfl_ensemble_reduce_args a = {n, k, c, h, w, pred.c, mean.c, want_std ? sd.c : NULL};
    H->cpu->ensemble_reduce(H->cpu, &a);
    a.pred = pred.g;
    a.mean = mean.g;
    a.std = want_std ? sd.g : NULL;
    H->gpu->ensemble_reduce(H->gpu, &a);
    compare(H, oc->name, "mean", &mean, H->tol_f32);
    if (want_std) compare(H, oc->name, "std", &sd, H->tol_f32);
    tens_free(H, &pred);
    tens_free(H, &mean);
    tens_free(H, &sd);
}

enum {
    PX = DFL_STRATEGY_PIXEL,
    BL = DFL_STRATEGY_BLOCK,
    EM = DFL_STRATEGY_EMPIRICAL,
    MD = DFL_STRATEGY_MISSDIFF,
    AM = DFL_STRATEGY_AMBIENT
};
enum { QA = DFL_QUERY_AUTO, QI = DFL_QUERY_INDEPENDENT, QC = DFL_QUERY_COMPLEMENT, QO = DFL_QUERY_OBSERVED };

static const op_case op_cases[] = {
    /* conv: n h w cin cout k stride px py bias */
    {"conv3x3 16x16 8->16", case_conv, {2, 16, 16, 8, 16, 3, 1, 0, 0, 1}},
    {"conv3x3 periodic-x", case_conv, {2, 16, 12, 8, 16, 3, 1, 1, 0, 1}},
    {"conv3x3 periodic-y", case_conv, {2, 12, 16, 8, 16, 3, 1, 0, 1, 1}},
    {"conv3x3 periodic-xy", case_conv, {2, 16, 16, 16, 16, 3, 1, 1, 1, 1}},
    {"conv3x3 stride2", case_conv, {2, 16, 16, 16, 16, 3, 2, 0, 0, 1}},
    {"conv3x3 stride2 periodic-xy", case_conv, {2, 16, 16, 16, 32, 3, 2, 1, 1, 1}},
    {"conv3x3 stride2 periodic-x odd", case_conv, {1, 15, 9, 8, 8, 3, 2, 1, 0, 1}},
    {"conv1x1 16->8", case_conv, {2, 8, 8, 16, 8, 1, 1, 0, 0, 1}},
    {"conv1x1 periodic (no halo)", case_conv, {2, 8, 8, 8, 24, 1, 1, 1, 1, 0}},
    {"conv3x3 stem 2->32", case_conv, {4, 32, 32, 2, 32, 3, 1, 0, 0, 1}},
    {"conv3x3 head 32->1 periodic-x", case_conv, {4, 32, 32, 32, 1, 3, 1, 1, 0, 1}},
    {"conv3x3 no bias odd", case_conv, {3, 7, 5, 12, 20, 3, 1, 0, 0, 0}},
    {"conv3x3 64ch 32x32", case_conv, {4, 32, 32, 64, 64, 3, 1, 0, 0, 1}},
    /* group norm: n hw c groups silu affine dparams */
    {"gn+silu c32 g8", case_group_norm, {2, 64, 32, 8, 1, 1, 1}},
    {"gn+silu c32 g8 + residual", case_group_norm, {2, 64, 32, 8, 1, 1, 1, 1}},
    {"gn c32 g8", case_group_norm, {2, 64, 32, 8, 0, 1, 1}},
    {"gn+silu c24 g8 (scalar path)", case_group_norm, {3, 49, 24, 8, 1, 1, 1}},
    {"gn+silu c64 g8 large hw", case_group_norm, {2, 1024, 64, 8, 1, 1, 1}},
    {"gn+silu c128 g8", case_group_norm, {2, 256, 128, 8, 1, 1, 0}},
    {"gn no affine", case_group_norm, {2, 64, 16, 8, 1, 0, 1}},
    {"gn c8 g8 (1 ch/group)", case_group_norm, {2, 100, 8, 8, 1, 1, 1}},
    /* few (sample, group) pairs on a large field: each pair's pixels split
     * into ranges (group_norm.cu, gn_splits: 32 ranges of 2048 pixels on a
     * GPU with >= 128 SMs; 5 ranges, the last one short; the scalar path) */
    {"gn+silu c32 g8 split over space", case_group_norm, {1, 65536, 32, 8, 1, 1, 1, 1}},
    {"gn+silu c64 g8 split, short last range", case_group_norm, {1, 2048 * 5 + 7, 64, 8, 1, 1, 1}},
    {"gn c24 g8 split (scalar path)", case_group_norm, {1, 10000, 24, 8, 0, 1, 1, 1}},
    /* elementwise: n offset */
    {"elementwise n=4096", case_elementwise, {4096, 0}},
    {"elementwise n=1001 unaligned", case_elementwise, {1001, 1}},
    {"channel bias c32", case_channel_bias, {4, 64, 32}},
    {"channel bias c3", case_channel_bias, {3, 50, 3}},
    {"channel bias long", case_channel_bias, {2, 4096, 64}},
    /* linear: rows in out bias dx db */
    {"linear 16x32->128", case_linear, {16, 32, 128, 1, 1, 1}},
    {"linear 16x128->128 no dx", case_linear, {16, 128, 128, 1, 0, 1}},
    {"linear 7x33->65 no bias", case_linear, {7, 33, 65, 0, 1, 0}},
    {"linear rows 4096 (qkv-like)", case_linear, {4096, 64, 192, 1, 1, 1}},
    /* resampling and layout */
    {"upsample c16", case_upsample, {2, 8, 8, 16}},
    {"upsample c3 odd", case_upsample, {2, 5, 7, 3}},
    {"concat 16|8", case_concat, {300, 16, 8, 1, 1}},
    {"concat 3|5 da only", case_concat, {301, 3, 5, 1, 0}},
    {"concat 4|4 db only", case_concat, {64, 4, 4, 0, 1}},
    {"pad/crop 13x10->16x16", case_pad_crop, {2, 13, 10, 4, 16, 16}},
    {"pad/crop c3", case_pad_crop, {1, 9, 9, 3, 12, 16}},
    {"input_fill 13x10 c3 20%", case_input_fill, {2, 13, 10, 3, 20}},
    {"input_fill 721x1440 c2 1%", case_input_fill, {1, 721, 1440, 2, 1}},
    {"input_fill_spline 13x10 c3 20% free", case_input_fill, {2, 13, 10, 3, 20, 0, 0, 64}},
    {"input_fill_spline 64x64 c1 10% xy", case_input_fill, {8, 64, 64, 1, 10, 1, 1, 64}},
    {"input_fill_spline 4x3 c1 50% x", case_input_fill, {1, 4, 3, 1, 50, 1, 0, 64}},
    {"input_fill_spline 721x1440 c2 1% x", case_input_fill, {1, 721, 1440, 2, 1, 1, 0, 64}},
    {"input_fill_spline3 13x10 c3 20% free", case_input_fill, {2, 13, 10, 3, 20, 0, 0, 64, 128}},
    {"input_fill_spline3 64x64 c1 10% xy", case_input_fill, {8, 64, 64, 1, 10, 1, 1, 64, 128}},
    {"input_fill_spline3 5x4 c1 50% x", case_input_fill, {1, 5, 4, 1, 50, 1, 0, 64, 128}},
    {"input_fill_spline3 721x1440 c2 1% x", case_input_fill, {1, 721, 1440, 2, 1, 1, 0, 64, 128}},
    {"transpose 5x7x9", case_transpose, {2, 5, 7, 9}},
    {"transpose 64x33x17", case_transpose, {2, 64, 33, 17}},
    /* attention: n hw c */
    {"attention 64 tok c32", case_attention, {2, 64, 32}},
    {"attention 256 tok c64", case_attention, {1, 256, 64}},
    {"attention 100 tok c16", case_attention, {3, 100, 16}},
    /* time embedding, optimiser */
    {"time embedding dim32", case_time_embedding, {16, 32}},
    {"time embedding dim128", case_time_embedding, {5, 128}},
    {"sum_squares 1e6", case_sum_squares, {1000003, 0}},
    {"sum_squares unaligned", case_sum_squares, {4097, 1}},
    {"adamw+ema step1", case_adamw, {10007, 1}},
    {"adamw+ema step1000", case_adamw, {65536, 1000}},
    /* fused method ops: strategy query n c h w mc */
    {"noise_context pixel", case_noise_context, {PX, QA, 4, 1, 16, 16, 1}},
    {"noise_context pixel complement c3", case_noise_context, {PX, QC, 2, 3, 12, 20, 1}},
    {"noise_context pixel mask per channel", case_noise_context, {PX, QI, 2, 3, 16, 16, 3}},
    {"noise_context block 3x3", case_noise_context, {BL, QA, 4, 2, 24, 24, 1}},
    {"noise_context block observed", case_noise_context, {BL, QO, 2, 1, 17, 13, 1}},
    {"noise_context empirical", case_noise_context, {EM, QA, 5, 2, 16, 16, 1}},
    {"noise_context missdiff", case_noise_context, {MD, QA, 2, 1, 16, 16, 1}},
    {"noise_context ambient", case_noise_context, {AM, QA, 2, 4, 16, 16, 4}},
    {"noise_context pixel c40 (unstaged)", case_noise_context, {PX, QA, 1, 40, 8, 8, 1}},
    /* ensemble_build: strategy k state full n c h w mc */
    {"ensemble_build pixel K10", case_ensemble_build, {PX, 10, 0, 0, 2, 1, 16, 16, 1}},
    {"ensemble_build block K4 c2", case_ensemble_build, {BL, 4, 0, 0, 2, 2, 18, 18, 1}},
    {"ensemble_build state full", case_ensemble_build, {PX, 3, 1, 1, 2, 2, 16, 16, 1}},
    {"ensemble_build empirical K3", case_ensemble_build, {EM, 3, 0, 0, 3, 1, 16, 16, 1}},
    /* qmse: n c h w denom grad */
    {"qmse c1 local count", case_qmse, {4, 1, 16, 16, 0, 1}},
    {"qmse c3 denom", case_qmse, {2, 3, 33, 17, 1, 1}},
    {"qmse c4 loss only", case_qmse, {2, 4, 64, 64, 0, 0}},
    {"qmse c70 (small tile)", case_qmse, {1, 70, 9, 9, 0, 1}},
    {"qmse c3 row weights (lat_weight)", case_qmse, {2, 3, 33, 17, 0, 1, 1}},
    /* ensemble_reduce: n k c h w std */
    {"ensemble_reduce K10 c1", case_ensemble_reduce, {2, 10, 1, 16, 16, 1}},
    {"ensemble_reduce K3 c3 no std", case_ensemble_reduce, {2, 3, 3, 9, 7, 0}},
    {"ensemble_reduce K1", case_ensemble_reduce, {1, 1, 2, 8, 8, 1}},
};

/* ------------------------------------------------------------------ */
/* CUDA-only checks                                                    */
/* ------------------------------------------------------------------ */

static int bits_equal(dfl_backend *be, const float *a, const float *b, size_t n) {
    float *x = dfl_xmalloc(n * sizeof(float)), *y = dfl_xmalloc(n * sizeof(float));
    be->download(be, x, a, n * sizeof(float));
    be->download(be, y, b, n * sizeof(float));
    const int eq = memcmp(x, y, n * sizeof(float)) == 0;
    free(x);
    free(y);
    return eq;
}

static void check_determinism(harness *H) {
    dfl_backend *g = H->gpu;
    dfl_conv_desc d = {4, 32, 32, 32, 32, 3, 1, 1, 0};
    const size_t nx = (size_t)d.n * d.h * d.w * d.cin, nw = (size_t)d.cout * d.cin * 9;
    tens x = tens_rand(H, nx, -1, 1), dy = tens_rand(H, nx, -1, 1), w = tens_rand(H, nw, -0.1f, 0.1f);
    tens dw1 = tens_out(H, nw), dw2 = tens_out(H, nw), db1 = tens_out(H, 32), db2 = tens_out(H, 32);
    tens dx1 = tens_out(H, nx), dx2 = tens_out(H, nx);
    g->conv2d_backward_weights(g, &d, x.g, dy.g, dw1.g, db1.g);
    g->conv2d_backward_weights(g, &d, x.g, dy.g, dw2.g, db2.g);
    g->conv2d_backward_data(g, &d, dy.g, w.g, dx1.g);
    g->conv2d_backward_data(g, &d, dy.g, w.g, dx2.g);
    const int conv_ok =
        bits_equal(g, dw1.g, dw2.g, nw) && bits_equal(g, db1.g, db2.g, 32) && bits_equal(g, dx1.g, dx2.g, nx);
    record(H, "determinism conv bwd", "bits", conv_ok ? 0.0 : INFINITY, 0.0, NULL);
    tens gm = tens_rand(H, 32, 0.5f, 1.5f), bt = tens_rand(H, 32, -0.5f, 0.5f), mean = tens_out(H, 32),
         rstd = tens_out(H, 32), y = tens_out(H, nx);
    g->group_norm_forward(g, d.n, d.h * d.w, 32, 8, 1e-5f, x.g, gm.g, bt.g, y.g, mean.g, rstd.g, 1);
    g->group_norm_backward(g, d.n, d.h * d.w, 32, 8, x.g, gm.g, bt.g, mean.g, rstd.g, dy.g, NULL, dx1.g, dw1.g, db1.g,
                           1);
    g->group_norm_backward(g, d.n, d.h * d.w, 32, 8, x.g, gm.g, bt.g, mean.g, rstd.g, dy.g, NULL, dx2.g, dw2.g, db2.g,
                           1);
    const int gn_ok =
        bits_equal(g, dx1.g, dx2.g, nx) && bits_equal(g, dw1.g, dw2.g, 32) && bits_equal(g, db1.g, db2.g, 32);
    record(H, "determinism group norm bwd", "bits", gn_ok ? 0.0 : INFINITY, 0.0, NULL);
    const double s1 = g->sum_squares(g, nx, x.g), s2 = g->sum_squares(g, nx, x.g);
    record(H, "determinism sum_squares", "bits", s1 == s2 ? 0.0 : INFINITY, 0.0, NULL);
    tens *all[] = {&x, &dy, &w, &dw1, &dw2, &db1, &db2, &dx1, &dx2, &gm, &bt, &mean, &rstd, &y};
    for (size_t i = 0; i < sizeof all / sizeof *all; ++i) tens_free(H, all[i]);
}

/* Captures conv -> GN+SiLU -> sum_squares into a graph, replays it on new
 * inputs and compares with the eager result bit for bit. */
static void check_graph(harness *H) {
    dfl_backend *g = H->gpu;
    dfl_conv_desc d = {2, 16, 16, 16, 32, 3, 1, 1, 1};
    const size_t nx = (size_t)d.n * d.h * d.w * d.cin, ny = (size_t)d.n * d.h * d.w * d.cout;
    tens x = tens_rand(H, nx, -1, 1), w = tens_rand(H, (size_t)32 * 16 * 9, -0.1f, 0.1f), b = tens_rand(H, 32, -1, 1);
    tens gm = tens_rand(H, 32, 0.5f, 1.5f), bt = tens_rand(H, 32, -0.5f, 0.5f);
    tens y = tens_out(H, ny), z = tens_out(H, ny), mean = tens_out(H, 16), rstd = tens_out(H, 16);
    tens z_eager = tens_out(H, ny);
    /* eager, also sizes every scratch buffer */
    g->conv2d_forward(g, &d, x.g, w.g, b.g, y.g);
    g->group_norm_forward(g, d.n, d.h * d.w, 32, 8, 1e-5f, y.g, gm.g, bt.g, z_eager.g, mean.g, rstd.g, 1);
    const double eager = g->sum_squares(g, ny, z_eager.g);
    int ok = dfl_cuda_graph_begin(g) == DFL_OK;
    double inside = 0;
    if (ok) {
        g->conv2d_forward(g, &d, x.g, w.g, b.g, y.g);
        g->group_norm_forward(g, d.n, d.h * d.w, 32, 8, 1e-5f, y.g, gm.g, bt.g, z.g, mean.g, rstd.g, 1);
        inside = g->sum_squares(g, ny, z.g);
        dfl_cuda_graph *graph = dfl_cuda_graph_end(g);
        ok = graph != NULL && isnan(inside);
        if (graph) {
            dfl_cuda_graph_launch(g, graph);
            g->synchronize(g);
            const double replay = dfl_cuda_read_scalar(g, DFL_CUDA_SCALAR_SUMSQ);
            ok = ok && bits_equal(g, z.g, z_eager.g, ny) && replay == eager;
            dfl_cuda_graph_destroy(graph);
        }
    }
    if (!ok) fprintf(stderr, "graph: %s\n", dfl_last_error());
    record(H, "cuda graph capture+replay", "bits", ok ? 0.0 : INFINITY, 0.0, NULL);
    tens *all[] = {&x, &w, &b, &gm, &bt, &y, &z, &mean, &rstd, &z_eager};
    for (size_t i = 0; i < sizeof all / sizeof *all; ++i) tens_free(H, all[i]);
}

static void check_async_upload(harness *H) {
    dfl_backend *g = H->gpu;
    const size_t n = 1 << 20;
    float *pinned[2] = {dfl_cuda_host_alloc(n * sizeof(float)), dfl_cuda_host_alloc(n * sizeof(float))};
    float *dev[2] = {g->alloc(g, n * sizeof(float)), g->alloc(g, n * sizeof(float))};
    float *back = dfl_xmalloc(n * sizeof(float));
    int ok = 1;
    for (int round = 0; round < 4; ++round) {
        const int k = round & 1;
        dfl_cuda_upload_wait(g); /* the pinned buffer may be rewritten */
        for (size_t i = 0; i < n; ++i) pinned[k][i] = (float)(round * 1000003 + (long)i);
        dfl_cuda_upload_async(g, dev[k], pinned[k], n * sizeof(float));
        g->scale(g, n, 2.0f, dev[k]); /* ordered after the copy */
        g->download(g, back, dev[k], n * sizeof(float));
        for (size_t i = 0; i < n; i += 4097) ok &= back[i] == 2.0f * (float)(round * 1000003 + (long)i);
    }
    record(H, "async upload (pinned, copy stream)", "values", ok ? 0.0 : INFINITY, 0.0, NULL);
    for (int k = 0; k < 2; ++k) {
        dfl_cuda_host_free(pinned[k]);
        g->free(g, dev[k]);
    }
    free(back);
}

/* Multi-tensor AdamW + EMA with clipping against the CPU ops tensor by tensor. */
static void check_param_set(harness *H) {
    enum { T = 3 };
    const size_t sizes[T] = {1000, 70001, 5};
    tens p[T], gr[T], m[T], v[T], e[T];
    float *pg[T], *gg[T], *mg[T], *vg[T], *eg[T];
    double sumsq = 0;
    for (int i = 0; i < T; ++i) {
        p[i] = tens_rand(H, sizes[i], -1, 1);
        gr[i] = tens_rand(H, sizes[i], -1, 1);
        m[i] = tens_rand(H, sizes[i], -0.1f, 0.1f);
        v[i] = tens_rand(H, sizes[i], 0, 0.01f);
        e[i] = tens_rand(H, sizes[i], -1, 1);
        pg[i] = p[i].g, gg[i] = gr[i].g, mg[i] = m[i].g, vg[i] = v[i].g, eg[i] = e[i].g;
        sumsq += H->cpu->sum_squares(H->cpu, sizes[i], gr[i].c);
    }
    dfl_adamw_hparams h = {2e-3f, 0.9f, 0.999f, 1e-8f, 0.05f, 1.0f - 0.9f * 0.9f, 1.0f - 0.999f * 0.999f, 1.0f};
    const float clip = 10.0f, decay = 0.9f;
    dfl_cuda_param_set *s = dfl_cuda_param_set_create(H->gpu, T, pg, gg, mg, vg, eg, sizes);
    if (!s) {
        record(H, "multi-tensor adamw+ema", "create", INFINITY, 0.0, dfl_last_error());
        return;
    }
    dfl_cuda_param_set_grad_sumsq(H->gpu, s);
    compare_scalar(H, "multi-tensor grad sumsq", "sum", dfl_cuda_read_scalar(H->gpu, DFL_CUDA_SCALAR_SUMSQ), sumsq,
                   1e-12);
    dfl_cuda_param_set_hparams(H->gpu, s, &h, clip, decay);
    dfl_cuda_param_set_step(H->gpu, s);
    /* reference: clip factor on the host (the shared formula), then the CPU ops */
    dfl_adamw_hparams hc = h;
    hc.grad_scale *= (float)dfl_clip_factor(clip, sqrt(sumsq));
    for (int i = 0; i < T; ++i) {
        H->cpu->adamw_update(H->cpu, sizes[i], p[i].c, gr[i].c, m[i].c, v[i].c, &hc);
        H->cpu->ema_update(H->cpu, sizes[i], e[i].c, p[i].c, decay);
        char name[64];
        snprintf(name, sizeof name, "multi-tensor adamw+ema t%d", i);
        compare(H, name, "p", &p[i], H->tol_f32);
        compare(H, name, "m", &m[i], H->tol_f32);
        compare(H, name, "v", &v[i], H->tol_f32);
        compare(H, name, "ema", &e[i], H->tol_f32);
    }
    dfl_cuda_param_set_destroy(H->gpu, s);
    for (int i = 0; i < T; ++i) {
        tens_free(H, &p[i]);
        tens_free(H, &gr[i]);
        tens_free(H, &m[i]);
        tens_free(H, &v[i]);
        tens_free(H, &e[i]);
    }
}

/* ------------------------------------------------------------------ */

static void run_table(dfl_backend *cpu, dfl_backend *gpu, int gpu_is_cuda, dfl_precision prec, int *compared,
                      int *failed) {
    harness H;
    memset(&H, 0, sizeof H);
    H.cpu = cpu;
    H.gpu = gpu;
    H.gpu_is_cuda = gpu_is_cuda;
    H.prec = gpu_is_cuda ? dfl_precision_name(prec) : "cpu-cpu";
    H.tol_prec = prec == DFL_PRECISION_BF16 ? 1e-2 : prec == DFL_PRECISION_TF32 ? 2e-3 : 1e-5;
    H.tol_f32 = 1e-5;
    if (gpu_is_cuda) {
        char dev[256];
        dfl_cuda_describe(gpu, dev, sizeof dev);
        printf("%-8s device: %s\n", H.prec, dev);
    }
    for (size_t i = 0; i < sizeof op_cases / sizeof *op_cases; ++i) op_cases[i].run(&H, &op_cases[i]);
    if (gpu_is_cuda) {
        check_determinism(&H);
        if (prec == DFL_PRECISION_FP32) {
            check_graph(&H);
            check_async_upload(&H);
            check_param_set(&H);
        }
    }
    printf("%-8s summary: %d comparisons, %d failed; worst err/tol %.3f (%s)\n", H.prec, H.compared, H.failed, H.worst,
           H.worst_name[0] ? H.worst_name : "-");
    *compared += H.compared;
    *failed += H.failed;
}

int main(int argc, char **argv) {
    int cpu_vs_cpu = 0;
    const char *which = "all";
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--cpu-vs-cpu"))
            cpu_vs_cpu = 1;
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc)
            which = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--cpu-vs-cpu] [--precision fp32|tf32|bf16|all]\n", argv[0]);
            return 2;
        }
    }
    dfl_set_quiet(1);
    int compared = 0, failed = 0;
    dfl_backend *cpu = dfl_backend_cpu_create(0);
    if (cpu_vs_cpu) {
        dfl_backend *cpu2 = dfl_backend_cpu_create(0);
        run_table(cpu, cpu2, 0, DFL_PRECISION_FP32, &compared, &failed);
        dfl_backend_destroy(cpu2);
    } else {
        if (!dfl_cuda_available()) {
            printf("device_ops: no CUDA device: skipped\n");
            dfl_backend_destroy(cpu);
            return 77;
        }
        const dfl_precision precs[3] = {DFL_PRECISION_FP32, DFL_PRECISION_TF32, DFL_PRECISION_BF16};
        for (int k = 0; k < 3; ++k) {
            if (strcmp(which, "all") && strcmp(which, dfl_precision_name(precs[k]))) continue;
            dfl_backend *gpu = dfl_backend_cuda_create(0, precs[k]);
            if (!gpu) {
                fprintf(stderr, "device_ops: cannot create the CUDA backend (%s): %s\n", dfl_precision_name(precs[k]),
                        dfl_last_error());
                ++failed;
                dfl_clear_error();
                continue;
            }
            run_table(cpu, gpu, 1, precs[k], &compared, &failed);
            dfl_backend_destroy(gpu);
        }
    }
    dfl_backend_destroy(cpu);
    printf("device_ops: %d comparisons, %d failed\n", compared, failed);
    return dfl_test_finish("device_ops") || failed ? 1 : 0;
}
