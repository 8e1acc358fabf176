/* `dynfill impute`: fill the missing entries of a dataset with a trained
 * model (K-ensemble, single or multi-step) or a classical baseline, and
 * write /pred, /std and /mask, and with --members the K ensemble members
 * /members (docs/design.md, "Files" and "Command line"). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/args.h"
#include "core/cpu_share.h"
#include "core/memory.h"
#include "core/progress.h"
#include "dynfill/baseline.h"
#include "dynfill/climatology.h"
#include "dynfill/infer.h"
#include "shared/philox.h"

static const char k_usage[] =
    "usage: dynfill impute --ckpt RUN_DIR/ckpt.h5 --in OBS.h5 --out PRED.h5 [-K K] [--steps S]\n"
    "                      [--update ddim|x0] [--seed S] [--batch ROWS] [--backend cpu|cuda|auto] [--raw]\n"
    "                      [--raw-std] [--raw-pred] [--members] [--calibrate] [--context RULE]\n"
    "       dynfill impute --method mean|harmonic --in OBS.h5 --out PRED.h5\n"
    "Fills the unobserved entries of OBS.h5; observed entries are kept exactly.\n"
    "  -K K            context masks per sample; the prediction is their mean, /std their spread\n"
    "                  (default: infer.K of the checkpoint's config, 10)\n"
    "  --steps S       1: single step at t = t_eps; S > 1: multi-step sampler whose last step is the\n"
    "                  K-ensemble (default: infer.steps of the checkpoint's config, 1)\n"
    "  --update U      multi-step update: ddim (x_t = a_t x0 + s_t eps) or x0 (x_t = a_t x0, as the\n"
    "                  reference code) (default: infer.update of the checkpoint's config, ddim)\n"
    "  --seed S        key of the context masks and noise (default 0)\n"
    "  --batch ROWS    network rows (samples x K) per pass (default: 64 rows, strategy empirical 64\n"
    "                  samples, fewer when that does not fit the available memory); the network runs\n"
    "                  one sample's K draws at a time, so the result is the same for every ROWS >= K\n"
    "                  (strategy empirical: partner masks come from the pass, so more samples per\n"
    "                  pass give more distinct contexts); ROWS < K runs forwards of fewer rows (a\n"
    "                  divisor of K)\n"
    "  --raw           use the raw weights instead of the EMA weights\n"
    "  --raw-std       write the ensemble spread as it is, without the checkpoint's calibration\n"
    "                  (std_scale, std_floor, std_gap_factor: a scale, a floor and a factor by the\n"
    "                  distance to the nearest observation, fitted on held-out samples at the end of\n"
    "                  training)\n"
    "  --raw-pred      write the network's ensemble mean as it is, without the checkpoint's spline\n"
    "                  correction (spline_weight, spline3_weight: /pred moved by those shares towards\n"
    "                  the order-2 (thin-plate) and order-3 grid splines through the observed entries,\n"
    "                  fitted on held-out samples at the end of training; the calibrated /std was\n"
    "                  fitted to the corrected errors)\n"
    "  --calibrate     refit the spline correction and the spread calibration on this input's own\n"
    "                  observations before imputing (entries hidden and imputed as at the end of\n"
    "                  training, on up to 64 samples, one drawn from each of 64 equal stretches of\n"
    "                  the file, so that a period in the data is not read at one phase; no truth\n"
    "                  is read), for data unlike the training run's held-out samples (another\n"
    "                  season, another observing network); costs one calibration, rounds of\n"
    "                  those samples until 20000 entries are hidden: more time than the\n"
    "                  imputation itself on small, sparse files (37 s against 3 s for 144 fields\n"
    "                  of 33x49 at 10 % pixels; 723 s against 27 s for 64 samples of ten 64x64\n"
    "                  channels, model.channels = shared). A station checkpoint\n"
    "                  (data.withhold_cells) given other stations hides stations as training does;\n"
    "                  a plain run there fits the spread alone (its spread fitted on the\n"
    "                  training's stations would be too wide; /pred stays the checkpoint's); given\n"
    "                  a few hours of the training's stations --calibrate keeps the checkpoint's\n"
    "                  calibration\n"
    "  --context RULE  how the K contexts are drawn from the observation. Default: those the\n"
    "                  checkpoint's calibration was fitted with, which `train` chose (infer.context =\n"
    "                  auto: pixel contexts in place of an empirical model's own where they\n"
    "                  score 4 % lower on its held-out samples). trained: the checkpoint's\n"
    "                  method.strategy; pixel[:RATIO]: each context a random RATIO of the observed\n"
    "                  entries (default method.context_ratio, 0.8); auto (with --calibrate): the\n"
    "                  choice made again on the input: both rules calibrated as their explicit runs\n"
    "                  are, then scored, each with its own calibration, on other entries hidden as\n"
    "                  pixel contexts hide (two calibrations and two scoring passes). An empirical\n"
    "                  context reads the entries this sample shares with another sample's mask, far\n"
    "                  fewer than it has where the masks are narrow swaths; pixel contexts read more\n"
    "                  of them at a density such a network never trained on. Without --calibrate a\n"
    "                  rule other than the checkpoint's keeps its calibration, which is said\n"
    "  --members       also write /members [N, K, C, H, W]: the K single-draw predictions of the last\n"
    "                  (t_eps) ensemble pass, in the data's units, observed entries the observations,\n"
    "                  their deviations from /pred scaled by std_scale plus centred noise of size\n"
    "                  std_floor (both times the entry's std_gap_factor), like /std (raw with\n"
    "                  --raw-std); their mean is /pred and `dynfill eval` scores their ensemble CRPS.\n"
    "                  K times the size of /pred, in the file and per pass in host memory (diffusion\n"
    "                  only)\n"
    "  --quiet         no progress output\n"
    "  --method M      diffusion (default, needs --ckpt), mean (per-sample channel mean) or harmonic\n"
    "                  (Laplace interpolation, periodic along the data's periodic axes)\n"
    "On the CPU, a warning names the OMP_NUM_THREADS that fit when other processes leave fewer cores\n"
    "than the threads.\n";

enum {
    OPT_CKPT = 256,
    OPT_IN,
    OPT_OUT,
    OPT_METHOD,
    OPT_BACKEND,
    OPT_UPDATE,
    OPT_STEPS,
    OPT_BATCH,
    OPT_SEED,
    OPT_RAW,
    OPT_QUIET,
    OPT_RAW_STD,
    OPT_RAW_PRED,
    OPT_MEMBERS,
    OPT_CALIBRATE,
    OPT_CONTEXT
};
static const char k_short[] = "hK:";
static const struct option k_options[] = {
    {"ckpt", required_argument, NULL, OPT_CKPT},
    {"in", required_argument, NULL, OPT_IN},
    {"out", required_argument, NULL, OPT_OUT},
    {"method", required_argument, NULL, OPT_METHOD},
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"update", required_argument, NULL, OPT_UPDATE},
    {"K", required_argument, NULL, 'K'},
    {"steps", required_argument, NULL, OPT_STEPS},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"seed", required_argument, NULL, OPT_SEED},
    {"raw", no_argument, NULL, OPT_RAW},
    {"raw-std", no_argument, NULL, OPT_RAW_STD},
    {"raw-pred", no_argument, NULL, OPT_RAW_PRED},
    {"members", no_argument, NULL, OPT_MEMBERS},
    {"calibrate", no_argument, NULL, OPT_CALIBRATE},
    {"context", required_argument, NULL, OPT_CONTEXT},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* --context; CONTEXT_CHECKPOINT (no --context): those the checkpoint's calibration was fitted with */
