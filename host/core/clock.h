/* Monotonic wall-clock seconds and the median of timings, for the
 * benchmarks, progress lines and training throughput. */
#ifndef DYNFILL_HOST_CLOCK_H
#define DYNFILL_HOST_CLOCK_H

#include <stddef.h>

/* Seconds on CLOCK_MONOTONIC (differences only are meaningful). */
double dfl_clock_seconds(void);

/* Median of v[0..n) (n >= 1; sorts v in place; the upper median for even n). */
double dfl_clock_median(double *v, size_t n);

#endif
