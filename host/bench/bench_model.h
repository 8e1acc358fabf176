/* The dfl-unet that `bench train` and `bench impute` build from their
 * command-line options (host/bench/bench_model.c). */
#ifndef DYNFILL_HOST_BENCH_MODEL_H
#define DYNFILL_HOST_BENCH_MODEL_H

#include <stdint.h>

#include "dynfill/config.h"
#include "dynfill/model.h"

/* When argv[*i] is one of --base, --mult, --nres, --attention, --periodic,
 * stores its value in cfg (model.*), advances *i and returns 1 with *s the
 * outcome; returns 0 for any other argument. */
int dfl_bench_take_model_option(int argc, char **argv, int *i, dfl_config *cfg, dfl_status *s);

/* "--size S" or "--size HxW". */
dfl_status dfl_bench_parse_size(const char *value, long *h, long *w);

/* The network of cfg for `channels` data channels (model.periodic = auto
 * means none: there is no dataset to take it from). */
void dfl_bench_unet_config(const dfl_config *cfg, int channels, dfl_unet_config *out);

/* Writes m (freshly initialised from `seed`) as a checkpoint with unit data
 * statistics, loadable by `impute` and the PyTorch mirror. */
dfl_status dfl_bench_save_model(const char *path, dfl_unet *m, const dfl_config *cfg, int channels, uint64_t seed);

#endif
