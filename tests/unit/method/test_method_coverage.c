/* The coverage estimate of Theorem 1 (host/method/coverage.h) on synthetic masks:
 *   - pixel contexts on block-missing masks: entries deep inside missing
 *     blocks are never queried (zero > 0, warning);
 *   - block contexts on the same masks: every entry covered, about 1/2
 *     (the empty block is the hidden one half of the time);
 *   - pixel complement on pixel masks: the closed form
 *     p(1-rho)/(p(1-rho) + 1-p) (neighbourhoods carry no information);
 *   - entries never observed: cov 0 and counted apart; never missing: NaN. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dfl_test.h"
#include "method/coverage.h"
#include "shared/mask_strategy.h"

enum { NS = 40, S = 24 };

static void block_masks(uint8_t *m, int n) {
    for (int i = 0; i < n; ++i) {
        int missing = i % 9; /* every block missing in some sample */
        for (int y = 0; y < S; ++y)
            for (int x = 0; x < S; ++x) m[((size_t)i * S + y) * S + x] = dfl_block_index(y, x, S, S, 3, 3) != missing;
    }
}

static dfl_coverage_result estimate(const dfl_method_params *mp, const uint8_t *masks, int mc, long draws) {
    dfl_coverage_request rq = {.method = mp,
                               .masks = masks,
                               .n = NS,
                               .c = mc,
                               .mc = mc,
                               .h = S,
                               .w = S,
                               .draws = draws,
                               .radius = 2,
                               .threshold = 1e-3,
                               .seed = 3};
    dfl_coverage_result res;
    DFL_ASSERT(dfl_coverage_estimate(&rq, &res) == DFL_OK);
    return res;
}

int main(void) {
    uint8_t *masks = malloc((size_t)NS * 2 * S * S);
    dfl_method_params mp;
    char warning[2048];

    /* pixel vs block contexts on block-missing data (block:3x3:8) */
    block_masks(masks, NS);
    dfl_method_params_default(&mp);
    dfl_coverage_result pix = estimate(&mp, masks, 1, 600);
    CHECK(pix.scored == S * S && pix.unobservable == 0);
    CHECK_MSG(pix.zero >= 9 * 16, "zero %lld", (long long)pix.zero); /* at least the 4x4 cores of the 8x8 blocks */
    CHECK(pix.min == 0.0);
    dfl_coverage_warning(&pix, &mp, 1e-3, 0, warning, sizeof warning);
    CHECK(strncmp(warning, "warning: ", 9) == 0 && strstr(warning, "never queried") != NULL);
    /* the core of block 4 (rows/cols 10-13) is never queried; its centre row next to block 3 is */
    CHECK(pix.map[11 * S + 11] == 0.0f);
    CHECK(pix.map[11 * S + 8] > 0.01f);
    dfl_coverage_result_free(&pix);

    /* A block position is missing from a context either in the data
     * (probability 1/9) or hidden (8/9 * hide/8): queried in hide/(hide + 1)
     * of those contexts; hide 1 [ref] and the default 2. */
    mp.strategy = DFL_STRATEGY_BLOCK;
    for (int hide = 1; hide <= 2; ++hide) {
        mp.hide = hide;
        const double want = hide / (hide + 1.0);
        dfl_coverage_result blk = estimate(&mp, masks, 1, 600);
        CHECK(blk.below == 0 && blk.zero == 0 && blk.unobservable == 0);
        CHECK_MSG(blk.min > want - 0.2 && fabs(blk.mean - want) < 0.05, "hide %d: min %g mean %g", hide, blk.min,
                  blk.mean);
        dfl_coverage_warning(&blk, &mp, 1e-3, 0, warning, sizeof warning);
        CHECK(warning[0] == 0);
        CHECK_MSG(fabs(blk.p_bin[0] - want) < 0.1, "hide %d: p_bin[0] %g", hide, blk.p_bin[0]);
        dfl_coverage_result_free(&blk);
    }

    /* pixel complement on pixel masks (2 mask channels, p = 0.3): the closed form */
    for (size_t e = 0; e < (size_t)NS * 2 * S * S; ++e) masks[e] = dfl_rng_uniform(6, 0xE1, e) < 0.3f;
    dfl_method_params_default(&mp);
    mp.query = DFL_QUERY_COMPLEMENT;
    mp.context_ratio = 0.5f;
    dfl_coverage_result pc = estimate(&mp, masks, 2, 200);
    const double want = 0.3 * 0.5 / (0.3 * 0.5 + 0.7);
    CHECK(pc.entries == 2 * S * S && pc.below == 0);
    CHECK_MSG(fabs(pc.mean - want) < 0.1 * want, "mean %g, closed form %g", pc.mean, want);
    dfl_coverage_result_free(&pc);

    /* column 0 never observed, column 1 always observed */
    for (int i = 0; i < NS; ++i)
        for (int y = 0; y < S; ++y) {
            masks[((size_t)i * S + y) * S + 0] = 0;
            masks[((size_t)i * S + y) * S + 1] = 1;
        }
    dfl_coverage_result un = estimate(&mp, masks, 1, 200);
    CHECK(un.unobservable == S);
    CHECK(un.scored == S * S - S);
    CHECK(un.map[5 * S + 0] == 0.0f && isnan(un.map[5 * S + 1]));
    dfl_coverage_warning(&un, &mp, 1e-3, 0, warning, sizeof warning);
    CHECK(strstr(warning, "observed in no sample") != NULL);
    CHECK(strstr(warning, "/std is too narrow") != NULL);
    /* a station network whose training withholds cells: the calibration measures the error there */
    dfl_coverage_warning(&un, &mp, 1e-3, 1, warning, sizeof warning);
    CHECK(strstr(warning, "observed in no sample") != NULL);
    CHECK(strstr(warning, "/std is too narrow") == NULL && strstr(warning, "data.withhold_cells") != NULL);
    dfl_coverage_result_free(&un);

    /* invalid parameters are usage errors */
    mp.strategy = DFL_STRATEGY_BLOCK;
    mp.grid_h = 40;
    dfl_coverage_request rq = {.method = &mp,
                               .masks = masks,
                               .n = NS,
                               .c = 1,
                               .mc = 1,
                               .h = S,
                               .w = S,
                               .draws = 10,
                               .radius = 2,
                               .threshold = 1e-3};
    dfl_coverage_result bad;
    CHECK(dfl_coverage_estimate(&rq, &bad) == DFL_EUSAGE && bad.map == NULL);
    dfl_clear_error();

    /* fewer draws than samples need the caller's picks (a stride would read one phase of a period) */
    dfl_method_params_default(&mp);
    rq.draws = NS / 2;
    CHECK(dfl_coverage_estimate(&rq, &bad) == DFL_EINTERNAL && bad.map == NULL);
    dfl_clear_error();
    int64_t picks[NS / 2];
    for (int d = 0; d < NS / 2; ++d) picks[d] = 2 * d + 1; /* the odd samples */
    rq.picks = picks;
    CHECK(dfl_coverage_estimate(&rq, &bad) == DFL_OK);
    dfl_coverage_result_free(&bad);

    free(masks);
    return dfl_test_finish("method_coverage");
}
