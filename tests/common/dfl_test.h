/* Minimal assertion helpers for dynfill's C tests. A failed check prints
 * file:line and the values, counts the failure, and the test's main returns
 * dfl_test_finish() (0 when all checks passed, 1 otherwise). */
#ifndef DYNFILL_TEST_H
#define DYNFILL_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

static int dfl_test_failures;
static int dfl_test_checks;

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        ++dfl_test_checks;                                                                                             \
        if (!(cond)) {                                                                                                 \
            ++dfl_test_failures;                                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                                   \
        }                                                                                                              \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                                           \
    do {                                                                                                               \
        ++dfl_test_checks;                                                                                             \
        if (!(cond)) {                                                                                                 \
            ++dfl_test_failures;                                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);                                   \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fputc('\n', stderr);                                                                                       \
        }                                                                                                              \
    } while (0)

/* |a - b| <= tol * max(1, |b|) */
#define CHECK_CLOSE(a, b, tol)                                                                                         \
    do {                                                                                                               \
        double ca_ = (double)(a), cb_ = (double)(b), ct_ = (double)(tol);                                              \
        ++dfl_test_checks;                                                                                             \
        double sc_ = fabs(cb_) > 1.0 ? fabs(cb_) : 1.0;                                                                \
        if (!(fabs(ca_ - cb_) <= ct_ * sc_)) {                                                                         \
            ++dfl_test_failures;                                                                                       \
            fprintf(stderr, "%s:%d: CHECK_CLOSE failed: %s = %.9g, %s = %.9g, tol %.3g\n", __FILE__, __LINE__, #a,     \
                    ca_, #b, cb_, ct_);                                                                                \
        }                                                                                                              \
    } while (0)

/* The tests' own random numbers: xorshift64* in [0, 1), one stream per
 * test program, reproducible from dfl_test_seed's value. */
static inline uint64_t *dfl_test_rng_state(void) {
    static uint64_t state = 0x2545F4914F6CDD1Dull;
    return &state;
}
static inline void dfl_test_seed(uint64_t seed) { *dfl_test_rng_state() = seed; }
static inline double dfl_test_uniform(void) {
    uint64_t *s = dfl_test_rng_state();
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (double)((*s * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

static inline int dfl_test_finish(const char *name) {
    printf("%s: %d checks, %d failed\n", name, dfl_test_checks, dfl_test_failures);
    return dfl_test_failures ? 1 : 0;
}

#endif
