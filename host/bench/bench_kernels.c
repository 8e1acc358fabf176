/* `dynfill bench kernels`: achieved bandwidth of each fused kernel of the
 * backend against the device's measured device-to-device copy bandwidth
 * (docs/cuda-backend.md). For every kernel the byte count is the least
 * traffic it must cause (each input read once, each output written once);
 * GB/s = bytes / median time per call, and "% copy" compares that with a
 * large be->copy (bytes read + bytes written). Memory-bound kernels should
 * reach >= 70 % of the copy; kernels that draw Philox numbers per element
 * (noise_context, ensemble_build) are bounded by integer arithmetic
 * instead, which the table makes visible.
 *
 * Without a CUDA device (or a build without the CUDA backend) the command
 * exits 2 saying so; `--backend cpu` measures the CPU backend instead. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "core/args.h"
#include "core/clock.h"
#include "core/json_util.h"
#include "dynfill/backend.h"
#include "dynfill/cuda_graph.h"
#include "dynfill/method.h"
#include "shared/adamw.h"
#include "shared/philox.h"
#include "shared/schedule.h"

#define BK_MAX_REPS 64

static const char k_usage[] =
    "usage: dynfill bench kernels [--backend cuda|cpu] [--precision auto|fp32|tf32|bf16] [--n N] [--C C]\n"
    "                             [--size S] [--channels CH] [--params P] [--K K] [--iters I] [--reps R] [--json]\n"
    "Achieved bandwidth (GB/s) of each fused kernel, with the least bytes it must move, against the\n"
    "device-to-device copy bandwidth measured first (bytes read + written). Defaults (cuda): method ops\n"
    "on 64 fields of C 4 x 256 x 256, K 10; group norm and elementwise on [32, 128 x 128, 64];\n"
    "optimiser on 64M parameters; 20 calls per timing, median of 5 timings. On --backend cpu the\n"
    "default sizes are 8x smaller.\n";

enum {
    OPT_BACKEND = 256,
    OPT_PRECISION,
    OPT_N,
    OPT_C,
    OPT_SIZE,
    OPT_CHANNELS,
    OPT_PARAMS,
    OPT_K,
    OPT_ITERS,
    OPT_REPS,
    OPT_JSON
};
static const char k_short[] = "h";
static const struct option k_options[] = {
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"precision", required_argument, NULL, OPT_PRECISION},
    {"n", required_argument, NULL, OPT_N},
    {"C", required_argument, NULL, OPT_C},
    {"size", required_argument, NULL, OPT_SIZE},
    {"channels", required_argument, NULL, OPT_CHANNELS},
    {"params", required_argument, NULL, OPT_PARAMS},
    {"K", required_argument, NULL, OPT_K},
    {"iters", required_argument, NULL, OPT_ITERS},
    {"reps", required_argument, NULL, OPT_REPS},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct {
    dfl_backend *be;
    int iters, reps;
    double copy_gbs;
    cJSON *kernels; /* --json: the rows, printed at the end; NULL for the table */
} bk_ctx;

/* Median over `reps` batches of the mean time of `iters` calls, after two
 * warm-up calls (plans, algorithm choice, scratch growth). */
#define BK_TIME(B, OUT, STMT)                                                                                          \
    do {                                                                                                               \
        double ts_[BK_MAX_REPS];                                                                                       \
        STMT;                                                                                                          \
        STMT;                                                                                                          \
        (B)->be->synchronize((B)->be);                                                                                 \
        for (int r_ = 0; r_ < (B)->reps; ++r_) {                                                                       \
            double t0_ = dfl_clock_seconds();                                                                          \
            for (int i_ = 0; i_ < (B)->iters; ++i_) {                                                                  \
                STMT;                                                                                                  \
            }                                                                                                          \
            (B)->be->synchronize((B)->be);                                                                             \
            ts_[r_] = (dfl_clock_seconds() - t0_) / (B)->iters;                                                        \
        }                                                                                                              \
        (OUT) = dfl_clock_median(ts_, (size_t)(B)->reps);                                                              \
    } while (0)

