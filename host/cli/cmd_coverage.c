/* dynfill coverage: per-entry query probability of a strategy on a
 * dataset's masks (Theorem 1; host/method/coverage.h, docs/method.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/args.h"
#include "dynfill/config.h"
#include "dynfill/data.h"
#include "io/h5_util.h"
#include "method/coverage.h"
#include "method/strategy_choice.h"
#include "train/train_withheld_cells.h"

static const char k_usage[] =
    "usage: dynfill coverage --data obs.h5 [--config run.ini] [--set method.key=value ...]\n"
    "                        [--samples S] [--out map.h5] [--threshold T] [--radius R] [--seed K]\n\n"
    "Estimates, for the strategy of the config's [method] section, the probability that each\n"
    "entry missing in the data is queried given a context like the ones it has at imputation\n"
    "(Theorem 1: entries never queried outside the context are never learned), and warns\n"
    "when entries are (almost) never queried.\n\n"
    "  --data PATH        dataset (/obs, /mask); default: data.path of the config\n"
    "  --config FILE      INI experiment file (only [method], data.path and train.seed are used)\n"
    "  --set S.K=V        override a config key (repeatable), e.g. --set method.strategy=block\n"
    "  --samples S        context draws (default 1000), cycling over the samples; fewer than the\n"
    "                     samples: one drawn from each of S equal stretches of them\n"
    "  --out FILE         write /coverage and /query_rate, float32 [mask channels, H, W]\n"
    "  --threshold T      report entries whose query probability is below T (default 1e-3)\n"
    "  --radius R         neighbourhood radius of the context feature (default 2)\n"
    "  --seed K           RNG seed (default train.seed)\n\n"
    "Prints min / mean of the map over entries missing in some sample and the fraction below\n"
    "T; a line starting with 'warning:' when some are below T. Exit 0, or 2 on bad input.\n";

enum { OPT_DATA = 256, OPT_CONFIG, OPT_SET, OPT_SAMPLES, OPT_OUT, OPT_THRESHOLD, OPT_RADIUS, OPT_SEED };
static const char k_short[] = "h";
static const struct option k_options[] = {
    {"data", required_argument, NULL, OPT_DATA},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"set", required_argument, NULL, OPT_SET},
    {"samples", required_argument, NULL, OPT_SAMPLES},
    {"out", required_argument, NULL, OPT_OUT},
    {"threshold", required_argument, NULL, OPT_THRESHOLD},
    {"radius", required_argument, NULL, OPT_RADIUS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct {
    const char *data, *config, *out;
    char **sets;
    int nsets;
    long samples, radius;
    double threshold;
    int have_seed;
    unsigned long long seed;
} options;

/* Fills o from argv; *help is set (and nothing else checked) on -h/--help. */
static dfl_status parse_args(int argc, char **argv, options *o, int *help) {
    o->samples = 1000;
    o->radius = 2;
    o->threshold = 1e-3;
    *help = 0;
    dfl_opt_begin();
    const char *name;
    int c;
    while ((c = dfl_opt_next(argc, argv, k_short, k_options, &name)) != -1) {
        switch (c) {
        case 'h': *help = 1; return DFL_OK;
        case OPT_DATA: o->data = optarg; break;
        case OPT_CONFIG: o->config = optarg; break;
        case OPT_SET: o->sets[o->nsets++] = optarg; break;
        case OPT_OUT: o->out = optarg; break;
        case OPT_SAMPLES: DFL_TRY(dfl_cli_parse_int(name, optarg, 1, 100000000L, &o->samples)); break;
        case OPT_RADIUS: DFL_TRY(dfl_cli_parse_int(name, optarg, 0, 1000, &o->radius)); break;
        case OPT_THRESHOLD:
            DFL_TRY(dfl_cli_parse_float(name, optarg, &o->threshold));
            if (!(o->threshold >= 0.0 && o->threshold <= 1.0))
                return dfl_fail(DFL_EUSAGE, "option --threshold: %s is outside [0, 1]", optarg);
            break;
        case OPT_SEED: {
            char *end = NULL;
            o->seed = strtoull(optarg, &end, 10);
            if (!end || *end || end == optarg)
                return dfl_fail(DFL_EUSAGE, "option --seed: '%s' is not an integer", optarg);
            o->have_seed = 1;
            break;
        }
        default: return DFL_EUSAGE; /* '?': dfl_opt_next recorded the message */
        }
    }
    return dfl_opt_positionals(argc, argv, 0);
}

