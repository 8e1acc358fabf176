/* Backend selection by name: cpu, cuda, auto (include/dynfill/backend.h). */
#include <stdlib.h>
#include <string.h>

#include "core/memory.h"
#include "dynfill/backend.h"

dfl_status dfl_precision_parse(const char *what, const char *name, dfl_precision *out) {
    if (!strcmp(name, "fp32"))
        *out = DFL_PRECISION_FP32;
    else if (!strcmp(name, "tf32"))
        *out = DFL_PRECISION_TF32;
    else if (!strcmp(name, "bf16"))
        *out = DFL_PRECISION_BF16;
    else if (!strcmp(name, "auto"))
        *out = DFL_PRECISION_AUTO;
    else
        return dfl_fail(DFL_EUSAGE, "%s: '%s' is not auto, fp32, tf32 or bf16", what, name);
    return DFL_OK;
}

const char *dfl_precision_name(dfl_precision precision) {
    switch (precision) {
    case DFL_PRECISION_FP32: return "fp32";
    case DFL_PRECISION_TF32: return "tf32";
    case DFL_PRECISION_BF16: return "bf16";
    case DFL_PRECISION_AUTO: return "auto";
    }
    return "unknown";
}

dfl_backend *dfl_backend_cpu_create_at(int threads, dfl_precision precision, const char *what) {
    dfl_backend *be = dfl_backend_cpu_create(threads);
    if (dfl_backend_cpu_set_precision(be, precision, what) != DFL_OK) {
        dfl_backend_destroy(be);
        return NULL;
    }
    return be;
}

dfl_backend *dfl_backend_create(const char *name, dfl_precision precision) {
    if (!name || !strcmp(name, "cpu")) return dfl_backend_cpu_create_at(0, precision, "precision");
    if (!strcmp(name, "cuda")) return dfl_backend_cuda_create(0, precision);
    if (!strcmp(name, "auto")) {
        if (dfl_cuda_available()) return dfl_backend_cuda_create(0, precision);
        return dfl_backend_cpu_create_at(0, precision, "precision");
    }
    dfl_fail(DFL_EUSAGE, "unknown backend '%s' (expected cpu, cuda or auto)", name);
    return NULL;
}

void dfl_backend_destroy(dfl_backend *be) {
    if (be && be->destroy) be->destroy(be);
}

size_t dfl_backend_memory_available(dfl_backend *be, const char **source) {
    if (!strcmp(be->name, "cpu")) return dfl_memory_available(source);
    if (!be->memory_info) {
        if (source) *source = "not queried";
        return 0;
    }
    size_t free_bytes = 0, total_bytes = 0;
    be->memory_info(be, &free_bytes, &total_bytes);
    return dfl_device_memory_available(free_bytes, getenv("DFL_MEMORY_LIMIT_BYTES"), source);
}

size_t dfl_backend_plan_need(const dfl_backend *be, size_t bytes, size_t largest) {
    return be->memory_info ? bytes + largest + ((size_t)1 << 30) : bytes;
}
