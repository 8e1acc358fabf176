/* Device suite, part 3 (docs/scaling.md, "Large tensors"): ops on tensors
 * past 2^31 elements, checked against a host reference (double) at sampled
 * positions.
 *   - conv 3x3, periodic x, 9 x 728 x 1440 x 256 -> 256 (2.4e9 elements per
 *     activation: cuDNN's int descriptors force the batch split of
 *     kernels/shared/int_limit.h): forward, backward-data and
 *     backward-weights (+ bias) in strict fp32 and in bf16;
 *   - elementwise SiLU, add, scale, fill over the whole 2.4e9 elements,
 *     aligned (float4) and at an offset of one element (scalar, 64-bit
 *     grid-stride indices past 2^31);
 *   - linear 16e6 rows x 144 -> 144 (cuBLAS in row chunks; dW accumulated
 *     over them), forward and backward.
 * Inputs are a hash of the element index (no host copy of the tensors: the
 * reference recomputes any input it reads). Samples include the first and
 * last samples, both sides of the batch chunk boundary, the wrapped and
 * zero-padded borders and the elements around 2^31 and 2^32.
 *
 * Exit 77 (skipped) without a CUDA device. `--cpu-small` runs the same
 * checks on the CPU backend at a small shape: a check of the harness and
 * its reference formulas that needs no GPU (ctest device_large_harness_cpu). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfl_test.h"
#include "dynfill/backend.h"
#include "dynfill/cuda_graph.h"
#include "shared/activation.h"
#include "shared/int_limit.h"

typedef struct {
    int n, h, w, c;    /* conv: NHWC activations, cin = cout = c, periodic x */
    int rows, in, out; /* linear */
    int conv_samples;  /* sampled outputs per conv result */
    int dw_samples;    /* sampled weight-gradient entries (each sums n*h*w terms) */
    const char *name;
} shape;

static const shape LARGE = {9, 728, 1440, 256, 16000000, 144, 144, 192, 6, "large"};
static const shape SMALL = {3, 12, 10, 8, 1000, 6, 5, 64, 6, "small"};

enum { SEED_X = 11, SEED_DY = 12, SEED_W = 13, SEED_B = 14, SEED_LX = 21, SEED_LDY = 22, SEED_LW = 23, SEED_LB = 24 };

/* Input value at element i: 24 bits of a hash, in [-1, 1), exact in fp32. */
static float pat(uint32_t seed, uint64_t i) {
    uint64_t z = (i + ((uint64_t)seed << 40)) * 0x9E3779B97F4A7C15ull;
    z ^= z >> 29;
    z *= 0xBF58476D1CE4E5B9ull;
    z ^= z >> 32;
    return (float)(z >> 40) * (1.0f / 8388608.0f) - 1.0f;
}

static int failures;

static void report(const char *prec, const char *what, double err, double tol) {
    const int ok = err <= tol;
    printf("%-5s %-52s err %.3e  tol %.1e  %s\n", prec, what, err, tol, ok ? "ok" : "FAIL");
    fflush(stdout);
    if (!ok) ++failures;
    CHECK_MSG(ok, "%s %s: err %.3e > tol %.1e", prec, what, err, tol);
}

/* dev[0..n) = scale * pat(seed, .), uploaded in pieces (no full host copy). */
static void upload_pattern(dfl_backend *be, float *dev, size_t n, uint32_t seed, float scale) {
    const size_t piece = (size_t)1 << 24;
    float *h = dfl_xmalloc(piece * sizeof(float));
    for (size_t off = 0; off < n; off += piece) {
        const size_t m = n - off < piece ? n - off : piece;
        for (size_t j = 0; j < m; ++j) h[j] = scale * pat(seed, off + j);
        be->upload(be, dev + off, h, m * sizeof(float));
    }
    free(h);
}

static float fetch(dfl_backend *be, const float *dev, size_t i) {
    float v;
    be->download(be, &v, dev + i, sizeof v);
    return v;
}

/* max |got - ref| / max |ref| over the samples; NaN -> inf. */
typedef struct {
    double md, mr;
    int bad;
} erracc;
static void acc_add(erracc *a, double got, double ref) {
    if (!isfinite(got)) a->bad = 1;
    const double d = fabs(got - ref);
    if (d > a->md) a->md = d;
    if (fabs(ref) > a->mr) a->mr = fabs(ref);
}
static double acc_err(const erracc *a) { return a->bad ? INFINITY : a->mr > 0 ? a->md / a->mr : a->md; }

