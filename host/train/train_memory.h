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

/* Memory of a device with device_free bytes free, capped by the override
 * limit_env (the value of DFL_MEMORY_LIMIT_BYTES; NULL, empty or not a
 * number: ignored) when that is smaller; *source (may be NULL) names the
 * figure used. Pure: the comparison logic of the device check. */
size_t dfl_device_memory_available(size_t device_free, const char *limit_env, const char **source);

/* Memory the plan is checked against: host memory (core/memory.h) for the
 * CPU backend; for a backend with memory_info, the device's free memory
 * (or DFL_MEMORY_LIMIT_BYTES when smaller); 0 = not known (not checked). */
size_t dfl_train_memory_available(dfl_backend *be, const char **source);

/* DFL_EUSAGE naming `knobs` when dfl_train_memory_need exceeds
 * dfl_train_memory_available (nothing is allocated before this check). */
dfl_status dfl_train_memory_check(const dfl_train_memory *m, dfl_backend *be, const char *what, const char *knobs);

#endif
