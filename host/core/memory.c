/* Available memory and the pre-allocation check (core/memory.h). */
#include "core/memory.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One unsigned number from the start of a file; 0 when unreadable or "max". */
static size_t read_number_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char buf[64] = "";
    size_t v = 0;
    if (fgets(buf, sizeof buf, f) && buf[0] >= '0' && buf[0] <= '9') v = (size_t)strtoull(buf, NULL, 10);
    fclose(f);
    return v;
}

static size_t meminfo_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    size_t kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %zu kB", &kb) == 1) break;
    fclose(f);
    return kb * 1024;
}

/* limit - usage of the cgroup (v2, then v1); 0 without a limit. */
static size_t cgroup_available(void) {
    size_t limit = read_number_file("/sys/fs/cgroup/memory.max"), usage = 0;
    if (limit)
        usage = read_number_file("/sys/fs/cgroup/memory.current");
    else {
        limit = read_number_file("/sys/fs/cgroup/memory/memory.limit_in_bytes");
        if (limit >= ((size_t)1 << 60)) limit = 0; /* v1 "unlimited" */
        if (limit) usage = read_number_file("/sys/fs/cgroup/memory/memory.usage_in_bytes");
    }
    if (!limit) return 0;
    return usage < limit ? limit - usage : 1;
}

size_t dfl_memory_available(const char **source) {
    const char *src = NULL;
    size_t best = 0;
    const char *env = getenv("DFL_MEMORY_LIMIT_BYTES");
    if (env && env[0]) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(env, &end, 10);
        if (!errno && !*end) {
            best = (size_t)v;
            src = "DFL_MEMORY_LIMIT_BYTES";
        }
    }
    size_t mi = meminfo_available();
    if (mi && (!src || mi < best)) {
        best = mi;
        src = "MemAvailable in /proc/meminfo";
    }
    size_t cg = cgroup_available();
    if (cg && (!src || cg < best)) {
        best = cg;
        src = "the cgroup memory limit";
    }
    if (source) *source = src ? src : "unknown";
    return best;
}

size_t dfl_device_memory_available(size_t device_free, const char *limit_env, const char **source) {
    const char *src = "free memory of the CUDA device (cudaMemGetInfo)";
    size_t best = device_free;
    if (limit_env && limit_env[0]) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(limit_env, &end, 10);
        if (!errno && !*end && (size_t)v < best) {
            best = (size_t)v;
            src = "DFL_MEMORY_LIMIT_BYTES";
        }
    }
    if (source) *source = src;
    return best;
}

const char *dfl_memory_format(size_t bytes, char *buf, size_t size) {
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        ++u;
    }
    if (u == 0)
        snprintf(buf, size, "%zu B", bytes);
    else
        snprintf(buf, size, "%.1f %s", v, units[u]);
    return buf;
}

dfl_status dfl_memory_check(size_t need, size_t avail, const char *source, const char *what, const char *knobs) {
    if (!avail || need <= avail) return DFL_OK;
    char a[32], b[32], d[32];
    return dfl_fail(DFL_EUSAGE, "%s needs %s (%zu bytes) of memory, %s is available (%s), %s short; lower %s", what,
                    dfl_memory_format(need, a, sizeof a), need, dfl_memory_format(avail, b, sizeof b),
                    source ? source : "unknown", dfl_memory_format(need - avail, d, sizeof d), knobs);
}
