/* Training and inference plans of dfl-unet v1 on the CPU backend, and the
 * option checks of dfl_unet_create.
 *
 * For several shapes (attention, periodic padding, odd sizes, nres 2,
 * 256 channels): the inference plan allocates no gradients and holds fewer
 * backend bytes than the training plan, even without counting the
 * gradients; dfl_unet_plan_bytes equals what the plan allocated through
 * the backend (counted by wrapping be->alloc / be->free); forward gives
 * bit-identical outputs under both plans and after switching between
 * them; a training plan made after an inference plan gives the same
 * gradients as one made directly. Bad options fail with DFL_EUSAGE and a
 * message naming the model.* key, before anything is allocated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfl_test.h"
#include "dynfill/model.h"
#include "shared/philox.h"

/* ------------------------------------------------------------------ */
/* backend allocation counter                                          */

#define MAX_LIVE 4096
static void *(*real_alloc)(dfl_backend *, size_t);
static void (*real_free)(dfl_backend *, void *);
static struct {
    void *p;
    size_t bytes;
} live[MAX_LIVE];
static size_t live_bytes;

static void *counting_alloc(dfl_backend *be, size_t bytes) {
    void *p = real_alloc(be, bytes);
    int i = 0;
    while (i < MAX_LIVE && live[i].p) ++i;
    if (i == MAX_LIVE) {
        fprintf(stderr, "test: more than %d live backend buffers\n", MAX_LIVE);
        exit(1);
    }
    live[i].p = p;
    live[i].bytes = bytes;
    live_bytes += bytes;
    return p;
}

static void counting_free(dfl_backend *be, void *p) {
    for (int i = 0; i < MAX_LIVE; ++i)
        if (live[i].p == p) {
            live_bytes -= live[i].bytes;
            live[i].p = NULL;
            break;
        }
    real_free(be, p);
}

static dfl_backend *counting_backend(void) {
    dfl_backend *be = dfl_backend_cpu_create(0);
    real_alloc = be->alloc;
    real_free = be->free;
    be->alloc = counting_alloc;
    be->free = counting_free;
    return be;
}

/* ------------------------------------------------------------------ */

typedef struct {
    dfl_backend *be;
    int n, h, w, C;
    size_t nx, ny;
    float *x, *t, *y, *dy; /* backend */
    float *hy;             /* host copy of the last output */
} io;

static void io_init(io *b, dfl_backend *be, int n, int h, int w, int C) {
    b->be = be;
    b->n = n, b->h = h, b->w = w, b->C = C;
    b->nx = (size_t)n * h * w * 2 * C;
    b->ny = (size_t)n * h * w * C;
    float *hx = malloc(b->nx * sizeof(float)), *hd = malloc(b->ny * sizeof(float)), ht[8];
    for (size_t i = 0; i < b->nx; ++i) hx[i] = dfl_rng_normal(21, 1, i);
    for (size_t i = 0; i < b->ny; ++i) hd[i] = dfl_rng_normal(21, 2, i);
    for (int i = 0; i < n; ++i) ht[i] = 0.05f + 0.9f * dfl_rng_uniform(21, 3, (uint64_t)i);
    b->x = be->alloc(be, b->nx * sizeof(float));
    b->y = be->alloc(be, b->ny * sizeof(float));
    b->dy = be->alloc(be, b->ny * sizeof(float));
    b->t = be->alloc(be, (size_t)n * sizeof(float));
    be->upload(be, b->x, hx, b->nx * sizeof(float));
    be->upload(be, b->dy, hd, b->ny * sizeof(float));
    be->upload(be, b->t, ht, (size_t)n * sizeof(float));
    b->hy = malloc(b->ny * sizeof(float));
    free(hx);
    free(hd);
}

static void io_free(io *b) {
    b->be->free(b->be, b->x);
    b->be->free(b->be, b->y);
    b->be->free(b->be, b->dy);
    b->be->free(b->be, b->t);
    free(b->hy);
}

/* Forward; returns a malloc'ed host copy of the output. */
static float *forward(dfl_unet *m, io *b) {
    dfl_unet_forward(m, b->x, b->t, b->y);
    float *out = malloc(b->ny * sizeof(float));
    b->be->download(b->be, out, b->y, b->ny * sizeof(float));
    return out;
}

/* Forward and backward; returns a malloc'ed host copy of the gradients. */
static float *gradients(dfl_unet *m, io *b) {
    dfl_unet_forward(m, b->x, b->t, b->y);
    dfl_unet_backward(m, b->dy, NULL);
    size_t np = dfl_unet_num_params(m);
    float *g = malloc(np * sizeof(float));
    b->be->download(b->be, g, dfl_unet_grads(m), np * sizeof(float));
    return g;
}