typedef enum { CONTEXT_CHECKPOINT, CONTEXT_TRAINED, CONTEXT_PIXEL, CONTEXT_AUTO } context_rule;

typedef struct {
    const char *ckpt, *in, *out, *method, *backend, *update;
    long K, steps, batch, seed;
    int raw, quiet, raw_std, raw_pred, members, calibrate;
    context_rule context;
    double context_ratio; /* --context pixel:RATIO; 0 = the checkpoint's method.context_ratio */
} impute_args;

/* --context trained | pixel[:RATIO] | auto */
static dfl_status parse_context(const char *text, impute_args *a) {
    if (!strcmp(text, "trained")) return a->context = CONTEXT_TRAINED, DFL_OK;
    if (!strcmp(text, "auto")) return a->context = CONTEXT_AUTO, DFL_OK;
    if (!strncmp(text, "pixel", 5) && (text[5] == '\0' || text[5] == ':')) {
        a->context = CONTEXT_PIXEL;
        a->context_ratio = 0.0;
        if (text[5] == '\0') return DFL_OK;
        char *end = NULL;
        const double r = strtod(text + 6, &end);
        if (end != text + 6 && *end == '\0' && r > 0.0 && r <= 1.0) return a->context_ratio = r, DFL_OK;
        return dfl_fail(DFL_EUSAGE, "--context '%s': the ratio after pixel: must be a number in (0, 1]", text);
    }
    return dfl_fail(DFL_EUSAGE, "--context '%s' is not one of trained, pixel, pixel:RATIO, auto", text);
}

