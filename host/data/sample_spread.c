/* Samples spread over a span, one drawn per equal stretch (include/dynfill/data.h). */
#include "dynfill/data.h"
#include "shared/philox.h"

int64_t dfl_sample_spread(int64_t start, int64_t count, int64_t span, int64_t i) {
    if (count >= span) return start + i;
    const int64_t lo = i * span / count, hi = (i + 1) * span / count; /* hi > lo: span > count */
    const double u = dfl_rng_uniform(0, dfl_rng_stream(DFL_RNG_PURPOSE_SPREAD, 0, 0), (uint64_t)i);
    const int64_t k = lo + (int64_t)(u * (double)(hi - lo));
    return start + (k < hi ? k : hi - 1);
}