static void check_plans(const char *label, dfl_unet_config uc, int n, int h, int w) {
    dfl_backend *be = counting_backend();
    io b;
    io_init(&b, be, n, h, w, uc.channels);
    dfl_unet *m = NULL, *ref = NULL;
    CHECK(dfl_unet_create(be, &uc, &m) == DFL_OK);
    CHECK(dfl_unet_create(be, &uc, &ref) == DFL_OK);
    dfl_unet_init_params(m, 5);
    dfl_unet_init_params(ref, 5);
    size_t np = dfl_unet_num_params(m), grad_bytes = np * sizeof(float);

    /* the planning walk without allocating: what each plan will hold */
    dfl_unet_plan_size pi, pt;
    size_t before = live_bytes;
    CHECK(dfl_unet_plan_measure(m, n, h, w, 0, &pi) == DFL_OK);
    CHECK(dfl_unet_plan_measure(m, n, h, w, 1, &pt) == DFL_OK);
    CHECK_MSG(live_bytes == before, "%s: measuring allocated %zu bytes", label, live_bytes - before);
    CHECK(pi.grads_bytes == 0 && pt.grads_bytes == grad_bytes);
    CHECK(pi.largest_bytes > 0 && pi.largest_bytes <= pi.arena_bytes && pt.workspace_bytes > 0);

    /* inference plan: no gradients; the bytes it reports are the bytes it allocated */
    CHECK(dfl_unet_plan_inference(m, n, h, w) == DFL_OK);
    size_t inf_bytes = dfl_unet_plan_bytes(m);
    CHECK(dfl_unet_grads(m) == NULL);
    CHECK_MSG(live_bytes - before == inf_bytes, "%s: inference plan allocated %zu bytes, reports %zu", label,
              live_bytes - before, inf_bytes);
    CHECK_MSG(pi.arena_bytes == inf_bytes, "%s: inference plan measured %zu bytes, allocated %zu", label,
              pi.arena_bytes, inf_bytes);
    float *y_inf = forward(m, &b);
    /* measuring other plans leaves this one as it was */
    dfl_unet_plan_size other;
    CHECK(dfl_unet_plan_measure(m, n + 1, h + 2, w, 1, &other) == DFL_OK && other.arena_bytes > pt.arena_bytes);
    float *y_again = forward(m, &b);
    CHECK_MSG(memcmp(y_inf, y_again, b.ny * sizeof(float)) == 0, "%s: forward differs after measuring", label);
    free(y_again);

    /* the reference is planned for training only */
    before = live_bytes;
    CHECK(dfl_unet_plan(ref, n, h, w) == DFL_OK);
    size_t train_bytes = dfl_unet_plan_bytes(ref);
    CHECK(dfl_unet_grads(ref) != NULL);
    CHECK_MSG(pt.arena_bytes + pt.grads_bytes == train_bytes, "%s: training plan measured %zu bytes, allocated %zu",
              label, pt.arena_bytes + pt.grads_bytes, train_bytes);
    CHECK_MSG(live_bytes - before == train_bytes, "%s: training plan allocated %zu bytes, reports %zu", label,
              live_bytes - before, train_bytes);
    CHECK_MSG(inf_bytes + grad_bytes < train_bytes && inf_bytes < train_bytes - grad_bytes,
              "%s: inference plan %zu bytes, training plan %zu (gradients %zu)", label, inf_bytes, train_bytes,
              grad_bytes);
    float *y_train = forward(ref, &b);
    CHECK_MSG(memcmp(y_inf, y_train, b.ny * sizeof(float)) == 0, "%s: forward differs between the plans", label);
    float *g_ref = gradients(ref, &b);

    /* switching m to a training plan: the same outputs and gradients */
    CHECK(dfl_unet_plan(m, n, h, w) == DFL_OK);
    CHECK(dfl_unet_plan_bytes(m) == train_bytes);
    float *y2 = forward(m, &b);
    CHECK_MSG(memcmp(y2, y_train, b.ny * sizeof(float)) == 0, "%s: forward differs after re-planning", label);
    float *g = gradients(m, &b);
    CHECK_MSG(memcmp(g, g_ref, grad_bytes) == 0, "%s: gradients differ after an inference plan", label);

    /* and back to inference (the gradients, once made, are kept) */
    CHECK(dfl_unet_plan_inference(m, n, h, w) == DFL_OK);
    CHECK(dfl_unet_plan_bytes(m) == inf_bytes + grad_bytes);
    float *y3 = forward(m, &b);
    CHECK_MSG(memcmp(y3, y_train, b.ny * sizeof(float)) == 0, "%s: forward differs after switching back", label);

    printf("%s: inference plan %zu bytes, training plan %zu bytes (%zu of them gradients)\n", label, inf_bytes,
           train_bytes, grad_bytes);
    free(y_inf), free(y_train), free(y2), free(y3), free(g), free(g_ref);
    dfl_unet_destroy(m);
    dfl_unet_destroy(ref);
    io_free(&b);
    CHECK_MSG(live_bytes == 0, "%s: %zu backend bytes still allocated", label, live_bytes);
    dfl_backend_destroy(be);
}

