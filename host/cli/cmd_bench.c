/* `dynfill bench train|impute|kernels|allreduce|io`: dispatch to the
 * benchmark of each area. */
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "cli.h"
#include "core/args.h"
#include "dynfill/status.h"

static void bench_usage(FILE *f) {
    fprintf(f,
            "usage: dynfill bench <what> [options]   (dynfill bench <what> --help)\n"
            "  train      training step throughput: samples/s and GFLOP/s\n"
            "  impute     imputation throughput\n"
            "  kernels    fused-kernel bandwidth against the device copy bandwidth\n"
            "  allreduce  all-reduce algbw/busbw from 1 KiB to 256 MiB\n"
            "  io         data loader throughput from page cache\n");
}

int dfl_cmd_bench(int argc, char **argv) {
    if (argc < 2) {
        bench_usage(stderr);
        return 2;
    }
    const char *what = argv[1];
    if (!strcmp(what, "-h") || !strcmp(what, "--help")) {
        bench_usage(stdout);
        return 0;
    }
    if (!strcmp(what, "train")) return dfl_bench_train(argc - 1, argv + 1);
    if (!strcmp(what, "impute")) return dfl_bench_impute(argc - 1, argv + 1);
    if (!strcmp(what, "kernels")) return dfl_bench_kernels(argc - 1, argv + 1);
    if (!strcmp(what, "allreduce")) return dfl_bench_allreduce(argc - 1, argv + 1);
    if (!strcmp(what, "io")) return dfl_bench_io(argc - 1, argv + 1);
    return dfl_cli_exit("bench", dfl_fail(DFL_EUSAGE, "unknown benchmark '%s' (train, impute, kernels, allreduce, io)", what));
}
