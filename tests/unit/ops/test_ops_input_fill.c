/* The CPU backend's pyramid input fill (model.input_fill,
 * kernels/shared/input_fill.h) against a double reference written
 * separately (explicit levels, bilinear weights from the cell-centred
 * coordinate), and the properties a fill must have: observed entries and
 * the values | mask channels come back exactly, a constant field is filled
 * with its constant, a full mask is the identity, an empty one gives zeros,
 * and the result does not depend on the thread count. */
#include <omp.h>

#include "ops_test_util.h"
#include "shared/input_fill.h"

/* One channel of one sample: f [h*w] (out) from v, m [h*w]. */
static void ref_fill(int h, int w, const double *v, const double *m, double *f) {
    if (h == 1 && w == 1) {
        f[0] = m[0] >= 1.0 ? v[0] * m[0] / m[0] : v[0] * m[0];
        return;
    }
    const int hc = (h + 1) / 2, wc = (w + 1) / 2;
    double *sv = calloc((size_t)hc * wc, sizeof *sv), *sm = calloc((size_t)hc * wc, sizeof *sm);
    double *cv = calloc((size_t)hc * wc, sizeof *cv), *cm = calloc((size_t)hc * wc, sizeof *cm);
    double *fc = calloc((size_t)hc * wc, sizeof *fc);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            sv[(y / 2) * wc + x / 2] += v[y * w + x] * m[y * w + x];
            sm[(y / 2) * wc + x / 2] += m[y * w + x];
        }
    /* the coarser level's "values" are sums: pass them as v = S / W with m = W */
    for (int k = 0; k < hc * wc; ++k) {
        cm[k] = sm[k];
        cv[k] = sm[k] > 0 ? sv[k] / sm[k] : 0.0;
    }
    ref_fill(hc, wc, cv, cm, fc);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            /* bilinear from the coarse grid at cell-centred coordinate (y + 0.5) / 2 - 0.5 */
            double py = (y + 0.5) / 2 - 0.5, px = (x + 0.5) / 2 - 0.5;
            int y0 = (int)floor(py), x0 = (int)floor(px);
            double ay = py - y0, ax = px - x0, up = 0.0;
            for (int a = 0; a < 2; ++a)
                for (int b = 0; b < 2; ++b) {
                    int yy = y0 + a, xx = x0 + b;
                    yy = yy < 0 ? 0 : (yy >= hc ? hc - 1 : yy);
                    xx = xx < 0 ? 0 : (xx >= wc ? wc - 1 : xx);
                    up += (a ? ay : 1 - ay) * (b ? ax : 1 - ax) * fc[yy * wc + xx];
                }
            const double mm = m[y * w + x], s = v[y * w + x] * mm;
            const double c = mm < 1.0 ? mm : 1.0;
            f[y * w + x] = mm > 0 ? c * s / mm + (1 - c) * up : up;
        }
    free(sv), free(sm), free(cv), free(cm), free(fc);
}

/* x [n, h, w, 2c]: values N(0,1) (times the mask, as the network sees
 * them) and a 0/1 mask with the given density per channel. */
static float *make_input(int n, int h, int w, int c, double density, uint64_t seed) {
    const size_t px = (size_t)n * h * w;
    float *x = ops_new_floats(px * 2 * c);
    for (size_t p = 0; p < px; ++p)
        for (int ch = 0; ch < c; ++ch) {
            const float mk = dfl_rng_uniform(seed + 1, 3, p * c + ch) < density ? 1.0f : 0.0f;
            x[p * 2 * c + c + ch] = mk;
            x[p * 2 * c + ch] = mk * dfl_rng_normal(seed, 5, p * c + ch);
        }
    return x;
}

