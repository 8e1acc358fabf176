/* Helpers shared by the ops tests: random inputs (Philox, so every run
 * sees the same data), float <-> double copies, the normalised error
 * max|got - ref| / max|ref| of docs/design.md, "Testing", and bitwise comparison. */
#ifndef DYNFILL_TEST_OPS_UTIL_H
#define DYNFILL_TEST_OPS_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfl_test.h"
#include "dynfill/backend.h"
#include "shared/philox.h"

/* x[i] = offset + scale * N(0,1), from (seed, i). */
static inline void ops_fill_normal(float *x, size_t n, uint64_t seed, float scale, float offset) {
    for (size_t i = 0; i < n; ++i) x[i] = offset + scale * dfl_rng_normal(seed, 7, i);
}

static inline float *ops_new_normal(size_t n, uint64_t seed, float scale, float offset) {
    float *x = malloc((n ? n : 1) * sizeof(float));
    ops_fill_normal(x, n, seed, scale, offset);
    return x;
}

static inline double *ops_to_double(const float *x, size_t n) {
    double *d = malloc((n ? n : 1) * sizeof(double));
    for (size_t i = 0; i < n; ++i) d[i] = x[i];
    return d;
}

static inline float *ops_new_floats(size_t n) { return calloc(n ? n : 1, sizeof(float)); }
static inline double *ops_new_doubles(size_t n) { return calloc(n ? n : 1, sizeof(double)); }

/* max|got - ref| / max|ref| (absolute error when ref is all zeros). */
static inline double ops_rel_err(const float *got, const double *ref, size_t n) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; ++i) {
        double e = fabs((double)got[i] - ref[i]);
        if (!(e <= num)) num = e; /* NaN propagates */
        if (fabs(ref[i]) > den) den = fabs(ref[i]);
    }
    return den > 0.0 ? num / den : num;
}

static inline double ops_rel_err_d(const double *got, const double *ref, size_t n) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; ++i) {
        double e = fabs(got[i] - ref[i]);
        if (!(e <= num)) num = e;
        if (fabs(ref[i]) > den) den = fabs(ref[i]);
    }
    return den > 0.0 ? num / den : num;
}

#define OPS_CHECK_REL(what, got, ref, n, tol)                                                                          \
    do {                                                                                                               \
        double ops_e_ = ops_rel_err((got), (ref), (n));                                                                \
        CHECK_MSG(ops_e_ <= (tol), "%s: normalised error %.3g > %.3g", (what), ops_e_, (double)(tol));                 \
    } while (0)

#define OPS_CHECK_BITS(what, a, b, n)                                                                                  \
    CHECK_MSG(memcmp((a), (b), (n) * sizeof(*(a))) == 0, "%s: results differ between runs", (what))

#endif
