/* `dynfill plot` (DESIGN.md §5, docs/eval.md): a PNG of one sample of a
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

int dfl_cmd_plot(int argc, char **argv) {
    if (dfl_cli_wants_help(argc, argv)) {
        fputs(k_usage, stdout);
        return 0;
    }
    const char *pred = NULL, *truth = NULL, *metrics = NULL, *out = NULL, *v = NULL;
    long index = 0, channel = 0;
    for (int i = 1; i < argc; ++i) {
        if (dfl_cli_take(argc, argv, &i, "--pred", &v)) {
            pred = v;
        } else if (dfl_cli_take(argc, argv, &i, "--truth", &v)) {
            truth = v;
        } else if (dfl_cli_take(argc, argv, &i, "--metrics", &v)) {
            metrics = v;
        } else if (dfl_cli_take(argc, argv, &i, "--out", &v)) {
            out = v;
        } else if (dfl_cli_take(argc, argv, &i, "--index", &v)) {
            if (v && dfl_cli_parse_int("--index", v, 0, 0x7fffffff, &index) != DFL_OK) return dfl_cli_exit("plot", DFL_EUSAGE);
        } else if (dfl_cli_take(argc, argv, &i, "--channel", &v)) {
            if (v && dfl_cli_parse_int("--channel", v, 0, 0x7fffffff, &channel) != DFL_OK)
                return dfl_cli_exit("plot", DFL_EUSAGE);
        } else {
            return dfl_cli_exit("plot", dfl_fail(DFL_EUSAGE, "unknown argument '%s' (see dynfill plot --help)", argv[i]));
        }
        if (!v) return dfl_cli_exit("plot", DFL_EUSAGE); /* option without its value */
    }
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
