/* `dynfill train`: arguments and usage; the run itself is
 * train/train_run.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/args.h"
#include "dynfill/infer.h"
#include "dynfill/status.h"
#include "train/train_run.h"

static const char k_usage[] =
    "usage: dynfill train --config RUN.ini [--data OBS.h5] [--set section.key=value ...] --out RUN_DIR\n"
    "                     [--minutes M] [--resume | --force] [--quiet] [--dry-run]\n"
    "Trains dfl-unet v1 on incomplete observations (docs/design.md, 'The method'); only /obs and /mask\n"
    "are read.\n"
    "  --config FILE   INI experiment file (sections [data] [model] [method] [train] [infer] [dist])\n"
    "  --data FILE     dataset (overrides data.path)\n"
    "  --set K=V       override any config key, e.g. --set train.steps=500 (repeatable)\n"
    "  --out DIR       run directory: ckpt.h5, metrics.jsonl, config.ini\n"
    "  --minutes M     train for M minutes (train.time_budget; the LR schedule follows the clock)\n"
    "  --resume        continue from DIR/ckpt.h5 (config from the checkpoint, --set still applies)\n"
    "  --force         start over even though DIR already holds a checkpoint (the old one is kept aside)\n"
    "  --quiet         no progress output\n"
    "  --dry-run       print the memory plan (parameters, activations per sample, optimizer state,\n"
    "                  largest buffer, total fp32 and a bf16 estimate) and exit; exit 2 naming the\n"
    "                  knob to turn when it does not fit the available memory (--out not needed)\n"
    "A finished run calibrates the ensemble spread on the held-out samples (data.val_fraction) and, for\n"
    "a model trained on empirical contexts, chooses the contexts impute draws by default\n"
    "(infer.context = auto: pixel contexts where they score 4 % lower; trained: no choice); --resume of a\n"
    "finished run does only that again.\n"
    "data.climatology = mean (or auto: per channel, where the field explains a tenth of the variance held\n"
    "out) trains on anomalies from the training data's per-pixel mean field, smoothed as cross-validation\n"
    "says, kept in the checkpoint as /climatology; impute then needs fields of the same size\n"
    "(docs/design.md, 'Climatology').\n"
    "data.withhold_cells = auto (the default): on a station network (half the cells or more observed in no\n"
    "sample, the others in most samples, scattered) a tenth of the stations is kept out of training, stored\n"
    "as /withheld_cells, and the calibration hides those (docs/design.md, 'Withheld cells'); none trains on\n"
    "every station.\n"
    "SIGTERM, SIGINT or SIGUSR1 write DIR/ckpt.h5 and exit 0; resume with --resume. During the calibration\n"
    "after training they stop it (DIR/ckpt.h5 holds the model uncalibrated; --resume calibrates it).\n"
    "On the CPU, other processes' load on the run's CPUs goes into metrics.jsonl (other_cpu_load), and\n"
    "a warning names the train.threads that fit when the threads exceed the cores left.\n";

enum { OPT_CONFIG = 256, OPT_DATA, OPT_SET, OPT_OUT, OPT_RESUME, OPT_FORCE, OPT_QUIET, OPT_DRY_RUN, OPT_MINUTES };
static const char k_short[] = "h";
static const struct option k_options[] = {
    {"config", required_argument, NULL, OPT_CONFIG},
    {"data", required_argument, NULL, OPT_DATA},
    {"set", required_argument, NULL, OPT_SET},
    {"out", required_argument, NULL, OPT_OUT},
    {"resume", no_argument, NULL, OPT_RESUME},
    {"force", no_argument, NULL, OPT_FORCE},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"minutes", required_argument, NULL, OPT_MINUTES},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Fills a from argv; *help is set (and nothing else checked) on -h/--help. */
static dfl_status parse_args(int argc, char **argv, dfl_train_run_opts *a, int *help) {
    memset(a, 0, sizeof *a);
    a->calibrate = dfl_std_calibrate; /* the spread calibration at the end (docs/design.md, "Calibrated spread") */
    a->climatology = dfl_climatology_estimate; /* data.climatology (docs/design.md, "Climatology") */
    a->sets = dfl_xcalloc((size_t)argc, sizeof(char *));
    *help = 0;
    dfl_opt_begin();
    const char *name;
    int c;
    while ((c = dfl_opt_next(argc, argv, k_short, k_options, &name)) != -1) {
        switch (c) {
        case 'h': *help = 1; return DFL_OK;
        case OPT_CONFIG: a->config_path = optarg; break;
        case OPT_DATA: a->data_path = optarg; break;
        case OPT_SET: a->sets[a->nsets++] = optarg; break;
        case OPT_OUT: a->out_dir = optarg; break;
        case OPT_RESUME: a->resume = 1; break;
        case OPT_FORCE: a->force = 1; break;
        case OPT_QUIET: a->quiet = 1; break;
        case OPT_DRY_RUN: a->dry_run = 1; break;
        case OPT_MINUTES: {
            char *end = NULL;
            a->minutes = strtod(optarg, &end);
            if (end == optarg || *end || !(a->minutes > 0) || a->minutes > 1e7)
                return dfl_fail(DFL_EUSAGE, "option --minutes: '%s' is not a positive number of minutes", optarg);
            break;
        }
        default: return DFL_EUSAGE; /* '?': dfl_opt_next recorded the message */
        }
    }
    DFL_TRY(dfl_opt_positionals(argc, argv, 0));
    if (!a->out_dir && (!a->dry_run || a->resume)) return dfl_fail(DFL_EUSAGE, "--out RUN_DIR is required");
    if (!a->out_dir) a->out_dir = ".";
    if (a->resume && a->force)
        return dfl_fail(DFL_EUSAGE, "option --force: starts over, so it cannot go with --resume");
    if (!a->config_path && !a->resume) return dfl_fail(DFL_EUSAGE, "--config is required (or --resume)");
    return DFL_OK;
}

int dfl_cmd_train(int argc, char **argv) {
    dfl_train_run_opts a;
    int help;
    dfl_status s = parse_args(argc, argv, &a, &help);
    if (s == DFL_OK && help)
        fputs(k_usage, stdout);
    else if (s == DFL_OK)
        s = dfl_train_run(&a);
    free(a.sets);
    return dfl_cli_exit("train", s);
}
