/* Splitting a library call whose sizes the library stores as `int`
 * (docs/design.md, "Backend interface"; docs/scaling.md, "Large tensors").
 * cuDNN's legacy tensor descriptors hold at most 2^31 - 1 elements and
 * cuBLAS's 32-bit API takes int dimensions, yet a 256-channel 728x1440
 * activation passes 2^31 elements at batch 8. The CUDA backend then runs
 * the call on batch chunks, each under the limit; the chunk plan is this
 * pure function, shared with the CPU unit test (tests/unit/shared). */
#ifndef DYNFILL_SHARED_INT_LIMIT_H
#define DYNFILL_SHARED_INT_LIMIT_H

#include <stdint.h>

#include "dfl_hd.h"

/* The limit of one cuDNN tensor / cuBLAS matrix, in elements. */
#define DFL_INT_LIMIT ((int64_t)INT32_MAX)

/* Samples per chunk when n samples of per_sample elements each are split
 * so that every chunk holds at most `limit` elements: n itself when the
 * whole batch fits (no split), else ceil(n / c) for the fewest chunks
 * c = ceil(n / max_fit) that fit: still c chunks, all of that size but a
 * smaller last one, so at most two distinct shapes reach the library
 * (one cuDNN plan each).
 * 0 when one sample alone exceeds the limit (the call cannot be split
 * along the batch: the caller refuses, naming the shape) or when an
 * argument is not positive. */
DFL_HD int64_t dfl_split_batch_for_int_limit(int64_t n, int64_t per_sample, int64_t limit) {
    if (n <= 0 || per_sample <= 0 || limit <= 0 || per_sample > limit) return 0;
    const int64_t max_fit = limit / per_sample; /* >= 1 */
    if (n <= max_fit) return n;
    const int64_t chunks = (n + max_fit - 1) / max_fit;
    return (n + chunks - 1) / chunks;
}

/* Number of chunks of size `chunk` (from dfl_split_batch_for_int_limit)
 * covering n samples; chunk i covers [i * chunk, min(n, (i + 1) * chunk)). */
DFL_HD int64_t dfl_split_count(int64_t n, int64_t chunk) { return chunk > 0 ? (n + chunk - 1) / chunk : 0; }

/* First sample and sample count of chunk i. */
DFL_HD void dfl_split_chunk(int64_t n, int64_t chunk, int64_t i, int64_t *start, int64_t *count) {
    const int64_t s = i * chunk;
    *start = s;
    *count = s + chunk <= n ? chunk : n - s;
}

#endif
