/* CPU backend group norm (with and without the fused SiLU) against the
 * naive double reference: y, mean, rstd, dx, dgamma, dbeta; inputs with a
 * large offset check the statistics' precision; shapes span one and many
 * pixel chunks. Repeated runs and 1 vs 2 threads give identical bits. */
#include <math.h>
#include <omp.h>

#include "ops_test_util.h"
#include "ref_ops.h"

#define TOL 1e-5

typedef struct {
    float *y, *mean, *rstd, *dx, *dgamma, *dbeta;
} gn_out;

static void gn_alloc(gn_out *o, int n, int hw, int c, int groups) {
    const size_t ne = (size_t)n * hw * c;
    o->y = ops_new_floats(ne);
    o->dx = ops_new_floats(ne);
    o->mean = ops_new_floats((size_t)n * groups);
    o->rstd = ops_new_floats((size_t)n * groups);
    o->dgamma = ops_new_floats((size_t)c);
    o->dbeta = ops_new_floats((size_t)c);
}

static void gn_free(gn_out *o) {
    free(o->y), free(o->dx), free(o->mean), free(o->rstd), free(o->dgamma), free(o->dbeta);
}

static void gn_run(dfl_backend *be, int n, int hw, int c, int groups, float eps, const float *x, const float *gamma,
                   const float *beta, const float *dy, int silu, gn_out *o) {
    be->group_norm_forward(be, n, hw, c, groups, eps, x, gamma, beta, o->y, o->mean, o->rstd, silu);
    be->group_norm_backward(be, n, hw, c, groups, x, gamma, beta, o->mean, o->rstd, dy, NULL, o->dx, o->dgamma,
                            o->dbeta, silu);
}

static int gn_same_bits(const gn_out *a, const gn_out *b, int n, int hw, int c, int groups) {
    const size_t ne = (size_t)n * hw * c;
    return !memcmp(a->y, b->y, ne * 4) && !memcmp(a->dx, b->dx, ne * 4) &&
           !memcmp(a->mean, b->mean, (size_t)n * groups * 4) && !memcmp(a->rstd, b->rstd, (size_t)n * groups * 4) &&
           !memcmp(a->dgamma, b->dgamma, (size_t)c * 4) && !memcmp(a->dbeta, b->dbeta, (size_t)c * 4);
}

static void check_gn(dfl_backend *be, int n, int hw, int c, int groups, float offset, int silu) {
    char what[160];
    const float eps = 1e-5f;
    const size_t ne = (size_t)n * hw * c;
    const uint64_t seed = (uint64_t)(n * 7 + hw * 13 + c + silu);
    float *x = ops_new_normal(ne, seed, 1.5f, offset), *dy = ops_new_normal(ne, seed + 1, 1.0f, 0.0f);
    float *gamma = ops_new_normal((size_t)c, seed + 2, 0.5f, 1.0f),
          *beta = ops_new_normal((size_t)c, seed + 3, 0.5f, 0.0f);
    double *xd = ops_to_double(x, ne), *dyd = ops_to_double(dy, ne);
    double *gd = ops_to_double(gamma, (size_t)c), *bd = ops_to_double(beta, (size_t)c);
    double *yr = ops_new_doubles(ne), *dxr = ops_new_doubles(ne), *mr = ops_new_doubles((size_t)n * groups);
    double *rr = ops_new_doubles((size_t)n * groups), *dgr = ops_new_doubles((size_t)c),
           *dbr = ops_new_doubles((size_t)c);
    ref_group_norm_forward(n, hw, c, groups, eps, xd, gd, bd, yr, mr, rr, silu);
    ref_group_norm_backward(n, hw, c, groups, eps, xd, gd, bd, dyd, dxr, dgr, dbr, silu);

    gn_out a, b, t1;
    gn_alloc(&a, n, hw, c, groups);
    gn_alloc(&b, n, hw, c, groups);
    gn_alloc(&t1, n, hw, c, groups);
    gn_run(be, n, hw, c, groups, eps, x, gamma, beta, dy, silu, &a);
    gn_run(be, n, hw, c, groups, eps, x, gamma, beta, dy, silu, &b);
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    gn_run(be, n, hw, c, groups, eps, x, gamma, beta, dy, silu, &t1);
    omp_set_num_threads(threads);

    const char *tag = silu ? "gn+silu" : "gn";
#define GN_CHECK(field, ref, count)                                                                                    \
    snprintf(what, sizeof what, "%s %s n%d hw%d c%d g%d offset %g", tag, #field, n, hw, c, groups, offset);            \
    OPS_CHECK_REL(what, a.field, ref, count, TOL)
    GN_CHECK(y, yr, ne);
    GN_CHECK(mean, mr, (size_t)n * groups);
    GN_CHECK(rstd, rr, (size_t)n * groups);
    GN_CHECK(dx, dxr, ne);
    GN_CHECK(dgamma, dgr, (size_t)c);
    GN_CHECK(dbeta, dbr, (size_t)c);
#undef GN_CHECK
    snprintf(what, sizeof what, "%s n%d hw%d c%d", tag, n, hw, c);
    CHECK_MSG(gn_same_bits(&a, &b, n, hw, c, groups), "%s: results differ between runs", what);
    CHECK_MSG(gn_same_bits(&a, &t1, n, hw, c, groups), "%s: results differ between 1 and %d threads", what, threads);

    /* dx_add: the same dx plus the residual gradient, added as dx is written
     * (float sum of the two; dx may alias dy as in the model) */
    float *res = ops_new_normal(ne, seed + 4, 1.0f, 0.0f), *dx_res = ops_new_floats(ne);
    memcpy(dx_res, dy, ne * sizeof(float));
    be->group_norm_backward(be, n, hw, c, groups, x, gamma, beta, a.mean, a.rstd, dx_res, res, dx_res, t1.dgamma,
                            t1.dbeta, silu);
    double worst = 0.0, scale = 0.0;
    for (size_t e = 0; e < ne; ++e) {
        const double want = (double)a.dx[e] + (double)res[e];
        worst = fmax(worst, fabs((double)dx_res[e] - want));
        scale = fmax(scale, fabs(want));
    }
    CHECK_MSG(worst <= 1e-6 * scale, "%s: dx with dx_add differs from dx + dx_add by %g (max %g)", what, worst, scale);
    CHECK_MSG(!memcmp(t1.dgamma, a.dgamma, (size_t)c * 4) && !memcmp(t1.dbeta, a.dbeta, (size_t)c * 4),
              "%s: dgamma/dbeta change with dx_add", what);
    free(res), free(dx_res);

    gn_free(&a), gn_free(&b), gn_free(&t1);
    free(x), free(dy), free(gamma), free(beta), free(xd), free(dyd), free(gd), free(bd);
    free(yr), free(dxr), free(mr), free(rr), free(dgr), free(dbr);
}

int main(void) {
    dfl_backend *be = dfl_backend_cpu_create(0);
    for (int silu = 0; silu < 2; ++silu) {
        check_gn(be, 2, 35, 16, 8, 0.0f, silu); /* odd pixel count, 2 channels a group */
        check_gn(be, 3, 64, 32, 8, 0.0f, silu);
        check_gn(be, 2, 400, 32, 8, 0.0f, silu); /* several pixel chunks */
        check_gn(be, 2, 300, 64, 8, 5.0f, silu); /* large mean: E[x^2] - mean^2 precision */
        check_gn(be, 1, 49, 24, 4, -3.0f, silu);
        check_gn(be, 2, 16, 8, 8, 0.0f, silu); /* one channel a group */
    }
    dfl_backend_destroy(be);
    return dfl_test_finish("ops_group_norm");
}