static uint64_t rng_state = 0x1234567ull;
static uint64_t rnd(uint64_t bound) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (rng_state >> 17) % bound;
}

/* ---- conv reference (cross-correlation, k = 3, stride 1, periodic x, zeros along y) ---- */

typedef struct {
    const shape *s;
    float ws; /* weight scale 1/sqrt(9c) */
} conv_ref;

static size_t xi(const shape *s, int n, int y, int x, int ch) {
    return (((size_t)n * s->h + y) * s->w + x) * s->c + ch;
}
static int wrapx(int x, int w) { return x < 0 ? x + w : x >= w ? x - w : x; }
static double wv(const conv_ref *r, int co, int ci, int ky, int kx) {
    return r->ws * pat(SEED_W, (((size_t)co * r->s->c + ci) * 3 + ky) * 3 + kx);
}

static double ref_y(const conv_ref *r, int n, int oy, int ox, int co) {
    const shape *s = r->s;
    double acc = 0.5 * pat(SEED_B, (uint64_t)co);
    for (int ky = 0; ky < 3; ++ky) {
        const int iy = oy + ky - 1;
        if (iy < 0 || iy >= s->h) continue;
        for (int kx = 0; kx < 3; ++kx) {
            const int ix = wrapx(ox + kx - 1, s->w);
            for (int ci = 0; ci < s->c; ++ci) acc += (double)pat(SEED_X, xi(s, n, iy, ix, ci)) * wv(r, co, ci, ky, kx);
        }
    }
    return acc;
}

static double ref_dx(const conv_ref *r, int n, int iy, int ix, int ci) {
    const shape *s = r->s;
    double acc = 0.0;
    for (int ky = 0; ky < 3; ++ky) {
        const int oy = iy - ky + 1;
        if (oy < 0 || oy >= s->h) continue;
        for (int kx = 0; kx < 3; ++kx) {
            const int ox = wrapx(ix - kx + 1, s->w);
            for (int co = 0; co < s->c; ++co) acc += (double)pat(SEED_DY, xi(s, n, oy, ox, co)) * wv(r, co, ci, ky, kx);
        }
    }
    return acc;
}

static double ref_dw(const conv_ref *r, int co, int ci, int ky, int kx) {
    const shape *s = r->s;
    double acc = 0.0;
    for (int n = 0; n < s->n; ++n)
        for (int oy = 0; oy < s->h; ++oy) {
            const int iy = oy + ky - 1;
            if (iy < 0 || iy >= s->h) continue;
            for (int ox = 0; ox < s->w; ++ox)
                acc += (double)pat(SEED_X, xi(s, n, iy, wrapx(ox + kx - 1, s->w), ci)) *
                       pat(SEED_DY, xi(s, n, oy, ox, co));
        }
    return acc;
}

static double ref_db(const shape *s, int co) {
    double acc = 0.0;
    for (size_t p = 0; p < (size_t)s->n * s->h * s->w; ++p) acc += pat(SEED_DY, p * s->c + co);
    return acc;
}

/* A sampled position: the batch ends, both sides of the chunk boundary,
 * the borders (wrapped along x, zero-padded along y), else random. */
static void sample_pos(const shape *s, int k, int *n, int *y, int *x, int *ch) {
    const int64_t chunk = dfl_split_batch_for_int_limit(s->n, (int64_t)s->h * (s->w + 2) * s->c, DFL_INT_LIMIT);
    const int edge_n[4] = {0, s->n - 1, (int)(chunk < s->n ? chunk - 1 : 0), (int)(chunk < s->n ? chunk : s->n - 1)};
    *n = k < 16 ? edge_n[k % 4] : (int)rnd((uint64_t)s->n);
    const int edge_y[4] = {0, s->h - 1, (int)rnd((uint64_t)s->h), 1};
    const int edge_x[4] = {0, s->w - 1, (int)rnd((uint64_t)s->w), s->w - 2};
    *y = k < 16 ? edge_y[(k / 4) % 4] : (int)rnd((uint64_t)s->h);
    *x = k < 16 ? edge_x[k % 4] : (int)rnd((uint64_t)s->w);
    *ch = k == 0 ? 0 : k == 1 ? s->c - 1 : (int)rnd((uint64_t)s->c);
}

typedef struct {
    float *x, *dy, *y, *dx; /* activations, max(conv, linear) elements each */
    float *w, *b, *dw, *db;
} buffers;