/* Fills a from argv; *help is set (and nothing else checked) on -h/--help. */
static dfl_status parse(int argc, char **argv, impute_args *a, int *help) {
    memset(a, 0, sizeof *a);
    a->method = "diffusion";
    a->backend = "cpu";
    a->K = a->steps = -1;
    a->batch = 0; /* automatic */
    *help = 0;
    dfl_opt_begin();
    const char *name;
    int c;
    while ((c = dfl_opt_next(argc, argv, k_short, k_options, &name)) != -1) {
        dfl_status s = DFL_OK;
        switch (c) {
        case 'h': *help = 1; return DFL_OK;
        case OPT_CKPT: a->ckpt = optarg; break;
        case OPT_IN: a->in = optarg; break;
        case OPT_OUT: a->out = optarg; break;
        case OPT_METHOD: a->method = optarg; break;
        case OPT_BACKEND: a->backend = optarg; break;
        case OPT_UPDATE: a->update = optarg; break;
        case 'K': s = dfl_cli_parse_int(name, optarg, 1, 1 << 16, &a->K); break;
        case OPT_STEPS: s = dfl_cli_parse_int(name, optarg, 1, 1 << 16, &a->steps); break;
        case OPT_BATCH: s = dfl_cli_parse_int(name, optarg, 1, 1 << 20, &a->batch); break;
        case OPT_SEED: s = dfl_cli_parse_int(name, optarg, 0, 1L << 62, &a->seed); break;
        case OPT_RAW: a->raw = 1; break;
        case OPT_RAW_STD: a->raw_std = 1; break;
        case OPT_RAW_PRED: a->raw_pred = 1; break;
        case OPT_MEMBERS: a->members = 1; break;
        case OPT_CALIBRATE: a->calibrate = 1; break;
        case OPT_CONTEXT: s = parse_context(optarg, a); break;
        case OPT_QUIET: a->quiet = 1; break;
        default: return DFL_EUSAGE; /* '?': dfl_opt_next recorded the message */
        }
        if (s != DFL_OK) return s;
    }
    DFL_TRY(dfl_opt_positionals(argc, argv, 0));
    if (!a->in || !a->out) return dfl_fail(DFL_EUSAGE, "--in and --out are required");
    if (strcmp(a->method, "diffusion") && strcmp(a->method, "mean") && strcmp(a->method, "harmonic"))
        return dfl_fail(DFL_EUSAGE, "--method '%s' is not one of diffusion, mean, harmonic", a->method);
    if (!strcmp(a->method, "diffusion") && !a->ckpt)
        return dfl_fail(DFL_EUSAGE, "--ckpt is required for --method diffusion");
    if (a->members && strcmp(a->method, "diffusion"))
        return dfl_fail(DFL_EUSAGE, "--members needs --method diffusion: the %s baseline has no ensemble members",
                        a->method);
    if (a->calibrate && strcmp(a->method, "diffusion"))
        return dfl_fail(DFL_EUSAGE, "--calibrate needs --method diffusion: the %s baseline has no spread to calibrate",
                        a->method);
    if (a->calibrate && a->raw_std)
        return dfl_fail(DFL_EUSAGE, "--calibrate and --raw-std exclude each other: --raw-std writes the uncalibrated "
                                    "spread");
    if (a->context != CONTEXT_CHECKPOINT && strcmp(a->method, "diffusion"))
        return dfl_fail(DFL_EUSAGE, "--context needs --method diffusion: the %s baseline draws no contexts", a->method);
    if (a->context == CONTEXT_AUTO && !a->calibrate)
        return dfl_fail(DFL_EUSAGE, "--context auto needs --calibrate: the rules are scored on entries the "
                                    "calibration hides in the input");
    if (a->update && strcmp(a->update, "ddim") && strcmp(a->update, "x0"))
        return dfl_fail(DFL_EUSAGE, "--update '%s' is not one of ddim, x0", a->update);
    return DFL_OK;
}

/* The checkpoint's spread calibration on the missing entries (docs/design.md, "Calibrated spread"):
 * /std = sqrt((a spread)^2 + b^2) per channel, a and b times the factor of the entry's gap bin
 * (std_gap_factor, 1 without it); each member's deviation from the members' (double)
 * mean is scaled by a and gets b sqrt(K / (K - 1)) (z_k - mean_k z), z ~ N(0, 1) from Philox
 * (purpose 0xB2, keyed by the seed and the sample; centred, so the members' mean stays /pred, and
 * scaled so that their population variance gains b^2 in expectation): the members' spread is the
 * calibrated /std in expectation (K = 1: no floor term). Observed entries keep spread 0 and the
 * observation. */
#define DFL_RNG_PURPOSE_MEMBER_FLOOR 0xB2
static void calibrate_spread(const dfl_ckpt_meta *meta, int nb, int K, int c, int h, int w, int mc, const uint8_t *mask,
                             uint64_t seed, uint32_t first, float *spread, float *members) {
    const size_t px = (size_t)h * w;
    const size_t kstride = (size_t)c * px;
    double *z = members ? dfl_xmalloc((size_t)K * sizeof(double)) : NULL;
    uint16_t *bin = dfl_xcalloc(px, sizeof(uint16_t));
    for (int i = 0; i < nb; ++i) {
        const uint64_t stream = dfl_rng_stream(DFL_RNG_PURPOSE_MEMBER_FLOOR, 0, first + (uint32_t)i);
        for (int ch = 0; ch < c; ++ch) {
            const uint8_t *m = mask + ((size_t)i * mc + (mc == 1 ? 0 : ch)) * px;
            if (meta->calib.std_gap_factor && (mc > 1 || ch == 0)) /* once per mask plane */
                dfl_gap_bins(m, h, w, meta->periodic_x, meta->periodic_y, bin);
            const double *factor =
                meta->calib.std_gap_factor ? meta->calib.std_gap_factor + (size_t)ch * DFL_CKPT_GAP_BINS : NULL;
            for (size_t p = 0; p < px; ++p) {
                if (m[p]) continue;
                const double f = factor ? factor[bin[p]] : 1.0;
                const double sa = f * meta->calib.std_scale[ch],
                             sb = f * (meta->calib.std_floor ? meta->calib.std_floor[ch] : 0.0);
                float *sp = spread + ((size_t)i * c + ch) * px + p;
                *sp = (float)dfl_spread_calibrated(*sp, sa, sb);
                if (!members) continue;
                float *x = members + (size_t)i * K * kstride + (size_t)ch * px + p;
                double mu = 0.0, zbar = 0.0;
                for (int k = 0; k < K; ++k) {
                    mu += (double)x[k * kstride];
                    z[k] = K > 1 ? dfl_rng_normal(seed, stream, (uint64_t)k * kstride + (uint64_t)ch * px + p) : 0.0;
                    zbar += z[k];
                }
                mu /= (double)K;
                zbar /= (double)K;
                const double zs = K > 1 ? sb * sqrt((double)K / (K - 1)) : 0.0;
                for (int k = 0; k < K; ++k)
                    x[k * kstride] = (float)(mu + sa * ((double)x[k * kstride] - mu) + zs * (z[k] - zbar));
            }
        }
    }
    free(z);
    free(bin);
}