static void bk_row(bk_ctx *B, const char *name, const char *shape, double bytes, double secs) {
    const double gbs = bytes / secs / 1e9;
    const double pct = B->copy_gbs > 0 ? 100.0 * gbs / B->copy_gbs : 0.0;
    if (B->kernels) {
        cJSON *o = dfl_json_append_object(B->kernels);
        dfl_json_add_string(o, "kernel", name);
        dfl_json_add_string(o, "shape", shape);
        dfl_json_add_int(o, "bytes", llround(bytes));
        dfl_json_add_number(o, "us", secs * 1e6, 6);
        dfl_json_add_number(o, "gbs", gbs, 4);
        dfl_json_add_number(o, "pct_copy", pct, 4);
    } else {
        printf("%-28s %-26s %10.1f %10.1f %9.1f %7.1f%%\n", name, shape, bytes / 1e6, secs * 1e6, gbs, pct);
    }
}

static void bk_skip(bk_ctx *B, const char *name, const char *why) {
    if (!B->kernels) printf("%-28s %s\n", name, why);
}

/* Random floats in backend memory. */
static float *bk_rand(dfl_backend *be, size_t n, float lo, float hi, uint64_t seed) {
    float *h = dfl_xmalloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; ++i) h[i] = lo + (hi - lo) * dfl_rng_uniform(seed, 0xbe7cu, i);
    float *d = be->alloc(be, n * sizeof(float));
    be->upload(be, d, h, n * sizeof(float));
    free(h);
    return d;
}

static uint8_t *bk_mask(dfl_backend *be, size_t n, float p, uint64_t seed, uint8_t **host_out) {
    uint8_t *h = dfl_xmalloc(n ? n : 1);
    for (size_t i = 0; i < n; ++i) h[i] = dfl_rng_uniform(seed, 0xbe7du, i) < p;
    uint8_t *d = be->alloc(be, n);
    be->upload(be, d, h, n);
    if (host_out)
        *host_out = h;
    else
        free(h);
    return d;
}

static double bk_copy_bandwidth(bk_ctx *B, size_t bytes) {
    dfl_backend *be = B->be;
    float *a = bk_rand(be, bytes / 4, -1, 1, 1), *b = be->alloc(be, bytes);
    double secs;
    BK_TIME(B, secs, be->copy(be, b, a, bytes));
    be->free(be, a);
    be->free(be, b);
    const double gbs = 2.0 * (double)bytes / secs / 1e9;
    B->copy_gbs = gbs;
    char shape[64];
    snprintf(shape, sizeof shape, "%.0f MiB", (double)bytes / 1048576.0);
    bk_row(B, "copy (reference)", shape, 2.0 * (double)bytes, secs);
    return gbs;
}

