/* `dynfill bench impute`: median seconds per call of the imputer (the work
 * of `dynfill impute` on one chunk: K context masks per sample drawn in one
 * fused launch, one network forward over the N*K rows, the ensemble mean
 * and spread in one reduction; a multi-step sampler repeats the forward),
 * on random 20 %-observed fields. The model is a trained checkpoint
 * (--ckpt) or a freshly initialised dfl-unet v1 built from the model
 * options (written to a temporary checkpoint and loaded the way `impute`
 * loads one). Reports samples/s, network rows/s and achieved GFLOP/s
 * (forward FLOPs only). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "bench_model.h"
#include "core/args.h"
#include "core/clock.h"
#include "core/cpu_share.h"
#include "core/json_util.h"
#include "core/memory.h"
#include "dynfill/checkpoint.h"
#include "dynfill/config.h"
#include "dynfill/infer.h"
#include "dynfill/model.h"
#include "shared/philox.h"

static const char k_usage[] =
    "usage: dynfill bench impute [--ckpt RUN/ckpt.h5 | --C 1 --base 32 --mult 1,2,2 --nres 2\n"
    "                            --attention 0|1 --periodic none|x|y|xy] [--size 64 | --size HxW]\n"
    "                            [--n 6] [-K 10] [--steps 1] [--reps 5] [--warmup 1] [--seed S]\n"
    "                            [--backend cpu|cuda|auto] [--precision auto|fp32|tf32|bf16] [--json]\n"
    "Times the imputer on random 20 %-observed fields: per call, K context masks for each of the\n"
    "--n samples, one forward pass over the n*K rows (--steps S > 1: S - 1 passes over the n rows,\n"
    "then the n*K) and the ensemble mean and spread. Prints the memory plan first (exit 2 when it\n"
    "does not fit even with forwards of one row; forwards of fewer than K rows, a divisor of K,\n"
    "when K rows do not fit), then the median call time, samples/s, rows/s and GFLOP/s.\n"
    "  --ckpt PATH   a trained model (C from the checkpoint); without it a freshly initialised\n"
    "                model built from the model options (defaults as shown)\n"
    "  --n N         samples per call (default 6: 60 rows with K 10, like impute's --batch 64)\n";

enum {
    OPT_CKPT = 256,
    OPT_C,
    OPT_SIZE,
    OPT_N,
    OPT_STEPS,
    OPT_REPS,
    OPT_WARMUP,
    OPT_SEED,
    OPT_BACKEND,
    OPT_PRECISION,
    OPT_JSON
};
static const char k_short[] = "hK:";
static const struct option k_options[] = {
    {"ckpt", required_argument, NULL, OPT_CKPT},
    {"C", required_argument, NULL, OPT_C},
    {"base", required_argument, NULL, DFL_BENCH_OPT_BASE},
    {"mult", required_argument, NULL, DFL_BENCH_OPT_MULT},
    {"nres", required_argument, NULL, DFL_BENCH_OPT_NRES},
    {"attention", required_argument, NULL, DFL_BENCH_OPT_ATTENTION},
    {"periodic", required_argument, NULL, DFL_BENCH_OPT_PERIODIC},
    {"size", required_argument, NULL, OPT_SIZE},
    {"n", required_argument, NULL, OPT_N},
    {"K", required_argument, NULL, 'K'},
    {"steps", required_argument, NULL, OPT_STEPS},
    {"reps", required_argument, NULL, OPT_REPS},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"seed", required_argument, NULL, OPT_SEED},
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"precision", required_argument, NULL, OPT_PRECISION},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct {
    const char *ckpt, *backend, *precision;
    dfl_precision prec;
    long C, H, W, n, K, steps, reps, warm, seed;
    int json;
} bench_impute_args;

/* Fills a and the model options of cfg from argv; *help is set (and nothing
 * else checked) on -h/--help. */
