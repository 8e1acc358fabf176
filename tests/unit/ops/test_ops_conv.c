/* CPU backend convolutions (oneDNN) against the naive double reference:
 * forward, backward-data and backward-weights (with and without bias) for
 * cin != cout, k = 1 and 3, stride 1 and 2, odd sizes, n > 1 and periodic
 * none / x / y / xy, under the default and both forced activation-layout
 * policies, the direct backward-weights kernel and the transposed-forward
 * backward-data; and each op run twice gives identical bits. */
#include <omp.h>

#include "cpu/cpu_backend_internal.h"
#include "ops_test_util.h"
#include "ref_ops.h"

#define TOL      1e-5
#define TOL_BF16 1e-2 /* inputs rounded to 8 significant bits: ~2^-9 relative each, fp32 sums */

static double tol = TOL;   /* the tolerance of the precision under test */
static int direct_checked; /* shapes that ran the direct backward-weights kernel */

static void check_conv(dfl_backend *be, dfl_conv_desc d, const char *policy) {
    char name[160];
    snprintf(name, sizeof name, "%s n%d %dx%d %d->%d k%d s%d px%d py%d", policy, d.n, d.h, d.w, d.cin, d.cout, d.k,
             d.stride, d.periodic_x, d.periodic_y);
    const int oh = dfl_conv_out_h(&d), ow = dfl_conv_out_w(&d);
    const size_t nx = (size_t)d.n * d.h * d.w * d.cin, ny = (size_t)d.n * oh * ow * d.cout;
    const size_t nw = (size_t)d.cout * d.cin * d.k * d.k;
    const uint64_t seed = (uint64_t)(d.h * 131 + d.w * 17 + d.cin * 7 + d.cout + d.k * 1000 + d.stride * 5000);
    float *x = ops_new_normal(nx, seed, 1.0f, 0.0f), *w = ops_new_normal(nw, seed + 1, 0.3f, 0.0f);
    float *b = ops_new_normal((size_t)d.cout, seed + 2, 1.0f, 0.0f), *dy = ops_new_normal(ny, seed + 3, 1.0f, 0.0f);
    double *xd = ops_to_double(x, nx), *wd = ops_to_double(w, nw), *bd = ops_to_double(b, (size_t)d.cout);
    double *dyd = ops_to_double(dy, ny);
    double *yr = ops_new_doubles(ny), *dxr = ops_new_doubles(nx), *dwr = ops_new_doubles(nw);
    double *dbr = ops_new_doubles((size_t)d.cout), *y0r = ops_new_doubles(ny);
    float *y = ops_new_floats(ny), *y2 = ops_new_floats(ny), *dx = ops_new_floats(nx), *dx2 = ops_new_floats(nx);
    float *dw = ops_new_floats(nw), *dw2 = ops_new_floats(nw), *db = ops_new_floats((size_t)d.cout);
    float *db2 = ops_new_floats((size_t)d.cout);
    char what[220];

    ref_conv2d_forward(&d, xd, wd, bd, yr);
    ref_conv2d_forward(&d, xd, wd, NULL, y0r);
    ref_conv2d_backward_data(&d, dyd, wd, dxr);
    ref_conv2d_backward_weights(&d, xd, dyd, dwr, dbr);

    be->conv2d_forward(be, &d, x, w, b, y);
    be->conv2d_forward(be, &d, x, w, b, y2);
    snprintf(what, sizeof what, "forward %s", name);
    OPS_CHECK_REL(what, y, yr, ny, tol);
    OPS_CHECK_BITS(what, y, y2, ny);
    be->conv2d_forward(be, &d, x, w, NULL, y);
    snprintf(what, sizeof what, "forward (no bias) %s", name);
    OPS_CHECK_REL(what, y, y0r, ny, tol);

    be->conv2d_backward_data(be, &d, dy, w, dx);
    be->conv2d_backward_data(be, &d, dy, w, dx2);
    snprintf(what, sizeof what, "backward-data %s", name);
    OPS_CHECK_REL(what, dx, dxr, nx, tol);
    OPS_CHECK_BITS(what, dx, dx2, nx);

    be->conv2d_backward_weights(be, &d, x, dy, dw, db);
    be->conv2d_backward_weights(be, &d, x, dy, dw2, db2);
    snprintf(what, sizeof what, "backward-weights %s", name);
    OPS_CHECK_REL(what, dw, dwr, nw, tol);
    OPS_CHECK_BITS(what, dw, dw2, nw);
    if (!strcmp(dfl_cpu_conv_impl_name(be, &d, DFL_CPU_CONV_BWD_WEIGHTS), "direct:avx2")) {
        /* the direct kernel's result must not depend on the thread count */
        const int threads = omp_get_max_threads();
        omp_set_num_threads(1);
        be->conv2d_backward_weights(be, &d, x, dy, dw2, db2);
        omp_set_num_threads(threads);
        snprintf(what, sizeof what, "backward-weights (direct, 1 thread) %s", name);
        OPS_CHECK_BITS(what, dw, dw2, nw);
        OPS_CHECK_BITS(what, db, db2, (size_t)d.cout);
        ++direct_checked;
    }
    snprintf(what, sizeof what, "backward-bias %s", name);
    OPS_CHECK_REL(what, db, dbr, (size_t)d.cout, tol);
    OPS_CHECK_BITS(what, db, db2, (size_t)d.cout);
    memset(dw2, 0, nw * sizeof(float));
    be->conv2d_backward_weights(be, &d, x, dy, dw2, NULL);
    snprintf(what, sizeof what, "backward-weights (db NULL) %s", name);
    OPS_CHECK_REL(what, dw2, dwr, nw, tol);

    free(x), free(w), free(b), free(dy), free(xd), free(wd), free(bd), free(dyd), free(yr), free(dxr), free(dwr);
    free(dbr), free(y0r), free(y), free(y2), free(dx), free(dx2), free(dw), free(dw2), free(db), free(db2);
}

