/* method.strategy = auto (host/method/strategy_choice.h) on synthetic masks:
 *   - the neighbour correlation equals a naive double loop over every
 *     ordered pair of each clipped window (random patchy masks, two mask
 *     channels, radius 2);
 *   - independent pixels (p = 0.05, 0.2, 0.8) and fixed stations with
 *     dropout: correlation near 0, pixel;
 *   - strips 6 wide with gaps of 14 (satellite swaths): empirical;
 *   - masks made of whole blocks of the 3x3 grid: block; of a 4x4 grid,
 *     or with one pixel flipped, not on the grid: empirical;
 *   - no field with both observed and missing entries: pixel, 0 fields;
 *   - a config left at `auto` with no masks read (bench's checkpoints) is pixel. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dfl_test.h"
#include "dynfill/config.h"
#include "method/strategy_choice.h"
#include "shared/mask_strategy.h"

enum { N = 24, H = 48, W = 40 };

/* The statistic by its definition: every ordered pair (i, j != i) of each
 * clipped (2r+1)^2 window, per field centred by its own observed fraction. */
static double naive_correlation(const uint8_t *m, int fields, int h, int w, int r) {
    double cov = 0.0, var = 0.0;
    for (int f = 0; f < fields; ++f) {
        const uint8_t *a = m + (size_t)f * h * w;
        double p = 0.0;
        for (int i = 0; i < h * w; ++i) p += a[i] != 0;
        p /= (double)(h * w);
        if (p <= 0.0 || p >= 1.0) continue;
        double both = 0.0, pairs = 0.0;
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x)
                for (int dy = -r; dy <= r; ++dy)
                    for (int dx = -r; dx <= r; ++dx) {
                        const int yy = y + dy, xx = x + dx;
                        if ((!dy && !dx) || yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                        pairs += 1.0;
                        both += (a[y * w + x] != 0) && (a[yy * w + xx] != 0);
                    }
        cov += both / pairs - p * p;
        var += p * (1.0 - p);
    }
    return cov / var;
}

static void pixel_masks(uint8_t *m, double p) {
    for (size_t i = 0; i < (size_t)N * H * W; ++i) m[i] = dfl_test_uniform() < p;
}

static void station_masks(uint8_t *m, int stations, double dropout) {
    uint8_t *cell = calloc((size_t)H * W, 1);
    for (int s = 0; s < stations; ++s) cell[(size_t)(dfl_test_uniform() * H * W)] = 1;
    for (int i = 0; i < N; ++i)
        for (int e = 0; e < H * W; ++e) m[(size_t)i * H * W + e] = cell[e] && dfl_test_uniform() >= dropout;
    free(cell);
}

static void swath_masks(uint8_t *m, int width, int period) {
    for (int i = 0; i < N; ++i) {
        const int phase = (int)(dfl_test_uniform() * period);
        for (int y = 0; y < H; ++y)
            for (int x = 0; x < W; ++x) m[((size_t)i * H + y) * W + x] = (x + phase) % period < width;
    }
}

static void block_masks(uint8_t *m, int gh, int gw) {
    for (int i = 0; i < N; ++i) {
        const int missing = i % (gh * gw);
        for (int y = 0; y < H; ++y)
            for (int x = 0; x < W; ++x) m[((size_t)i * H + y) * W + x] = dfl_block_index(y, x, H, W, gh, gw) != missing;
    }
}

/* Random patches: discs of random radius cut out of a field observed with p = 0.9. */
static void patch_masks(uint8_t *m, int fields) {
    for (int f = 0; f < fields; ++f) {
        uint8_t *a = m + (size_t)f * H * W;
        for (int e = 0; e < H * W; ++e) a[e] = dfl_test_uniform() < 0.9;
        for (int d = 0; d < 4; ++d) {
            const double cy = dfl_test_uniform() * H, cx = dfl_test_uniform() * W, rad = 2.0 + 6.0 * dfl_test_uniform();
            for (int y = 0; y < H; ++y)
                for (int x = 0; x < W; ++x)
                    if ((y - cy) * (y - cy) + (x - cx) * (x - cx) < rad * rad) a[y * W + x] = 0;
        }
    }
}

