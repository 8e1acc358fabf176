/* `dynfill plot` (docs/design.md, "Command line", docs/eval.md): a PNG of one sample of a
 * prediction next to the truth, or the loss curve of a training run. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "core/args.h"
#include "plot/plot_figures.h"

static const char k_usage[] =
    "usage: dynfill plot --pred pred.h5 [--truth truth.h5] [--index I] [--channel C] --out fig.png\n"
    "       dynfill plot --metrics RUN_DIR/metrics.jsonl --out loss.png\n"
    "\n"
    "Panels: observed (unobserved entries grey), prediction, truth, |error|, and\n"
    "uncertainty (/std, when the file has it), each with a colour bar. The first\n"
    "three share one scale (diverging blue-white-red when the field straddles 0).\n"
    "Without --truth the truth and error panels are left out.\n"
    "The loss curve plots \"loss\" and \"val_loss\" against \"step\", log-scale y.\n"
    "\n"
    "  --pred FILE      prediction file from `dynfill impute`\n"
    "  --truth FILE     ground truth file from `dynfill gen`\n"
    "  --index I        sample to draw (default 0)\n"
    "  --channel C      channel to draw (default 0)\n"
    "  --metrics FILE   metrics.jsonl of a training run (or the run directory)\n"
    "  --out FILE       PNG to write\n";

enum { OPT_PRED = 256, OPT_TRUTH, OPT_INDEX, OPT_CHANNEL, OPT_METRICS, OPT_OUT };
static const char k_short[] = "h";
static const struct option k_options[] = {
    {"pred", required_argument, NULL, OPT_PRED},
    {"truth", required_argument, NULL, OPT_TRUTH},
    {"index", required_argument, NULL, OPT_INDEX},
    {"channel", required_argument, NULL, OPT_CHANNEL},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"out", required_argument, NULL, OPT_OUT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int dfl_cmd_plot(int argc, char **argv) {
    const char *pred = NULL, *truth = NULL, *metrics = NULL, *out = NULL, *name;
    long index = 0, channel = 0;
    dfl_status ps = DFL_OK;
    int c;
    dfl_opt_begin();
    while (ps == DFL_OK && (c = dfl_opt_next(argc, argv, k_short, k_options, &name)) != -1) {
        switch (c) {
        case 'h': fputs(k_usage, stdout); return 0;
        case OPT_PRED: pred = optarg; break;
        case OPT_TRUTH: truth = optarg; break;
        case OPT_METRICS: metrics = optarg; break;
        case OPT_OUT: out = optarg; break;
        case OPT_INDEX: ps = dfl_cli_parse_int(name, optarg, 0, 0x7fffffff, &index); break;
        case OPT_CHANNEL: ps = dfl_cli_parse_int(name, optarg, 0, 0x7fffffff, &channel); break;
        default: ps = DFL_EUSAGE; /* '?': dfl_opt_next recorded the message */
        }
    }
    if (ps == DFL_OK) ps = dfl_opt_positionals(argc, argv, 0);
    if (ps != DFL_OK) return dfl_cli_exit("plot", ps);
    if (!out) return dfl_cli_exit("plot", dfl_fail(DFL_EUSAGE, "--out is required (see dynfill plot --help)"));
    if (metrics && (pred || truth))
        return dfl_cli_exit("plot", dfl_fail(DFL_EUSAGE, "--metrics draws a loss curve and cannot be combined with "
                                                         "--pred/--truth"));
    if (!metrics && !pred)
        return dfl_cli_exit("plot", dfl_fail(DFL_EUSAGE, "give --pred (field panels) or --metrics (loss curve)"));
    int w = 0, h = 0;
    dfl_status st;
    if (metrics) {
        char path[4096];
        struct stat sb;
        if (stat(metrics, &sb) == 0 && S_ISDIR(sb.st_mode))
            snprintf(path, sizeof path, "%s/metrics.jsonl", metrics);
        else
            snprintf(path, sizeof path, "%s", metrics);
        st = dfl_plot_loss(path, out, &w, &h);
    } else {
        st = dfl_plot_fields(pred, truth, (int)index, (int)channel, out, &w, &h);
    }
    if (st == DFL_OK) printf("wrote %s (%dx%d)\n", out, w, h);
    return dfl_cli_exit("plot", st);
}
