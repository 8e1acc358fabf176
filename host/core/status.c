/* Error buffer, panics and logging (include/dynfill/status.h). */
#include "dynfill/status.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char g_error[1024];
static _Thread_local int g_error_set;
static int g_quiet;

dfl_status dfl_fail(dfl_status code, const char *fmt, ...) {
    if (!g_error_set) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g_error, sizeof g_error, fmt, ap);
        va_end(ap);
        g_error_set = 1;
    }
    return code;
}

const char *dfl_last_error(void) { return g_error_set ? g_error : "unknown error"; }

void dfl_clear_error(void) {
    g_error_set = 0;
    g_error[0] = 0;
}

void dfl_panic(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "dynfill: internal error at %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void *dfl_xmalloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) DFL_PANIC("out of memory allocating %zu bytes", bytes);
    return p;
}

void *dfl_xcalloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) DFL_PANIC("out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *dfl_xgrow(void *items, size_t *capacity, size_t need, size_t elem) {
    if (need <= *capacity) return items;
    size_t cap = *capacity ? *capacity : 16;
    while (cap < need) cap *= 2;
    void *p = realloc(items, cap * elem);
    if (!p) DFL_PANIC("out of memory growing an array to %zu x %zu bytes", cap, elem);
    *capacity = cap;
    return p;
}

void dfl_set_quiet(int quiet) { g_quiet = quiet; }

int dfl_quiet(void) { return g_quiet; }

void dfl_info(const char *fmt, ...) {
    if (g_quiet) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void dfl_warn(const char *fmt, ...) {
    va_list ap;
    fputs("dynfill: warning: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