static dfl_status parse_args(int argc, char **argv, bench_impute_args *a, dfl_config *cfg, int *help) {
    *help = 0;
    dfl_opt_begin();
    const char *name;
    int c;
    while ((c = dfl_opt_next(argc, argv, k_short, k_options, &name)) != -1) {
        dfl_status s = DFL_OK;
        switch (c) {
        case 'h': *help = 1; return DFL_OK;
        case OPT_JSON: a->json = 1; break;
        case OPT_CKPT: a->ckpt = optarg; break;
        case OPT_BACKEND: a->backend = optarg; break;
        case OPT_PRECISION: a->precision = optarg; break;
        case OPT_C: s = dfl_cli_parse_int(name, optarg, 1, DFL_UNET_MAX_WIDTH, &a->C); break;
        case OPT_N: s = dfl_cli_parse_int(name, optarg, 1, 1 << 16, &a->n); break;
        case 'K': s = dfl_cli_parse_int(name, optarg, 1, 1 << 16, &a->K); break;
        case OPT_STEPS: s = dfl_cli_parse_int(name, optarg, 1, 1 << 16, &a->steps); break;
        case OPT_REPS: s = dfl_cli_parse_int(name, optarg, 1, 1 << 20, &a->reps); break;
        case OPT_WARMUP: s = dfl_cli_parse_int(name, optarg, 0, 1 << 20, &a->warm); break;
        case OPT_SEED: s = dfl_cli_parse_int(name, optarg, 0, 1L << 62, &a->seed); break;
        case OPT_SIZE: s = dfl_bench_parse_size(optarg, &a->H, &a->W); break;
        case DFL_BENCH_OPT_BASE:
        case DFL_BENCH_OPT_MULT:
        case DFL_BENCH_OPT_NRES:
        case DFL_BENCH_OPT_ATTENTION:
        case DFL_BENCH_OPT_PERIODIC: s = dfl_bench_model_option(cfg, c, optarg); break;
        default: return DFL_EUSAGE; /* '?': dfl_opt_next recorded the message */
        }
        if (s != DFL_OK) return s;
    }
    DFL_TRY(dfl_opt_positionals(argc, argv, 0));
    return dfl_precision_parse("option --precision", a->precision, &a->prec);
}

/* Writes a freshly initialised model described by cfg to a temporary
 * checkpoint; *path receives its name (unlink it when done). */
static dfl_status fresh_checkpoint(dfl_backend *be, dfl_config *cfg, const bench_impute_args *a, char *path,
                                   size_t path_size) {
    const char *tmp = getenv("TMPDIR");
    snprintf(path, path_size, "%s/dfl_bench_impute_XXXXXX.h5", tmp && tmp[0] ? tmp : "/tmp");
    int fd = mkstemps(path, 3);
    if (fd < 0) return dfl_fail(DFL_EUSAGE, "%s: cannot create a temporary checkpoint", path);
    close(fd);
    dfl_unet_config uc;
    dfl_bench_unet_config(cfg, (int)a->C, &uc);
    dfl_unet *m = NULL;
    dfl_status s = dfl_unet_create(be, &uc, &m);
    if (s == DFL_OK) {
        dfl_unet_init_params(m, (uint64_t)a->seed);
        s = dfl_bench_save_model(path, m, cfg, (int)a->C, (uint64_t)a->seed);
    }
    dfl_unet_destroy(m);
    if (s != DFL_OK) unlink(path);
    return s;
}

/* Forward FLOPs of one network row of the checkpoint's model at h x w. */
static dfl_status forward_flops(const char *ckpt, dfl_backend *be, int h, int w, double *flops) {
    dfl_config cfg;
    dfl_ckpt_meta meta;
    dfl_unet *m = NULL;
    dfl_status s = dfl_checkpoint_build_model(ckpt, be, 1, &cfg, &meta, &m);
    if (s != DFL_OK) return s;
    dfl_unet_plan_size ps;
    s = dfl_unet_plan_measure(m, 1, h, w, 0, &ps);
    if (s == DFL_OK) *flops = ps.flops_fwd_per_sample;
    dfl_unet_destroy(m);
    dfl_ckpt_meta_free(&meta);
    return s;
}