/* Which of the spline correction's solves `impute` runs (docs/design.md, "Spline correction"):
 * order 2 where the checkpoint has the weights and --raw-pred is not given, order 3 besides where
 * some channel takes a share of it. */
static int correction_orders(const impute_args *a, const dfl_ckpt_meta *meta, int c, int *order3) {
    const int correct = meta->calib.spline_weight && !a->raw_pred;
    *order3 = 0;
    for (int ch = 0; correct && meta->calib.spline3_weight && ch < c; ++ch)
        *order3 |= meta->calib.spline3_weight[ch] > 0.0;
    return correct;
}

/* Samples per pass and rows per forward: --batch ROWS gives ROWS / K samples (at least one) and
 * forwards of one sample's K draws (of the largest divisor of K up to ROWS when ROWS < K); without
 * it, 64 rows (strategy empirical: DFL_EMPIRICAL_PASS_SAMPLES samples) lowered until a pass fits the
 * available memory (docs/scaling.md, "Memory"). */
static dfl_status choose_chunk(const impute_args *a, dfl_imputer *im, const dfl_ckpt_meta *meta, dfl_impute_opts *o,
                               dfl_backend *be, int c, int h, int w, int mc, int *chunk_out) {
    /* empirical contexts intersect with another sample's mask: the pool is the chunk, by default
     * DFL_EMPIRICAL_PASS_SAMPLES samples */
    const int empirical = dfl_imputer_method(im)->strategy == DFL_STRATEGY_EMPIRICAL;
    int least = empirical ? 2 : 1;
    const long default_rows = empirical ? (long)DFL_EMPIRICAL_PASS_SAMPLES * o->K : 64;
    long rows = a->batch > 0 ? a->batch : default_rows;
    int chunk = (int)(rows / o->K);
    if (chunk < least) chunk = least;
    if (a->batch > 0 && rows < o->K) o->fwd_rows = dfl_impute_fwd_rows(o->K, (int)rows);
    const char *src = NULL;
    size_t avail = dfl_backend_memory_available(be, &src), need = 0;
    /* this command's host buffers: obs, pred, spread, the spline correction's S2 - P and S3 - P where
     * it runs them, mask, and with --members K times pred; besides, the correction's solves
     * (dfl_spline_toward: up to 256 MiB of samples, at least one sample's 8 fields, on the backend,
     * and a staging copy of 3 on the host) */
    int order3 = 0;
    const int correct = correction_orders(a, meta, c, &order3);
    const size_t fields = 3 + (size_t)correct + (size_t)order3 + (a->members ? (size_t)o->K : 0);
    size_t extra = (size_t)h * w * (fields * (size_t)c * sizeof(float) + (size_t)mc);
    size_t fixed = 0, spline_host = 0;
    if (correct) dfl_spline_toward_bytes(be, chunk, c, h, w, &fixed, &spline_host);
    const char *knobs = a->batch > 0 ? (a->members ? "--batch (rows per pass) or -K, or leave out --members"
                                                   : "--batch (rows per pass) or -K")
                                     : (a->members ? "-K, or leave out --members" : "-K");
    DFL_TRY(dfl_imputer_fit(im, o, a->batch <= 0, &chunk, least, c, h, w, mc, extra, fixed, avail, src, knobs, &need));
    if (be->memory_info) {
        /* a device backend: dfl_imputer_fit checked the device; the host buffers are checked here */
        const char *host_src = NULL;
        size_t host_avail = dfl_memory_available(&host_src);
        if (a->batch <= 0 && host_avail && (size_t)chunk * extra + spline_host > host_avail) {
            size_t fit = host_avail > spline_host ? (host_avail - spline_host) / extra : 0;
            chunk = fit > (size_t)least ? (int)fit : least;
        }
        char what[96];
        snprintf(what, sizeof what, "the host buffers of %d sample%s per pass%s", chunk, chunk > 1 ? "s" : "",
                 a->members ? " with --members" : "");
        DFL_TRY(dfl_memory_check((size_t)chunk * extra + spline_host, host_avail, host_src, what, knobs));
    }
    int fwd = o->fwd_rows > 0 ? o->fwd_rows : o->K;
    if (a->batch <= 0 && (chunk < (int)(default_rows / o->K) || fwd < o->K))
        dfl_info("impute: %d sample%s per pass, %d network rows per forward fit the available memory", chunk,
                 chunk > 1 ? "s" : "", fwd);
    *chunk_out = chunk;
    return DFL_OK;
}

