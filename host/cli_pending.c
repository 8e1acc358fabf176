/* Weak placeholders for subcommands whose source file has not landed yet;
 * a subcommand's real definition (strong symbol) replaces its entry here.
 * Each placeholder refuses with exit 2 and says so. */
#include "cli.h"
#include "dynfill/status.h"

#define DFL_PENDING(fn, name)                                                         \
    __attribute__((weak)) int fn(int argc, char **argv) {                             \
        (void)argc;                                                                   \
        (void)argv;                                                                   \
        return dfl_cli_exit(name, dfl_fail(DFL_EUSAGE, "this build has no '%s' command", name)); \
    }

DFL_PENDING(dfl_cmd_gen, "gen")
DFL_PENDING(dfl_cmd_mask, "mask")
DFL_PENDING(dfl_cmd_import, "import")
DFL_PENDING(dfl_cmd_info, "info")
DFL_PENDING(dfl_cmd_coverage, "coverage")
DFL_PENDING(dfl_cmd_train, "train")
DFL_PENDING(dfl_cmd_impute, "impute")
DFL_PENDING(dfl_cmd_eval, "eval")
DFL_PENDING(dfl_cmd_plot, "plot")
DFL_PENDING(dfl_bench_train, "bench train")
DFL_PENDING(dfl_bench_impute, "bench impute")
DFL_PENDING(dfl_bench_kernels, "bench kernels")
DFL_PENDING(dfl_bench_allreduce, "bench allreduce")
DFL_PENDING(dfl_bench_io, "bench io")
DFL_PENDING(dfl_cmd_forward, "forward")
