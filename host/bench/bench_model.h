/* The dfl-unet that `bench train` and `bench impute` build from their
 * command-line options (host/bench/bench_model.c). */
#ifndef DYNFILL_HOST_BENCH_MODEL_H
#define DYNFILL_HOST_BENCH_MODEL_H

#include <stdint.h>

#include "dynfill/config.h"
#include "dynfill/model.h"

/* The model options --base, --mult, --nres, --attention, --periodic of
 * `bench train` and `bench impute`: the vals of their entries in each
 * benchmark's option table (above the benchmarks' own, which start at 256). */
enum {
    DFL_BENCH_OPT_BASE = 512,
    DFL_BENCH_OPT_MULT,
    DFL_BENCH_OPT_NRES,
    DFL_BENCH_OPT_ATTENTION,
    DFL_BENCH_OPT_PERIODIC
};

/* Stores the value of model option `opt` (a DFL_BENCH_OPT_*) in cfg
 * (model.base, model.mult, ...). */
dfl_status dfl_bench_model_option(dfl_config *cfg, int opt, const char *value);

/* "--size S" or "--size HxW". */
dfl_status dfl_bench_parse_size(const char *value, long *h, long *w);

/* The network of cfg for `channels` data channels (model.periodic = auto
 * means none: there is no dataset to take it from). */
void dfl_bench_unet_config(const dfl_config *cfg, int channels, dfl_unet_config *out);

/* Writes m (freshly initialised from `seed`) as a checkpoint with unit data
 * statistics, loadable by `impute` and the PyTorch mirror. */
dfl_status dfl_bench_save_model(const char *path, dfl_unet *m, const dfl_config *cfg, int channels, uint64_t seed);

#endif
