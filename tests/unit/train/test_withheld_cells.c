/* data.withhold_cells (host/train/train_withheld_cells.c, docs/design.md,
 * "Withheld cells"): the choice from the cells some sample observes.
 *  - a station network (40 of 400 cells observed): auto withholds 4 of the
 *    40, all observed cells, the same ones for the same seed, others for
 *    another seed;
 *  - none withholds nothing;
 *  - scattered pixels that leave under half of the cells unobserved in every
 *    sample (60 % observed somewhere), or a network of 9 cells, get nothing;
 *  - a draw of 4 from 40 covers the cells evenly: over 400 seeds each
 *    station is chosen 40 times in expectation, and none under 15 or over
 *    70 (a draw that favoured the first cells in order would fail). */
#include <stdlib.h>
#include <string.h>

#include "dfl_test.h"
#include "train/train_withheld_cells.h"

enum { H = 20, W = 20 };

static void stations(uint8_t *ever, int n) {
    memset(ever, 0, H * W);
    for (int k = 0; k < n; ++k) ever[(k * 97 + 13) % (H * W)] = 1; /* 97 is prime to 400: n distinct cells */
}

int main(void) {
    uint8_t ever[H * W];
    stations(ever, 40);
    dfl_withheld_cells a = {0}, b = {0}, c = {0};
    dfl_withheld_cells_choose(ever, H, W, "auto", 7, &a);
    CHECK(a.plane != NULL);
    CHECK(a.cells == H * W && a.observed_cells == 40 && a.withheld == 4);
    CHECK(a.never_share > 0.89 && a.never_share < 0.91);
    int set = 0, outside = 0;
    for (int p = 0; p < H * W; ++p) set += a.plane[p], outside += a.plane[p] && !ever[p];
    CHECK_MSG(set == 4 && outside == 0, "4 withheld, all at observed cells");
    dfl_withheld_cells_choose(ever, H, W, "auto", 7, &b);
    CHECK_MSG(b.plane && !memcmp(a.plane, b.plane, H * W), "the same seed, the same cells");
    int differ = 0;
    for (uint64_t seed = 8; seed < 12 && !differ; ++seed) {
        dfl_withheld_cells_choose(ever, H, W, "auto", seed, &c);
        differ = memcmp(a.plane, c.plane, H * W) != 0;
        dfl_withheld_cells_free(&c);
    }
    CHECK_MSG(differ, "other seeds, other cells");
    dfl_withheld_cells_free(&b);

    dfl_withheld_cells_choose(ever, H, W, "none", 7, &b);
    CHECK_MSG(b.plane == NULL && b.withheld == 0, "none withholds nothing");

    /* 60 % of the cells observed somewhere: not a station network */
    uint8_t dense[H * W];
    for (int p = 0; p < H * W; ++p) dense[p] = p % 5 < 3;
    dfl_withheld_cells_choose(dense, H, W, "auto", 7, &b);
    CHECK_MSG(b.plane == NULL && b.observed_cells == 240, "60 %% observed: nothing withheld");
    stations(ever, 9);
    dfl_withheld_cells_choose(ever, H, W, "auto", 7, &b);
    CHECK_MSG(b.plane == NULL, "9 stations: too few to spare one");

    stations(ever, 40);
    int count[H * W] = {0};
    for (uint64_t seed = 0; seed < 400; ++seed) {
        dfl_withheld_cells_choose(ever, H, W, "auto", seed, &b);
        for (int p = 0; p < H * W; ++p) count[p] += b.plane[p];
        dfl_withheld_cells_free(&b);
    }
    int lo = 1 << 30, hi = 0;
    for (int p = 0; p < H * W; ++p)
        if (ever[p]) lo = count[p] < lo ? count[p] : lo, hi = count[p] > hi ? count[p] : hi;
    CHECK_MSG(lo >= 15 && hi <= 70, "every station chosen 15-70 times of 400 (expected 40)");
    dfl_withheld_cells_free(&a);
    return dfl_test_finish("train_withheld_cells_choice");
}
