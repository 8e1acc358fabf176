/* Error reporting shared by every part of dynfill.
 *
 * Functions that can fail return dfl_status. DFL_OK is 0; DFL_EUSAGE means
 * bad usage or bad input (the CLI exits 2); DFL_EINTERNAL is a bug or a
 * failing library (exit 1). The first message of a failure is kept in a
 * thread-local buffer, so the CLI prints exactly one line naming the file,
 * dataset or key. */
#ifndef DYNFILL_STATUS_H
#define DYNFILL_STATUS_H

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    DFL_OK = 0,
    DFL_EUSAGE = 2,      /* bad usage or bad input: exit code 2 */
    DFL_EINTERNAL = 1,   /* library failure or bug: exit code 1 */
    DFL_EINTERRUPTED = 3 /* stopped by a signal after saving state */
} dfl_status;

/* Record an error message (printf-style) unless one is already pending;
 * returns the given code so callers can write `return dfl_fail(...)`. */
dfl_status dfl_fail(dfl_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *dfl_last_error(void);
void dfl_clear_error(void);

/* Abort with file:line for failures that are bugs (never bad input). */
void dfl_panic(const char *file, int line, const char *fmt, ...) __attribute__((noreturn, format(printf, 3, 4)));
#define DFL_PANIC(...) dfl_panic(__FILE__, __LINE__, __VA_ARGS__)
#define DFL_ASSERT(cond)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) dfl_panic(__FILE__, __LINE__, "assertion failed: %s", #cond);                                     \
    } while (0)

/* Propagate a failing status. */
#define DFL_TRY(expr)                                                                                                  \
    do {                                                                                                               \
        dfl_status dfl_try_s_ = (expr);                                                                                \
        if (dfl_try_s_ != DFL_OK) return dfl_try_s_;                                                                   \
    } while (0)

/* Checked allocation: panics (out of memory is not bad input). */
void *dfl_xmalloc(size_t bytes);
void *dfl_xcalloc(size_t count, size_t size);
/* The one growable-array rule: returns `items` reallocated to hold at least
 * `need` elements of `elem` bytes (capacity doubling from 16, updated in
 * *capacity; contents kept), or `items` itself when it already does. */
void *dfl_xgrow(void *items, size_t *capacity, size_t need, size_t elem);

/* Logging: info goes to stderr unless quiet; warnings always. */
void dfl_set_quiet(int quiet);
int dfl_quiet(void); /* what dfl_set_quiet set: progress bars stay off too */
void dfl_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void dfl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#ifdef __cplusplus
}
#endif
#endif