static dfl_status write_map_data(hid_t f, const char *data_path, const dfl_coverage_result *res, const char *strategy,
                                 const dfl_coverage_request *rq) {
    const unsigned long long dims[3] = {(unsigned long long)res->mc, (unsigned long long)res->h,
                                        (unsigned long long)res->w};
    DFL_TRY(dfl_h5_write_float(f, "/coverage", 3, dims, res->map));
    DFL_TRY(dfl_h5_write_float(f, "/query_rate", 3, dims, res->query_rate));
    DFL_TRY(dfl_h5_attr_write_string(f, "strategy", strategy));
    DFL_TRY(dfl_h5_attr_write_string(f, "data", data_path));
    DFL_TRY(dfl_h5_attr_write_long(f, "draws", (long long)rq->draws));
    DFL_TRY(dfl_h5_attr_write_long(f, "radius", rq->radius));
    DFL_TRY(dfl_h5_attr_write_long(f, "seed", (long long)rq->seed));
    DFL_TRY(dfl_h5_attr_write_double(f, "threshold", rq->threshold));
    DFL_TRY(dfl_h5_attr_write_double(f, "min", res->min));
    DFL_TRY(dfl_h5_attr_write_double(f, "mean", res->mean));
    DFL_TRY(dfl_h5_attr_write_long(f, "scored", (long long)res->scored));
    DFL_TRY(dfl_h5_attr_write_long(f, "below", (long long)res->below));
    return dfl_h5_attr_write_doubles(f, "p_bin", res->p_bin, DFL_COVERAGE_BINS);
}

static dfl_status write_map(const char *path, const char *data_path, const dfl_coverage_result *res,
                            const char *strategy, const dfl_coverage_request *rq) {
    hid_t f;
    char tmp[4096];
    DFL_TRY(dfl_h5_atomic_begin(path, &f, tmp, sizeof tmp));
    dfl_status s = write_map_data(f, data_path, res, strategy, rq);
    if (s != DFL_OK) return dfl_h5_atomic_abort(f, tmp, path, s);
    return dfl_h5_atomic_commit(f, tmp, path);
}