int dfl_bench_impute(int argc, char **argv) {
    dfl_config cfg;
    dfl_config_defaults(&cfg);
    bench_impute_args a = {.backend = "cpu",
                           .precision = "fp32",
                           .C = 1,
                           .H = 64,
                           .W = 64,
                           .n = 6,
                           .K = 10,
                           .steps = 1,
                           .reps = 5,
                           .warm = 1,
                           .seed = 1};
    int help;
    dfl_status s = parse_args(argc, argv, &a, &cfg, &help);
    if (s == DFL_OK && help) {
        fputs(k_usage, stdout);
        return 0;
    }
    if (s != DFL_OK) return dfl_cli_exit("bench impute", s);
    dfl_backend *be = dfl_backend_create(a.backend, a.prec);
    if (!be) return dfl_cli_exit("bench impute", DFL_EUSAGE);

    char tmp_ckpt[4096] = "";
    const char *ckpt = a.ckpt;
    if (ckpt) {
        dfl_ckpt_meta meta;
        s = dfl_checkpoint_read_meta(ckpt, &meta);
        if (s == DFL_OK) {
            a.C = meta.channels;
            dfl_ckpt_meta_free(&meta);
        }
    } else {
        s = fresh_checkpoint(be, &cfg, &a, tmp_ckpt, sizeof tmp_ckpt);
        ckpt = tmp_ckpt;
    }
    double flops_row = 0.0;
    if (s == DFL_OK) s = forward_flops(ckpt, be, (int)a.H, (int)a.W, &flops_row);
    dfl_imputer *im = NULL;
    if (s == DFL_OK) s = dfl_imputer_create(ckpt, be, 0, &im);
    if (tmp_ckpt[0]) unlink(tmp_ckpt);
    if (s != DFL_OK) {
        dfl_backend_destroy(be);
        return dfl_cli_exit("bench impute", s);
    }
    const dfl_config *icfg = dfl_imputer_config(im);
    dfl_impute_opts o;
    memset(&o, 0, sizeof o);
    o.K = (int)a.K;
    o.steps = (int)a.steps;
    o.ddim = !strcmp(icfg->infer_update, "ddim");
    o.t_eps = (float)icfg->infer_t_eps;
    o.seed = (uint64_t)a.seed;

    const size_t chw = (size_t)a.C * a.H * a.W, hw = (size_t)a.H * a.W;
    const size_t n_obs = (size_t)a.n * chw, n_px = (size_t)a.n * hw;
    /* the memory plan: rows per forward lowered (divisors of K) until a call fits, else exit 2
     * before allocating (docs/scaling.md, "Memory") */
    size_t need = 0;
    {
        const char *src;
        size_t avail = dfl_backend_memory_available(be, &src);
        int n = (int)a.n;
        s = dfl_imputer_fit(im, &o, 1, &n, n, (int)a.C, (int)a.H, (int)a.W, 1, hw * (3 * a.C * sizeof(float) + 1), 0,
                            avail, avail ? src : NULL, "--n or -K", &need);
        char b1[32], b2[32];
        if (!a.json)
            printf("bench impute: memory plan %s with %d network rows per forward, available %s%s%s%s\n",
                   dfl_memory_format(need, b1, sizeof b1), o.fwd_rows > 0 ? o.fwd_rows : o.K,
                   avail ? dfl_memory_format(avail, b2, sizeof b2) : "unknown", avail ? " (" : "", avail ? src : "",
                   avail ? ")" : "");
    }
    if (s != DFL_OK) {
        dfl_imputer_destroy(im);
        dfl_backend_destroy(be);
        return dfl_cli_exit("bench impute", s);
    }
    float *obs = dfl_xmalloc(n_obs * sizeof(float)), *pred = dfl_xmalloc(n_obs * sizeof(float));
    float *spread = dfl_xmalloc(n_obs * sizeof(float));
    uint8_t *mask = dfl_xmalloc(n_px);
    for (size_t i = 0; i < n_px; ++i) mask[i] = dfl_rng_uniform(9, 1, i) < 0.2f;
    for (size_t i = 0; i < n_obs; ++i) obs[i] = mask[(i / chw) * hw + i % hw] ? dfl_rng_normal(9, 2, i) : 0.0f;
    double *times = dfl_xmalloc((size_t)a.reps * sizeof(double));
    dfl_cpu_share_sample share0 = {0}, share1 = {0}; /* the others' load on our CPUs during the timed calls */
    for (long i = 0; i < a.warm + a.reps && s == DFL_OK; ++i) {
        if (i == a.warm) dfl_cpu_share_sample_now(&share0);
        const double t0 = dfl_clock_seconds();
        s = dfl_imputer_run(im, &o, (int)a.n, (int)a.C, (int)a.H, (int)a.W, 1, obs, mask, 0, pred, spread, NULL);
        be->synchronize(be);
        if (i >= a.warm) times[i - a.warm] = dfl_clock_seconds() - t0;
    }
    dfl_cpu_share_sample_now(&share1);
    const int on_cpu = !strcmp(be->name, "cpu");
    const double others = on_cpu ? dfl_cpu_share_others(&share0, &share1, 0.5) : -1;
    size_t nonfinite = 0;
    for (size_t i = 0; i < n_obs && s == DFL_OK; ++i) nonfinite += !isfinite(pred[i]) || !isfinite(spread[i]);
    if (s == DFL_OK && nonfinite) s = dfl_fail(DFL_EINTERNAL, "%zu non-finite predicted values", nonfinite);
    if (s == DFL_OK) {
        const double med = dfl_clock_median(times, (size_t)a.reps);
        /* network rows per call: S - 1 single-draw passes and the last K-ensemble */
        const double rows = (double)a.n * (a.steps - 1) + (double)a.n * a.K;
        const double gflops = flops_row * rows / med / 1e9;
        const int fwd = o.fwd_rows > 0 ? o.fwd_rows : o.K;
        if (a.json) {
            cJSON *o = dfl_json_object();
            dfl_json_add_string(o, "backend", be->name);
            dfl_json_add_string(o, "precision", dfl_precision_name(be->precision));
            dfl_json_add_int(o, "C", a.C);
            dfl_json_add_int(o, "H", a.H);
            dfl_json_add_int(o, "W", a.W);
            dfl_json_add_int(o, "n", a.n);
            dfl_json_add_int(o, "K", a.K);
            dfl_json_add_int(o, "steps", a.steps);
            dfl_json_add_number(o, "call_s", med, 6);
            dfl_json_add_number(o, "samples_per_s", a.n / med, 6);
            dfl_json_add_number(o, "rows_per_s", rows / med, 6);
            dfl_json_add_number(o, "rows", rows, 6);
            dfl_json_add_number(o, "gflops", gflops, 6);
            dfl_json_add_int(o, "memory_plan_bytes", (long long)need);
            dfl_json_add_int(o, "fwd_rows", (long long)fwd);
            dfl_json_add_number(o, "fwd_gflop_per_row", flops_row / 1e9, 6);
            if (others >= 0) dfl_json_add_number(o, "other_cpu_load", others, 3);
            dfl_json_write_line(stdout, o);
            cJSON_Delete(o);
        } else {
            printf("bench impute: backend %s (%s), C %ld, %ldx%ld, %ld samples x K %ld x %ld step%s per call, "
                   "forward %.3f GFLOP/row\n"
                   "  median call %.4f s (min %.4f, max %.4f over %ld calls)  %.3g samples/s  %.3g rows/s  "
                   "%.1f GFLOP/s\n",
                   be->name, dfl_precision_name(be->precision), a.C, a.H, a.W, a.n, a.K, a.steps,
                   a.steps > 1 ? "s" : "", flops_row / 1e9, med, times[0], times[a.reps - 1], a.reps, a.n / med,
                   rows / med, gflops);
            if (others >= 0)
                printf("  other processes kept %.2f of the %d CPUs busy during the timed calls\n", others, share1.cpus);
        }
    }
    free(times);
    free(obs);
    free(pred);
    free(spread);
    free(mask);
    dfl_imputer_destroy(im);
    dfl_backend_destroy(be);
    return dfl_cli_exit("bench impute", s);
}
