/* Microbenchmark of the CPU backend's hot ops (not a test):
 *   bench_ops            conv 32->32 3x3, 64x64, batch 16 (fwd, bwd-data,
 *                        bwd-weights) and GN+SiLU on [16, 4096, 32]
 *   bench_ops --unet     every conv shape of dfl-unet v1 (C 1, 64^2, batch
 *                        16, base 32, mult 1,2,2, nres 2) under the default
 *                        (auto) and both forced activation-layout policies
 *   bench_ops --reps N   timed repetitions (the minimum is reported)
 *   bench_ops --cpu-time process CPU time instead of wall time (use with
 *                        OMP_NUM_THREADS=1 on a loaded machine)
 * GFLOP/s counts 2 * n * oh * ow * cout * cin * k * k per conv direction. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/cpu_backend_internal.h"

/* --cpu-time: process CPU time instead of wall time. On a shared, loaded
 * machine with OMP_NUM_THREADS=1 this measures the work itself, without the
 * time the process waits to be scheduled. */
static clockid_t g_clock = CLOCK_MONOTONIC;

static double now_s(void) {
    struct timespec t;
    clock_gettime(g_clock, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *new_random(size_t n, unsigned seed) {
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; ++i) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((seed >> 8) & 0xFFFF) / 65536.0f - 0.5f;
    }
    return x;
}

static int g_reps = 10;

/* Best time in seconds of `g_reps` runs after one warm-up. */
#define TIME_BEST(best, stmt)                                                                                          \
    do {                                                                                                               \
        stmt;                                                                                                          \
        best = 1e30;                                                                                                   \
        for (int r_ = 0; r_ < g_reps; ++r_) {                                                                          \
            double t0_ = now_s();                                                                                      \
            stmt;                                                                                                      \
            double t_ = now_s() - t0_;                                                                                 \
            if (t_ < best) best = t_;                                                                                  \
        }                                                                                                              \
    } while (0)

typedef struct {
    double t[3];
} conv_times;

static conv_times bench_conv(dfl_backend *be, const dfl_conv_desc *d, int print, const char *label) {
    const int oh = dfl_conv_out_h(d), ow = dfl_conv_out_w(d);
    const size_t nx = (size_t)d->n * d->h * d->w * d->cin, ny = (size_t)d->n * oh * ow * d->cout;
    const size_t nw = (size_t)d->cout * d->cin * d->k * d->k;
    float *x = new_random(nx, 1), *w = new_random(nw, 2), *b = new_random((size_t)d->cout, 3);
    float *y = new_random(ny, 4), *dy = new_random(ny, 5), *dx = new_random(nx, 6), *dw = new_random(nw, 7);
    float *db = new_random((size_t)d->cout, 8);
    conv_times ct;
    TIME_BEST(ct.t[0], be->conv2d_forward(be, d, x, w, b, y));
    TIME_BEST(ct.t[1], be->conv2d_backward_data(be, d, dy, w, dx));
    TIME_BEST(ct.t[2], be->conv2d_backward_weights(be, d, x, dy, dw, db));
    const double gflop = 2.0 * d->n * oh * ow * d->cout * d->cin * d->k * d->k * 1e-9;
    if (print) {
        printf("%-8s n%-2d %3dx%-3d %3d->%-3d k%d s%d p%d%d | fwd %7.2f ms %6.1f GF/s | bwd-data %7.2f ms %6.1f GF/s | "
               "bwd-w %7.2f ms %6.1f GF/s | %s %s %s\n",
               label, d->n, d->h, d->w, d->cin, d->cout, d->k, d->stride, d->periodic_x, d->periodic_y, ct.t[0] * 1e3,
               gflop / ct.t[0], ct.t[1] * 1e3, gflop / ct.t[1], ct.t[2] * 1e3, gflop / ct.t[2],
               dfl_cpu_conv_impl_name(be, d, DFL_CPU_CONV_FWD), dfl_cpu_conv_impl_name(be, d, DFL_CPU_CONV_BWD_DATA),
               dfl_cpu_conv_impl_name(be, d, DFL_CPU_CONV_BWD_WEIGHTS));
    }
    free(x), free(w), free(b), free(y), free(dy), free(dx), free(dw), free(db);
    return ct;
}

