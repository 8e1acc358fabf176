/* Printing and checking the training memory plan (train/train_memory.h). */
#include "train_memory.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/memory.h"

void dfl_train_memory_print(FILE *f, const dfl_train_memory *m, int batch, int h, int w) {
    char b[32];
    fprintf(f, "memory plan: batch %d of %dx%d, micro-batch %d\n", batch, h, w, m->micro);
    fprintf(f, "  parameters            %zu (%s)\n", m->params_count, dfl_memory_format(m->params, b, sizeof b));
    fprintf(f, "  gradients             %s\n", dfl_memory_format(m->grads, b, sizeof b));
    fprintf(f, "  optimizer (m, v, EMA) %s\n", dfl_memory_format(m->optimizer, b, sizeof b));
    fprintf(f, "  parameter copies      %s\n", dfl_memory_format(m->param_copies, b, sizeof b));
    fprintf(f, "  activations/sample    %s\n", dfl_memory_format(m->act_per_sample, b, sizeof b));
    fprintf(f, "  activations (x%d)      %s\n", m->micro, dfl_memory_format(m->activations, b, sizeof b));
    fprintf(f, "  conv workspace (est.) %s\n", dfl_memory_format(m->workspace, b, sizeof b));
    fprintf(f, "  batch buffers         %s\n", dfl_memory_format(m->batch_buffers, b, sizeof b));
    fprintf(f, "  largest buffer        %s\n", dfl_memory_format(m->largest, b, sizeof b));
    fprintf(f, "  total fp32            %s (%zu bytes)\n", dfl_memory_format(m->total, b, sizeof b), m->total);
    fprintf(f, "  total bf16 (CUDA)     %s (estimate)\n", dfl_memory_format(m->total_bf16, b, sizeof b));
}

size_t dfl_train_memory_need(const dfl_train_memory *m, const dfl_backend *be) {
    return be->memory_info ? m->total_bf16 : m->total;
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

size_t dfl_train_memory_available(dfl_backend *be, const char **source) {
    if (!strcmp(be->name, "cpu")) return dfl_memory_available(source);
    if (!be->memory_info) {
        if (source) *source = "not queried";
        return 0;
    }
    size_t free_bytes = 0, total_bytes = 0;
    be->memory_info(be, &free_bytes, &total_bytes);
    return dfl_device_memory_available(free_bytes, getenv("DFL_MEMORY_LIMIT_BYTES"), source);
}

dfl_status dfl_train_memory_check(const dfl_train_memory *m, dfl_backend *be, const char *what, const char *knobs) {
    const char *src;
    size_t avail = dfl_train_memory_available(be, &src);
    return dfl_memory_check(dfl_train_memory_need(m, be), avail, src, what, knobs);
}