/* noise_context and ensemble_build on n fields of c x s x s, mask 1 channel. */
static void bk_method(bk_ctx *B, int n, int c, int s, int k) {
    dfl_backend *be = B->be;
    if (!be->noise_context || !be->qmse || !be->ensemble_build || !be->ensemble_reduce) {
        bk_skip(B, "method ops", "n/a (backend has no fused method ops)");
        return;
    }
    const size_t hw = (size_t)s * s, nx = (size_t)n * c * hw, np = (size_t)n * hw;
    uint8_t *hmask;
    float *x = bk_rand(be, nx, -2, 2, 2);
    uint8_t *mask = bk_mask(be, np, 0.5f, 3, &hmask);
    float *input = be->alloc(be, nx * 2 * sizeof(float));
    uint8_t *query = be->alloc(be, nx);
    int32_t *qcount = be->alloc(be, (size_t)n * sizeof(int32_t));
    char shape[64];
    static const int strategies[2] = {DFL_STRATEGY_PIXEL, DFL_STRATEGY_BLOCK};
    static const char *names[2] = {"noise_context pixel", "noise_context block"};
    for (int si = 0; si < 2; ++si) {
        dfl_method_params mp;
        dfl_method_params_default(&mp);
        mp.strategy = (dfl_strategy)strategies[si];
        dfl_context_plan plan;
        dfl_context_plan_init(&plan);
        dfl_plan_request rq;
        memset(&rq, 0, sizeof rq);
        rq.n = n, rq.k = 1, rq.c = c, rq.h = s, rq.w = s, rq.mask_channels = 1, rq.mask = hmask;
        rq.t_eps = DFL_T_EPS, rq.seed = 1, rq.step = 1;
        if (dfl_context_plan_make(&plan, &mp, &rq) != DFL_OK) {
            bk_skip(B, names[si], dfl_last_error());
            dfl_clear_error();
            continue;
        }
        void *dplan = be->alloc(be, plan.bytes);
        be->upload(be, dplan, plan.data, plan.bytes);
        dfl_noise_context_args a;
        memset(&a, 0, sizeof a);
        a.n = n, a.c = c, a.h = s, a.w = s, a.mask_channels = 1, a.rule = dfl_method_rule(&mp), a.plan = dplan;
        a.x_obs = x, a.mask = mask, a.net_input = input, a.query = query, a.query_count = qcount;
        double secs;
        BK_TIME(B, secs, be->noise_context(be, &a));
        /* reads x, mask; writes the 2C input, the query bits */
        snprintf(shape, sizeof shape, "%dx%dx%dx%d", n, c, s, s);
        bk_row(B, names[si], shape, (double)nx * (4 + 8 + 1) + (double)np, secs);
        be->free(be, dplan);
        dfl_context_plan_free(&plan);
    }

    /* qmse with its gradient; the normaliser given (the trainer passes the global count) */
    {
        float *pred = bk_rand(be, nx, -2, 2, 4), *grad = be->alloc(be, nx * sizeof(float));
        dfl_qmse_args q;
        memset(&q, 0, sizeof q);
        q.n = n, q.c = c, q.h = s, q.w = s, q.pred = pred, q.x_obs = x, q.query = query, q.denom = 1000.0;
        q.grad = grad;
        double secs;
        BK_TIME(B, secs, (void)be->qmse(be, &q));
        snprintf(shape, sizeof shape, "%dx%dx%dx%d", n, c, s, s);
        bk_row(B, "qmse + grad", shape, (double)nx * (4 + 4 + 1 + 4), secs);
        be->free(be, pred);
        be->free(be, grad);
    }

    /* ensemble_build (K draws per sample, one launch) and ensemble_reduce */
    {
        const int ne = n / k > 0 ? n / k : 1; /* keep the N*K inputs the size of the training batch */
        dfl_method_params mp;
        dfl_method_params_default(&mp);
        dfl_context_plan plan;
        dfl_context_plan_init(&plan);
        dfl_plan_request rq;
        memset(&rq, 0, sizeof rq);
        rq.n = ne, rq.k = k, rq.c = c, rq.h = s, rq.w = s, rq.mask_channels = 1, rq.mask = hmask;
        rq.t = DFL_T_EPS, rq.t_eps = DFL_T_EPS, rq.seed = 1, rq.step = 1;
        if (dfl_context_plan_make(&plan, &mp, &rq) == DFL_OK) {
            void *dplan = be->alloc(be, plan.bytes);
            be->upload(be, dplan, plan.data, plan.bytes);
            const size_t rows = (size_t)ne * k * hw;
            float *ens_in = be->alloc(be, rows * 2 * c * sizeof(float));
            dfl_ensemble_build_args e;
            memset(&e, 0, sizeof e);
            e.n = ne, e.c = c, e.h = s, e.w = s, e.mask_channels = 1, e.k = k, e.rule = dfl_method_rule(&mp),
            e.plan = dplan;
            e.x = x, e.mask = mask, e.net_input = ens_in;
            double secs;
            BK_TIME(B, secs, be->ensemble_build(be, &e));
            snprintf(shape, sizeof shape, "%dx%d x K%d, %dx%d", ne, c, k, s, s);
            bk_row(B, "ensemble_build", shape, (double)ne * c * hw * 4 + (double)ne * hw + (double)rows * 2 * c * 4,
                   secs);
            float *pred = bk_rand(be, rows * c, -1, 1, 5);
            float *mean = be->alloc(be, (size_t)ne * c * hw * sizeof(float));
            float *sd = be->alloc(be, (size_t)ne * c * hw * sizeof(float));
            dfl_ensemble_reduce_args r = {ne, k, c, s, s, pred, mean, sd};
            BK_TIME(B, secs, be->ensemble_reduce(be, &r));
            bk_row(B, "ensemble_reduce mean+std", shape, (double)rows * c * 4 + 2.0 * ne * c * hw * 4, secs);
            be->free(be, pred);
            be->free(be, mean);
            be->free(be, sd);
            be->free(be, ens_in);
            be->free(be, dplan);
        } else {
            bk_skip(B, "ensemble_build", dfl_last_error());
            dfl_clear_error();
        }
        dfl_context_plan_free(&plan);
    }
    free(hmask);
    be->free(be, x);
    be->free(be, mask);
    be->free(be, input);
    be->free(be, query);
    be->free(be, qcount);
}

