/* `dynfill bench train`: median seconds per training step of dfl-unet v1
 * on synthetic data: the real step of `dynfill train` (plan, fused
 * noise_context, forward, fused qmse, backward, AdamW + clipping + EMA;
 * pixel strategy on 20 %-observed fields), samples/s and achieved GFLOP/s
 * (training FLOPs = 3 x the analytic forward count: forward,
 * backward-data and backward-weights). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "bench_model.h"
#include "core/args.h"
#include "core/clock.h"
#include "core/cpu_share.h"
#include "core/json_util.h"
#include "dynfill/checkpoint.h"
#include "dynfill/config.h"
#include "dynfill/model.h"
#include "dynfill/optim.h"
#include "dynfill/train.h"
#include "shared/philox.h"
#include "train/train_memory.h"

static const char k_usage[] =
    "usage: dynfill bench train [--C 1] [--size 64 | --size HxW] [--batch 16] [--base 32] [--mult 1,2,2]\n"
    "                           [--nres 2] [--attention 0|1] [--periodic none|x|y|xy] [--steps 10]\n"
    "                           [--warmup 2] [--backend cpu|cuda|auto] [--precision auto|fp32|tf32|bf16] [--json]\n"
    "                           [--seed S] [--save-ckpt PATH]\n"
    "Times training steps of dfl-unet v1 (forward + backward + AdamW) on random data after warm-up;\n"
    "prints the memory plan first (exit 2 when it does not fit), then the median step time, samples/s\n"
    "and achieved GFLOP/s.\n"
    "  --save-ckpt PATH  also write the freshly initialised model (seed S) as a checkpoint, e.g. for\n"
    "                    forward-parity checks of other frameworks' mirrors (benchmarks/peers)\n";

enum {
    OPT_C = 256,
    OPT_SIZE,
    OPT_BATCH,
    OPT_STEPS,
    OPT_WARMUP,
    OPT_BACKEND,
    OPT_PRECISION,
    OPT_JSON,
    OPT_SEED,
    OPT_SAVE_CKPT
};
static const char k_short[] = "h";
static const struct option k_options[] = {
    {"C", required_argument, NULL, OPT_C},
    {"size", required_argument, NULL, OPT_SIZE},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"base", required_argument, NULL, DFL_BENCH_OPT_BASE},
    {"mult", required_argument, NULL, DFL_BENCH_OPT_MULT},
    {"nres", required_argument, NULL, DFL_BENCH_OPT_NRES},
    {"attention", required_argument, NULL, DFL_BENCH_OPT_ATTENTION},
    {"periodic", required_argument, NULL, DFL_BENCH_OPT_PERIODIC},
    {"steps", required_argument, NULL, OPT_STEPS},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"precision", required_argument, NULL, OPT_PRECISION},
    {"json", no_argument, NULL, OPT_JSON},
    {"seed", required_argument, NULL, OPT_SEED},
    {"save-ckpt", required_argument, NULL, OPT_SAVE_CKPT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int dfl_bench_train(int argc, char **argv) {
    dfl_config cfg;
    dfl_config_defaults(&cfg);
    long C = 1, H = 64, W = 64, batch = 16, steps = 10, warm = 2;
    int json = 0, c;
    const char *backend = "cpu", *precision = "fp32", *save_ckpt = NULL, *name;
    long seed = 1;
    dfl_opt_begin();
    while ((c = dfl_opt_next(argc, argv, k_short, k_options, &name)) != -1) {
        dfl_status s = DFL_OK;
        switch (c) {
        case 'h': fputs(k_usage, stdout); return 0;
        case OPT_C: s = dfl_cli_parse_int(name, optarg, 1, DFL_UNET_MAX_WIDTH, &C); break;
        case OPT_SIZE: s = dfl_bench_parse_size(optarg, &H, &W); break;
        case OPT_BATCH: s = dfl_cli_parse_int(name, optarg, 1, 1 << 16, &batch); break;
        case OPT_STEPS: s = dfl_cli_parse_int(name, optarg, 1, 1 << 20, &steps); break;
        case OPT_WARMUP: s = dfl_cli_parse_int(name, optarg, 0, 1 << 20, &warm); break;
        case OPT_BACKEND: backend = optarg; break;
        case OPT_SAVE_CKPT: save_ckpt = optarg; break;
        case OPT_SEED: s = dfl_cli_parse_int(name, optarg, 0, 1L << 62, &seed); break;
        case OPT_PRECISION: precision = optarg; break;
        case OPT_JSON: json = 1; break;
        case DFL_BENCH_OPT_BASE:
        case DFL_BENCH_OPT_MULT:
        case DFL_BENCH_OPT_NRES:
        case DFL_BENCH_OPT_ATTENTION:
        case DFL_BENCH_OPT_PERIODIC: s = dfl_bench_model_option(&cfg, c, optarg); break;
        default: s = DFL_EUSAGE; /* '?': dfl_opt_next recorded the message */
        }
        if (s != DFL_OK) return dfl_cli_exit("bench train", s);
    }
    if (dfl_opt_positionals(argc, argv, 0) != DFL_OK) return dfl_cli_exit("bench train", DFL_EUSAGE);
    dfl_precision prec;
    if (dfl_precision_parse("option --precision", precision, &prec) != DFL_OK)
        return dfl_cli_exit("bench train", DFL_EUSAGE);
    dfl_backend *be = dfl_backend_create(backend, prec);
    if (!be) return dfl_cli_exit("bench train", DFL_EUSAGE);
    dfl_unet_config uc;
    dfl_bench_unet_config(&cfg, (int)C, &uc);
    dfl_unet *m = NULL;
    dfl_status s = dfl_unet_create(be, &uc, &m);
    /* the memory plan, printed and checked before anything large is allocated */
    dfl_train_memory mem;
    if (s == DFL_OK) s = dfl_trainer_memory(m, &cfg, (int)batch, (int)C, (int)H, (int)W, 1, 1, &mem);
    if (s == DFL_OK && !json) dfl_train_memory_print(stdout, &mem, (int)batch, (int)H, (int)W);
    if (s == DFL_OK) s = dfl_train_memory_check(&mem, be, "bench train", "--batch, --size or --base");
    if (s == DFL_OK) s = dfl_unet_plan(m, (int)batch, (int)H, (int)W);
    if (s != DFL_OK) {
        dfl_unet_destroy(m);
        dfl_backend_destroy(be);
        return dfl_cli_exit("bench train", s);
    }
    dfl_unet_init_params(m, (uint64_t)seed);
    if (save_ckpt) {
        s = dfl_bench_save_model(save_ckpt, m, &cfg, (int)C, (uint64_t)seed);
        if (s != DFL_OK) {
            dfl_unet_destroy(m);
            dfl_backend_destroy(be);
            return dfl_cli_exit("bench train", s);
        }
    }
    dfl_comm *comm = dfl_comm_single();
    dfl_method_params mp;
    dfl_method_params_default(&mp);
    dfl_trainer *tr = NULL;
    s = dfl_trainer_create(be, m, comm, &cfg, &mp, (int)batch, (int)C, (int)H, (int)W, 1, &tr);
    if (s != DFL_OK) {
        dfl_comm_destroy(comm);
        dfl_unet_destroy(m);
        dfl_backend_destroy(be);
        return dfl_cli_exit("bench train", s);
    }
    size_t n_obs = (size_t)batch * C * H * W, n_px = (size_t)batch * H * W;
    float *obs = dfl_xmalloc(n_obs * sizeof(float));
    uint8_t *mask = dfl_xmalloc(n_px);
    for (size_t i = 0; i < n_px; ++i) mask[i] = dfl_rng_uniform(7, 1, i) < 0.2f;
    for (size_t i = 0; i < n_obs; ++i)
        obs[i] = mask[(i / ((size_t)C * H * W)) * H * W + i % ((size_t)H * W)] ? dfl_rng_normal(7, 2, i) : 0.0f;

    double *times = dfl_xmalloc((size_t)steps * sizeof(double));
    dfl_cpu_share_sample share0, share1; /* the others' load on our CPUs during the timed steps */
    for (long i = 0; i < warm + steps && s == DFL_OK; ++i) {
        if (i == warm) dfl_cpu_share_sample_now(&share0);
        double t0 = dfl_clock_seconds();
        s = dfl_trainer_step(tr, obs, mask, i, NULL);
        be->synchronize(be);
        if (i >= warm) times[i - warm] = dfl_clock_seconds() - t0;
    }
    if (s != DFL_OK) goto done;
    dfl_cpu_share_sample_now(&share1);
    /* a figure taken next to other busy processes is not the machine's (docs/cpu-backend.md) */
    const double others = dfl_cpu_share_others(&share0, &share1, 0.5);
    double med = dfl_clock_median(times, (size_t)steps);
    double gflop = 3.0 * dfl_unet_forward_flops_per_sample(m) * batch / 1e9;
    double sps = batch / med;
    /* on the CPU: the ISA oneDNN dispatched and the machine's matrix-multiply
     * peak at this precision, measured now with the same threads */
    const int on_cpu = !strcmp(be->name, "cpu");
    const double peak = on_cpu ? dfl_cpu_gemm_peak_gflops(be->precision) : 0.0;
    const char *prec_name = dfl_precision_name(be->precision);
    if (json) {
        cJSON *o = dfl_json_object();
        dfl_json_add_string(o, "backend", be->name);
        dfl_json_add_int(o, "C", C);
        dfl_json_add_int(o, "H", H);
        dfl_json_add_int(o, "W", W);
        dfl_json_add_int(o, "batch", batch);
        dfl_json_add_int(o, "params", (long long)dfl_unet_num_params(m));
        dfl_json_add_number(o, "step_s", med, 6);
        dfl_json_add_number(o, "samples_per_s", sps, 6);
        dfl_json_add_number(o, "gflops", gflop / med, 6);
        dfl_json_add_number(o, "fwd_gflop_per_sample", dfl_unet_forward_flops_per_sample(m) / 1e9, 6);
        dfl_json_add_int(o, "memory_plan_bytes", (long long)mem.total);
        dfl_json_add_string(o, "precision", prec_name);
        if (on_cpu) {
            dfl_json_add_string(o, "isa", dfl_cpu_isa_name());
            dfl_json_add_number(o, "gemm_peak_gflops", peak, 6);
            dfl_json_add_number(o, "peak_fraction", gflop / med / peak, 4);
            if (others >= 0) dfl_json_add_number(o, "other_cpu_load", others, 3);
        }
        dfl_json_write_line(stdout, o);
        cJSON_Delete(o);
    } else {
        printf("bench train: backend %s, C %ld, %ldx%ld, batch %ld, %zu parameters, forward %.3f GFLOP/sample\n"
               "  median step %.4f s (min %.4f, max %.4f over %ld steps)  %.2f samples/s  %.1f GFLOP/s\n",
               be->name, C, H, W, batch, dfl_unet_num_params(m), dfl_unet_forward_flops_per_sample(m) / 1e9, med,
               times[0], times[steps - 1], steps, sps, gflop / med);
        if (on_cpu)
            printf("  precision %s, oneDNN ISA %s: %s matrix-multiply peak %.1f GFLOP/s now; the step reaches %.0f %% "
                   "of it\n",
                   prec_name, dfl_cpu_isa_name(), be->precision == DFL_PRECISION_BF16 ? "bf16" : "sgemm", peak,
                   100.0 * gflop / med / peak);
        if (on_cpu && others >= 0)
            printf("  other processes kept %.2f of the %d CPUs busy during the timed steps\n", others, share1.cpus);
    }
done:
    free(times);
    free(obs);
    free(mask);
    dfl_trainer_destroy(tr);
    dfl_comm_destroy(comm);
    dfl_unet_destroy(m);
    dfl_backend_destroy(be);
    return dfl_cli_exit("bench train", s);
}