/* The ratio of --context pixel[:RATIO]'s contexts: RATIO, default the checkpoint's method.context_ratio. */
static double pixel_ratio(const impute_args *a, const dfl_imputer *im) {
    return a->context_ratio > 0.0 ? a->context_ratio : dfl_imputer_config(im)->context_ratio;
}

/* The share of the observed entries each context reads under pixel contexts of `ratio` (0: the
 * trained rule), or -1 where the trained rule is not pixel: equal for the same contexts. */
static double context_share(const dfl_imputer *im, double ratio) {
    const int pixel_trained = dfl_imputer_trained_method(im)->strategy == DFL_STRATEGY_PIXEL;
    return ratio > 0 ? ratio : pixel_trained ? dfl_imputer_config(im)->context_ratio : -1.0;
}

/* The contexts of --context: without it those the checkpoint's calibration was fitted with (pixel
 * contexts where `train` chose them, infer.context), trained or pixel[:RATIO] as named, and for auto
 * the trained ones to start from. Without --calibrate the checkpoint's calibration serves other
 * contexts than it was fitted with, which is said. */
static void set_contexts(const impute_args *a, dfl_imputer *im, const dfl_ckpt_meta *meta) {
    const double fitted = meta->calib.context_ratio;
    const double ratio = a->context == CONTEXT_CHECKPOINT ? fitted
                         : a->context == CONTEXT_PIXEL    ? pixel_ratio(a, im)
                                                          : 0.0;
    dfl_imputer_set_pixel_contexts(im, ratio);
    if (a->quiet) return;
    const char *trained = dfl_method_strategy_name(dfl_imputer_trained_method(im)->strategy);
    if (a->context == CONTEXT_CHECKPOINT && fitted > 0)
        dfl_info("impute: pixel contexts (%.2f of the observed entries), which the checkpoint's calibration was "
                 "fitted with in place of the trained (%s) ones (infer.context; --context trained overrides)",
                 fitted, trained);
    if (a->context == CONTEXT_AUTO || a->calibrate || context_share(im, fitted) == context_share(im, ratio)) return;
    char was[64];
    if (fitted > 0)
        snprintf(was, sizeof was, "pixel contexts (%.2f)", fitted);
    else
        snprintf(was, sizeof was, "its trained (%s) contexts", trained);
    dfl_info("impute: --context %s without --calibrate: the checkpoint's spread calibration and spline weights "
             "were fitted with %s",
             a->context == CONTEXT_PIXEL ? "pixel" : "trained", was);
}

/* --calibrate: the spline weights and the spread calibration fitted again, as `train` fits them on its
 * held-out samples, on up to DFL_IMPUTE_CALIB_SAMPLES samples of the input, one from each of as many
 * equal stretches of it (dfl_sample_spread), with this run's K and seed; they replace the checkpoint's in meta. Only
 * what the checkpoint holds is refitted: without spline weights (an older checkpoint) or with --raw-pred
 * the spread is fitted to the network's own errors, and an order-2-only checkpoint stays order 2.
 * With --context auto the context rule is chosen on the way (dfl_std_choose_contexts, from the
 * trained contexts, as `train` chooses with infer.context = auto). */
#define DFL_IMPUTE_CALIB_SAMPLES 64
static dfl_status calibrate_on_input(const impute_args *a, dfl_imputer *im, const dfl_dataset *ds,
                                     const dfl_impute_opts *o, dfl_ckpt_meta *meta) {
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    const int c = info->c;
    const int64_t count = info->n < DFL_IMPUTE_CALIB_SAMPLES ? info->n : DFL_IMPUTE_CALIB_SAMPLES;
    const int correct = meta->calib.spline_weight && !a->raw_pred;
    if (!a->quiet)
        dfl_info("impute: %s: fitting on %lld of the %lld samples of %s, one from each of as many equal stretches",
                 a->calibrate ? "--calibrate" : "calibration on the input", (long long)count, (long long)info->n,
                 a->in);
    dfl_ckpt_calib cal; /* the arrays of what the checkpoint holds */
    dfl_ckpt_calib_alloc(&cal, c, correct, meta->calib.spline3_weight != NULL);
    /* the plain run (choose_input_calibration) fits the spread alone: its prediction is the checkpoint's */
    const int spread_only = !a->calibrate && correct;
    if (spread_only) {
        memcpy(cal.spline_weight, meta->calib.spline_weight, (size_t)c * sizeof *cal.spline_weight);
        if (cal.spline3_weight)
            memcpy(cal.spline3_weight, meta->calib.spline3_weight, (size_t)c * sizeof *cal.spline3_weight);
        if (!a->quiet) dfl_info("impute: the spline weights stay the checkpoint's; the spread is fitted on the input");
    }
    dfl_status s = dfl_std_calibrate_imputer(im, ds, 0, count, info->n, o->K, o->seed, spread_only, "impute", &cal);
    if (s == DFL_OK)
        s = a->context == CONTEXT_AUTO
                ? dfl_std_choose_contexts(im, ds, 0, count, info->n, o->K, o->seed, pixel_ratio(a, im), "impute", &cal)
                : DFL_OK;
    if (s != DFL_OK) {
        dfl_ckpt_calib_free(&cal);
        return s;
    }
    for (int ch = 0; !a->quiet && ch < c; ++ch)
        dfl_info("impute: %s, channel %s: std_scale %.4g, std_floor %.4g (the checkpoint's: %.4g, %.4g)%s",
                 a->calibrate ? "--calibrate" : "calibration on the input", info->channels[ch], cal.std_scale[ch],
                 cal.std_floor[ch], meta->calib.std_scale ? meta->calib.std_scale[ch] : 1.0,
                 meta->calib.std_floor ? meta->calib.std_floor[ch] : 0.0, correct ? "" : "; no spline correction");
    if (!correct) { /* the checkpoint's correction stays (none, or --raw-pred's, unused) */
        cal.spline_weight = meta->calib.spline_weight;
        cal.spline3_weight = meta->calib.spline3_weight;
        meta->calib.spline_weight = meta->calib.spline3_weight = NULL;
    }
    dfl_ckpt_calib_free(&meta->calib);
    meta->calib = cal;
    return DFL_OK;
}