/* Group norm + SiLU and the elementwise / layout kernels on [n, s*s, ch]. */
static void bk_activations(bk_ctx *B, int n, int s, int ch) {
    dfl_backend *be = B->be;
    const size_t hw = (size_t)s * s, nx = (size_t)n * hw * ch;
    float *x = bk_rand(be, nx, -2, 2, 6), *dy = bk_rand(be, nx, -1, 1, 7), *y = be->alloc(be, nx * sizeof(float));
    float *dx = be->alloc(be, nx * sizeof(float));
    float *gamma = bk_rand(be, (size_t)ch, 0.5f, 1.5f, 8), *beta = bk_rand(be, (size_t)ch, -0.5f, 0.5f, 9);
    float *mean = be->alloc(be, (size_t)n * 8 * sizeof(float)), *rstd = be->alloc(be, (size_t)n * 8 * sizeof(float));
    float *dg = be->alloc(be, (size_t)ch * sizeof(float)), *db = be->alloc(be, (size_t)ch * sizeof(float));
    float *bias = bk_rand(be, (size_t)n * ch, -1, 1, 10);
    char shape[64];
    snprintf(shape, sizeof shape, "%dx%dx%dx%d", n, s, s, ch);
    const double f = (double)nx * 4; /* bytes of one tensor */
    double secs;
    BK_TIME(B, secs, be->group_norm_forward(be, n, (int)hw, ch, 8, 1e-5f, x, gamma, beta, y, mean, rstd, 1));
    bk_row(B, "group_norm+silu fwd", shape, 2 * f, secs);
    BK_TIME(B, secs,
            be->group_norm_backward(be, n, (int)hw, ch, 8, x, gamma, beta, mean, rstd, dy, NULL, dx, dg, db, 1));
    bk_row(B, "group_norm+silu bwd", shape, 3 * f, secs);
    BK_TIME(B, secs, be->silu_forward(be, nx, x, y));
    bk_row(B, "silu fwd", shape, 2 * f, secs);
    BK_TIME(B, secs, be->silu_backward(be, nx, x, dy, dx));
    bk_row(B, "silu bwd", shape, 3 * f, secs);
    BK_TIME(B, secs, be->add(be, nx, x, dy, y));
    bk_row(B, "add", shape, 3 * f, secs);
    BK_TIME(B, secs, be->add_channel_bias(be, n, (int)hw, ch, y, bias));
    bk_row(B, "add_channel_bias (temb)", shape, 2 * f, secs);
    BK_TIME(B, secs, be->channel_bias_backward(be, n, (int)hw, ch, dy, bias));
    bk_row(B, "channel_bias_backward", shape, f, secs);
    BK_TIME(B, secs, be->concat_channels_forward(be, (size_t)n * hw / 2, ch, ch, x, dy, y));
    bk_row(B, "concat [h|skip] fwd", shape, 2 * f, secs);
    {
        const int q = s / 2; /* upsample a quarter-size field into y */
        BK_TIME(B, secs, be->upsample_nearest2x_forward(be, n, q, q, ch, x, y));
        bk_row(B, "upsample2x fwd", shape, f / 4 + f, secs);
        BK_TIME(B, secs, be->upsample_nearest2x_backward(be, n, q, q, ch, dy, dx));
        bk_row(B, "upsample2x bwd", shape, f + f / 4, secs);
    }
    BK_TIME(B, secs, (void)be->sum_squares(be, nx, x));
    bk_row(B, "sum_squares", shape, f, secs);
    float *all[] = {x, dy, y, dx, gamma, beta, mean, rstd, dg, db, bias};
    for (size_t i = 0; i < sizeof all / sizeof *all; ++i) be->free(be, all[i]);
}

