/* `dynfill eval --pred pred.h5 --truth truth.h5 [--json]` (docs/design.md, "Command line",
 * docs/eval.md): MSE / RMSE of a prediction on missing and on all entries,
 * per channel and overall, latitude-weighted when latitudes are present;
 * CRPS of the missing entries from /std (Gaussian) and /members (ensemble). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/args.h"
#include "data/pred_read.h"
#include "eval/eval_metrics.h"
#include "eval/eval_report.h"

static const char k_usage[] =
    "usage: dynfill eval --pred pred.h5 --truth truth.h5 [--json] [--samples-per-run K]\n"
    "\n"
    "Score a prediction against ground truth: MSE and RMSE on the missing entries\n"
    "(mask 0) and on all entries, per channel and pooled over channels, in the\n"
    "data's units. With latitudes (attribute `lat`, one per row, in the truth or\n"
    "prediction file) also the latitude-weighted RMSE (weights cos(lat), mean 1).\n"
    "With /std, the uncertainty of the missing entries: Gaussian CRPS of N(pred, std^2)\n"
    "(crps_missing), spread-skill with its 90 % bootstrap interval (runs of samples drawn whole),\n"
    "+-1/2 std coverage; the largest sample's share of the squared error; with /members\n"
    "(impute --members), the ensemble CRPS (1/K) sum|x_i - y| - 1/(2K^2) sum|x_i - x_j|\n"
    "(crps_ensemble_missing) and its fair variant with 1/(2K(K-1)) (crps_ensemble_fair_missing).\n"
    "\n"
    "  --pred FILE    prediction: /pred [N,C,H,W], /mask [N,1|C,H,W], optional /std [N,C,H,W]\n"
    "                 and /members [N,K,C,H,W] (from `dynfill impute`)\n"
    "  --truth FILE   ground truth: /truth [N,C,H,W] (from `dynfill gen`)\n"
    "  --json         print one JSON object instead of a table\n"
    "  --samples-per-run K\n"
    "                 the spread-skill interval resamples runs of K consecutive samples, whole\n"
    "                 (frames of one trajectory are not independent). Default: the truth's\n"
    "                 gen_samples_per_run attribute (written by `dynfill gen`), else 1\n";

enum { OPT_PRED = 256, OPT_TRUTH, OPT_JSON, OPT_SAMPLES_PER_RUN };
static const char k_short[] = "h";
static const struct option k_options[] = {
    {"pred", required_argument, NULL, OPT_PRED},
    {"truth", required_argument, NULL, OPT_TRUTH},
    {"json", no_argument, NULL, OPT_JSON},
    {"samples-per-run", required_argument, NULL, OPT_SAMPLES_PER_RUN},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static dfl_status run_eval(const char *pred_path, const char *truth_path, int json, long samples_per_run) {
    dfl_pred_input in;
    DFL_TRY(dfl_pred_input_open(pred_path, truth_path, &in));
    if (samples_per_run > 0) in.samples_per_run = (int)samples_per_run;
    dfl_eval_scores *per_channel = dfl_xmalloc((size_t)in.c * sizeof *per_channel);
    dfl_eval_report rep;
    memset(&rep, 0, sizeof rep);
    rep.in = &in;
    rep.per_channel = per_channel;
    dfl_status st = dfl_eval_score_files(&in, per_channel, &rep.overall, &rep.weighted);
    if (st == DFL_OK) {
        if (json) {
            st = dfl_eval_print_json(stdout, &rep);
        } else {
            dfl_eval_print_text(stdout, &rep);
            fflush(stdout);
        }
    }
    free(per_channel);
    dfl_pred_input_close(&in);
    return st;
}

int dfl_cmd_eval(int argc, char **argv) {
    const char *pred = NULL, *truth = NULL, *name;
    int json = 0, c;
    long samples_per_run = 0; /* 0: the truth file's */
    dfl_opt_begin();
    while ((c = dfl_opt_next(argc, argv, k_short, k_options, &name)) != -1) {
        switch (c) {
        case 'h': fputs(k_usage, stdout); return 0;
        case OPT_PRED: pred = optarg; break;
        case OPT_TRUTH: truth = optarg; break;
        case OPT_JSON: json = 1; break;
        case OPT_SAMPLES_PER_RUN:
            if (dfl_cli_parse_int(name, optarg, 1, 1L << 30, &samples_per_run) != DFL_OK)
                return dfl_cli_exit("eval", DFL_EUSAGE);
            break;
        default: return dfl_cli_exit("eval", DFL_EUSAGE); /* '?': dfl_opt_next recorded the message */
        }
    }
    if (dfl_opt_positionals(argc, argv, 0) != DFL_OK) return dfl_cli_exit("eval", DFL_EUSAGE);
    if (!pred || !truth)
        return dfl_cli_exit("eval", dfl_fail(DFL_EUSAGE, "--pred and --truth are required (see dynfill eval --help)"));
    return dfl_cli_exit("eval", run_eval(pred, truth, json, samples_per_run));
}
