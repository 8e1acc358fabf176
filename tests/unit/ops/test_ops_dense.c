/* CPU backend linear layers and single-head attention against the naive
 * double reference (forward, backward, saved probabilities), plus bitwise
 * repeatability. */
#include "ops_test_util.h"
#include "ref_ops.h"

#define TOL 1e-5

static void check_linear(dfl_backend *be, int rows, int in, int out, int with_bias) {
    char what[128];
    const size_t nx = (size_t)rows * in, ny = (size_t)rows * out, nw = (size_t)out * in;
    const uint64_t seed = (uint64_t)(rows * 3 + in * 5 + out * 7);
    float *x = ops_new_normal(nx, seed, 1.0f, 0.0f), *w = ops_new_normal(nw, seed + 1, 0.2f, 0.0f);
    float *b = ops_new_normal((size_t)out, seed + 2, 1.0f, 0.0f), *dy = ops_new_normal(ny, seed + 3, 1.0f, 0.0f);
    double *xd = ops_to_double(x, nx), *wd = ops_to_double(w, nw), *bd = ops_to_double(b, (size_t)out);
    double *dyd = ops_to_double(dy, ny);
    double *yr = ops_new_doubles(ny), *dxr = ops_new_doubles(nx), *dwr = ops_new_doubles(nw),
           *dbr = ops_new_doubles((size_t)out);
    float *y = ops_new_floats(ny), *y2 = ops_new_floats(ny), *dx = ops_new_floats(nx), *dw = ops_new_floats(nw);
    float *dw2 = ops_new_floats(nw), *db = ops_new_floats((size_t)out);

    ref_linear_forward(rows, in, out, xd, wd, with_bias ? bd : NULL, yr);
    ref_linear_backward(rows, in, out, xd, wd, dyd, dxr, dwr, dbr);
    be->linear_forward(be, rows, in, out, x, w, with_bias ? b : NULL, y);
    be->linear_forward(be, rows, in, out, x, w, with_bias ? b : NULL, y2);
    be->linear_backward(be, rows, in, out, x, w, dy, dx, dw, db);
    snprintf(what, sizeof what, "linear %dx%d->%d bias %d", rows, in, out, with_bias);
    OPS_CHECK_REL(what, y, yr, ny, TOL);
    OPS_CHECK_BITS(what, y, y2, ny);
    OPS_CHECK_REL(what, dx, dxr, nx, TOL);
    OPS_CHECK_REL(what, dw, dwr, nw, TOL);
    OPS_CHECK_REL(what, db, dbr, (size_t)out, TOL);
    be->linear_backward(be, rows, in, out, x, w, dy, NULL, dw2, NULL); /* dx, db optional */
    OPS_CHECK_BITS(what, dw, dw2, nw);

    free(x), free(w), free(b), free(dy), free(xd), free(wd), free(bd), free(dyd), free(yr), free(dxr);
    free(dwr), free(dbr), free(y), free(y2), free(dx), free(dw), free(dw2), free(db);
}

static void check_attention(dfl_backend *be, int n, int hw, int c) {
    char what[128];
    const size_t nqkv = (size_t)n * hw * 3 * c, no = (size_t)n * hw * c, np = (size_t)n * hw * hw;
    const uint64_t seed = (uint64_t)(n * 11 + hw * 3 + c);
    float *qkv = ops_new_normal(nqkv, seed, 1.0f, 0.0f), *dout = ops_new_normal(no, seed + 1, 1.0f, 0.0f);
    double *qd = ops_to_double(qkv, nqkv), *dod = ops_to_double(dout, no);
    double *outr = ops_new_doubles(no), *pr = ops_new_doubles(np), *dqr = ops_new_doubles(nqkv);
    float *out = ops_new_floats(no), *p = ops_new_floats(np), *dq = ops_new_floats(nqkv), *dq2 = ops_new_floats(nqkv);
    float *out2 = ops_new_floats(no), *p2 = ops_new_floats(np);

    ref_attention_forward(n, hw, c, qd, outr, pr);
    ref_attention_backward(n, hw, c, qd, dod, dqr);
    be->attention_forward(be, n, hw, c, qkv, out, p);
    be->attention_forward(be, n, hw, c, qkv, out2, p2);
    be->attention_backward(be, n, hw, c, qkv, p, dout, dq);
    be->attention_backward(be, n, hw, c, qkv, p, dout, dq2);
    snprintf(what, sizeof what, "attention n%d hw%d c%d out", n, hw, c);
    OPS_CHECK_REL(what, out, outr, no, TOL);
    OPS_CHECK_BITS(what, out, out2, no);
    snprintf(what, sizeof what, "attention n%d hw%d c%d probs", n, hw, c);
    OPS_CHECK_REL(what, p, pr, np, TOL);
    OPS_CHECK_BITS(what, p, p2, np);
    snprintf(what, sizeof what, "attention n%d hw%d c%d dqkv", n, hw, c);
    OPS_CHECK_REL(what, dq, dqr, nqkv, TOL);
    OPS_CHECK_BITS(what, dq, dq2, nqkv);

    free(qkv), free(dout), free(qd), free(dod), free(outr), free(pr), free(dqr), free(out), free(p), free(dq);
    free(dq2), free(out2), free(p2);
}

int main(void) {
    dfl_backend *be = dfl_backend_cpu_create(0);
    check_linear(be, 5, 7, 3, 1);
    check_linear(be, 16, 32, 128, 1);
    check_linear(be, 16, 128, 128, 0);
    check_linear(be, 1, 9, 4, 1);
    check_attention(be, 2, 16, 8);
    check_attention(be, 1, 16, 32);
    check_attention(be, 2, 64, 64);
    dfl_backend_destroy(be);
    return dfl_test_finish("ops_dense");
}