/* Whether the calibration is fitted on the input (*on_input): with --calibrate, except on a station
 * checkpoint (data.withhold_cells) given a few hours of the training's own stations; without it, on a
 * station checkpoint given other stations, the spread alone (calibrate_on_input). The checkpoint's
 * calibration was fitted on the training's network: where the input's stations sit elsewhere (it
 * observes fewer than half of the withheld cells) the network's spread grows where its inputs are
 * cells it never read, its error much less (ERA5 stations at other cells: spread-skill 1.39 and 1.60
 * with the checkpoint's calibration, 1.02 and 1.03 with the spread fitted on the input). The plain run
 * keeps the checkpoint's spline weights, so its prediction is the checkpoint's; --calibrate refits
 * them on the input's hidden stations, which gained 13 % and 1.4 % MSE at 320 ERA5 stations, lost 6-7 %
 * at 160 and 3.5 % at 240, tied at 80: no rule (RESULTS.md, "Withheld stations"). Where the stations
 * are the training's but observe fewer entries at the withheld cells than a fit on them needs, the
 * calibration would hide stations the network trained on, whose spread is too narrow for the cells
 * between (six ERA5 hours, three windows: spread-skill 0.64-0.74 against the checkpoint's 0.84-0.94,
 * CRPS 0.5-2.4 % worse), so the checkpoint's stays. Either is said. */
static dfl_status choose_input_calibration(const impute_args *a, const dfl_dataset *ds, const dfl_ckpt_meta *meta,
                                           int *on_input) {
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    *on_input = a->calibrate;
    if (a->raw_std || !meta->withheld_cells || !meta->calib.std_scale) return DFL_OK;
    const int64_t count = info->n < DFL_IMPUTE_CALIB_SAMPLES ? info->n : DFL_IMPUTE_CALIB_SAMPLES;
    dfl_withheld_seen seen;
    DFL_TRY(dfl_calib_withheld_seen(ds, meta, 0, count, info->n, &seen));
    if (seen.cells == 0) return DFL_OK;
    const int other = 2 * seen.cells_seen < seen.cells; /* by the cells alone: few hours see most of them */
    if (!a->calibrate && other) {
        *on_input = 1;
        if (!a->quiet)
            dfl_info("impute: %s observes %zu of the %zu cells the training kept out of its stations "
                     "(data.withhold_cells): its stations are not the training's, so the spread is fitted on its "
                     "own stations (not with --raw-std; --calibrate fits the spline weights too)",
                     a->in, seen.cells_seen, seen.cells);
    } else if (a->calibrate && !other && !seen.enough) {
        *on_input = 0;
        dfl_info("impute: --calibrate: %s observes the training's stations (%zu of the %zu withheld cells) but "
                 "%zu entries there, fewer than the %d a fit on them needs; one on its hidden stations would be too "
                 "narrow between them, so the checkpoint's calibration and contexts stay",
                 a->in, seen.cells_seen, seen.cells, seen.entries, DFL_CALIB_WITHHELD_MIN_ENTRIES);
    }
    return DFL_OK;
}