static void check_case(dfl_backend *be, int n, int h, int w, int c, double density) {
    const size_t px = (size_t)n * h * w;
    float *x = make_input(n, h, w, c, density, (uint64_t)(h * 1000 + w * 10 + c));
    float *y = ops_new_floats(px * 3 * c), *y1 = ops_new_floats(px * 3 * c);
    float *scratch = ops_new_floats(dfl_fill_scratch_floats(n, h, w, c));
    be->input_fill(be, n, h, w, c, x, y, scratch);

    double *v = ops_new_doubles((size_t)h * w), *m = ops_new_doubles((size_t)h * w),
           *f = ops_new_doubles((size_t)h * w);
    double *ref = ops_new_doubles(px * c);
    float *got = ops_new_floats(px * c);
    int copied = 1, observed = 1;
    for (int i = 0; i < n; ++i)
        for (int ch = 0; ch < c; ++ch) {
            for (int k = 0; k < h * w; ++k) {
                const size_t p = (size_t)i * h * w + k;
                v[k] = x[p * 2 * c + ch];
                m[k] = x[p * 2 * c + c + ch];
            }
            ref_fill(h, w, v, m, f);
            for (int k = 0; k < h * w; ++k) {
                const size_t p = (size_t)i * h * w + k;
                ref[p * c + ch] = f[k];
                got[p * c + ch] = y[p * 3 * c + 2 * c + ch];
                if (y[p * 3 * c + ch] != x[p * 2 * c + ch] || y[p * 3 * c + c + ch] != x[p * 2 * c + c + ch])
                    copied = 0;
                if (m[k] == 1.0 && y[p * 3 * c + 2 * c + ch] != x[p * 2 * c + ch]) observed = 0;
            }
        }
    char what[96];
    snprintf(what, sizeof what, "input_fill n=%d %dx%d c=%d density %.2f", n, h, w, c, density);
    OPS_CHECK_REL(what, got, ref, px * c, 1e-5);
    CHECK_MSG(copied, "%s: values | mask not copied exactly", what);
    CHECK_MSG(observed, "%s: an observed entry's fill is not its value", what);

    const int th = omp_get_max_threads();
    omp_set_num_threads(1);
    be->input_fill(be, n, h, w, c, x, y1, scratch);
    omp_set_num_threads(th);
    CHECK_MSG(!memcmp(y, y1, px * 3 * c * sizeof(float)), "%s: differs with 1 thread", what);
    free(x), free(y), free(y1), free(scratch), free(v), free(m), free(f), free(ref), free(got);
}

/* A constant field seen through any non-empty mask fills to the constant;
 * a full mask fills to the values; an empty mask to zeros. */
static void check_properties(dfl_backend *be) {
    const int n = 2, h = 37, w = 50, c = 2;
    const size_t px = (size_t)n * h * w;
    float *x = make_input(n, h, w, c, 0.03, 9);
    float *y = ops_new_floats(px * 3 * c), *scratch = ops_new_floats(dfl_fill_scratch_floats(n, h, w, c));
    for (size_t p = 0; p < px; ++p)
        for (int ch = 0; ch < c; ++ch) x[p * 2 * c + ch] = x[p * 2 * c + c + ch] * (ch ? -2.5f : 4.0f);
    be->input_fill(be, n, h, w, c, x, y, scratch);
    double worst = 0.0;
    for (size_t p = 0; p < px; ++p)
        for (int ch = 0; ch < c; ++ch) worst = fmax(worst, fabs(y[p * 3 * c + 2 * c + ch] - (ch ? -2.5 : 4.0)));
    CHECK_MSG(worst < 1e-5, "constant field: fill off by %.3g", worst);

    for (size_t p = 0; p < px; ++p)
        for (int ch = 0; ch < c; ++ch) {
            x[p * 2 * c + c + ch] = 1.0f;
            x[p * 2 * c + ch] = dfl_rng_normal(3, 4, p * c + ch);
        }
    be->input_fill(be, n, h, w, c, x, y, scratch);
    int same = 1;
    for (size_t p = 0; p < px; ++p)
        for (int ch = 0; ch < c; ++ch) same &= y[p * 3 * c + 2 * c + ch] == x[p * 2 * c + ch];
    CHECK_MSG(same, "full mask: the fill is not the values");

    memset(x, 0, px * 2 * c * sizeof(float));
    be->input_fill(be, n, h, w, c, x, y, scratch);
    int zero = 1;
    for (size_t p = 0; p < px * 3 * c; ++p) zero &= y[p] == 0.0f;
    CHECK_MSG(zero, "empty mask: the fill is not zero");
    free(x), free(y), free(scratch);
}

int main(void) {
    dfl_backend *be = dfl_backend_cpu_create(0);
    CHECK(dfl_fill_levels(1, 1) == 0 && dfl_fill_levels(2, 1) == 1 && dfl_fill_levels(64, 64) == 6 &&
          dfl_fill_levels(721, 1440) == 11);
    check_case(be, 1, 1, 1, 1, 1.0);
    check_case(be, 2, 1, 9, 1, 0.3);
    check_case(be, 3, 13, 7, 3, 0.2);
    check_case(be, 2, 64, 64, 1, 0.2);
    check_case(be, 1, 45, 90, 2, 0.01);
    check_case(be, 4, 32, 48, 5, 0.8);
    check_properties(be);
    dfl_backend_destroy(be);
    return dfl_test_finish("ops_input_fill");
}
