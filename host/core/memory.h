/* How much memory a run may use, and the check a command makes before it
 * allocates a plan (docs/scaling.md, "Memory"). */
#ifndef DYNFILL_HOST_MEMORY_H
#define DYNFILL_HOST_MEMORY_H

#include <stddef.h>

#include "dynfill/status.h"

/* Host memory this process may still allocate: the smallest of
 * DFL_MEMORY_LIMIT_BYTES (an override, for tests), MemAvailable of
 * /proc/meminfo and the cgroup's limit less its usage (v2 memory.max, v1
 * memory.limit_in_bytes). 0 when none can be read. *source (may be NULL)
 * names where the figure came from. */
size_t dfl_memory_available(const char **source);

/* Memory of a device with device_free bytes free, capped by the override
 * limit_env (the value of DFL_MEMORY_LIMIT_BYTES; NULL, empty or not a
 * number: ignored) when that is smaller; *source (may be NULL) names the
 * figure used. Pure: the comparison logic of the device checks
 * (dfl_backend_memory_available, include/dynfill/backend.h). */
size_t dfl_device_memory_available(size_t device_free, const char *limit_env, const char **source);

/* "12.3 GiB", "512.0 MiB", "4.0 KiB" or "12 B" into buf. */
const char *dfl_memory_format(size_t bytes, char *buf, size_t size);

/* DFL_EUSAGE naming `knobs` when `need` bytes for `what` exceed what is
 * available (`avail`, 0 = unknown: no check), else DFL_OK. */
dfl_status dfl_memory_check(size_t need, size_t avail, const char *source, const char *what, const char *knobs);

#endif
