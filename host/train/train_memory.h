/* The training memory plan printed by `dynfill train --dry-run` and
 * `dynfill bench train`, and the check that refuses a plan that does not
 * fit before anything is allocated (docs/scaling.md, "Memory"). */
#ifndef DYNFILL_HOST_TRAIN_MEMORY_H
#define DYNFILL_HOST_TRAIN_MEMORY_H

#include <stdio.h>

#include "dynfill/train.h"

/* The plan, one figure a line, for a per-rank batch of h x w fields. */
void dfl_train_memory_print(FILE *f, const dfl_train_memory *m, int batch, int h, int w);

/* Bytes the plan needs on be: the fp32 total on host memory (the CPU
 * backend), the CUDA estimate total_bf16 (one more copy of the largest
 * buffer for the cuDNN input / output copies and 1 GiB of cuDNN workspace)
 * on a device backend, whatever its precision. */
size_t dfl_train_memory_need(const dfl_train_memory *m, const dfl_backend *be);

/* DFL_EUSAGE naming `knobs` when dfl_train_memory_need exceeds
 * dfl_backend_memory_available (host memory on the CPU backend, the device's
 * free memory or DFL_MEMORY_LIMIT_BYTES on CUDA; nothing is allocated before
 * this check). */
dfl_status dfl_train_memory_check(const dfl_train_memory *m, dfl_backend *be, const char *what, const char *knobs);

#endif
