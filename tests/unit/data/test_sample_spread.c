/* dfl_sample_spread (include/dynfill/data.h): the samples a calibration, the climatology and the
 * start-of-training checks read from a longer span. */
#include <stdint.h>

#include "dfl_test.h"
#include "dynfill/data.h"

/* Samples from a longer span: one in each equal stretch, the same on every
 * call, and no fixed stride that reads a period of the data at one phase (the stride 10 of 64 from
 * 640 read frame 0 of every 10-frame trajectory; 64 of 1536 hours would read one hour of the day). */
static void check_sample_spread(void) {
    const int64_t start = 7;
    for (int64_t i = 0; i < 5; ++i) CHECK(dfl_sample_spread(start, 5, 5, i) == start + i); /* span = count */
    const int64_t spans[2] = {640, 1536}, periods[2] = {10, 24};
    for (int t = 0; t < 2; ++t) {
        const int64_t span = spans[t], count = 64, period = periods[t];
        int phase_seen[24] = {0}, phases = 0;
        int64_t prev = -1;
        for (int64_t i = 0; i < count; ++i) {
            const int64_t k = dfl_sample_spread(start, count, span, i) - start;
            CHECK_MSG(k >= i * span / count && k < (i + 1) * span / count, "span %lld: sample %lld at %lld",
                      (long long)span, (long long)i, (long long)k);
            CHECK(k > prev);
            CHECK(dfl_sample_spread(start, count, span, i) == k + start); /* the same on every call */
            prev = k;
            phases += !phase_seen[k % period];
            phase_seen[k % period] = 1;
        }
        /* drawn uniformly within stretches of one period or more: most phases are read */
        CHECK_MSG(phases >= period / 2, "span %lld: %d of %lld phases read", (long long)span, phases,
                  (long long)period);
    }
    /* 3 of 4: stretches [0, 1), [1, 2), [2, 4) */
    CHECK(dfl_sample_spread(0, 3, 4, 0) == 0 && dfl_sample_spread(0, 3, 4, 1) == 1);
    CHECK(dfl_sample_spread(0, 3, 4, 2) >= 2 && dfl_sample_spread(0, 3, 4, 2) <= 3);
}

int main(void) {
    check_sample_spread();
    return dfl_test_finish("sample_spread");
}