static void bk_optimizer(bk_ctx *B, size_t np) {
    dfl_backend *be = B->be;
    float *p = bk_rand(be, np, -1, 1, 11), *g = bk_rand(be, np, -1, 1, 12), *m = bk_rand(be, np, -0.1f, 0.1f, 13);
    float *v = bk_rand(be, np, 0, 0.01f, 14), *e = bk_rand(be, np, -1, 1, 15);
    dfl_adamw_hparams h = {1e-7f, 0.9f, 0.999f, 1e-8f, 0.0f, 0.1f, 0.001f, 1.0f};
    char shape[64];
    snprintf(shape, sizeof shape, "%.1fM params", (double)np / 1e6);
    const double f = (double)np * 4;
    double secs;
    BK_TIME(B, secs, be->adamw_update(be, np, p, g, m, v, &h));
    bk_row(B, "adamw_update", shape, 7 * f, secs);
    BK_TIME(B, secs, be->ema_update(be, np, e, p, 0.999f));
    bk_row(B, "ema_update", shape, 3 * f, secs);
    if (!strcmp(be->name, "cuda")) {
        /* the trainer's parameter tensors, here 64 of them, in one launch */
        enum { T = 64 };
        float *pp[T], *gg[T], *mm[T], *vv[T], *ee[T];
        size_t sizes[T];
        const size_t per = np / T;
        for (int i = 0; i < T; ++i) {
            pp[i] = p + i * per, gg[i] = g + i * per, mm[i] = m + i * per, vv[i] = v + i * per, ee[i] = e + i * per;
            sizes[i] = per;
        }
        dfl_cuda_param_set *ps = dfl_cuda_param_set_create(be, T, pp, gg, mm, vv, ee, sizes);
        if (ps) {
            dfl_cuda_param_set_hparams(be, ps, &h, 1.0f, 0.999f);
            snprintf(shape, sizeof shape, "%d tensors, %.1fM", T, (double)per * T / 1e6);
            BK_TIME(B, secs, dfl_cuda_param_set_grad_sumsq(be, ps));
            bk_row(B, "multi-tensor grad sumsq", shape, (double)per * T * 4, secs);
            BK_TIME(B, secs, dfl_cuda_param_set_step(be, ps));
            bk_row(B, "multi-tensor adamw+ema", shape, (double)per * T * 4 * 9, secs);
            dfl_cuda_param_set_destroy(be, ps);
        }
    }
    float *all[] = {p, g, m, v, e};
    for (size_t i = 0; i < sizeof all / sizeof *all; ++i) be->free(be, all[i]);
}