static dfl_status run(const options *o) {
    dfl_config cfg;
    DFL_TRY(dfl_config_load(o->config, o->nsets, o->sets, &cfg));
    const char *data = o->data ? o->data : (cfg.data_path[0] ? cfg.data_path : NULL);
    if (!data) return dfl_fail(DFL_EUSAGE, "--data is required (or data.path in the config)");

    dfl_dataset *ds = NULL;
    DFL_TRY(dfl_dataset_open(data, &ds));
    const dfl_dataset_info *info = dfl_dataset_get_info(ds);
    const size_t entries = (size_t)info->mask_c * (size_t)info->h * (size_t)info->w;
    dfl_status st = DFL_OK;
    if (info->n > 0x7fffffff)
        st = dfl_fail(DFL_EUSAGE, "%s: too many samples for coverage", data);
    else if ((double)info->n * (double)entries > 16e9)
        st = dfl_fail(DFL_EUSAGE, "%s: the masks (%.1f GB) do not fit the coverage estimate's memory", data,
                      (double)info->n * (double)entries / 1e9);
    uint8_t *masks = NULL;
    if (st == DFL_OK) {
        masks = dfl_xmalloc((size_t)info->n * entries);
        st = dfl_dataset_read_samples(ds, 0, info->n, NULL, masks);
    }
    char why[256] = "";
    if (st == DFL_OK && !strcmp(cfg.strategy, "auto")) {
        dfl_strategy_choice choice =
            dfl_strategy_choose(masks, info->n, info->mask_c, info->h, info->w, cfg.grid_h, cfg.grid_w);
        dfl_strategy_choice_describe(&choice, why, sizeof why);
        snprintf(cfg.strategy, sizeof cfg.strategy, "%s", dfl_method_strategy_name(choice.strategy));
    }
    /* Fewer draws than samples: one drawn from each of as many equal
     * stretches (dfl_sample_spread). A fixed stride reads a period of the
     * data at one phase (1000 draws of 24 000 hourly masks: one hour of the
     * day). Which entries some sample observes is still read from all. */
    int64_t *picks = NULL;
    if (st == DFL_OK && o->samples < info->n) {
        picks = dfl_xmalloc((size_t)o->samples * sizeof *picks);
        for (int64_t d = 0; d < o->samples; ++d) picks[d] = dfl_sample_spread(0, o->samples, info->n, d);
    }
    dfl_method_params mp;
    dfl_method_params_default(&mp);
    if (st == DFL_OK) st = dfl_method_params_from_config(&cfg, &mp);
    if (st == DFL_OK && dfl_method_params_validate(&mp, info->h, info->w) != DFL_OK) st = DFL_EUSAGE;
    char desc[256];
    dfl_method_params_describe(&mp, desc, sizeof desc);
    dfl_coverage_request rq = {.method = &mp,
                               .masks = masks,
                               .n = (int)info->n,
                               .c = info->c,
                               .mc = info->mask_c,
                               .h = info->h,
                               .w = info->w,
                               .draws = o->samples,
                               .picks = picks,
                               .radius = (int)o->radius,
                               .threshold = o->threshold,
                               .seed = o->have_seed ? o->seed : cfg.seed};
    dfl_coverage_result res = {0};
    if (st == DFL_OK) {
        printf("coverage: %s: %lld samples, mask %d x %d x %d%s%s\n", data, (long long)info->n, info->mask_c, info->h,
               info->w, info->mask_pattern[0] ? ", mask_pattern " : "", info->mask_pattern);
        if (picks)
            printf("coverage: the draws read %ld of the %lld masks, one from each of as many equal stretches\n",
                   o->samples, (long long)info->n);
        if (why[0]) printf("coverage: method.strategy = auto: %s\n", why);
        printf("coverage: strategy %s; %ld context draws, radius %ld, seed %llu\n", desc, o->samples, o->radius,
               (unsigned long long)rq.seed);
        fflush(stdout);
        st = dfl_coverage_estimate(&rq, &res);
    }
    if (st == DFL_OK) {
        if (res.scored == 0) {
            printf("coverage: no entry is missing in any sample: nothing to impute, nothing to check\n");
        } else {
            printf("coverage: query probability of missing entries given contexts like theirs (Theorem 1):\n");
            printf("coverage:   min %.4g  mean %.4g  over %lld of %lld entries (those missing in some sample)\n",
                   res.min, res.mean, (long long)res.scored, (long long)res.entries);
            printf(
                "coverage:   %lld of %lld entries (%.2f%%) below threshold %g with this strategy, %lld never queried\n",
                (long long)res.below, (long long)res.scored, 100.0 * (double)res.below / (double)res.scored,
                o->threshold, (long long)res.zero);
            if (res.unobservable)
                printf("coverage:   %lld of them are observed in no sample (never queried, whatever the strategy)\n",
                       (long long)res.unobservable);
        }
        if (o->out) {
            st = write_map(o->out, data, &res, desc, &rq);
            if (st == DFL_OK)
                printf("coverage: wrote %s (/coverage, /query_rate: float32 [%d, %d, %d])\n", o->out, res.mc, res.h,
                       res.w);
        }
        fflush(stdout);
        char line[2048];
        /* whether train would withhold station cells for the calibration (data.withhold_cells) */
        dfl_withheld_cells wc;
        memset(&wc, 0, sizeof wc);
        if (res.unobservable > 0 && dfl_train_withheld_cells(ds, cfg.withhold_cells, cfg.seed, &wc) != DFL_OK)
            dfl_clear_error();
        dfl_coverage_warning(&res, &mp, o->threshold, wc.plane != NULL, line, sizeof line);
        dfl_withheld_cells_free(&wc);
        fputs(line, stderr);
    }
    dfl_coverage_result_free(&res);
    free(picks);
    free(masks);
    dfl_dataset_close(ds);
    return st;
}

int dfl_cmd_coverage(int argc, char **argv) {
    options o = {0};
    int help;
    o.sets = dfl_xcalloc((size_t)argc + 1, sizeof(char *));
    dfl_status st = parse_args(argc, argv, &o, &help);
    if (st == DFL_OK && help)
        fputs(k_usage, stdout);
    else if (st == DFL_OK)
        st = run(&o);
    free(o.sets);
    return dfl_cli_exit("coverage", st);
}
