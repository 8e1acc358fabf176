/* `dynfill bench train|impute|kernels|allreduce|io`: dispatch to the
 * benchmark of each area. */
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "cli.h"
#include "core/args.h"
#include "dynfill/status.h"

static const char k_usage[] = "usage: dynfill bench <what> [options]   (dynfill bench <what> --help)\n"
                              "  train      training step throughput: samples/s and GFLOP/s\n"
                              "  impute     imputation throughput\n"
                              "  kernels    fused-kernel bandwidth against the device copy bandwidth\n"
                              "  allreduce  all-reduce algbw/busbw from 1 KiB to 256 MiB\n"
                              "  io         data loader throughput from page cache\n";

/* "+": options end at <what>; the benchmark parses the rest */
static const char k_short[] = "+h";
static const struct option k_options[] = {
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int dfl_cmd_bench(int argc, char **argv) {
    const char *name;
    dfl_opt_begin();
    int c = dfl_opt_next(argc, argv, k_short, k_options, &name); /* -h is its only option */
    if (c == 'h') {
        fputs(k_usage, stdout);
        return 0;
    }
    if (c != -1) return dfl_cli_exit("bench", DFL_EUSAGE); /* '?': dfl_opt_next recorded the message */
    if (optind >= argc) {
        fputs(k_usage, stderr);
        return 2;
    }
    const char *what = argv[optind];
    argc -= optind;
    argv += optind;
    if (!strcmp(what, "train")) return dfl_bench_train(argc, argv);
    if (!strcmp(what, "impute")) return dfl_bench_impute(argc, argv);
    if (!strcmp(what, "kernels")) return dfl_bench_kernels(argc, argv);
    if (!strcmp(what, "allreduce")) return dfl_bench_allreduce(argc, argv);
    if (!strcmp(what, "io")) return dfl_bench_io(argc, argv);
    return dfl_cli_exit("bench",
                        dfl_fail(DFL_EUSAGE, "unknown benchmark '%s' (train, impute, kernels, allreduce, io)", what));
}
