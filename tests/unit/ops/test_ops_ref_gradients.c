/* The naive references' backward passes against central finite
 * differences in double precision (docs/design.md, "Testing"), over every element of
 * small inputs: with L = sum(r * f(inputs)) for a fixed random r, the
 * reference backward given dy = r must match (L(p + h) - L(p - h)) / 2h for
 * every input element p. This validates the references the backend is
 * compared with in the other ops tests. */
#include "ops_test_util.h"
#include "ref_ops.h"

#define FD_STEP 1e-5
#define FD_TOL  1e-7 /* normalised by max |gradient| */

typedef double (*loss_fn)(void *ctx);

/* Compares analytic[0..n) with central differences of loss over p[0..n). */
static void fd_check(const char *what, double *p, size_t n, const double *analytic, loss_fn loss, void *ctx) {
    double *num = ops_new_doubles(n);
    for (size_t i = 0; i < n; ++i) {
        const double keep = p[i];
        p[i] = keep + FD_STEP;
        const double lp = loss(ctx);
        p[i] = keep - FD_STEP;
        const double lm = loss(ctx);
        p[i] = keep;
        num[i] = (lp - lm) / (2.0 * FD_STEP);
    }
    const double e = ops_rel_err_d(analytic, num, n);
    CHECK_MSG(e <= FD_TOL, "%s: analytic vs finite-difference error %.3g", what, e);
    free(num);
}

static double *new_normal_d(size_t n, uint64_t seed, double scale, double offset) {
    double *x = malloc((n ? n : 1) * sizeof(double));
    for (size_t i = 0; i < n; ++i) x[i] = offset + scale * dfl_rng_normal(seed, 3, i);
    return x;
}

static double dot(const double *a, const double *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
}

/* ---- convolution ---- */
typedef struct {
    dfl_conv_desc d;
    double *x, *w, *b, *r, *y;
    size_t ny;
} conv_ctx;

static double conv_loss(void *p) {
    conv_ctx *c = p;
    ref_conv2d_forward(&c->d, c->x, c->w, c->b, c->y);
    return dot(c->r, c->y, c->ny);
}

static void check_conv(dfl_conv_desc d) {
    char what[128];
    conv_ctx c = {.d = d};
    const size_t nx = (size_t)d.n * d.h * d.w * d.cin, nw = (size_t)d.cout * d.cin * d.k * d.k;
    c.ny = (size_t)d.n * dfl_conv_out_h(&d) * dfl_conv_out_w(&d) * d.cout;
    c.x = new_normal_d(nx, 1, 1.0, 0.0), c.w = new_normal_d(nw, 2, 0.5, 0.0),
    c.b = new_normal_d((size_t)d.cout, 3, 1.0, 0.0);
    c.r = new_normal_d(c.ny, 4, 1.0, 0.0), c.y = ops_new_doubles(c.ny);
    double *dx = ops_new_doubles(nx), *dw = ops_new_doubles(nw), *db = ops_new_doubles((size_t)d.cout);
    ref_conv2d_backward_data(&d, c.r, c.w, dx);
    ref_conv2d_backward_weights(&d, c.x, c.r, dw, db);
    snprintf(what, sizeof what, "conv %dx%d %d->%d k%d s%d px%d py%d", d.h, d.w, d.cin, d.cout, d.k, d.stride,
             d.periodic_x, d.periodic_y);
    fd_check(what, c.x, nx, dx, conv_loss, &c);
    fd_check(what, c.w, nw, dw, conv_loss, &c);
    fd_check(what, c.b, (size_t)d.cout, db, conv_loss, &c);
    free(c.x), free(c.w), free(c.b), free(c.r), free(c.y), free(dx), free(dw), free(db);
}

/* ---- group norm ---- */
typedef struct {
    int n, hw, c, groups, silu;
    double *x, *gamma, *beta, *r, *y;
} gn_ctx;

static double gn_loss(void *p) {
    gn_ctx *g = p;
    ref_group_norm_forward(g->n, g->hw, g->c, g->groups, 1e-5, g->x, g->gamma, g->beta, g->y, NULL, NULL, g->silu);
    return dot(g->r, g->y, (size_t)g->n * g->hw * g->c);
}