static void check_conv(dfl_backend *be, const char *prec, const shape *s, buffers *B, double tol, double tol_sum) {
    dfl_conv_desc d = {s->n, s->h, s->w, s->c, s->c, 3, 1, 1, 0};
    conv_ref r = {s, 1.0f / sqrtf(9.0f * (float)s->c)};
    char what[96];
    const size_t total = (size_t)s->n * s->h * s->w * s->c, nw = (size_t)s->c * s->c * 9;
    be->fill(be, B->y, NAN, total);
    be->conv2d_forward(be, &d, B->x, B->w, B->b, B->y);
    erracc a = {0};
    for (int k = 0; k < s->conv_samples; ++k) {
        int n, y, x, ch;
        sample_pos(s, k, &n, &y, &x, &ch);
        acc_add(&a, fetch(be, B->y, xi(s, n, y, x, ch)), ref_y(&r, n, y, x, ch));
    }
    snprintf(what, sizeof what, "conv fwd %dx%dx%dx%d periodic-x (%zu el.)", s->n, s->h, s->w, s->c, total);
    report(prec, what, acc_err(&a), tol);

    be->fill(be, B->dx, NAN, total);
    be->conv2d_backward_data(be, &d, B->dy, B->w, B->dx);
    memset(&a, 0, sizeof a);
    for (int k = 0; k < s->conv_samples; ++k) {
        int n, y, x, ch;
        sample_pos(s, k, &n, &y, &x, &ch);
        acc_add(&a, fetch(be, B->dx, xi(s, n, y, x, ch)), ref_dx(&r, n, y, x, ch));
    }
    report(prec, "conv backward-data", acc_err(&a), tol);

    be->fill(be, B->dw, NAN, nw);
    be->fill(be, B->db, NAN, (size_t)s->c);
    be->conv2d_backward_weights(be, &d, B->x, B->dy, B->dw, B->db);
    memset(&a, 0, sizeof a);
    for (int k = 0; k < s->dw_samples; ++k) {
        const int co = k == 0 ? 0 : (int)rnd((uint64_t)s->c), ci = k == 1 ? s->c - 1 : (int)rnd((uint64_t)s->c);
        const int ky = k % 3, kx = (k / 3) % 3;
        acc_add(&a, fetch(be, B->dw, (((size_t)co * s->c + ci) * 3 + ky) * 3 + kx), ref_dw(&r, co, ci, ky, kx));
    }
    report(prec, "conv backward-weights dw (batch chunks summed)", acc_err(&a), tol_sum);
    memset(&a, 0, sizeof a);
    for (int k = 0; k < 3; ++k) {
        const int co = k == 0 ? 0 : k == 1 ? s->c - 1 : (int)rnd((uint64_t)s->c);
        acc_add(&a, fetch(be, B->db, (size_t)co), ref_db(s, co));
    }
    report(prec, "conv backward-weights db", acc_err(&a), tol_sum);
}

/* Element indices to sample in a tensor of n elements: ends, 2^31 and 2^32 neighbourhoods, random. */
static size_t elem_index(size_t n, int k) {
    const size_t special[10] = {
        0, 1, 2, 3, ((size_t)1 << 31) - 1, (size_t)1 << 31, ((size_t)1 << 31) + 1, ((size_t)1 << 32) - 1, n - 2, n - 1};
    if (k < 10) return special[k] < n ? special[k] : n - 1 - (size_t)k;
    return (size_t)rnd((uint64_t)n);
}