int main(void) {
    dfl_test_seed(0x9E3779B97F4A7C15ull);
    uint8_t *m = malloc((size_t)N * 2 * H * W);

    /* the fast statistic against its definition, two mask channels */
    patch_masks(m, 2 * N);
    dfl_strategy_choice c = dfl_strategy_choose(m, N, 2, H, W, 3, 3);
    const double want = naive_correlation(m, 2 * N, H, W, DFL_STRATEGY_AUTO_RADIUS);
    CHECK_MSG(fabs(c.correlation - want) < 1e-12, "patches: %.15g against the naive %.15g", c.correlation, want);
    CHECK(c.fields == 2 * N && !c.on_grid);
    CHECK_MSG(want > 0.1 && want < 0.9, "patches: correlation %g", want);

    const double ps[] = {0.05, 0.2, 0.8};
    for (int k = 0; k < 3; ++k) {
        pixel_masks(m, ps[k]);
        c = dfl_strategy_choose(m, N, 1, H, W, 3, 3);
        CHECK_MSG(fabs(c.correlation) < 0.03 && c.strategy == DFL_STRATEGY_PIXEL, "pixel:%g: %g, %s", ps[k],
                  c.correlation, dfl_method_strategy_name(c.strategy));
        CHECK_MSG(fabs(c.correlation - naive_correlation(m, N, H, W, DFL_STRATEGY_AUTO_RADIUS)) < 1e-12,
                  "pixel:%g against the naive statistic", ps[k]);
    }

    station_masks(m, 150, 0.1);
    c = dfl_strategy_choose(m, N, 1, H, W, 3, 3);
    CHECK_MSG(fabs(c.correlation) < 0.05 && c.strategy == DFL_STRATEGY_PIXEL, "stations: %g, %s", c.correlation,
              dfl_method_strategy_name(c.strategy));

    swath_masks(m, 6, 20);
    c = dfl_strategy_choose(m, N, 1, H, W, 3, 3);
    CHECK_MSG(c.correlation > 0.5 && c.strategy == DFL_STRATEGY_EMPIRICAL && !c.on_grid, "swaths: %g, %s",
              c.correlation, dfl_method_strategy_name(c.strategy));
    char line[256];
    dfl_strategy_choice_describe(&c, line, sizeof line);
    CHECK_MSG(strstr(line, "empirical: the missing entries come in patches") == line, "%s", line);

    block_masks(m, 3, 3);
    c = dfl_strategy_choose(m, N, 1, H, W, 3, 3);
    CHECK_MSG(c.on_grid && c.strategy == DFL_STRATEGY_BLOCK, "3x3 blocks: %s", dfl_method_strategy_name(c.strategy));
    dfl_strategy_choice_describe(&c, line, sizeof line);
    CHECK_MSG(strstr(line, "block: every mask is a union of the grid's blocks") == line, "%s", line);
    c = dfl_strategy_choose(m, N, 1, H, W, 4, 4); /* another grid than the data's */
    CHECK_MSG(!c.on_grid && c.strategy == DFL_STRATEGY_EMPIRICAL, "3x3 blocks on a 4x4 grid: %s",
              dfl_method_strategy_name(c.strategy));
    /* mostly a single observed block per field: block contexts cannot split it, the correlation rule chooses */
    for (int i = 0; i < N; ++i)
        for (int y = 0; y < H; ++y)
            for (int x = 0; x < W; ++x)
                m[((size_t)i * H + y) * W + x] = dfl_block_index(y, x, H, W, 3, 3) == i % 9 ||
                                                 (i % 3 == 0 && dfl_block_index(y, x, H, W, 3, 3) == (i + 1) % 9);
    c = dfl_strategy_choose(m, N, 1, H, W, 3, 3); /* one field in three observes two blocks */
    CHECK_MSG(c.on_grid && c.few_blocks > c.fields / 2 && c.strategy == DFL_STRATEGY_EMPIRICAL,
              "one block: %s, %lld of %lld", dfl_method_strategy_name(c.strategy), (long long)c.few_blocks,
              (long long)c.fields);
    dfl_strategy_choice_describe(&c, line, sizeof line);
    CHECK_MSG(strstr(line, "empirical: every mask is a union of the grid's blocks, but") == line, "%s", line);
    for (int i = 0; i < N; ++i) /* two fields in three observe two blocks: block */
        if (i % 3 == 1)
            for (int y = 0; y < H; ++y)
                for (int x = 0; x < W; ++x)
                    m[((size_t)i * H + y) * W + x] |= dfl_block_index(y, x, H, W, 3, 3) == (i + 1) % 9;
    c = dfl_strategy_choose(m, N, 1, H, W, 3, 3);
    CHECK_MSG(c.on_grid && c.few_blocks < c.fields / 2 && c.strategy == DFL_STRATEGY_BLOCK, "two blocks: %s",
              dfl_method_strategy_name(c.strategy));
    block_masks(m, 3, 3);
    m[(size_t)5 * H * W + 3 * W + 3] ^= 1; /* one pixel off the grid */
    c = dfl_strategy_choose(m, N, 1, H, W, 3, 3);
    CHECK_MSG(!c.on_grid && c.strategy == DFL_STRATEGY_EMPIRICAL, "one pixel off: %s",
              dfl_method_strategy_name(c.strategy));
    c = dfl_strategy_choose(m, N, 1, H, W, 64, 64); /* a grid finer than the field is never matched */
    CHECK(!c.on_grid);

    memset(m, 1, (size_t)N * H * W); /* nothing missing */
    c = dfl_strategy_choose(m, N, 1, H, W, 3, 3);
    CHECK(c.fields == 0 && c.strategy == DFL_STRATEGY_PIXEL && c.correlation == 0.0);
    dfl_strategy_choice_describe(&c, line, sizeof line);
    CHECK_MSG(strstr(line, "no mask has both") != NULL, "%s", line);

    dfl_config cfg;
    dfl_config_defaults(&cfg);
    CHECK(!strcmp(cfg.strategy, "auto"));
    dfl_method_params mp;
    CHECK(dfl_method_params_from_config(&cfg, &mp) == DFL_OK && mp.strategy == DFL_STRATEGY_PIXEL);

    free(m);
    return dfl_test_finish("strategy_choice");
}