/* dfl_unet_create fails with DFL_EUSAGE and a message containing `key`. */
static void expect_bad(dfl_backend *be, dfl_unet_config uc, const char *key) {
    dfl_clear_error();
    size_t before = live_bytes;
    dfl_unet *m = NULL;
    dfl_status s = dfl_unet_create(be, &uc, &m);
    CHECK_MSG(s == DFL_EUSAGE && m == NULL, "expected a usage error naming %s, got status %d", key, (int)s);
    CHECK_MSG(strstr(dfl_last_error(), key) != NULL, "message '%s' does not name %s", dfl_last_error(), key);
    CHECK(live_bytes == before);
    if (m) dfl_unet_destroy(m);
}

static void check_options(void) {
    dfl_backend *be = counting_backend();
    const dfl_unet_config ok = {.channels = 1, .base = 8, .mult = {1, 2}, .levels = 2, .nres = 1};
    dfl_unet_config c;
    c = ok, c.base = 12;
    expect_bad(be, c, "model.base");
    c = ok, c.base = 0;
    expect_bad(be, c, "model.base");
    c = ok, c.levels = 0;
    expect_bad(be, c, "model.mult");
    c = ok, c.levels = DFL_UNET_MAX_LEVELS + 1;
    expect_bad(be, c, "model.mult");
    c = ok, c.mult[1] = 0;
    expect_bad(be, c, "model.mult");
    c = ok, c.mult[1] = 1 << 28; /* 8 * 2^28 channels: more than an int holds three times */
    expect_bad(be, c, "model.mult");
    c = ok, c.nres = 0;
    expect_bad(be, c, "model.nres");
    c = ok, c.attention = 2;
    expect_bad(be, c, "model.attention");
    c = ok, c.channels = 0;
    expect_bad(be, c, "channels");
    c = ok, c.periodic_x = 3;
    expect_bad(be, c, "model.periodic");

    /* plan sizes: bad ones fail before allocating */
    dfl_unet *m = NULL;
    CHECK(dfl_unet_create(be, &ok, &m) == DFL_OK);
    size_t before = live_bytes;
    dfl_clear_error();
    CHECK(dfl_unet_plan(m, 0, 8, 8) == DFL_EUSAGE);
    dfl_clear_error();
    CHECK(dfl_unet_plan_inference(m, 1 << 16, 1 << 10, 1 << 10) == DFL_EUSAGE);
    CHECK_MSG(strstr(dfl_last_error(), "pixels") != NULL, "message '%s'", dfl_last_error());
    dfl_clear_error();
    dfl_unet_plan_size ps;
    CHECK(dfl_unet_plan_measure(m, 1 << 16, 1 << 10, 1 << 10, 0, &ps) == DFL_EUSAGE);
    dfl_clear_error();
    CHECK(live_bytes == before && dfl_unet_plan_bytes(m) == 0);
    dfl_unet_destroy(m);
    dfl_backend_destroy(be);
}

int main(void) {
    check_options();
    dfl_unet_config a = {
        .channels = 2, .base = 8, .mult = {1, 2}, .levels = 2, .nres = 1, .attention = 1, .periodic_x = 1};
    check_plans("attention+periodic_x", a, 2, 8, 8);
    dfl_unet_config b = {.channels = 3, .base = 16, .mult = {1, 2, 2}, .levels = 3, .nres = 2, .periodic_y = 1};
    check_plans("odd size, nres 2", b, 3, 7, 10);
    dfl_unet_config w = {.channels = 256, .base = 8, .mult = {1, 2}, .levels = 2, .nres = 1};
    check_plans("256 channels", w, 2, 8, 8);
    return dfl_test_finish("model_unet_plans");
}
