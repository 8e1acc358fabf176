/* Printing and checking the training memory plan (train/train_memory.h). */
#include "train_memory.h"

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

dfl_status dfl_train_memory_check(const dfl_train_memory *m, dfl_backend *be, const char *what, const char *knobs) {
    const char *src;
    size_t avail = dfl_backend_memory_available(be, &src);
    return dfl_memory_check(dfl_train_memory_need(m, be), avail, src, what, knobs);
}
