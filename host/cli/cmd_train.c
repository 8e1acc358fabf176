/* `dynfill train`: arguments and usage; the run itself is
 * train/train_run.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/args.h"
#include "dynfill/status.h"
#include "train/train_run.h"

static void train_usage(FILE *f) {
    fprintf(f,
            "usage: dynfill train --config RUN.ini [--data OBS.h5] [--set section.key=value ...] --out RUN_DIR\n"
            "                     [--resume] [--quiet]\n"
            "Trains dfl-unet v1 on incomplete observations (DESIGN §1): only /obs and /mask are read.\n"
            "  --config FILE   INI experiment file (sections [data] [model] [method] [train] [infer] [dist])\n"
            "  --data FILE     dataset (overrides data.path)\n"
            "  --set K=V       override any config key, e.g. --set train.steps=500 (repeatable)\n"
            "  --out DIR       run directory: ckpt.h5, metrics.jsonl, config.ini\n"
            "  --resume        continue from DIR/ckpt.h5 (config from the checkpoint, --set still applies)\n"
            "  --quiet         no progress output\n"
            "SIGTERM, SIGINT or SIGUSR1 write DIR/ckpt.h5 and exit 0; resume with --resume.\n");
}

static dfl_status parse_args(int argc, char **argv, dfl_train_run_opts *a) {
    memset(a, 0, sizeof *a);
    a->sets = dfl_xcalloc((size_t)argc, sizeof(char *));
    const char *v;
    for (int i = 1; i < argc; ++i) {
        if (dfl_cli_take(argc, argv, &i, "--config", &v)) a->config_path = v;
        else if (dfl_cli_take(argc, argv, &i, "--data", &v)) a->data_path = v;
        else if (dfl_cli_take(argc, argv, &i, "--out", &v)) a->out_dir = v;
        else if (dfl_cli_take(argc, argv, &i, "--set", &v)) { if (v) a->sets[a->nsets++] = (char *)v; }
        else if (!strcmp(argv[i], "--resume")) { a->resume = 1; continue; }
        else if (!strcmp(argv[i], "--force")) { a->force = 1; continue; }
        else if (!strcmp(argv[i], "--quiet")) { a->quiet = 1; continue; }
        else return dfl_fail(DFL_EUSAGE, "unknown option '%s' (see --help)", argv[i]);
        if (!v) return DFL_EUSAGE;
    }
    if (!a->out_dir) return dfl_fail(DFL_EUSAGE, "--out RUN_DIR is required");
    if (!a->config_path && !a->resume) return dfl_fail(DFL_EUSAGE, "--config is required (or --resume)");
    return DFL_OK;
}

int dfl_cmd_train(int argc, char **argv) {
    if (dfl_cli_wants_help(argc, argv)) {
        train_usage(stdout);
        return 0;
    }
    dfl_train_run_opts a;
    dfl_status s = parse_args(argc, argv, &a);
    if (s == DFL_OK) s = dfl_train_run(&a);
    free(a.sets);
    return dfl_cli_exit("train", s);
}