static void bench_group_norm(dfl_backend *be, int n, int hw, int c, int groups) {
    const size_t ne = (size_t)n * hw * c;
    float *x = new_random(ne, 11), *y = new_random(ne, 12), *dy = new_random(ne, 13), *dx = new_random(ne, 14);
    float *gamma = new_random((size_t)c, 15), *beta = new_random((size_t)c, 16);
    float *mean = malloc((size_t)n * groups * 4), *rstd = malloc((size_t)n * groups * 4);
    float *dg = malloc((size_t)c * 4), *dbt = malloc((size_t)c * 4);
    double tf, tb, ts;
    TIME_BEST(tf, be->group_norm_forward(be, n, hw, c, groups, 1e-5f, x, gamma, beta, y, mean, rstd, 1));
    TIME_BEST(tb, be->group_norm_backward(be, n, hw, c, groups, x, gamma, beta, mean, rstd, dy, NULL, dx, dg, dbt, 1));
    TIME_BEST(ts, be->silu_forward(be, ne, x, y));
    const double mb = (double)ne * 4 * 1e-6;
    /* bytes moved: forward reads x twice, writes y; backward reads x, dy twice, writes dx */
    printf("gn+silu  [%d, %d, %d] g%d | fwd %6.2f ms %6.1f GB/s | bwd %6.2f ms %6.1f GB/s | silu alone %6.2f ms\n", n,
           hw, c, groups, tf * 1e3, 3 * mb / tf * 1e-3, tb * 1e3, 5 * mb / tb * 1e-3, ts * 1e3);
    free(x), free(y), free(dy), free(dx), free(gamma), free(beta), free(mean), free(rstd), free(dg), free(dbt);
}

/* Every conv of dfl-unet v1 (C 1, 64x64, batch 16, base 32, mult 1,2,2, nres 2). */
static const dfl_conv_desc unet_convs[] = {
    {16, 64, 64, 2, 32, 3, 1, 0, 0},   /* stem */
    {16, 64, 64, 32, 32, 3, 1, 0, 0},  /* level 0 res convs (x4), decoder conv2 (x3) */
    {16, 64, 64, 32, 32, 3, 2, 0, 0},  /* downsample 0 */
    {16, 32, 32, 32, 64, 3, 1, 0, 0},  /* level 1 res 0 conv1 */
    {16, 32, 32, 32, 64, 1, 1, 0, 0},  /* level 1 res 0 skip */
    {16, 32, 32, 64, 64, 3, 1, 0, 0},  /* level 1 convs (x3), decoder conv2 (x3), upsample conv 2 */
    {16, 32, 32, 64, 64, 3, 2, 0, 0},  /* downsample 1 */
    {16, 16, 16, 64, 64, 3, 1, 0, 0},  /* level 2 + mid convs (x8), decoder conv2 (x3) */
    {16, 16, 16, 128, 64, 3, 1, 0, 0}, /* decoder level 2 conv1 (x3) */
    {16, 16, 16, 128, 64, 1, 1, 0, 0}, /* decoder level 2 skip (x3) */
    {16, 32, 32, 128, 64, 3, 1, 0, 0}, /* decoder level 1 conv1 (x2) */
    {16, 32, 32, 128, 64, 1, 1, 0, 0}, /* decoder level 1 skip (x2) */
    {16, 32, 32, 96, 64, 3, 1, 0, 0},  /* decoder level 1 conv1 (last) */
    {16, 32, 32, 96, 64, 1, 1, 0, 0},  /* decoder level 1 skip (last) */
    {16, 64, 64, 64, 64, 3, 1, 0, 0},  /* upsample conv 1 is 64->64 at 64x64 */
    {16, 64, 64, 96, 32, 3, 1, 0, 0},  /* decoder level 0 conv1 (first) */
    {16, 64, 64, 96, 32, 1, 1, 0, 0},  /* decoder level 0 skip (first) */
    {16, 64, 64, 64, 32, 3, 1, 0, 0},  /* decoder level 0 conv1 (x2) */
    {16, 64, 64, 64, 32, 1, 1, 0, 0},  /* decoder level 0 skip (x2) */
    {16, 64, 64, 32, 1, 3, 1, 0, 0},   /* head */
};
/* how many times each shape runs in one forward (same order) */
static const int unet_count[] = {1, 7, 1, 1, 1, 7, 1, 11, 3, 3, 2, 2, 1, 1, 1, 1, 1, 2, 2, 1};

static void set_policy(dfl_backend *be, dfl_cpu_conv_layout l) {
    for (int dir = 0; dir < DFL_CPU_CONV_NDIR; ++dir) dfl_cpu_set_conv_layout(be, dir, l);
}