int main(void) {
    dfl_backend *be = dfl_backend_cpu_create(0);
    CHECK(be != NULL);
    /* n, h, w, cin, cout, k, stride, periodic_x, periodic_y */
    const dfl_conv_desc shapes[] = {
        {2, 7, 9, 3, 5, 3, 1, 0, 0},
        {2, 7, 9, 3, 5, 3, 1, 1, 0},
        {2, 7, 9, 3, 5, 3, 1, 0, 1},
        {2, 7, 9, 3, 5, 3, 1, 1, 1},
        {2, 8, 6, 4, 6, 3, 2, 0, 0},
        {2, 8, 6, 4, 6, 3, 2, 1, 1},
        {1, 7, 5, 5, 3, 3, 2, 1, 0},
        {1, 7, 5, 5, 3, 3, 2, 0, 1},
        {3, 5, 6, 6, 4, 1, 1, 0, 0},
        {2, 5, 7, 6, 4, 1, 1, 1, 1},
        {2, 9, 7, 4, 8, 1, 2, 0, 0},
        {2, 12, 10, 16, 16, 3, 1, 0, 1},
        {2, 16, 16, 32, 32, 3, 1, 1, 1},
        {2, 16, 16, 32, 32, 3, 2, 0, 0},
        {2, 8, 8, 64, 64, 3, 1, 0, 0},
        {2, 8, 8, 96, 64, 3, 1, 1, 0},
        {2, 8, 8, 96, 64, 1, 1, 0, 0},
        {2, 16, 16, 2, 32, 3, 1, 0, 0},
        {2, 16, 16, 32, 1, 3, 1, 1, 1},
        {1, 1, 3, 2, 3, 3, 1, 1, 1},
        {1, 2, 2, 3, 2, 3, 2, 1, 1},
        /* output rows >= 32 and cout % 16 == 0: the direct backward-weights kernel */
        {3, 5, 33, 6, 16, 3, 1, 0, 0},
        {2, 4, 40, 13, 32, 3, 1, 1, 1},
        {2, 7, 32, 32, 16, 3, 1, 0, 1},
        {1, 3, 300, 8, 16, 3, 1, 1, 0},
        {2, 32, 64, 32, 32, 3, 1, 0, 0},
        {2, 6, 66, 8, 16, 3, 2, 1, 1},
        {2, 5, 65, 6, 16, 3, 2, 0, 0},
        {2, 3, 40, 10, 32, 1, 1, 0, 0},
        {1, 4, 64, 7, 16, 1, 2, 0, 0},
    };
    const int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    const dfl_cpu_conv_layout layouts[3] = {DFL_CPU_CONV_AUTO, DFL_CPU_CONV_BLOCKED, DFL_CPU_CONV_NHWC};
    const char *names[3] = {"auto", "blocked", "nhwc"};
    for (int policy = 0; policy < 3; ++policy) {
        for (int dir = 0; dir < DFL_CPU_CONV_NDIR; ++dir) dfl_cpu_set_conv_layout(be, dir, layouts[policy]);
        for (int s = 0; s < nshapes; ++s) check_conv(be, shapes[s], names[policy]);
    }
    /* the direct backward-weights kernel, which AUTO picks on AVX2 CPUs only */
    direct_checked = 0;
    for (int dir = 0; dir < DFL_CPU_CONV_NDIR; ++dir) dfl_cpu_set_conv_layout(be, dir, DFL_CPU_CONV_NHWC);
    dfl_cpu_set_conv_layout(be, DFL_CPU_CONV_BWD_WEIGHTS, DFL_CPU_CONV_DIRECT);
    for (int s = 0; s < nshapes; ++s) check_conv(be, shapes[s], "direct");
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        CHECK_MSG(direct_checked == 9, "direct backward-weights kernel ran on %d shapes, expected 9", direct_checked);
#endif
    /* backward-data as a forward convolution with flipped, transposed
     * weights (AUTO's choice on AVX-512 CPUs), forced here so that it is
     * checked on every CPU */
    for (int dir = 0; dir < DFL_CPU_CONV_NDIR; ++dir) dfl_cpu_set_conv_layout(be, dir, DFL_CPU_CONV_NHWC);
    dfl_cpu_set_conv_layout(be, DFL_CPU_CONV_BWD_DATA, DFL_CPU_CONV_TRANSPOSED);
    int transposed_checked = 0;
    for (int s = 0; s < nshapes; ++s) {
        check_conv(be, shapes[s], "transposed");
        transposed_checked += !strncmp(dfl_cpu_conv_impl_name(be, &shapes[s], DFL_CPU_CONV_BWD_DATA), "transposed-fwd",
                                       strlen("transposed-fwd"));
    }
    int stride1_k3 = 0;
    for (int s = 0; s < nshapes; ++s) stride1_k3 += shapes[s].stride == 1 && shapes[s].k == 3;
    CHECK_MSG(transposed_checked == stride1_k3 && stride1_k3 > 0,
              "transposed backward-data ran on %d shapes, expected the %d stride-1 3x3 ones", transposed_checked,
              stride1_k3);
    /* precision bf16 (where the CPU has AVX512_BF16 or AMX): the same shapes
     * and policies within bf16's rounding, still the same bits run to run;
     * elsewhere asking for it is a usage error */
    if (dfl_backend_cpu_set_precision(be, DFL_PRECISION_BF16, "test") == DFL_OK) {
        tol = TOL_BF16;
        const char *impl = dfl_cpu_conv_impl_name(be, &shapes[12], DFL_CPU_CONV_FWD);
        CHECK_MSG(strstr(impl, "bf16") != NULL, "precision bf16: forward runs %s, not a bf16 kernel", impl);
        /* AUTO and NHWC only: the default rule never picks the blocked layout
         * on the AVX-512 CPUs bf16 needs, and oneDNN 2.6 reads out of bounds
         * while creating an AMX bf16 blocked-layout convolution with 3 input
         * channels (a SEGV inside dnnl_primitive_create under ASan's
         * allocator; unnoticed without it) */
        const int bf16_policies[2] = {0, 2};
        for (int q = 0; q < 2; ++q) {
            const int policy = bf16_policies[q];
            for (int dir = 0; dir < DFL_CPU_CONV_NDIR; ++dir) dfl_cpu_set_conv_layout(be, dir, layouts[policy]);
            for (int s = 0; s < nshapes; ++s) check_conv(be, shapes[s], policy == 0 ? "bf16 auto" : "bf16 nhwc");
        }
        CHECK(dfl_backend_cpu_set_precision(be, DFL_PRECISION_FP32, "test") == DFL_OK);
        tol = TOL;
        /* fp32 again after bf16: the cache was dropped, results exact again */
        for (int dir = 0; dir < DFL_CPU_CONV_NDIR; ++dir) dfl_cpu_set_conv_layout(be, dir, DFL_CPU_CONV_AUTO);
        check_conv(be, shapes[12], "fp32 after bf16");
        printf("ops_conv: bf16 checked (oneDNN ISA %s)\n", dfl_cpu_isa_name());
    } else {
        printf("ops_conv: bf16 not checked: %s\n", dfl_last_error());
    }
    /* the rule of auto: bf16 on AMX, and on AVX512_BF16 on an AMD CPU; fp32 elsewhere */
    CHECK(dfl_cpu_auto_precision(1, 1, 0) == DFL_PRECISION_BF16);
    CHECK(dfl_cpu_auto_precision(1, 1, 1) == DFL_PRECISION_BF16);
    CHECK(dfl_cpu_auto_precision(0, 1, 1) == DFL_PRECISION_BF16); /* AMD EPYC Zen 4 */
    CHECK(dfl_cpu_auto_precision(0, 1, 0) == DFL_PRECISION_FP32); /* a Xeon with AVX512_BF16, no AMX */
    CHECK(dfl_cpu_auto_precision(0, 0, 1) == DFL_PRECISION_FP32); /* AVX2 or AVX-512 without bf16 */
    CHECK(dfl_cpu_auto_precision(0, 0, 0) == DFL_PRECISION_FP32);
    /* auto on this CPU: the rule applied to what it reads here, the same on
     * every call (a resumed or a compared run trains in the same precision),
     * and the note names the ISA */
    const char *isa = dfl_cpu_isa_name();
    const int amx = strcmp(isa, "avx512_core_amx") == 0, avx512_bf16 = amx || !strcmp(isa, "avx512_core_bf16");
    const dfl_precision want = dfl_cpu_auto_precision(amx, avx512_bf16, dfl_cpu_vendor_amd());
    for (int again = 0; again < 3; ++again) {
        CHECK(dfl_backend_cpu_set_precision(be, DFL_PRECISION_AUTO, "test") == DFL_OK);
        CHECK_MSG(be->precision == want, "precision auto on %s resolved to %s, not %s", isa,
                  dfl_precision_name(be->precision), dfl_precision_name(want));
    }
    char note[160];
    dfl_cpu_auto_precision_note(note, sizeof note);
    CHECK_MSG(strncmp(note, isa, strlen(isa)) == 0, "auto precision note '%s' does not start with %s", note, isa);
    printf("ops_conv: precision auto resolved to %s on %s\n", dfl_precision_name(be->precision), note);
    if (want == DFL_PRECISION_BF16) {
        const char *impl = dfl_cpu_conv_impl_name(be, &shapes[12], DFL_CPU_CONV_FWD);
        CHECK_MSG(strstr(impl, "bf16") != NULL, "precision auto resolved to bf16: forward runs %s, not a bf16 kernel",
                  impl);
    }
    CHECK(dfl_backend_cpu_set_precision(be, DFL_PRECISION_FP32, "test") == DFL_OK);
    dfl_backend_destroy(be);
    return dfl_test_finish("ops_conv");
}