int dfl_bench_kernels(int argc, char **argv) {
    const char *backend = "cuda", *precision = "fp32", *name;
    long n = -1, c = 4, size = -1, ch = 64, params = -1, k = 10, iters = 20, reps = 5;
    int json = 0, opt;
    dfl_opt_begin();
    while ((opt = dfl_opt_next(argc, argv, k_short, k_options, &name)) != -1) {
        dfl_status s = DFL_OK;
        switch (opt) {
        case 'h': fputs(k_usage, stdout); return 0;
        case OPT_JSON: json = 1; break;
        case OPT_BACKEND: backend = optarg; break;
        case OPT_PRECISION: precision = optarg; break;
        case OPT_N: s = dfl_cli_parse_int(name, optarg, 1, 1 << 16, &n); break;
        case OPT_C: s = dfl_cli_parse_int(name, optarg, 1, 64, &c); break;
        case OPT_SIZE: s = dfl_cli_parse_int(name, optarg, 8, 1 << 14, &size); break;
        case OPT_CHANNELS: s = dfl_cli_parse_int(name, optarg, 8, 4096, &ch); break;
        case OPT_PARAMS: s = dfl_cli_parse_int(name, optarg, 1024, 1L << 34, &params); break;
        case OPT_K: s = dfl_cli_parse_int(name, optarg, 1, 1024, &k); break;
        case OPT_ITERS: s = dfl_cli_parse_int(name, optarg, 1, 100000, &iters); break;
        case OPT_REPS: s = dfl_cli_parse_int(name, optarg, 1, BK_MAX_REPS, &reps); break;
        default: s = DFL_EUSAGE; /* '?': dfl_opt_next recorded the message */
        }
        if (s != DFL_OK) return dfl_cli_exit("bench kernels", s);
    }
    if (dfl_opt_positionals(argc, argv, 0) != DFL_OK) return dfl_cli_exit("bench kernels", DFL_EUSAGE);
    if (ch % 8 != 0)
        return dfl_cli_exit(
            "bench kernels",
            dfl_fail(DFL_EUSAGE, "option --channels: %ld is not a multiple of 8 (group norm has 8 groups)", ch));
    dfl_precision prec;
    if (dfl_precision_parse("option --precision", precision, &prec) != DFL_OK)
        return dfl_cli_exit("bench kernels", DFL_EUSAGE);
    const int cuda = !strcmp(backend, "cuda");
    if (!cuda && strcmp(backend, "cpu"))
        return dfl_cli_exit("bench kernels",
                            dfl_fail(DFL_EUSAGE, "option --backend: '%s' is not cuda or cpu", backend));
    if (cuda && !dfl_cuda_available())
        return dfl_cli_exit("bench kernels",
                            dfl_fail(DFL_EUSAGE, "no CUDA device: this build or machine has no CUDA "
                                                 "(`dynfill bench kernels --backend cpu` measures the CPU backend)"));
    dfl_backend *be = cuda ? dfl_backend_cuda_create(0, prec) : dfl_backend_cpu_create(0);
    if (!be) return dfl_cli_exit("bench kernels", DFL_EUSAGE);
    const int shrink = cuda ? 1 : 8;
    if (n < 0) n = 64 / shrink;
    if (size < 0) size = 256;
    if (params < 0) params = (64L << 20) / shrink;

    bk_ctx B = {be, (int)iters, (int)reps, 0.0, NULL};
    cJSON *root = NULL;
    char dev[160];
    if (cuda)
        dfl_cuda_describe(be, dev, sizeof dev);
    else
        snprintf(dev, sizeof dev, "CPU backend");
    if (json) {
        root = dfl_json_object();
        dfl_json_add_string(root, "device", dev);
        dfl_json_add_string(root, "backend", be->name);
        dfl_json_add_int(root, "iters", iters);
        dfl_json_add_int(root, "reps", reps);
        B.kernels = dfl_json_add_array(root, "kernels");
    } else {
        printf("bench kernels: %s, backend %s; median of %ld timings of %ld calls\n", dev, be->name, reps, iters);
        printf("%-28s %-26s %10s %10s %9s %8s\n", "kernel", "shape", "MB/call", "us/call", "GB/s", "% copy");
    }
    bk_copy_bandwidth(&B, cuda ? ((size_t)1 << 30) : ((size_t)64 << 20));
    bk_method(&B, (int)n, (int)c, (int)size, (int)k);
    bk_activations(&B, (int)(cuda ? 32 : 4), cuda ? 128 : 64, (int)ch);
    bk_optimizer(&B, (size_t)params);
    if (root) { /* one line, after every kernel ran */
        dfl_json_add_number(root, "copy_gbs", B.copy_gbs, 4);
        dfl_json_write_line(stdout, root);
        cJSON_Delete(root);
    }
    dfl_backend_destroy(be);
    return 0;
}