static void check_gn(int n, int hw, int c, int groups, int silu) {
    char what[96];
    gn_ctx g = {n, hw, c, groups, silu, NULL, NULL, NULL, NULL, NULL};
    const size_t ne = (size_t)n * hw * c;
    g.x = new_normal_d(ne, 5, 1.0, 0.3), g.gamma = new_normal_d((size_t)c, 6, 0.5, 1.0);
    g.beta = new_normal_d((size_t)c, 7, 0.5, 0.0), g.r = new_normal_d(ne, 8, 1.0, 0.0), g.y = ops_new_doubles(ne);
    double *dx = ops_new_doubles(ne), *dgamma = ops_new_doubles((size_t)c), *dbeta = ops_new_doubles((size_t)c);
    ref_group_norm_backward(n, hw, c, groups, 1e-5, g.x, g.gamma, g.beta, g.r, dx, dgamma, dbeta, silu);
    snprintf(what, sizeof what, "group_norm n%d hw%d c%d g%d silu%d", n, hw, c, groups, silu);
    fd_check(what, g.x, ne, dx, gn_loss, &g);
    fd_check(what, g.gamma, (size_t)c, dgamma, gn_loss, &g);
    fd_check(what, g.beta, (size_t)c, dbeta, gn_loss, &g);
    free(g.x), free(g.gamma), free(g.beta), free(g.r), free(g.y), free(dx), free(dgamma), free(dbeta);
}

/* ---- linear ---- */
typedef struct {
    int rows, in, out;
    double *x, *w, *b, *r, *y;
} lin_ctx;

static double lin_loss(void *p) {
    lin_ctx *l = p;
    ref_linear_forward(l->rows, l->in, l->out, l->x, l->w, l->b, l->y);
    return dot(l->r, l->y, (size_t)l->rows * l->out);
}

static void check_linear(int rows, int in, int out) {
    lin_ctx l = {rows, in, out, NULL, NULL, NULL, NULL, NULL};
    l.x = new_normal_d((size_t)rows * in, 9, 1.0, 0.0), l.w = new_normal_d((size_t)out * in, 10, 1.0, 0.0);
    l.b = new_normal_d((size_t)out, 11, 1.0, 0.0), l.r = new_normal_d((size_t)rows * out, 12, 1.0, 0.0);
    l.y = ops_new_doubles((size_t)rows * out);
    double *dx = ops_new_doubles((size_t)rows * in), *dw = ops_new_doubles((size_t)out * in),
           *db = ops_new_doubles((size_t)out);
    ref_linear_backward(rows, in, out, l.x, l.w, l.r, dx, dw, db);
    fd_check("linear x", l.x, (size_t)rows * in, dx, lin_loss, &l);
    fd_check("linear w", l.w, (size_t)out * in, dw, lin_loss, &l);
    fd_check("linear b", l.b, (size_t)out, db, lin_loss, &l);
    free(l.x), free(l.w), free(l.b), free(l.r), free(l.y), free(dx), free(dw), free(db);
}

/* ---- attention ---- */
typedef struct {
    int n, hw, c;
    double *qkv, *r, *out, *probs;
} att_ctx;

static double att_loss(void *p) {
    att_ctx *a = p;
    ref_attention_forward(a->n, a->hw, a->c, a->qkv, a->out, a->probs);
    return dot(a->r, a->out, (size_t)a->n * a->hw * a->c);
}

static void check_attention(int n, int hw, int c) {
    att_ctx a = {n, hw, c, NULL, NULL, NULL, NULL};
    const size_t nq = (size_t)n * hw * 3 * c;
    a.qkv = new_normal_d(nq, 13, 1.0, 0.0), a.r = new_normal_d((size_t)n * hw * c, 14, 1.0, 0.0);
    a.out = ops_new_doubles((size_t)n * hw * c), a.probs = ops_new_doubles((size_t)n * hw * hw);
    double *dq = ops_new_doubles(nq);
    ref_attention_backward(n, hw, c, a.qkv, a.r, dq);
    fd_check("attention qkv", a.qkv, nq, dq, att_loss, &a);
    free(a.qkv), free(a.r), free(a.out), free(a.probs), free(dq);
}

