/* The batch split of library calls past the int limit
 * (kernels/shared/int_limit.h), with small artificial limits: every sample
 * is covered exactly once, each chunk stays under the limit, the chunk
 * count is the fewest possible, at most two chunk sizes occur, no split
 * when the batch fits, and a clear refusal (0) when one sample alone is
 * over the limit. */
#include <stdint.h>
#include <string.h>

#include "dfl_test.h"
#include "shared/int_limit.h"

static void check_plan(int64_t n, int64_t per, int64_t limit) {
    const int64_t chunk = dfl_split_batch_for_int_limit(n, per, limit);
    if (per > limit) {
        CHECK_MSG(chunk == 0, "n=%lld per=%lld limit=%lld: one sample is over the limit, got chunk %lld", (long long)n,
                  (long long)per, (long long)limit, (long long)chunk);
        return;
    }
    CHECK_MSG(chunk >= 1 && chunk <= n, "n=%lld per=%lld limit=%lld: chunk %lld", (long long)n, (long long)per,
              (long long)limit, (long long)chunk);
    if (chunk < 1) return;
    if (n * per <= limit)
        CHECK_MSG(chunk == n, "a batch that fits is not split (chunk %lld of %lld)", (long long)chunk, (long long)n);
    static unsigned char seen[4096];
    memset(seen, 0, sizeof seen);
    const int64_t count = dfl_split_count(n, chunk);
    const int64_t max_fit = limit / per;
    CHECK_MSG(count == (n + max_fit - 1) / max_fit, "n=%lld per=%lld limit=%lld: %lld chunks, not the fewest",
              (long long)n, (long long)per, (long long)limit, (long long)count);
    int64_t covered = 0, other_size = -1;
    for (int64_t i = 0; i < count; ++i) {
        int64_t start, cnt;
        dfl_split_chunk(n, chunk, i, &start, &cnt);
        CHECK(cnt >= 1 && cnt <= chunk);
        CHECK_MSG(cnt * per <= limit, "chunk %lld: %lld elements over the limit %lld", (long long)i,
                  (long long)(cnt * per), (long long)limit);
        if (cnt != chunk) {
            CHECK_MSG(i == count - 1, "only the last chunk may be smaller (chunk %lld of %lld)", (long long)i,
                      (long long)count);
            CHECK(other_size < 0);
            other_size = cnt;
        }
        for (int64_t s = start; s < start + cnt; ++s) {
            CHECK(s >= 0 && s < n);
            if (s >= 0 && s < n) {
                CHECK_MSG(!seen[s], "sample %lld covered twice", (long long)s);
                seen[s] = 1;
            }
        }
        covered += cnt;
    }
    CHECK(covered == n);
    for (int64_t s = 0; s < n; ++s) CHECK_MSG(seen[s], "sample %lld not covered", (long long)s);
}

int main(void) {
    /* exhaustive over small shapes */
    for (int64_t n = 1; n <= 40; ++n)
        for (int64_t per = 1; per <= 30; ++per)
            for (int64_t limit = 1; limit <= 100; limit += 3) check_plan(n, per, limit);
    /* the shape of the issue: 256 channels of 728x1440 at batch 8 are just under 2^31 elements
     * (2146959360), but the copy cuDNN reads for a periodic-x 3x3 conv (a 1-column halo each
     * side: 728x1442) passes it */
    CHECK(8 * (int64_t)256 * 728 * 1440 <= DFL_INT_LIMIT);
    CHECK(9 * (int64_t)256 * 728 * 1440 > DFL_INT_LIMIT);
    const int64_t per = (int64_t)256 * 728 * 1442;
    CHECK(8 * per > DFL_INT_LIMIT);
    const int64_t chunk = dfl_split_batch_for_int_limit(8, per, DFL_INT_LIMIT);
    CHECK_MSG(chunk == 4, "8 samples of 256x728x1440 split into chunks of %lld (4 expected)", (long long)chunk);
    CHECK(chunk * per <= DFL_INT_LIMIT);
    CHECK(dfl_split_count(8, chunk) == 2);
    CHECK(dfl_split_batch_for_int_limit(9, per, DFL_INT_LIMIT) == 5); /* 5 + 4 */
    CHECK(dfl_split_batch_for_int_limit(7, per, DFL_INT_LIMIT) == 7); /* fits: 1.88e9 elements */
    /* one sample over the limit: refused, not split */
    CHECK(dfl_split_batch_for_int_limit(1, DFL_INT_LIMIT + 1, DFL_INT_LIMIT) == 0);
    CHECK(dfl_split_batch_for_int_limit(3, (int64_t)1 << 40, DFL_INT_LIMIT) == 0);
    /* exactly at the limit is allowed */
    CHECK(dfl_split_batch_for_int_limit(1, DFL_INT_LIMIT, DFL_INT_LIMIT) == 1);
    CHECK(dfl_split_batch_for_int_limit(4, DFL_INT_LIMIT / 2, DFL_INT_LIMIT) == 2);
    /* degenerate arguments */
    CHECK(dfl_split_batch_for_int_limit(0, 5, 10) == 0);
    CHECK(dfl_split_batch_for_int_limit(3, 0, 10) == 0);
    CHECK(dfl_split_batch_for_int_limit(3, 5, 0) == 0);
    CHECK(dfl_split_count(0, 4) == 0 && dfl_split_count(5, 0) == 0);
    return dfl_test_finish("shared_int_limit");
}