static dfl_status run_impute(const impute_args *a) {
    dfl_dataset *ds = NULL;
    DFL_TRY(dfl_dataset_open(a->in, &ds));
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    int c = info->c, h = info->h, w = info->w, mc = info->mask_c;
    size_t px = (size_t)h * w;
    int diffusion = !strcmp(a->method, "diffusion");
    dfl_backend *be = NULL;
    dfl_imputer *im = NULL;
    dfl_impute_opts o;
    memset(&o, 0, sizeof o);
    dfl_status s = DFL_OK;
    const double *ck_mean = NULL, *ck_std = NULL;
    dfl_ckpt_meta meta;
    memset(&meta, 0, sizeof meta);
    float *clim_offset = NULL; /* a model of anomalies: its mean field in the model's units, or NULL */
    int chunk = 16;
    int on_input = 0; /* the calibration fitted on the input (choose_input_calibration) */
    if (diffusion) {
        be = dfl_backend_create(a->backend, DFL_PRECISION_FP32);
        if (!be) s = DFL_EUSAGE;
        if (s == DFL_OK) s = dfl_imputer_create(a->ckpt, be, a->raw, &im);
        if (s == DFL_OK) s = dfl_checkpoint_read_meta(a->ckpt, &meta);
        if (s == DFL_OK) set_contexts(a, im, &meta);
        if (s == DFL_OK && meta.channels != c)
            s = dfl_fail(DFL_EUSAGE, "%s has %d channels, the model in %s was trained on %d", a->in, c, a->ckpt,
                         meta.channels);
        /* a model of anomalies: the mean field in its units (docs/design.md, "Climatology") */
        if (s == DFL_OK) s = dfl_ckpt_climatology_offsets(&meta, a->ckpt, a->in, c, h, w, &clim_offset);
        if (s == DFL_OK) {
            const dfl_config *cfg = dfl_imputer_config(im);
            o.K = a->K > 0 ? (int)a->K : cfg->infer_K;
            o.steps = a->steps > 0 ? (int)a->steps : cfg->infer_steps;
            o.ddim = a->update ? !strcmp(a->update, "ddim") : !strcmp(cfg->infer_update, "ddim");
            o.t_eps = (float)cfg->infer_t_eps;
            o.seed = (uint64_t)a->seed;
            s = choose_input_calibration(a, ds, &meta, &on_input);
            if (s == DFL_OK && on_input) s = calibrate_on_input(a, im, ds, &o, &meta);
            if (s == DFL_OK) s = choose_chunk(a, im, &meta, &o, be, c, h, w, mc, &chunk);
            ck_mean = meta.data_mean;
            ck_std = meta.data_std;
            if (!meta.calib.std_scale && !a->raw_std && !a->quiet)
                dfl_info("impute: %s holds no spread calibration (std_scale, std_floor: an older checkpoint, or a run "
                         "stopped during its calibration, which `dynfill train --resume` completes): /std is the raw "
                         "ensemble spread (scale 1)",
                         a->ckpt);
        }
    }
    dfl_pred_writer *pw = NULL;
    if (s == DFL_OK) s = dfl_pred_create(a->out, ds, 0, info->n, &pw);
    if (s == DFL_OK) {
        char desc[200], context[48] = "";
        if (diffusion && dfl_imputer_pixel_ratio(im) > 0)
            snprintf(context, sizeof context, " context=pixel:%.2g", dfl_imputer_pixel_ratio(im));
        else if (diffusion && a->context == CONTEXT_AUTO)
            snprintf(context, sizeof context, " context=%s",
                     dfl_method_strategy_name(dfl_imputer_trained_method(im)->strategy));
        if (diffusion)
            snprintf(desc, sizeof desc, "diffusion K=%d steps=%d%s%s%s%s%s", o.K, o.steps,
                     o.steps > 1 ? (o.ddim ? " update=ddim" : " update=x0") : "",
                     meta.calib.spline_weight && !a->raw_pred ? " pred=spline-corrected" : "",
                     meta.calib.std_scale && !a->raw_std ? " std=calibrated" : " std=raw",
                     on_input ? " calibrated-on=input" : "", context);
        else
            snprintf(desc, sizeof desc, "%s", a->method);
        s = dfl_pred_set_method(pw, desc, diffusion);
        if (s == DFL_OK && a->members) s = dfl_pred_add_members(pw, o.K);
    }
    float *obs = NULL, *pred = NULL, *spread = NULL, *members = NULL, *toward = NULL, *toward3 = NULL;
    int order3 = 0;
    const int correct = diffusion && correction_orders(a, &meta, c, &order3);
    uint8_t *mask = NULL;
    if (s == DFL_OK) {
        obs = dfl_xmalloc((size_t)chunk * c * px * sizeof(float));
        pred = dfl_xmalloc((size_t)chunk * c * px * sizeof(float));
        spread = dfl_xmalloc((size_t)chunk * c * px * sizeof(float));
        mask = dfl_xmalloc((size_t)chunk * mc * px);
        if (correct) toward = dfl_xmalloc((size_t)chunk * c * px * sizeof(float));
        if (correct && order3) toward3 = dfl_xmalloc((size_t)chunk * c * px * sizeof(float));
        if (a->members) members = dfl_xmalloc((size_t)chunk * o.K * c * px * sizeof(float));
    }
    char label[64];
    snprintf(label, sizeof label, "impute %s", a->method);
    dfl_progress *pg = s == DFL_OK && !a->quiet ? dfl_progress_begin(label, info->n, "samples") : NULL;
    /* on the CPU: warn once when other processes leave fewer cores than the threads (host/core/cpu_share.h) */
    const int watch_cpus = diffusion && be && !strcmp(be->name, "cpu");
    dfl_cpu_share_watch watch;
    if (watch_cpus) dfl_cpu_share_watch_start(&watch);
    for (int64_t i0 = 0; s == DFL_OK && i0 < info->n; i0 += chunk) {
        int nb = (int)(info->n - i0 < chunk ? info->n - i0 : chunk);
        /* an empirical context needs another sample's mask: a last chunk of one
         * sample is run together with its predecessor, and only its row is kept */
        int64_t first = i0;
        int skip = 0;
        if (diffusion && dfl_imputer_method(im)->strategy == DFL_STRATEGY_EMPIRICAL && nb == 1 && i0 > 0) {
            first = i0 - 1;
            nb = 2;
            skip = 1;
        }
        if ((s = dfl_dataset_read_samples(ds, first, nb, obs, mask)) != DFL_OK) break;
        if (diffusion) {
            /* the model works in its training data's normalisation */
            dfl_renormalise(obs, nb, c, px, info->mean, info->std, ck_mean, ck_std, 1);
            for (int i = 0; i < nb; ++i)
                for (int ch = 0; ch < c; ++ch)
                    for (size_t p = 0; p < px; ++p)
                        if (!mask[((size_t)i * mc + (mc == 1 ? 0 : ch)) * px + p])
                            obs[((size_t)i * c + ch) * px + p] = 0.0f;
            if (clim_offset) dfl_climatology_remove(clim_offset, NULL, 0, h, w, 0, 0, h, w, nb, c, mc, obs, mask);
            s = dfl_imputer_run(im, &o, nb, c, h, w, mc, obs, mask, (uint32_t)first, pred, spread, members);
            if (s != DFL_OK) break;
            if (correct) { /* docs/design.md, "Spline correction"; pred and members in the model's units */
                dfl_spline_toward(be, nb, c, h, w, mc, obs, mask, pred, meta.periodic_x, meta.periodic_y, 0, toward,
                                  toward3);
                dfl_spline_correct(meta.calib.spline_weight, meta.calib.spline3_weight, nb, o.K, c, px, toward, toward3,
                                   pred, members);
            }
            if (clim_offset) { /* anomalies back to values, still in the model's units */
                dfl_climatology_restore(clim_offset, nb, c, px, pred);
                if (members) dfl_climatology_restore(clim_offset, nb * o.K, c, px, members);
            }
            dfl_renormalise(pred, nb, c, px, ck_mean, ck_std, info->mean, info->std, 1);
            if (meta.calib.std_scale &&
                !a->raw_std) /* in the model's units, before spread and members are renormalised */
                calibrate_spread(&meta, nb, o.K, c, h, w, mc, mask, (uint64_t)a->seed, (uint32_t)first, spread,
                                 members);
            /* members [nb, K, c, h, w]: nb * K fields renormalised as pred */
            if (members) dfl_renormalise(members, nb * o.K, c, px, ck_mean, ck_std, info->mean, info->std, 1);
            dfl_renormalise(spread, nb, c, px, ck_mean, ck_std, info->mean, info->std, 0);
            size_t off = (size_t)skip * c * px;
            s = dfl_pred_write(pw, i0, nb - skip, pred + off, spread + off,
                               members ? members + (size_t)skip * o.K * c * px : NULL);
        } else {
            if (!strcmp(a->method, "mean"))
                dfl_baseline_mean(nb, c, h, w, mc, obs, mask, pred);
            else
                dfl_baseline_harmonic(nb, c, h, w, mc, obs, mask, info->periodic_x, info->periodic_y, pred);
            s = dfl_pred_write(pw, i0, nb, pred, NULL, NULL);
        }
        dfl_progress_update(pg, first + nb);
        if (watch_cpus) dfl_cpu_share_watch_check(&watch, 2.0, omp_get_max_threads(), "impute", "OMP_NUM_THREADS");
    }
    /* a run shorter than the 2 s window, or whose chunks all ended inside it, is measured once at its end */
    if (watch_cpus && s == DFL_OK)
        dfl_cpu_share_watch_check(&watch, 0.5, omp_get_max_threads(), "impute", "OMP_NUM_THREADS");
    dfl_progress_end(pg);
    if (pw) {
        if (s == DFL_OK)
            s = dfl_pred_close(pw);
        else
            dfl_pred_abort(pw);
    }
    if (s == DFL_OK && !a->quiet) {
        if (diffusion)
            dfl_info("impute: wrote %s (%lld samples, K %d, %d step%s%s%s)", a->out, (long long)info->n, o.K, o.steps,
                     o.steps > 1 ? "s, " : "", o.steps > 1 ? (o.ddim ? "ddim" : "x0 update") : "",
                     a->members ? ", with /members" : "");
        else
            dfl_info("impute: wrote %s (%lld samples, %s baseline)", a->out, (long long)info->n, a->method);
    }
    free(obs);
    free(clim_offset);
    free(pred);
    free(spread);
    free(members);
    free(toward);
    free(toward3);
    free(mask);
    dfl_ckpt_meta_free(&meta);
    dfl_imputer_destroy(im);
    dfl_backend_destroy(be);
    dfl_dataset_close(ds);
    return s;
}

int dfl_cmd_impute(int argc, char **argv) {
    impute_args a;
    int help;
    dfl_status s = parse(argc, argv, &a, &help);
    if (s == DFL_OK && help) {
        fputs(k_usage, stdout);
        return 0;
    }
    if (s == DFL_OK) {
        if (a.quiet) dfl_set_quiet(1);
        s = run_impute(&a);
    }
    return dfl_cli_exit("impute", s);
}