int main(int argc, char **argv) {
    int unet = 0;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--unet"))
            unet = 1;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            g_reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cpu-time"))
            g_clock = CLOCK_PROCESS_CPUTIME_ID;
        else {
            fprintf(stderr, "usage: bench_ops [--unet] [--reps N] [--cpu-time]\n");
            return 2;
        }
    }
    dfl_backend *be = dfl_backend_cpu_create(0);
    printf("threads %d, oneDNN ISA %s, best of %d runs\n", omp_get_max_threads(), dfl_cpu_isa_name(), g_reps);
    const dfl_conv_desc main_conv = {16, 64, 64, 32, 32, 3, 1, 0, 0};
    const dfl_conv_desc periodic_conv = {16, 64, 64, 32, 32, 3, 1, 1, 1};
    if (!unet) {
        bench_conv(be, &main_conv, 1, "auto");
        bench_conv(be, &periodic_conv, 1, "auto");
        set_policy(be, DFL_CPU_CONV_NHWC);
        bench_conv(be, &main_conv, 1, "nhwc");
        set_policy(be, DFL_CPU_CONV_BLOCKED);
        bench_conv(be, &main_conv, 1, "blocked");
        bench_group_norm(be, 16, 64 * 64, 32, 8);
        bench_group_norm(be, 16, 32 * 32, 64, 8);
    } else {
        /* One backend per policy (auto, blocked, nhwc), runs interleaved so
         * load drift on a shared machine hits all alike; best of g_reps. */
        enum { NP = 3 };
        static const char *pname[NP] = {"auto", "blocked", "nhwc"};
        const dfl_cpu_conv_layout playout[NP] = {DFL_CPU_CONV_AUTO, DFL_CPU_CONV_BLOCKED, DFL_CPU_CONV_NHWC};
        dfl_backend *pb[NP] = {be, dfl_backend_cpu_create(0), dfl_backend_cpu_create(0)};
        for (int p = 0; p < NP; ++p) set_policy(pb[p], playout[p]);
        const int nshapes = (int)(sizeof unet_convs / sizeof unet_convs[0]);
        double total[NP][3] = {{0}};
        double flops = 0.0;
        const int reps = g_reps;
        g_reps = 1;
        for (int s = 0; s < nshapes; ++s) {
            const dfl_conv_desc *d = &unet_convs[s];
            conv_times best[NP];
            for (int p = 0; p < NP; ++p)
                for (int dir = 0; dir < 3; ++dir) best[p].t[dir] = 1e30;
            for (int r = 0; r < reps; ++r) {
                for (int p = 0; p < NP; ++p) {
                    conv_times ct = bench_conv(pb[p], d, 0, "");
                    for (int dir = 0; dir < 3; ++dir)
                        if (ct.t[dir] < best[p].t[dir]) best[p].t[dir] = ct.t[dir];
                }
            }
            const double gflop =
                2.0 * d->n * dfl_conv_out_h(d) * dfl_conv_out_w(d) * d->cout * d->cin * d->k * d->k * 1e-9;
            flops += unet_count[s] * gflop;
            printf("x%-2d %3dx%-3d %3d->%-3d k%d s%d GF/s", unet_count[s], d->h, d->w, d->cin, d->cout, d->k,
                   d->stride);
            static const char *dn[3] = {"fwd", "bwd-d", "bwd-w"};
            for (int dir = 0; dir < 3; ++dir) {
                printf(" | %s", dn[dir]);
                for (int p = 0; p < NP; ++p) {
                    printf(" %s %5.1f", pname[p], gflop / best[p].t[dir]);
                    total[p][dir] += unet_count[s] * best[p].t[dir];
                }
            }
            printf("\n");
        }
        g_reps = reps;
        for (int p = 0; p < NP; ++p)
            printf("unet convs, %-7s: fwd %7.1f ms, bwd-data %7.1f ms, bwd-w %7.1f ms = %7.1f ms per batch of 16 "
                   "(%.1f GFLOP a direction)\n",
                   pname[p], total[p][0] * 1e3, total[p][1] * 1e3, total[p][2] * 1e3,
                   (total[p][0] + total[p][1] + total[p][2]) * 1e3, flops);
        for (int p = 1; p < NP; ++p) dfl_backend_destroy(pb[p]);
    }
    dfl_backend_destroy(be);
    return 0;
}
