/* CPU backend: construction and memory ops. (Ops are being added.) */
#include <stdlib.h>
#include <string.h>

#include "dynfill/backend.h"

static void *cpu_alloc(dfl_backend *be, size_t bytes) {
    (void)be;
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) DFL_PANIC("out of memory allocating %zu bytes", bytes);
    return p;
}
static void cpu_free(dfl_backend *be, void *p) {
    (void)be;
    free(p);
}
static void cpu_destroy(dfl_backend *be) { free(be); }

dfl_backend *dfl_backend_cpu_create(int threads) {
    (void)threads;
    dfl_backend *be = dfl_xcalloc(1, sizeof *be);
    be->name = "cpu";
    be->alloc = cpu_alloc;
    be->free = cpu_free;
    be->destroy = cpu_destroy;
    return be;
}
