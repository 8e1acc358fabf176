/* data.withhold_cells (host/train/train_withheld_cells.c, docs/design.md,
 * "Withheld cells"): the choice from how often each cell is observed in
 * the samples read.
 *  - a station network (40 of 400 cells, each in 57 of 64 samples): auto
 *    withholds 4 of the 40, all stations, the same ones for the same seed,
 *    others for another seed;
 *  - none withholds nothing;
 *  - not a network: 60 % of the cells observed somewhere; sparse random
 *    pixels (40 % of the cells seen once or twice in 64 samples); one
 *    fixed 10x10 footprint (75 % never observed, but its cells have 3.6
 *    observed neighbours where cells at random places would have 1); a
 *    network of 9 cells (too few to spare one);
 *  - a draw of 4 from 40 covers the cells evenly: over 400 seeds each
 *    station is chosen 40 times in expectation, and none under 15 or over
 *    70 (a draw that favoured the first cells in order would fail). */
#include <stdlib.h>
#include <string.h>

#include "dfl_test.h"
#include "train/train_withheld_cells.h"

enum { H = 20, W = 20, S = 64 };

static void stations(uint32_t *count, int n) {
    memset(count, 0, H * W * sizeof *count);
    for (int k = 0; k < n; ++k) count[(k * 97 + 13) % (H * W)] = 57; /* 97 is prime to 400: n distinct cells */
}

int main(void) {
    uint32_t count[H * W];
    stations(count, 40);
    dfl_withheld_cells a = {0}, b = {0}, c = {0};
    dfl_withheld_cells_choose(count, S, H, W, "auto", 7, &a);
    CHECK(a.plane != NULL);
    CHECK(a.cells == H * W && a.observed_cells == 40 && a.withheld == 4 && a.samples == S);
    CHECK(a.never_share > 0.89 && a.never_share < 0.91);
    CHECK(a.frequency > 0.89 && a.frequency < 0.9);
    CHECK(a.clustering <= 2.0);
    int set = 0, outside = 0;
    for (int p = 0; p < H * W; ++p) set += a.plane[p], outside += a.plane[p] && !count[p];
    CHECK_MSG(set == 4 && outside == 0, "4 withheld, all at observed cells");
    dfl_withheld_cells_choose(count, S, H, W, "auto", 7, &b);
    CHECK_MSG(b.plane && !memcmp(a.plane, b.plane, H * W), "the same seed, the same cells");
    int differ = 0;
    for (uint64_t seed = 8; seed < 12 && !differ; ++seed) {
        dfl_withheld_cells_choose(count, S, H, W, "auto", seed, &c);
        differ = memcmp(a.plane, c.plane, H * W) != 0;
        dfl_withheld_cells_free(&c);
    }
    CHECK_MSG(differ, "other seeds, other cells");
    dfl_withheld_cells_free(&b);

    dfl_withheld_cells_choose(count, S, H, W, "none", 7, &b);
    CHECK_MSG(b.plane == NULL && b.withheld == 0, "none withholds nothing");

    /* not station networks */
    for (int p = 0; p < H * W; ++p) count[p] = p % 5 < 3 ? 20 : 0;
    dfl_withheld_cells_choose(count, S, H, W, "auto", 7, &b);
    CHECK_MSG(b.plane == NULL && b.observed_cells == 240, "60 %% observed: nothing withheld");
    for (int p = 0; p < H * W; ++p) count[p] = p % 5 < 2 ? 1 + p % 2 : 0;
    dfl_withheld_cells_choose(count, S, H, W, "auto", 7, &b);
    CHECK_MSG(b.plane == NULL && b.never_share >= 0.5 && b.frequency < 0.05, "sparse random pixels: nothing withheld");
    memset(count, 0, sizeof count);
    for (int y = 5; y < 15; ++y)
        for (int x = 5; x < 15; ++x) count[y * W + x] = S;
    dfl_withheld_cells_choose(count, S, H, W, "auto", 7, &b);
    CHECK_MSG(b.plane == NULL && b.never_share >= 0.5 && b.frequency == 1.0 && b.clustering > 3.0,
              "one footprint: nothing withheld");
    stations(count, 9);
    dfl_withheld_cells_choose(count, S, H, W, "auto", 7, &b);
    CHECK_MSG(b.plane == NULL, "9 stations: too few to spare one");

    stations(count, 40);
    int chosen[H * W] = {0};
    for (uint64_t seed = 0; seed < 400; ++seed) {
        dfl_withheld_cells_choose(count, S, H, W, "auto", seed, &b);
        for (int p = 0; p < H * W; ++p) chosen[p] += b.plane[p];
        dfl_withheld_cells_free(&b);
    }
    int lo = 1 << 30, hi = 0;
    for (int p = 0; p < H * W; ++p)
        if (count[p]) lo = chosen[p] < lo ? chosen[p] : lo, hi = chosen[p] > hi ? chosen[p] : hi;
    CHECK_MSG(lo >= 15 && hi <= 70, "every station chosen 15-70 times of 400 (expected 40)");
    dfl_withheld_cells_free(&a);
    return dfl_test_finish("train_withheld_cells_choice");
}
