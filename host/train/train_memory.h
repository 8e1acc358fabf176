/* The training memory plan printed by `dynfill train --dry-run` and
 * `dynfill bench train`, and the check that refuses a plan that does not
 * fit before anything is allocated (docs/scaling.md, "Memory"). */
#ifndef DYNFILL_HOST_TRAIN_MEMORY_H
#define DYNFILL_HOST_TRAIN_MEMORY_H

#include <stdio.h>

#include "dynfill/train.h"

/* The plan, one figure a line, for a per-rank batch of h x w fields. */
void dfl_train_memory_print(FILE *f, const dfl_train_memory *m, int batch, int h, int w);

/* DFL_EUSAGE naming `knobs` when the fp32 plan exceeds the host memory
 * available (core/memory.h) to a CPU backend; other backends' device
 * memory is not queried (DFL_OK). */
dfl_status dfl_train_memory_check(const dfl_train_memory *m, const dfl_backend *be, const char *what,
                                  const char *knobs);

#endif