static void check_elementwise(dfl_backend *be, const char *prec, const shape *s, buffers *B) {
    const size_t n = (size_t)s->n * s->h * s->w * s->c;
    char what[96];
    erracc a = {0};
    /* aligned (float4 path) */
    be->fill(be, B->y, NAN, n);
    be->silu_forward(be, n, B->x, B->y);
    for (int k = 0; k < 200; ++k) {
        const size_t i = elem_index(n, k);
        acc_add(&a, fetch(be, B->y, i), dfl_siluf(pat(SEED_X, i)));
    }
    snprintf(what, sizeof what, "silu over %zu elements (float4)", n);
    report(prec, what, acc_err(&a), 1e-5);
    /* offset by one element: the scalar kernel, 64-bit indices past 2^31 */
    memset(&a, 0, sizeof a);
    be->fill(be, B->y, NAN, n);
    be->silu_forward(be, n - 1, B->x + 1, B->y + 1);
    for (int k = 0; k < 200; ++k) {
        const size_t i = elem_index(n - 1, k) + 1;
        acc_add(&a, fetch(be, B->y, i), dfl_siluf(pat(SEED_X, i)));
    }
    report(prec, "silu, offset 1 (scalar kernel)", acc_err(&a), 1e-5);
    /* add, then scale, offset by one */
    memset(&a, 0, sizeof a);
    be->add(be, n - 1, B->x + 1, B->dy + 1, B->y + 1);
    be->scale(be, n - 1, -0.5f, B->y + 1);
    for (int k = 0; k < 200; ++k) {
        const size_t i = elem_index(n - 1, k) + 1;
        acc_add(&a, fetch(be, B->y, i), -0.5 * ((double)pat(SEED_X, i) + pat(SEED_DY, i)));
    }
    report(prec, "add + scale, offset 1", acc_err(&a), 1e-6);
    /* fill, offset by one: the last element is written */
    be->fill(be, B->y + 1, 3.25f, n - 1);
    const float last = fetch(be, B->y, n - 1), mid = fetch(be, B->y, n > ((size_t)1 << 31) ? (size_t)1 << 31 : n / 2);
    report(prec, "fill, offset 1 (last element, element 2^31)", last == 3.25f && mid == 3.25f ? 0.0 : INFINITY, 0.0);
}

static void check_linear(dfl_backend *be, const char *prec, const shape *s, buffers *B, double tol, double tol_sum) {
    const int R = s->rows, in = s->in, out = s->out;
    const float ws = 1.0f / sqrtf((float)in);
    char what[96];
    upload_pattern(be, B->x, (size_t)R * in, SEED_LX, 1.0f);
    upload_pattern(be, B->dy, (size_t)R * out, SEED_LDY, 1.0f);
    upload_pattern(be, B->w, (size_t)out * in, SEED_LW, ws);
    upload_pattern(be, B->b, (size_t)out, SEED_LB, 0.5f);
    be->fill(be, B->y, NAN, (size_t)R * out);
    be->linear_forward(be, R, in, out, B->x, B->w, B->b, B->y);
    erracc a = {0};
    for (int k = 0; k < 128; ++k) {
        const size_t r = k == 0 ? 0 : k == 1 ? (size_t)R - 1 : (size_t)rnd((uint64_t)R);
        const int o = (int)rnd((uint64_t)out);
        double ref = 0.5 * pat(SEED_LB, (uint64_t)o);
        for (int i = 0; i < in; ++i) ref += (double)pat(SEED_LX, r * in + i) * ws * pat(SEED_LW, (size_t)o * in + i);
        acc_add(&a, fetch(be, B->y, r * out + o), ref);
    }
    snprintf(what, sizeof what, "linear fwd %d rows %d->%d (%zu el.)", R, in, out, (size_t)R * in);
    report(prec, what, acc_err(&a), tol);

    be->fill(be, B->dx, NAN, (size_t)R * in);
    be->fill(be, B->dw, NAN, (size_t)out * in);
    be->fill(be, B->db, NAN, (size_t)out);
    be->linear_backward(be, R, in, out, B->x, B->w, B->dy, B->dx, B->dw, B->db);
    memset(&a, 0, sizeof a);
    for (int k = 0; k < 128; ++k) {
        const size_t r = k == 0 ? 0 : k == 1 ? (size_t)R - 1 : (size_t)rnd((uint64_t)R);
        const int i = (int)rnd((uint64_t)in);
        double ref = 0.0;
        for (int o = 0; o < out; ++o) ref += (double)pat(SEED_LDY, r * out + o) * ws * pat(SEED_LW, (size_t)o * in + i);
        acc_add(&a, fetch(be, B->dx, r * in + i), ref);
    }
    report(prec, "linear dx", acc_err(&a), tol);
    memset(&a, 0, sizeof a);
    erracc ab = {0};
    for (int k = 0; k < 4; ++k) {
        const int o = k == 0 ? 0 : (int)rnd((uint64_t)out), i = k == 1 ? in - 1 : (int)rnd((uint64_t)in);
        double ref = 0.0, refb = 0.0;
        for (size_t r = 0; r < (size_t)R; ++r) {
            const double g = pat(SEED_LDY, r * out + o);
            ref += g * pat(SEED_LX, r * in + i);
            refb += g;
        }
        acc_add(&a, fetch(be, B->dw, (size_t)o * in + i), ref);
        acc_add(&ab, fetch(be, B->db, (size_t)o), refb);
    }
    report(prec, "linear dw (row chunks accumulated)", acc_err(&a), tol_sum);
    report(prec, "linear db", acc_err(&ab), tol_sum);
}