/* ---- upsample, channel bias, silu ---- */
typedef struct {
    int n, h, w, c;
    double *x, *r, *y;
} up_ctx;

static double up_loss(void *p) {
    up_ctx *u = p;
    ref_upsample_forward(u->n, u->h, u->w, u->c, u->x, u->y);
    return dot(u->r, u->y, (size_t)4 * u->n * u->h * u->w * u->c);
}

typedef struct {
    int n, hw, c;
    double *bias, *r, *y;
} cb_ctx;

static double cb_loss(void *p) {
    cb_ctx *b = p;
    const size_t ne = (size_t)b->n * b->hw * b->c;
    memset(b->y, 0, ne * sizeof(double));
    ref_add_channel_bias(b->n, b->hw, b->c, b->y, b->bias);
    return dot(b->r, b->y, ne);
}

typedef struct {
    double *x, *r;
    size_t n;
} silu_ctx;

static double silu_loss(void *p) {
    silu_ctx *s = p;
    double l = 0.0;
    for (size_t i = 0; i < s->n; ++i) l += s->r[i] * ref_silu(s->x[i]);
    return l;
}

static void check_small_ops(void) {
    up_ctx u = {2, 3, 2, 3, NULL, NULL, NULL};
    const size_t nx = (size_t)u.n * u.h * u.w * u.c;
    u.x = new_normal_d(nx, 15, 1.0, 0.0), u.r = new_normal_d(4 * nx, 16, 1.0, 0.0), u.y = ops_new_doubles(4 * nx);
    double *dx = ops_new_doubles(nx);
    ref_upsample_backward(u.n, u.h, u.w, u.c, u.r, dx);
    fd_check("upsample", u.x, nx, dx, up_loss, &u);
    free(u.x), free(u.r), free(u.y), free(dx);

    cb_ctx b = {2, 5, 3, NULL, NULL, NULL};
    const size_t ne = (size_t)b.n * b.hw * b.c;
    b.bias = new_normal_d((size_t)b.n * b.c, 17, 1.0, 0.0), b.r = new_normal_d(ne, 18, 1.0, 0.0),
    b.y = ops_new_doubles(ne);
    double *db = ops_new_doubles((size_t)b.n * b.c);
    ref_channel_bias_backward(b.n, b.hw, b.c, b.r, db);
    fd_check("channel bias", b.bias, (size_t)b.n * b.c, db, cb_loss, &b);
    free(b.bias), free(b.r), free(b.y), free(db);

    silu_ctx s = {NULL, NULL, 64};
    s.x = new_normal_d(s.n, 19, 4.0, 0.0), s.r = new_normal_d(s.n, 20, 1.0, 0.0);
    double *ds = ops_new_doubles(s.n);
    for (size_t i = 0; i < s.n; ++i) ds[i] = s.r[i] * ref_silu_grad(s.x[i]);
    fd_check("silu", s.x, s.n, ds, silu_loss, &s);
    free(s.x), free(s.r), free(ds);
}

int main(void) {
    /* n, h, w, cin, cout, k, stride, periodic_x, periodic_y */
    const dfl_conv_desc convs[] = {
        {2, 5, 4, 2, 3, 3, 1, 0, 0}, {2, 5, 4, 2, 3, 3, 1, 1, 0}, {1, 5, 4, 2, 3, 3, 1, 0, 1},
        {1, 5, 4, 2, 3, 3, 1, 1, 1}, {2, 6, 5, 3, 2, 3, 2, 0, 0}, {1, 6, 5, 3, 2, 3, 2, 1, 1},
        {1, 5, 7, 2, 2, 3, 2, 0, 1}, {2, 4, 3, 3, 2, 1, 1, 0, 0}, {1, 5, 5, 2, 3, 1, 2, 1, 1},
    };
    for (size_t i = 0; i < sizeof convs / sizeof convs[0]; ++i) check_conv(convs[i]);
    check_gn(2, 6, 8, 4, 0);
    check_gn(2, 6, 8, 4, 1);
    check_gn(1, 5, 6, 2, 1);
    check_linear(3, 4, 5);
    check_attention(2, 5, 3);
    check_attention(1, 16, 4);
    check_small_ops();
    return dfl_test_finish("ops_ref_gradients");
}
