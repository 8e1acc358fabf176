/* dynfill command-line entry point: dispatches to the subcommands of
 * docs/design.md, "Command line" (host/cli/cli.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/args.h"
#include "dynfill/status.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} dfl_command;

static const dfl_command k_commands[] = {
    {"gen", dfl_cmd_gen, "generate ground-truth physical fields (ns, advection, shallow-water)"},
    {"mask", dfl_cmd_mask, "draw observation masks and write an observed dataset"},
    {"import", dfl_cmd_import, "convert NetCDF / HDF5 arrays with NaN-as-missing to a dataset"},
    {"info", dfl_cmd_info, "describe a dataset, prediction or checkpoint file"},
    {"coverage", dfl_cmd_coverage, "estimate per-entry query probability for a strategy (Theorem 1)"},
    {"train", dfl_cmd_train, "train a model on incomplete observations"},
    {"impute", dfl_cmd_impute, "fill in missing entries with a trained model"},
    {"eval", dfl_cmd_eval, "score a prediction against ground truth"},
    {"plot", dfl_cmd_plot, "draw a prediction next to the truth, or a loss curve"},
    {"bench", dfl_cmd_bench, "throughput benchmarks (train, impute, kernels, allreduce, io)"},
    {"forward", dfl_cmd_forward, "run the raw network on /input and /t of an HDF5 file"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: dynfill <command> [options]   (dynfill <command> --help for its options)\n\n"
               "Train diffusion models on incomplete observations of physical fields and\n"
               "impute what was never observed.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; ++i)
        fprintf(f, "  %-9s %s\n", k_commands[i].name, k_commands[i].summary);
}

/* How long OpenMP threads spin before they sleep decides a training step's
 * speed: a step is hundreds of short parallel regions (dynfill's ops and
 * oneDNN's, one libgomp pool). Measured on this project's 2-core Xeon,
 * config a of benchmarks/peers, 2 threads, 3 interleaved runs each
 * (docs/benchmarks.md, "OpenMP wait policy"):
 *   quiet machine:        PASSIVE 23.8-24.7 samples/s, GOMP_SPINCOUNT=5000
 *                         28.0-28.7, 20000 28.1-29.6, ACTIVE 28.9-29.9;
 *   one other busy process: PASSIVE 12.8-13.8, 5000 12.2-12.8, 10000 11.3,
 *                         20000 9.0-11.3, ACTIVE 10.3-10.6.
 * A short spin (5000 rounds, tens of microseconds) keeps nearly all of the
 * quiet machine's speed and loses about 7 % on an oversubscribed one, where
 * long spins lose up to a quarter. libgomp reads its settings when it is
 * loaded, before main, so when the user has chosen neither OMP_WAIT_POLICY
 * nor GOMP_SPINCOUNT dynfill sets GOMP_SPINCOUNT=5000 and re-executes
 * itself once. */
static void prefer_short_openmp_spins(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT") || getenv("DFL_REEXECED")) return;
    setenv("GOMP_SPINCOUNT", "5000", 1);
    setenv("DFL_REEXECED", "1", 1);
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc): carry on with libgomp's default */
}

int main(int argc, char **argv) {
    prefer_short_openmp_spins(argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("dynfill 0.1.0\n");
        return 0;
    }
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; ++i)
        if (!strcmp(argv[1], k_commands[i].name)) return k_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "dynfill: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