static void run(dfl_backend *be32, dfl_backend *be16, const shape *s) {
    const size_t nconv = (size_t)s->n * s->h * s->w * s->c;
    const size_t nlin = (size_t)s->rows * (s->in > s->out ? s->in : s->out);
    const size_t nact = nconv > nlin ? nconv : nlin, nw = (size_t)s->c * s->c * 9;
    const size_t nwl = (size_t)s->in * s->out;
    buffers B;
    B.x = be32->alloc(be32, nact * sizeof(float));
    B.dy = be32->alloc(be32, nact * sizeof(float));
    B.y = be32->alloc(be32, nact * sizeof(float));
    B.dx = be32->alloc(be32, nact * sizeof(float));
    B.w = be32->alloc(be32, (nw > nwl ? nw : nwl) * sizeof(float));
    B.dw = be32->alloc(be32, (nw > nwl ? nw : nwl) * sizeof(float));
    B.b = be32->alloc(be32, (size_t)(s->c > s->out ? s->c : s->out) * sizeof(float));
    B.db = be32->alloc(be32, (size_t)(s->c > s->out ? s->c : s->out) * sizeof(float));
    upload_pattern(be32, B.x, nconv, SEED_X, 1.0f);
    upload_pattern(be32, B.dy, nconv, SEED_DY, 1.0f);
    upload_pattern(be32, B.w, nw, SEED_W, 1.0f / sqrtf(9.0f * (float)s->c));
    upload_pattern(be32, B.b, (size_t)s->c, SEED_B, 0.5f);
    printf("%s: conv %zu elements per activation (int limit %lld), linear %zu\n", s->name, nconv,
           (long long)DFL_INT_LIMIT, nlin);
    /* fp32: direct sums in fp32 vs double; dw / db sum n*h*w (or rows) terms */
    check_conv(be32, "fp32", s, &B, 1e-5, 1e-4);
    if (be16) {
        be32->synchronize(be32); /* the bf16 backend reads the same device buffers on its own stream */
        check_conv(be16, "bf16", s, &B, 1e-2, 2e-2);
        be16->synchronize(be16);
    }
    check_elementwise(be32, "fp32", s, &B);
    check_linear(be32, "fp32", s, &B, 1e-5, 1e-4);
    float *all[] = {B.x, B.dy, B.y, B.dx, B.w, B.dw, B.b, B.db};
    for (size_t i = 0; i < sizeof all / sizeof *all; ++i) be32->free(be32, all[i]);
}

int main(int argc, char **argv) {
    int cpu_small = 0;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--cpu-small")) {
            cpu_small = 1;
        } else {
            fprintf(stderr, "usage: %s [--cpu-small]\n", argv[0]);
            return 2;
        }
    }
    dfl_set_quiet(1);
    if (cpu_small) {
        dfl_backend *cpu = dfl_backend_cpu_create(0);
        run(cpu, NULL, &SMALL);
        dfl_backend_destroy(cpu);
    } else {
        if (!dfl_cuda_available()) {
            printf("device_large: no CUDA device: skipped\n");
            return 77;
        }
        dfl_backend *g32 = dfl_backend_cuda_create(0, DFL_PRECISION_FP32);
        dfl_backend *g16 = dfl_backend_cuda_create(0, DFL_PRECISION_BF16);
        if (!g32 || !g16) {
            fprintf(stderr, "device_large: cannot create the CUDA backend: %s\n", dfl_last_error());
            return 1;
        }
        char dev[256];
        dfl_cuda_describe(g32, dev, sizeof dev);
        printf("device: %s\n", dev);
        size_t free_b = 0, total_b = 0;
        g32->memory_info(g32, &free_b, &total_b);
        const size_t need = (size_t)4 * 2415919104ull * sizeof(float) + ((size_t)20 << 30);
        if (free_b < need) {
            printf("device_large: %zu bytes free on the device, about %zu needed: skipped\n", free_b, need);
            dfl_backend_destroy(g16);
            dfl_backend_destroy(g32);
            return 77;
        }
        run(g32, g16, &LARGE);
        dfl_backend_destroy(g16);
        dfl_backend_destroy(g32);
    }
    printf("device_large: %d failed\n", failures);
    return dfl_test_finish("device_large") || failures ? 1 : 0;
}
